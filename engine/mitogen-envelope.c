/* mitogen-envelope.c: the fixed part of a message in GVariant's wire
 * form, written and read by hand.
 *
 * A boxed body on the wire, as GLib lays it out (a "v" is its value's
 * bytes, a NUL, then the value's type string; a tuple keeps the end of
 * each variable-sized child but the last in a framing offset at its end):
 *
 *   [kind][7 zero bytes][value bytes][NUL][value type][NUL](yv)
 *
 * and a call's value "(sv)" is
 *
 *   [function][NUL][zeros up to 8][args bytes][NUL][args type][end of the name]
 *
 * where the framing offset is 1, 2, 4 or 8 bytes, little-endian, by the
 * tuple's size. test-envelope holds every byte of it to g_variant_store().
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <string.h>

#include "mitogen-envelope-private.h"

#define BOX_TAIL "\0(yv)"
#define BOX_TAIL_LEN 5
#define CALL_TAIL "\0(sv)"
#define CALL_TAIL_LEN 5
#define HEAD_LEN 8       /* the kind byte, padded to the "v"'s alignment */

/* GLib's rule: the smallest offset that can address the whole container. */
static gsize
offset_size_for (gsize container_size)
{
  if (container_size > G_MAXUINT32)
    return 8;
  if (container_size > G_MAXUINT16)
    return 4;
  if (container_size > G_MAXUINT8)
    return 2;
  return container_size > 0 ? 1 : 0;
}

/* GLib's rule for a container of @body_size bytes and @n_offsets offsets:
 * the offsets are as wide as the total they address needs. */
static gsize
offset_size_for_body (gsize body_size,
                      gsize n_offsets)
{
  if (body_size + n_offsets <= G_MAXUINT8)
    return 1;
  if (body_size + 2 * n_offsets <= G_MAXUINT16)
    return 2;
  if (body_size + 4 * n_offsets <= G_MAXUINT32)
    return 4;
  return 8;
}

static void
put_offset (guint8 *p,
            gsize   width,
            gsize   value)
{
  for (gsize i = 0; i < width; i++)
    p[i] = (value >> (8 * i)) & 0xff;
}

static gsize
get_offset (const guint8 *p,
            gsize         width)
{
  gsize value = 0;

  for (gsize i = 0; i < width; i++)
    value |= (gsize) p[i] << (8 * i);
  return value;
}

/* Writes "[value][NUL][type]" at @p; returns the byte after it. */
static guint8 *
put_boxed (guint8   *p,
           GVariant *value)
{
  const char *type = g_variant_get_type_string (value);
  gsize type_len = strlen (type);

  g_variant_store (value, p);
  p += g_variant_get_size (value);
  *p++ = '\0';
  memcpy (p, type, type_len);
  return p + type_len;
}

static gsize
boxed_size (GVariant *value)
{
  return g_variant_get_size (value) + 1 + strlen (g_variant_get_type_string (value));
}

GBytes *
_mitogen_envelope_encode (guint8    kind,
                          GVariant *value)
{
  gsize size = HEAD_LEN + boxed_size (value) + BOX_TAIL_LEN;
  guint8 *buf = g_malloc (size);
  guint8 *p;

  buf[0] = kind;
  memset (buf + 1, 0, HEAD_LEN - 1);
  p = put_boxed (buf + HEAD_LEN, value);
  memcpy (p, BOX_TAIL, BOX_TAIL_LEN);
  g_assert (p + BOX_TAIL_LEN == buf + size);
  return g_bytes_new_take (buf, size);
}

GPtrArray *
_mitogen_envelope_encode_chunks (guint8    kind,
                                 GVariant *value)
{
  GPtrArray *chunks = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  const char *type = g_variant_get_type_string (value);
  gsize type_len = strlen (type);
  gsize tail_len = 1 + type_len + BOX_TAIL_LEN;
  guint8 *head = g_malloc0 (HEAD_LEN);
  guint8 *tail = g_malloc (tail_len);

  head[0] = kind;
  tail[0] = '\0';
  memcpy (tail + 1, type, type_len);
  memcpy (tail + 1 + type_len, BOX_TAIL, BOX_TAIL_LEN);
  g_ptr_array_add (chunks, g_bytes_new_take (head, HEAD_LEN));
  g_ptr_array_add (chunks, g_variant_get_data_as_bytes (value));
  g_ptr_array_add (chunks, g_bytes_new_take (tail, tail_len));
  return chunks;
}

GBytes *
_mitogen_envelope_encode_call (const char *function,
                               GVariant   *args)
{
  gsize name_end = strlen (function) + 1;
  gsize args_start = (name_end + 7) & ~(gsize) 7;
  gsize body = args_start + boxed_size (args);
  gsize width = offset_size_for_body (body, 1);
  gsize request_size = body + width;
  gsize size = HEAD_LEN + request_size + CALL_TAIL_LEN + BOX_TAIL_LEN;
  guint8 *buf = g_malloc (size);
  guint8 *request = buf + HEAD_LEN;
  guint8 *p;

  memset (buf, 0, HEAD_LEN);   /* MITOGEN_BODY_VALUE */
  memcpy (request, function, name_end);
  memset (request + name_end, 0, args_start - name_end);
  p = put_boxed (request + args_start, args);
  put_offset (p, width, name_end);
  p += width;
  memcpy (p, CALL_TAIL, CALL_TAIL_LEN);
  p += CALL_TAIL_LEN;
  memcpy (p, BOX_TAIL, BOX_TAIL_LEN);
  g_assert (p + BOX_TAIL_LEN == buf + size);
  return g_bytes_new_take (buf, size);
}

/* How deep GLib's reading of @type nests: 1 for a basic type. */
static gsize
type_depth (const GVariantType *type)
{
  gsize deepest = 0;

  if (g_variant_type_is_array (type) || g_variant_type_is_maybe (type))
    return 1 + type_depth (g_variant_type_element (type));
  if (!g_variant_type_is_tuple (type) && !g_variant_type_is_dict_entry (type))
    return 1;
  for (const GVariantType *t = g_variant_type_first (type); t != NULL; t = g_variant_type_next (t))
    deepest = MAX (deepest, type_depth (t));
  return 1 + deepest;
}

/* GLib reads a body's value under three levels of its 128 (the box, the
 * "(yv)", its "v"), and a call's arguments under five: a type nested
 * deeper it reads as "()", so it is refused here. (Variants nested inside
 * the value get those levels back: the value read here starts at depth 0.
 * The bound exists against unbounded recursion, which stays bounded.) */
#define GLIB_MAX_DEPTH 128  /* G_VARIANT_MAX_RECURSION_DEPTH, private in GLib */
#define BODY_MAX_DEPTH (GLIB_MAX_DEPTH - 3)
#define ARGS_MAX_DEPTH (GLIB_MAX_DEPTH - 5)

/* GLib copies misaligned data only when it is longer than its alignment,
 * and asserts reading a shorter one; bytes from an odd address are copied
 * once here. (Frames arrive in malloc'd memory: this is for other callers.)
 * The copy is wiped when freed, as a call's frame is: it may hold a
 * password. */
static GBytes *
aligned_bytes (GBytes *data)
{
  gsize size;
  gconstpointer p = g_bytes_get_data (data, &size);

  if (((gsize) p & 7) == 0)
    return g_bytes_ref (data);
  return _mitogen_bytes_wipe_on_free (g_bytes_new (p, size));
}

/* Reads the "v" in [@start, @end) of @bytes, as GLib does but failing
 * where GLib would read a default value: the type string follows the
 * last NUL, must be one complete, definite type no deeper than
 * @max_depth, and a fixed-size type must have exactly its size. */
static GVariant *
read_boxed (GBytes      *bytes,
            gsize        start,
            gsize        end,
            gsize        max_depth,
            const char  *what,
            GError     **error)
{
  gsize size;
  const guint8 *data = g_bytes_get_data (bytes, &size);
  const char *type, *type_end;
  gsize nul = end;
  g_autoptr(GBytes) inner = NULL;
  GVariant *value;

  while (nul > start && data[nul - 1] != '\0')
    nul--;
  if (nul == start)
    goto bad;
  nul--;
  type = (const char *) data + nul + 1;
  if (!g_variant_type_string_scan (type, (const char *) data + end, &type_end) ||
      type_end != (const char *) data + end ||
      !g_variant_type_is_definite ((const GVariantType *) type))
    goto bad;
  /* The unit, which calls without arguments and empty answers carry,
   * is one shared value: no copy of the type, no lookup of its type
   * information under GLib's global lock. (Only in normal form: GLib
   * reads a non-zero byte as a unit too, and so must the codec.) */
  if (end - nul - 1 == 2 && type[0] == '(' && type[1] == ')' && nul - start == 1 &&
      data[start] == 0)
    return _mitogen_unit ();
  {
    /* The box's type string ends where the "(yv)" tail's NUL starts; a
     * call's runs into its framing offset and needs its own copy. */
    g_autofree char *copy = end < size && data[end] == '\0' ? NULL : g_strndup (type, end - nul - 1);

    /* A type nests no deeper than its string is long. */
    if (end - nul - 1 > max_depth &&
        type_depth ((const GVariantType *) (copy != NULL ? copy : type)) > max_depth)
      goto bad;
    inner = g_bytes_new_from_bytes (bytes, start, nul - start);
    value = g_variant_ref_sink (g_variant_new_from_bytes ((const GVariantType *) (copy != NULL ? copy : type),
                                                          inner, FALSE));
  }
  /* GLib stands zeros in for a fixed-size value of the wrong size. */
  if (g_variant_get_size (value) != nul - start)
    {
      g_variant_unref (value);
      goto bad;
    }
  return value;

bad:
  g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_PROTOCOL,
               "undecodable message data: %s has no valid value and type", what);
  return NULL;
}

/* Why @bytes are no boxed "(yv)", as the generic decoder would say. */
static void
report_not_a_body (const guint8  *bytes,
                   gsize          size,
                   GError       **error)
{
  const guint8 *nul = NULL;
  g_autofree char *type = NULL;

  for (gsize i = size; i > 0 && nul == NULL; i--)
    if (bytes[i - 1] == '\0')
      nul = bytes + i - 1;

  if (size == 0)
    {
      g_set_error_literal (error, MITOGEN_ERROR, MITOGEN_ERROR_PROTOCOL,
                           "undecodable message data: it is empty");
      return;
    }
  if (nul != NULL)
    type = g_strndup ((const char *) nul + 1, bytes + size - nul - 1);
  if (type != NULL && g_variant_type_string_is_valid (type) && strcmp (type, "(yv)") != 0)
    g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_PROTOCOL,
                 "message body has type '%s', expected '(yv)'", type);
  else
    g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_PROTOCOL,
                 "undecodable message data (%" G_GSIZE_FORMAT " bytes do not hold a "
                 "GVariant with its type)", size);
}

gboolean
_mitogen_envelope_decode (GBytes    *unaligned,
                          guint8    *kind,
                          GVariant **value,
                          GError   **error)
{
  g_autoptr(GBytes) data = aligned_bytes (unaligned);
  gsize size;
  const guint8 *bytes = g_bytes_get_data (data, &size);

  if (size < HEAD_LEN + BOX_TAIL_LEN ||
      memcmp (bytes + size - BOX_TAIL_LEN, BOX_TAIL, BOX_TAIL_LEN) != 0)
    {
      report_not_a_body (bytes, size, error);
      return FALSE;
    }
  *value = read_boxed (data, HEAD_LEN, size - BOX_TAIL_LEN, BODY_MAX_DEPTH, "the body", error);
  if (*value == NULL)
    return FALSE;
  *kind = bytes[0];
  return TRUE;
}

/* Reads the "(sv)" in [@start, @end) of @bytes. */
static gboolean
split_call (GBytes      *bytes,
            gsize        start,
            gsize        end,
            char       **function,
            GVariant   **args,
            GError     **error)
{
  const guint8 *data = (const guint8 *) g_bytes_get_data (bytes, NULL) + start;
  gsize size = end - start;
  gsize width = offset_size_for (size);
  gsize name_end, args_start;

  if (width == 0 || size < width)
    goto bad;
  name_end = get_offset (data + size - width, width);
  if (name_end < 1 || name_end > size - width || data[name_end - 1] != '\0' ||
      memchr (data, '\0', name_end - 1) != NULL ||
      !g_utf8_validate ((const char *) data, name_end - 1, NULL))
    goto bad;
  args_start = (name_end + 7) & ~(gsize) 7;
  if (args_start > size - width)
    goto bad;
  *args = read_boxed (bytes, start + args_start, end - width, ARGS_MAX_DEPTH,
                      "the call's arguments", error);
  if (*args == NULL)
    return FALSE;
  *function = g_strndup ((const char *) data, name_end - 1);
  return TRUE;

bad:
  g_set_error_literal (error, MITOGEN_ERROR, MITOGEN_ERROR_PROTOCOL,
                       "undecodable call request: its function name is malformed");
  return FALSE;
}

gboolean
_mitogen_envelope_split_call (GVariant  *request,
                              char     **function,
                              GVariant **args,
                              GError   **error)
{
  g_autoptr(GBytes) unaligned = g_variant_get_data_as_bytes (request);
  g_autoptr(GBytes) bytes = aligned_bytes (unaligned);

  g_return_val_if_fail (g_variant_is_of_type (request, G_VARIANT_TYPE ("(sv)")), FALSE);
  return split_call (bytes, 0, g_bytes_get_size (bytes), function, args, error);
}

gboolean
_mitogen_envelope_decode_call (GBytes    *unaligned,
                               gboolean  *is_call,
                               char     **function,
                               GVariant **args,
                               GError   **error)
{
  g_autoptr(GBytes) data = aligned_bytes (unaligned);
  gsize size;
  const guint8 *bytes = g_bytes_get_data (data, &size);
  const gsize tails = CALL_TAIL_LEN + BOX_TAIL_LEN;

  *is_call = size >= HEAD_LEN + tails && bytes[0] == 0 &&
             memcmp (bytes + size - tails, CALL_TAIL BOX_TAIL, tails) == 0;
  if (!*is_call)
    return FALSE;
  return split_call (data, HEAD_LEN, size - tails, function, args, error);
}
