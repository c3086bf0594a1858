/* mitogen-serializer.c: the interface every serializer implements.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "mitogen-private.h"

/**
 * MitogenSerializer:
 *
 * Turns the #GVariant body of a message into bytes and back. Serializers
 * are plugins registered on the %MITOGEN_SERIALIZER_EXTENSION_POINT_NAME
 * extension point; a stream uses one for its whole life.
 */
G_DEFINE_INTERFACE (MitogenSerializer, mitogen_serializer, G_TYPE_OBJECT)

static void
mitogen_serializer_default_init (MitogenSerializerInterface *iface)
{
}

/**
 * mitogen_serializer_serialize:
 * @self: a serializer
 * @value: the value to encode
 * @error: return location for an error
 *
 * Encodes @value into bytes a peer using the same serializer can decode.
 *
 * Returns: (transfer full): the encoded bytes, or %NULL with @error set
 */
GBytes *
mitogen_serializer_serialize (MitogenSerializer  *self,
                              GVariant           *value,
                              GError            **error)
{
  MitogenSerializerInterface *iface;

  g_return_val_if_fail (MITOGEN_IS_SERIALIZER (self), NULL);
  g_return_val_if_fail (value != NULL, NULL);

  iface = MITOGEN_SERIALIZER_GET_IFACE (self);
  if (iface->serialize == NULL)
    {
      g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_FAILED,
                   "serializer %s does not implement serialize", G_OBJECT_TYPE_NAME (self));
      return NULL;
    }
  return iface->serialize (self, value, error);
}

/**
 * mitogen_serializer_deserialize:
 * @self: a serializer
 * @data: bytes from a peer; untrusted
 * @error: return location for an error
 *
 * Decodes bytes produced by mitogen_serializer_serialize() of the same
 * serializer, checking them: the data comes from another process.
 *
 * Returns: (transfer full): the decoded value, or %NULL with @error set
 *   (%MITOGEN_ERROR_PROTOCOL for undecodable data)
 */
GVariant *
mitogen_serializer_deserialize (MitogenSerializer  *self,
                                GBytes             *data,
                                GError            **error)
{
  MitogenSerializerInterface *iface;
  GError *local_error = NULL;
  GVariant *value;

  g_return_val_if_fail (MITOGEN_IS_SERIALIZER (self), NULL);
  g_return_val_if_fail (data != NULL, NULL);

  iface = MITOGEN_SERIALIZER_GET_IFACE (self);
  if (iface->deserialize == NULL)
    {
      g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_FAILED,
                   "serializer %s does not implement deserialize", G_OBJECT_TYPE_NAME (self));
      return NULL;
    }
  value = iface->deserialize (self, data, &local_error);
  if (value != NULL)
    return g_variant_take_ref (value);
  /* A serializer that fails must say why: callers act on the error. */
  if (local_error == NULL)
    g_set_error (&local_error, MITOGEN_ERROR, MITOGEN_ERROR_PROTOCOL,
                 "serializer %s could not decode %" G_GSIZE_FORMAT " bytes",
                 G_OBJECT_TYPE_NAME (self), g_bytes_get_size (data));
  g_propagate_error (error, local_error);
  return NULL;
}

/**
 * mitogen_serializer_serialize_chunks:
 * @self: a serializer
 * @value: the value to encode
 * @error: return location for an error
 *
 * Encodes @value as pieces whose concatenation is what
 * mitogen_serializer_serialize() returns. Serializers that can avoid
 * copying large values do; others give one piece.
 *
 * Returns: (transfer full) (element-type GBytes): the pieces, or %NULL with
 *   @error set
 */
GPtrArray *
mitogen_serializer_serialize_chunks (MitogenSerializer  *self,
                                     GVariant           *value,
                                     GError            **error)
{
  MitogenSerializerInterface *iface;
  GPtrArray *chunks = NULL;
  GError *local_error = NULL;
  GBytes *whole;

  g_return_val_if_fail (MITOGEN_IS_SERIALIZER (self), NULL);
  g_return_val_if_fail (value != NULL, NULL);

  iface = MITOGEN_SERIALIZER_GET_IFACE (self);
  if (iface->serialize_chunks != NULL)
    chunks = iface->serialize_chunks (self, value, &local_error);
  if (chunks != NULL || local_error != NULL)
    {
      if (local_error != NULL)
        g_propagate_error (error, local_error);
      return chunks;
    }
  whole = mitogen_serializer_serialize (self, value, error);
  if (whole == NULL)
    return NULL;
  chunks = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  g_ptr_array_add (chunks, whole);
  return chunks;
}
