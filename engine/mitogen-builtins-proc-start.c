/* mitogen-builtins-proc-start.c: proc.start, a process whose stdin, stdout
 * and stderr stream between it and its caller while it runs.
 *
 * The protocol. The call's reply handle receives events, each a `(sv)`:
 *   ("started", <(u control, i pid)>)  first, before any output
 *   ("stdout", <ay>), ("stderr", <ay>) output, in order per stream
 *   ("stdout-eof", <()>), ("stderr-eof", <()>)
 *   ("stdin-ack", <t>)  bytes of stdin taken so far (written or dropped)
 * and then the call's reply: the exit status, or -N for signal N.
 * The caller sends `(sv)` messages to the control handle:
 *   ("stdin", <ay>), ("stdin-eof", <()>)
 *   ("stdout-ack", <t>), ("stderr-ack", <t>)  bytes consumed so far
 *   ("signal", <i>), ("resize", <(qq)>) rows, columns of the pty
 * Flow control: at most @window bytes of a stream are sent and not yet
 * acknowledged; the agent stops reading that pipe until acks come (the
 * child then blocks in write, as with any pipe). The caller keeps the
 * same window on stdin. The control handle hears only the caller; what a
 * peer gets wrong (acks beyond what was sent, stdin beyond its window,
 * unknown messages) is logged and ignored or closes stdin, never more.
 *
 * One thread per process moves the bytes; the broker thread runs the
 * control handler, which only updates state under @lock and wakes it.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1  /* posix_openpt, ptsname */
#endif
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <glib-unix.h>

#include "mitogen-builtins-proc-private.h"
#include "mitogen-message-private.h"

/* Bytes read from a pipe at once, and so the largest output message. */
#define CHUNK_SIZE (256 * 1024)
#define DEFAULT_WINDOW ((guint64) 1024 * 1024)
#define MAX_WINDOW ((guint64) 64 * 1024 * 1024)

enum { OUT, ERR };

typedef struct
{
  MitogenCall   *call;        /* owned; answered when the process is done */
  MitogenRouter *router;      /* owned; immutable */
  guint32        caller_id;   /* immutable */
  guint32        events;      /* immutable: the caller's reply handle */
  guint32        control;     /* immutable once started: our handler */
  pid_t          pid;         /* immutable: the child, leader of its group */
  gboolean       pty;         /* immutable: fds[OUT] is a pty's controller */
  int            fds[2];      /* I/O thread: stdout, stderr; -1 once closed */
  int            in_fd;       /* I/O thread: stdin; -1 once closed */
  int            resize_fd;   /* immutable: the pty's controller, or -1 */
  gulong         cancel_id;   /* immutable: our handler on the call's cancellable */
  guint64        ack_sent;    /* I/O thread: the last stdin-ack sent */
  int            wake[2];     /* immutable: a byte on wake[1] wakes the thread */
  guint64        window;      /* immutable */
  double         timeout;     /* immutable: seconds, 0 for none */

  GMutex         lock;
  guint64        sent[2];     /* guarded by @lock */
  guint64        acked[2];    /* guarded by @lock */
  GQueue         stdin_queue; /* guarded by @lock: GBytes to write */
  gsize          stdin_queued;  /* guarded by @lock: bytes in @stdin_queue */
  gsize          stdin_offset;  /* guarded by @lock: written of the head */
  guint64        stdin_taken;   /* guarded by @lock: acknowledged total */
  gboolean       stdin_eof;     /* guarded by @lock: the caller sent EOF */
  gboolean       stdin_closed;  /* guarded by @lock: drop what comes */
} Proc;

static void
proc_clear (gpointer data)
{
  Proc *proc = data;

  for (int i = 0; i < 2; i++)
    if (proc->fds[i] >= 0)
      close (proc->fds[i]);
  if (proc->in_fd >= 0)
    close (proc->in_fd);
  if (proc->resize_fd >= 0)
    close (proc->resize_fd);
  if (proc->wake[0] >= 0)
    close (proc->wake[0]);
  if (proc->wake[1] >= 0)
    close (proc->wake[1]);
  g_queue_clear_full (&proc->stdin_queue, (GDestroyNotify) g_bytes_unref);
  g_mutex_clear (&proc->lock);
  g_clear_object (&proc->call);
  g_clear_object (&proc->router);
}

static void
proc_unref (gpointer proc)
{
  g_atomic_rc_box_release_full (proc, proc_clear);
}

static void
proc_wake (Proc *proc)
{
  char byte = 0;

  if (write (proc->wake[1], &byte, 1) < 0 && errno != EAGAIN)
    g_debug ("proc.start: cannot wake the I/O thread: %s", g_strerror (errno));
}

/* Sends one event (`(sv)`, floating) to the caller. Any thread. */
static void
proc_send (Proc       *proc,
           const char *kind,
           GVariant   *value)
{
  g_autoptr(MitogenMessage) msg =
    mitogen_message_new (proc->caller_id, proc->events,
                         g_variant_new ("(sv)", kind, value));

  mitogen_router_route (proc->router, msg, NULL);
}

/* ---- the control handler (broker thread) ---- */

static void
control_stdin (Proc     *proc,
               GVariant *value)
{
  g_autoptr(GBytes) bytes = g_variant_get_data_as_bytes (value);
  gsize n = g_bytes_get_size (bytes);

  if (proc->stdin_closed || proc->stdin_eof)
    {
      /* Acknowledged as dropped: the child stopped reading. */
      proc->stdin_taken += n;
      return;
    }
  if (proc->stdin_queued + n > proc->window)
    {
      g_message ("proc.start: pid %d: the caller sent stdin beyond its window "
                 "(%" G_GSIZE_FORMAT " bytes queued); stdin closed",
                 proc->pid, proc->stdin_queued + n);
      proc->stdin_eof = TRUE;
      return;
    }
  if (n == 0)
    return;
  g_queue_push_tail (&proc->stdin_queue, g_steal_pointer (&bytes));
  proc->stdin_queued += n;
}

static void
control_ack (Proc     *proc,
             int       stream,
             GVariant *value)
{
  guint64 acked = g_variant_get_uint64 (value);

  if (acked < proc->acked[stream] || acked > proc->sent[stream])
    g_message ("proc.start: pid %d: ack of %" G_GUINT64_FORMAT " bytes ignored "
               "(%" G_GUINT64_FORMAT " sent, %" G_GUINT64_FORMAT " acknowledged)",
               proc->pid, acked, proc->sent[stream], proc->acked[stream]);
  else
    proc->acked[stream] = acked;
}

static void
control_resize (Proc     *proc,
                GVariant *value)
{
  struct winsize size = { 0, };

  g_variant_get (value, "(qq)", &size.ws_row, &size.ws_col);
  /* Through a descriptor of our own: the I/O thread closes fds[OUT]. */
  if (proc->resize_fd >= 0 && ioctl (proc->resize_fd, TIOCSWINSZ, &size) < 0)
    g_message ("proc.start: pid %d: resize: %s", proc->pid, g_strerror (errno));
}

/* One control message, under @lock. */
static void
control_apply (Proc       *proc,
               const char *kind,
               GVariant   *value)
{
  if (g_str_equal (kind, "stdin") && g_variant_is_of_type (value, G_VARIANT_TYPE_BYTESTRING))
    control_stdin (proc, value);
  else if (g_str_equal (kind, "stdin-eof"))
    proc->stdin_eof = TRUE;
  else if (g_str_equal (kind, "stdout-ack") && g_variant_is_of_type (value, G_VARIANT_TYPE_UINT64))
    control_ack (proc, OUT, value);
  else if (g_str_equal (kind, "stderr-ack") && g_variant_is_of_type (value, G_VARIANT_TYPE_UINT64))
    control_ack (proc, ERR, value);
  else if (g_str_equal (kind, "signal") && g_variant_is_of_type (value, G_VARIANT_TYPE_INT32))
    {
      int signum = g_variant_get_int32 (value);

      if (signum <= 0 || signum >= NSIG || kill (-proc->pid, signum) < 0)
        g_message ("proc.start: pid %d: cannot send signal %d", proc->pid, signum);
    }
  else if (g_str_equal (kind, "resize") && g_variant_is_of_type (value, G_VARIANT_TYPE ("(qq)")))
    control_resize (proc, value);
  else
    g_message ("proc.start: pid %d: control message “%s” of type '%s' ignored",
               proc->pid, kind, g_variant_get_type_string (value));
}

static void
on_control (MitogenMessage *msg,
            gpointer        data)
{
  Proc *proc = data;
  g_autoptr(GVariant) body = NULL;
  g_autoptr(GVariant) value = NULL;
  g_autoptr(GError) error = NULL;
  const char *kind;

  if (mitogen_message_is_dead (msg))
    {
      /* The caller is gone: nobody reads, nothing may outlive it. */
      kill (-proc->pid, SIGKILL);
      return;
    }
  body = mitogen_message_unpack (msg, &error);
  if (body == NULL || !g_variant_is_of_type (body, G_VARIANT_TYPE ("(sv)")))
    {
      g_message ("proc.start: pid %d: bad control message: %s", proc->pid,
                 body == NULL ? error->message : g_variant_get_type_string (body));
      return;
    }
  g_variant_get (body, "(&sv)", &kind, &value);
  g_mutex_lock (&proc->lock);
  control_apply (proc, kind, value);
  g_mutex_unlock (&proc->lock);
  proc_wake (proc);
}

/* ---- the I/O thread ---- */

/* Reads what one output stream has; FALSE at its end. */
static gboolean
pump_output (Proc *proc,
             int   stream)
{
  static const char *const kinds[] = { "stdout", "stderr" };
  g_autofree guint8 *buf = g_malloc (CHUNK_SIZE);
  g_autoptr(GBytes) bytes = NULL;
  ssize_t n;

  do
    n = read (proc->fds[stream], buf, CHUNK_SIZE);
  while (n < 0 && errno == EINTR);
  if (n < 0 && errno == EAGAIN)
    return TRUE;
  if (n <= 0)
    {
      /* EIO: a pty whose last follower closed, its way of saying EOF. */
      g_autofree char *eof = g_strconcat (kinds[stream], "-eof", NULL);

      if (n < 0 && errno != EIO)
        g_message ("proc.start: pid %d: %s: %s", proc->pid, kinds[stream], g_strerror (errno));
      proc_send (proc, eof, g_variant_new ("()"));
      return FALSE;
    }
  g_mutex_lock (&proc->lock);
  proc->sent[stream] += n;
  g_mutex_unlock (&proc->lock);
  /* The variant takes its own reference to the bytes. */
  bytes = g_bytes_new_take (g_steal_pointer (&buf), n);
  proc_send (proc, kinds[stream], g_variant_new_from_bytes (G_VARIANT_TYPE_BYTESTRING, bytes, TRUE));
  return TRUE;
}

/* Writes what it can of the stdin queue, closes stdin at EOF. */
static void
pump_stdin (Proc *proc)
{
  gboolean close_now = FALSE;

  g_mutex_lock (&proc->lock);
  while (!g_queue_is_empty (&proc->stdin_queue))
    {
      GBytes *head = g_queue_peek_head (&proc->stdin_queue);
      gsize size;
      const guint8 *data = g_bytes_get_data (head, &size);
      ssize_t n = write (proc->in_fd, data + proc->stdin_offset, size - proc->stdin_offset);

      if (n < 0 && (errno == EAGAIN || errno == EINTR))
        break;
      if (n < 0)
        {
          /* EPIPE: the child closed its stdin; the rest is dropped. */
          n = size - proc->stdin_offset;
          proc->stdin_closed = TRUE;
        }
      proc->stdin_offset += n;
      proc->stdin_taken += n;
      proc->stdin_queued -= n;
      if (proc->stdin_offset == size)
        {
          g_bytes_unref (g_queue_pop_head (&proc->stdin_queue));
          proc->stdin_offset = 0;
        }
    }
  if (g_queue_is_empty (&proc->stdin_queue) && (proc->stdin_eof || proc->stdin_closed))
    close_now = TRUE;
  g_mutex_unlock (&proc->lock);

  if (close_now)
    {
      if (proc->pty)
        {
          /* A terminal has no half-close: ^D at its line start is EOF. */
          struct termios t;
          char eof = tcgetattr (proc->in_fd, &t) == 0 ? (char) t.c_cc[VEOF] : 4;

          if (write (proc->in_fd, &eof, 1) < 0)
            g_debug ("proc.start: pid %d: EOF on the pty: %s", proc->pid, g_strerror (errno));
        }
      close (proc->in_fd);
      proc->in_fd = -1;
    }
}

/* Tells the caller how much of its stdin was taken, when that grew. */
static void
ack_stdin (Proc *proc)
{
  guint64 taken;

  g_mutex_lock (&proc->lock);
  taken = proc->stdin_taken;
  g_mutex_unlock (&proc->lock);
  if (taken != proc->ack_sent)
    proc_send (proc, "stdin-ack", g_variant_new_uint64 (taken));
  proc->ack_sent = taken;
}

/* Fills @fds with what the thread waits for; returns how many. */
static nfds_t
io_poll_set (Proc          *proc,
             struct pollfd *fds,
             int            pidfd,
             int           *slots)
{
  nfds_t n = 0;

  fds[n++] = (struct pollfd) { proc->wake[0], POLLIN, 0 };
  if (pidfd >= 0)
    fds[n++] = (struct pollfd) { pidfd, POLLIN, 0 };
  g_mutex_lock (&proc->lock);
  for (int i = 0; i < 2; i++)
    {
      slots[i] = -1;
      if (proc->fds[i] >= 0 && proc->sent[i] - proc->acked[i] < proc->window)
        {
          slots[i] = n;
          fds[n++] = (struct pollfd) { proc->fds[i], POLLIN, 0 };
        }
    }
  slots[2] = -1;
  if (proc->in_fd >= 0 &&
      (!g_queue_is_empty (&proc->stdin_queue) || proc->stdin_eof || proc->stdin_closed))
    {
      slots[2] = n;
      fds[n++] = (struct pollfd) { proc->in_fd, POLLOUT, 0 };
    }
  g_mutex_unlock (&proc->lock);
  return n;
}

/* Milliseconds until @deadline (0: none; -1: wait), at most @cap when set. */
static int
poll_timeout (gint64 deadline,
              int    cap)
{
  gint64 ms;

  if (deadline == 0)
    return cap;
  ms = MAX (0, (deadline - g_get_monotonic_time () + 999) / 1000);
  return (int) (cap >= 0 ? MIN (ms, cap) : MIN (ms, G_MAXINT));
}

/* Runs the process to its end; returns its wait status. */
static int
io_loop (Proc     *proc,
         gboolean *timed_out)
{
  int pidfd = (int) syscall (SYS_pidfd_open, proc->pid, 0);
  gint64 deadline = proc->timeout > 0
    ? g_get_monotonic_time () + (gint64) (proc->timeout * G_USEC_PER_SEC) : 0;
  gboolean exited = FALSE;
  int status = 0;

  while (!exited || proc->fds[OUT] >= 0 || proc->fds[ERR] >= 0)
    {
      struct pollfd fds[5];
      int slots[3];
      nfds_t n = io_poll_set (proc, fds, exited ? -1 : pidfd, slots);
      /* Without a pidfd the exit is looked for every 50 ms. */
      int r = poll (fds, n, poll_timeout (deadline, pidfd < 0 && !exited ? 50 : -1));

      if (r < 0 && errno != EINTR)
        g_warning ("proc.start: poll: %s", g_strerror (errno));
      if (deadline != 0 && !*timed_out && g_get_monotonic_time () >= deadline)
        {
          *timed_out = TRUE;
          kill (-proc->pid, SIGKILL);
          deadline = 0;
        }
      if (fds[0].revents & POLLIN)
        {
          char drain[64];

          while (read (proc->wake[0], drain, sizeof drain) > 0)
            ;
        }
      for (int i = 0; i < 2; i++)
        if (slots[i] >= 0 && fds[slots[i]].revents != 0 && !pump_output (proc, i))
          {
            close (proc->fds[i]);
            proc->fds[i] = -1;
          }
      if (slots[2] >= 0 && fds[slots[2]].revents != 0)
        pump_stdin (proc);
      ack_stdin (proc);
      if (!exited && waitpid (proc->pid, &status, WNOHANG) == proc->pid)
        exited = TRUE;
    }
  if (pidfd >= 0)
    close (pidfd);
  return status;
}

static gpointer
io_thread (gpointer data)
{
  Proc *proc = data;
  GCancellable *cancellable = mitogen_call_get_cancellable (proc->call);
  gboolean timed_out = FALSE;
  int status;

  status = io_loop (proc, &timed_out);
  g_cancellable_disconnect (cancellable, proc->cancel_id);
  mitogen_router_del_handler (proc->router, proc->control);
  _mitogen_proc_children_remove (proc->pid);
  if (timed_out || g_cancellable_is_cancelled (cancellable))
    {
      g_autoptr(GError) error = NULL;

      if (g_cancellable_is_cancelled (cancellable))
        g_set_error (&error, G_IO_ERROR, G_IO_ERROR_CANCELLED,
                     "proc.start: cancelled by its caller; the process group was killed");
      else
        g_set_error (&error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                     "the command did not finish within %g s; it was killed with its "
                     "process group", proc->timeout);
      mitogen_call_return_error (proc->call, error);
    }
  else
    mitogen_call_return_value (proc->call,
                               g_variant_new_int32 (WIFEXITED (status) ? WEXITSTATUS (status)
                                                                       : -WTERMSIG (status)));
  proc_unref (proc);
  return NULL;
}

/* Runs in the thread that cancels the call (the broker's). */
static void
on_cancelled (GCancellable *cancellable,
              gpointer      data)
{
  Proc *proc = data;

  kill (-proc->pid, SIGKILL);
}

/* ---- starting ---- */

typedef struct
{
  GStrv     env;      /* owned; the child's whole environment */
  char     *cwd;      /* owned, nullable */
  double    timeout;
  gboolean  pty;
  gboolean  no_stdin;
  guint16   rows, cols;
  guint64   window;
} StartOptions;

static void
start_options_clear (StartOptions *options)
{
  g_strfreev (options->env);
  g_free (options->cwd);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (StartOptions, start_options_clear)

/* One option; FALSE with @error for an unknown one or a wrong type. */
static gboolean
start_option (MitogenCall   *call,
              const char    *name,
              GVariant      *value,
              StartOptions  *options,
              GError       **error)
{
  static const char *const known[][2] = {
    { "cwd", "s" }, { "env", "a{ss}" }, { "timeout", "d" }, { "pty", "b" },
    { "rows", "q" }, { "cols", "q" }, { "window", "t" }, { "stdin", "b" },
  };
  const char *type = NULL;

  for (gsize i = 0; i < G_N_ELEMENTS (known); i++)
    if (g_str_equal (name, known[i][0]))
      type = known[i][1];
  if (type == NULL || !g_variant_is_of_type (value, G_VARIANT_TYPE (type)))
    {
      g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_CALL,
                   type == NULL ? "proc.start: unknown option “%s”"
                                : "proc.start: option “%s” must be of type '%s'", name, type);
      return FALSE;
    }
  if (g_str_equal (name, "cwd"))
    options->cwd = g_variant_dup_string (value, NULL);
  else if (g_str_equal (name, "env"))
    {
      GVariantIter iter;
      const char *k, *v;

      g_variant_iter_init (&iter, value);
      while (g_variant_iter_next (&iter, "{&s&s}", &k, &v))
        options->env = g_environ_setenv (options->env, k, v, TRUE);
    }
  else if (g_str_equal (name, "timeout"))
    {
      options->timeout = g_variant_get_double (value);
      return _mitogen_builtin_check_seconds (call, "option “timeout”", options->timeout,
                                          MITOGEN_PROC_MAX_TIMEOUT_SECONDS, error);
    }
  else if (g_str_equal (name, "pty"))
    options->pty = g_variant_get_boolean (value);
  else if (g_str_equal (name, "stdin"))
    options->no_stdin = !g_variant_get_boolean (value);
  else if (g_str_equal (name, "rows"))
    options->rows = g_variant_get_uint16 (value);
  else if (g_str_equal (name, "cols"))
    options->cols = g_variant_get_uint16 (value);
  else if (g_str_equal (name, "window"))
    options->window = CLAMP (g_variant_get_uint64 (value), CHUNK_SIZE, MAX_WINDOW);
  return TRUE;
}

/* A pty pair: the controller (ours) and the follower (the child's). */
static gboolean
open_pty (StartOptions  *options,
          int           *controller,
          int           *follower,
          GError       **error)
{
  struct winsize size = { options->rows ? options->rows : 24, options->cols ? options->cols : 80, 0, 0 };
  const char *name;

  *controller = posix_openpt (O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (*controller < 0 || grantpt (*controller) < 0 || unlockpt (*controller) < 0 ||
      (name = ptsname (*controller)) == NULL ||
      (*follower = open (name, O_RDWR | O_NOCTTY | O_CLOEXEC)) < 0)
    {
      int saved = errno;

      if (*controller >= 0)
        close (*controller);
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                   "proc.start: cannot open a pseudo-terminal: %s", g_strerror (saved));
      return FALSE;
    }
  ioctl (*controller, TIOCSWINSZ, &size);
  return TRUE;
}

/* Starts the child with pipes (or the pty) on @proc. */
static gboolean
start_child (Proc          *proc,
             const char   **argv,
             StartOptions  *options,
             GError       **error)
{
  g_autoptr(GError) spawn_error = NULL;
  ChildSetup setup = { getpid (), -1, options->pty };
  int controller = -1, follower = -1, null_fd = -1;
  int *in_out = options->no_stdin ? NULL : &proc->in_fd;
  gboolean ok;

  if (options->pty)
    {
      if (!open_pty (options, &controller, &follower, error))
        return FALSE;
      ok = g_spawn_async_with_pipes_and_fds (options->cwd, argv, (const char * const *) options->env,
                                             G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_SEARCH_PATH,
                                             _mitogen_proc_child_setup, &setup,
                                             follower, follower, follower, NULL, NULL, 0,
                                             &proc->pid, NULL, NULL, NULL, &spawn_error);
      close (follower);
      proc->fds[OUT] = controller;
      proc->in_fd = options->no_stdin ? -1 : dup (controller);
      proc->resize_fd = dup (controller);
      if (!ok)
        proc->fds[OUT] = (close (controller), -1);
    }
  else
    {
      if (options->no_stdin)
        null_fd = open ("/dev/null", O_RDONLY | O_CLOEXEC);
      ok = g_spawn_async_with_pipes_and_fds (options->cwd, argv, (const char * const *) options->env,
                                             G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_SEARCH_PATH,
                                             _mitogen_proc_child_setup, &setup,
                                             null_fd, -1, -1, NULL, NULL, 0, &proc->pid,
                                             in_out, &proc->fds[OUT], &proc->fds[ERR],
                                             &spawn_error);
      if (null_fd >= 0)
        close (null_fd);
    }
  if (!ok)
    {
      _mitogen_proc_set_spawn_error (error, spawn_error);
      return FALSE;
    }
  for (int i = 0; i < 2; i++)
    if (proc->fds[i] >= 0)
      g_unix_set_fd_nonblocking (proc->fds[i], TRUE, NULL);
  if (proc->in_fd >= 0)
    g_unix_set_fd_nonblocking (proc->in_fd, TRUE, NULL);
  return TRUE;
}

/* proc.start (argv, options) → status. See the top of this file; options:
 * "cwd" (s), "env" (a{ss}, added to the agent's), "timeout" (d seconds),
 * "pty" (b), "rows" and "cols" (q), "window" (t bytes per stream, 1 MiB
 * by default), "stdin" (b, FALSE for /dev/null). The process group dies
 * when the call is cancelled, times out, the caller is lost or the agent
 * dies, as with proc.run. */
GVariant *
_mitogen_proc_start (MitogenCall *call, GVariant *args, gpointer data, GError **error)
{
  g_autoptr(GVariant) dict = NULL;
  g_autofree const char **argv = NULL;
  g_auto(StartOptions) options = { NULL, };
  MitogenMessage *msg = mitogen_call_get_message (call);
  MitogenContext *caller = mitogen_call_get_caller (call);
  GVariantIter iter;
  const char *name;
  GVariant *value;
  Proc *proc;

  if (!_mitogen_builtin_check_args (call, args, "(asa{sv})", error))
    return NULL;
  g_variant_get (args, "(^a&s@a{sv})", &argv, &dict);
  if (argv == NULL || argv[0] == NULL || caller == NULL || msg->reply_to == 0)
    {
      g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_CALL,
                   "proc.start: the command is empty, or nobody waits for its reply");
      return NULL;
    }
  options.env = g_get_environ ();
  options.window = DEFAULT_WINDOW;
  g_variant_iter_init (&iter, dict);
  while (g_variant_iter_loop (&iter, "{&sv}", &name, &value))
    if (!start_option (call, name, value, &options, error))
      {
        g_variant_unref (value);
        return NULL;
      }

  proc = g_atomic_rc_box_new0 (Proc);
  proc->fds[OUT] = proc->fds[ERR] = proc->in_fd = proc->resize_fd = -1;
  g_mutex_init (&proc->lock);
  g_queue_init (&proc->stdin_queue);
  if (pipe2 (proc->wake, O_CLOEXEC | O_NONBLOCK) < 0)
    {
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errno),
                   "proc.start: pipe: %s", g_strerror (errno));
      proc->wake[0] = proc->wake[1] = -1;
      proc_unref (proc);
      return NULL;
    }
  proc->call = g_object_ref (call);
  proc->router = g_object_ref (mitogen_call_get_router (call));
  proc->caller_id = msg->src_id;
  proc->events = msg->reply_to;
  proc->window = options.window;
  proc->timeout = options.timeout;
  proc->pty = options.pty;
  proc->stdin_closed = options.no_stdin;
  /* Forked here, on the main thread that lives as long as the agent, so
   * that PR_SET_PDEATHSIG fires exactly when the agent dies. */
  if (!start_child (proc, argv, &options, error))
    {
      proc_unref (proc);
      return NULL;
    }
  _mitogen_proc_children_add (proc->pid);
  proc->control = mitogen_router_add_handler (proc->router, 0, caller, on_control,
                                              g_atomic_rc_box_acquire (proc), proc_unref);
  proc->cancel_id = g_cancellable_connect (mitogen_call_get_cancellable (call),
                                          G_CALLBACK (on_cancelled),
                                          g_atomic_rc_box_acquire (proc), proc_unref);
  mitogen_call_return_later (call);
  proc_send (proc, "started", g_variant_new ("(ui)", proc->control, (gint32) proc->pid));
  /* A terminal has one output: stdout. */
  if (proc->pty)
    proc_send (proc, "stderr-eof", g_variant_new ("()"));
  g_thread_unref (g_thread_new ("proc.start", io_thread, proc));
  return NULL;
}
