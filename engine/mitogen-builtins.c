/* mitogen-builtins.c: the functions every agent carries ("core", "proc").
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <sys/utsname.h>
#include <unistd.h>

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

static GVariant *
core_ping (MitogenCall *call, GVariant *args, gpointer data, GError **error)
{
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

static GVariant *
core_sleep (MitogenCall *call, GVariant *args, gpointer data, GError **error)
{
  double seconds;

  if (!check_args (call, args, "(d)", error))
    return NULL;
  g_variant_get (args, "(d)", &seconds);
  if (seconds < 0 || seconds > 24 * 3600)
    {
      g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_CALL,
                   "core.sleep: %g seconds is out of range", seconds);
      return NULL;
    }
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

/* n zero bytes, for benchmarks: calloc'd pages are not touched until sent. */
static GVariant *
core_zeros (MitogenCall *call, GVariant *args, gpointer data, GError **error)
{
  guint64 n;

  if (!check_args (call, args, "(t)", error))
    return NULL;
  g_variant_get (args, "(t)", &n);
  if (n > G_MAXUINT32)
    {
      g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_CALL, "core.zeros: too many bytes");
      return NULL;
    }
  return g_variant_new_from_bytes (G_VARIANT_TYPE_BYTESTRING,
                                   g_bytes_new_take (g_malloc0 (MAX (n, 1)), n), TRUE);
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

/* proc.run (argv, options) → (status, stdout, stderr). Options: "stdin"
 * (ay), "cwd" (s), "env" (a{ss}, added to the agent's environment),
 * "timeout" (d seconds). status is the exit code, or -N for signal N.
 * A program that cannot be started fails with G_IO_ERROR (NOT_FOUND for a
 * missing one); a cancelled call kills the child. */
static GVariant *
proc_run (MitogenCall *call, GVariant *args, gpointer data, GError **error)
{
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autoptr(GSubprocess) proc = NULL;
  g_autoptr(GVariant) options = NULL;
  g_autoptr(GVariant) stdin_v = NULL;
  g_autoptr(GBytes) stdin_bytes = NULL;
  g_autoptr(GBytes) out = NULL;
  g_autoptr(GBytes) err = NULL;
  g_autoptr(GVariant) env = NULL;
  g_autofree const char **argv = NULL;
  g_autoptr(GError) spawn_error = NULL;
  const char *cwd = NULL;
  int status;

  if (args != NULL && g_variant_is_of_type (args, G_VARIANT_TYPE ("(as)")))
    g_variant_get (args, "(^a&s)", &argv);
  else if (args != NULL && g_variant_is_of_type (args, G_VARIANT_TYPE ("(asa{sv})")))
    g_variant_get (args, "(^a&s@a{sv})", &argv, &options);
  else if (!check_args (call, args, "(asa{sv})", error))
    return NULL;
  if (argv == NULL || argv[0] == NULL)
    {
      g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_CALL, "proc.run: the command is empty");
      return NULL;
    }

  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDIN_PIPE |
                                        G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                                        G_SUBPROCESS_FLAGS_STDERR_PIPE);
  if (options != NULL)
    {
      g_variant_lookup (options, "cwd", "&s", &cwd);
      stdin_v = g_variant_lookup_value (options, "stdin", G_VARIANT_TYPE_BYTESTRING);
      env = g_variant_lookup_value (options, "env", G_VARIANT_TYPE ("a{ss}"));
    }
  if (cwd != NULL)
    g_subprocess_launcher_set_cwd (launcher, cwd);
  if (env != NULL)
    {
      GVariantIter iter;
      const char *k, *v;

      g_variant_iter_init (&iter, env);
      while (g_variant_iter_next (&iter, "{&s&s}", &k, &v))
        g_subprocess_launcher_setenv (launcher, k, v, TRUE);
    }
  if (stdin_v != NULL)
    stdin_bytes = g_variant_get_data_as_bytes (stdin_v);
  else
    /* communicate() needs a buffer for a piped stdin; empty means EOF. */
    stdin_bytes = g_bytes_new_static ("", 0);

  proc = g_subprocess_launcher_spawnv (launcher, argv, &spawn_error);
  if (proc == NULL)
    {
      set_spawn_error (error, spawn_error);
      return NULL;
    }
  if (!g_subprocess_communicate (proc, stdin_bytes, mitogen_call_get_cancellable (call),
                                 &out, &err, error))
    {
      /* Cancelled (or the pipes broke): the child must not outlive the call. */
      g_subprocess_force_exit (proc);
      g_subprocess_wait (proc, NULL, NULL);
      return NULL;
    }

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
    { "core.log", core_log },
    { "proc.run", proc_run },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (builtins); i++)
    mitogen_register_function (builtins[i].name, builtins[i].func, NULL, NULL);
}
