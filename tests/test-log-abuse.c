/* test-log-abuse.c: a context that abuses log forwarding cannot forge
 * lines in the master's log, flood it, or abort it.
 *
 * The abuse runs in real agents, through the logspam test module: through
 * the agent's own log writer, or with FORWARD_LOG frames the module makes
 * itself, as a hostile context would. Most checks run this program again
 * as a plain master (--plain-master SCENARIO): GLib's default log writer,
 * no test harness, G_DEBUG as a user would set it; the test reads what
 * that master printed and exited with.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <glib/gstdio.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mitogen-test-util.h"

#define WAIT_MSEC 10000
#define FLOOD 100000

/* The longest message the master prints (4 KiB) before cutting it. */
#define MAX_RECORD 4096

/* What the master allows a context: a burst, then a rate (per second). */
#define BURST 200
#define RATE  50

/* A record that tries to pass for several lines and to paint the terminal. */
#define NASTY "first line\nforged: mitogen-WARNING: pwned\x1b[31m red\r\tend\\ \xe2\x80\xae"
#define NASTY_ESCAPED "first line\\nforged: mitogen-WARNING: pwned\\x1b[31m red\\r\\tend\\\\ \\u202e"

static const char *self_path;  /* this program, to run it as a plain master */

typedef MitogenTestFixture Fixture;

#define TEST(path, func) \
  g_test_add ((path), Fixture, NULL, mitogen_test_fixture_setup, (func), mitogen_test_fixture_teardown)

static GVariant *
text_bytes (const char *text)
{
  return g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, text, strlen (text), 1);
}

/* Arguments of logspam.log: through the agent's log writer. */
static GVariant *
log_args (const char *level,
          const char *text)
{
  return g_variant_new ("(s@ay)", level, text_bytes (text));
}

/* Arguments of logspam.forge: @count frames made by the module itself. */
static GVariant *
forge_args (guint32     count,
            gint32      level,
            const char *text)
{
  return g_variant_new ("(ui@ay)", count, level, text_bytes (text));
}

static void
add_logspam_module (void)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (mitogen_add_module ("logspam", g_getenv ("MITOGEN_TEST_LOGSPAM_MODULE"), &error));
  g_assert_no_error (error);
}

/* ---- the plain master ---------------------------------------------------- */

static G_NORETURN void
plain_fail (const char   *what,
            const GError *error)
{
  g_printerr ("plain master: %s: %s\n", what, error != NULL ? error->message : "failed");
  exit (3);
}

static MitogenContext *
plain_connect (MitogenRouter *router)
{
  g_autoptr(GError) error = NULL;
  MitogenContext *ctx = mitogen_router_local (router, NULL, NULL, &error);

  if (ctx == NULL)
    plain_fail ("connect", error);
  return ctx;
}

static void
plain_call (MitogenContext *ctx,
            const char     *function,
            GVariant       *args)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) result = mitogen_context_call (ctx, function, args, NULL, &error);

  if (error != NULL)
    plain_fail (function, error);
}

/* A child's warning, critical and (forged) error, and a record with every
 * level bit set, reach a master whose warnings are fatal. */
static void
plain_fatal_warnings (MitogenRouter *router)
{
  g_autoptr(MitogenContext) ctx = plain_connect (router);

  plain_call (ctx, "logspam.log", log_args ("warning", "a warning in the agent"));
  plain_call (ctx, "logspam.log", log_args ("critical", "a critical in the agent"));
  plain_call (ctx, "logspam.forge", forge_args (1, G_LOG_LEVEL_ERROR | G_LOG_FLAG_FATAL, "a forged error"));
  plain_call (ctx, "logspam.forge", forge_args (1, -1, "every level bit at once"));
  plain_call (ctx, "core.ping", NULL);
  g_print ("master survived\n");
}

/* Records with newlines, escape sequences and no end, to stderr and to
 * the file of mitogen_log_to_file(). */
static void
plain_escaped (MitogenRouter *router,
               const char    *log_path)
{
  g_autoptr(MitogenContext) ctx = plain_connect (router);
  g_autofree char *long_text = g_strnfill (3 * MAX_RECORD, 'x');
  g_autoptr(GError) error = NULL;

  if (!mitogen_log_to_file (log_path, G_LOG_LEVEL_DEBUG, &error))
    plain_fail ("mitogen_log_to_file", error);
  plain_call (ctx, "logspam.log", log_args ("message", NASTY));
  plain_call (ctx, "logspam.forge", forge_args (1, G_LOG_LEVEL_MESSAGE, "forged " NASTY));
  plain_call (ctx, "logspam.log", log_args ("message", long_text));
  plain_call (ctx, "core.ping", NULL);
  mitogen_log_to_file (NULL, 0, NULL);
  g_print ("master survived\n");
}

/* One context floods; another is still heard, during and after. */
static void
plain_flood (MitogenRouter *router)
{
  g_autoptr(MitogenContext) a = plain_connect (router);
  g_autoptr(MitogenContext) b = plain_connect (router);
  g_autoptr(MitogenReceiver) flood = NULL;
  g_autoptr(MitogenMessage) reply = NULL;
  g_autoptr(GError) error = NULL;
  gint64 start;

  g_print ("a=%s\nb=%s\n", mitogen_context_get_name (a), mitogen_context_get_name (b));
  start = g_get_monotonic_time ();
  flood = mitogen_context_begin_call (a, "logspam.forge", forge_args (FLOOD, G_LOG_LEVEL_MESSAGE, "flood record"));
  plain_call (b, "logspam.log", log_args ("message", "b is heard during the flood"));
  reply = mitogen_receiver_get (flood, -1, NULL, &error);
  if (reply == NULL || mitogen_message_is_dead (reply))
    plain_fail ("logspam.forge", error);
  /* The ping's reply comes behind every record a sent. */
  plain_call (a, "core.ping", NULL);
  g_print ("elapsed=%f\n", (g_get_monotonic_time () - start) / (double) G_USEC_PER_SEC);
  plain_call (b, "logspam.log", log_args ("message", "b is heard after the flood"));
  /* The last drop note comes about a second after the last drop. */
  g_usleep (2 * G_USEC_PER_SEC);
  g_print ("master survived\n");
}

/* Bytes that are not UTF-8, through the agent and forged. */
static void
plain_invalid_utf8 (MitogenRouter *router)
{
  g_autoptr(MitogenContext) ctx = plain_connect (router);

  plain_call (ctx, "logspam.log", log_args ("message", "bad \xff\xfe bytes \xc3"));
  plain_call (ctx, "logspam.forge", forge_args (1, G_LOG_LEVEL_MESSAGE, "forged \xff bytes"));
  plain_call (ctx, "core.ping", NULL);
  g_print ("master survived\n");
}

static int
plain_master (const char *scenario,
              const char *arg)
{
  g_autoptr(MitogenBroker) broker = NULL;
  g_autoptr(MitogenRouter) router = NULL;

  /* As programs do: GLib then writes UTF-8 to a UTF-8 terminal. */
  setlocale (LC_ALL, "");
  /* GLib read G_DEBUG when this process started; the agents need not
   * inherit it: what a child does with its own warnings is its affair. */
  g_unsetenv ("G_DEBUG");
  if (g_str_equal (scenario, "own-warning"))
    {
      g_warning ("the master's own warning");
      g_print ("master survived\n");
      return 0;
    }

  broker = mitogen_broker_new ();
  router = mitogen_router_new (broker);
  add_logspam_module ();
  if (g_str_equal (scenario, "fatal-warnings"))
    plain_fatal_warnings (router);
  else if (g_str_equal (scenario, "escaped") && arg != NULL)
    plain_escaped (router, arg);
  else if (g_str_equal (scenario, "flood"))
    plain_flood (router);
  else if (g_str_equal (scenario, "invalid-utf8"))
    plain_invalid_utf8 (router);
  else
    plain_fail (scenario, NULL);
  mitogen_router_disconnect_all (router);
  mitogen_broker_shutdown (broker);
  mitogen_broker_join (broker);
  return 0;
}

typedef struct
{
  gboolean  exited;     /* exited normally, with... */
  int       status;     /* ...this status */
  char     *out;
  char     *err;
  char    **err_lines;
} PlainRun;

static void
plain_run_free (PlainRun *run)
{
  g_free (run->out);
  g_free (run->err);
  g_strfreev (run->err_lines);
  g_free (run);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PlainRun, plain_run_free)

static PlainRun *
run_plain_master (const char *g_debug,
                  const char *scenario,
                  const char *arg)
{
  const char *argv[] = { self_path, "--plain-master", scenario, arg, NULL };
  g_auto(GStrv) envp = g_get_environ ();
  g_autoptr(GError) error = NULL;
  PlainRun *run = g_new0 (PlainRun, 1);
  int wait_status = 0;

  envp = g_environ_setenv (envp, "G_DEBUG", g_debug, TRUE);
  /* What the master prints is UTF-8, escapes included, as GLib writes it. */
  envp = g_environ_setenv (envp, "LC_ALL", "C.UTF-8", TRUE);
  envp = g_environ_unsetenv (envp, "G_MESSAGES_DEBUG");
  g_assert_true (g_spawn_sync (NULL, (char **) argv, envp, G_SPAWN_DEFAULT, NULL, NULL,
                               &run->out, &run->err, &wait_status, &error));
  g_assert_no_error (error);
  run->exited = WIFEXITED (wait_status);
  run->status = run->exited ? WEXITSTATUS (wait_status) : -1;
  run->err_lines = g_strsplit (run->err, "\n", -1);
  if (g_test_verbose ())
    g_printerr ("plain master %s: status %d\n%s", scenario, run->status, run->err);
  return run;
}

static void
assert_survived (const PlainRun *run)
{
  if (!run->exited || run->status != 0)
    g_printerr ("the plain master did not survive; it said:\n%s", run->err);
  g_assert_true (run->exited);
  g_assert_cmpint (run->status, ==, 0);
  g_assert_nonnull (strstr (run->out, "master survived"));
}

/* The lines of @lines that contain @needle. */
static guint
count_lines (char * const *lines,
             const char   *needle)
{
  guint n = 0;

  for (guint i = 0; lines[i] != NULL; i++)
    if (strstr (lines[i], needle) != NULL)
      n++;
  return n;
}

static const char *
find_line (char * const *lines,
           const char   *needle)
{
  for (guint i = 0; lines[i] != NULL; i++)
    if (strstr (lines[i], needle) != NULL)
      return lines[i];
  return NULL;
}

/* A value the plain master printed as "KEY=VALUE" on its stdout. */
static char *
printed_value (const PlainRun *run,
               const char     *key)
{
  g_auto(GStrv) lines = g_strsplit (run->out, "\n", -1);
  g_autofree char *prefix = g_strconcat (key, "=", NULL);

  for (guint i = 0; lines[i] != NULL; i++)
    if (g_str_has_prefix (lines[i], prefix))
      return g_strdup (lines[i] + strlen (prefix));
  g_error ("the plain master printed no %s", key);
}

/* ---- fatal warnings ------------------------------------------------------ */

/* The control: G_DEBUG=fatal-warnings does make the plain master's own
 * warnings fatal, so the test below would see an abort. */
static void
test_own_warning_is_fatal (void)
{
  g_autoptr(PlainRun) run = run_plain_master ("fatal-warnings", "own-warning", NULL);

  g_assert_false (run->exited && run->status == 0);
  g_assert_null (strstr (run->out, "master survived"));
  g_assert_nonnull (strstr (run->err, "the master's own warning"));
}

static void
test_forwarded_warnings_not_fatal (void)
{
  g_autoptr(PlainRun) run = run_plain_master ("fatal-warnings", "fatal-warnings", NULL);
  const char *line;

  assert_survived (run);
  /* Each is the child's, at its level, in a message of the master. */
  line = find_line (run->err_lines, "logspam-WARNING: a warning in the agent");
  g_assert_nonnull (line);
  g_assert_true (g_str_has_prefix (line, "mitogen-Message: "));
  g_assert_nonnull (strstr (line, "[local."));
  line = find_line (run->err_lines, "logspam-CRITICAL: a critical in the agent");
  g_assert_nonnull (line);
  g_assert_true (g_str_has_prefix (line, "mitogen-Message: "));
  line = find_line (run->err_lines, "logspam-ERROR: a forged error");
  g_assert_nonnull (line);
  g_assert_true (g_str_has_prefix (line, "mitogen-Message: "));
  line = find_line (run->err_lines, "logspam-ERROR: every level bit at once");
  g_assert_nonnull (line);
  g_assert_true (g_str_has_prefix (line, "mitogen-Message: "));
}

/* ---- one record, one line ------------------------------------------------- */

static void
assert_one_escaped_line (char * const *lines,
                         const char   *where)
{
  const char *line;

  if (g_test_verbose ())
    g_printerr ("checking %s\n", where);
  /* Through the agent's writer, and forged: each one line, escaped. */
  g_assert_cmpuint (count_lines (lines, "first line"), ==, 2);
  line = find_line (lines, "logspam-MESSAGE: " NASTY_ESCAPED);
  g_assert_nonnull (line);
  g_assert_nonnull (find_line (lines, "logspam-MESSAGE: forged " NASTY_ESCAPED));
  for (guint i = 0; lines[i] != NULL; i++)
    {
      g_assert_false (g_str_has_prefix (lines[i], "forged:"));
      g_assert_null (strchr (lines[i], '\x1b'));
      g_assert_null (strchr (lines[i], '\r'));
      g_assert_null (strstr (lines[i], "\xe2\x80\xae"));
    }
  /* The long one is cut, with a marker. */
  line = find_line (lines, "logspam-MESSAGE: xxxx");
  g_assert_nonnull (line);
  g_assert_nonnull (strstr (line, "xxx... [truncated]"));
  g_assert_cmpuint (strlen (line), <, MAX_RECORD + 200);
}

static void
test_escaped_one_line (void)
{
  g_autofree char *log_path = NULL;
  g_autofree char *contents = NULL;
  g_auto(GStrv) file_lines = NULL;
  g_autoptr(PlainRun) run = NULL;
  g_autoptr(GError) error = NULL;
  int fd = g_file_open_tmp ("mitogen-log-abuse-XXXXXX", &log_path, &error);

  g_assert_no_error (error);
  close (fd);
  run = run_plain_master ("", "escaped", log_path);
  assert_survived (run);
  assert_one_escaped_line (run->err_lines, "stderr");

  g_assert_true (g_file_get_contents (log_path, &contents, NULL, &error));
  g_assert_no_error (error);
  g_unlink (log_path);
  file_lines = g_strsplit (contents, "\n", -1);
  assert_one_escaped_line (file_lines, "the log file");
}

/* ---- the rate limit --------------------------------------------------------- */

/* Sums the counts of the drop notes for @context in @lines. */
static guint64
dropped_in_notes (char * const *lines,
                  const char   *context)
{
  g_autofree char *prefix = g_strdup_printf ("[%s] ", context);
  guint64 dropped = 0;

  for (guint i = 0; lines[i] != NULL; i++)
    {
      const char *at = strstr (lines[i], prefix);
      char *end = NULL;
      guint64 n;

      if (at == NULL || strstr (at, " log records dropped") == NULL)
        continue;
      n = g_ascii_strtoull (at + strlen (prefix), &end, 10);
      g_assert_true (end != NULL && g_str_has_prefix (end, " log records dropped"));
      dropped += n;
    }
  return dropped;
}

static void
test_flood_is_bounded (void)
{
  g_autoptr(PlainRun) run = run_plain_master ("", "flood", NULL);
  g_autofree char *a = NULL;
  g_autofree char *b = NULL;
  g_autofree char *elapsed_text = NULL;
  g_autofree char *flood_line = NULL;
  g_autofree char *b_prefix = NULL;
  double elapsed;
  guint admitted;
  guint64 dropped;

  assert_survived (run);
  a = printed_value (run, "a");
  b = printed_value (run, "b");
  elapsed_text = printed_value (run, "elapsed");
  elapsed = g_ascii_strtod (elapsed_text, NULL);

  flood_line = g_strdup_printf ("[%s] logspam-MESSAGE: flood record", a);
  admitted = count_lines (run->err_lines, flood_line);
  dropped = dropped_in_notes (run->err_lines, a);
  if (g_test_verbose ())
    g_printerr ("%u records logged, %" G_GUINT64_FORMAT " dropped in %.2f s\n",
                admitted, dropped, elapsed);
  /* A burst, then the rate; every other record is counted in a note. */
  g_assert_cmpuint (admitted, >=, BURST);
  g_assert_cmpfloat (admitted, <=, BURST + RATE * elapsed + 1);
  g_assert_cmpuint (dropped, >, 0);
  g_assert_cmpuint (admitted + dropped, ==, FLOOD);
  g_assert_cmpuint (g_strv_length (run->err_lines), <, BURST + RATE * elapsed + 100);

  /* The other context is heard all the same. */
  b_prefix = g_strdup_printf ("[%s] logspam-MESSAGE: b is heard", b);
  g_assert_cmpuint (count_lines (run->err_lines, b_prefix), ==, 2);
}

/* ---- bytes that are not UTF-8 ------------------------------------------------- */

static void
test_invalid_utf8 (void)
{
  g_autoptr(PlainRun) run = run_plain_master ("", "invalid-utf8", NULL);

  assert_survived (run);
  /* Replaced, on its way out of the agent. */
  g_assert_nonnull (find_line (run->err_lines, "logspam-MESSAGE: bad \xef\xbf\xbd"));
  g_assert_true (g_utf8_validate (run->err, -1, NULL));
}

/* ---- the same, under this harness (and so under valgrind) ------------------ */

/* Levels as the child had them; the harness fails the test if the master
 * logs any of these as a warning or worse. */
static void
test_levels_in_harness (Fixture       *fixture,
                        gconstpointer  data)
{
  g_autoptr(MitogenContext) ctx = mitogen_test_local (fixture->router);
  const char *name = mitogen_context_get_name (ctx);
  g_autofree char *warning = g_strdup_printf ("[%s] logspam-WARNING: one\\ntwo", name);
  g_autofree char *error_line = g_strdup_printf ("[%s] logspam-ERROR: forged", name);
  g_autoptr(GError) error = NULL;

  add_logspam_module ();
  mitogen_test_expect_forwarded_log (name, "logspam", G_LOG_LEVEL_WARNING, warning);
  mitogen_test_expect_forwarded_log (name, "logspam", G_LOG_LEVEL_CRITICAL, "*critical*");
  mitogen_test_expect_forwarded_log (name, "logspam", G_LOG_LEVEL_ERROR, error_line);
  mitogen_test_expect_forwarded_log (name, "logspam", G_LOG_LEVEL_MESSAGE, "*bad \xef\xbf\xbd*");
  g_variant_unref (mitogen_context_call (ctx, "logspam.log", log_args ("warning", "one\ntwo"), NULL, &error));
  g_assert_no_error (error);
  g_variant_unref (mitogen_context_call (ctx, "logspam.log", log_args ("critical", "critical"), NULL, &error));
  g_assert_no_error (error);
  g_variant_unref (mitogen_context_call (ctx, "logspam.forge",
                                         forge_args (1, G_LOG_LEVEL_ERROR | G_LOG_FLAG_FATAL, "forged"),
                                         NULL, &error));
  g_assert_no_error (error);
  g_variant_unref (mitogen_context_call (ctx, "logspam.log", log_args ("message", "bad \xff bytes"), NULL, &error));
  g_assert_no_error (error);
  g_assert_true (mitogen_test_wait_expected_logs (WAIT_MSEC));
}

/* A small flood: the records past the burst are dropped and counted in a
 * note, logged a moment later. */
static void
test_drop_note_in_harness (Fixture       *fixture,
                           gconstpointer  data)
{
  g_autoptr(MitogenContext) ctx = mitogen_test_local (fixture->router);
  g_autofree char *record = g_strdup_printf ("[%s] logspam-INFO: quiet flood", mitogen_context_get_name (ctx));
  g_autofree char *path = NULL;
  g_autoptr(GError) error = NULL;
  gint64 start, deadline;
  guint64 dropped = 0;
  guint admitted = 0;
  double elapsed;
  int fd = g_file_open_tmp ("mitogen-log-abuse-XXXXXX", &path, &error);

  g_assert_no_error (error);
  close (fd);
  add_logspam_module ();
  g_assert_true (mitogen_log_to_file (path, G_LOG_LEVEL_DEBUG, &error));
  start = g_get_monotonic_time ();
  /* Info: not printed by GLib's writer, but copied to the file. */
  g_variant_unref (mitogen_context_call (ctx, "logspam.forge",
                                         forge_args (BURST + 100, G_LOG_LEVEL_INFO, "quiet flood"),
                                         NULL, &error));
  g_assert_no_error (error);
  g_variant_unref (mitogen_context_call (ctx, "core.ping", NULL, NULL, &error));
  g_assert_no_error (error);
  elapsed = (g_get_monotonic_time () - start) / (double) G_USEC_PER_SEC;

  deadline = g_get_monotonic_time () + WAIT_MSEC * 1000;
  while (g_get_monotonic_time () < deadline)
    {
      g_autofree char *contents = NULL;
      g_auto(GStrv) lines = NULL;

      g_assert_true (g_file_get_contents (path, &contents, NULL, NULL));
      lines = g_strsplit (contents, "\n", -1);
      admitted = count_lines (lines, record);
      dropped = dropped_in_notes (lines, mitogen_context_get_name (ctx));
      if (admitted + dropped == BURST + 100)
        break;
      g_usleep (50000);
    }
  mitogen_log_to_file (NULL, 0, NULL);
  g_unlink (path);
  g_assert_cmpuint (admitted + dropped, ==, BURST + 100);
  g_assert_cmpuint (admitted, >=, BURST);
  g_assert_cmpfloat (admitted, <=, BURST + RATE * elapsed + 1);
}

int
main (int    argc,
      char **argv)
{
  self_path = argv[0];
  if (argc >= 3 && g_str_equal (argv[1], "--plain-master"))
    return plain_master (argv[2], argc >= 4 ? argv[3] : NULL);

  mitogen_test_init (&argc, &argv);
  g_test_add_func ("/log-abuse/fatal-warnings/own-warning-is-fatal", test_own_warning_is_fatal);
  g_test_add_func ("/log-abuse/fatal-warnings/forwarded-not-fatal", test_forwarded_warnings_not_fatal);
  g_test_add_func ("/log-abuse/escaped-one-line", test_escaped_one_line);
  g_test_add_func ("/log-abuse/flood-is-bounded", test_flood_is_bounded);
  g_test_add_func ("/log-abuse/invalid-utf8", test_invalid_utf8);
  TEST ("/log-abuse/harness/levels", test_levels_in_harness);
  TEST ("/log-abuse/harness/drop-note", test_drop_note_in_harness);
  return g_test_run ();
}
