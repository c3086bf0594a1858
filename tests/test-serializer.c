/* test-serializer.c: both serializers round-trip every kind of value, refuse
 * garbage, and mix in one tree (a message crossing from a JSON stream to a
 * GVariant stream is re-encoded on the way).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "mitogen-test-util.h"

/* One of each kind: every basic type at its extremes, containers, maybe,
 * variants, bytes that are not text, text that is not ASCII. */
static GVariant *
sample_values (void)
{
  guint8 blob[300];
  GVariant *children[4];

  for (gsize i = 0; i < sizeof blob; i++)
    blob[i] = i & 0xff;
  children[0] = g_variant_new_parsed (
      "(byte 255, true, int16 -32768, uint16 65535, int32 -2147483648, uint32 4294967295, "
      "int64 -9223372036854775808, uint64 18446744073709551615, 3.25, 'text', "
      "objectpath '/org/example/Path', signature 'a{sv}(ii)')");
  children[1] = g_variant_new_parsed (
      "({'n': <int64 7>, 's': <'ünïcødé \"quoted\"'>}, [1, -2, 3], ['x', 'y'], "
      "@m(s) nothing, @mi just 7, (42, <'boxed'>), @a{sv} {})");
  children[2] = g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, blob, sizeof blob, 1);
  children[3] = g_variant_new_tuple (NULL, 0);
  return g_variant_ref_sink (g_variant_new_tuple (children, G_N_ELEMENTS (children)));
}

static void
test_round_trip (gconstpointer data)
{
  const char *name = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(MitogenSerializer) serializer = mitogen_serializer_lookup (name, &error);
  g_autoptr(GVariant) value = sample_values ();
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GVariant) back = NULL;

  g_assert_no_error (error);
  bytes = mitogen_serializer_serialize (serializer, value, &error);
  g_assert_no_error (error);
  back = mitogen_serializer_deserialize (serializer, bytes, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (g_variant_get_type_string (back), ==, g_variant_get_type_string (value));
  g_assert_true (g_variant_equal (back, value));
}

static void
test_garbage (gconstpointer data)
{
  const char *name = data;
  static const char *inputs[] = { "", "{", "[\"(i)\"]", "[\"not a type!\", 1]",
                                  "[\"i\", \"string\"]", "\xff\xfe\x00\x01" };
  g_autoptr(MitogenSerializer) serializer = mitogen_serializer_lookup (name, NULL);

  for (gsize i = 0; i < G_N_ELEMENTS (inputs); i++)
    {
      g_autoptr(GBytes) bytes = g_bytes_new (inputs[i], i == G_N_ELEMENTS (inputs) - 1 ? 4 : strlen (inputs[i]));
      g_autoptr(GError) error = NULL;
      g_autoptr(GVariant) v = mitogen_serializer_deserialize (serializer, bytes, &error);

      /* GVariant's binary form reads most bytes as *some* value; the
       * engine then refuses the wrong type. Either way: no crash, and a
       * failure is a protocol error. */
      if (v == NULL)
        g_assert_error (error, MITOGEN_ERROR, MITOGEN_ERROR_PROTOCOL);
      else if (g_str_equal (name, "json"))
        g_assert_not_reached ();
    }
}

/* Large values go out in pieces that share their memory; the pieces must
 * make exactly the bytes serialize() gives. */
static void
test_chunks_match (gconstpointer data)
{
  const char *name = data;
  g_autoptr(MitogenSerializer) serializer = mitogen_serializer_lookup (name, NULL);
  gsize sizes[] = { 10, 64 * 1024, 300 * 1024 + 7 };

  for (gsize k = 0; k < G_N_ELEMENTS (sizes); k++)
    {
      g_autofree guint8 *blob = g_malloc (sizes[k]);
      g_autoptr(GVariant) body = NULL;
      g_autoptr(GBytes) whole = NULL;
      g_autoptr(GPtrArray) chunks = NULL;
      g_autoptr(GByteArray) joined = g_byte_array_new ();
      g_autoptr(GError) error = NULL;
      GVariant *children[2];

      for (gsize i = 0; i < sizes[k]; i++)
        blob[i] = (i * 7 + k) & 0xff;
      children[0] = g_variant_new_byte (2);
      children[1] = g_variant_new_variant (g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, blob,
                                                                      sizes[k], 1));
      body = g_variant_ref_sink (g_variant_new_tuple (children, 2));

      whole = mitogen_serializer_serialize (serializer, body, &error);
      g_assert_no_error (error);
      chunks = mitogen_serializer_serialize_chunks (serializer, body, &error);
      g_assert_no_error (error);
      for (guint i = 0; i < chunks->len; i++)
        {
          gsize len;
          const guint8 *p = g_bytes_get_data (chunks->pdata[i], &len);
          g_byte_array_append (joined, p, len);
        }
      g_assert_cmpmem (joined->data, joined->len,
                       g_bytes_get_data (whole, NULL), g_bytes_get_size (whole));
    }
}

static GVariant *
json_options (void)
{
  GVariantDict dict;

  g_variant_dict_init (&dict, NULL);
  g_variant_dict_insert (&dict, "serializer", "s", "json");
  return g_variant_dict_end (&dict);
}

static void
echo_and_check (MitogenContext *ctx)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) value = sample_values ();
  g_autoptr(GVariant) back = mitogen_context_call (ctx, "core.echo", g_variant_new_tuple (&value, 1),
                                                   NULL, &error);

  g_assert_no_error (error);
  g_assert_true (g_variant_equal (back, value));
}

static void
test_json_stream (MitogenTestFixture *fixture,
                  gconstpointer       data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MitogenContext) a = NULL;
  g_autoptr(MitogenContext) b = NULL;
  g_autoptr(GVariant) v = NULL;

  a = mitogen_router_connect_context (fixture->router, "local", json_options (), NULL, NULL, &error);
  g_assert_no_error (error);
  echo_and_check (a);

  /* Errors travel too. */
  v = mitogen_context_call (a, "core.fail", g_variant_new ("(s)", "boom"), NULL, &error);
  g_assert_error (error, MITOGEN_ERROR, MITOGEN_ERROR_CALL);
  g_assert_nonnull (strstr (error->message, "boom"));
  g_clear_error (&error);

  /* a speaks JSON to us and GVariant to b: a re-encodes what it routes. */
  b = mitogen_router_connect_context (fixture->router, "local", NULL, a, NULL, &error);
  g_assert_no_error (error);
  echo_and_check (b);
}

int
main (int    argc,
      char **argv)
{
  mitogen_test_init (&argc, &argv);

  g_test_add_data_func ("/serializer/gvariant/round-trip", "gvariant", test_round_trip);
  g_test_add_data_func ("/serializer/json/round-trip", "json", test_round_trip);
  g_test_add_data_func ("/serializer/gvariant/garbage", "gvariant", test_garbage);
  g_test_add_data_func ("/serializer/gvariant/chunks", "gvariant", test_chunks_match);
  g_test_add_data_func ("/serializer/json/chunks", "json", test_chunks_match);
  g_test_add_data_func ("/serializer/json/garbage", "json", test_garbage);
  g_test_add ("/serializer/json/stream", MitogenTestFixture, NULL,
              mitogen_test_fixture_setup, test_json_stream, mitogen_test_fixture_teardown);
  return g_test_run ();
}
