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

/* Asserts that @serializer refuses @len bytes at @text with a protocol
 * error (and, by surviving, that it neither crashes nor logs a critical:
 * the test harness makes criticals fatal). */
static void
assert_refused (MitogenSerializer *serializer,
                const char        *text,
                gsize              len)
{
  g_autoptr(GBytes) bytes = g_bytes_new (text, len);
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) v = mitogen_serializer_deserialize (serializer, bytes, &error);

  if (v != NULL)
    g_error ("accepted %.*s as %s", (int) MIN (len, 60), text, g_variant_get_type_string (v));
  g_assert_error (error, MITOGEN_ERROR, MITOGEN_ERROR_PROTOCOL);
}

/* @count copies of @unit, then @tail. */
static char *
repeat (const char *unit,
        gsize       count,
        const char *tail)
{
  GString *s = g_string_new (NULL);

  for (gsize i = 0; i < count; i++)
    g_string_append (s, unit);
  g_string_append (s, tail);
  return g_string_free (s, FALSE);
}

/* Bodies a hostile peer may send: each once crashed a master or an agent
 * (indefinite types tripped a GLib assertion, "a*" and "m*" decoded to
 * NULL with no error, deep nesting overflowed the stack, whitespace logged
 * a critical), or probes an edge of the mapping. */
static void
test_json_hostile (void)
{
  static const char *inputs[] = {
    "[\"r\",[]]", "[\"a*\",[]]", "[\"m*\",[]]", "[\"*\",1]", "[\"?\",1]", "[\"a?\",[1]]",
    "[\"(r)\",[[]]]", "[\"m(*)\",[]]", "[\"a{?*}\",[]]", "[\"(\",[]]", "[\"a{vv}\",[]]",
    "[\"{s\",[]]", "[\"v\",[\"r\",[]]]", "[\"v\",[\"a*\",[1]]]",
    " ", "\n\t  \r\n", "null", "[]", "[\"i\"]", "[\"i\",1,2]", "[1,1]", "{\"i\":1}",
    "[\"i\",1e400]", "[\"x\",99999999999999999999999999]", "[\"x\",-9223372036854775809]",
    "[\"x\",18446744073709551615]", "[\"d\",99999999999999999999]", "[\"x\",9007199254740993]", "[\"t\",\"99999999999999999999999\"]",
    "[\"t\",\"-1\"]", "[\"x\",\"12abc\"]", "[\"y\",256]", "[\"i\",1.5]",
    "[\"s\",\"\xff\xfe\"]", "[\"s\",\"\xc3\"]", "[\"o\",\"not a path\"]", "[\"g\",\"(\"]",
    "[\"{ss}\",[\"a\"]]", "[\"{ss}\",[\"a\",\"b\",\"c\"]]", "[\"mi\",[1,2]]", "[\"(ii)\",[1]]",
    "[\"h\",4294967296]", "[\"b\",1]", "[\"ai\",[1,\"x\"]]",
    /* More after a first value: json-glib 1.6 leaked what it parsed (the
     * fuzzer's LeakSanitizer found it). */
    "\"]]'\005s\"[]", "[\"i\",1] []", "[\"i\",1]]", "\"s\"", "1",
  };
  g_autoptr(MitogenSerializer) json = mitogen_serializer_lookup ("json", NULL);
  g_autofree char *deep_arrays = repeat ("[", 100000, "");
  g_autofree char *deep_objects = repeat ("{\"a\":", 100000, "1");
  g_autofree char *deep_variants = repeat ("[\"v\",", 200, "[\"i\",1]");
  g_autofree char *long_maybe = repeat ("m", 200, "i");
  g_autofree char *long_maybe_body = g_strdup_printf ("[\"%s\",[]]", long_maybe);
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GVariant) back = NULL;
  g_autoptr(GError) error = NULL;

  for (gsize i = 0; i < G_N_ELEMENTS (inputs); i++)
    assert_refused (json, inputs[i], strlen (inputs[i]));
  assert_refused (json, "[\"s\",\"a\\u0000b\"]\0trailing", 25);
  assert_refused (json, "\0", 1);
  assert_refused (json, deep_arrays, strlen (deep_arrays));
  assert_refused (json, deep_objects, strlen (deep_objects));
  assert_refused (json, deep_variants, strlen (deep_variants));
  assert_refused (json, long_maybe_body, strlen (long_maybe_body));

  /* A NUL inside a string is not a way past the checks: what comes back
   * is a valid string, whatever json-glib made of it. */
  bytes = g_bytes_new_static ("[\"s\",\"a\\u0000b\"]", 16);
  back = mitogen_serializer_deserialize (json, bytes, &error);
  if (back != NULL)
    g_assert_true (g_utf8_validate (g_variant_get_string (back, NULL), -1, NULL));
  else
    g_assert_error (error, MITOGEN_ERROR, MITOGEN_ERROR_PROTOCOL);
}

/* Both serializers bound nesting the same way: 126 variants in a variant
 * plus the value in them (128 levels with the serializer's box) decode, and a value nested deeper is refused (JSON) or cut off
 * by GLib at its own bound of 128 (GVariant), never recursed into. */
static guint
variant_depth (GVariant *v)
{
  guint depth = 0;

  g_variant_ref (v);
  while (g_variant_is_of_type (v, G_VARIANT_TYPE_VARIANT))
    {
      GVariant *inner = g_variant_get_variant (v);

      g_variant_unref (v);
      v = inner;
      depth++;
    }
  g_variant_unref (v);
  return depth;
}

static GVariant *
nested_variants (guint depth)
{
  GVariant *v = g_variant_new_int32 (7);

  for (guint i = 0; i < depth; i++)
    v = g_variant_new_variant (v);
  return g_variant_ref_sink (v);
}

static void
test_depth (gconstpointer data)
{
  const char *name = data;
  g_autoptr(MitogenSerializer) serializer = mitogen_serializer_lookup (name, NULL);
  g_autoptr(GVariant) at_limit = nested_variants (MITOGEN_SERIALIZER_MAX_DEPTH - 2);
  g_autoptr(GVariant) too_deep = nested_variants (4 * MITOGEN_SERIALIZER_MAX_DEPTH);
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GVariant) back = NULL;
  g_autoptr(GError) error = NULL;

  bytes = mitogen_serializer_serialize (serializer, at_limit, &error);
  g_assert_no_error (error);
  back = mitogen_serializer_deserialize (serializer, bytes, &error);
  g_assert_no_error (error);
  g_assert_true (g_variant_equal (back, at_limit));
  g_clear_pointer (&bytes, g_bytes_unref);
  g_clear_pointer (&back, g_variant_unref);

  bytes = mitogen_serializer_serialize (serializer, too_deep, &error);
  if (bytes == NULL)
    {
      g_assert_error (error, MITOGEN_ERROR, MITOGEN_ERROR_PROTOCOL);
      return;
    }
  back = mitogen_serializer_deserialize (serializer, bytes, &error);
  if (back == NULL)
    g_assert_error (error, MITOGEN_ERROR, MITOGEN_ERROR_PROTOCOL);
  else
    g_assert_cmpuint (variant_depth (back), <, MITOGEN_SERIALIZER_MAX_DEPTH);
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
  g_test_add_func ("/serializer/json/hostile", test_json_hostile);
  g_test_add_data_func ("/serializer/gvariant/depth", "gvariant", test_depth);
  g_test_add_data_func ("/serializer/json/depth", "json", test_depth);
  g_test_add ("/serializer/json/stream", MitogenTestFixture, NULL,
              mitogen_test_fixture_setup, test_json_stream, mitogen_test_fixture_teardown);
  return g_test_run ();
}
