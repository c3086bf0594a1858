/* mitogen-test-util.c: helpers shared by the C tests.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mitogen-test-util.h"

void
mitogen_test_fixture_setup (MitogenTestFixture *fixture,
                            gconstpointer       data)
{
  fixture->broker = mitogen_broker_new ();
  fixture->router = mitogen_router_new (fixture->broker);
}

static gboolean
signal_done (gpointer data)
{
  g_atomic_int_set ((gboolean *) data, TRUE);
  return G_SOURCE_REMOVE;
}

void
mitogen_test_sync_with_broker (MitogenBroker *broker)
{
  gboolean done = FALSE;
  gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;

  mitogen_broker_defer (broker, signal_done, &done, NULL);
  while (!g_atomic_int_get (&done) && g_get_monotonic_time () < deadline)
    g_usleep (1000);
  g_assert_true (g_atomic_int_get (&done));
}

void
mitogen_test_drain_default_context (void)
{
  while (g_main_context_iteration (NULL, FALSE))
    ;
}

gboolean
mitogen_test_iterate_until (gboolean *flag,
                            int       timeout_msec)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_msec * 1000;

  while (!g_atomic_int_get (flag) && g_get_monotonic_time () < deadline)
    if (!g_main_context_iteration (NULL, FALSE))
      g_usleep (1000);
  return g_atomic_int_get (flag);
}

gboolean
mitogen_test_wait_disconnected (MitogenContext *ctx,
                                int             timeout_msec)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_msec * 1000;

  while (mitogen_context_is_connected (ctx) && g_get_monotonic_time () < deadline)
    g_usleep (1000);
  return !mitogen_context_is_connected (ctx);
}

/* How long a teardown waits for the agents it disconnected to end: their
 * checkers write the reports last, and valgrind's leak check is slow. */
#define AGENT_END_WAIT_MSEC 60000

/* The pids of the agents @contexts run, from their ready frames. */
static GArray *
agent_pids (GPtrArray *contexts)
{
  GArray *pids = g_array_new (FALSE, FALSE, sizeof (gint32));

  for (guint i = 0; i < contexts->len; i++)
    {
      GVariant *info = mitogen_context_get_remote_info (contexts->pdata[i]);
      gint32 pid;

      if (info != NULL && g_variant_lookup (info, "pid", "i", &pid) && pid > 0)
        g_array_append_val (pids, pid);
    }
  return pids;
}

/* Disconnects every context this router started and waits until each is
 * gone; lets the broker finish and the "context-lost" emissions (which hold
 * the router) run; then a router still alive was leaked. Last, once the
 * agents have ended, what their checkers reported. */
void
mitogen_test_fixture_teardown (MitogenTestFixture *fixture,
                               gconstpointer       data)
{
  g_autoptr(GPtrArray) contexts = mitogen_router_list_contexts (fixture->router);
  g_autoptr(GArray) pids = agent_pids (contexts);

  mitogen_router_disconnect_all (fixture->router);
  for (guint i = 0; i < contexts->len; i++)
    if (mitogen_context_get_remote_info (contexts->pdata[i]) != NULL &&
        mitogen_context_get_via (contexts->pdata[i]) == NULL)
      g_assert_true (mitogen_test_wait_disconnected (contexts->pdata[i], 10000));
  g_clear_pointer (&contexts, g_ptr_array_unref);
  mitogen_test_sync_with_broker (fixture->broker);
  mitogen_test_drain_default_context ();

  g_object_add_weak_pointer (G_OBJECT (fixture->router), (gpointer *) &fixture->router);
  g_object_unref (fixture->router);
  for (gint64 deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;
       fixture->router != NULL && g_get_monotonic_time () < deadline;)
    if (!g_main_context_iteration (NULL, FALSE))
      g_usleep (1000);
  g_assert_null (fixture->router);
  mitogen_broker_shutdown (fixture->broker);
  mitogen_broker_join (fixture->broker);
  g_clear_object (&fixture->broker);
  mitogen_test_assert_expected_logs ();

  for (guint i = 0; i < pids->len; i++)
    mitogen_test_wait_pid_gone (g_array_index (pids, gint32, i), AGENT_END_WAIT_MSEC);
  mitogen_test_assert_agents_clean ();
}

MitogenContext *
mitogen_test_local (MitogenRouter *router)
{
  g_autoptr(GError) error = NULL;
  MitogenContext *ctx = mitogen_router_local (router, NULL, NULL, &error);

  g_assert_no_error (error);
  g_assert_nonnull (ctx);
  return ctx;
}

MitogenContext *
mitogen_test_connect_ok (MitogenRouter  *router,
                         const char     *transport,
                         GVariant       *options,
                         MitogenContext *via)
{
  g_autoptr(GError) error = NULL;
  MitogenContext *ctx = mitogen_router_connect_context (router, transport, options, via,
                                                        NULL, &error);

  g_assert_no_error (error);
  g_assert_nonnull (ctx);
  return ctx;
}

GError *
mitogen_test_connect_fails (MitogenRouter  *router,
                            const char     *transport,
                            GVariant       *options,
                            MitogenContext *via)
{
  GError *error = NULL;
  g_autoptr(MitogenContext) ctx = mitogen_router_connect_context (router, transport, options,
                                                                  via, NULL, &error);

  g_assert_null (ctx);
  g_assert_nonnull (error);
  return error;
}

GVariant *
mitogen_test_call_ok (MitogenContext *ctx,
                      const char     *function,
                      GVariant       *args)
{
  g_autoptr(GError) error = NULL;
  GVariant *result = mitogen_context_call (ctx, function, args, NULL, &error);

  g_assert_no_error (error);
  g_assert_nonnull (result);
  return result;
}

int
mitogen_test_context_pid (MitogenContext *context)
{
  GVariant *info = mitogen_context_get_remote_info (context);
  gint32 pid = 0;

  g_assert_nonnull (info);
  g_assert_true (g_variant_lookup (info, "pid", "i", &pid));
  return pid;
}

static guint
thread_count (int pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/task", pid);
  g_autoptr(GDir) tasks = g_dir_open (path, 0, NULL);
  guint n = 0;

  while (tasks != NULL && g_dir_read_name (tasks) != NULL)
    n++;
  return n;
}

gboolean
mitogen_test_read_stat (int   pid,
                        char *state,
                        int  *ppid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/stat", pid);
  g_autofree char *contents = NULL;
  const char *p;

  if (!g_file_get_contents (path, &contents, NULL, NULL))
    return FALSE;
  /* "pid (comm) state ppid ...", where comm may hold anything. */
  p = strrchr (contents, ')');
  return p != NULL && sscanf (p + 1, " %c %d", state, ppid) == 2;
}

gboolean
mitogen_test_pid_alive (int pid)
{
  char state;
  int ppid;

  if (!mitogen_test_read_stat (pid, &state, &ppid))
    return FALSE;
  /* Z is a zombie. */
  if (state != 'Z')
    return TRUE;
  /* A leader that has ended while other threads go on (valgrind writes its
   * report from the last one) shows as a zombie too. */
  return thread_count (pid) > 1;
}

gboolean
mitogen_test_wait_pid_gone (int pid,
                            int timeout_msec)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_msec * 1000;

  while (mitogen_test_pid_alive (pid))
    {
      if (g_get_monotonic_time () > deadline)
        return FALSE;
      g_usleep (5000);
    }
  return TRUE;
}

/* ---- log messages ------------------------------------------------------ */

/* How long the end-of-test check waits for messages from other processes. */
#define EXPECTED_LOG_WAIT_MSEC 10000

typedef struct
{
  gboolean        forwarded;  /* from mitogen_test_expect_forwarded_log() */
  char           *context;    /* nullable: any (or no) MITOGEN_CONTEXT */
  char           *domain;     /* nullable: messages without a domain; for a
                               * forwarded one, the domain in the context */
  GLogLevelFlags  level;      /* for a forwarded one, the level in the context */
  char           *pattern;
  gboolean        forbidden;  /* from mitogen_test_expect_no_log() */
  gboolean        met;
} ExpectedLog;

/* What the writer sees of one message. */
typedef struct
{
  const char     *context;        /* MITOGEN_CONTEXT, or NULL */
  const char     *domain;         /* GLIB_DOMAIN, or NULL */
  GLogLevelFlags  level;
  const char     *remote_domain;  /* MITOGEN_REMOTE_DOMAIN, or NULL */
  const char     *remote_level;   /* MITOGEN_REMOTE_LEVEL: NULL if not forwarded */
  const char     *message;
} SeenLog;

static GMutex expected_lock;
static GCond expected_cond;         /* broadcast whenever an expectation is met */
static GPtrArray *expected_logs;    /* ExpectedLog*, guarded by expected_lock */
static gboolean end_check_queued;   /* test thread only */

static void
expected_log_free (gpointer data)
{
  ExpectedLog *e = data;

  g_free (e->context);
  g_free (e->domain);
  g_free (e->pattern);
  g_free (e);
}

static const char *remote_level_name (GLogLevelFlags level);

/* A forwarded expectation matches a forwarded record by the domain and
 * level it had in its context; any other matches a local record, or (if
 * forbidden) any record, by what this process logged. */
static gboolean
expected_log_matches (const ExpectedLog *e,
                      const SeenLog     *seen)
{
  if (e->forwarded)
    return seen->remote_level != NULL &&
           g_strcmp0 (seen->remote_level, remote_level_name (e->level)) == 0 &&
           g_strcmp0 (e->domain, seen->remote_domain) == 0 &&
           (e->context == NULL || g_strcmp0 (e->context, seen->context) == 0) &&
           g_pattern_match_simple (e->pattern, seen->message);
  if (seen->remote_level != NULL && !e->forbidden)
    return FALSE;
  return (seen->level & G_LOG_LEVEL_MASK) == e->level &&
         g_strcmp0 (e->domain, seen->domain) == 0 &&
         (e->context == NULL || g_strcmp0 (e->context, seen->context) == 0) &&
         g_pattern_match_simple (e->pattern, seen->message);
}

/* A field's value as a string, copied if it was not NUL-terminated. */
static char *
field_value (const GLogField *fields,
             gsize            n_fields,
             const char      *key)
{
  for (gsize i = 0; i < n_fields; i++)
    if (g_str_equal (fields[i].key, key))
      return fields[i].length < 0 ? g_strdup (fields[i].value)
                                  : g_strndup (fields[i].value, fields[i].length);
  return NULL;
}

static const char *
level_name (GLogLevelFlags level)
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

/* As the master names a context's level in MITOGEN_REMOTE_LEVEL. */
static const char *
remote_level_name (GLogLevelFlags level)
{
  return (level & G_LOG_LEVEL_MASK) == G_LOG_LEVEL_MESSAGE ? "MESSAGE" : level_name (level);
}

typedef enum
{
  LOG_PASSES,      /* neither expected nor a problem */
  LOG_EXPECTED,
  LOG_FORBIDDEN,
} LogVerdict;

static LogVerdict
judge_log (const SeenLog *seen)
{
  const GLogLevelFlags severe = G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING;
  LogVerdict verdict = LOG_PASSES;

  g_mutex_lock (&expected_lock);
  for (guint i = 0; i < expected_logs->len && verdict == LOG_PASSES; i++)
    {
      ExpectedLog *e = expected_logs->pdata[i];

      if ((e->met && !e->forbidden) || !expected_log_matches (e, seen))
        continue;
      e->met = TRUE;
      verdict = e->forbidden ? LOG_FORBIDDEN : LOG_EXPECTED;
    }
  if (verdict == LOG_EXPECTED)
    g_cond_broadcast (&expected_cond);
  g_mutex_unlock (&expected_lock);

  /* A forwarded record is never a warning of this process... */
  if (seen->remote_level != NULL && (seen->level & severe))
    return LOG_FORBIDDEN;
  /* ...but an unexpected warning in a context fails the test as one here. */
  if (verdict == LOG_PASSES &&
      ((seen->level & severe) ||
       (seen->remote_level != NULL && g_strv_contains ((const char * const[]) { "ERROR", "CRITICAL", "WARNING", NULL },
                                                       seen->remote_level))))
    return LOG_FORBIDDEN;
  return verdict;
}

/* May run on any thread: the broker's, a call's, the test's. */
static GLogWriterOutput
test_log_writer (GLogLevelFlags   level,
                 const GLogField *fields,
                 gsize            n_fields,
                 gpointer         user_data)
{
  g_autofree char *context = field_value (fields, n_fields, "MITOGEN_CONTEXT");
  g_autofree char *domain = field_value (fields, n_fields, "GLIB_DOMAIN");
  g_autofree char *message = field_value (fields, n_fields, "MESSAGE");
  g_autofree char *remote_domain = field_value (fields, n_fields, "MITOGEN_REMOTE_DOMAIN");
  g_autofree char *remote_level = field_value (fields, n_fields, "MITOGEN_REMOTE_LEVEL");
  const char *text = message != NULL ? message : "";
  SeenLog seen = { context, domain, level, remote_domain, remote_level, text };
  g_autofree char *failure = NULL;

  switch (judge_log (&seen))
    {
    case LOG_EXPECTED:
      return G_LOG_WRITER_HANDLED;
    case LOG_PASSES:
      return g_log_writer_default (level & ~G_LOG_FLAG_FATAL, fields, n_fields, user_data);
    case LOG_FORBIDDEN:
    default:
      break;
    }
  /* Not g_error(): that would log again, from inside the writer. */
  failure = g_strdup_printf ("unexpected log message: %s-%s: %s",
                             domain != NULL ? domain : "(no domain)",
                             level_name (level), text);
  g_assertion_message (G_LOG_DOMAIN, __FILE__, __LINE__, G_STRFUNC, failure);
  return G_LOG_WRITER_HANDLED;
}

static void setup_agent_reports (void);

void
mitogen_test_init (int    *argc,
                   char ***argv)
{
  g_test_init (argc, argv, NULL);
  expected_logs = g_ptr_array_new_with_free_func (expected_log_free);
  /* The writer decides what fails a test; if GLib aborted on every
   * warning itself, an expected one could not pass. */
  g_log_set_always_fatal (G_LOG_FATAL_MASK);
  /* g_test_init()'s default handler would echo every message, debug
   * included, as a TAP comment; GLib's own leaves that to the writer. */
  g_log_set_default_handler (g_log_default_handler, NULL);
  g_log_set_writer_func (test_log_writer, NULL, NULL);
  setup_agent_reports ();
}

static void
end_of_test_check (gpointer data)
{
  end_check_queued = FALSE;
  mitogen_test_assert_expected_logs ();
}

static void
add_expected_log (gboolean        forwarded,
                  const char     *context,
                  const char     *domain,
                  GLogLevelFlags  level,
                  const char     *pattern,
                  gboolean        forbidden)
{
  ExpectedLog *e = g_new0 (ExpectedLog, 1);

  g_assert_nonnull (expected_logs);  /* mitogen_test_init() was called */
  e->forwarded = forwarded;
  e->context = g_strdup (context);
  e->domain = g_strdup (domain);
  e->level = level & G_LOG_LEVEL_MASK;
  e->pattern = g_strdup (pattern);
  e->forbidden = forbidden;
  g_mutex_lock (&expected_lock);
  g_ptr_array_add (expected_logs, e);
  g_mutex_unlock (&expected_lock);

  /* Checked when the test ends, before its fixture's teardown. */
  if (!end_check_queued)
    {
      g_test_queue_destroy (end_of_test_check, NULL);
      end_check_queued = TRUE;
    }
}

void
mitogen_test_expect_log (const char     *domain,
                         GLogLevelFlags  level,
                         const char     *pattern)
{
  add_expected_log (FALSE, NULL, domain, level, pattern, FALSE);
}

void
mitogen_test_expect_forwarded_log (const char     *context,
                                   const char     *domain,
                                   GLogLevelFlags  level,
                                   const char     *pattern)
{
  add_expected_log (TRUE, context, domain, level, pattern, FALSE);
}

void
mitogen_test_expect_no_log (const char     *domain,
                            GLogLevelFlags  level,
                            const char     *pattern)
{
  add_expected_log (FALSE, NULL, domain, level, pattern, TRUE);
}

/* Called with expected_lock held. */
static ExpectedLog *
first_unmet_expectation (void)
{
  for (guint i = 0; i < expected_logs->len; i++)
    {
      ExpectedLog *e = expected_logs->pdata[i];

      if (!e->met && !e->forbidden)
        return e;
    }
  return NULL;
}

gboolean
mitogen_test_wait_expected_logs (int timeout_msec)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_msec * G_TIME_SPAN_MILLISECOND;
  gboolean all_met;

  g_mutex_lock (&expected_lock);
  while (first_unmet_expectation () != NULL &&
         g_cond_wait_until (&expected_cond, &expected_lock, deadline))
    ;
  all_met = first_unmet_expectation () == NULL;
  g_mutex_unlock (&expected_lock);
  return all_met;
}

void
mitogen_test_assert_expected_logs (void)
{
  g_autoptr(GString) missing = g_string_new (NULL);

  mitogen_test_wait_expected_logs (EXPECTED_LOG_WAIT_MSEC);
  g_mutex_lock (&expected_lock);
  for (guint i = 0; i < expected_logs->len; i++)
    {
      ExpectedLog *e = expected_logs->pdata[i];

      if (!e->met && !e->forbidden)
        g_string_append_printf (missing, " %s-%s “%s”;",
                                e->domain != NULL ? e->domain : "(no domain)",
                                level_name (e->level), e->pattern);
    }
  g_ptr_array_set_size (expected_logs, 0);
  g_mutex_unlock (&expected_lock);

  if (missing->len > 0)
    {
      g_autofree char *failure = g_strdup_printf ("expected log messages never came:%s", missing->str);

      g_assertion_message (G_LOG_DOMAIN, __FILE__, __LINE__, G_STRFUNC, failure);
    }
}

/* ---- what checkers found in agents ------------------------------------- */

#define AGENT_REPORTS_ENV "MITOGEN_TEST_AGENT_REPORTS"
/* At most this much of each faulty report goes into the failure message. */
#define REPORT_EXCERPT_BYTES 8000

static char *agent_reports_dir;    /* this program's, made by mitogen_test_init() */
static GHashTable *judged_reports; /* paths of the reports judged already */
static gboolean owns_reports_dir;  /* made it (not a test subprocess): removes it */

const char *
mitogen_test_agent_reports_dir (void)
{
  return agent_reports_dir;
}

/* Adds NAME=VALUE to a sanitizer's options in the environment, for the
 * agents. This program's own runtime read its options when it started:
 * its reports still go to standard error, where meson shows them. */
static void
add_sanitizer_option (const char *variable,
                      const char *name,
                      const char *value)
{
  const char *old = g_getenv (variable);
  g_autofree char *options = NULL;

  options = g_strdup_printf ("%s%s%s=%s", old != NULL ? old : "",
                             old != NULL && old[0] != '\0' ? ":" : "", name, value);
  g_setenv (variable, options, TRUE);
}

/* What valgrind found in one agent. An agent killed before valgrind could
 * write its summary (SIGKILL) still counts the errors it showed on the way. */
static gboolean
valgrind_report_is_clean (const char *text)
{
  const char *summary = strstr (text, "ERROR SUMMARY: ");

  if (summary != NULL)
    return g_ascii_strtoull (summary + strlen ("ERROR SUMMARY: "), NULL, 10) == 0;
  return strstr (text, "== Invalid ") == NULL && strstr (text, "uninitialised") == NULL &&
         strstr (text, "== Mismatched free") == NULL;
}

typedef enum
{
  REPORT_PENDING,  /* its agent still runs: judged later */
  REPORT_CLEAN,
  REPORT_FAULT,
} ReportVerdict;

/* The reports are named CHECKER.PID: ASan and UBSan write one only to
 * report a fault, valgrind one for every agent (and every process it
 * forks). */
static ReportVerdict
judge_report (const char *path,
              const char *name,
              GString    *faults)
{
  const char *dot = strrchr (name, '.');
  gint64 pid = dot != NULL ? g_ascii_strtoll (dot + 1, NULL, 10) : 0;
  g_autofree char *text = NULL;
  g_autoptr(GError) error = NULL;

  if (pid > 0 && mitogen_test_pid_alive ((int) pid))
    return REPORT_PENDING;
  if (!g_file_get_contents (path, &text, NULL, &error))
    {
      g_string_append_printf (faults, "%s: cannot read it: %s\n", path, error->message);
      return REPORT_FAULT;
    }
  if (g_str_has_prefix (name, "valgrind.") && valgrind_report_is_clean (text))
    return REPORT_CLEAN;
  g_string_append_printf (faults, "---- %s ----\n%.*s%s\n", path, REPORT_EXCERPT_BYTES, text,
                          strlen (text) > REPORT_EXCERPT_BYTES ? "\n[...]" : "");
  return REPORT_FAULT;
}

char *
mitogen_test_agent_reports_faults (const char *dir)
{
  g_autoptr(GDir) reports = g_dir_open (dir, 0, NULL);
  g_autoptr(GString) faults = g_string_new (NULL);
  const char *name;

  g_assert_nonnull (judged_reports);  /* mitogen_test_init() was called */
  if (reports == NULL)
    return NULL;
  while ((name = g_dir_read_name (reports)) != NULL)
    {
      g_autofree char *path = g_build_filename (dir, name, NULL);

      if (!g_hash_table_contains (judged_reports, path) &&
          judge_report (path, name, faults) != REPORT_PENDING)
        g_hash_table_add (judged_reports, g_steal_pointer (&path));
    }
  if (faults->len == 0)
    return NULL;
  return g_string_free (g_steal_pointer (&faults), FALSE);
}

void
mitogen_test_assert_agents_clean (void)
{
  g_autofree char *faults = mitogen_test_agent_reports_faults (agent_reports_dir);

  if (faults != NULL)
    {
      g_autofree char *failure = g_strdup_printf ("an agent's checker reported a fault:\n%s", faults);

      g_assertion_message (G_LOG_DOMAIN, __FILE__, __LINE__, G_STRFUNC, failure);
    }
}

/* The reports no teardown judged: those of agents a test left running
 * are judged if they have ended (those still running are not waited for:
 * they end when this process does). A fault makes the program fail; a
 * clean directory is removed. */
static void
judge_agent_reports_at_exit (void)
{
  g_autofree char *faults = mitogen_test_agent_reports_faults (agent_reports_dir);
  GHashTableIter iter;
  gpointer path;

  if (faults != NULL)
    {
      fprintf (stderr, "# an agent's checker reported a fault (reports kept in %s):\n%s",
               agent_reports_dir, faults);
      fflush (NULL);
      _exit (1);
    }
  if (!owns_reports_dir)
    return;
  g_hash_table_iter_init (&iter, judged_reports);
  while (g_hash_table_iter_next (&iter, &path, NULL))
    if (g_str_has_prefix (path, agent_reports_dir))
      unlink (path);
  rmdir (agent_reports_dir);
}

/* A directory for this program's agent reports, under the build tree's
 * tests/agent-reports, open to agents running as other users (as /tmp is):
 * ASan and UBSan write theirs there through log_path, the valgrind setup's
 * MITOGEN_AGENT_WRAPPER through %q{MITOGEN_TEST_AGENT_REPORTS}. */
static void
setup_agent_reports (void)
{
  const char *builddir = g_getenv ("G_TEST_BUILDDIR");
  g_autofree char *parent = g_build_filename (builddir != NULL ? builddir : g_get_tmp_dir (),
                                              "agent-reports", NULL);
  g_autofree char *program = g_path_get_basename (g_get_prgname ());
  g_autofree char *asan_path = NULL;
  g_autofree char *ubsan_path = NULL;

  judged_reports = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  /* A g_test_trap_subprocess() child judges in its parent's directory
   * (and leaves it there), which also sees what the child left. */
  if (g_test_subprocess () && g_getenv (AGENT_REPORTS_ENV) != NULL)
    {
      agent_reports_dir = g_strdup (g_getenv (AGENT_REPORTS_ENV));
      atexit (judge_agent_reports_at_exit);
      return;
    }
  g_assert_cmpint (g_mkdir_with_parents (parent, 0755), ==, 0);
  agent_reports_dir = g_strdup_printf ("%s/%s-XXXXXX", parent, program);
  g_assert_nonnull (g_mkdtemp (agent_reports_dir));
  g_assert_cmpint (chmod (agent_reports_dir, 01777), ==, 0);
  owns_reports_dir = TRUE;
  g_setenv (AGENT_REPORTS_ENV, agent_reports_dir, TRUE);

  asan_path = g_build_filename (agent_reports_dir, "asan", NULL);
  ubsan_path = g_build_filename (agent_reports_dir, "ubsan", NULL);
  add_sanitizer_option ("ASAN_OPTIONS", "log_path", asan_path);
  add_sanitizer_option ("UBSAN_OPTIONS", "log_path", ubsan_path);
  atexit (judge_agent_reports_at_exit);
}

/* ---- files ------------------------------------------------------------ */

char *
mitogen_test_make_dir (const char *prefix)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *tmpl = g_strconcat (prefix, "-XXXXXX", NULL);
  char *dir = g_dir_make_tmp (tmpl, &error);

  g_assert_no_error (error);
  return dir;
}

void
mitogen_test_remove_tree (const char *path)
{
  const char *argv[] = { "rm", "-rf", path, NULL };
  g_autoptr(GError) error = NULL;
  int status = -1;

  g_assert_true (g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL,
                               NULL, NULL, &status, &error));
  g_assert_no_error (error);
  g_assert_cmpint (status, ==, 0);
}

void
mitogen_test_write_pattern (const char *path,
                            gsize       size,
                            guint       seed)
{
  FILE *f = fopen (path, "w");
  guint8 buf[65521];

  g_assert_nonnull (f);
  for (gsize i = 0; i < sizeof buf; i++)
    buf[i] = (i * 7 + seed) % 251;
  for (gsize done = 0; done < size; done += MIN (sizeof buf, size - done))
    g_assert_cmpuint (fwrite (buf, 1, MIN (sizeof buf, size - done), f), ==,
                      MIN (sizeof buf, size - done));
  g_assert_cmpint (fclose (f), ==, 0);
}

char *
mitogen_test_file_sha (const char *path)
{
  g_autoptr(GChecksum) sum = g_checksum_new (G_CHECKSUM_SHA256);
  g_autoptr(GMappedFile) map = g_mapped_file_new (path, FALSE, NULL);

  g_assert_nonnull (map);
  g_checksum_update (sum, (const guchar *) g_mapped_file_get_contents (map),
                     g_mapped_file_get_length (map));
  return g_strdup (g_checksum_get_string (sum));
}

void
mitogen_test_assert_same_file (const char *a,
                               const char *b)
{
  g_autofree char *sa = mitogen_test_file_sha (a);
  g_autofree char *sb = mitogen_test_file_sha (b);

  g_assert_cmpstr (sa, ==, sb);
}

void
mitogen_test_assert_no_temp (const char *dir)
{
  g_autoptr(GDir) d = g_dir_open (dir, 0, NULL);
  const char *name;

  while (d != NULL && (name = g_dir_read_name (d)) != NULL)
    g_assert_null (strstr (name, ".mitogen-"));
}
