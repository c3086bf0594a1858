/* mitogen-call-queue.c: the calls a context accepted and has not
 * answered yet, and the cancel messages that reach into them.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "mitogen-call-private.h"
#include "mitogen-call-queue-private.h"
#include "mitogen-latch-private.h"
#include "mitogen-message-private.h"
#include "mitogen-stream-private.h"

/* One accepted call. The queue's latch and its table each hold a ref. */
typedef struct
{
  MitogenMessage *msg;          /* owned; immutable */
  guint64         key;          /* immutable; 0 when it cannot be cancelled */
  gboolean        cancelled;    /* guarded by the queue's lock */
  MitogenCallCancel *cancel;    /* owned; guarded by the queue's lock; set
                                 * when the call starts running */
} PendingCall;

struct _MitogenCallQueue
{
  MitogenRouter *router;        /* owned; immutable */
  char          *context_name;  /* immutable */
  MitogenLatch  *latch;         /* owned; PendingCall refs in arrival order */
  guint32        cancel_handle; /* immutable; MITOGEN_HANDLE_CANCEL_CALL */

  GMutex         lock;
  GHashTable    *pending;       /* guarded by @lock; key → PendingCall ref */
};

static void
pending_call_clear (gpointer data)
{
  PendingCall *pc = data;

  mitogen_message_unref (pc->msg);
  g_clear_pointer (&pc->cancel, _mitogen_call_cancel_unref);
}

static void
pending_call_release (gpointer data)
{
  g_atomic_rc_box_release_full (data, pending_call_clear);
}

/* A call is known by who made it and where its reply goes: reply handles
 * are unique within the caller, never across callers. */
static guint64
call_key (guint32 src_id,
          guint32 reply_to)
{
  return ((guint64) src_id << 32) | reply_to;
}

static gboolean
key_is_cancellable (guint32 reply_to)
{
  return reply_to != 0 && reply_to != MITOGEN_IS_DEAD;
}

static guint
key_hash (gconstpointer key)
{
  return g_int64_hash (key);
}

static gboolean
key_equal (gconstpointer a,
           gconstpointer b)
{
  return g_int64_equal (a, b);
}

/* The function named by a call request, for the cancelled reply. */
static char *
request_function (MitogenMessage *msg)
{
  g_autoptr(GVariant) args = NULL;
  char *name = NULL;

  if (!_mitogen_message_get_call (msg, &name, &args, NULL))
    return NULL;
  return name;
}

static void
answer_cancelled (MitogenCallQueue *queue,
                  PendingCall      *pc)
{
  g_autoptr(GError) error = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED,
                                                 "cancelled by its caller before it started");
  g_autofree char *function = request_function (pc->msg);
  g_autoptr(MitogenMessage) reply = NULL;

  reply = _mitogen_message_make_error_reply (pc->msg, error, queue->context_name, function);
  mitogen_router_route (queue->router, reply, NULL);
}

/* Broker thread: a MITOGEN_HANDLE_CANCEL_CALL message. Any context may
 * send one, so it only ever touches a call of its own sender. */
static void
on_cancel_call (MitogenMessage *msg,
                gpointer        data)
{
  MitogenCallQueue *queue = data;
  g_autoptr(GVariant) value = NULL;
  g_autoptr(MitogenCallCancel) running = NULL;
  PendingCall *pc;
  guint64 key;
  gboolean answer = FALSE;

  if (mitogen_message_is_dead (msg))
    return;
  value = mitogen_message_unpack (msg, NULL);
  if (value == NULL || !g_variant_is_of_type (value, G_VARIANT_TYPE_UINT32))
    {
      g_debug ("malformed cancel message from context %u ignored", msg->src_id);
      return;
    }
  key = call_key (msg->src_id, g_variant_get_uint32 (value));

  g_mutex_lock (&queue->lock);
  pc = g_hash_table_lookup (queue->pending, &key);
  /* The key holds the source; the authority must match too. */
  if (pc != NULL && pc->msg->auth_id == msg->auth_id && !pc->cancelled)
    {
      pc->cancelled = TRUE;
      if (pc->cancel != NULL)
        running = _mitogen_call_cancel_ref (pc->cancel);
      else
        answer = TRUE;
      g_atomic_rc_box_acquire (pc);
    }
  else
    pc = NULL;
  g_mutex_unlock (&queue->lock);

  if (pc == NULL)
    {
      g_debug ("cancel from context %u names no call of its own; ignored", msg->src_id);
      return;
    }
  /* Outside the lock: cancel handlers run here, in this thread. */
  if (running != NULL)
    _mitogen_call_cancel_fire (running);
  else if (answer)
    answer_cancelled (queue, pc);
  pending_call_release (pc);
}

MitogenCallQueue *
_mitogen_call_queue_new (MitogenRouter *router,
                         const char    *context_name)
{
  MitogenCallQueue *queue = g_new0 (MitogenCallQueue, 1);

  queue->router = g_object_ref (router);
  queue->context_name = g_strdup (context_name);
  queue->latch = _mitogen_latch_new (pending_call_release);
  g_mutex_init (&queue->lock);
  queue->pending = g_hash_table_new_full (key_hash, key_equal, NULL, pending_call_release);
  queue->cancel_handle = mitogen_router_add_handler (router, MITOGEN_HANDLE_CANCEL_CALL, NULL,
                                                     on_cancel_call, queue, NULL);
  return queue;
}

void
_mitogen_call_queue_free (MitogenCallQueue *queue)
{
  mitogen_router_del_handler (queue->router, queue->cancel_handle);
  _mitogen_latch_close (queue->latch);
  _mitogen_latch_unref (queue->latch);
  g_hash_table_destroy (queue->pending);
  g_mutex_clear (&queue->lock);
  g_object_unref (queue->router);
  g_free (queue->context_name);
  g_free (queue);
}

/* Forgets @pc, unless its key now names another call. Lock held. */
static void
forget_unlocked (MitogenCallQueue *queue,
                 PendingCall      *pc)
{
  if (pc->key != 0 && g_hash_table_lookup (queue->pending, &pc->key) == pc)
    g_hash_table_remove (queue->pending, &pc->key);
}

void
_mitogen_call_queue_push (MitogenCallQueue *queue,
                          MitogenMessage   *msg)
{
  PendingCall *pc = g_atomic_rc_box_new0 (PendingCall);

  /* Waiting calls do not hold their stream's budget: they come from a
   * parent, which this context trusts, and a call that runs may need a
   * reply from that parent on the same stream, which a pause would keep
   * from it for as long as the calls behind it wait. */
  _mitogen_message_discharge (msg);
  pc->msg = mitogen_message_ref (msg);
  if (key_is_cancellable (msg->reply_to))
    {
      pc->key = call_key (msg->src_id, msg->reply_to);
      g_mutex_lock (&queue->lock);
      /* A caller reusing a reply handle while its first call is pending
       * can cancel only the first. */
      if (!g_hash_table_contains (queue->pending, &pc->key))
        g_hash_table_insert (queue->pending, &pc->key, g_atomic_rc_box_acquire (pc));
      g_mutex_unlock (&queue->lock);
    }
  /* A closed queue (the context shuts down) drops the call. */
  g_atomic_rc_box_acquire (pc);
  if (!_mitogen_latch_put (queue->latch, pc))
    {
      g_mutex_lock (&queue->lock);
      forget_unlocked (queue, pc);
      g_mutex_unlock (&queue->lock);
    }
  pending_call_release (pc);
}

typedef struct
{
  MitogenCallQueue *queue;   /* unowned: lives as long as the agent */
  PendingCall      *pc;      /* owned */
} CallDone;

/* The call was answered: a cancel for it means nothing any more. */
static void
call_done (gpointer data)
{
  CallDone *done = data;

  g_mutex_lock (&done->queue->lock);
  forget_unlocked (done->queue, done->pc);
  g_mutex_unlock (&done->queue->lock);
  pending_call_release (done->pc);
  g_free (done);
}

gboolean
_mitogen_call_queue_run_next (MitogenCallQueue *queue)
{
  PendingCall *pc = _mitogen_latch_get (queue->latch, -1, NULL, NULL);
  g_autoptr(MitogenCallCancel) cancel = NULL;
  gboolean cancelled;

  if (pc == NULL)
    return FALSE;

  g_mutex_lock (&queue->lock);
  cancelled = pc->cancelled;
  if (!cancelled)
    pc->cancel = _mitogen_call_cancel_new ();
  cancel = pc->cancel != NULL ? _mitogen_call_cancel_ref (pc->cancel) : NULL;
  if (cancelled)
    forget_unlocked (queue, pc);
  g_mutex_unlock (&queue->lock);

  /* A call cancelled while it waited was answered then. */
  if (!cancelled)
    {
      /* Let the broker write a burst of replies in one go while more calls
       * wait; the last reply of a burst goes straight out. */
      _mitogen_stream_set_thread_batching (_mitogen_latch_size (queue->latch) > 0);
      CallDone *done = g_new (CallDone, 1);

      done->queue = queue;
      done->pc = g_atomic_rc_box_acquire (pc);
      /* A call answered later stays cancellable until it is answered. */
      _mitogen_call_run_message (queue->router, pc->msg, queue->context_name, cancel,
                                 call_done, done);
    }
  pending_call_release (pc);
  return TRUE;
}

guint
_mitogen_call_queue_size (MitogenCallQueue *queue)
{
  return _mitogen_latch_size (queue->latch);
}

void
_mitogen_call_queue_close (MitogenCallQueue *queue)
{
  _mitogen_latch_close (queue->latch);
}


void
_mitogen_call_send_cancel (MitogenContext *context,
                           guint32         reply_to)
{
  g_autoptr(MitogenMessage) msg = NULL;
  g_autoptr(MitogenRouter) router = mitogen_context_dup_router (context);

  if (router == NULL || !key_is_cancellable (reply_to))
    return;
  msg = mitogen_message_new (mitogen_context_get_id (context), MITOGEN_HANDLE_CANCEL_CALL,
                             g_variant_new_uint32 (reply_to));
  /* A lost context has nothing left to cancel: ignore a failure. */
  mitogen_router_route (router, msg, NULL);
}
