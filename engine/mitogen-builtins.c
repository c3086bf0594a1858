/* mitogen-builtins.c: the functions every agent carries ("core"; "proc" is
 * in mitogen-builtins-proc.c).
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

#include "mitogen-builtins-fs-private.h"
#include "mitogen-private.h"

/* Checks @args against @type ("()" when NULL) with a clear error. Every
 * built-in (core, proc, fs) starts with it. */
gboolean
_mitogen_builtin_check_args (MitogenCall  *call,
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
gboolean
_mitogen_builtin_check_seconds (MitogenCall  *call,
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
  _mitogen_builtin_check_args (call, args, "()", error);
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
  if (!_mitogen_builtin_check_args (call, args, "()", error))
    return NULL;
  return g_variant_new_int32 (getpid ());
}

static GVariant *
core_uname (MitogenCall *call, GVariant *args, gpointer data, GError **error)
{
  struct utsname u;

  if (!_mitogen_builtin_check_args (call, args, "()", error))
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
  if (!_mitogen_builtin_check_args (call, args, "()", error))
    return NULL;
  return g_variant_new_string (g_get_host_name ());
}

static GVariant *
core_getenv (MitogenCall *call, GVariant *args, gpointer data, GError **error)
{
  const char *name;

  if (!_mitogen_builtin_check_args (call, args, "(s)", error))
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

  if (!_mitogen_builtin_check_args (call, args, "(d)", error))
    return NULL;
  g_variant_get (args, "(d)", &seconds);
  if (!_mitogen_builtin_check_seconds (call, "the duration", seconds, MAX_SLEEP_SECONDS, error))
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
  else if (!_mitogen_builtin_check_args (call, args, "()", error))
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

  if (!_mitogen_builtin_check_args (call, args, "(ss)", error))
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

  if (!_mitogen_builtin_check_args (call, args, "(t)", error))
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

  if (!_mitogen_builtin_check_args (call, args, "(t)", error))
    return NULL;
  g_variant_get (args, "(t)", &n);
  buf = bench_alloc (call, n, MAX_WRITTEN_BYTES, error);
  if (buf == NULL)
    return NULL;
  for (guint64 i = 0; i < n; i++)
    buf[i] = i % 251;
  return bytestring_take (buf, n);
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
  };

  for (gsize i = 0; i < G_N_ELEMENTS (builtins); i++)
    mitogen_register_function (builtins[i].name, builtins[i].func, NULL, NULL);
  _mitogen_builtins_fs_register ();
  _mitogen_builtins_proc_register ();
  _mitogen_builtins_transfer_register ();
}
