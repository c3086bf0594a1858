/* mitogen-utils.c: process identity, logging helpers, the error domain.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <stdio.h>
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

void
_mitogen_log_forwarded (const char     *context_name,
                        const char     *domain,
                        GLogLevelFlags  level,
                        const char     *message)
{
  g_autofree char *text = g_strdup_printf ("[%s] %s", context_name, message);
  const GLogField fields[] = {
    { "GLIB_DOMAIN", domain[0] ? domain : "mitogen", -1 },
    { "MESSAGE", text, -1 },
    { "MITOGEN_CONTEXT", context_name, -1 },
  };

  level &= G_LOG_LEVEL_MASK;
  /* A remote error must not abort this process. */
  if (level & G_LOG_LEVEL_ERROR)
    level = G_LOG_LEVEL_CRITICAL;
  if (level == 0)
    level = G_LOG_LEVEL_MESSAGE;
  g_log_structured_array (level, fields, G_N_ELEMENTS (fields));
}

static FILE *log_file;             /* owned by the writer once installed */
static GLogLevelFlags log_file_level;

static GLogWriterOutput
file_writer (GLogLevelFlags   level,
             const GLogField *fields,
             gsize            n_fields,
             gpointer         user_data)
{
  g_autofree char *line = NULL;
  g_autoptr(GDateTime) now = NULL;
  g_autofree char *stamp = NULL;

  /* Smaller flags are more severe. */
  if ((level & G_LOG_LEVEL_MASK) > log_file_level)
    return G_LOG_WRITER_HANDLED;
  now = g_date_time_new_now_local ();
  stamp = g_date_time_format (now, "%H:%M:%S.%f");
  line = g_log_writer_format_fields (level, fields, n_fields, FALSE);
  fprintf (log_file, "%s %s\n", stamp, line);
  fflush (log_file);
  return G_LOG_WRITER_HANDLED;
}

/**
 * mitogen_log_to_file:
 * @path: (nullable): a file to append to; %NULL for standard error
 * @level: the least severe level to write (G_LOG_LEVEL_DEBUG for all)
 * @error: return location for an error
 *
 * Sends this process's log, including what agents forward, to @path with
 * timestamps. Call it once, early.
 *
 * Returns: %TRUE on success
 */
gboolean
mitogen_log_to_file (const char      *path,
                     GLogLevelFlags   level,
                     GError         **error)
{
  FILE *f = stderr;

  if (path != NULL)
    {
      f = fopen (path, "a");
      if (f == NULL)
        {
          g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (errno),
                       "cannot open log file %s: %s", path, g_strerror (errno));
          return FALSE;
        }
    }
  log_file = f;
  log_file_level = level;
  g_log_set_writer_func (file_writer, NULL, NULL);
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
