/* mitogen-builtins-proc.c: the "proc" functions: proc.run, which runs a
 * command to completion, and what proc.start (mitogen-builtins-proc-start.c)
 * shares with it: children that die with their agent.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <glib-unix.h>

#include "mitogen-builtins-proc-private.h"

/* ---- proc.run: children that die with their agent ---------------------
 *
 * Each child leads a process group of its own, so that whatever it starts
 * (a shell's background jobs) can be killed with it, and asks the kernel
 * for SIGKILL when its parent goes (PR_SET_PDEATHSIG). That signal follows
 * the *thread* that forked, not the process: proc.run runs on the agent's
 * main thread, which lives as long as the agent, so it fires exactly when
 * the agent dies, SIGKILL included. It reaches the group leader only; the
 * rest of the group is killed by the agent itself when it loses its parent
 * (_mitogen_builtins_kill_children()), and by proc.run when a call is
 * cancelled or times out. */

static GMutex children_lock;
static GArray *children;  /* guarded by @children_lock; pid_t of running groups */

void
_mitogen_proc_children_add (pid_t pgid)
{
  g_mutex_lock (&children_lock);
  if (children == NULL)
    children = g_array_new (FALSE, FALSE, sizeof (pid_t));
  g_array_append_val (children, pgid);
  g_mutex_unlock (&children_lock);
}

void
_mitogen_proc_children_remove (pid_t pgid)
{
  g_mutex_lock (&children_lock);
  for (guint i = 0; children != NULL && i < children->len; i++)
    if (g_array_index (children, pid_t, i) == pgid)
      {
        g_array_remove_index_fast (children, i);
        break;
      }
  g_mutex_unlock (&children_lock);
}

/**
 * _mitogen_builtins_kill_children:
 *
 * Kills the process groups of every child proc.run is running. The agent
 * calls it from any thread just before it exits without a parent.
 */
void
_mitogen_builtins_kill_children (void)
{
  g_mutex_lock (&children_lock);
  for (guint i = 0; children != NULL && i < children->len; i++)
    kill (-g_array_index (children, pid_t, i), SIGKILL);
  g_mutex_unlock (&children_lock);
}


/* Runs in the child between fork and exec: async-signal-safe calls only.
 * GLib marks inherited descriptors close-on-exec before calling it, so
 * the pipe is still open here. */
void
_mitogen_proc_child_setup (gpointer data)
{
  const ChildSetup *setup = data;
  pid_t self = getpid ();

  if (setup->pty)
    {
      /* A session of its own, whose controlling terminal is the pty that
       * is already its stdin; its pid names the group, as with setpgid. */
      setsid ();
      ioctl (0, TIOCSCTTY, 0);
    }
  else
    setpgid (0, 0);
  if (setup->pid_pipe >= 0 && write (setup->pid_pipe, &self, sizeof self) != sizeof self)
    _exit (127);
  prctl (PR_SET_PDEATHSIG, SIGKILL);
  /* The agent died before prctl: the signal will never come. */
  if (getppid () != setup->agent)
    _exit (127);
}

/* A program that cannot be started is a G_IO_ERROR, as for any file:
 * callers check G_IO_ERROR_NOT_FOUND, not GLib's spawn codes. */
void
_mitogen_proc_set_spawn_error (GError **error,
                 GError  *spawn_error)
{
  GIOErrorEnum code = G_IO_ERROR_FAILED;

  if (spawn_error->domain == G_SPAWN_ERROR)
    switch (spawn_error->code)
      {
      case G_SPAWN_ERROR_NOENT:
        code = G_IO_ERROR_NOT_FOUND;
        break;
      case G_SPAWN_ERROR_ACCES:
      case G_SPAWN_ERROR_PERM:
        code = G_IO_ERROR_PERMISSION_DENIED;
        break;
      case G_SPAWN_ERROR_NOTDIR:
        code = G_IO_ERROR_NOT_DIRECTORY;
        break;
      default:
        break;
      }
  g_set_error_literal (error, G_IO_ERROR, code, spawn_error->message);
}


typedef struct
{
  GVariant *stdin_v;   /* owned, nullable */
  GVariant *env;       /* owned, nullable */
  char     *cwd;       /* owned, nullable */
  double    timeout;   /* seconds; 0 for none */
} RunOptions;

static void
run_options_clear (RunOptions *options)
{
  g_clear_pointer (&options->stdin_v, g_variant_unref);
  g_clear_pointer (&options->env, g_variant_unref);
  g_clear_pointer (&options->cwd, g_free);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (RunOptions, run_options_clear)

/* Reads @dict strictly: an unknown option or one of the wrong type is an
 * error, not something to ignore. */
static gboolean
run_options_parse (MitogenCall  *call,
                   GVariant     *dict,
                   RunOptions   *options,
                   GError      **error)
{
  static const struct {
    const char *name;
    const char *type;
  } known[] = {
    { "stdin", "ay" },
    { "cwd", "s" },
    { "env", "a{ss}" },
    { "timeout", "d" },
  };
  GVariantIter iter;
  const char *name;
  GVariant *value;

  g_variant_iter_init (&iter, dict);
  while (g_variant_iter_loop (&iter, "{&sv}", &name, &value))
    {
      const char *type = NULL;

      for (gsize i = 0; i < G_N_ELEMENTS (known); i++)
        if (g_str_equal (name, known[i].name))
          type = known[i].type;
      if (type == NULL || !g_variant_is_of_type (value, G_VARIANT_TYPE (type)))
        {
          if (type == NULL)
            g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_CALL,
                         "proc.run: unknown option “%s” (stdin, cwd, env or timeout)", name);
          else
            g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_CALL,
                         "proc.run: option “%s” must be of type '%s', not '%s'",
                         name, type, g_variant_get_type_string (value));
          g_variant_unref (value);
          return FALSE;
        }
      if (g_str_equal (name, "stdin"))
        {
          g_clear_pointer (&options->stdin_v, g_variant_unref);
          options->stdin_v = g_variant_ref (value);
        }
      else if (g_str_equal (name, "cwd"))
        {
          g_free (options->cwd);
          options->cwd = g_variant_dup_string (value, NULL);
        }
      else if (g_str_equal (name, "env"))
        {
          g_clear_pointer (&options->env, g_variant_unref);
          options->env = g_variant_ref (value);
        }
      else if (g_str_equal (name, "timeout"))
        {
          options->timeout = g_variant_get_double (value);
          if (!_mitogen_builtin_check_seconds (call, "option “timeout”", options->timeout,
                              MITOGEN_PROC_MAX_TIMEOUT_SECONDS, error))
            {
              g_variant_unref (value);
              return FALSE;
            }
        }
    }
  return TRUE;
}

typedef struct
{
  GCancellable *stop;       /* owned; cancelled when the timeout expires */
  GCancellable *finished;   /* owned; cancelled when the command is done */
  gint64        usec;       /* the timeout */
  gint          timed_out;  /* atomic */
} Watchdog;

/* Sleeps @usec, or less if @cancellable fires; FALSE when it did. */
static gboolean
sleep_unless_cancelled (gint64        usec,
                        GCancellable *cancellable)
{
  gint64 deadline = g_get_monotonic_time () + usec;
  GPollFD pollfd;

  if (!g_cancellable_make_pollfd (cancellable, &pollfd))
    return TRUE;
  for (gint64 now = g_get_monotonic_time ();
       now < deadline && !g_cancellable_is_cancelled (cancellable);
       now = g_get_monotonic_time ())
    g_poll (&pollfd, 1, (int) MIN ((deadline - now + 999) / 1000, G_MAXINT));
  g_cancellable_release_fd (cancellable);
  return !g_cancellable_is_cancelled (cancellable);
}

/* The watchdog thread: stops the command unless it finishes in time. */
static gpointer
watchdog_run (gpointer data)
{
  Watchdog *dog = data;

  if (sleep_unless_cancelled (dog->usec, dog->finished))
    {
      g_atomic_int_set (&dog->timed_out, TRUE);
      g_cancellable_cancel (dog->stop);
    }
  return NULL;
}

/* Runs in the thread that cancels the call (the broker's). */
static void
on_call_cancelled (GCancellable *cancellable,
                   gpointer      data)
{
  g_cancellable_cancel (data);
}

/* Feeds @stdin_bytes to @proc and collects its output until it exits, the
 * caller cancels or @timeout seconds (0: never) pass. The timeout is kept
 * by a thread of its own: this one is blocked in communicate. */
static gboolean
communicate (MitogenCall   *call,
             GSubprocess   *proc,
             GBytes        *stdin_bytes,
             double         timeout,
             GBytes       **out,
             GBytes       **err,
             GError       **error)
{
  GCancellable *cancellable = mitogen_call_get_cancellable (call);
  g_autoptr(GCancellable) stop = g_cancellable_new ();
  g_autoptr(GCancellable) finished = g_cancellable_new ();
  Watchdog dog = { stop, finished, (gint64) (timeout * G_USEC_PER_SEC), FALSE };
  GThread *watchdog = NULL;
  gulong handler;
  gboolean ok;

  /* Called at once when the call has already been cancelled. */
  handler = g_cancellable_connect (cancellable, G_CALLBACK (on_call_cancelled), stop, NULL);
  if (timeout > 0)
    watchdog = g_thread_new ("proc.run-timeout", watchdog_run, &dog);
  ok = g_subprocess_communicate (proc, stdin_bytes, stop, out, err, error);
  g_cancellable_cancel (finished);
  if (watchdog != NULL)
    g_thread_join (watchdog);
  g_cancellable_disconnect (cancellable, handler);

  if (!ok && g_atomic_int_get (&dog.timed_out) && !g_cancellable_is_cancelled (cancellable))
    {
      g_clear_error (error);
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                   "the command did not finish within %g s; it was killed with its "
                   "process group", timeout);
    }
  return ok;
}

/* What a reply holds besides the two outputs (status, framing): a bound,
 * not a measure. */
#define RUN_REPLY_OVERHEAD 4096

/* proc.run answers in one message: output that cannot fit in one fails
 * the call with a clear error instead of a reply the router would drop. */
static gboolean
check_reply_fits (MitogenCall  *call,
                  GBytes       *out,
                  GBytes       *err,
                  GError      **error)
{
  guint64 size = (guint64) g_bytes_get_size (out) + g_bytes_get_size (err);
  guint64 max = mitogen_router_get_max_message_size (mitogen_call_get_router (call));

  if (size + RUN_REPLY_OVERHEAD <= max)
    return TRUE;
  g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_CALL,
               "proc.run: the command wrote %" G_GUINT64_FORMAT " bytes, more than "
               "one reply can carry (%" G_GUINT64_FORMAT " bytes): use proc.start "
               "(mitogen_context_spawn()), which streams its output",
               size, max - RUN_REPLY_OVERHEAD);
  return FALSE;
}

/* proc.run (argv, options) → (status, stdout, stderr). Options: "stdin"
 * (ay), "cwd" (s), "env" (a{ss}, added to the agent's environment),
 * "timeout" (d seconds, 0 for none); any other is refused. status is the
 * exit code, or -N for signal N. A program that cannot be started fails
 * with G_IO_ERROR (NOT_FOUND for a missing one); a cancelled call, or one
 * that times out (G_IO_ERROR_TIMED_OUT), kills the child's whole process
 * group, and the group dies with the agent (see above). */
static GVariant *
proc_run (MitogenCall *call, GVariant *args, gpointer data, GError **error)
{
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autoptr(GSubprocess) proc = NULL;
  g_autoptr(GVariant) dict = NULL;
  g_autoptr(GBytes) stdin_bytes = NULL;
  g_autoptr(GBytes) out = NULL;
  g_autoptr(GBytes) err = NULL;
  g_autofree const char **argv = NULL;
  g_autoptr(GError) spawn_error = NULL;
  g_auto(RunOptions) options = { NULL, };
  ChildSetup setup = { getpid (), -1, FALSE };
  int pid_pipe[2];
  pid_t pgid = 0;
  gboolean ok;
  int status;

  if (args != NULL && g_variant_is_of_type (args, G_VARIANT_TYPE ("(as)")))
    g_variant_get (args, "(^a&s)", &argv);
  else if (args != NULL && g_variant_is_of_type (args, G_VARIANT_TYPE ("(asa{sv})")))
    g_variant_get (args, "(^a&s@a{sv})", &argv, &dict);
  else if (!_mitogen_builtin_check_args (call, args, "(asa{sv})", error))
    return NULL;
  if (argv == NULL || argv[0] == NULL)
    {
      g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_CALL, "proc.run: the command is empty");
      return NULL;
    }
  if (dict != NULL && !run_options_parse (call, dict, &options, error))
    return NULL;

  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDIN_PIPE |
                                        G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                                        G_SUBPROCESS_FLAGS_STDERR_PIPE);
  if (options.cwd != NULL)
    g_subprocess_launcher_set_cwd (launcher, options.cwd);
  if (options.env != NULL)
    {
      GVariantIter iter;
      const char *k, *v;

      g_variant_iter_init (&iter, options.env);
      while (g_variant_iter_next (&iter, "{&s&s}", &k, &v))
        g_subprocess_launcher_setenv (launcher, k, v, TRUE);
    }
  if (options.stdin_v != NULL)
    stdin_bytes = g_variant_get_data_as_bytes (options.stdin_v);
  else
    /* communicate() needs a buffer for a piped stdin; empty means EOF. */
    stdin_bytes = g_bytes_new_static ("", 0);

  /* The child's pid, which names its group, comes from the child itself:
   * g_subprocess_get_identifier() is NULL once a quick child is reaped. */
  if (!g_unix_open_pipe (pid_pipe, FD_CLOEXEC, error))
    return NULL;
  setup.pid_pipe = pid_pipe[1];
  g_subprocess_launcher_set_child_setup (launcher, _mitogen_proc_child_setup, &setup, NULL);
  proc = g_subprocess_launcher_spawnv (launcher, argv, &spawn_error);
  close (pid_pipe[1]);
  /* spawnv returns after the exec (or its failure), so the pid is there. */
  if (proc != NULL && read (pid_pipe[0], &pgid, sizeof pgid) != sizeof pgid)
    pgid = 0;
  close (pid_pipe[0]);
  if (proc == NULL)
    {
      _mitogen_proc_set_spawn_error (error, spawn_error);
      return NULL;
    }
  if (pgid > 0)
    _mitogen_proc_children_add (pgid);
  ok = communicate (call, proc, stdin_bytes, options.timeout, &out, &err, error);
  if (!ok)
    {
      /* Cancelled, timed out (or the pipes broke): nothing it started may
       * outlive the call. */
      if (pgid > 0)
        kill (-pgid, SIGKILL);
      else
        g_subprocess_force_exit (proc);
      g_subprocess_wait (proc, NULL, NULL);
    }
  if (pgid > 0)
    _mitogen_proc_children_remove (pgid);
  if (!ok)
    return NULL;

  if (!check_reply_fits (call, out, err, error))
    return NULL;
  if (g_subprocess_get_if_exited (proc))
    status = g_subprocess_get_exit_status (proc);
  else
    status = -g_subprocess_get_term_sig (proc);

  return g_variant_new ("(i@ay@ay)", status,
                        g_variant_new_from_bytes (G_VARIANT_TYPE_BYTESTRING, out, TRUE),
                        g_variant_new_from_bytes (G_VARIANT_TYPE_BYTESTRING, err, TRUE));
}

void
_mitogen_builtins_proc_register (void)
{
  mitogen_register_function ("proc.run", proc_run, NULL, NULL);
  mitogen_register_function ("proc.start", _mitogen_proc_start, NULL, NULL);
}
