/* make-corpus.c: writes the seed corpora of the fuzz harnesses, valid
 * inputs made by the real encoders, into DIR/NAME/. Run by hand after a
 * format changes (tools/fuzz.sh --seeds); the output is checked in.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <glib/gstdio.h>

#include "mitogen-bootstrap-private.h"
#include "mitogen-envelope-private.h"
#include "mitogen-message-private.h"

static const char *dir;

static void
seed (const char   *harness,
      const char   *name,
      const void   *data,
      gsize         len)
{
  g_autofree char *sub = g_build_filename (dir, harness, NULL);
  g_autofree char *path = g_build_filename (sub, name, NULL);
  g_autoptr(GError) error = NULL;

  g_mkdir_with_parents (sub, 0755);
  if (!g_file_set_contents (path, data, len, &error))
    g_error ("%s", error->message);
}

static void
seed_bytes (const char *harness,
            const char *name,
            GBytes     *bytes)
{
  gsize len;
  const void *data = g_bytes_get_data (bytes, &len);

  seed (harness, name, data, len);
}

static void
frame_headers (void)
{
  MitogenFrameHeader hdr = { 1, 0, 0, 101, 1002, 3 };
  guint8 buf[MITOGEN_HEADER_SIZE + 1];

  _mitogen_frame_header_encode (buf, &hdr);
  buf[MITOGEN_HEADER_SIZE] = 1;
  seed ("frame-header", "small", buf, sizeof buf);
  hdr.length = 0x7fffffff;
  _mitogen_frame_header_encode (buf, &hdr);
  buf[MITOGEN_HEADER_SIZE] = 0xff;
  seed ("frame-header", "too-long", buf, sizeof buf);
}

static void
bootstraps (void)
{
  g_autoptr(MitogenBootstrap) boot = _mitogen_bootstrap_new ();
  g_autoptr(GBytes) encoded = NULL;
  g_autoptr(GBytes) ready = _mitogen_ready_encode ("local.1234");
  g_autoptr(GBytes) refusal = _mitogen_ready_encode_error ("cannot load the serializer");
  guint32 ancestors[] = { 1, 0 };

  boot->context_id = 2;
  boot->parent_id = 1;
  g_array_append_vals (boot->ancestors, ancestors, G_N_ELEMENTS (ancestors));
  boot->transport = g_strdup ("ssh");
  boot->name = g_strdup ("web1");
  boot->serializer = g_strdup ("json");
  boot->plugin_path = g_strdup ("/usr/lib/mitogen");
  boot->max_message_size = 1 << 20;
  boot->debug = TRUE;
  encoded = _mitogen_bootstrap_encode (boot);
  seed_bytes ("bootstrap", "bootstrap", encoded);
  seed_bytes ("bootstrap", "ready", ready);
  seed_bytes ("bootstrap", "refusal", refusal);
}

static GVariant *
sample_body (void)
{
  return g_variant_new_parsed ("(byte 1, <(uint32 7, 'core.getpid', @av [<'x'>, <int64 -3>], "
                               "{'k': <(true, 2.5, @mi nothing, objectpath '/a')>})>)");
}

static void
bodies (void)
{
  static const char *json[] = {
    "[\"(yv)\",[1,[\"s\",\"hello\"]]]",
    "[\"(yv)\",[0,[\"(usav)\",[7,\"core.getpid\",[[\"x\",-3],[\"d\",\"nan\"]]]]]]",
    "[\"(yv)\",[2,[\"a{sv}\",[[\"k\",[\"mi\",[]]],[\"t\",[\"t\",\"18446744073709551615\"]]]]]]",
    "[\"(yv)\",[3,[\"(bdogh)\",[true,2.5,\"/a/b\",\"a{sv}\",1]]]]",
  };
  g_autoptr(MitogenSerializer) gvariant = mitogen_serializer_lookup ("gvariant", NULL);
  g_autoptr(GVariant) body = g_variant_ref_sink (sample_body ());
  g_autoptr(GBytes) encoded = mitogen_serializer_serialize (gvariant, body, NULL);
  g_autoptr(GBytes) unit = mitogen_serializer_serialize (gvariant, g_variant_new ("(yv)", 0,
                                                          g_variant_new_string ("")), NULL);

  seed_bytes ("body-gvariant", "call", encoded);
  seed_bytes ("body-gvariant", "string", unit);
  for (gsize i = 0; i < G_N_ELEMENTS (json); i++)
    {
      g_autofree char *name = g_strdup_printf ("body-%" G_GSIZE_FORMAT, i);
      seed ("body-json", name, json[i], strlen (json[i]));
    }
}

/* The codec's bodies: a value of each alignment, a call with a short name
 * and one whose request needs a two-byte framing offset. */
static void
envelopes (void)
{
  g_autofree char *long_name = g_strnfill (300, 'f');
  g_autoptr(GVariant) args = g_variant_ref_sink (g_variant_new_parsed ("('x', uint64 7, <int32 -1>)"));
  g_autoptr(GVariant) value = g_variant_ref_sink (sample_body ());
  g_autoptr(GVariant) wide = g_variant_ref_sink (g_variant_new ("(t)", G_GUINT64_CONSTANT (0x0102030405060708)));
  g_autoptr(GVariant) boxed = g_variant_ref_sink (g_variant_new_variant (g_variant_new_int32 (5)));
  g_autoptr(GBytes) body = _mitogen_envelope_encode (1, value);
  g_autoptr(GBytes) aligned = _mitogen_envelope_encode (2, wide);
  g_autoptr(GBytes) small = _mitogen_envelope_encode (3, boxed);
  g_autoptr(GBytes) call = _mitogen_envelope_encode_call ("core.getpid", args);
  g_autoptr(GBytes) long_call = _mitogen_envelope_encode_call (long_name, args);

  seed_bytes ("envelope", "body", body);
  seed_bytes ("envelope", "aligned", aligned);
  seed_bytes ("envelope", "small-variant", small);
  seed_bytes ("envelope", "call", call);
  seed_bytes ("envelope", "long-call", long_call);
}

static void
prompts (void)
{
  static const char *texts[] = {
    "\x00[sudo] password for alice: ",
    "\x00Sorry, try again.\n[sudo] password for alice: ",
    "\x00" "alice is not in the sudoers file.  This incident will be reported.\n",
    "\x01Password: ",
    "\x01su: Authentication failure\n",
    "\x02\rdoas (alice@host) password: ",
    "\x02" "doas: Operation not permitted\n",
    "\x00" "MITO000\n",
  };

  for (gsize i = 0; i < G_N_ELEMENTS (texts); i++)
    {
      g_autofree char *name = g_strdup_printf ("prompt-%" G_GSIZE_FORMAT, i);
      seed ("prompt", name, texts[i], 1 + strlen (texts[i] + 1));
    }
}

int
main (int    argc,
      char **argv)
{
  if (argc != 2)
    g_error ("usage: make-corpus DIR");
  dir = argv[1];
  frame_headers ();
  bootstraps ();
  bodies ();
  envelopes ();
  prompts ();
  return 0;
}
