/* mitogen-process.c: a process running in a context, its pipes as GIO
 * streams (the caller's end of proc.start, mitogen-builtins-proc-start.c).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "mitogen-call-queue-private.h"
#include "mitogen-message-private.h"
#include "mitogen-process-private.h"

/**
 * MitogenProcess:
 *
 * A process started in a context with mitogen_context_spawn(). Its stdout
 * and stderr are #GInputStream<!-- -->s that deliver output as the process
 * writes it, and its stdin a #GOutputStream; each stream has a window
 * (1 MiB unless the "window" option says otherwise): a reader that falls
 * behind pauses the remote process instead of filling memory.
 *
 * Waiting gives the exit status, or the signal that killed it. Cancelling
 * a wait, or dropping the last reference to the process before it ended,
 * kills its whole process group; losing the context fails the reads and
 * the wait with %MITOGEN_ERROR_CHANNEL.
 */

static void
state_clear (gpointer data)
{
  ProcessState *state = data;

  for (int i = 0; i < 2; i++)
    g_queue_clear_full (&state->out[i].chunks, (GDestroyNotify) g_bytes_unref);
  g_clear_error (&state->error);
  g_mutex_clear (&state->lock);
  g_cond_clear (&state->cond);
  g_clear_object (&state->context);
  g_clear_object (&state->router);
}

void
_mitogen_process_state_unref (gpointer state)
{
  g_atomic_rc_box_release_full (state, state_clear);
}

/* Sends one control message (`(sv)`, floating) to the agent. */
gboolean
_mitogen_process_state_send (ProcessState  *state,
            const char    *kind,
            GVariant      *value,
            GError       **error)
{
  g_autoptr(MitogenMessage) msg = NULL;
  guint32 control;

  g_mutex_lock (&state->lock);
  control = state->control;
  g_mutex_unlock (&state->lock);
  msg = mitogen_message_new (mitogen_context_get_id (state->context), control,
                             g_variant_new ("(sv)", kind, value));
  return mitogen_context_send (state->context, msg, error);
}

/* Under @lock: the process is over, with @error when it failed. */
static void
state_finish (ProcessState *state,
              GError       *error)
{
  if (state->done)
    {
      g_clear_error (&error);
      return;
    }
  state->done = TRUE;
  state->error = error;
  if (error != NULL)
    for (int i = 0; i < 2; i++)
      state->out[i].eof = TRUE;
}

/* Under @lock: one event from the agent. */
static void
state_apply (ProcessState *state,
             const char   *kind,
             GVariant     *value)
{
  int stream = g_str_has_prefix (kind, "stdout") ? PROCESS_STDOUT : PROCESS_STDERR;

  if (g_str_equal (kind, "started") && g_variant_is_of_type (value, G_VARIANT_TYPE ("(ui)")))
    {
      g_variant_get (value, "(ui)", &state->control, &state->pid);
      state->started = TRUE;
    }
  else if ((g_str_equal (kind, "stdout") || g_str_equal (kind, "stderr")) &&
           g_variant_is_of_type (value, G_VARIANT_TYPE_BYTESTRING))
    {
      OutputState *out = &state->out[stream];

      if (out->discard)
        out->consumed += g_variant_get_size (value);
      else if (g_variant_get_size (value) > 0)
        g_queue_push_tail (&out->chunks, g_variant_get_data_as_bytes (value));
    }
  else if (g_str_equal (kind, "stdout-eof") || g_str_equal (kind, "stderr-eof"))
    state->out[stream].eof = TRUE;
  else if (g_str_equal (kind, "stdin-ack") && g_variant_is_of_type (value, G_VARIANT_TYPE_UINT64))
    state->stdin_acked = MAX (state->stdin_acked, g_variant_get_uint64 (value));
  else
    g_debug ("proc.start: event “%s” of type '%s' ignored", kind, g_variant_get_type_string (value));
}

/* Broker thread: events, then the call's reply, or a dead message. */
static void
on_event (MitogenMessage *msg,
          gpointer        data)
{
  ProcessState *state = data;
  g_autoptr(GVariant) body = NULL;
  GError *error = NULL;
  guint64 acks[2];
  gboolean done;

  body = mitogen_message_unpack (msg, &error);
  g_mutex_lock (&state->lock);
  if (body == NULL)
    state_finish (state, error);
  else if (g_variant_is_of_type (body, G_VARIANT_TYPE ("(sv)")))
    {
      g_autoptr(GVariant) value = g_variant_get_child_value (body, 1);
      g_autoptr(GVariant) inner = g_variant_get_variant (value);
      const char *kind;

      g_variant_get_child (body, 0, "&s", &kind);
      state_apply (state, kind, inner);
    }
  else if (g_variant_is_of_type (body, G_VARIANT_TYPE_INT32))
    {
      state->status = g_variant_get_int32 (body);
      state_finish (state, NULL);
    }
  g_cond_broadcast (&state->cond);
  done = state->done;
  for (int i = 0; i < 2; i++)
    {
      OutputState *out = &state->out[i];

      acks[i] = 0;
      /* A closed stream is read by nobody: its output is acknowledged as
       * it comes, so that the process is never paused for it. */
      if (out->discard && !done && out->consumed - out->ack_sent >= state->window / 4)
        acks[i] = out->ack_sent = out->consumed;
    }
  g_mutex_unlock (&state->lock);
  for (int i = 0; i < 2; i++)
    if (acks[i] != 0)
      _mitogen_process_state_send (state, i == PROCESS_STDOUT ? "stdout-ack" : "stderr-ack",
                                   g_variant_new_uint64 (acks[i]), NULL);
  _mitogen_process_state_run_watches (state);
  /* Last: it may drop the last reference to @state. */
  if (done)
    mitogen_router_del_handler (state->router, state->events);
}

static void
wake_waiters (GCancellable *cancellable,
              gpointer      data)
{
  ProcessState *state = data;

  g_mutex_lock (&state->lock);
  g_cond_broadcast (&state->cond);
  g_mutex_unlock (&state->lock);
}

/* Under @lock: waits on @cond until woken or cancelled; FALSE with
 * @error when cancelled. */
gboolean
_mitogen_process_state_wait (ProcessState  *state,
            GCancellable  *cancellable,
            GError       **error)
{
  if (g_cancellable_set_error_if_cancelled (cancellable, error))
    return FALSE;
  g_cond_wait (&state->cond, &state->lock);
  return !g_cancellable_set_error_if_cancelled (cancellable, error);
}

/* Connects @cancellable to wake the waiters; 0 without one. */
gulong
_mitogen_process_state_watch (ProcessState *state,
             GCancellable *cancellable)
{
  return cancellable != NULL
    ? g_cancellable_connect (cancellable, G_CALLBACK (wake_waiters), state, NULL) : 0;
}

/* ---- the process ---- */

struct _MitogenProcess
{
  GObject        parent_instance;
  ProcessState  *state;      /* owned; immutable */
  GOutputStream *stdin_pipe;  /* owned; immutable */
  GInputStream  *stdout_pipe; /* owned; immutable */
  GInputStream  *stderr_pipe; /* owned; immutable */
};

G_DEFINE_FINAL_TYPE (MitogenProcess, mitogen_process, G_TYPE_OBJECT)

static void
mitogen_process_finalize (GObject *object)
{
  MitogenProcess *self = MITOGEN_PROCESS (object);
  ProcessState *state = self->state;
  gboolean done;

  g_mutex_lock (&state->lock);
  done = state->done;
  g_mutex_unlock (&state->lock);
  /* Nobody can wait for it any more: it dies with its group. The handler
   * stays until the reply comes, for the streams still held. */
  if (!done)
    _mitogen_call_send_cancel (state->context, state->events);
  g_clear_object (&self->stdin_pipe);
  g_clear_object (&self->stdout_pipe);
  g_clear_object (&self->stderr_pipe);
  g_clear_pointer (&self->state, _mitogen_process_state_unref);
  G_OBJECT_CLASS (mitogen_process_parent_class)->finalize (object);
}

static void
mitogen_process_class_init (MitogenProcessClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = mitogen_process_finalize;
}

static void
mitogen_process_init (MitogenProcess *self)
{
}

MitogenProcess *
_mitogen_process_new (ProcessState *state)
{
  MitogenProcess *self = g_object_new (MITOGEN_TYPE_PROCESS, NULL);

  self->state = g_atomic_rc_box_acquire (state);
  self->stdout_pipe = _mitogen_process_input_new (state, PROCESS_STDOUT);
  self->stderr_pipe = _mitogen_process_input_new (state, PROCESS_STDERR);
  self->stdin_pipe = _mitogen_process_output_new (state);
  return self;
}

/* The "window" option, when it is there and sane. */
static guint64
window_from_options (GVariant *options)
{
  guint64 window = MITOGEN_PROCESS_DEFAULT_WINDOW;

  if (options != NULL)
    g_variant_lookup (options, "window", "t", &window);
  return CLAMP (window, 128 * 1024, (guint64) 64 * 1024 * 1024);
}

/* Sends proc.start for @argv: the state its events will update, with
 * the caller's reference; NULL with @error when @context has no router
 * (or, with @check_thread, this is its broker thread). */
static ProcessState *
state_start (MitogenContext     *context,
             const char * const *argv,
             GVariant           *options,
             gboolean            check_thread,
             GError            **error)
{
  g_autoptr(GVariant) sunk = options != NULL ? g_variant_ref_sink (options) : NULL;
  g_autoptr(GVariant) dict = sunk != NULL ? g_variant_ref (sunk) : g_variant_ref_sink (g_variant_new ("a{sv}", NULL));
  g_autoptr(MitogenMessage) msg = NULL;
  ProcessState *state;

  g_return_val_if_fail (g_variant_is_of_type (dict, G_VARIANT_TYPE_VARDICT), NULL);
  state = g_atomic_rc_box_new0 (ProcessState);
  g_mutex_init (&state->lock);
  g_cond_init (&state->cond);
  state->context = g_object_ref (context);
  state->router = mitogen_context_dup_router (context);
  state->window = window_from_options (dict);
  if (state->router == NULL ||
      (check_thread && !_mitogen_check_not_broker (mitogen_router_get_broker (state->router),
                                                   "mitogen_context_spawn()", error)))
    {
      if (state->router == NULL)
        g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_FAILED, "the router of context %s is gone",
                     mitogen_context_get_name (context));
      _mitogen_process_state_unref (state);
      return NULL;
    }
  state->events = mitogen_router_add_handler (state->router, 0, context, on_event,
                                              g_atomic_rc_box_acquire (state), _mitogen_process_state_unref);
  msg = mitogen_message_new (mitogen_context_get_id (context), MITOGEN_HANDLE_CALL_FUNCTION,
                             g_variant_new ("(sv)", "proc.start",
                                            g_variant_new ("(^as@a{sv})", argv, dict)));
  msg->reply_to = state->events;
  mitogen_router_route (state->router, msg, NULL);
  return state;
}

/**
 * mitogen_context_spawn:
 * @context: a context
 * @argv: (array zero-terminated=1): the command and its arguments; the
 *   command is looked for in the context's `PATH`
 * @options: (nullable): an `a{sv}`: "cwd" (s), "env" (a{ss}, added to the
 *   context's environment), "timeout" (d seconds, 0 for none), "pty" (b:
 *   a pseudo-terminal for stdin, stdout and stderr), "rows" and "cols" (q,
 *   its size), "stdin" (b, %FALSE for /dev/null), "window" (t, bytes in
 *   flight per stream); a floating reference is sunk
 * @cancellable: (nullable): cancels the start (and kills the process)
 * @error: return location for a #GError
 *
 * Starts a process in @context and returns once it runs. A program that
 * cannot be started fails with the #G_IO_ERROR a local spawn would give
 * (%G_IO_ERROR_NOT_FOUND for a missing one). Not on the broker thread.
 *
 * Returns: (transfer full): the process, or %NULL with @error set
 */
MitogenProcess *
mitogen_context_spawn (MitogenContext      *context,
                       const char * const  *argv,
                       GVariant            *options,
                       GCancellable        *cancellable,
                       GError             **error)
{
  ProcessState *state;
  MitogenProcess *process = NULL;
  gulong watch;

  g_return_val_if_fail (MITOGEN_IS_CONTEXT (context), NULL);
  g_return_val_if_fail (argv != NULL && argv[0] != NULL, NULL);

  state = state_start (context, argv, options, TRUE, error);
  if (state == NULL)
    return NULL;
  watch = _mitogen_process_state_watch (state, cancellable);
  g_mutex_lock (&state->lock);
  while (!state->started && !state->done)
    if (!_mitogen_process_state_wait (state, cancellable, error))
      break;
  if (state->started)
    process = _mitogen_process_new (state);
  else if (state->done)
    g_propagate_error (error, g_error_copy (state->error));
  g_mutex_unlock (&state->lock);
  if (watch != 0)
    g_cancellable_disconnect (cancellable, watch);
  if (process == NULL)
    _mitogen_call_send_cancel (context, state->events);
  else
    g_clear_error (error);
  _mitogen_process_state_unref (state);
  return process;
}

/**
 * mitogen_context_spawn_async:
 * @context: a context
 * @argv: (array zero-terminated=1): the command and its arguments
 * @options: (nullable): as for mitogen_context_spawn()
 * @cancellable: (nullable): cancels the start
 * @callback: (scope async): called once the process runs or failed to start
 * @user_data: data for @callback
 *
 * Starts a process in @context without blocking, and without a thread:
 * the broker thread completes it; see mitogen_context_spawn().
 */
void
mitogen_context_spawn_async (MitogenContext      *context,
                             const char * const  *argv,
                             GVariant            *options,
                             GCancellable        *cancellable,
                             GAsyncReadyCallback  callback,
                             gpointer             user_data)
{
  GError *error = NULL;
  ProcessState *state;
  GTask *task;

  g_return_if_fail (MITOGEN_IS_CONTEXT (context));
  g_return_if_fail (argv != NULL && argv[0] != NULL);

  task = g_task_new (context, cancellable, callback, user_data);
  g_task_set_source_tag (task, mitogen_context_spawn_async);
  state = state_start (context, argv, options, FALSE, &error);
  if (state == NULL)
    {
      g_task_return_error (task, error);
      g_object_unref (task);
      return;
    }
  _mitogen_process_state_watch_async (state, task, PROCESS_STARTED, NULL, 0);
  _mitogen_process_state_unref (state);
}

/**
 * mitogen_context_spawn_finish:
 * @context: a context
 * @result: the result given to the callback
 * @error: return location for a #GError
 *
 * Finishes mitogen_context_spawn_async().
 *
 * Returns: (transfer full): the process, or %NULL with @error set
 */
MitogenProcess *
mitogen_context_spawn_finish (MitogenContext  *context,
                              GAsyncResult    *result,
                              GError         **error)
{
  g_return_val_if_fail (g_task_is_valid (result, context), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

/**
 * mitogen_process_get_stdin:
 * @process: a process
 *
 * Gets the process's stdin. Closing it sends end-of-file (on a pty, the
 * terminal's EOF character). Writes block while a window of data is on
 * its way, and fail with %G_IO_ERROR_BROKEN_PIPE once the process ended.
 *
 * Returns: (transfer none): the stream to the process's stdin
 */
GOutputStream *
mitogen_process_get_stdin (MitogenProcess *process)
{
  g_return_val_if_fail (MITOGEN_IS_PROCESS (process), NULL);
  return process->stdin_pipe;
}

/**
 * mitogen_process_get_stdout:
 * @process: a process
 *
 * Gets the process's stdout (with a pty: everything the terminal shows).
 * Closing it before its end drops the rest, so that the process is never
 * paused by output nobody reads.
 *
 * Returns: (transfer none): the stream of the process's stdout
 */
GInputStream *
mitogen_process_get_stdout (MitogenProcess *process)
{
  g_return_val_if_fail (MITOGEN_IS_PROCESS (process), NULL);
  return process->stdout_pipe;
}

/**
 * mitogen_process_get_stderr:
 * @process: a process
 *
 * Gets the process's stderr; with a pty it is empty.
 *
 * Returns: (transfer none): the stream of the process's stderr
 */
GInputStream *
mitogen_process_get_stderr (MitogenProcess *process)
{
  g_return_val_if_fail (MITOGEN_IS_PROCESS (process), NULL);
  return process->stderr_pipe;
}

/**
 * mitogen_process_get_pid:
 * @process: a process
 *
 * Gets the process's id in its context's pid namespace, which also names
 * its process group there.
 *
 * Returns: the remote pid
 */
int
mitogen_process_get_pid (MitogenProcess *process)
{
  int pid;

  g_return_val_if_fail (MITOGEN_IS_PROCESS (process), 0);
  g_mutex_lock (&process->state->lock);
  pid = process->state->pid;
  g_mutex_unlock (&process->state->lock);
  return pid;
}

/**
 * mitogen_process_wait:
 * @process: a process
 * @cancellable: (nullable): cancelling kills the process's group
 * @error: return location for a #GError
 *
 * Waits for the process to end and its output to be sent. Read its
 * output meanwhile (from another thread, or asynchronously): a process
 * whose window is full waits for its reader. Fails with
 * %MITOGEN_ERROR_CHANNEL when the context is lost, %G_IO_ERROR_TIMED_OUT
 * after the "timeout" option, %G_IO_ERROR_CANCELLED when cancelled.
 *
 * Returns: %TRUE once it ended (see mitogen_process_get_if_exited())
 */
gboolean
mitogen_process_wait (MitogenProcess  *process,
                      GCancellable    *cancellable,
                      GError         **error)
{
  ProcessState *state;
  gboolean ok = TRUE;
  gulong watch;

  g_return_val_if_fail (MITOGEN_IS_PROCESS (process), FALSE);
  state = process->state;
  watch = _mitogen_process_state_watch (state, cancellable);
  g_mutex_lock (&state->lock);
  while (ok && !state->done)
    ok = _mitogen_process_state_wait (state, cancellable, error);
  if (ok && state->error != NULL)
    {
      g_propagate_error (error, g_error_copy (state->error));
      ok = FALSE;
    }
  g_mutex_unlock (&state->lock);
  if (watch != 0)
    g_cancellable_disconnect (cancellable, watch);
  if (g_cancellable_is_cancelled (cancellable))
    _mitogen_call_send_cancel (state->context, state->events);
  return ok;
}

/**
 * mitogen_process_wait_async:
 * @process: a process
 * @cancellable: (nullable): cancelling kills the process's group
 * @callback: (scope async): called once it ended
 * @user_data: data for @callback
 *
 * Waits for the process to end without blocking, and without a thread;
 * see mitogen_process_wait().
 */
void
mitogen_process_wait_async (MitogenProcess      *process,
                            GCancellable        *cancellable,
                            GAsyncReadyCallback  callback,
                            gpointer             user_data)
{
  GTask *task;

  g_return_if_fail (MITOGEN_IS_PROCESS (process));
  task = g_task_new (process, cancellable, callback, user_data);
  g_task_set_source_tag (task, mitogen_process_wait_async);
  _mitogen_process_state_watch_async (process->state, task, PROCESS_DONE, NULL, 0);
}

/**
 * mitogen_process_wait_finish:
 * @process: a process
 * @result: the result given to the callback
 * @error: return location for a #GError
 *
 * Finishes mitogen_process_wait_async().
 *
 * Returns: %TRUE once it ended
 */
gboolean
mitogen_process_wait_finish (MitogenProcess  *process,
                             GAsyncResult    *result,
                             GError         **error)
{
  g_return_val_if_fail (g_task_is_valid (result, process), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

/* The status once the process ended without an error, else @fallback. */
static int
process_status (MitogenProcess *process,
                gboolean        want_signal,
                int             fallback)
{
  ProcessState *state = process->state;
  int result = fallback;

  g_mutex_lock (&state->lock);
  if (state->done && state->error == NULL && (state->status < 0) == want_signal)
    result = want_signal ? -state->status : state->status;
  g_mutex_unlock (&state->lock);
  return result;
}

/**
 * mitogen_process_get_if_exited:
 * @process: a process that ended
 *
 * Tells whether the process exited, after a wait succeeded.
 *
 * Returns: %TRUE if it exited (rather than being killed by a signal)
 */
gboolean
mitogen_process_get_if_exited (MitogenProcess *process)
{
  g_return_val_if_fail (MITOGEN_IS_PROCESS (process), FALSE);
  return process_status (process, FALSE, -1) >= 0;
}

/**
 * mitogen_process_get_exit_status:
 * @process: a process that exited
 *
 * Gets the code the process exited with, after a wait succeeded.
 *
 * Returns: its exit code, or -1 if it did not exit
 */
int
mitogen_process_get_exit_status (MitogenProcess *process)
{
  g_return_val_if_fail (MITOGEN_IS_PROCESS (process), -1);
  return process_status (process, FALSE, -1);
}

/**
 * mitogen_process_get_if_signaled:
 * @process: a process that ended
 *
 * Tells whether a signal killed the process, after a wait succeeded.
 *
 * Returns: %TRUE if a signal killed it
 */
gboolean
mitogen_process_get_if_signaled (MitogenProcess *process)
{
  g_return_val_if_fail (MITOGEN_IS_PROCESS (process), FALSE);
  return process_status (process, TRUE, 0) > 0;
}

/**
 * mitogen_process_get_term_sig:
 * @process: a process a signal killed
 *
 * Gets the signal that killed the process, after a wait succeeded.
 *
 * Returns: the signal that killed it, or 0
 */
int
mitogen_process_get_term_sig (MitogenProcess *process)
{
  g_return_val_if_fail (MITOGEN_IS_PROCESS (process), 0);
  return process_status (process, TRUE, 0);
}

/**
 * mitogen_process_send_signal:
 * @process: a process
 * @signum: a signal number, as the context's system numbers them
 * @error: return location for a #GError
 *
 * Sends @signum to the process's group (best effort: a process that ended
 * meanwhile ignores it).
 *
 * Returns: %TRUE if the request was sent
 */
gboolean
mitogen_process_send_signal (MitogenProcess  *process,
                             int              signum,
                             GError         **error)
{
  g_return_val_if_fail (MITOGEN_IS_PROCESS (process), FALSE);
  return _mitogen_process_state_send (process->state, "signal", g_variant_new_int32 (signum), error);
}

/**
 * mitogen_process_resize:
 * @process: a process started with the "pty" option
 * @rows: the terminal's rows
 * @cols: the terminal's columns
 * @error: return location for a #GError
 *
 * Sets the size of the process's pseudo-terminal, which sends it SIGWINCH.
 *
 * Returns: %TRUE if the request was sent
 */
gboolean
mitogen_process_resize (MitogenProcess  *process,
                        guint            rows,
                        guint            cols,
                        GError         **error)
{
  g_return_val_if_fail (MITOGEN_IS_PROCESS (process), FALSE);
  return _mitogen_process_state_send (process->state, "resize",
                     g_variant_new ("(qq)", (guint16) MIN (rows, G_MAXUINT16),
                                    (guint16) MIN (cols, G_MAXUINT16)), error);
}
