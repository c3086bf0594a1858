/* test-agent-check.c: the checkers of a test run see into the agents.
 *
 * Under ASan (build-asan) every agent runs a leak check before it exits;
 * under `meson test --setup valgrind` every local agent runs under
 * valgrind. Either way the reports land in a directory that the tests'
 * teardown judges (tests/mitogen-test-util.c). Here an agent leaks and
 * reads past a heap block on purpose, with its reports sent to a private
 * directory so that the run as a whole stays clean, and the test asserts
 * that the judge finds each fault and names it. In a build with no checker
 * the tests skip.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <glib/gstdio.h>
#include <string.h>

#include "mitogen-test-util.h"

/* The agent's leak check or valgrind run comes after the stream closes. */
#define AGENT_END_WAIT_MSEC 60000

/* As tests/modules/mitogen-test-module.c's testmod.leak loses. */
#define LEAK_SIZE "4243"
#define LEAK_SIZE_VALGRIND "4,243"

typedef MitogenTestFixture Fixture;

#define TEST(path, func) \
  g_test_add ((path), Fixture, NULL, mitogen_test_fixture_setup, (func), \
              mitogen_test_fixture_teardown)

#if defined(__SANITIZE_ADDRESS__)
# define BUILT_WITH_ASAN 1
#elif defined(__has_feature)
# if __has_feature(address_sanitizer)
#  define BUILT_WITH_ASAN 1
# endif
#endif

typedef enum
{
  CHECKER_NONE,
  CHECKER_ASAN,
  CHECKER_VALGRIND,
} Checker;

/* The agents are built like this program; the valgrind setup says so in
 * the wrapper it gives the local transport. */
static Checker
agent_checker (void)
{
  const char *wrapper = g_getenv ("MITOGEN_AGENT_WRAPPER");

  if (wrapper != NULL && strstr (wrapper, "valgrind") != NULL)
    return CHECKER_VALGRIND;
#ifdef BUILT_WITH_ASAN
  if (strstr (g_getenv ("ASAN_OPTIONS") ? g_getenv ("ASAN_OPTIONS") : "", "detect_leaks=0") == NULL)
    return CHECKER_ASAN;
#endif
  return CHECKER_NONE;
}

/* Options for a local context whose checker reports go to @dir: valgrind
 * finds it through MITOGEN_TEST_AGENT_REPORTS, ASan through log_path (the
 * later of two log_path options wins). */
static GVariant *
options_reporting_to (const char *dir)
{
  g_autofree char *asan_options = g_strdup_printf ("%s:log_path=%s/asan",
                                                   g_getenv ("ASAN_OPTIONS") ? g_getenv ("ASAN_OPTIONS") : "",
                                                   dir);
  GVariantBuilder env;
  GVariantDict options;

  g_variant_builder_init (&env, G_VARIANT_TYPE ("a{ss}"));
  g_variant_builder_add (&env, "{ss}", "MITOGEN_TEST_AGENT_REPORTS", dir);
  g_variant_builder_add (&env, "{ss}", "ASAN_OPTIONS", asan_options);
  g_variant_dict_init (&options, NULL);
  g_variant_dict_insert_value (&options, "env", g_variant_builder_end (&env));
  return g_variant_dict_end (&options);
}

static void
remove_reports (const char *dir)
{
  g_autoptr(GDir) reports = g_dir_open (dir, 0, NULL);
  const char *name;

  while (reports != NULL && (name = g_dir_read_name (reports)) != NULL)
    {
      g_autofree char *path = g_build_filename (dir, name, NULL);

      g_unlink (path);
    }
  g_rmdir (dir);
}

/* Starts an agent reporting to a private directory, calls @function in it
 * (which may kill it: ASan ends a process at its first invalid access),
 * lets it end, and returns what the judge of agent reports says. */
static char *
faults_after_calling (Fixture    *fixture,
                      const char *function)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MitogenContext) ctx = NULL;
  g_autoptr(GVariant) result = NULL;
  g_autofree char *dir = g_dir_make_tmp ("mitogen-agent-check-XXXXXX", &error);
  char *faults;
  int pid;

  g_assert_no_error (error);
  g_assert_true (mitogen_add_module ("testmod", g_getenv ("MITOGEN_TEST_MODULE"), &error));
  g_assert_no_error (error);
  ctx = mitogen_router_local (fixture->router, options_reporting_to (dir), NULL, &error);
  g_assert_no_error (error);
  pid = mitogen_test_context_pid (ctx);

  result = mitogen_context_call (ctx, function, NULL, NULL, &error);
  g_test_message ("%s: %s", function, error != NULL ? error->message : "returned");
  g_clear_error (&error);

  mitogen_router_disconnect_all (fixture->router);
  g_assert_true (mitogen_test_wait_pid_gone (pid, AGENT_END_WAIT_MSEC));
  faults = mitogen_test_agent_reports_faults (dir);
  g_test_message ("reports: %s", faults != NULL ? faults : "(none)");
  remove_reports (dir);
  return faults;
}

static gboolean
skip_without_checker (void)
{
  if (agent_checker () != CHECKER_NONE)
    return FALSE;
  g_test_skip ("the agents run under no checker here: build with -Db_sanitize=address "
               "or run meson test --setup valgrind");
  return TRUE;
}

/* A clean agent leaves no fault: the judge does not cry wolf. */
static void
test_clean_agent (Fixture *fixture, gconstpointer data)
{
  g_autofree char *faults = NULL;

  if (skip_without_checker ())
    return;
  faults = faults_after_calling (fixture, "core.getpid");
  g_assert_null (faults);
}

static void
test_leak_found (Fixture *fixture, gconstpointer data)
{
  g_autofree char *faults = NULL;

  if (skip_without_checker ())
    return;
  faults = faults_after_calling (fixture, "testmod.leak");
  g_assert_nonnull (faults);
  if (agent_checker () == CHECKER_ASAN)
    g_assert_nonnull (strstr (faults, "Direct leak of " LEAK_SIZE " byte(s) in 1 object(s)"));
  else
    g_assert_nonnull (strstr (faults, LEAK_SIZE_VALGRIND " bytes in 1 blocks are definitely lost"));
}

static void
test_overread_found (Fixture *fixture, gconstpointer data)
{
  g_autofree char *faults = NULL;

  if (skip_without_checker ())
    return;
  faults = faults_after_calling (fixture, "testmod.overread");
  g_assert_nonnull (faults);
  if (agent_checker () == CHECKER_ASAN)
    g_assert_nonnull (strstr (faults, "heap-buffer-overflow"));
  else
    g_assert_nonnull (strstr (faults, "Invalid read of size 1"));
}

static char *
remote_getenv (MitogenContext *ctx,
               const char     *name)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) value = NULL;
  g_autoptr(GVariant) inner = NULL;

  value = mitogen_context_call (ctx, "core.getenv", g_variant_new ("(s)", name), NULL, &error);
  g_assert_no_error (error);
  inner = g_variant_get_maybe (value);
  return inner != NULL ? g_variant_dup_string (inner, NULL) : NULL;
}

/* MITOGEN_AGENT_WRAPPER runs the agent through the given command line (here
 * env(1) setting a mark), and is this process's choice for its own agents
 * only: the agent does not see it, so it starts its own children as they
 * are. Under the valgrind setup this replaces valgrind for these agents. */
static void
test_wrapper (Fixture *fixture, gconstpointer data)
{
  g_autofree char *saved = g_strdup (g_getenv ("MITOGEN_AGENT_WRAPPER"));
  g_autoptr(MitogenContext) ctx = NULL;
  g_autoptr(MitogenContext) child = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *mark = NULL;
  g_autofree char *wrapper = NULL;
  g_autofree char *child_mark = NULL;

  g_setenv ("MITOGEN_AGENT_WRAPPER", "env 'MITOGEN_TEST_WRAPPED=by env'", TRUE);
  ctx = mitogen_test_local (fixture->router);
  mark = remote_getenv (ctx, "MITOGEN_TEST_WRAPPED");
  wrapper = remote_getenv (ctx, "MITOGEN_AGENT_WRAPPER");
  g_assert_cmpstr (mark, ==, "by env");
  g_assert_null (wrapper);

  /* A child of that agent, started there, inherits the mark but was not
   * wrapped again: its own environment had no wrapper to honour. */
  child = mitogen_router_connect_context (fixture->router, "local", NULL, ctx, NULL, &error);
  g_assert_no_error (error);
  child_mark = remote_getenv (child, "MITOGEN_TEST_WRAPPED");
  g_assert_cmpstr (child_mark, ==, "by env");
  g_clear_pointer (&wrapper, g_free);
  wrapper = remote_getenv (child, "MITOGEN_AGENT_WRAPPER");
  g_assert_null (wrapper);

  /* A wrapper that is no command line is an error, not a shell's guess. */
  g_setenv ("MITOGEN_AGENT_WRAPPER", "valgrind 'unterminated", TRUE);
  g_assert_null (mitogen_router_local (fixture->router, NULL, NULL, &error));
  g_assert_error (error, MITOGEN_ERROR, MITOGEN_ERROR_FAILED);
  g_assert_nonnull (strstr (error->message, "MITOGEN_AGENT_WRAPPER"));

  if (saved != NULL)
    g_setenv ("MITOGEN_AGENT_WRAPPER", saved, TRUE);
  else
    g_unsetenv ("MITOGEN_AGENT_WRAPPER");
}

int
main (int argc, char **argv)
{
  mitogen_test_init (&argc, &argv);
  TEST ("/agent-check/clean", test_clean_agent);
  TEST ("/agent-check/leak", test_leak_found);
  TEST ("/agent-check/overread", test_overread_found);
  TEST ("/agent-check/wrapper", test_wrapper);
  return g_test_run ();
}
