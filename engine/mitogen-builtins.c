/* mitogen-builtins.c: the functions every agent carries ("core", "proc").
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <glib-unix.h>

#include "mitogen-private.h"

/* Checks @args against @type ("()" when NULL) with a clear error. */
static gboolean
check_args (MitogenCall  *call,
            GVariant     *args,
            const char   *type,
            GError      **error)
{
  const char *actual = args != NULL ? g_variant_get_type_string (args) : "()";

  if (g_strcmp0 (actual, type) != 0)
    {
      g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_CALL,
                   "%s takes arguments of type '%s', not '%s'",
                   mitogen_call_get_function (call), type, actual);
      return FALSE;
    }
  return TRUE;
}

/* A number of seconds a built-in may wait: finite and within [0, @max].
 * NaN compares false with everything, so it is refused first: a NaN
 * deadline once made core.sleep wait forever. */
static gboolean
check_seconds (MitogenCall  *call,
               const char   *argument,
               double        seconds,
               double        max,
               GError      **error)
{
  if (!isfinite (seconds) || seconds < 0 || seconds > max)
    {
      g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_CALL,
                   "%s: %s must be a number of seconds from 0 to %g, not %g",
                   mitogen_call_get_function (call), argument, max, seconds);
      return FALSE;
    }
  return TRUE;
}

/* A byte count a built-in may allocate: at most @max. */
static gboolean
check_size (MitogenCall  *call,
            const char   *argument,
            guint64       n,
            guint64       max,
            GError      **error)
{
  if (n > max)
    {
      g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_CALL,
                   "%s: %s must be at most %" G_GUINT64_FORMAT " bytes, not %" G_GUINT64_FORMAT,
                   mitogen_call_get_function (call), argument, max, n);
      return FALSE;
    }
  return TRUE;
}

static GVariant *
core_ping (MitogenCall *call, GVariant *args, gpointer data, GError **error)
{
  check_args (call, args, "()", error);
  return NULL;
}

static GVariant *
core_echo (MitogenCall *call, GVariant *args, gpointer data, GError **error)
{
  if (args == NULL || g_variant_n_children (args) != 1)
    {
      g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_CALL,
                   "core.echo takes exactly one argument");
      return NULL;
    }
  return g_variant_get_child_value (args, 0);
}

static GVariant *
core_getpid (MitogenCall *call, GVariant *args, gpointer data, GError **error)
{
  if (!check_args (call, args, "()", error))
    return NULL;
  return g_variant_new_int32 (getpid ());
}

static GVariant *
core_uname (MitogenCall *call, GVariant *args, gpointer data, GError **error)
{
  struct utsname u;

  if (!check_args (call, args, "()", error))
    return NULL;
  if (uname (&u) < 0)
    {
      g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_CALL, "uname: %s", g_strerror (errno));
      return NULL;
    }
  return g_variant_new ("(sssss)", u.sysname, u.nodename, u.release, u.version, u.machine);
}

static GVariant *
core_hostname (MitogenCall *call, GVariant *args, gpointer data, GError **error)
{
  if (!check_args (call, args, "()", error))
    return NULL;
  return g_variant_new_string (g_get_host_name ());
}

static GVariant *
core_getenv (MitogenCall *call, GVariant *args, gpointer data, GError **error)
{
  const char *name;

  if (!check_args (call, args, "(s)", error))
    return NULL;
  g_variant_get (args, "(&s)", &name);
  return g_variant_new_maybe (G_VARIANT_TYPE_STRING,
                              g_getenv (name) ? g_variant_new_string (g_getenv (name)) : NULL);
}

typedef struct
{
  GMutex   lock;
  GCond    cond;
  gboolean woken;  /* guarded by @lock */
} Sleeper;

/* Runs in the thread that cancels (the broker's, for a cancel message). */
static void
sleeper_wake (GCancellable *cancellable,
              gpointer      data)
{
  Sleeper *sleeper = data;

  g_mutex_lock (&sleeper->lock);
  sleeper->woken = TRUE;
  g_cond_signal (&sleeper->cond);
  g_mutex_unlock (&sleeper->lock);
}

/* Sleeps @usec, or less if @cancellable fires; FALSE when it did. */
static gboolean
sleep_unless_cancelled (gint64        usec,
                        GCancellable *cancellable)
{
  gint64 deadline = g_get_monotonic_time () + usec;
  Sleeper sleeper = { .woken = FALSE };
  gulong handler;

  g_mutex_init (&sleeper.lock);
  g_cond_init (&sleeper.cond);
  /* Called at once when @cancellable has already fired. */
  handler = g_cancellable_connect (cancellable, G_CALLBACK (sleeper_wake), &sleeper, NULL);
  g_mutex_lock (&sleeper.lock);
  while (!sleeper.woken && g_cond_wait_until (&sleeper.cond, &sleeper.lock, deadline))
    ;
  g_mutex_unlock (&sleeper.lock);
  /* Waits for a wake-up running in another thread to return. */
  g_cancellable_disconnect (cancellable, handler);
  g_mutex_clear (&sleeper.lock);
  g_cond_clear (&sleeper.cond);
  return !g_cancellable_is_cancelled (cancellable);
}

/* A day: longer is a mistake, not a test. */
#define MAX_SLEEP_SECONDS (24.0 * 3600)

static GVariant *
core_sleep (MitogenCall *call, GVariant *args, gpointer data, GError **error)
{
  double seconds;

  if (!check_args (call, args, "(d)", error))
    return NULL;
  g_variant_get (args, "(d)", &seconds);
  if (!check_seconds (call, "the duration", seconds, MAX_SLEEP_SECONDS, error))
    return NULL;
  if (!sleep_unless_cancelled ((gint64) (seconds * G_USEC_PER_SEC),
                               mitogen_call_get_cancellable (call)))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED,
                   "core.sleep: cancelled by its caller");
      return NULL;
    }
  return NULL;
}

static GVariant *
core_fail (MitogenCall *call, GVariant *args, gpointer data, GError **error)
{
  const char *message = "core.fail was called";

  if (args != NULL && g_variant_is_of_type (args, G_VARIANT_TYPE ("(s)")))
    g_variant_get (args, "(&s)", &message);
  else if (!check_args (call, args, "()", error))
    return NULL;
  g_set_error_literal (error, MITOGEN_ERROR, MITOGEN_ERROR_CALL, message);
  return NULL;
}

/* core.log (level, message): logs @message at @level ("critical",
 * "warning", "message", "info", "debug") in this context, so that tests and
 * tools can see log forwarding work. "error" is refused: it would abort. */
static GVariant *
core_log (MitogenCall *call, GVariant *args, gpointer data, GError **error)
{
  static const struct {
    const char     *name;
    GLogLevelFlags  level;
  } levels[] = {
    { "critical", G_LOG_LEVEL_CRITICAL },
    { "warning", G_LOG_LEVEL_WARNING },
    { "message", G_LOG_LEVEL_MESSAGE },
    { "info", G_LOG_LEVEL_INFO },
    { "debug", G_LOG_LEVEL_DEBUG },
  };
  const char *name, *message;

  if (!check_args (call, args, "(ss)", error))
    return NULL;
  g_variant_get (args, "(&s&s)", &name, &message);
  for (gsize i = 0; i < G_N_ELEMENTS (levels); i++)
    if (g_str_equal (name, levels[i].name))
      {
        g_log (G_LOG_DOMAIN, levels[i].level, "%s", message);
        return NULL;
      }
  g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_CALL,
               "core.log: unknown level “%s” (critical, warning, message, info or debug)", name);
  return NULL;
}

/* The largest reply core.zeros and core.bytes build: 4 GiB - 1, the most
 * a frame can carry at all. */
#define MAX_BENCH_BYTES ((guint64) G_MAXUINT32)
/* core.bytes writes every byte: past 1 GiB it would sooner exhaust the
 * host's memory than measure anything. */
#define MAX_WRITTEN_BYTES ((guint64) 1024 * 1024 * 1024)

/* A bytestring that owns @buf, which is @n bytes long. The GVariant takes
 * its own reference to the GBytes, so ours is dropped here: keeping it
 * leaked the whole reply on every call. */
static GVariant *
bytestring_take (gpointer buf,
                 gsize    n)
{
  g_autoptr(GBytes) bytes = g_bytes_new_take (buf, n);

  return g_variant_new_from_bytes (G_VARIANT_TYPE_BYTESTRING, bytes, TRUE);
}

/* Allocates the @n bytes of a benchmark reply, or fails the call cleanly
 * instead of aborting the agent. */
static gpointer
bench_alloc (MitogenCall  *call,
             guint64       n,
             guint64       max,
             GError      **error)
{
  gpointer buf;

  if (!check_size (call, "the length", n, max, error))
    return NULL;
  buf = g_try_malloc0 (MAX (n, 1));
  if (buf == NULL)
    g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_CALL,
                 "%s: cannot allocate %" G_GUINT64_FORMAT " bytes",
                 mitogen_call_get_function (call), n);
  return buf;
}

/* core.zeros (n): n zero bytes, for throughput benchmarks. The pages come
 * from calloc and are not touched until the reply is sent, so the agent's
 * memory says little about the cost of a reply: use core.bytes for that. */
static GVariant *
core_zeros (MitogenCall *call, GVariant *args, gpointer data, GError **error)
{
  guint64 n;
  gpointer buf;

  if (!check_args (call, args, "(t)", error))
    return NULL;
  g_variant_get (args, "(t)", &n);
  buf = bench_alloc (call, n, MAX_BENCH_BYTES, error);
  if (buf == NULL)
    return NULL;
  return bytestring_take (buf, n);
}

/* core.bytes (n): n bytes of a repeating pattern (0, 1, ... 250, 0, ...;
 * 251 is prime, so it lines up with no page or frame size). Every page is
 * written before the reply leaves, so the agent really holds n bytes while
 * it sends them: memory benchmarks and leak checks measure real data. */
static GVariant *
core_bytes (MitogenCall *call, GVariant *args, gpointer data, GError **error)
{
  guint64 n;
  guint8 *buf;

  if (!check_args (call, args, "(t)", error))
    return NULL;
  g_variant_get (args, "(t)", &n);
  buf = bench_alloc (call, n, MAX_WRITTEN_BYTES, error);
  if (buf == NULL)
    return NULL;
  for (guint64 i = 0; i < n; i++)
    buf[i] = i % 251;
  return bytestring_take (buf, n);
}

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

static void
children_add (pid_t pgid)
{
  g_mutex_lock (&children_lock);
  if (children == NULL)
    children = g_array_new (FALSE, FALSE, sizeof (pid_t));
  g_array_append_val (children, pgid);
  g_mutex_unlock (&children_lock);
}

static void
children_remove (pid_t pgid)
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
  /* Nor may a half-written push outlive it. */
  _mitogen_builtins_transfer_abandon_all ();
}

typedef struct
{
  pid_t agent;     /* getpid() of the agent */
  int   pid_pipe;  /* the write end of a pipe on which the child gives its pid */
} ChildSetup;

/* Runs in the child between fork and exec: async-signal-safe calls only.
 * GLib marks inherited descriptors close-on-exec before calling it, so
 * the pipe is still open here. */
static void
child_setup (gpointer data)
{
  const ChildSetup *setup = data;
  pid_t self = getpid ();

  setpgid (0, 0);
  if (write (setup->pid_pipe, &self, sizeof self) != sizeof self)
    _exit (127);
  prctl (PR_SET_PDEATHSIG, SIGKILL);
  /* The agent died before prctl: the signal will never come. */
  if (getppid () != setup->agent)
    _exit (127);
}

/* A program that cannot be started is a G_IO_ERROR, as for any file:
 * callers check G_IO_ERROR_NOT_FOUND, not GLib's spawn codes. */
static void
set_spawn_error (GError **error,
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

/* A week: a longer timeout is a mistake. */
#define MAX_RUN_TIMEOUT_SECONDS (7.0 * 24 * 3600)

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
          if (!check_seconds (call, "option “timeout”", options->timeout,
                              MAX_RUN_TIMEOUT_SECONDS, error))
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
  ChildSetup setup = { getpid (), -1 };
  int pid_pipe[2];
  pid_t pgid = 0;
  gboolean ok;
  int status;

  if (args != NULL && g_variant_is_of_type (args, G_VARIANT_TYPE ("(as)")))
    g_variant_get (args, "(^a&s)", &argv);
  else if (args != NULL && g_variant_is_of_type (args, G_VARIANT_TYPE ("(asa{sv})")))
    g_variant_get (args, "(^a&s@a{sv})", &argv, &dict);
  else if (!check_args (call, args, "(asa{sv})", error))
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
  g_subprocess_launcher_set_child_setup (launcher, child_setup, &setup, NULL);
  proc = g_subprocess_launcher_spawnv (launcher, argv, &spawn_error);
  close (pid_pipe[1]);
  /* spawnv returns after the exec (or its failure), so the pid is there. */
  if (proc != NULL && read (pid_pipe[0], &pgid, sizeof pgid) != sizeof pgid)
    pgid = 0;
  close (pid_pipe[0]);
  if (proc == NULL)
    {
      set_spawn_error (error, spawn_error);
      return NULL;
    }
  if (pgid > 0)
    children_add (pgid);
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
    children_remove (pgid);
  if (!ok)
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
_mitogen_builtins_register (void)
{
  static const struct {
    const char      *name;
    MitogenFunction  func;
  } builtins[] = {
    { "core.ping", core_ping },
    { "core.echo", core_echo },
    { "core.getpid", core_getpid },
    { "core.uname", core_uname },
    { "core.hostname", core_hostname },
    { "core.getenv", core_getenv },
    { "core.sleep", core_sleep },
    { "core.fail", core_fail },
    { "core.zeros", core_zeros },
    { "core.bytes", core_bytes },
    { "core.log", core_log },
    { "proc.run", proc_run },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (builtins); i++)
    mitogen_register_function (builtins[i].name, builtins[i].func, NULL, NULL);
  _mitogen_builtins_transfer_register ();
}
