/* mitogen-latch.c: a thread-safe queue that wakes one waiter.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "mitogen-latch-private.h"

/* One pending mitogen_latch_get_async(). Whoever removes it from the
 * latch's waiter queue (a put, its timeout, its cancellable, close) is the
 * one who completes its task, so each task completes exactly once. */
typedef struct
{
  gatomicrefcount  ref_count;
  GTask           *task;       /* owned; completed by whoever dequeues us */
  GSource         *timeout;    /* owned, nullable; in the task's context */
  GCancellable    *cancellable;/* unowned: the task holds it */
  gulong           cancel_id;  /* guarded by latch->mutex */
  MitogenLatch    *latch;      /* owned */
} Waiter;

struct _MitogenLatch
{
  gatomicrefcount     ref_count;
  GMutex              mutex;
  GCond               cond;         /* signalled on a put when a getter sleeps, broadcast on close */
  guint               n_sleeping;   /* guarded by mutex; getters in g_cond_wait() */
  GQueue              items;        /* guarded by mutex; owned items */
  GQueue              waiters;      /* guarded by mutex; Waiter*, FIFO */
  GDestroyNotify      item_free;    /* immutable */
  gboolean            closed;       /* guarded by mutex */
  MitogenLatchNotify  notify;       /* guarded by mutex */
  GWeakRef            notify_data;  /* the select to notify; weak, so a select
                                     * holding this latch's owner can die */
  gpointer            notify_source;/* guarded by mutex; the latch's owner, passed to notify */
};

MitogenLatch *
_mitogen_latch_new (GDestroyNotify item_free)
{
  MitogenLatch *latch = g_new0 (MitogenLatch, 1);

  g_atomic_ref_count_init (&latch->ref_count);
  g_mutex_init (&latch->mutex);
  g_cond_init (&latch->cond);
  g_queue_init (&latch->items);
  g_queue_init (&latch->waiters);
  g_weak_ref_init (&latch->notify_data, NULL);
  latch->item_free = item_free;
  return latch;
}

MitogenLatch *
_mitogen_latch_ref (MitogenLatch *latch)
{
  g_atomic_ref_count_inc (&latch->ref_count);
  return latch;
}

void
_mitogen_latch_unref (MitogenLatch *latch)
{
  if (!g_atomic_ref_count_dec (&latch->ref_count))
    return;

  /* Waiters hold a reference, so none can be queued here. */
  g_assert (g_queue_is_empty (&latch->waiters));
  g_queue_clear_full (&latch->items, latch->item_free);
  g_weak_ref_clear (&latch->notify_data);
  g_mutex_clear (&latch->mutex);
  g_cond_clear (&latch->cond);
  g_free (latch);
}

static Waiter *
waiter_ref (Waiter *w)
{
  g_atomic_ref_count_inc (&w->ref_count);
  return w;
}

static void
waiter_unref (gpointer data)
{
  Waiter *w = data;

  if (!g_atomic_ref_count_dec (&w->ref_count))
    return;
  g_clear_object (&w->task);
  if (w->timeout != NULL)
    {
      g_source_destroy (w->timeout);
      g_source_unref (w->timeout);
    }
  _mitogen_latch_unref (w->latch);
  g_free (w);
}

/* Called with the waiter already dequeued: stops its timeout and cancel
 * handler. Must run without the latch lock (disconnect may wait). */
static void
waiter_detach (Waiter *w)
{
  gulong id;

  if (w->timeout != NULL)
    g_source_destroy (w->timeout);

  g_mutex_lock (&w->latch->mutex);
  id = w->cancel_id;
  w->cancel_id = 0;
  g_mutex_unlock (&w->latch->mutex);

  if (id != 0)
    g_cancellable_disconnect (w->cancellable, id);
}

gboolean
_mitogen_latch_put (MitogenLatch *latch,
                    gpointer      item)
{
  MitogenLatchNotify notify = NULL;
  GObject *notify_data = NULL;
  gpointer notify_source = NULL;
  Waiter *waiter = NULL;
  gboolean wake = FALSE;

  g_mutex_lock (&latch->mutex);
  if (latch->closed)
    {
      g_mutex_unlock (&latch->mutex);
      if (latch->item_free != NULL)
        latch->item_free (item);
      return FALSE;
    }

  waiter = g_queue_pop_head (&latch->waiters);
  if (waiter == NULL)
    {
      g_queue_push_tail (&latch->items, item);
      /* GLib's g_cond_signal() is a system call even when nobody waits;
       * most puts (pipelined replies, a select's latches) find nobody. */
      wake = latch->n_sleeping > 0;
      if (latch->notify != NULL)
        {
          notify_data = g_weak_ref_get (&latch->notify_data);
          notify = notify_data != NULL ? latch->notify : NULL;
          notify_source = latch->notify_source;
        }
    }
  /* Woken after the unlock, the getter does not find the mutex still held
   * and sleep on it again. Our ref keeps the latch alive until then: the
   * getter may take the item on a spurious wakeup and drop the last one. */
  if (wake)
    _mitogen_latch_ref (latch);
  g_mutex_unlock (&latch->mutex);
  if (wake)
    {
      g_cond_signal (&latch->cond);
      _mitogen_latch_unref (latch);
    }

  if (waiter != NULL)
    {
      waiter_detach (waiter);
      g_task_return_pointer (waiter->task, item, latch->item_free);
      waiter_unref (waiter);
    }

  if (notify != NULL)
    notify (notify_data, notify_source);
  g_clear_object (&notify_data);
  return TRUE;
}

static void
latch_wake_all (GCancellable *cancellable,
                gpointer      data)
{
  MitogenLatch *latch = data;

  g_mutex_lock (&latch->mutex);
  g_cond_broadcast (&latch->cond);
  g_mutex_unlock (&latch->mutex);
}

gpointer
_mitogen_latch_get (MitogenLatch  *latch,
                    int            timeout_msec,
                    GCancellable  *cancellable,
                    GError       **error)
{
  gpointer item = NULL;
  gint64 deadline = -1;
  gulong cancel_id = 0;

  if (cancellable != NULL)
    cancel_id = g_cancellable_connect (cancellable, G_CALLBACK (latch_wake_all),
                                       _mitogen_latch_ref (latch),
                                       (GDestroyNotify) _mitogen_latch_unref);
  if (timeout_msec > 0)
    deadline = g_get_monotonic_time () + (gint64) timeout_msec * G_TIME_SPAN_MILLISECOND;

  g_mutex_lock (&latch->mutex);
  for (;;)
    {
      if (!g_queue_is_empty (&latch->items))
        {
          item = g_queue_pop_head (&latch->items);
          break;
        }
      if (latch->closed)
        {
          g_set_error_literal (error, MITOGEN_ERROR, MITOGEN_ERROR_CHANNEL,
                               "the receiver or select was closed");
          break;
        }
      if (g_cancellable_set_error_if_cancelled (cancellable, error))
        break;
      if (timeout_msec == 0 ||
          (deadline >= 0 && g_get_monotonic_time () >= deadline))
        {
          g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_TIMEOUT,
                       "timed out after %d ms", timeout_msec);
          break;
        }
      latch->n_sleeping++;
      if (deadline < 0)
        g_cond_wait (&latch->cond, &latch->mutex);
      else
        g_cond_wait_until (&latch->cond, &latch->mutex, deadline);
      latch->n_sleeping--;
    }
  g_mutex_unlock (&latch->mutex);

  if (cancel_id != 0)
    g_cancellable_disconnect (cancellable, cancel_id);
  return item;
}

/* Removes @w from the waiter queue; TRUE if this caller now owns it. */
static gboolean
latch_take_waiter (MitogenLatch *latch,
                   Waiter       *w)
{
  gboolean found;

  g_mutex_lock (&latch->mutex);
  found = g_queue_remove (&latch->waiters, w);
  g_mutex_unlock (&latch->mutex);
  return found;
}

static gboolean
waiter_on_timeout (gpointer data)
{
  Waiter *w = data;

  if (latch_take_waiter (w->latch, w))
    {
      waiter_detach (w);
      g_task_return_new_error (w->task, MITOGEN_ERROR, MITOGEN_ERROR_TIMEOUT,
                               "timed out waiting for a message");
      waiter_unref (w);
    }
  return G_SOURCE_REMOVE;
}

static void
waiter_on_cancelled (GCancellable *cancellable,
                     gpointer      data)
{
  Waiter *w = data;

  if (latch_take_waiter (w->latch, w))
    {
      /* Not waiter_detach(): disconnecting from inside the handler would
       * deadlock; the handler's own reference goes when it is dropped. */
      if (w->timeout != NULL)
        g_source_destroy (w->timeout);
      g_task_return_new_error (w->task, G_IO_ERROR, G_IO_ERROR_CANCELLED,
                               "the operation was cancelled");
      /* The handler keeps @w until the cancellable dies, and the task holds
       * the cancellable: drop the task now to break that cycle. Nobody
       * else touches it once we took the waiter. */
      g_clear_object (&w->task);
      waiter_unref (w);
    }
}

/* A waiter for @task, not queued yet, with its timeout made (not
 * attached). */
static Waiter *
waiter_new (MitogenLatch *latch,
            GTask        *task,
            int           timeout_msec)
{
  Waiter *w = g_new0 (Waiter, 1);

  g_atomic_ref_count_init (&w->ref_count);
  w->task = g_object_ref (task);
  w->latch = _mitogen_latch_ref (latch);
  w->cancellable = g_task_get_cancellable (task);
  if (timeout_msec > 0)
    {
      w->timeout = g_timeout_source_new (timeout_msec);
      g_source_set_callback (w->timeout, waiter_on_timeout, waiter_ref (w), waiter_unref);
      g_source_set_static_name (w->timeout, "[mitogen] latch timeout");
    }
  return w;
}

/* Frees a waiter that was never queued: its timeout source, unattached,
 * holds a reference to it that only the source's end releases. */
static void
waiter_discard (gpointer data)
{
  Waiter *w = data;
  GSource *timeout = g_steal_pointer (&w->timeout);

  g_clear_pointer (&timeout, g_source_unref);
  waiter_unref (w);
}

void
_mitogen_latch_get_async (MitogenLatch *latch,
                          int           timeout_msec,
                          GTask        *task)
{
  gpointer item = NULL;
  gboolean closed = FALSE;
  Waiter *w = NULL;

  /* The common case first: an item already there, without a waiter. */
  g_mutex_lock (&latch->mutex);
  if (!g_queue_is_empty (&latch->items))
    item = g_queue_pop_head (&latch->items);
  else if (latch->closed)
    closed = TRUE;
  g_mutex_unlock (&latch->mutex);
  if (item == NULL && !closed && timeout_msec != 0)
    {
      w = waiter_new (latch, task, timeout_msec);
      /* Checked again where the waiter is queued, in one critical section:
       * a put between the check above and the queueing would otherwise
       * leave its item unseen until the timeout. The timeout is attached
       * inside it too, so that a put completing the waiter at once finds
       * the source attached. */
      g_mutex_lock (&latch->mutex);
      if (!g_queue_is_empty (&latch->items))
        item = g_queue_pop_head (&latch->items);
      else if (latch->closed)
        closed = TRUE;
      else
        {
          g_queue_push_tail (&latch->waiters, waiter_ref (w));
          if (w->timeout != NULL)
            g_source_attach (w->timeout, g_task_get_context (task));
        }
      g_mutex_unlock (&latch->mutex);
      if (item != NULL || closed)
        g_clear_pointer (&w, waiter_discard);
    }

  if (item != NULL)
    {
      g_task_return_pointer (task, item, latch->item_free);
      return;
    }
  if (closed)
    {
      g_task_return_new_error (task, MITOGEN_ERROR, MITOGEN_ERROR_CHANNEL,
                               "the receiver or select was closed");
      return;
    }
  if (w == NULL)
    {
      g_task_return_new_error (task, MITOGEN_ERROR, MITOGEN_ERROR_TIMEOUT,
                               "timed out waiting for a message");
      return;
    }

  if (w->cancellable != NULL)
    {
      gulong id = g_cancellable_connect (w->cancellable, G_CALLBACK (waiter_on_cancelled),
                                         waiter_ref (w), waiter_unref);
      g_mutex_lock (&latch->mutex);
      /* Only remember the id while the waiter is still queued; if it was
       * completed meanwhile, the handler finds it gone and does nothing. */
      if (g_queue_find (&latch->waiters, w) != NULL)
        w->cancel_id = id;
      g_mutex_unlock (&latch->mutex);
    }

  waiter_unref (w);
}

void
_mitogen_latch_close (MitogenLatch *latch)
{
  GQueue waiters = G_QUEUE_INIT;
  Waiter *w;

  g_mutex_lock (&latch->mutex);
  latch->closed = TRUE;
  waiters = latch->waiters;
  g_queue_init (&latch->waiters);
  /* A getter sees closed before it sleeps; only a sleeping one needs the
   * system call (every finished call closes its receiver's latch). */
  if (latch->n_sleeping > 0)
    g_cond_broadcast (&latch->cond);
  g_mutex_unlock (&latch->mutex);

  while ((w = g_queue_pop_head (&waiters)) != NULL)
    {
      waiter_detach (w);
      g_task_return_new_error (w->task, MITOGEN_ERROR, MITOGEN_ERROR_CHANNEL,
                               "the receiver or select was closed");
      waiter_unref (w);
    }
}

gboolean
_mitogen_latch_is_closed (MitogenLatch *latch)
{
  gboolean closed;

  g_mutex_lock (&latch->mutex);
  closed = latch->closed;
  g_mutex_unlock (&latch->mutex);
  return closed;
}

guint
_mitogen_latch_size (MitogenLatch *latch)
{
  guint size;

  g_mutex_lock (&latch->mutex);
  size = latch->items.length;
  g_mutex_unlock (&latch->mutex);
  return size;
}

gboolean
_mitogen_latch_set_notify (MitogenLatch       *latch,
                           MitogenLatchNotify  func,
                           gpointer            notify_data,
                           gpointer            source)
{
  g_autoptr(GObject) current = NULL;

  g_mutex_lock (&latch->mutex);
  current = g_weak_ref_get (&latch->notify_data);
  if (func != NULL && latch->notify != NULL && current != NULL)
    {
      g_mutex_unlock (&latch->mutex);
      return FALSE;
    }
  latch->notify = func;
  g_weak_ref_set (&latch->notify_data, func != NULL ? notify_data : NULL);
  latch->notify_source = func != NULL ? source : NULL;
  g_mutex_unlock (&latch->mutex);
  return TRUE;
}

gpointer
_mitogen_latch_get_notify_data (MitogenLatch *latch)
{
  GObject *data = g_weak_ref_get (&latch->notify_data);

  /* Only compared, never dereferenced, by the caller. */
  if (data != NULL)
    g_object_unref (data);
  return data;
}
