/* test-sha256.c: the SHA-NI SHA-256 against GLib's, and known digests
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <string.h>

#include "mitogen-sha256-private.h"

/* FIPS 180-2's examples: one block, two blocks, and a million 'a's (many
 * blocks through the pending buffer). */
static void
test_known_digests (void)
{
  g_autofree guint8 *million = g_malloc (1000000);
  g_autofree char *abc = _mitogen_sha256_compute ((const guint8 *) "abc", 3);
  g_autofree char *two = NULL;
  g_autofree char *empty = _mitogen_sha256_compute (NULL, 0);
  g_autoptr(MitogenSha256) sha = _mitogen_sha256_new ();
  const char *msg = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";

  g_assert_cmpstr (abc, ==, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  two = _mitogen_sha256_compute ((const guint8 *) msg, strlen (msg));
  g_assert_cmpstr (two, ==, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  g_assert_cmpstr (empty, ==, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");

  memset (million, 'a', 1000000);
  for (gsize done = 0; done < 1000000; done += 999)
    _mitogen_sha256_update (sha, million + done, MIN (999, 1000000 - done));
  g_assert_cmpstr (_mitogen_sha256_get_string (sha), ==,
                   "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  /* Asking twice gives the same answer. */
  g_assert_cmpstr (_mitogen_sha256_get_string (sha), ==,
                   "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

/* Every length around the padding's boundaries (55, 56, 63, 64, ...) and
 * random ones, fed in random pieces, against GChecksum. */
static void
test_matches_glib (void)
{
  g_autoptr(GRand) rand = g_rand_new_with_seed (20261201);
  guint8 data[4096];

  for (gsize i = 0; i < sizeof data; i++)
    data[i] = (guint8) g_rand_int (rand);

  for (gsize len = 0; len < sizeof data; len += len < 200 ? 1 : g_rand_int_range (rand, 1, 97))
    {
      g_autoptr(MitogenSha256) sha = _mitogen_sha256_new ();
      g_autofree char *expected = g_compute_checksum_for_data (G_CHECKSUM_SHA256, data, len);
      gsize done = 0;

      while (done < len)
        {
          gsize want = g_rand_int_range (rand, 0, 130);   /* MIN() reads its arguments twice */
          gsize piece = MIN (want, len - done);

          _mitogen_sha256_update (sha, data + done, piece);
          done += piece;
        }
      if (g_strcmp0 (_mitogen_sha256_get_string (sha), expected) != 0)
        g_error ("length %" G_GSIZE_FORMAT ": %s, expected %s", len,
                 _mitogen_sha256_get_string (sha), expected);
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/sha256/known-digests", test_known_digests);
  g_test_add_func ("/sha256/matches-glib", test_matches_glib);
  g_test_message ("SHA instructions %s", _mitogen_sha256_accelerated () ? "used" : "not available");
  return g_test_run ();
}
