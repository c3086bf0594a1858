/* mitogen-serializer-json.c: JSON on the wire, for peers and tools that
 * speak JSON rather than GVariant.
 *
 * A value travels as [signature, value], and the mapping keeps the type of
 * everything inside too, so every GVariant round-trips exactly (json-glib's
 * own mapping guesses the types inside variants):
 *
 *   boolean, numbers, strings  JSON boolean, number, string; 64-bit
 *                              integers beyond 2^53 as strings of digits;
 *                              NaN and infinities as "nan", "inf", "-inf"
 *   tuple, array               JSON array
 *   dictionary entry           [key, value]
 *   maybe                      [] or [value]
 *   variant                    [signature, value]
 *
 * Decoding trusts nothing: a type must be definite (no "r", "*", "a?"),
 * and nesting stops where GVariant's own does: counting the outer box as
 * depth 0, no value sits at depth MITOGEN_SERIALIZER_MAX_DEPTH or deeper
 * (checked on the text before json-glib's recursive parser sees it, and
 * again while decoding, since each variant brings its own type). Every
 * failure sets a MITOGEN_ERROR_PROTOCOL error.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <errno.h>
#include <math.h>
#include <string.h>

#include <json-glib/json-glib.h>

#include <mitogen/mitogen.h>

#define MITOGEN_TYPE_SERIALIZER_JSON (mitogen_serializer_json_get_type ())
G_DECLARE_FINAL_TYPE (MitogenSerializerJson, mitogen_serializer_json,
                      MITOGEN, SERIALIZER_JSON, GObject)

struct _MitogenSerializerJson
{
  GObject parent_instance;
};

static void mitogen_serializer_json_iface_init (MitogenSerializerInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (MitogenSerializerJson, mitogen_serializer_json, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (MITOGEN_TYPE_SERIALIZER,
                                                      mitogen_serializer_json_iface_init))

#define SAFE_INTEGER ((gint64) 1 << 53)

static JsonNode *to_json (GVariant *value, guint depth);

static JsonNode *
integer_node (gint64 v)
{
  /* Beyond 2^53 many JSON readers lose digits: send a string. */
  if (v > SAFE_INTEGER || v < -SAFE_INTEGER)
    {
      g_autofree char *text = g_strdup_printf ("%" G_GINT64_FORMAT, v);
      return json_node_init_string (json_node_alloc (), text);
    }
  return json_node_init_int (json_node_alloc (), v);
}

/* NULL when a child nests too deeply. */
static JsonNode *
array_of_children (GVariant *value,
                   guint     depth)
{
  g_autoptr(JsonArray) array = json_array_new ();
  gsize n = g_variant_n_children (value);

  for (gsize i = 0; i < n; i++)
    {
      g_autoptr(GVariant) child = g_variant_get_child_value (value, i);
      JsonNode *node = to_json (child, depth + 1);

      if (node == NULL)
        return NULL;
      json_array_add_element (array, node);
    }
  return json_node_init_array (json_node_alloc (), array);
}

/* NULL when @value nests deeper than the peer would decode. */
static JsonNode *
to_json (GVariant *value,
         guint     depth)
{
  if (depth >= MITOGEN_SERIALIZER_MAX_DEPTH)
    return NULL;
  switch (g_variant_classify (value))
    {
    case G_VARIANT_CLASS_BOOLEAN:
      return json_node_init_boolean (json_node_alloc (), g_variant_get_boolean (value));
    case G_VARIANT_CLASS_BYTE:
      return integer_node (g_variant_get_byte (value));
    case G_VARIANT_CLASS_INT16:
      return integer_node (g_variant_get_int16 (value));
    case G_VARIANT_CLASS_UINT16:
      return integer_node (g_variant_get_uint16 (value));
    case G_VARIANT_CLASS_INT32:
      return integer_node (g_variant_get_int32 (value));
    case G_VARIANT_CLASS_UINT32:
      return integer_node (g_variant_get_uint32 (value));
    case G_VARIANT_CLASS_HANDLE:
      return integer_node (g_variant_get_handle (value));
    case G_VARIANT_CLASS_INT64:
      return integer_node (g_variant_get_int64 (value));
    case G_VARIANT_CLASS_UINT64:
      {
        guint64 v = g_variant_get_uint64 (value);
        g_autofree char *text = NULL;

        if (v <= (guint64) SAFE_INTEGER)
          return integer_node ((gint64) v);
        text = g_strdup_printf ("%" G_GUINT64_FORMAT, v);
        return json_node_init_string (json_node_alloc (), text);
      }
    case G_VARIANT_CLASS_DOUBLE:
      {
        double d = g_variant_get_double (value);

        if (isnan (d))
          return json_node_init_string (json_node_alloc (), "nan");
        if (isinf (d))
          return json_node_init_string (json_node_alloc (), d > 0 ? "inf" : "-inf");
        return json_node_init_double (json_node_alloc (), d);
      }
    case G_VARIANT_CLASS_STRING:
    case G_VARIANT_CLASS_OBJECT_PATH:
    case G_VARIANT_CLASS_SIGNATURE:
      return json_node_init_string (json_node_alloc (), g_variant_get_string (value, NULL));
    case G_VARIANT_CLASS_VARIANT:
      {
        g_autoptr(GVariant) inner = g_variant_get_variant (value);
        g_autoptr(JsonArray) pair = json_array_new ();
        JsonNode *node = to_json (inner, depth + 1);

        if (node == NULL)
          return NULL;
        json_array_add_string_element (pair, g_variant_get_type_string (inner));
        json_array_add_element (pair, node);
        return json_node_init_array (json_node_alloc (), pair);
      }
    case G_VARIANT_CLASS_MAYBE:
    case G_VARIANT_CLASS_ARRAY:
    case G_VARIANT_CLASS_TUPLE:
    case G_VARIANT_CLASS_DICT_ENTRY:
      return array_of_children (value, depth);
    }
  g_return_val_if_reached (json_node_init_null (json_node_alloc ()));
}

static GVariant *from_json (JsonNode *node, const GVariantType *type, guint depth, GError **error);

static GVariant *
fail (GError            **error,
      const char         *what,
      const GVariantType *type)
{
  g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_PROTOCOL,
               "undecodable JSON message: %s where '%.*s' was expected", what,
               (int) g_variant_type_get_string_length (type), g_variant_type_peek_string (type));
  return NULL;
}

static gboolean
holds (JsonNode *node,
       GType     value_type)
{
  return JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == value_type;
}

/* An integer, given as a JSON number or (beyond 2^53) a string of digits. */
static gboolean
get_integer (JsonNode *node,
             gint64   *out,
             guint64  *uout)
{
  const char *text;
  char *end = NULL;

  /* json-glib saturates numbers beyond 64 bits without a word, and the
   * encoder sends anything beyond 2^53 as a string: refuse such numbers
   * rather than decode a wrong value. */
  if (holds (node, G_TYPE_INT64))
    {
      *out = json_node_get_int (node);
      *uout = (guint64) *out;
      return *out <= SAFE_INTEGER && *out >= -SAFE_INTEGER;
    }
  if (!holds (node, G_TYPE_STRING))
    return FALSE;
  text = json_node_get_string (node);
  errno = 0;
  if (text[0] == '-')
    {
      *out = g_ascii_strtoll (text, &end, 10);
      *uout = 0;
    }
  else
    {
      *uout = g_ascii_strtoull (text, &end, 10);
      *out = *uout > G_MAXINT64 ? G_MAXINT64 : (gint64) *uout;
    }
  return errno == 0 && end != text && *end == '\0';
}

static GVariant *
integer_from_json (JsonNode           *node,
                   const GVariantType *type)
{
  gint64 i;
  guint64 u;

  if (!get_integer (node, &i, &u))
    return NULL;
  switch (g_variant_type_peek_string (type)[0])
    {
    case 'y': return i >= 0 && i <= G_MAXUINT8 ? g_variant_new_byte (i) : NULL;
    case 'n': return i >= G_MININT16 && i <= G_MAXINT16 ? g_variant_new_int16 (i) : NULL;
    case 'q': return i >= 0 && i <= G_MAXUINT16 ? g_variant_new_uint16 (i) : NULL;
    case 'i': return i >= G_MININT32 && i <= G_MAXINT32 ? g_variant_new_int32 (i) : NULL;
    case 'h': return i >= G_MININT32 && i <= G_MAXINT32 ? g_variant_new_handle (i) : NULL;
    case 'u': return i >= 0 && i <= G_MAXUINT32 ? g_variant_new_uint32 (i) : NULL;
    case 'x': return g_variant_new_int64 (i);
    case 't': return i >= 0 ? g_variant_new_uint64 (u) : NULL;
    default: return NULL;
    }
}

static GVariant *
children_from_json (JsonNode           *node,
                    const GVariantType *type,
                    guint               depth,
                    GError            **error)
{
  g_autoptr(GPtrArray) children = g_ptr_array_new_with_free_func ((GDestroyNotify) g_variant_unref);
  gboolean homogeneous = g_variant_type_is_array (type) || g_variant_type_is_maybe (type);
  const GVariantType *item;
  JsonArray *array;
  guint len;

  if (!JSON_NODE_HOLDS_ARRAY (node))
    return fail (error, "not an array", type);
  array = json_node_get_array (node);
  len = json_array_get_length (array);
  item = homogeneous ? g_variant_type_element (type) : g_variant_type_first (type);

  for (guint i = 0; i < len; i++)
    {
      GVariant *child;

      if (item == NULL)
        return fail (error, "too many elements", type);
      child = from_json (json_array_get_element (array, i), item, depth + 1, error);
      if (child == NULL)
        return NULL;
      g_ptr_array_add (children, g_variant_ref_sink (child));
      if (!homogeneous)
        item = g_variant_type_next (item);
    }

  if (g_variant_type_is_maybe (type))
    {
      if (len > 1)
        return fail (error, "a maybe with more than one value", type);
      return g_variant_new_maybe (g_variant_type_element (type),
                                  len == 1 ? children->pdata[0] : NULL);
    }
  if (g_variant_type_is_array (type))
    return g_variant_new_array (g_variant_type_element (type),
                                (GVariant **) children->pdata, len);
  if (item != NULL)
    return fail (error, "too few elements", type);
  if (g_variant_type_is_dict_entry (type))
    return g_variant_new_dict_entry (children->pdata[0], children->pdata[1]);
  return g_variant_new_tuple ((GVariant **) children->pdata, len);
}

static GVariant *
from_json (JsonNode           *node,
           const GVariantType *type,
           guint               depth,
           GError            **error)
{
  char kind = g_variant_type_peek_string (type)[0];
  const char *s;

  if (depth >= MITOGEN_SERIALIZER_MAX_DEPTH)
    return fail (error, "values nested too deeply", type);

  switch (kind)
    {
    case 'y': case 'n': case 'q': case 'i': case 'h': case 'u': case 'x': case 't':
      {
        GVariant *v = integer_from_json (node, type);
        return v != NULL ? v : fail (error, "not an integer in range", type);
      }
    case 'b':
      if (!holds (node, G_TYPE_BOOLEAN))
        return fail (error, "not a boolean", type);
      return g_variant_new_boolean (json_node_get_boolean (node));
    case 'd':
      if (holds (node, G_TYPE_STRING))
        {
          s = json_node_get_string (node);
          if (g_str_equal (s, "nan"))
            return g_variant_new_double (NAN);
          if (g_str_equal (s, "inf"))
            return g_variant_new_double (INFINITY);
          if (g_str_equal (s, "-inf"))
            return g_variant_new_double (-INFINITY);
        }
      if (!holds (node, G_TYPE_DOUBLE) && !holds (node, G_TYPE_INT64))
        return fail (error, "not a number", type);
      return g_variant_new_double (json_node_get_double (node));
    case 's':
    case 'o':
    case 'g':
      if (!holds (node, G_TYPE_STRING))
        return fail (error, "not a string", type);
      s = json_node_get_string (node);
      if (kind == 'o' && !g_variant_is_object_path (s))
        return fail (error, "not an object path", type);
      if (kind == 'g' && !g_variant_is_signature (s))
        return fail (error, "not a signature", type);
      if (kind == 's' && !g_utf8_validate (s, -1, NULL))
        return fail (error, "not UTF-8", type);
      return kind == 'o' ? g_variant_new_object_path (s)
           : kind == 'g' ? g_variant_new_signature (s)
           : g_variant_new_string (s);
    case 'v':
      {
        g_autoptr(GVariantType) inner_type = NULL;
        JsonArray *pair;
        GVariant *inner;

        if (!JSON_NODE_HOLDS_ARRAY (node) ||
            json_array_get_length (pair = json_node_get_array (node)) != 2 ||
            !holds (json_array_get_element (pair, 0), G_TYPE_STRING) ||
            !g_variant_type_string_is_valid (json_array_get_string_element (pair, 0)))
          return fail (error, "not a [signature, value] pair", type);
        inner_type = g_variant_type_new (json_array_get_string_element (pair, 0));
        /* "r", "*", "?" and types holding them name no value. */
        if (!g_variant_type_is_definite (inner_type))
          return fail (error, "an indefinite type in a variant", type);
        inner = from_json (json_array_get_element (pair, 1), inner_type, depth + 1, error);
        return inner != NULL ? g_variant_new_variant (inner) : NULL;
      }
    case 'a': case 'm': case '(': case '{':
      return children_from_json (node, type, depth, error);
    default:
      return fail (error, "a type with no JSON form", type);
    }
}

/* The value goes inside a variant, so its own type travels with it. */
static GBytes *
json_serialize (MitogenSerializer  *serializer,
                GVariant           *value,
                GError            **error)
{
  g_autoptr(GVariant) boxed = g_variant_ref_sink (g_variant_new_variant (value));
  g_autoptr(JsonGenerator) generator = json_generator_new ();
  g_autoptr(JsonNode) root = to_json (boxed, 0);
  gsize len;
  char *text;

  if (root == NULL)
    {
      g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_PROTOCOL,
                   "cannot encode a value nested more than %d deep as JSON",
                   MITOGEN_SERIALIZER_MAX_DEPTH);
      return NULL;
    }

  json_generator_set_root (generator, root);
  text = json_generator_to_data (generator, &len);
  return g_bytes_new_take (text, len);
}

/* TRUE when the integer literal of @n digits at @digits does not fit in
 * 64 bits: json-glib wraps such numbers around without an error. */
static gboolean
integer_overflows (const char *digits,
                   gsize       n,
                   gboolean    negative)
{
  const char *max = negative ? "9223372036854775808" : "9223372036854775807";

  while (n > 1 && digits[0] == '0')
    digits++, n--;
  return n > 19 || (n == 19 && strncmp (digits, max, 19) > 0);
}

/* Length of the number at @text (of @len bytes); sets *@overflows when it
 * is an integer json-glib would read wrong. */
static gsize
scan_number (const char *text,
             gsize       len,
             gboolean   *overflows)
{
  gboolean negative = text[0] == '-';
  gsize start = negative ? 1 : 0;
  gsize end = start;

  while (end < len && g_ascii_isdigit (text[end]))
    end++;
  if (end < len && (text[end] == '.' || text[end] == 'e' || text[end] == 'E'))
    {
      while (end < len && (g_ascii_isdigit (text[end]) || strchr (".eE+-", text[end]) != NULL))
        end++;
      return end;
    }
  *overflows = integer_overflows (text + start, end - start, negative);
  return end;
}

/* Refuses, before json-glib sees it, text it would mishandle: arrays and
 * objects nested deeper than @limit (json-glib parses recursively, and a
 * few hundred kilobytes of "[" would overflow the stack), integers beyond
 * 64 bits (json-glib wraps them around), and anything but one array (a
 * message is always [kind, value]; json-glib 1.6 leaks what it parsed
 * when more follows a first value). */
static gboolean
check_text (const char  *text,
            gsize        len,
            guint        limit,
            GError     **error)
{
  gboolean in_string = FALSE;
  gboolean escaped = FALSE;
  guint depth = 0;
  gsize start = 0;

  while (start < len && g_ascii_isspace (text[start]))
    start++;
  if (start < len && text[start] != '[')
    {
      g_set_error_literal (error, MITOGEN_ERROR, MITOGEN_ERROR_PROTOCOL,
                           "undecodable JSON message: it is not an array");
      return FALSE;
    }
  for (gsize i = start; i < len; i++)
    {
      char c = text[i];

      if (in_string)
        {
          if (escaped)
            escaped = FALSE;
          else if (c == '\\')
            escaped = TRUE;
          else if (c == '"')
            in_string = FALSE;
        }
      else if (c == '"')
        in_string = TRUE;
      else if (c == '[' || c == '{')
        {
          if (++depth > limit)
            {
              g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_PROTOCOL,
                           "undecodable JSON message: nested more than %u deep", limit);
              return FALSE;
            }
        }
      else if ((c == ']' || c == '}') && depth > 0 && --depth == 0)
        {
          for (i++; i < len; i++)
            if (!g_ascii_isspace (text[i]))
              {
                g_set_error_literal (error, MITOGEN_ERROR, MITOGEN_ERROR_PROTOCOL,
                                     "undecodable JSON message: text follows its array");
                return FALSE;
              }
          return TRUE;
        }
      else if (c == '-' || g_ascii_isdigit (c))
        {
          gboolean overflows = FALSE;

          i += scan_number (text + i, len - i, &overflows) - 1;
          if (overflows)
            {
              g_set_error_literal (error, MITOGEN_ERROR, MITOGEN_ERROR_PROTOCOL,
                                   "undecodable JSON message: an integer beyond 64 bits");
              return FALSE;
            }
        }
    }
  return TRUE;
}

static GVariant *
json_deserialize (MitogenSerializer  *serializer,
                  GBytes             *data,
                  GError            **error)
{
  g_autoptr(JsonParser) parser = json_parser_new_immutable ();
  g_autoptr(GError) local_error = NULL;
  g_autoptr(GVariant) boxed = NULL;
  gsize len;
  const char *text = g_bytes_get_data (data, &len);

  if (text == NULL || len == 0)
    {
      g_set_error_literal (error, MITOGEN_ERROR, MITOGEN_ERROR_PROTOCOL,
                           "undecodable JSON message: it is empty");
      return NULL;
    }
  /* A value at depth d (the outer box being 0) is JSON level d + 1, and
   * from_json() takes no value at depth 128 or more. */
  if (!check_text (text, len, MITOGEN_SERIALIZER_MAX_DEPTH, error))
    return NULL;
  if (len > G_MAXSSIZE || !json_parser_load_from_data (parser, text, len, &local_error))
    {
      g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_PROTOCOL,
                   "undecodable JSON message: %s",
                   local_error != NULL ? local_error->message : "too large");
      return NULL;
    }
  /* Whitespace alone parses, to no root at all. */
  if (json_parser_get_root (parser) == NULL)
    {
      g_set_error_literal (error, MITOGEN_ERROR, MITOGEN_ERROR_PROTOCOL,
                           "undecodable JSON message: it holds no value");
      return NULL;
    }
  boxed = from_json (json_parser_get_root (parser), G_VARIANT_TYPE_VARIANT, 0, error);
  if (boxed == NULL)
    return NULL;
  g_variant_ref_sink (boxed);
  return g_variant_get_variant (boxed);
}

static void
mitogen_serializer_json_iface_init (MitogenSerializerInterface *iface)
{
  iface->serialize = json_serialize;
  iface->deserialize = json_deserialize;
}

static void
mitogen_serializer_json_class_init (MitogenSerializerJsonClass *klass)
{
}

static void
mitogen_serializer_json_init (MitogenSerializerJson *self)
{
}

static void
register_types (void)
{
  mitogen_register_serializer (MITOGEN_TYPE_SERIALIZER_JSON, "json", 0);
}

MITOGEN_DEFINE_PLUGIN (register_types)
