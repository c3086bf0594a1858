/* fuzz-envelope.c: libFuzzer harness holding the hand-written envelope
 * codec (mitogen-envelope.c) to GLib's generic reading of the same bytes.
 * Where GLib reads a body in normal form (it substituted nothing), the
 * codec must read the same kind and value; whatever the codec reads must
 * survive its own encoding; and a call's "(sv)" splits as GLib reads it.
 * Where the codec refuses, it says so with a protocol error.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "fuzz-common.h"

#include <string.h>

#include "mitogen-envelope-private.h"
#include "envelope-glib.h"

/* The codec's split of its own "(sv)" @ours against GLib's reading of the
 * same request, @theirs. */
static void
check_split (GVariant *ours,
             GVariant *theirs,
             gboolean  theirs_normal)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *function = NULL;
  g_autoptr(GVariant) args = NULL;
  const char *expected_function;
  g_autoptr(GVariant) expected_args = NULL;

  g_variant_get (theirs, "(&sv)", &expected_function, &expected_args);
  g_variant_take_ref (expected_args);
  if (!_mitogen_envelope_split_call (ours, &function, &args, &error))
    {
      g_assert_error (error, MITOGEN_ERROR, MITOGEN_ERROR_PROTOCOL);
      if (theirs_normal)
        g_error ("split_call refused a request GLib reads in normal form: %s", error->message);
      return;
    }
  g_assert_no_error (error);
  g_assert_nonnull (function);
  g_assert_true (g_utf8_validate (function, -1, NULL));
  /* Where GLib substituted a default somewhere in the body, its name and
   * args may differ from the codec's (GLib reads the args three levels
   * deeper in its 128); the name may not. */
  g_assert_cmpstr (function, ==, expected_function);
  g_assert_cmpstr (g_variant_get_type_string (args), ==, g_variant_get_type_string (expected_args));
  if (theirs_normal)
    assert_variant_equal (args, expected_args);
}

/* What the codec read, encoded by the codec, reads back the same. */
static void
check_round_trip (guint8    kind,
                  GVariant *value)
{
  g_autoptr(GBytes) again = _mitogen_envelope_encode (kind, value);
  g_autoptr(GVariant) value_again = NULL;
  g_autoptr(GError) error = NULL;
  guint8 kind_again = 0;

  if (!_mitogen_envelope_decode (again, &kind_again, &value_again, &error))
    g_error ("the codec's own encoding does not decode: %s", error->message);
  g_assert_cmpuint (kind_again, ==, kind);
  assert_variant_equal (value_again, value);
}

/* The same bytes at an odd address read the same (GLib copies misaligned
 * data; the codec must see that every value it makes is aligned). */
static void
check_misaligned (const guint8 *data,
                  gsize         size,
                  guint8        kind,
                  GVariant     *value)
{
  g_autofree guint8 *buffer = g_malloc (size + 1);
  g_autoptr(GBytes) odd = NULL;
  g_autoptr(GVariant) value_odd = NULL;   /* may hold buffer: freed first */
  g_autoptr(GError) error = NULL;
  guint8 kind_odd = 0;

  memcpy (buffer + 1, data, size);
  odd = g_bytes_new_static (buffer + 1, size);
  if (!_mitogen_envelope_decode (odd, &kind_odd, &value_odd, &error))
    g_error ("the codec refused at an odd address what it read aligned: %s", error->message);
  g_assert_cmpuint (kind_odd, ==, kind);
  assert_variant_equal (value_odd, value);
}

int
LLVMFuzzerTestOneInput (const guint8 *data,
                        size_t        size)
{
  g_autoptr(GBytes) bytes = g_bytes_new (data, size);
  g_autoptr(GVariant) ours = NULL, theirs = NULL;
  g_autoptr(GError) error = NULL;
  guint8 our_kind = 0, their_kind = 0;
  gboolean is_body, normal = FALSE;

  is_body = glib_decode (bytes, &their_kind, &theirs, &normal);
  if (!_mitogen_envelope_decode (bytes, &our_kind, &ours, &error))
    {
      g_assert_error (error, MITOGEN_ERROR, MITOGEN_ERROR_PROTOCOL);
      g_assert_null (ours);
      if (is_body && normal)
        g_error ("the codec refused a body GLib reads in normal form: %s", error->message);
      return 0;
    }
  g_assert_no_error (error);
  g_assert_true (is_body);
  g_assert_cmpuint (our_kind, ==, their_kind);
  /* GLib reads a type it refuses as "()": the codec must refuse it. */
  g_assert_cmpstr (g_variant_get_type_string (ours), ==, g_variant_get_type_string (theirs));
  if (normal)
    assert_variant_equal (ours, theirs);
  check_round_trip (our_kind, ours);
  check_misaligned (data, size, our_kind, ours);
  if (g_variant_is_of_type (ours, G_VARIANT_TYPE ("(sv)")))
    check_split (ours, theirs, normal);
  return 0;
}
