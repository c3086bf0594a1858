/* mitogen-select.c: wait on many receivers (and selects) at once.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "mitogen-latch-private.h"
#include "mitogen-receiver-private.h"
#include "mitogen-select-private.h"

/**
 * MitogenSelect:
 *
 * Waits for the first message from any of several receivers, or from other
 * selects nested inside it. Each time a source receives a message, the
 * source is queued on the select, so messages come out in arrival order.
 * A oneshot select drops each source after it yielded one message, so a
 * loop over mitogen_select_next() ends once every reply has come.
 *
 * A receiver or select belongs to at most one select at a time.
 */
struct _MitogenSelect
{
  GObject       parent_instance;

  gboolean      oneshot;  /* immutable */
  MitogenLatch *latch;    /* owned; items are sources (GObject refs) that got a message */
  GMutex        lock;     /* lock order: @lock, then a member's latch mutex */
  GPtrArray    *sources;  /* guarded by @lock; owned GObject refs */
};

G_DEFINE_FINAL_TYPE (MitogenSelect, mitogen_select, G_TYPE_OBJECT)

static MitogenLatch *
source_latch (GObject *source)
{
  if (MITOGEN_IS_RECEIVER (source))
    return _mitogen_receiver_get_latch (MITOGEN_RECEIVER (source));
  return _mitogen_select_get_latch (MITOGEN_SELECT (source));
}

static void
mitogen_select_dispose (GObject *object)
{
  mitogen_select_close (MITOGEN_SELECT (object));
  G_OBJECT_CLASS (mitogen_select_parent_class)->dispose (object);
}

static void
mitogen_select_finalize (GObject *object)
{
  MitogenSelect *self = MITOGEN_SELECT (object);

  _mitogen_latch_unref (self->latch);
  g_ptr_array_unref (self->sources);
  g_mutex_clear (&self->lock);
  G_OBJECT_CLASS (mitogen_select_parent_class)->finalize (object);
}

static void
mitogen_select_class_init (MitogenSelectClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = mitogen_select_dispose;
  object_class->finalize = mitogen_select_finalize;
}

static void
mitogen_select_init (MitogenSelect *self)
{
  g_mutex_init (&self->lock);
  self->latch = _mitogen_latch_new (g_object_unref);
  self->sources = g_ptr_array_new_with_free_func (g_object_unref);
}

/**
 * mitogen_select_new:
 * @oneshot: drop each source after it yields a message
 *
 * Creates a select: a set of receivers (and other selects) that can be
 * waited on together, yielding messages in the order they arrive.
 *
 * Returns: (transfer full): a new, empty select
 */
MitogenSelect *
mitogen_select_new (gboolean oneshot)
{
  MitogenSelect *self = g_object_new (MITOGEN_TYPE_SELECT, NULL);

  self->oneshot = oneshot;
  return self;
}

MitogenLatch *
_mitogen_select_get_latch (MitogenSelect *sel)
{
  return sel->latch;
}

/* A source's latch got an item: queue the source here. Any thread. */
static void
select_on_source_ready (gpointer notify_data,
                        gpointer source)
{
  MitogenSelect *self = notify_data;

  _mitogen_latch_put (self->latch, g_object_ref (source));
}

/* Does @sel contain @needle, directly or in a nested select? */
static gboolean
select_contains (MitogenSelect *sel,
                 GObject       *needle)
{
  gboolean found = FALSE;

  g_mutex_lock (&sel->lock);
  for (guint i = 0; i < sel->sources->len && !found; i++)
    {
      GObject *s = sel->sources->pdata[i];

      found = s == needle || (MITOGEN_IS_SELECT (s) && select_contains (MITOGEN_SELECT (s), needle));
    }
  g_mutex_unlock (&sel->lock);
  return found;
}

/**
 * mitogen_select_add:
 * @sel: a select
 * @source: a #MitogenReceiver or a #MitogenSelect
 * @error: return location for an error
 *
 * Adds a source. Messages it already holds count as arrived now. Fails
 * when @source belongs to another select or adding it would make a cycle.
 *
 * Returns: %TRUE on success
 */
gboolean
mitogen_select_add (MitogenSelect  *sel,
                    GObject        *source,
                    GError        **error)
{
  MitogenLatch *latch;
  guint queued;

  g_return_val_if_fail (MITOGEN_IS_SELECT (sel), FALSE);
  g_return_val_if_fail (MITOGEN_IS_RECEIVER (source) || MITOGEN_IS_SELECT (source), FALSE);

  if (source == G_OBJECT (sel) ||
      (MITOGEN_IS_SELECT (source) && select_contains (MITOGEN_SELECT (source), G_OBJECT (sel))))
    {
      g_set_error_literal (error, MITOGEN_ERROR, MITOGEN_ERROR_FAILED,
                           "adding this select would create a cycle of selects");
      return FALSE;
    }

  latch = source_latch (source);
  if (!_mitogen_latch_set_notify (latch, select_on_source_ready, sel, source))
    {
      g_set_error_literal (error, MITOGEN_ERROR, MITOGEN_ERROR_FAILED,
                           "the source already belongs to a select");
      return FALSE;
    }

  g_mutex_lock (&sel->lock);
  g_ptr_array_add (sel->sources, g_object_ref (source));
  g_mutex_unlock (&sel->lock);

  queued = _mitogen_latch_size (latch);
  for (guint i = 0; i < queued; i++)
    select_on_source_ready (sel, source);
  return TRUE;
}

/**
 * mitogen_select_remove:
 * @sel: a select
 * @source: a source added to @sel
 * @error: return location for an error
 *
 * Removes a source. A notification it gave before may still be queued; a
 * later get skips it.
 *
 * Returns: %TRUE on success, %FALSE when @source is not in @sel
 */
gboolean
mitogen_select_remove (MitogenSelect  *sel,
                       GObject        *source,
                       GError        **error)
{
  gboolean found;

  g_return_val_if_fail (MITOGEN_IS_SELECT (sel), FALSE);
  g_return_val_if_fail (G_IS_OBJECT (source), FALSE);

  /* The array's reference may be the last one: hold our own meanwhile. */
  g_object_ref (source);
  g_mutex_lock (&sel->lock);
  found = _mitogen_latch_get_notify_data (source_latch (source)) == (gpointer) sel &&
          g_ptr_array_remove (sel->sources, source);
  g_mutex_unlock (&sel->lock);

  if (found)
    _mitogen_latch_set_notify (source_latch (source), NULL, NULL, NULL);
  g_object_unref (source);
  if (!found)
    {
      g_set_error_literal (error, MITOGEN_ERROR, MITOGEN_ERROR_FAILED,
                           "the source is not a member of this select");
      return FALSE;
    }
  return TRUE;
}

static gboolean
is_member (MitogenSelect *sel,
           GObject       *source)
{
  gboolean found = FALSE;

  g_mutex_lock (&sel->lock);
  for (guint i = 0; i < sel->sources->len && !found; i++)
    found = sel->sources->pdata[i] == source;
  g_mutex_unlock (&sel->lock);
  return found;
}

/* Takes the message from a source that said it has one. Returns NULL with
 * @raced set when another thread took it first. */
static MitogenMessage *
take_from_source (MitogenSelect  *sel,
                  GObject        *source,
                  GObject       **innermost,
                  gboolean       *raced,
                  GError        **error)
{
  GError *local_error = NULL;
  MitogenMessage *msg;

  *raced = FALSE;
  if (MITOGEN_IS_RECEIVER (source))
    {
      msg = mitogen_receiver_get (MITOGEN_RECEIVER (source), 0, NULL, &local_error);
      *innermost = g_object_ref (source);
    }
  else
    msg = _mitogen_select_try_get (MITOGEN_SELECT (source), innermost, &local_error);

  if (msg == NULL && g_error_matches (local_error, MITOGEN_ERROR, MITOGEN_ERROR_TIMEOUT))
    {
      g_clear_object (innermost);
      *raced = TRUE;
      g_error_free (local_error);
      return NULL;
    }
  /* A oneshot select is done with a source once it answered, even with a
   * dead message, or a loop over it would never end. */
  if (sel->oneshot)
    mitogen_select_remove (sel, source, NULL);
  if (msg == NULL)
    g_propagate_error (error, local_error);
  return msg;
}

static gboolean
check_has_sources (MitogenSelect  *sel,
                   GError        **error)
{
  if (!mitogen_select_has_sources (sel))
    {
      g_set_error_literal (error, MITOGEN_ERROR, MITOGEN_ERROR_FAILED,
                           "cannot get from a select that has no sources");
      return FALSE;
    }
  return TRUE;
}

/**
 * mitogen_select_get:
 * @sel: a select
 * @timeout_msec: how long to wait: -1 forever, 0 not at all
 * @source: (out) (optional) (transfer full): the receiver the message came
 *   from (also set when a dead message makes the get fail); a reference,
 *   since a oneshot select has let go of it already
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for an error
 *
 * Takes the first message to arrive at any source. A dead message fails
 * with %MITOGEN_ERROR_CHANNEL, no message in time with
 * %MITOGEN_ERROR_TIMEOUT, a select with no sources with
 * %MITOGEN_ERROR_FAILED.
 *
 * Returns: (transfer full): the message, or %NULL with @error set
 */
MitogenMessage *
mitogen_select_get (MitogenSelect  *sel,
                    int             timeout_msec,
                    GObject       **source,
                    GCancellable   *cancellable,
                    GError        **error)
{
  gint64 deadline = timeout_msec > 0 ?
    g_get_monotonic_time () + (gint64) timeout_msec * G_TIME_SPAN_MILLISECOND : -1;

  g_return_val_if_fail (MITOGEN_IS_SELECT (sel), NULL);

  if (source != NULL)
    *source = NULL;
  if (!check_has_sources (sel, error))
    return NULL;

  for (;;)
    {
      g_autoptr(GObject) ready = NULL;
      GObject *innermost = NULL;
      MitogenMessage *msg;
      gboolean raced;
      int wait = timeout_msec;

      if (deadline >= 0)
        wait = MAX (0, (int) ((deadline - g_get_monotonic_time ()) / 1000));
      ready = _mitogen_latch_get (sel->latch, wait, cancellable, error);
      if (ready == NULL)
        return NULL;
      if (!is_member (sel, ready))
        continue;
      msg = take_from_source (sel, ready, &innermost, &raced, error);
      if (raced)
        continue;
      if (source != NULL)
        *source = innermost;
      else
        g_clear_object (&innermost);
      return msg;
    }
}

MitogenMessage *
_mitogen_select_try_get (MitogenSelect  *sel,
                         GObject       **source,
                         GError        **error)
{
  return mitogen_select_get (sel, 0, source, NULL, error);
}

typedef struct
{
  GObject *source;   /* not owned: a member when the result was produced */
} GetAsyncResult;

static void select_wait_async (MitogenSelect *sel, GTask *task);

static void
select_got_ready (GObject      *object,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  MitogenSelect *sel = g_task_get_source_object (task);
  g_autoptr(GObject) ready = NULL;
  GObject *innermost = NULL;
  GError *error = NULL;
  MitogenMessage *msg;
  gboolean raced;

  ready = g_task_propagate_pointer (G_TASK (result), &error);
  if (ready == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  if (!is_member (sel, ready))
    {
      select_wait_async (sel, g_steal_pointer (&task));
      return;
    }
  msg = take_from_source (sel, ready, &innermost, &raced, &error);
  if (raced)
    {
      select_wait_async (sel, g_steal_pointer (&task));
      return;
    }
  g_task_set_task_data (task, innermost, g_object_unref);
  if (msg == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, msg, (GDestroyNotify) mitogen_message_unref);
}

static void
select_wait_async (MitogenSelect *sel,
                   GTask         *task)
{
  GTask *inner = g_task_new (sel, g_task_get_cancellable (task), select_got_ready, task);

  _mitogen_latch_get_async (sel->latch,
                            GPOINTER_TO_INT (g_object_get_data (G_OBJECT (task), "timeout")),
                            inner);
  g_object_unref (inner);
}

/**
 * mitogen_select_get_async:
 * @sel: a select
 * @timeout_msec: how long to wait: -1 forever
 * @cancellable: (nullable): a #GCancellable
 * @callback: called in the caller's thread-default main context
 * @user_data: data for @callback
 *
 * Takes the first message to arrive without blocking; see
 * mitogen_select_get().
 */
void
mitogen_select_get_async (MitogenSelect       *sel,
                          int                  timeout_msec,
                          GCancellable        *cancellable,
                          GAsyncReadyCallback  callback,
                          gpointer             user_data)
{
  GTask *task;
  GError *error = NULL;

  g_return_if_fail (MITOGEN_IS_SELECT (sel));

  task = g_task_new (sel, cancellable, callback, user_data);
  g_task_set_source_tag (task, mitogen_select_get_async);
  if (!check_has_sources (sel, &error))
    {
      g_task_return_error (task, error);
      g_object_unref (task);
      return;
    }
  g_object_set_data (G_OBJECT (task), "timeout", GINT_TO_POINTER (timeout_msec));
  select_wait_async (sel, task);
}

/**
 * mitogen_select_get_finish:
 * @sel: a select
 * @result: the result given to the callback
 * @source: (out) (optional) (transfer full): the receiver the message came from
 * @error: return location for an error
 *
 * Finishes a mitogen_select_get_async() call.
 *
 * Returns: (transfer full): the message, or %NULL with @error set
 */
MitogenMessage *
mitogen_select_get_finish (MitogenSelect  *sel,
                           GAsyncResult   *result,
                           GObject       **source,
                           GError        **error)
{
  g_return_val_if_fail (g_task_is_valid (result, sel), NULL);

  if (source != NULL)
    {
      GObject *from = g_task_get_task_data (G_TASK (result));
      *source = from != NULL ? g_object_ref (from) : NULL;
    }
  return g_task_propagate_pointer (G_TASK (result), error);
}

/**
 * mitogen_select_next:
 * @sel: a select
 * @timeout_msec: how long to wait for each message: -1 forever
 * @msg: (out) (optional) (nullable) (transfer full): the message
 * @source: (out) (optional) (nullable) (transfer full): its receiver
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for an error
 *
 * The iteration step: while the select has sources, takes the next
 * message. With a oneshot select, `while (mitogen_select_next (...))`
 * visits one reply from each source and ends.
 *
 * Returns: %TRUE with a message, %FALSE when no source is left (no error)
 *   or on failure (@error set)
 */
gboolean
mitogen_select_next (MitogenSelect   *sel,
                     int              timeout_msec,
                     MitogenMessage **msg,
                     GObject        **source,
                     GCancellable    *cancellable,
                     GError         **error)
{
  MitogenMessage *m;

  g_return_val_if_fail (MITOGEN_IS_SELECT (sel), FALSE);

  if (msg != NULL)
    *msg = NULL;
  if (!mitogen_select_has_sources (sel))
    return FALSE;
  m = mitogen_select_get (sel, timeout_msec, source, cancellable, error);
  if (m == NULL)
    return FALSE;
  if (msg != NULL)
    *msg = m;
  else
    mitogen_message_unref (m);
  return TRUE;
}

/**
 * mitogen_select_is_empty:
 * @sel: a select
 *
 * Tells whether none of the sources has a message waiting right now. Like
 * mitogen_receiver_is_empty(), the answer may change at once.
 *
 * Returns: %TRUE when no source has a message waiting
 */
gboolean
mitogen_select_is_empty (MitogenSelect *sel)
{
  g_return_val_if_fail (MITOGEN_IS_SELECT (sel), TRUE);
  return _mitogen_latch_size (sel->latch) == 0;
}

/**
 * mitogen_select_has_sources:
 * @sel: a select
 *
 * Tells whether any receiver or select is still added, which is the usual
 * loop condition with a oneshot select.
 *
 * Returns: %TRUE while any source is registered (Mitogen's `bool(select)`)
 */
gboolean
mitogen_select_has_sources (MitogenSelect *sel)
{
  gboolean any;

  g_return_val_if_fail (MITOGEN_IS_SELECT (sel), FALSE);
  g_mutex_lock (&sel->lock);
  any = sel->sources->len > 0;
  g_mutex_unlock (&sel->lock);
  return any;
}

/**
 * mitogen_select_is_oneshot:
 * @sel: a select
 *
 * Tells whether the select removes each source after the first message it
 * yields, as set when it was created.
 *
 * Returns: whether sources are dropped after yielding a message
 */
gboolean
mitogen_select_is_oneshot (MitogenSelect *sel)
{
  g_return_val_if_fail (MITOGEN_IS_SELECT (sel), FALSE);
  return sel->oneshot;
}

/**
 * mitogen_select_close:
 * @sel: a select
 *
 * Removes every source and wakes waiting threads with
 * %MITOGEN_ERROR_CHANNEL.
 */
void
mitogen_select_close (MitogenSelect *sel)
{
  g_autoptr(GPtrArray) sources = NULL;

  g_return_if_fail (MITOGEN_IS_SELECT (sel));

  g_mutex_lock (&sel->lock);
  sources = g_steal_pointer (&sel->sources);
  sel->sources = g_ptr_array_new_with_free_func (g_object_unref);
  g_mutex_unlock (&sel->lock);

  for (guint i = 0; i < sources->len; i++)
    _mitogen_latch_set_notify (source_latch (sources->pdata[i]), NULL, NULL, NULL);
  _mitogen_latch_close (sel->latch);
}
