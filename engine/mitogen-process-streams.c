/* mitogen-process-streams.c: a remote process's pipes as GIO streams.
 * Reads and writes block on the shared state. Asynchronous reads (and the
 * process's asynchronous start and wait) take no thread: they wait in the
 * state's list of watches, which the broker thread completes as events
 * come. Writes' async variants are GIO's defaults (its worker threads).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <string.h>

#include "mitogen-call-queue-private.h"
#include "mitogen-process-private.h"


#define TYPE_PROCESS_INPUT (process_input_get_type ())
G_DECLARE_FINAL_TYPE (ProcessInput, process_input, MITOGEN, PROCESS_INPUT, GInputStream)

struct _ProcessInput
{
  GInputStream  parent_instance;
  ProcessState *state;   /* owned; immutable */
  int           stream;  /* immutable: PROCESS_STDOUT or PROCESS_STDERR */
};

G_DEFINE_FINAL_TYPE (ProcessInput, process_input, G_TYPE_INPUT_STREAM)

/* Under @lock: acknowledges what the reader took once it is a quarter of
 * the window, so that the agent reads on before the reader runs dry. */
static void
output_maybe_ack (ProcessState *state,
                  int           stream,
                  gboolean      force)
{
  OutputState *out = &state->out[stream];

  if (!state->started || state->done || out->consumed == out->ack_sent ||
      (!force && out->consumed - out->ack_sent < state->window / 4))
    return;
  out->ack_sent = out->consumed;
  /* Unlocked: _mitogen_process_state_send takes the lock. */
  g_mutex_unlock (&state->lock);
  _mitogen_process_state_send (state, stream == PROCESS_STDOUT ? "stdout-ack" : "stderr-ack",
              g_variant_new_uint64 (out->ack_sent), NULL);
  g_mutex_lock (&state->lock);
}

/* Under @lock: moves up to @count queued bytes of @stream to @buffer. */
static gsize
output_take (ProcessState *state,
             int           stream,
             void         *buffer,
             gsize         count)
{
  OutputState *out = &state->out[stream];
  gsize n = 0;

  while (!g_queue_is_empty (&out->chunks) && n < count)
    {
      GBytes *head = g_queue_peek_head (&out->chunks);
      gsize size;
      const guint8 *data = g_bytes_get_data (head, &size);
      gsize take = MIN (count - n, size - out->offset);

      memcpy ((guint8 *) buffer + n, data + out->offset, take);
      n += take;
      out->offset += take;
      if (out->offset == size)
        {
          g_bytes_unref (g_queue_pop_head (&out->chunks));
          out->offset = 0;
        }
    }
  out->consumed += n;
  return n;
}

static gssize
process_input_read (GInputStream  *stream,
                    void          *buffer,
                    gsize          count,
                    GCancellable  *cancellable,
                    GError       **error)
{
  ProcessInput *self = (ProcessInput *) stream;
  ProcessState *state = self->state;
  OutputState *out = &state->out[self->stream];
  gulong watch = _mitogen_process_state_watch (state, cancellable);
  gssize n = -1;

  g_mutex_lock (&state->lock);
  while (g_queue_is_empty (&out->chunks) && !out->eof)
    if (!_mitogen_process_state_wait (state, cancellable, error))
      goto out;
  n = output_take (state, self->stream, buffer, count);
  if (n == 0 && state->error != NULL)
    {
      g_propagate_error (error, g_error_copy (state->error));
      n = -1;
    }
  else
    output_maybe_ack (state, self->stream, FALSE);
out:
  g_mutex_unlock (&state->lock);
  if (watch != 0)
    g_cancellable_disconnect (cancellable, watch);
  return n;
}

static void
process_input_read_async (GInputStream        *stream,
                          void                *buffer,
                          gsize                count,
                          int                  io_priority,
                          GCancellable        *cancellable,
                          GAsyncReadyCallback  callback,
                          gpointer             user_data)
{
  ProcessInput *self = (ProcessInput *) stream;
  GTask *task = g_task_new (stream, cancellable, callback, user_data);

  g_task_set_source_tag (task, process_input_read_async);
  g_task_set_priority (task, io_priority);
  _mitogen_process_state_watch_async (self->state, task, self->stream, buffer, count);
}

static gssize
process_input_read_finish (GInputStream  *stream,
                           GAsyncResult  *result,
                           GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, stream), -1);
  return g_task_propagate_int (G_TASK (result), error);
}

/* Closing drops what is queued and what comes: the process is never
 * paused by output nobody reads. */
static gboolean
process_input_close (GInputStream  *stream,
                     GCancellable  *cancellable,
                     GError       **error)
{
  ProcessInput *self = (ProcessInput *) stream;
  OutputState *out = &self->state->out[self->stream];

  g_mutex_lock (&self->state->lock);
  out->discard = TRUE;
  while (!g_queue_is_empty (&out->chunks))
    {
      g_autoptr(GBytes) head = g_queue_pop_head (&out->chunks);

      out->consumed += g_bytes_get_size (head) - out->offset;
      out->offset = 0;
    }
  output_maybe_ack (self->state, self->stream, TRUE);
  g_mutex_unlock (&self->state->lock);
  return TRUE;
}

static void
process_input_finalize (GObject *object)
{
  g_clear_pointer (&((ProcessInput *) object)->state, _mitogen_process_state_unref);
  G_OBJECT_CLASS (process_input_parent_class)->finalize (object);
}

static void
process_input_class_init (ProcessInputClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = process_input_finalize;
  G_INPUT_STREAM_CLASS (klass)->read_fn = process_input_read;
  G_INPUT_STREAM_CLASS (klass)->read_async = process_input_read_async;
  G_INPUT_STREAM_CLASS (klass)->read_finish = process_input_read_finish;
  G_INPUT_STREAM_CLASS (klass)->close_fn = process_input_close;
}

static void
process_input_init (ProcessInput *self)
{
}

/* ---- waiting without a thread ---- */

struct _ProcessWatch
{
  ProcessState *state;      /* owned until the task returns */
  GTask        *task;       /* owned until it returns */
  int           kind;       /* PROCESS_STDOUT ... PROCESS_DONE */
  void         *buffer;     /* a read's: the caller's */
  gsize         count;
  gulong        cancel_id;  /* on the task's cancellable, or 0 */
  gssize        taken;      /* a read's result, settled under the lock */
  GError       *error;      /* the failure, settled under the lock */
};

static void
watch_release (gpointer data)
{
  g_atomic_rc_box_release (data);
}

/* Under @lock: whether @watch can complete now. */
static gboolean
watch_ready (ProcessState       *state,
             const ProcessWatch *watch)
{
  if (watch->kind == PROCESS_STARTED)
    return state->started || state->done;
  if (watch->kind == PROCESS_DONE)
    return state->done;
  return !g_queue_is_empty (&state->out[watch->kind].chunks) || state->out[watch->kind].eof;
}

/* Under @lock: takes @watch's result from the state. */
static void
watch_settle (ProcessState *state,
              ProcessWatch *watch)
{
  gboolean failed;

  if (watch->kind == PROCESS_STARTED)
    failed = !state->started;
  else if (watch->kind == PROCESS_DONE)
    failed = state->error != NULL;
  else
    failed = (watch->taken = output_take (state, watch->kind, watch->buffer, watch->count)) == 0 &&
             state->error != NULL;
  if (failed)
    watch->error = state->error != NULL ? g_error_copy (state->error)
                   : g_error_new (MITOGEN_ERROR, MITOGEN_ERROR_FAILED, "the process ended before it started");
}

/* Not under @lock: returns the settled result; takes the caller's ref. */
static void
watch_return (ProcessWatch *watch)
{
  ProcessState *state = watch->state;
  g_autoptr(GTask) task = g_steal_pointer (&watch->task);

  if (watch->cancel_id != 0)
    g_cancellable_disconnect (g_task_get_cancellable (task), watch->cancel_id);
  if (watch->error != NULL)
    g_task_return_error (task, g_steal_pointer (&watch->error));
  else if (watch->kind == PROCESS_STARTED)
    g_task_return_pointer (task, _mitogen_process_new (state), g_object_unref);
  else if (watch->kind == PROCESS_DONE)
    g_task_return_boolean (task, TRUE);
  else
    {
      g_mutex_lock (&state->lock);
      output_maybe_ack (state, watch->kind, FALSE);
      g_mutex_unlock (&state->lock);
      g_task_return_int (task, watch->taken);
    }
  g_clear_pointer (&watch->state, _mitogen_process_state_unref);
  watch_release (watch);
}

/* Any thread: a cancelled watch that is still waiting fails; a cancelled
 * start or wait also cancels proc.start (its process group is killed). */
static void
watch_cancelled (GCancellable *cancellable,
                 gpointer      data)
{
  ProcessWatch *watch = data;
  ProcessState *state = watch->state;
  GList *link;

  g_mutex_lock (&state->lock);
  link = g_list_find (state->watches, watch);
  if (link != NULL)
    state->watches = g_list_delete_link (state->watches, link);
  g_mutex_unlock (&state->lock);
  if (link == NULL)
    return;
  if (watch->kind == PROCESS_STARTED || watch->kind == PROCESS_DONE)
    _mitogen_call_send_cancel (state->context, state->events);
  g_task_return_error_if_cancelled (watch->task);
  /* The handler keeps its reference (it cannot disconnect itself), but
   * not the task, which holds the cancellable. */
  g_clear_object (&watch->task);
  g_clear_pointer (&watch->state, _mitogen_process_state_unref);
  watch_release (watch);
}

void
_mitogen_process_state_watch_async (ProcessState *state,
                                    GTask        *task,
                                    int           kind,
                                    void         *buffer,
                                    gsize         count)
{
  ProcessWatch *watch = g_atomic_rc_box_new0 (ProcessWatch);
  GCancellable *cancellable = g_task_get_cancellable (task);
  gboolean ready;

  watch->state = g_atomic_rc_box_acquire (state);
  watch->task = task;
  watch->kind = kind;
  watch->buffer = buffer;
  watch->count = count;
  /* Connected before it is listed: a cancel that comes meanwhile finds
   * nothing to do, and is seen below. */
  if (cancellable != NULL)
    watch->cancel_id = g_cancellable_connect (cancellable, G_CALLBACK (watch_cancelled),
                                              g_atomic_rc_box_acquire (watch), watch_release);
  g_mutex_lock (&state->lock);
  ready = g_cancellable_is_cancelled (cancellable) || watch_ready (state, watch);
  if (g_cancellable_is_cancelled (cancellable))
    g_cancellable_set_error_if_cancelled (cancellable, &watch->error);
  else if (ready)
    watch_settle (state, watch);
  else
    state->watches = g_list_append (state->watches, watch);
  g_mutex_unlock (&state->lock);
  if (ready && watch->error != NULL && g_error_matches (watch->error, G_IO_ERROR, G_IO_ERROR_CANCELLED) &&
      (kind == PROCESS_STARTED || kind == PROCESS_DONE))
    _mitogen_call_send_cancel (state->context, state->events);
  if (ready)
    watch_return (watch);
}

void
_mitogen_process_state_run_watches (ProcessState *state)
{
  GList *ready = NULL;

  g_mutex_lock (&state->lock);
  for (GList *l = state->watches, *next; l != NULL; l = next)
    {
      next = l->next;
      if (!watch_ready (state, l->data))
        continue;
      watch_settle (state, l->data);
      state->watches = g_list_remove_link (state->watches, l);
      ready = g_list_concat (ready, l);
    }
  g_mutex_unlock (&state->lock);
  for (GList *l = ready; l != NULL; l = l->next)
    watch_return (l->data);
  g_list_free (ready);
}

#define TYPE_PROCESS_OUTPUT (process_output_get_type ())
G_DECLARE_FINAL_TYPE (ProcessOutput, process_output, MITOGEN, PROCESS_OUTPUT, GOutputStream)

struct _ProcessOutput
{
  GOutputStream  parent_instance;
  ProcessState  *state;  /* owned; immutable */
};

G_DEFINE_FINAL_TYPE (ProcessOutput, process_output, G_TYPE_OUTPUT_STREAM)

static gssize
process_output_write (GOutputStream  *stream,
                      const void     *buffer,
                      gsize           count,
                      GCancellable   *cancellable,
                      GError        **error)
{
  ProcessState *state = ((ProcessOutput *) stream)->state;
  gulong watch = _mitogen_process_state_watch (state, cancellable);
  gssize n = -1;

  g_mutex_lock (&state->lock);
  while (!state->done && state->stdin_sent - state->stdin_acked >= state->window)
    if (!_mitogen_process_state_wait (state, cancellable, error))
      goto out;
  if (state->done)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE,
                   "the process has ended: it takes no more input");
      goto out;
    }
  n = MIN (MIN (count, MITOGEN_PROCESS_STDIN_CHUNK), state->window - (state->stdin_sent - state->stdin_acked));
  state->stdin_sent += n;
  g_mutex_unlock (&state->lock);
  if (!_mitogen_process_state_send (state, "stdin", g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, buffer, n, 1),
                   error))
    n = -1;
  g_mutex_lock (&state->lock);
out:
  g_mutex_unlock (&state->lock);
  if (watch != 0)
    g_cancellable_disconnect (cancellable, watch);
  return n;
}

static gboolean
process_output_close (GOutputStream  *stream,
                      GCancellable   *cancellable,
                      GError        **error)
{
  ProcessState *state = ((ProcessOutput *) stream)->state;
  gboolean done;

  g_mutex_lock (&state->lock);
  done = state->done;
  g_mutex_unlock (&state->lock);
  return done || _mitogen_process_state_send (state, "stdin-eof", g_variant_new ("()"), error);
}

static void
process_output_finalize (GObject *object)
{
  g_clear_pointer (&((ProcessOutput *) object)->state, _mitogen_process_state_unref);
  G_OBJECT_CLASS (process_output_parent_class)->finalize (object);
}

static void
process_output_class_init (ProcessOutputClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = process_output_finalize;
  G_OUTPUT_STREAM_CLASS (klass)->write_fn = process_output_write;
  G_OUTPUT_STREAM_CLASS (klass)->close_fn = process_output_close;
}

static void
process_output_init (ProcessOutput *self)
{
}

GInputStream *
_mitogen_process_input_new (ProcessState *state,
                            int           stream)
{
  ProcessInput *self = g_object_new (TYPE_PROCESS_INPUT, NULL);

  self->state = g_atomic_rc_box_acquire (state);
  self->stream = stream;
  return G_INPUT_STREAM (self);
}

GOutputStream *
_mitogen_process_output_new (ProcessState *state)
{
  ProcessOutput *self = g_object_new (TYPE_PROCESS_OUTPUT, NULL);

  self->state = g_atomic_rc_box_acquire (state);
  return G_OUTPUT_STREAM (self);
}
