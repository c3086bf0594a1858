/* test-log.c: mitogen_log_to_file() copies the library's log beside the
 * program's own writer, and the tests' log expectations catch what they
 * should.
 *
 * mitogen_test_init() installs this program's log writer before any test
 * runs, so every test here also checks that the library leaves it alone:
 * each expectation is met by a message reaching that writer.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <errno.h>
#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

#include "mitogen-test-util.h"

#define WAIT_MSEC 10000

typedef MitogenTestFixture Fixture;

#define TEST(path, func) \
  g_test_add ((path), Fixture, NULL, mitogen_test_fixture_setup, (func), mitogen_test_fixture_teardown)

static void
unlink_and_free (gpointer path)
{
  g_unlink (path);
  g_free (path);
}

/* An empty file for one test, removed when the test ends. */
static char *
new_log_path (void)
{
  g_autoptr(GError) error = NULL;
  char *path = NULL;
  int fd = g_file_open_tmp ("mitogen-test-log-XXXXXX", &path, &error);

  g_assert_no_error (error);
  close (fd);
  g_test_queue_destroy (unlink_and_free, path);
  return path;
}

static gboolean
log_contains (const char *path,
              const char *needle)
{
  g_autofree char *contents = NULL;
  g_autoptr(GError) error = NULL;

  g_assert_true (g_file_get_contents (path, &contents, NULL, &error));
  g_assert_no_error (error);
  return strstr (contents, needle) != NULL;
}

static void
set_log_file (const char     *path,
              GLogLevelFlags  level)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (mitogen_log_to_file (path, level, &error));
  g_assert_no_error (error);
}

/* A message for a handle nobody listens on in the master: the router logs
 * "no handler for handle N" at debug level, in the master, on its own. */
static void
provoke_engine_debug (MitogenRouter *router,
                      guint32        handle)
{
  g_autoptr(MitogenMessage) msg = mitogen_message_new (0, handle, g_variant_new_int32 (1));
  g_autoptr(GError) error = NULL;
  g_autofree char *pattern = g_strdup_printf ("*no handler for handle %u *", handle);

  mitogen_test_expect_log ("mitogen", G_LOG_LEVEL_DEBUG, pattern);
  g_assert_true (mitogen_router_route (router, msg, &error));
  g_assert_no_error (error);
  g_assert_true (mitogen_test_wait_expected_logs (WAIT_MSEC));
}

/* Has @ctx log a warning, which it forwards to the master; returns the
 * line the master logs for it. */
static char *
provoke_forwarded_warning (MitogenContext *ctx)
{
  const char *name = mitogen_context_get_name (ctx);
  g_autofree char *text = g_strdup_printf ("forwarded warning %u", g_random_int ());
  g_autoptr(GVariant) result = NULL;
  g_autoptr(GError) error = NULL;
  char *line = g_strdup_printf ("[%s] WARNING: %s", name, text);

  mitogen_test_expect_forwarded_log (name, "mitogen", G_LOG_LEVEL_WARNING, line);
  result = mitogen_context_call (ctx, "core.log", g_variant_new ("(ss)", "warning", text),
                                 NULL, &error);
  g_assert_no_error (error);
  g_assert_true (mitogen_test_wait_expected_logs (WAIT_MSEC));
  return line;
}

/* ---- mitogen_log_to_file() --------------------------------------------- */

static void
test_file_gets_engine_and_forwarded (Fixture       *fixture,
                                     gconstpointer  data)
{
  const char *path = new_log_path ();
  g_autoptr(MitogenContext) ctx = mitogen_test_local (fixture->router);
  g_autofree char *forwarded = NULL;

  set_log_file (path, G_LOG_LEVEL_DEBUG);
  provoke_engine_debug (fixture->router, 91001);
  forwarded = provoke_forwarded_warning (ctx);
  set_log_file (NULL, 0);

  /* The engine's own message, with its domain and level. */
  g_assert_true (log_contains (path, "mitogen-DEBUG: context 0: no handler for handle 91001 "));
  /* The forwarded one, saying which context spoke. */
  g_assert_true (log_contains (path, forwarded));
}

static void
test_level_filters (Fixture       *fixture,
                    gconstpointer  data)
{
  const char *path = new_log_path ();
  g_autoptr(MitogenContext) ctx = mitogen_test_local (fixture->router);
  g_autofree char *forwarded = NULL;

  set_log_file (path, G_LOG_LEVEL_WARNING);
  provoke_engine_debug (fixture->router, 91002);
  forwarded = provoke_forwarded_warning (ctx);
  set_log_file (NULL, 0);

  g_assert_false (log_contains (path, "handle 91002"));
  g_assert_true (log_contains (path, forwarded));
}

/* Calling it again is no error (it used to abort the process): the second
 * call moves the copy to the other file, at its level. */
static void
test_second_call_switches (Fixture       *fixture,
                           gconstpointer  data)
{
  const char *first = new_log_path ();
  const char *second = new_log_path ();
  g_autoptr(MitogenContext) ctx = mitogen_test_local (fixture->router);
  g_autofree char *forwarded = NULL;

  set_log_file (first, G_LOG_LEVEL_DEBUG);
  provoke_engine_debug (fixture->router, 91003);
  set_log_file (second, G_LOG_LEVEL_WARNING);
  provoke_engine_debug (fixture->router, 91004);
  forwarded = provoke_forwarded_warning (ctx);
  set_log_file (NULL, 0);

  g_assert_true (log_contains (first, "handle 91003"));
  g_assert_false (log_contains (first, "handle 91004"));
  g_assert_false (log_contains (first, forwarded));
  /* The second file has the second level: no debug. */
  g_assert_false (log_contains (second, "handle 91003"));
  g_assert_false (log_contains (second, "handle 91004"));
  g_assert_true (log_contains (second, forwarded));
}

/* NULL stops the copy; the program's writer still gets everything (the
 * expectations in the provoke_*() helpers are met there). */
static void
test_null_stops (Fixture       *fixture,
                 gconstpointer  data)
{
  const char *path = new_log_path ();
  g_autoptr(MitogenContext) ctx = mitogen_test_local (fixture->router);
  g_autofree char *forwarded = NULL;

  set_log_file (path, G_LOG_LEVEL_DEBUG);
  provoke_engine_debug (fixture->router, 91005);
  set_log_file (NULL, 0);
  provoke_engine_debug (fixture->router, 91006);
  forwarded = provoke_forwarded_warning (ctx);
  /* Stopping twice is fine too. */
  set_log_file (NULL, 0);

  g_assert_true (log_contains (path, "handle 91005"));
  g_assert_false (log_contains (path, "handle 91006"));
  g_assert_false (log_contains (path, forwarded));
}

/* A file that cannot be opened is an error, and the previous file stays. */
static void
test_bad_path_keeps_previous (Fixture       *fixture,
                              gconstpointer  data)
{
  const char *path = new_log_path ();
  g_autoptr(GError) error = NULL;

  set_log_file (path, G_LOG_LEVEL_DEBUG);
  g_assert_false (mitogen_log_to_file ("/nonexistent/mitogen/test.log", G_LOG_LEVEL_DEBUG, &error));
  g_assert_error (error, G_FILE_ERROR, G_FILE_ERROR_NOENT);
  g_assert_nonnull (strstr (error->message, "/nonexistent/mitogen/test.log"));
  provoke_engine_debug (fixture->router, 91007);
  set_log_file (NULL, 0);

  g_assert_true (log_contains (path, "handle 91007"));
}

/* ---- the tests' own log checks ----------------------------------------- *
 *
 * Each runs in a subprocess, which must fail where a test would. */

static gpointer
log_warning_thread (gpointer data)
{
  g_log ("mitogen", G_LOG_LEVEL_WARNING, "%s", (const char *) data);
  return NULL;
}

static void
test_harness_expected_passes (void)
{
  if (g_test_subprocess ())
    {
      g_autoptr(GThread) thread = NULL;

      /* Expected, and logged from another thread, as the broker would. */
      mitogen_test_expect_log ("mitogen", G_LOG_LEVEL_WARNING, "expected * warning");
      thread = g_thread_new ("warner", log_warning_thread, (gpointer) "expected threaded warning");
      g_thread_join (g_steal_pointer (&thread));
      g_print ("child done\n");
      return;
    }
  g_test_trap_subprocess (NULL, 30 * G_USEC_PER_SEC, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed ();
  g_test_trap_assert_stdout ("*child done*");
  g_test_trap_assert_stderr_unmatched ("*expected threaded warning*");
}

static void
test_harness_unexpected_fails (void)
{
  if (g_test_subprocess ())
    {
      g_autoptr(GThread) thread = g_thread_new ("warner", log_warning_thread,
                                                (gpointer) "nobody expects this");

      g_thread_join (g_steal_pointer (&thread));
      return;
    }
  g_test_trap_subprocess (NULL, 30 * G_USEC_PER_SEC, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_failed ();
  g_test_trap_assert_stderr ("*unexpected log message: mitogen-WARNING: nobody expects this*");
}

static void
test_harness_missing_fails (void)
{
  if (g_test_subprocess ())
    {
      /* Checked when the test ends. */
      mitogen_test_expect_log ("mitogen", G_LOG_LEVEL_MESSAGE, "never logged");
      return;
    }
  g_test_trap_subprocess (NULL, 60 * G_USEC_PER_SEC, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_failed ();
  g_test_trap_assert_stderr ("*expected log messages never came:*never logged*");
}

static void
test_harness_forbidden_fails (void)
{
  if (g_test_subprocess ())
    {
      mitogen_test_expect_no_log ("mitogen", G_LOG_LEVEL_DEBUG, "*secret*");
      g_log ("mitogen", G_LOG_LEVEL_DEBUG, "a debug line that is fine");
      g_log ("mitogen", G_LOG_LEVEL_DEBUG, "the secret is out");
      return;
    }
  g_test_trap_subprocess (NULL, 30 * G_USEC_PER_SEC, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_failed ();
  g_test_trap_assert_stderr ("*unexpected log message: mitogen-DEBUG: the secret is out*");
}

int
main (int    argc,
      char **argv)
{
  mitogen_test_init (&argc, &argv);

  TEST ("/log/file/engine-and-forwarded", test_file_gets_engine_and_forwarded);
  TEST ("/log/file/level", test_level_filters);
  TEST ("/log/file/second-call-switches", test_second_call_switches);
  TEST ("/log/file/null-stops", test_null_stops);
  TEST ("/log/file/bad-path-keeps-previous", test_bad_path_keeps_previous);
  g_test_add_func ("/log/harness/expected-passes", test_harness_expected_passes);
  g_test_add_func ("/log/harness/unexpected-fails", test_harness_unexpected_fails);
  g_test_add_func ("/log/harness/missing-fails", test_harness_missing_fails);
  g_test_add_func ("/log/harness/forbidden-fails", test_harness_forbidden_fails);

  return g_test_run ();
}
