/* mitogen-flood-module.c: a user module for test-flood. Run inside an
 * agent, it plays a child that floods a receiver of another context (its
 * master, through a middle context or not) with messages.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <string.h>

#include <gio/gio.h>

#include <mitogen/mitogen.h>

/* floodmod.send (u dst_id, u handle, t count, u size) → t sent: sends
 * @count messages `(t seq, ay payload)`, seq counting from 0 and the
 * payload @size bytes of (seq & 0xff), to @handle in context @dst_id, as
 * fast as the stream takes them. A sender blocks while its stream's queue
 * is full, so this finishes only once the receiving side reads. Cancelling
 * the call stops it before the next message. */
static GVariant *
floodmod_send (MitogenCall *call, GVariant *args, gpointer data, GError **error)
{
  MitogenRouter *router = mitogen_call_get_router (call);
  GCancellable *cancellable = mitogen_call_get_cancellable (call);
  guint32 dst_id, handle, size;
  guint64 count, seq;

  if (args == NULL || !g_variant_is_of_type (args, G_VARIANT_TYPE ("(uutu)")))
    {
      g_set_error_literal (error, MITOGEN_ERROR, MITOGEN_ERROR_CALL,
                           "floodmod.send takes (uutu)");
      return NULL;
    }
  g_variant_get (args, "(uutu)", &dst_id, &handle, &count, &size);

  for (seq = 0; seq < count; seq++)
    {
      g_autoptr(MitogenMessage) msg = NULL;
      GVariant *payload;
      guint8 *bytes;

      if (g_cancellable_is_cancelled (cancellable))
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED,
                       "floodmod.send was cancelled after %" G_GUINT64_FORMAT " messages", seq);
          return NULL;
        }
      bytes = g_malloc (MAX (size, 1));
      memset (bytes, seq & 0xff, size);
      payload = g_variant_new_from_data (G_VARIANT_TYPE_BYTESTRING, bytes, size, TRUE,
                                         g_free, bytes);
      msg = mitogen_message_new (dst_id, handle,
                                 g_variant_new ("(t@ay)", seq, payload));
      if (!mitogen_router_route (router, msg, error))
        return NULL;
    }
  return g_variant_new_uint64 (count);
}

static void
register_functions (void)
{
  mitogen_register_function ("floodmod.send", floodmod_send, NULL, NULL);
}

MITOGEN_DEFINE_MODULE (register_functions)
