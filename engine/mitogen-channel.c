/* mitogen-channel.c: a two-way conversation between two contexts.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "mitogen-private.h"

/**
 * MitogenChannel:
 *
 * A receiver on a local handle paired with a sender to a handle in another
 * context: each side creates one, naming the other's handle. Closing a
 * channel tells the other side (its next get fails with
 * %MITOGEN_ERROR_CHANNEL) and stops this side listening.
 */
struct _MitogenChannel
{
  GObject          parent_instance;

  MitogenReceiver *receiver;  /* owned; immutable */
  MitogenSender   *sender;    /* owned; immutable */
};

G_DEFINE_FINAL_TYPE (MitogenChannel, mitogen_channel, G_TYPE_OBJECT)

static void
mitogen_channel_finalize (GObject *object)
{
  MitogenChannel *self = MITOGEN_CHANNEL (object);

  g_clear_object (&self->receiver);
  g_clear_object (&self->sender);
  G_OBJECT_CLASS (mitogen_channel_parent_class)->finalize (object);
}

static void
mitogen_channel_class_init (MitogenChannelClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = mitogen_channel_finalize;
}

static void
mitogen_channel_init (MitogenChannel *self)
{
}

/**
 * mitogen_channel_new:
 * @router: the local router
 * @context: the context at the other end
 * @dst_handle: the handle the other end listens on
 * @handle: the local handle to listen on, or 0 to allocate one
 *
 * Creates one end of a channel: a receiver on @handle in this context and
 * a sender to @dst_handle in @context. The other side makes the mirror
 * image, naming this end's handle as its destination.
 *
 * Returns: (transfer full): a new channel
 */
MitogenChannel *
mitogen_channel_new (MitogenRouter  *router,
                     MitogenContext *context,
                     guint32         dst_handle,
                     guint32         handle)
{
  MitogenChannel *self;

  g_return_val_if_fail (MITOGEN_IS_ROUTER (router), NULL);
  g_return_val_if_fail (MITOGEN_IS_CONTEXT (context), NULL);

  self = g_object_new (MITOGEN_TYPE_CHANNEL, NULL);
  self->receiver = mitogen_receiver_new_full (router, handle, context);
  self->sender = mitogen_sender_new (context, dst_handle);
  return self;
}

/**
 * mitogen_channel_get_receiver:
 * @channel: a channel
 *
 * Gets the receiver this end reads from, for example to add it to a
 * #MitogenSelect.
 *
 * Returns: (transfer none): the local end
 */
MitogenReceiver *
mitogen_channel_get_receiver (MitogenChannel *channel)
{
  g_return_val_if_fail (MITOGEN_IS_CHANNEL (channel), NULL);
  return channel->receiver;
}

/**
 * mitogen_channel_get_sender:
 * @channel: a channel
 *
 * Gets the sender that writes to the other end.
 *
 * Returns: (transfer none): the remote end
 */
MitogenSender *
mitogen_channel_get_sender (MitogenChannel *channel)
{
  g_return_val_if_fail (MITOGEN_IS_CHANNEL (channel), NULL);
  return channel->sender;
}

/**
 * mitogen_channel_get_handle:
 * @channel: a channel
 *
 * Gets the handle this end listens on. Pass it to the other side so that
 * it can make its own end of the channel.
 *
 * Returns: the local handle, which the other end sends to
 */
guint32
mitogen_channel_get_handle (MitogenChannel *channel)
{
  g_return_val_if_fail (MITOGEN_IS_CHANNEL (channel), 0);
  return mitogen_receiver_get_handle (channel->receiver);
}

/**
 * mitogen_channel_send:
 * @channel: a channel
 * @value: (nullable): the value to send
 * @error: return location for an error
 *
 * Sends @value to the other end without waiting for it to be read. A %NULL
 * @value sends the unit value `()`.
 *
 * Returns: %TRUE when the value was passed on
 */
gboolean
mitogen_channel_send (MitogenChannel  *channel,
                      GVariant        *value,
                      GError         **error)
{
  g_return_val_if_fail (MITOGEN_IS_CHANNEL (channel), FALSE);
  return mitogen_sender_send (channel->sender, value, error);
}

/**
 * mitogen_channel_get:
 * @channel: a channel
 * @timeout_msec: how long to wait: -1 forever
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for an error
 *
 * Waits for the next value from the other end.
 *
 * Returns: (transfer full): the value, or %NULL with @error set
 */
GVariant *
mitogen_channel_get (MitogenChannel  *channel,
                     int              timeout_msec,
                     GCancellable    *cancellable,
                     GError         **error)
{
  g_autoptr(MitogenMessage) msg = NULL;

  g_return_val_if_fail (MITOGEN_IS_CHANNEL (channel), NULL);

  msg = mitogen_receiver_get (channel->receiver, timeout_msec, cancellable, error);
  return msg != NULL ? mitogen_message_unpack (msg, error) : NULL;
}

static void
channel_got_message (GObject      *source,
                     GAsyncResult *result,
                     gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  g_autoptr(MitogenMessage) msg = NULL;
  GError *error = NULL;
  GVariant *value = NULL;

  msg = mitogen_receiver_get_finish (MITOGEN_RECEIVER (source), result, &error);
  if (msg != NULL)
    value = mitogen_message_unpack (msg, &error);
  if (value != NULL)
    g_task_return_pointer (task, value, (GDestroyNotify) g_variant_unref);
  else
    g_task_return_error (task, error);
}

/**
 * mitogen_channel_get_async:
 * @channel: a channel
 * @timeout_msec: how long to wait: -1 forever
 * @cancellable: (nullable): a #GCancellable
 * @callback: called in the caller's thread-default main context
 * @user_data: data for @callback
 *
 * Waits for the next value without blocking.
 */
void
mitogen_channel_get_async (MitogenChannel      *channel,
                           int                  timeout_msec,
                           GCancellable        *cancellable,
                           GAsyncReadyCallback  callback,
                           gpointer             user_data)
{
  GTask *task;

  g_return_if_fail (MITOGEN_IS_CHANNEL (channel));

  task = g_task_new (channel, cancellable, callback, user_data);
  g_task_set_source_tag (task, mitogen_channel_get_async);
  mitogen_receiver_get_async (channel->receiver, timeout_msec, cancellable,
                              channel_got_message, task);
}

/**
 * mitogen_channel_get_finish:
 * @channel: a channel
 * @result: the result given to the callback
 * @error: return location for an error
 *
 * Finishes a mitogen_channel_get_async() call.
 *
 * Returns: (transfer full): the value, or %NULL with @error set
 */
GVariant *
mitogen_channel_get_finish (MitogenChannel  *channel,
                            GAsyncResult    *result,
                            GError         **error)
{
  g_return_val_if_fail (g_task_is_valid (result, channel), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

/**
 * mitogen_channel_close:
 * @channel: a channel
 *
 * Tells the other end that nothing more will come and stops listening.
 */
void
mitogen_channel_close (MitogenChannel *channel)
{
  g_return_if_fail (MITOGEN_IS_CHANNEL (channel));

  mitogen_sender_close (channel->sender);
  mitogen_receiver_close (channel->receiver);
}
