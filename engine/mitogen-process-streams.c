/* mitogen-process-streams.c: a remote process's pipes as GIO streams.
 * Reads and writes block on the shared state; the async variants are
 * GIO's defaults, which run them in its worker threads.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <string.h>

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
input_maybe_ack (ProcessInput *self,
                 gboolean      force)
{
  ProcessState *state = self->state;
  OutputState *out = &state->out[self->stream];

  if (!state->started || state->done || out->consumed == out->ack_sent ||
      (!force && out->consumed - out->ack_sent < state->window / 4))
    return;
  out->ack_sent = out->consumed;
  /* Unlocked: _mitogen_process_state_send takes the lock. */
  g_mutex_unlock (&state->lock);
  _mitogen_process_state_send (state, self->stream == PROCESS_STDOUT ? "stdout-ack" : "stderr-ack",
              g_variant_new_uint64 (out->ack_sent), NULL);
  g_mutex_lock (&state->lock);
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
  n = 0;
  while (!g_queue_is_empty (&out->chunks) && (gsize) n < count)
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
  if (n == 0 && state->error != NULL)
    {
      g_propagate_error (error, g_error_copy (state->error));
      n = -1;
    }
  else
    input_maybe_ack (self, FALSE);
out:
  g_mutex_unlock (&state->lock);
  if (watch != 0)
    g_cancellable_disconnect (cancellable, watch);
  return n;
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
  input_maybe_ack (self, TRUE);
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
  G_INPUT_STREAM_CLASS (klass)->close_fn = process_input_close;
}

static void
process_input_init (ProcessInput *self)
{
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
