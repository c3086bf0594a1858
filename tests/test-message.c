/* test-message.c: the frame header codec and message bodies (internal).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "mitogen-test-util.h"
#include "mitogen-call-queue-private.h"
#include "mitogen-message-private.h"
#include "mitogen-router-private.h"

static MitogenSerializer *
gvariant_serializer (void)
{
  g_autoptr(GError) error = NULL;
  MitogenSerializer *serializer = mitogen_serializer_lookup ("gvariant", &error);

  g_assert_no_error (error);
  g_assert_nonnull (serializer);
  return serializer;
}

/* ---- frame header ------------------------------------------------------ */

static void
test_header_layout (void)
{
  MitogenFrameHeader hdr = {
    .dst_id = 0x01020304,
    .src_id = 0x05060708,
    .auth_id = 0x090a0b0c,
    .handle = 0x0d0e0f10,
    .reply_to = 0x11121314,
    .length = 0x15161718,
  };
  static const guint8 expected[MITOGEN_HEADER_SIZE] = {
    0x4d, 0x49,
    0x01, 0x02, 0x03, 0x04,
    0x05, 0x06, 0x07, 0x08,
    0x09, 0x0a, 0x0b, 0x0c,
    0x0d, 0x0e, 0x0f, 0x10,
    0x11, 0x12, 0x13, 0x14,
    0x15, 0x16, 0x17, 0x18,
  };
  guint8 out[MITOGEN_HEADER_SIZE];

  g_assert_cmpint (MITOGEN_HEADER_SIZE, ==, 26);
  _mitogen_frame_header_encode (out, &hdr);
  g_assert_cmpmem (out, sizeof out, expected, sizeof expected);
}

static void
test_header_round_trip (void)
{
  const guint32 samples[] = { 0, 1, 100, 999, 1000, 0x7fffffff, 0x80000000, G_MAXUINT32 };

  for (gsize i = 0; i < G_N_ELEMENTS (samples); i++)
    for (gsize j = 0; j < G_N_ELEMENTS (samples); j++)
      {
        g_autoptr(GError) error = NULL;
        MitogenFrameHeader in = {
          .dst_id = samples[i],
          .src_id = samples[j],
          .auth_id = samples[(i + j) % G_N_ELEMENTS (samples)],
          .handle = samples[(i * 3 + 1) % G_N_ELEMENTS (samples)],
          .reply_to = samples[(j * 5 + 2) % G_N_ELEMENTS (samples)],
          .length = samples[(i + 2 * j) % G_N_ELEMENTS (samples)],
        };
        MitogenFrameHeader out = { 0, };
        guint8 buf[MITOGEN_HEADER_SIZE];

        _mitogen_frame_header_encode (buf, &in);
        g_assert_true (_mitogen_frame_header_decode (buf, G_MAXUINT32, &out, &error));
        g_assert_no_error (error);
        g_assert_cmpuint (out.dst_id, ==, in.dst_id);
        g_assert_cmpuint (out.src_id, ==, in.src_id);
        g_assert_cmpuint (out.auth_id, ==, in.auth_id);
        g_assert_cmpuint (out.handle, ==, in.handle);
        g_assert_cmpuint (out.reply_to, ==, in.reply_to);
        g_assert_cmpuint (out.length, ==, in.length);
      }
}

static void
test_header_bad_magic (void)
{
  MitogenFrameHeader hdr = { 1, 2, 3, 4, 5, 6 };
  const guint16 bad[] = { 0x0000, 0x494d, 0x4d48, 0xffff, 0x4c49 };

  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(GError) error = NULL;
      MitogenFrameHeader out;
      guint8 buf[MITOGEN_HEADER_SIZE];

      _mitogen_frame_header_encode (buf, &hdr);
      buf[0] = bad[i] >> 8;
      buf[1] = bad[i] & 0xff;
      g_assert_false (_mitogen_frame_header_decode (buf, 1024, &out, &error));
      g_assert_error (error, MITOGEN_ERROR, MITOGEN_ERROR_PROTOCOL);
      g_assert_nonnull (strstr (error->message, "magic"));
    }
}

static void
test_header_length_limit (void)
{
  MitogenFrameHeader hdr = { 1, 2, 3, 4, 5, 4096 };
  MitogenFrameHeader out;
  guint8 buf[MITOGEN_HEADER_SIZE];
  g_autoptr(GError) error = NULL;

  /* At the limit is fine... */
  _mitogen_frame_header_encode (buf, &hdr);
  g_assert_true (_mitogen_frame_header_decode (buf, 4096, &out, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (out.length, ==, 4096);

  /* ...one byte over is not, and the error names the limit. */
  g_assert_false (_mitogen_frame_header_decode (buf, 4095, &out, &error));
  g_assert_error (error, MITOGEN_ERROR, MITOGEN_ERROR_PROTOCOL);
  g_assert_nonnull (strstr (error->message, "4095"));
  g_clear_error (&error);

  /* A huge claimed length is refused before anyone allocates for it. */
  hdr.length = G_MAXUINT32;
  _mitogen_frame_header_encode (buf, &hdr);
  g_assert_false (_mitogen_frame_header_decode (buf, MITOGEN_DEFAULT_MAX_MESSAGE_SIZE, &out, &error));
  g_assert_error (error, MITOGEN_ERROR, MITOGEN_ERROR_PROTOCOL);
}

/* ---- bodies ------------------------------------------------------------ */

/* Sends @msg through the codec: encodes it with the serializer and builds
 * the message a stream would deliver from those bytes. */
static MitogenMessage *
round_trip (MitogenMessage    *msg,
            MitogenSerializer *serializer)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) data = _mitogen_message_encode (msg, serializer, &error);
  MitogenFrameHeader hdr = {
    .dst_id = mitogen_message_get_dst_id (msg),
    .src_id = 77,
    .auth_id = 78,
    .handle = mitogen_message_get_handle (msg),
    .reply_to = mitogen_message_get_reply_to (msg),
  };
  guint8 buf[MITOGEN_HEADER_SIZE];
  MitogenFrameHeader decoded;
  MitogenMessage *copy;

  g_assert_no_error (error);
  g_assert_nonnull (data);
  hdr.length = g_bytes_get_size (data);
  _mitogen_frame_header_encode (buf, &hdr);
  g_assert_true (_mitogen_frame_header_decode (buf, MITOGEN_DEFAULT_MAX_MESSAGE_SIZE, &decoded, &error));
  copy = _mitogen_message_new_from_frame (&decoded, data, serializer);
  g_assert_cmpuint (mitogen_message_get_size (copy), ==, g_bytes_get_size (data));
  g_assert_cmpuint (mitogen_message_get_src_id (copy), ==, 77);
  g_assert_cmpuint (mitogen_message_get_auth_id (copy), ==, 78);
  return copy;
}

static void
test_value_round_trip (void)
{
  g_autoptr(MitogenSerializer) serializer = gvariant_serializer ();
  GVariant *values[] = {
    g_variant_new_string ("text"),
    g_variant_new_int64 (-42),
    g_variant_new ("(sa{sv}ay)", "x", NULL, NULL),
    g_variant_new ("()"),
    g_variant_new_variant (g_variant_new_uint32 (7)),
    g_variant_new ("mv", NULL),
  };

  for (gsize i = 0; i < G_N_ELEMENTS (values); i++)
    {
      g_autoptr(GVariant) value = g_variant_ref_sink (values[i]);
      g_autoptr(MitogenMessage) msg = mitogen_message_new (5, 1234, value);
      g_autoptr(MitogenMessage) copy = round_trip (msg, serializer);
      g_autoptr(GError) error = NULL;
      g_autoptr(GVariant) out = mitogen_message_unpack (copy, &error);

      g_assert_no_error (error);
      g_assert_true (g_variant_equal (out, value));
      g_assert_false (mitogen_message_is_dead (copy));
      g_assert_cmpuint (mitogen_message_get_dst_id (copy), ==, 5);
      g_assert_cmpuint (mitogen_message_get_handle (copy), ==, 1234);
      /* Unpacking again gives the same. */
      g_clear_pointer (&out, g_variant_unref);
      out = mitogen_message_unpack (copy, &error);
      g_assert_true (g_variant_equal (out, value));
    }
}

static void
test_null_value_is_unit (void)
{
  g_autoptr(MitogenMessage) msg = mitogen_message_new (0, 1000, NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) value = mitogen_message_unpack (msg, &error);

  g_assert_no_error (error);
  g_assert_true (g_variant_is_of_type (value, G_VARIANT_TYPE_UNIT));
  g_assert_cmpuint (mitogen_message_get_reply_to (msg), ==, 0);
}

static void
test_dead_round_trip (void)
{
  g_autoptr(MitogenSerializer) serializer = gvariant_serializer ();
  g_autoptr(MitogenMessage) msg = mitogen_message_new_dead (3, 1500, "it went away");
  g_autoptr(MitogenMessage) copy = round_trip (msg, serializer);
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) value = NULL;

  g_assert_true (mitogen_message_is_dead (msg));
  g_assert_true (mitogen_message_is_dead (copy));
  g_assert_cmpuint (mitogen_message_get_reply_to (copy), ==, MITOGEN_IS_DEAD);
  value = mitogen_message_unpack (copy, &error);
  g_assert_null (value);
  g_assert_error (error, MITOGEN_ERROR, MITOGEN_ERROR_CHANNEL);
  g_assert_cmpstr (error->message, ==, "it went away");
}

static void
test_error_round_trip (void)
{
  g_autoptr(MitogenSerializer) serializer = gvariant_serializer ();
  g_autoptr(GError) raised = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "%s no such thing");
  g_autoptr(MitogenMessage) msg = mitogen_message_new_error (3, 1500, raised);
  g_autoptr(MitogenMessage) copy = round_trip (msg, serializer);
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) value = NULL;

  g_assert_false (mitogen_message_is_dead (copy));
  value = mitogen_message_unpack (copy, &error);
  g_assert_null (value);
  /* The domain and the code cross the wire, not only the text. */
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  g_assert_cmpstr (error->message, ==, "%s no such thing");
}

/* An error reply to a call names the context and the function. */
static void
test_error_reply_names_context (void)
{
  g_autoptr(MitogenSerializer) serializer = gvariant_serializer ();
  g_autoptr(MitogenMessage) request = NULL;
  g_autoptr(MitogenMessage) reply = NULL;
  g_autoptr(MitogenMessage) copy = NULL;
  g_autoptr(GError) raised = g_error_new_literal (MITOGEN_ERROR, MITOGEN_ERROR_CALL, "disk on fire");
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) value = NULL;
  MitogenFrameHeader hdr = { .dst_id = 4, .src_id = 0, .auth_id = 0,
                             .handle = MITOGEN_HANDLE_CALL_FUNCTION, .reply_to = 2001 };
  g_autoptr(GBytes) empty = g_bytes_new (NULL, 0);

  request = _mitogen_message_new_from_frame (&hdr, empty, serializer);
  reply = _mitogen_message_make_error_reply (request, raised, "web1", "fs.write");
  g_assert_cmpuint (mitogen_message_get_dst_id (reply), ==, 0);
  g_assert_cmpuint (mitogen_message_get_handle (reply), ==, 2001);
  copy = round_trip (reply, serializer);
  value = mitogen_message_unpack (copy, &error);
  g_assert_null (value);
  g_assert_error (error, MITOGEN_ERROR, MITOGEN_ERROR_CALL);
  g_assert_cmpstr (error->message, ==, "context web1: fs.write: disk on fire");
}

static void
test_make_replies (void)
{
  g_autoptr(GBytes) empty = g_bytes_new (NULL, 0);
  MitogenFrameHeader hdr = { .dst_id = 0, .src_id = 9, .auth_id = 9, .handle = 1200, .reply_to = 0 };
  g_autoptr(MitogenMessage) no_reply = _mitogen_message_new_from_frame (&hdr, empty, NULL);
  g_autoptr(MitogenMessage) dead = mitogen_message_new_dead (0, 1200, "gone");
  g_autoptr(MitogenMessage) wants_reply = NULL;
  g_autoptr(MitogenMessage) bounce = NULL;
  g_autoptr(MitogenMessage) reply = NULL;
  g_autoptr(GVariant) value = NULL;
  g_autoptr(GError) error = NULL;

  /* Nobody to tell: no reply_to, or already dead (no dead-message loops). */
  g_assert_null (_mitogen_message_make_dead_reply (no_reply, "x"));
  g_assert_null (_mitogen_message_make_dead_reply (dead, "x"));

  hdr.reply_to = 3000;
  wants_reply = _mitogen_message_new_from_frame (&hdr, empty, NULL);
  bounce = _mitogen_message_make_dead_reply (wants_reply, "no receiver");
  g_assert_nonnull (bounce);
  g_assert_true (mitogen_message_is_dead (bounce));
  g_assert_cmpuint (mitogen_message_get_dst_id (bounce), ==, 9);
  g_assert_cmpuint (mitogen_message_get_handle (bounce), ==, 3000);
  value = mitogen_message_unpack (bounce, &error);
  g_assert_error (error, MITOGEN_ERROR, MITOGEN_ERROR_CHANNEL);
  g_assert_cmpstr (error->message, ==, "no receiver");
  g_clear_error (&error);

  reply = _mitogen_message_make_reply (wants_reply, g_variant_new_boolean (TRUE));
  g_assert_cmpuint (mitogen_message_get_dst_id (reply), ==, 9);
  g_assert_cmpuint (mitogen_message_get_handle (reply), ==, 3000);
  g_assert_cmpuint (mitogen_message_get_reply_to (reply), ==, 0);
  g_assert_false (mitogen_message_is_dead (reply));
}

/* ---- untrusted bodies -------------------------------------------------- */

static MitogenMessage *
message_from_bytes (MitogenSerializer *serializer,
                    const void        *data,
                    gsize              size)
{
  g_autoptr(GBytes) bytes = g_bytes_new (data, size);
  MitogenFrameHeader hdr = { .dst_id = 0, .src_id = 1, .auth_id = 1, .handle = 1000,
                             .reply_to = 0, .length = size };

  return _mitogen_message_new_from_frame (&hdr, bytes, serializer);
}

static MitogenMessage *
message_from_variant (MitogenSerializer *serializer,
                      GVariant          *body)
{
  g_autoptr(GVariant) sunk = g_variant_ref_sink (body);
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) bytes = mitogen_serializer_serialize (serializer, sunk, &error);

  g_assert_no_error (error);
  return message_from_bytes (serializer, g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes));
}

static void
assert_unpack_protocol_error (MitogenMessage *msg)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) value = mitogen_message_unpack (msg, &error);

  g_assert_null (value);
  g_assert_error (error, MITOGEN_ERROR, MITOGEN_ERROR_PROTOCOL);
}

static void
test_body_of_wrong_type (void)
{
  g_autoptr(MitogenSerializer) serializer = gvariant_serializer ();
  GVariant *bodies[] = {
    /* Not a "(yv)" at all. */
    g_variant_new_string ("just a string"),
    g_variant_new ("(ys)", 0, "no variant"),
    g_variant_new ("(yvs)", 0, g_variant_new_int32 (1), "extra"),
    /* A "(yv)" whose kind and content disagree. */
    g_variant_new ("(yv)", MITOGEN_BODY_ERROR, g_variant_new_string ("not a record")),
    g_variant_new ("(yv)", MITOGEN_BODY_DEAD, g_variant_new_int32 (5)),
    /* An unknown kind. */
    g_variant_new ("(yv)", 7, g_variant_new_int32 (5)),
    g_variant_new ("(yv)", 255, g_variant_new_string ("x")),
  };

  for (gsize i = 0; i < G_N_ELEMENTS (bodies); i++)
    {
      g_autoptr(MitogenMessage) msg = message_from_variant (serializer, bodies[i]);

      assert_unpack_protocol_error (msg);
      /* The same answer the second time: nothing half-decoded is cached. */
      assert_unpack_protocol_error (msg);
    }
}

/* Every MITOGEN_ERROR code crosses as itself, through both serializers. */
static void
test_error_codes_preserved (void)
{
  const char *names[] = { "gvariant", "json" };

  for (gsize n = 0; n < G_N_ELEMENTS (names); n++)
    {
      g_autoptr(GError) lookup_error = NULL;
      g_autoptr(MitogenSerializer) serializer = mitogen_serializer_lookup (names[n], &lookup_error);

      g_assert_no_error (lookup_error);
      for (int code = MITOGEN_ERROR_FAILED; code <= MITOGEN_ERROR_PROTOCOL; code++)
        {
          g_autoptr(GError) raised = g_error_new (MITOGEN_ERROR, code, "code %d", code);
          g_autoptr(MitogenMessage) msg = mitogen_message_new_error (3, 1500, raised);
          g_autoptr(MitogenMessage) copy = round_trip (msg, serializer);
          g_autoptr(GError) error = NULL;
          g_autoptr(GVariant) value = mitogen_message_unpack (copy, &error);

          g_assert_null (value);
          g_assert_error (error, MITOGEN_ERROR, code);
          g_assert_cmpstr (error->message, ==, raised->message);
        }
    }
}

static GVariant *
error_body (const char *domain,
            GVariant   *code)
{
  GVariantDict dict;

  g_variant_dict_init (&dict, NULL);
  g_variant_dict_insert (&dict, "message", "s", "the remote text");
  g_variant_dict_insert (&dict, "context", "s", "hostile.1");
  g_variant_dict_insert (&dict, "function", "s", "evil.f");
  if (domain != NULL)
    g_variant_dict_insert (&dict, "domain", "s", domain);
  if (code != NULL)
    g_variant_dict_insert_value (&dict, "code", code);
  return g_variant_new ("(yv)", MITOGEN_BODY_ERROR, g_variant_dict_end (&dict));
}

/* A hostile context may send any error record: whatever it holds, unpack
 * fails cleanly with a MITOGEN_ERROR and keeps the remote text. */
static void
test_forged_error_records (void)
{
  g_autoptr(MitogenSerializer) serializer = gvariant_serializer ();
  g_autofree char *overlong = g_strnfill (100000, 'q');
  g_autofree char *mitogen_domain = g_strdup (g_quark_to_string (MITOGEN_ERROR));
  struct {
    const char *domain;
    GVariant   *code;
    int         expected;
  } cases[] = {
    /* No domain, as from an older peer: a plain call error. */
    { NULL, NULL, MITOGEN_ERROR_CALL },
    { NULL, g_variant_new_int32 (3), MITOGEN_ERROR_CALL },
    /* A domain without a code, or a code of the wrong type. */
    { "g-io-error-quark", NULL, MITOGEN_ERROR_PROTOCOL },
    { "g-io-error-quark", g_variant_new_string ("1"), MITOGEN_ERROR_PROTOCOL },
    { "g-io-error-quark", g_variant_new_uint64 (1), MITOGEN_ERROR_PROTOCOL },
    /* Garbage and overlong domains. */
    { "", g_variant_new_int32 (1), MITOGEN_ERROR_PROTOCOL },
    { "bad domain\n", g_variant_new_int32 (1), MITOGEN_ERROR_PROTOCOL },
    { "caf\xc3\xa9-quark", g_variant_new_int32 (1), MITOGEN_ERROR_PROTOCOL },
    { overlong, g_variant_new_int32 (1), MITOGEN_ERROR_PROTOCOL },
    /* Codes out of range. */
    { "g-io-error-quark", g_variant_new_int32 (-1), MITOGEN_ERROR_PROTOCOL },
    { "g-io-error-quark", g_variant_new_int32 (G_MININT32), MITOGEN_ERROR_PROTOCOL },
    { mitogen_domain, g_variant_new_int32 (MITOGEN_ERROR_PROTOCOL + 1), MITOGEN_ERROR_PROTOCOL },
    { mitogen_domain, g_variant_new_int32 (G_MAXINT32), MITOGEN_ERROR_PROTOCOL },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(MitogenMessage) msg = message_from_variant (serializer,
                                                            error_body (cases[i].domain,
                                                                        cases[i].code));
      g_autoptr(GError) error = NULL;
      g_autoptr(GVariant) value = mitogen_message_unpack (msg, &error);

      g_assert_null (value);
      g_assert_error (error, MITOGEN_ERROR, cases[i].expected);
      g_assert_true (g_str_has_prefix (error->message, "context hostile.1: evil.f: "));
      g_assert_true (g_str_has_suffix (error->message, "the remote text"));
      /* The router's code lookup never takes a forged code either. */
      g_assert_cmpint (_mitogen_message_get_remote_code (msg, -7), ==, -7);
    }
}

/* A domain this process never heard of becomes a quark, up to a budget:
 * quarks are never freed, so a flood of new domains ends as call errors. */
static void
test_unknown_domains_bounded (void)
{
  g_autoptr(MitogenSerializer) serializer = gvariant_serializer ();
  guint kept = 0;

  for (guint i = 0; i < 1000; i++)
    {
      g_autofree char *domain = g_strdup_printf ("mitogen-test-flood-%u-quark", i);
      g_autoptr(MitogenMessage) msg = message_from_variant (serializer,
                                                            error_body (domain, g_variant_new_int32 (4)));
      g_autoptr(GError) error = NULL;
      g_autoptr(GVariant) value = mitogen_message_unpack (msg, &error);

      g_assert_null (value);
      if (error->domain == MITOGEN_ERROR)
        g_assert_error (error, MITOGEN_ERROR, MITOGEN_ERROR_CALL);
      else
        {
          g_assert_cmpstr (g_quark_to_string (error->domain), ==, domain);
          g_assert_cmpint (error->code, ==, 4);
          kept++;
        }
    }
  g_assert_cmpuint (kept, >, 0);
  g_assert_cmpuint (kept, <=, 256);
}

/* The remote code the router uses for nested connects: MITOGEN codes
 * above CALL only, never another domain's. */
static void
test_remote_code (void)
{
  g_autoptr(MitogenSerializer) serializer = gvariant_serializer ();
  g_autoptr(GError) auth = g_error_new_literal (MITOGEN_ERROR, MITOGEN_ERROR_AUTH, "no");
  g_autoptr(GError) io = g_error_new_literal (G_IO_ERROR, MITOGEN_ERROR_AUTH, "no");
  g_autoptr(MitogenMessage) auth_sent = mitogen_message_new_error (1, 1000, auth);
  g_autoptr(MitogenMessage) io_sent = mitogen_message_new_error (1, 1000, io);
  g_autoptr(MitogenMessage) auth_msg = round_trip (auth_sent, serializer);
  g_autoptr(MitogenMessage) io_msg = round_trip (io_sent, serializer);

  g_assert_cmpint (_mitogen_message_get_remote_code (auth_msg, -1), ==, MITOGEN_ERROR_AUTH);
  g_assert_cmpint (_mitogen_message_get_remote_code (io_msg, -1), ==, -1);
}

static void
test_undecodable_data (void)
{
  g_autoptr(MitogenSerializer) serializer = gvariant_serializer ();
  static const guint8 junk[] = { 0xde, 0xad, 0xbe, 0xef, 0x00, 0x01, 0x02, 0xff, 0xfe };
  g_autoptr(GBytes) empty = g_bytes_new (NULL, 0);
  MitogenFrameHeader hdr = { 0, 1, 1, 1000, 0, 0 };

  {
    g_autoptr(MitogenMessage) msg = message_from_bytes (serializer, junk, sizeof junk);
    assert_unpack_protocol_error (msg);
  }
  {
    g_autoptr(MitogenMessage) msg = message_from_bytes (serializer, "", 0);
    assert_unpack_protocol_error (msg);
  }
  {
    /* A frame without a serializer (a raw frame) has no body to unpack. */
    g_autoptr(MitogenMessage) msg = _mitogen_message_new_from_frame (&hdr, empty, NULL);
    assert_unpack_protocol_error (msg);
  }
}

/* Every truncation and every single-byte corruption of a valid body
 * decodes to a value or fails cleanly: a decoder never trusts its input. */
static void
test_mangled_bodies (void)
{
  g_autoptr(MitogenSerializer) serializer = gvariant_serializer ();
  g_autoptr(GError) error = NULL;
  GVariantDict dict;
  g_autoptr(MitogenMessage) msg = NULL;
  g_autoptr(GBytes) data = NULL;
  const guint8 *p;
  gsize size;

  g_variant_dict_init (&dict, NULL);
  g_variant_dict_insert (&dict, "name", "s", "value");
  g_variant_dict_insert (&dict, "list", "^as", (const char *[]) { "a", "bb", "ccc", NULL });
  g_variant_dict_insert (&dict, "n", "t", G_GUINT64_CONSTANT (0x0102030405060708));
  msg = mitogen_message_new (1, 1000, g_variant_new ("(s@a{sv}ay)", "hello",
                                                     g_variant_dict_end (&dict), NULL));
  data = _mitogen_message_encode (msg, serializer, &error);
  g_assert_no_error (error);
  p = g_bytes_get_data (data, &size);

  for (gsize len = 0; len < size; len++)
    {
      g_autoptr(MitogenMessage) cut = message_from_bytes (serializer, p, len);
      g_autoptr(GVariant) value = mitogen_message_unpack (cut, &error);

      if (value == NULL)
        {
          g_assert_nonnull (error);
          g_clear_error (&error);
        }
    }

  for (gsize i = 0; i < size; i++)
    for (guint bit = 0; bit < 8; bit++)
      {
        g_autofree guint8 *copy = g_memdup2 (p, size);
        g_autoptr(MitogenMessage) bad = NULL;
        g_autoptr(GVariant) value = NULL;

        copy[i] ^= 1u << bit;
        bad = message_from_bytes (serializer, copy, size);
        value = mitogen_message_unpack (bad, &error);
        if (value == NULL)
          {
            g_assert_nonnull (error);
            g_clear_error (&error);
          }
        else
          /* Whatever came out is a well-formed value of its type. */
          g_free (g_variant_print (value, TRUE));
      }
}

/* ---- cancel messages --------------------------------------------------- */

/* Sends a cancel for @reply_to to @ctx as if it came from @src_id on the
 * authority of @auth_id, as a hostile context could. */
static void
send_forged_cancel (MitogenRouter  *router,
                    MitogenContext *ctx,
                    guint32         reply_to,
                    guint32         src_id,
                    guint32         auth_id)
{
  g_autoptr(MitogenMessage) msg = mitogen_message_new (mitogen_context_get_id (ctx),
                                                       MITOGEN_HANDLE_CANCEL_CALL,
                                                       g_variant_new_uint32 (reply_to));

  msg->src_id = src_id;
  msg->auth_id = auth_id;
  msg->src_fixed = TRUE;
  g_assert_true (_mitogen_router_send (router, msg, NULL));
}

/* Only the context that made a call may cancel it: a cancel naming the
 * call's reply handle from another source, or with another authority, is
 * ignored; the caller's own cancel works (here through a begin_call
 * receiver, whose reply is the call's cancelled error). */
static void
test_cancel_forged_source (void)
{
  MitogenTestFixture fixture;
  g_autoptr(MitogenContext) ctx = NULL;
  g_autoptr(MitogenReceiver) recv = NULL;
  g_autoptr(MitogenMessage) reply = NULL;
  g_autoptr(GVariant) value = NULL;
  g_autoptr(GError) error = NULL;
  gint64 start;
  guint32 handle;

  mitogen_test_fixture_setup (&fixture, NULL);
  ctx = mitogen_test_local (fixture.router);

  start = g_get_monotonic_time ();
  recv = mitogen_context_begin_call (ctx, "core.sleep", g_variant_new ("(d)", 0.5));
  handle = mitogen_receiver_get_handle (recv);
  send_forged_cancel (fixture.router, ctx, handle, 4242, 4242);
  send_forged_cancel (fixture.router, ctx, handle, 0, 4242);
  send_forged_cancel (fixture.router, ctx, handle + 1, 0, 0);
  reply = mitogen_receiver_get (recv, 10000, NULL, &error);
  g_assert_no_error (error);
  value = mitogen_message_unpack (reply, &error);
  g_assert_no_error (error);
  g_assert_true (g_variant_is_of_type (value, G_VARIANT_TYPE_UNIT));
  g_assert_cmpint (g_get_monotonic_time () - start, >=, 450 * 1000);
  g_clear_object (&recv);
  g_clear_pointer (&reply, mitogen_message_unref);
  g_clear_pointer (&value, g_variant_unref);

  /* The genuine cancel, from the caller itself. */
  start = g_get_monotonic_time ();
  recv = mitogen_context_begin_call (ctx, "core.sleep", g_variant_new ("(d)", 30.0));
  g_usleep (100 * 1000);
  _mitogen_call_send_cancel (ctx, mitogen_receiver_get_handle (recv));
  reply = mitogen_receiver_get (recv, 10000, NULL, &error);
  g_assert_no_error (error);
  value = mitogen_message_unpack (reply, &error);
  g_assert_null (value);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_cmpint (g_get_monotonic_time () - start, <, G_USEC_PER_SEC);

  g_clear_object (&recv);
  g_clear_object (&ctx);
  mitogen_test_fixture_teardown (&fixture, NULL);
}

int
main (int    argc,
      char **argv)
{
  mitogen_test_init (&argc, &argv);

  g_test_add_func ("/message/header/layout", test_header_layout);
  g_test_add_func ("/message/header/round-trip", test_header_round_trip);
  g_test_add_func ("/message/header/bad-magic", test_header_bad_magic);
  g_test_add_func ("/message/header/length-limit", test_header_length_limit);
  g_test_add_func ("/message/body/value-round-trip", test_value_round_trip);
  g_test_add_func ("/message/body/null-is-unit", test_null_value_is_unit);
  g_test_add_func ("/message/body/dead-round-trip", test_dead_round_trip);
  g_test_add_func ("/message/body/error-round-trip", test_error_round_trip);
  g_test_add_func ("/message/body/error-reply-names-context", test_error_reply_names_context);
  g_test_add_func ("/message/body/make-replies", test_make_replies);
  g_test_add_func ("/message/untrusted/wrong-type", test_body_of_wrong_type);
  g_test_add_func ("/message/untrusted/undecodable", test_undecodable_data);
  g_test_add_func ("/message/untrusted/mangled", test_mangled_bodies);
  g_test_add_func ("/message/error/codes-preserved", test_error_codes_preserved);
  g_test_add_func ("/message/error/remote-code", test_remote_code);
  g_test_add_func ("/message/untrusted/forged-error-records", test_forged_error_records);
  g_test_add_func ("/message/untrusted/unknown-domains-bounded", test_unknown_domains_bounded);
  g_test_add_func ("/message/cancel/forged-source", test_cancel_forged_source);

  return g_test_run ();
}
