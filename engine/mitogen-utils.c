/* mitogen-utils.c: process identity, logging helpers, the error domain.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/auxv.h>

#include "mitogen-private.h"

G_DEFINE_QUARK (mitogen-error-quark, mitogen_error)

static gboolean is_agent;           /* set once, before threads start */
static guint32 own_context_id;
static guint32 own_parent_id;

void
_mitogen_set_identity (guint32 context_id,
                       guint32 parent_id)
{
  is_agent = TRUE;
  own_context_id = context_id;
  own_parent_id = parent_id;
}

/**
 * mitogen_is_master:
 *
 * Tells whether this process is a master program rather than an agent
 * started by one. Functions that should act differently in the master can
 * use it.
 *
 * Returns: %TRUE in a master program, %FALSE inside an agent
 */
gboolean
mitogen_is_master (void)
{
  return !is_agent;
}

/**
 * mitogen_get_context_id:
 *
 * Gets the id of the context this process is. Agents learn it from their
 * bootstrap message.
 *
 * Returns: the id of this process's context (0 in the master)
 */
guint32
mitogen_get_context_id (void)
{
  return own_context_id;
}

/**
 * mitogen_get_parent_id:
 *
 * Gets the id of the context that started this one.
 *
 * Returns: the id of the context that started this one (0 in the master)
 */
guint32
mitogen_get_parent_id (void)
{
  return own_parent_id;
}

/* A copy that clears itself: one allocation, the GBytes' own data. */
static void
wipe_and_free (gpointer data)
{
  gsize size = *(gsize *) data;

  explicit_bzero (data, sizeof (gsize) + size);
  g_free (data);
}

static void
wipe_and_release (gpointer data)
{
  GBytes *bytes = data;
  gsize size;
  gconstpointer p = g_bytes_get_data (bytes, &size);

  /* The bytes are ours alone: they were made for a message no one else
   * holds, so the memory can be cleared before it is freed. */
  if (p != NULL)
    explicit_bzero ((gpointer) p, size);
  g_bytes_unref (bytes);
}

GBytes *
_mitogen_bytes_wipe_on_free (GBytes *bytes)
{
  gsize size;
  gconstpointer p = g_bytes_get_data (bytes, &size);

  return g_bytes_new_with_free_func (p, size, wipe_and_release, bytes);
}

GBytes *
_mitogen_bytes_new_wiped_copy (gconstpointer data,
                               gsize         size)
{
  /* The size goes first, for wipe_and_free(); the bytes after it stay
   * 8-byte aligned, as GVariant wants them. */
  guint8 *block = g_malloc (sizeof (gsize) + size);

  *(gsize *) block = size;
  if (size > 0)
    memcpy (block + sizeof (gsize), data, size);
  return g_bytes_new_with_free_func (block + sizeof (gsize), size, wipe_and_free, block);
}

char *
_mitogen_default_agent_path (void)
{
  const char *env = getauxval (AT_SECURE) ? NULL : g_getenv ("MITOGEN_AGENT_PATH");

  if (env != NULL && env[0] != '\0')
    return g_strdup (env);
  /* An agent starts its children from its own image. */
  if (is_agent)
    return g_file_read_link ("/proc/self/exe", NULL);
  return g_strdup (MITOGEN_AGENT_PATH);
}

/* ---- a copy of the library's log in a file -------------------------------
 *
 * GLib leaves the log writer to the program (g_log_set_writer_func() may be
 * called once per process), so the library never installs one. Instead,
 * mitogen_log_to_file() adds a handler for the library's own log domain that
 * writes a copy and hands the message on to GLib's default handler, and so
 * to the program's writer. Forwarded records are logged structured, which
 * no domain handler sees, so mitogen-log-forward.c copies them here. */

static GMutex log_file_lock;
static FILE *log_file;                 /* guarded by log_file_lock; NULL: no copy */
static GLogLevelFlags log_file_level;  /* guarded by log_file_lock */
static guint log_file_handler;         /* guarded by log_file_lock; 0: not installed */

static const char *
log_level_name (GLogLevelFlags level)
{
  switch (level & G_LOG_LEVEL_MASK)
    {
    case G_LOG_LEVEL_ERROR: return "ERROR";
    case G_LOG_LEVEL_CRITICAL: return "CRITICAL";
    case G_LOG_LEVEL_WARNING: return "WARNING";
    case G_LOG_LEVEL_MESSAGE: return "Message";
    case G_LOG_LEVEL_INFO: return "INFO";
    case G_LOG_LEVEL_DEBUG: return "DEBUG";
    default: return "LOG";
    }
}

void
_mitogen_log_file_write (const char     *domain,
                         GLogLevelFlags  filter_level,
                         GLogLevelFlags  shown_level,
                         const char     *message)
{
  filter_level &= G_LOG_LEVEL_MASK;
  g_mutex_lock (&log_file_lock);
  /* Smaller flags are more severe. */
  if (log_file != NULL && filter_level <= log_file_level)
    {
      g_autoptr(GDateTime) now = g_date_time_new_now_local ();
      g_autofree char *stamp = g_date_time_format (now, "%H:%M:%S.%f");

      fprintf (log_file, "%s %s-%s: %s\n", stamp, domain != NULL ? domain : "",
               log_level_name (shown_level), message);
      fflush (log_file);
    }
  g_mutex_unlock (&log_file_lock);
}

/* Any thread; GLib calls it without its own lock held. */
static void
library_log_handler (const char     *domain,
                     GLogLevelFlags  level,
                     const char     *message,
                     gpointer        user_data)
{
  _mitogen_log_file_write (domain, level, level, message);
  g_log_default_handler (domain, level, message, NULL);
}

/**
 * mitogen_log_to_file:
 * @path: (nullable) (type filename): a file to append to, or %NULL to stop
 * @level: the least severe level to copy: %G_LOG_LEVEL_WARNING for warnings
 *   and worse, %G_LOG_LEVEL_DEBUG for everything
 * @error: return location for an error
 *
 * Copies libmitogen's log to @path, one timestamped line per message: what
 * the library and its plugins log in this process (the "mitogen" log
 * domain), and the records other contexts forward to it, whatever their
 * domain, each prefixed with the name of the context that logged it and
 * the level it logged it at (`[local.4711] WARNING: ...`). For those,
 * @level applies to the level in the context; the line itself is written
 * escaped, as the master logs it (see %MITOGEN_HANDLE_FORWARD_LOG).
 *
 * This does not take over the process's log. The log writer stays the
 * program's (g_log_set_writer_func()), before or after this call, and still
 * receives every message: the library adds a g_log_set_handler() for its
 * domain that writes the copy, then hands the message to
 * g_log_default_handler(). While it is installed, a handler the program set
 * for the "mitogen" domain earlier, or with g_log_set_default_handler(), is
 * not called for that domain. The program's own messages, GLib's, and
 * records logged in this process with g_log_structured() are not copied.
 *
 * Calling it again switches to another file or level, closing the previous
 * file; %NULL stops copying and removes the handler. It is safe from any
 * thread. On error, the previous setting stays.
 *
 * Returns: %TRUE on success
 */
gboolean
mitogen_log_to_file (const char      *path,
                     GLogLevelFlags   level,
                     GError         **error)
{
  FILE *file = NULL;
  FILE *previous;

  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (path != NULL)
    {
      /* Close-on-exec: the contexts this process starts must not keep it. */
      file = fopen (path, "ae");
      if (file == NULL)
        {
          int saved_errno = errno;

          g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved_errno),
                       "cannot open log file %s: %s", path, g_strerror (saved_errno));
          return FALSE;
        }
    }

  g_mutex_lock (&log_file_lock);
  previous = log_file;
  log_file = file;
  log_file_level = level & G_LOG_LEVEL_MASK;
  if (file != NULL && log_file_handler == 0)
    log_file_handler = g_log_set_handler (G_LOG_DOMAIN,
                                          G_LOG_LEVEL_MASK | G_LOG_FLAG_FATAL | G_LOG_FLAG_RECURSION,
                                          library_log_handler, NULL);
  else if (file == NULL && log_file_handler != 0)
    {
      g_log_remove_handler (G_LOG_DOMAIN, log_file_handler);
      log_file_handler = 0;
    }
  g_mutex_unlock (&log_file_lock);

  /* Nobody writes to it any more: writers hold the lock. */
  if (previous != NULL)
    fclose (previous);
  return TRUE;
}

/**
 * mitogen_run_with_router:
 * @func: (scope call) (closure user_data): the program's body
 * @user_data: data for @func
 *
 * Starts a broker and a router, runs @func, then disconnects every
 * context and stops the broker, whatever @func did.
 *
 * Returns: what @func returned
 */
int
mitogen_run_with_router (MitogenRouterFunc func,
                         gpointer          user_data)
{
  g_autoptr(MitogenBroker) broker = mitogen_broker_new ();
  g_autoptr(MitogenRouter) router = mitogen_router_new (broker);
  int status;

  status = func (router, user_data);
  mitogen_router_disconnect_all (router);
  mitogen_broker_shutdown (broker);
  mitogen_broker_join (broker);
  return status;
}

/* Most calls take no arguments and most answers are "()": one shared,
 * immutable value saves building one (a type-info lookup under GLib's
 * global lock) for each. */
GVariant *
_mitogen_unit (void)
{
  static gsize unit;

  if (g_once_init_enter (&unit))
    g_once_init_leave (&unit, (gsize) g_variant_ref_sink (g_variant_new_tuple (NULL, 0)));
  return g_variant_ref ((GVariant *) unit);
}
