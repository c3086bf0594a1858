/* mitogen-message.c: one frame of the wire protocol.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "mitogen-message-private.h"
#include "mitogen-envelope-private.h"
#include "mitogen-plugin-private.h"

G_DEFINE_BOXED_TYPE (MitogenMessage, mitogen_message,
                     mitogen_message_ref, mitogen_message_unref)

static inline void
put_u16 (guint8 *p, guint16 v)
{
  p[0] = v >> 8;
  p[1] = v & 0xff;
}

static inline void
put_u32 (guint8 *p, guint32 v)
{
  p[0] = v >> 24;
  p[1] = (v >> 16) & 0xff;
  p[2] = (v >> 8) & 0xff;
  p[3] = v & 0xff;
}

static inline guint32
get_u32 (const guint8 *p)
{
  return ((guint32) p[0] << 24) | ((guint32) p[1] << 16) |
         ((guint32) p[2] << 8) | (guint32) p[3];
}

void
_mitogen_frame_header_encode (guint8                    out[MITOGEN_HEADER_SIZE],
                              const MitogenFrameHeader *hdr)
{
  put_u16 (out, MITOGEN_MAGIC);
  put_u32 (out + 2, hdr->dst_id);
  put_u32 (out + 6, hdr->src_id);
  put_u32 (out + 10, hdr->auth_id);
  put_u32 (out + 14, hdr->handle);
  put_u32 (out + 18, hdr->reply_to);
  put_u32 (out + 22, hdr->length);
}

gboolean
_mitogen_frame_header_decode (const guint8        *in,
                              gsize                max_length,
                              MitogenFrameHeader  *hdr,
                              GError             **error)
{
  guint16 magic = ((guint16) in[0] << 8) | in[1];

  if (magic != MITOGEN_MAGIC)
    {
      g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_PROTOCOL,
                   "bad frame magic 0x%04x (expected 0x%04x)", magic, MITOGEN_MAGIC);
      return FALSE;
    }
  hdr->dst_id = get_u32 (in + 2);
  hdr->src_id = get_u32 (in + 6);
  hdr->auth_id = get_u32 (in + 10);
  hdr->handle = get_u32 (in + 14);
  hdr->reply_to = get_u32 (in + 18);
  hdr->length = get_u32 (in + 22);
  if (hdr->length > max_length)
    {
      g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_PROTOCOL,
                   "frame of %u bytes exceeds the limit of %" G_GSIZE_FORMAT " bytes",
                   hdr->length, max_length);
      return FALSE;
    }
  return TRUE;
}

static MitogenMessage *
message_alloc (guint32 dst_id,
               guint32 handle)
{
  MitogenMessage *msg = g_new0 (MitogenMessage, 1);

  g_atomic_ref_count_init (&msg->ref_count);
  msg->dst_id = dst_id;
  msg->handle = handle;
  return msg;
}

MitogenMessage *
_mitogen_message_new_body (guint32          dst_id,
                           guint32          handle,
                           MitogenBodyKind  kind,
                           GVariant        *inner)
{
  MitogenMessage *msg = message_alloc (dst_id, handle);

  msg->kind = kind;
  msg->value = g_variant_ref_sink (inner);
  if (kind == MITOGEN_BODY_DEAD)
    msg->reply_to = MITOGEN_IS_DEAD;
  return msg;
}

MitogenMessage *
_mitogen_message_new_call (guint32     dst_id,
                           guint32     handle,
                           const char *function,
                           GVariant   *args)
{
  MitogenMessage *msg = message_alloc (dst_id, handle);

  msg->kind = MITOGEN_BODY_VALUE;
  msg->call_function = g_strdup (function);
  msg->call_args = args != NULL ? g_variant_ref_sink (args) : _mitogen_unit ();
  return msg;
}

MitogenMessage *
_mitogen_message_new_from_frame (const MitogenFrameHeader *hdr,
                                 GBytes                   *data,
                                 MitogenSerializer        *serializer)
{
  MitogenMessage *msg = message_alloc (hdr->dst_id, hdr->handle);

  msg->src_id = hdr->src_id;
  msg->auth_id = hdr->auth_id;
  msg->reply_to = hdr->reply_to;
  msg->data = g_bytes_ref (data);
  msg->serializer = serializer != NULL ? g_object_ref (serializer) : NULL;
  msg->src_fixed = TRUE;
  return msg;
}

MitogenMessage *
_mitogen_message_new_raw (guint32  dst_id,
                          guint32  src_id,
                          guint32  handle,
                          GBytes  *data)
{
  MitogenMessage *msg = message_alloc (dst_id, handle);

  msg->src_id = src_id;
  msg->auth_id = src_id;
  msg->data = g_bytes_ref (data);
  msg->src_fixed = TRUE;
  return msg;
}

/**
 * mitogen_message_new:
 * @dst_id: the context to deliver to
 * @handle: the handle to deliver to
 * @value: (nullable): the value to carry; %NULL carries the unit tuple `()`
 *
 * Creates a message carrying @value. The router fills in the source when
 * the message is sent.
 *
 * Returns: (transfer full): a new message
 */
MitogenMessage *
mitogen_message_new (guint32   dst_id,
                     guint32   handle,
                     GVariant *value)
{
  MitogenMessage *msg;

  if (value == NULL)
    {
      g_autoptr(GVariant) unit = _mitogen_unit ();

      return _mitogen_message_new_body (dst_id, handle, MITOGEN_BODY_VALUE, unit);
    }
  g_variant_ref_sink (value);
  msg = _mitogen_message_new_body (dst_id, handle, MITOGEN_BODY_VALUE, value);
  g_variant_unref (value);
  return msg;
}

/**
 * mitogen_message_new_dead:
 * @dst_id: the context to deliver to
 * @handle: the handle to deliver to
 * @reason: why the message is dead
 *
 * Creates a dead message: it tells the receiver at @handle that nothing
 * more will come, and why. Its `reply_to` is %MITOGEN_IS_DEAD.
 *
 * Returns: (transfer full): a new message
 */
MitogenMessage *
mitogen_message_new_dead (guint32     dst_id,
                          guint32     handle,
                          const char *reason)
{
  g_return_val_if_fail (reason != NULL, NULL);

  return _mitogen_message_new_body (dst_id, handle, MITOGEN_BODY_DEAD,
                                    g_variant_new_string (reason));
}

/**
 * mitogen_message_new_error:
 * @dst_id: the context to deliver to
 * @handle: the handle to deliver to
 * @error: the error to carry
 *
 * Creates a message that carries an error; mitogen_message_unpack() of it
 * fails with the error's domain, code and text (see mitogen_message_unpack()).
 *
 * Returns: (transfer full): a new message
 */
MitogenMessage *
mitogen_message_new_error (guint32       dst_id,
                           guint32       handle,
                           const GError *error)
{
  g_return_val_if_fail (error != NULL, NULL);

  return _mitogen_message_new_body (dst_id, handle, MITOGEN_BODY_ERROR,
                                    _mitogen_error_record_new (error, NULL, NULL));
}

/**
 * mitogen_message_ref:
 * @msg: a message
 *
 * Takes a reference on @msg. The count is atomic: references may be
 * taken and dropped in any thread.
 *
 * Returns: (transfer full): @msg
 */
MitogenMessage *
mitogen_message_ref (MitogenMessage *msg)
{
  g_return_val_if_fail (msg != NULL, NULL);
  g_atomic_ref_count_inc (&msg->ref_count);
  return msg;
}

/**
 * mitogen_message_unref:
 * @msg: (transfer full): a message
 *
 * Drops a reference; the last one frees the message.
 */
void
mitogen_message_unref (MitogenMessage *msg)
{
  g_return_if_fail (msg != NULL);
  if (!g_atomic_ref_count_dec (&msg->ref_count))
    return;
  g_clear_pointer (&msg->value, g_variant_unref);
  g_free (msg->call_function);
  g_clear_pointer (&msg->call_args, g_variant_unref);
  g_clear_pointer (&msg->data, g_bytes_unref);
  g_clear_object (&msg->serializer);
  /* After the data is freed: the stream reads on only once it really is. */
  _mitogen_message_discharge (msg);
  g_clear_pointer (&msg->flow, _mitogen_flow_unref);
  g_free (msg);
}

void
_mitogen_message_hold_charge (MitogenMessage *msg,
                              MitogenFlow    *flow,
                              gsize           charge)
{
  g_assert (msg->flow == NULL);
  msg->flow = _mitogen_flow_ref (flow);
  g_atomic_pointer_set (&msg->charge, charge);
}

void
_mitogen_message_discharge (MitogenMessage *msg)
{
  gsize charge;

  if (msg->flow == NULL)
    return;
  charge = (gsize) g_atomic_pointer_exchange (&msg->charge, 0);
  _mitogen_flow_release (msg->flow, charge);
}

/**
 * mitogen_message_get_dst_id:
 * @msg: a message
 *
 * Gets the id of the context the message is addressed to.
 *
 * Returns: the id of the context the message is addressed to
 */
guint32
mitogen_message_get_dst_id (MitogenMessage *msg)
{
  return msg->dst_id;
}

/**
 * mitogen_message_get_src_id:
 * @msg: a message
 *
 * Gets the id of the context that sent the message.
 *
 * Returns: the id of the context that sent the message
 */
guint32
mitogen_message_get_src_id (MitogenMessage *msg)
{
  return msg->src_id;
}

/**
 * mitogen_message_get_auth_id:
 * @msg: a message
 *
 * Gets the id of the context on whose authority the message travels. It
 * differs from the source id when a message is forwarded on behalf of
 * another context; functions that check permissions should look at this
 * one.
 *
 * Returns: the id of the context on whose authority the message travels
 */
guint32
mitogen_message_get_auth_id (MitogenMessage *msg)
{
  return msg->auth_id;
}

/**
 * mitogen_message_get_handle:
 * @msg: a message
 *
 * Gets the handle the message is addressed to in its destination context.
 *
 * Returns: the handle the message is addressed to
 */
guint32
mitogen_message_get_handle (MitogenMessage *msg)
{
  return msg->handle;
}

/**
 * mitogen_message_get_reply_to:
 * @msg: a message
 *
 * Gets the handle where a reply to this message should be sent.
 *
 * Returns: the handle a reply should go to, 0 for none, or
 *   %MITOGEN_IS_DEAD for a dead message
 */
guint32
mitogen_message_get_reply_to (MitogenMessage *msg)
{
  return msg->reply_to;
}

/**
 * mitogen_message_set_reply_to:
 * @msg: a message not yet sent
 * @reply_to: the handle replies should go to
 *
 * Sets where replies to @msg should go.
 */
void
mitogen_message_set_reply_to (MitogenMessage *msg,
                              guint32         reply_to)
{
  msg->reply_to = reply_to;
}

/**
 * mitogen_message_is_dead:
 * @msg: a message
 *
 * Tells whether @msg is a dead message: the notice that the receiver, the
 * context or the route it was waiting on is gone.
 *
 * Returns: %TRUE when @msg is a dead message
 */
gboolean
mitogen_message_is_dead (MitogenMessage *msg)
{
  return msg->reply_to == MITOGEN_IS_DEAD;
}

/**
 * mitogen_message_get_size:
 * @msg: a message
 *
 * Gets the size of the message as encoded on the wire. Messages built
 * locally and never sent have no encoded form yet.
 *
 * Returns: the size of the encoded data when the message arrived from a
 *   stream or was sent on one, else 0
 */
gsize
mitogen_message_get_size (MitogenMessage *msg)
{
  GBytes *data = g_atomic_pointer_get (&msg->data);

  return data != NULL ? g_bytes_get_size (data) : 0;
}

static gboolean
is_gvariant (MitogenSerializer *serializer)
{
  return MITOGEN_IS_SERIALIZER_GVARIANT (serializer);
}

/* A body "(yv)" from another serializer: its kind and value. */
static gboolean
split_body (GVariant   *body,
            gint       *kind,
            GVariant  **value,
            GError    **error)
{
  g_autoptr(GVariant) kind_v = NULL;
  g_autoptr(GVariant) boxed = NULL;

  if (!g_variant_is_of_type (body, G_VARIANT_TYPE ("(yv)")))
    {
      g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_PROTOCOL,
                   "message body has type '%s', expected '(yv)'",
                   g_variant_get_type_string (body));
      return FALSE;
    }
  kind_v = g_variant_get_child_value (body, 0);
  boxed = g_variant_get_child_value (body, 1);
  *kind = g_variant_get_byte (kind_v);
  *value = g_variant_get_variant (boxed);
  return TRUE;
}

static GVariant *
decode_value (MitogenMessage  *msg,
              gint            *kind,
              GError         **error)
{
  g_autoptr(GVariant) body = NULL;
  GVariant *value = NULL;
  guint8 byte;

  if (msg->call_function != NULL)
    {
      GVariant *children[2] = { g_variant_new_string (msg->call_function),
                                g_variant_new_variant (msg->call_args) };

      *kind = MITOGEN_BODY_VALUE;
      return g_variant_ref_sink (g_variant_new_tuple (children, 2));
    }
  if (msg->serializer == NULL)
    {
      g_set_error_literal (error, MITOGEN_ERROR, MITOGEN_ERROR_PROTOCOL,
                           "message carries no decodable body");
      return NULL;
    }
  if (is_gvariant (msg->serializer))
    {
      if (!_mitogen_envelope_decode (msg->data, &byte, &value, error))
        return NULL;
      *kind = byte;
      return value;
    }
  body = mitogen_serializer_deserialize (msg->serializer, msg->data, error);
  if (body == NULL || !split_body (body, kind, &value, error))
    return NULL;
  return value;
}

/* The body's value and kind, decoded on demand. (transfer none) */
static GVariant *
get_value (MitogenMessage  *msg,
           gint            *kind,
           GError         **error)
{
  GVariant *value = g_atomic_pointer_get (&msg->value);
  gint decoded_kind = MITOGEN_BODY_VALUE;
  GVariant *decoded;

  if (value == NULL)
    {
      decoded = decode_value (msg, &decoded_kind, error);
      if (decoded == NULL)
        return NULL;
      /* Two threads may decode at once: both store the same kind. */
      g_atomic_int_set (&msg->kind, decoded_kind);
      if (!g_atomic_pointer_compare_and_exchange (&msg->value, NULL, decoded))
        g_variant_unref (decoded);
      value = g_atomic_pointer_get (&msg->value);
    }
  *kind = g_atomic_int_get (&msg->kind);
  return value;
}

gboolean
_mitogen_message_decode (MitogenMessage  *msg,
                         GError         **error)
{
  gboolean is_call = FALSE;
  gint kind;

  /* A call is read straight into its function and arguments, without the
   * "(sv)" value between: the agent needs nothing else. */
  if (msg->value == NULL && msg->call_function == NULL &&
      msg->serializer != NULL && is_gvariant (msg->serializer))
    {
      if (_mitogen_envelope_decode_call (msg->data, &is_call, &msg->call_function,
                                         &msg->call_args, error))
        return TRUE;
      if (is_call)
        return FALSE;
    }
  return get_value (msg, &kind, error) != NULL;
}

gboolean
_mitogen_message_get_call (MitogenMessage  *msg,
                           char           **function,
                           GVariant       **args,
                           GError         **error)
{
  g_autoptr(GVariant) request = NULL;

  if (msg->call_function != NULL)
    {
      *function = g_strdup (msg->call_function);
      *args = g_variant_ref (msg->call_args);
      return TRUE;
    }
  request = mitogen_message_unpack (msg, error);
  if (request == NULL)
    return FALSE;
  if (!g_variant_is_of_type (request, G_VARIANT_TYPE ("(sv)")))
    {
      g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_PROTOCOL,
                   "a call request must be of type '(sv)', not '%s'",
                   g_variant_get_type_string (request));
      return FALSE;
    }
  return _mitogen_envelope_split_call (request, function, args, error);
}

/* The body as a "(yv)" value, for serializers other than GVariant's. */
static GVariant *
build_body (MitogenMessage  *msg,
            GError         **error)
{
  gint kind;
  GVariant *value = get_value (msg, &kind, error);
  GVariant *children[2];

  if (value == NULL)
    return NULL;
  children[0] = g_variant_new_byte (kind);
  children[1] = g_variant_new_variant (value);
  return g_variant_ref_sink (g_variant_new_tuple (children, 2));
}

static GBytes *
encode_body (MitogenMessage     *msg,
             MitogenSerializer  *serializer,
             GError            **error)
{
  g_autoptr(GVariant) body = NULL;
  GVariant *value;
  gint kind;

  if (is_gvariant (serializer))
    {
      if (msg->call_function != NULL)
        return _mitogen_envelope_encode_call (msg->call_function, msg->call_args);
      value = get_value (msg, &kind, error);
      return value != NULL ? _mitogen_envelope_encode (kind, value) : NULL;
    }
  body = build_body (msg, error);
  return body != NULL ? mitogen_serializer_serialize (serializer, body, error) : NULL;
}

GBytes *
_mitogen_message_encode (MitogenMessage     *msg,
                         MitogenSerializer  *serializer,
                         GError            **error)
{
  GBytes *data = g_atomic_pointer_get (&msg->data);
  GBytes *encoded;

  /* Raw frames and frames already in this serializer's form go as they are. */
  if (data != NULL &&
      (msg->serializer == serializer || (msg->serializer == NULL && msg->value == NULL)))
    return g_bytes_ref (data);

  encoded = encode_body (msg, serializer, error);
  if (encoded == NULL)
    return NULL;
  if (msg->sensitive)
    encoded = _mitogen_bytes_wipe_on_free (encoded);
  if (msg->serializer == NULL &&
      g_atomic_pointer_compare_and_exchange (&msg->data, NULL, encoded))
    {
      msg->serializer = g_object_ref (serializer);
      return g_bytes_ref (encoded);
    }
  return encoded;
}

/**
 * mitogen_message_unpack:
 * @msg: a message
 * @error: return location for an error
 *
 * Decodes the message's value. A dead message fails with
 * %MITOGEN_ERROR_CHANNEL and its reason. An error raised by a remote
 * function fails with that error's own domain and code (a %G_IO_ERROR_NOT_FOUND
 * raised in a context is %G_IO_ERROR_NOT_FOUND here) and the message
 * "context NAME: FUNCTION: TEXT". A record without a domain, or with a
 * domain this process does not know once it has learnt 256 from the wire,
 * fails with %MITOGEN_ERROR_CALL; a record with a garbage domain or code,
 * and undecodable data, fail with %MITOGEN_ERROR_PROTOCOL.
 *
 * Returns: (transfer full): the value, or %NULL with @error set
 */
GVariant *
mitogen_message_unpack (MitogenMessage  *msg,
                        GError         **error)
{
  GVariant *inner;
  gint kind;

  g_return_val_if_fail (msg != NULL, NULL);

  inner = get_value (msg, &kind, error);
  if (inner == NULL)
    return NULL;

  switch (kind)
    {
    case MITOGEN_BODY_VALUE:
      return g_variant_ref (inner);
    case MITOGEN_BODY_ERROR:
      if (!g_variant_is_of_type (inner, G_VARIANT_TYPE_VARDICT))
        break;
      _mitogen_error_record_to_error (error, inner);
      return NULL;
    case MITOGEN_BODY_DEAD:
      if (!g_variant_is_of_type (inner, G_VARIANT_TYPE_STRING))
        break;
      g_set_error_literal (error, MITOGEN_ERROR, MITOGEN_ERROR_CHANNEL,
                           g_variant_get_string (inner, NULL));
      return NULL;
    default:
      break;
    }
  g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_PROTOCOL,
               "malformed message body (kind %u, type '%s')",
               kind, g_variant_get_type_string (inner));
  return NULL;
}

MitogenMessage *
_mitogen_message_make_dead_reply (MitogenMessage *msg,
                                  const char     *reason)
{
  MitogenMessage *reply;

  if (msg->reply_to == 0 || msg->reply_to == MITOGEN_IS_DEAD)
    return NULL;
  reply = mitogen_message_new_dead (msg->src_id, msg->reply_to, reason);
  return reply;
}

MitogenMessage *
_mitogen_message_make_reply (MitogenMessage *msg,
                             GVariant       *value)
{
  return mitogen_message_new (msg->src_id, msg->reply_to, value);
}

MitogenMessage *
_mitogen_message_make_error_reply (MitogenMessage *msg,
                                   const GError   *error,
                                   const char     *context_name,
                                   const char     *function)
{
  return _mitogen_message_new_body (msg->src_id, msg->reply_to, MITOGEN_BODY_ERROR,
                                    _mitogen_error_record_new (error, context_name, function));
}

int
_mitogen_message_get_remote_code (MitogenMessage *msg,
                                  int             fallback)
{
  gint kind;
  GVariant *record = get_value (msg, &kind, NULL);
  GQuark domain = 0;
  gint code = 0;

  if (record == NULL ||
      kind != MITOGEN_BODY_ERROR ||
      !_mitogen_error_record_get_code (record, &domain, &code) ||
      domain != MITOGEN_ERROR || code <= MITOGEN_ERROR_CALL)
    return fallback;
  return code;
}

/* Below this, pieces are not worth their bookkeeping. */
#define CHUNKED_MIN (64 * 1024)

GPtrArray *
_mitogen_message_encode_chunks (MitogenMessage     *msg,
                                MitogenSerializer  *serializer,
                                GError            **error)
{
  GBytes *data = g_atomic_pointer_get (&msg->data);
  GPtrArray *chunks;
  GBytes *whole;

  /* A large message built here and not encoded yet may go out in pieces
   * that share the value's memory; anything else is one piece. */
  if (data == NULL && msg->value != NULL && g_variant_get_size (msg->value) >= CHUNKED_MIN)
    {
      g_autoptr(GVariant) body = NULL;

      if (is_gvariant (serializer))
        return _mitogen_envelope_encode_chunks (msg->kind, msg->value);
      body = build_body (msg, error);
      return body != NULL ? mitogen_serializer_serialize_chunks (serializer, body, error) : NULL;
    }

  whole = _mitogen_message_encode (msg, serializer, error);
  if (whole == NULL)
    return NULL;
  chunks = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  g_ptr_array_add (chunks, whole);
  return chunks;
}
