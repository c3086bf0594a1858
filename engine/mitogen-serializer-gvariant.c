/* mitogen-serializer-gvariant.c: GVariant's own binary form, the default.
 *
 * A value travels as a "v" so that its type goes with it. Decoding never
 * trusts the bytes: GVariant reads untrusted serialized data safely.
 *
 * Built into the engine, not a plugin: every context needs it to read its
 * bootstrap's first reply, before it could fetch anything. The plugin
 * loader registers it as "gvariant" on the serializer extension point,
 * the same way a plugin registers itself.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "mitogen-private.h"
#include "mitogen-plugin-private.h"
#include "mitogen-envelope-private.h"

struct _MitogenSerializerGVariant
{
  GObject parent_instance;
};

static void mitogen_serializer_gvariant_iface_init (MitogenSerializerInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (MitogenSerializerGVariant, mitogen_serializer_gvariant, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (MITOGEN_TYPE_SERIALIZER,
                                                      mitogen_serializer_gvariant_iface_init))

/* The serialized form of a "v": the value's own bytes, a NUL, then its
 * type string. Written straight into one buffer: g_variant_store() lays a
 * value built as a tree out in place, with no intermediate GVariant. */
static GBytes *
gvariant_serialize (MitogenSerializer  *serializer,
                    GVariant           *value,
                    GError            **error)
{
  const char *type = g_variant_get_type_string (value);
  gsize type_len = strlen (type);
  gsize size = g_variant_get_size (value);
  guint8 *buf = g_malloc (size + 1 + type_len);

  g_variant_store (value, buf);
  buf[size] = '\0';
  memcpy (buf + size + 1, type, type_len);
  return g_bytes_new_take (buf, size + 1 + type_len);
}

/* Values at least this large are sent without copying them. */
#define CHUNK_MIN (64 * 1024)

/* A message body "(yv)" holding a large value X, boxed in a "v", lays out
 * as: the kind byte, padding to 8 (the alignment of the inner "v"), X's own
 * bytes, a NUL and X's type, then a NUL and "(yv)". X's bytes go out as
 * they are, with no copy. Anything else: declined, serialize() does it. */
static GPtrArray *
gvariant_serialize_chunks (MitogenSerializer  *serializer,
                           GVariant           *value,
                           GError            **error)
{
  g_autoptr(GVariant) kind = NULL;
  g_autoptr(GVariant) boxed = NULL;
  g_autoptr(GVariant) inner = NULL;

  /* Small messages, the common case, are declined before any work. */
  if (g_variant_get_size (value) < CHUNK_MIN ||
      !g_variant_is_of_type (value, G_VARIANT_TYPE ("(yv)")))
    return NULL;
  boxed = g_variant_get_child_value (value, 1);
  inner = g_variant_get_variant (boxed);
  if (g_variant_get_size (inner) < CHUNK_MIN)
    return NULL;
  kind = g_variant_get_child_value (value, 0);
  return _mitogen_envelope_encode_chunks (g_variant_get_byte (kind), inner);
}

static GVariant *
gvariant_deserialize (MitogenSerializer  *serializer,
                      GBytes             *data,
                      GError            **error)
{
  g_autoptr(GVariant) boxed = NULL;
  GVariant *value;

  /* No g_variant_is_normal_form() here: it walks every element (150 ms for
   * 8 MiB of bytes), and GVariant reads untrusted data safely without it:
   * a malformed part reads as its type's default value. A body whose type
   * string is broken comes out as "()", which the engine refuses. Nesting
   * needs no check of ours: GLib reads anything past its 128 levels
   * (MITOGEN_SERIALIZER_MAX_DEPTH, the box counted) as "()" too, without
   * recursing into it; test-serializer's depth test holds it to that. */
  if (g_bytes_get_size (data) == 0)
    {
      g_set_error_literal (error, MITOGEN_ERROR, MITOGEN_ERROR_PROTOCOL,
                           "undecodable message data: it is empty");
      return NULL;
    }
  boxed = g_variant_ref_sink (g_variant_new_from_bytes (G_VARIANT_TYPE_VARIANT, data, FALSE));
  value = g_variant_get_variant (boxed);
  if (g_variant_is_of_type (value, G_VARIANT_TYPE_UNIT))
    {
      g_variant_unref (value);
      g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_PROTOCOL,
                   "undecodable message data (%" G_GSIZE_FORMAT " bytes do not hold a "
                   "GVariant with its type)", g_bytes_get_size (data));
      return NULL;
    }
  return value;
}

static void
mitogen_serializer_gvariant_iface_init (MitogenSerializerInterface *iface)
{
  iface->serialize = gvariant_serialize;
  iface->deserialize = gvariant_deserialize;
  iface->serialize_chunks = gvariant_serialize_chunks;
}

static void
mitogen_serializer_gvariant_class_init (MitogenSerializerGVariantClass *klass)
{
}

static void
mitogen_serializer_gvariant_init (MitogenSerializerGVariant *self)
{
}
