/* mitogen-serializer.h
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(MITOGEN_INSIDE) && !defined(MITOGEN_COMPILATION)
# error "Only <mitogen/mitogen.h> can be included directly."
#endif

#include <gio/gio.h>
#include "mitogen-version.h"
#include "mitogen-types.h"

G_BEGIN_DECLS

/**
 * MITOGEN_SERIALIZER_EXTENSION_POINT_NAME:
 *
 * The GIO extension point serializers implement.
 */
#define MITOGEN_SERIALIZER_EXTENSION_POINT_NAME "mitogen-serializer"

/**
 * MITOGEN_SERIALIZER_MAX_DEPTH:
 *
 * How deeply containers and variants may nest in a message body, the
 * serializer's own outer variant included: 128 levels, the bound GLib
 * applies to serialized GVariant data (G_VARIANT_MAX_RECURSION_DEPTH).
 * Serializers refuse deeper values with %MITOGEN_ERROR_PROTOCOL (or, for
 * GVariant's binary form, GLib reads the part beyond the bound as "()")
 * rather than recurse without limit on what a peer sent.
 */
#define MITOGEN_SERIALIZER_MAX_DEPTH 128

#define MITOGEN_TYPE_SERIALIZER (mitogen_serializer_get_type ())

MITOGEN_AVAILABLE_IN_ALL
G_DECLARE_INTERFACE (MitogenSerializer, mitogen_serializer, MITOGEN, SERIALIZER, GObject)

/**
 * MitogenSerializerInterface:
 * @g_iface: the parent interface
 * @serialize: turn a #GVariant into bytes
 * @deserialize: turn bytes back into a #GVariant; the bytes are untrusted
 * @serialize_chunks: optional: the same bytes as @serialize, as pieces that
 *   may share memory with @value (so a large byte array is written out
 *   without a copy); return %NULL without an error to decline
 *
 * The virtual methods of a serializer. All may be called from any thread.
 */
struct _MitogenSerializerInterface
{
  GTypeInterface g_iface;

  GBytes   *(*serialize)   (MitogenSerializer  *self,
                            GVariant           *value,
                            GError            **error);
  GVariant *(*deserialize) (MitogenSerializer  *self,
                            GBytes             *data,
                            GError            **error);
  GPtrArray *(*serialize_chunks) (MitogenSerializer  *self,
                                  GVariant           *value,
                                  GError            **error);

  /*< private >*/
  gpointer padding[7];
};

MITOGEN_AVAILABLE_IN_ALL
GBytes   *mitogen_serializer_serialize   (MitogenSerializer  *self,
                                          GVariant           *value,
                                          GError            **error);
MITOGEN_AVAILABLE_IN_ALL
GPtrArray *mitogen_serializer_serialize_chunks (MitogenSerializer  *self,
                                                GVariant           *value,
                                                GError            **error);
MITOGEN_AVAILABLE_IN_ALL
GVariant *mitogen_serializer_deserialize (MitogenSerializer  *self,
                                          GBytes             *data,
                                          GError            **error);

G_END_DECLS
