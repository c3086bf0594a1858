/* mitogen-receiver.c: messages arriving at one handle.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "mitogen-latch-private.h"
#include "mitogen-message-private.h"
#include "mitogen-receiver-private.h"

/**
 * MitogenReceiver:
 *
 * Queues the messages sent to one handle of this context, for threads that
 * block in mitogen_receiver_get() or wait with mitogen_receiver_get_async().
 * A receiver is closed when it is finalized; a message that arrives after
 * that is answered with a dead message.
 */
struct _MitogenReceiver
{
  GObject        parent_instance;

  MitogenRouter *router;   /* owned; immutable */
  guint32        handle;   /* immutable */
  MitogenLatch  *latch;    /* owned; the router's handler holds another ref */
  gint           closed;   /* atomic */
};

G_DEFINE_FINAL_TYPE (MitogenReceiver, mitogen_receiver, G_TYPE_OBJECT)

static void
mitogen_receiver_finalize (GObject *object)
{
  MitogenReceiver *self = MITOGEN_RECEIVER (object);

  mitogen_receiver_close (self);
  _mitogen_latch_unref (self->latch);
  g_clear_object (&self->router);

  G_OBJECT_CLASS (mitogen_receiver_parent_class)->finalize (object);
}

static void
mitogen_receiver_class_init (MitogenReceiverClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = mitogen_receiver_finalize;
}

static void
mitogen_receiver_init (MitogenReceiver *self)
{
  self->latch = _mitogen_latch_new ((GDestroyNotify) mitogen_message_unref);
}

/* The router's handler: queue the message. Broker thread. */
static void
receiver_on_message (MitogenMessage *msg,
                     gpointer        data)
{
  MitogenLatch *latch = data;

  if (!_mitogen_latch_put (latch, mitogen_message_ref (msg)) && !mitogen_message_is_dead (msg))
    g_debug ("message for a closed receiver dropped (handle %u)", msg->handle);
}

/**
 * mitogen_receiver_new:
 * @router: a router
 *
 * Creates a receiver on a newly allocated handle.
 *
 * Returns: (transfer full): a new receiver
 */
MitogenReceiver *
mitogen_receiver_new (MitogenRouter *router)
{
  return mitogen_receiver_new_full (router, 0, NULL);
}

/**
 * mitogen_receiver_new_full:
 * @router: a router
 * @handle: the handle to listen on, or 0 to allocate one
 * @respondent: (nullable): the context expected to send; when it is lost
 *   the receiver gets a dead message
 *
 * Creates a receiver.
 *
 * Returns: (transfer full): a new receiver
 */
MitogenReceiver *
mitogen_receiver_new_full (MitogenRouter  *router,
                           guint32         handle,
                           MitogenContext *respondent)
{
  MitogenReceiver *self;

  g_return_val_if_fail (MITOGEN_IS_ROUTER (router), NULL);
  g_return_val_if_fail (respondent == NULL || MITOGEN_IS_CONTEXT (respondent), NULL);

  self = g_object_new (MITOGEN_TYPE_RECEIVER, NULL);
  self->router = g_object_ref (router);
  self->handle = mitogen_router_add_handler (router, handle, respondent,
                                             receiver_on_message,
                                             _mitogen_latch_ref (self->latch),
                                             (GDestroyNotify) _mitogen_latch_unref);
  return self;
}

/**
 * mitogen_receiver_get_handle:
 * @recv: a receiver
 *
 * Gets the handle the receiver listens on. Senders in other contexts
 * address it with this handle and this context's id.
 *
 * Returns: the handle the receiver listens on
 */
guint32
mitogen_receiver_get_handle (MitogenReceiver *recv)
{
  g_return_val_if_fail (MITOGEN_IS_RECEIVER (recv), 0);
  return recv->handle;
}

/**
 * mitogen_receiver_get_router:
 * @recv: a receiver
 *
 * Gets the router the receiver's handle is registered with.
 *
 * Returns: (transfer none): the receiver's router
 */
MitogenRouter *
mitogen_receiver_get_router (MitogenReceiver *recv)
{
  g_return_val_if_fail (MITOGEN_IS_RECEIVER (recv), NULL);
  return recv->router;
}

MitogenLatch *
_mitogen_receiver_get_latch (MitogenReceiver *recv)
{
  return recv->latch;
}

/* The message is its reader's now: its stream may read on (see
 * MitogenRouter:max-buffered). A dead message is the end of the
 * conversation: report it as an error. */
static MitogenMessage *
check_dead (MitogenMessage  *msg,
            GError         **error)
{
  if (msg != NULL)
    _mitogen_message_discharge (msg);
  if (msg != NULL && mitogen_message_is_dead (msg))
    {
      g_autoptr(GVariant) unused = mitogen_message_unpack (msg, error);
      mitogen_message_unref (msg);
      return NULL;
    }
  return msg;
}

/**
 * mitogen_receiver_get:
 * @recv: a receiver
 * @timeout_msec: how long to wait: -1 forever, 0 not at all
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for an error
 *
 * Takes the next message, waiting for one if needed. A dead message (the
 * sender closed, the context was lost) fails with %MITOGEN_ERROR_CHANNEL
 * and its reason; so does a closed receiver. No message in time is
 * %MITOGEN_ERROR_TIMEOUT. Must not be called on the broker thread.
 *
 * Returns: (transfer full): the message, or %NULL with @error set
 */
MitogenMessage *
mitogen_receiver_get (MitogenReceiver  *recv,
                      int               timeout_msec,
                      GCancellable     *cancellable,
                      GError          **error)
{
  g_return_val_if_fail (MITOGEN_IS_RECEIVER (recv), NULL);

  if (timeout_msec != 0 &&
      !_mitogen_check_not_broker (mitogen_router_get_broker (recv->router),
                                  "mitogen_receiver_get()", error))
    return NULL;
  return check_dead (_mitogen_latch_get (recv->latch, timeout_msec, cancellable, error), error);
}

/**
 * mitogen_receiver_get_async:
 * @recv: a receiver
 * @timeout_msec: how long to wait: -1 forever
 * @cancellable: (nullable): a #GCancellable
 * @callback: called in the caller's thread-default main context
 * @user_data: data for @callback
 *
 * Takes the next message without blocking; see mitogen_receiver_get().
 */
void
mitogen_receiver_get_async (MitogenReceiver     *recv,
                            int                  timeout_msec,
                            GCancellable        *cancellable,
                            GAsyncReadyCallback  callback,
                            gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;

  g_return_if_fail (MITOGEN_IS_RECEIVER (recv));

  task = g_task_new (recv, cancellable, callback, user_data);
  g_task_set_source_tag (task, mitogen_receiver_get_async);
  _mitogen_latch_get_async (recv->latch, timeout_msec, task);
}

/**
 * mitogen_receiver_get_finish:
 * @recv: a receiver
 * @result: the result given to the callback
 * @error: return location for an error
 *
 * Finishes a mitogen_receiver_get_async() call.
 *
 * Returns: (transfer full): the message, or %NULL with @error set
 */
MitogenMessage *
mitogen_receiver_get_finish (MitogenReceiver  *recv,
                             GAsyncResult     *result,
                             GError          **error)
{
  g_return_val_if_fail (g_task_is_valid (result, recv), NULL);
  return check_dead (g_task_propagate_pointer (G_TASK (result), error), error);
}

/**
 * mitogen_receiver_close:
 * @recv: a receiver
 *
 * Stops listening: waiting threads wake with %MITOGEN_ERROR_CHANNEL, and
 * messages sent to the handle from now on are answered with dead messages.
 */
void
mitogen_receiver_close (MitogenReceiver *recv)
{
  g_return_if_fail (MITOGEN_IS_RECEIVER (recv));

  if (!g_atomic_int_compare_and_exchange (&recv->closed, FALSE, TRUE))
    return;
  mitogen_router_del_handler (recv->router, recv->handle);
  _mitogen_latch_close (recv->latch);
}

/**
 * mitogen_receiver_is_closed:
 * @recv: a receiver
 *
 * Tells whether mitogen_receiver_close() was called. A dead message
 * from the other end does not close the receiver; it makes the next get
 * fail.
 *
 * Returns: %TRUE after mitogen_receiver_close()
 */
gboolean
mitogen_receiver_is_closed (MitogenReceiver *recv)
{
  g_return_val_if_fail (MITOGEN_IS_RECEIVER (recv), TRUE);
  return g_atomic_int_get (&recv->closed);
}

/**
 * mitogen_receiver_is_empty:
 * @recv: a receiver
 *
 * Tells whether the receiver's queue is empty right now. Another thread
 * may queue a message just after, so the answer is only a hint.
 *
 * Returns: %TRUE when no message is queued (one may arrive at any moment)
 */
gboolean
mitogen_receiver_is_empty (MitogenReceiver *recv)
{
  g_return_val_if_fail (MITOGEN_IS_RECEIVER (recv), TRUE);
  return _mitogen_latch_size (recv->latch) == 0;
}

/**
 * mitogen_receiver_to_sender:
 * @recv: a receiver
 *
 * Returns a sender that other contexts (given it in a message) or this one
 * can use to reach this receiver.
 *
 * Returns: (transfer full): a sender for this receiver's handle
 */
MitogenSender *
mitogen_receiver_to_sender (MitogenReceiver *recv)
{
  g_autoptr(MitogenContext) self_ctx = NULL;

  g_return_val_if_fail (MITOGEN_IS_RECEIVER (recv), NULL);

  self_ctx = mitogen_router_context_by_id (recv->router,
                                           mitogen_router_get_context_id (recv->router));
  return mitogen_sender_new (self_ctx, recv->handle);
}
