/* test-builtins.c: the functions every agent carries, at their edges.
 *
 * Every built-in refuses arguments it cannot honour (NaN, infinities,
 * negative or absurd sizes, wrong types) with an error naming itself and the
 * argument, instead of hanging or aborting the agent; the benchmark replies
 * do not leak; and what proc.run starts dies with its agent, process group
 * and all.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include "mitogen-test-util.h"

/* A failing test must not hang the suite: every wait has a deadline. */
#define WAIT_MSEC 10000

typedef MitogenTestFixture Fixture;

#define TEST(path, func) \
  g_test_add ((path), Fixture, NULL, mitogen_test_fixture_setup, (func), \
              mitogen_test_fixture_teardown)

/* Calls @function and waits at most WAIT_MSEC for its reply: a built-in
 * that hangs on a bad argument fails the test instead of the suite. */
static GVariant *
call_bounded (MitogenContext  *ctx,
              const char      *function,
              GVariant        *args,
              GError         **error)
{
  g_autoptr(MitogenReceiver) recv = mitogen_context_begin_call (ctx, function, args);
  g_autoptr(MitogenMessage) msg = mitogen_receiver_get (recv, WAIT_MSEC, NULL, error);

  if (msg == NULL)
    return NULL;
  return mitogen_message_unpack (msg, error);
}

static GVariant *
call_ok (MitogenContext *ctx,
         const char     *function,
         GVariant       *args)
{
  g_autoptr(GError) error = NULL;
  GVariant *result = mitogen_context_call (ctx, function, args, NULL, &error);

  g_assert_no_error (error);
  g_assert_nonnull (result);
  return result;
}

/* ---- arguments --------------------------------------------------------- */

static GVariant *
run_with_option (const char *name,
                 GVariant   *value)
{
  GVariantBuilder options;

  g_variant_builder_init (&options, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&options, "{sv}", name, value);
  return g_variant_new ("(^asa{sv})", (const char *[]) { "true", NULL }, &options);
}

static void
test_bad_arguments (Fixture       *fixture,
                    gconstpointer  data)
{
  g_autoptr(MitogenContext) ctx = mitogen_test_local (fixture->router);
  struct {
    const char *function;
    GVariant   *args;
    const char *names;   /* what the error must mention besides the function */
  } cases[] = {
    /* Numbers out of their domain. */
    { "core.sleep", g_variant_new ("(d)", NAN), "duration" },
    { "core.sleep", g_variant_new ("(d)", -NAN), "duration" },
    { "core.sleep", g_variant_new ("(d)", INFINITY), "duration" },
    { "core.sleep", g_variant_new ("(d)", -INFINITY), "duration" },
    { "core.sleep", g_variant_new ("(d)", -1.0), "duration" },
    { "core.sleep", g_variant_new ("(d)", -1e-300), "duration" },
    { "core.sleep", g_variant_new ("(d)", 1e300), "duration" },
    { "core.sleep", g_variant_new ("(d)", 86400.5), "duration" },
    { "core.zeros", g_variant_new ("(t)", G_MAXUINT64), "length" },
    { "core.zeros", g_variant_new ("(t)", (guint64) G_MAXUINT32 + 1), "length" },
    { "core.bytes", g_variant_new ("(t)", G_MAXUINT64), "length" },
    { "core.bytes", g_variant_new ("(t)", (guint64) G_MAXUINT32 + 1), "length" },
    { "core.bytes", g_variant_new ("(t)", (guint64) 1024 * 1024 * 1024 + 1), "length" },
    { "proc.run", run_with_option ("timeout", g_variant_new_double (NAN)), "timeout" },
    { "proc.run", run_with_option ("timeout", g_variant_new_double (INFINITY)), "timeout" },
    { "proc.run", run_with_option ("timeout", g_variant_new_double (-1.0)), "timeout" },
    { "proc.run", run_with_option ("timeout", g_variant_new_double (1e300)), "timeout" },
    { "core.log", g_variant_new ("(ss)", "error", "would abort"), "error" },
    /* Options of the wrong type, or unknown. */
    { "proc.run", run_with_option ("timeout", g_variant_new_string ("1")), "timeout" },
    { "proc.run", run_with_option ("cwd", g_variant_new_int32 (1)), "cwd" },
    { "proc.run", run_with_option ("stdin", g_variant_new_string ("x")), "stdin" },
    { "proc.run", run_with_option ("env", g_variant_new_string ("A=B")), "env" },
    { "proc.run", run_with_option ("cwdd", g_variant_new_string ("/")), "cwdd" },
    /* Arguments of the wrong type, for every built-in that takes a fixed type. */
    { "core.ping", g_variant_new ("(s)", "x"), "()" },
    { "core.getpid", g_variant_new ("(s)", "x"), "()" },
    { "core.uname", g_variant_new ("(i)", 1), "()" },
    { "core.hostname", g_variant_new ("(b)", TRUE), "()" },
    { "core.getenv", g_variant_new ("(i)", 1), "(s)" },
    { "core.getenv", NULL, "(s)" },
    { "core.sleep", g_variant_new ("(i)", 1), "(d)" },
    { "core.sleep", g_variant_new ("(t)", (guint64) 1), "(d)" },
    { "core.fail", g_variant_new ("(i)", 1), "(i)" },
    { "core.zeros", g_variant_new ("(d)", 5.0), "(t)" },
    { "core.zeros", g_variant_new ("(x)", (gint64) -5), "(t)" },
    { "core.bytes", g_variant_new ("(i)", -5), "(t)" },
    { "core.bytes", NULL, "(t)" },
    { "core.log", g_variant_new ("(s)", "warning"), "(ss)" },
    { "core.echo", NULL, "one argument" },
    { "proc.run", g_variant_new ("(s)", "ls"), "(asa{sv})" },
    { "proc.run", g_variant_new ("(asa{ss})", NULL, NULL), "(asa{sv})" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GVariant) result = call_bounded (ctx, cases[i].function, cases[i].args, &error);

      g_test_message ("%s %s", cases[i].function, cases[i].names);
      g_assert_null (result);
      g_assert_error (error, MITOGEN_ERROR, MITOGEN_ERROR_CALL);
      g_assert_nonnull (strstr (error->message, cases[i].function));
      g_assert_nonnull (strstr (error->message, cases[i].names));
    }

  /* Still serving, on the same process. */
  g_variant_unref (call_ok (ctx, "core.ping", NULL));
}

/* The edges that are allowed still work. */
static void
test_good_edges (Fixture       *fixture,
                 gconstpointer  data)
{
  g_autoptr(MitogenContext) ctx = mitogen_test_local (fixture->router);
  g_autoptr(GVariant) slept = call_ok (ctx, "core.sleep", g_variant_new ("(d)", 0.0));
  g_autoptr(GVariant) tiny = call_ok (ctx, "core.sleep", g_variant_new ("(d)", 1e-300));
  g_autoptr(GVariant) none = call_ok (ctx, "core.bytes", g_variant_new ("(t)", (guint64) 0));
  g_autoptr(GVariant) zero = call_ok (ctx, "core.zeros", g_variant_new ("(t)", (guint64) 0));
  g_autoptr(GVariant) ran = call_ok (ctx, "proc.run", run_with_option ("timeout",
                                                                       g_variant_new_double (0)));
  int status = -1;

  g_assert_cmpuint (g_variant_n_children (none), ==, 0);
  g_assert_cmpuint (g_variant_n_children (zero), ==, 0);
  g_variant_get_child (ran, 0, "i", &status);
  g_assert_cmpint (status, ==, 0);
}

/* ---- benchmark replies ------------------------------------------------- */

static void
test_bytes_pattern (Fixture       *fixture,
                    gconstpointer  data)
{
  g_autoptr(MitogenContext) ctx = mitogen_test_local (fixture->router);
  g_autoptr(GVariant) result = call_ok (ctx, "core.bytes", g_variant_new ("(t)", (guint64) 100003));
  const guint8 *bytes;
  gsize n;

  g_assert_true (g_variant_is_of_type (result, G_VARIANT_TYPE_BYTESTRING));
  bytes = g_variant_get_fixed_array (result, &n, 1);
  g_assert_cmpuint (n, ==, 100003);
  for (gsize i = 0; i < n; i++)
    if (bytes[i] != i % 251)
      g_error ("byte %" G_GSIZE_FORMAT " is %u, not %u", i, bytes[i], (guint) (i % 251));
}

/* The resident set of process @pid, in KiB, from /proc. */
static gsize
resident_kib (int pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/status", pid);
  g_autofree char *contents = NULL;
  const char *line;

  g_assert_true (g_file_get_contents (path, &contents, NULL, NULL));
  line = strstr (contents, "\nVmRSS:");
  g_assert_nonnull (line);
  return g_ascii_strtoull (line + strlen ("\nVmRSS:"), NULL, 10);
}

#define BIG_REPLY ((guint64) 16 * 1024 * 1024)

static void
call_big (MitogenContext *ctx,
          const char     *function)
{
  g_autoptr(GVariant) result = call_ok (ctx, function, g_variant_new ("(t)", BIG_REPLY));

  g_assert_cmpuint (g_variant_n_children (result), ==, BIG_REPLY);
}

/* 20 replies of 16 MiB each leave the agent about where it was: each reply
 * buffer is freed once sent. The leaked core.zeros buffers grew it by
 * 320 MiB, unseen in RSS because calloc'd pages are never touched; the
 * touched pages of core.bytes show the same leak plainly. */
static void
test_big_replies_do_not_leak (Fixture       *fixture,
                              gconstpointer  data)
{
  g_autoptr(MitogenContext) ctx = NULL;
  const char *functions[] = { "core.bytes", "core.zeros" };
  gsize before, after;
  int pid;

#if defined(__SANITIZE_ADDRESS__)
  /* ASan keeps freed memory in quarantine (256 MiB by default). */
  g_test_skip ("ASan's quarantine holds freed memory");
  return;
#endif

  ctx = mitogen_test_local (fixture->router);
  pid = mitogen_test_context_pid (ctx);
  /* One of each first, so that buffers and pools that stay are counted. */
  for (gsize f = 0; f < G_N_ELEMENTS (functions); f++)
    call_big (ctx, functions[f]);
  before = resident_kib (pid);

  for (gsize f = 0; f < G_N_ELEMENTS (functions); f++)
    for (int i = 0; i < 20; i++)
      call_big (ctx, functions[f]);

  after = resident_kib (pid);
  g_test_message ("agent RSS: %" G_GSIZE_FORMAT " KiB before, %" G_GSIZE_FORMAT " KiB after",
                  before, after);
  /* Two replies' worth of slack; the leak was 320 MiB per function. */
  g_assert_cmpuint (after, <, before + 2 * BIG_REPLY / 1024);
}

/* ---- proc.run children ------------------------------------------------- */

/* The processes whose command line is exactly @cmdline (words separated by
 * single spaces), as a list of pids. */
static GArray *
find_processes (const char *cmdline)
{
  g_autoptr(GDir) proc = g_dir_open ("/proc", 0, NULL);
  GArray *pids = g_array_new (FALSE, FALSE, sizeof (int));
  const char *name;

  g_assert_nonnull (proc);
  while ((name = g_dir_read_name (proc)) != NULL)
    {
      g_autofree char *path = NULL;
      g_autofree char *contents = NULL;
      gsize len;
      int pid = atoi (name);

      if (pid <= 0)
        continue;
      path = g_strdup_printf ("/proc/%d/cmdline", pid);
      if (!g_file_get_contents (path, &contents, &len, NULL) || len == 0)
        continue;
      for (gsize i = 0; i + 1 < len; i++)
        if (contents[i] == '\0')
          contents[i] = ' ';
      if (g_str_equal (contents, cmdline))
        g_array_append_val (pids, pid);
    }
  return pids;
}

/* Waits until @n processes run @cmdline (n > 0) or none does (n == 0). */
static gboolean
wait_processes (const char *cmdline,
                guint       n)
{
  gint64 deadline = g_get_monotonic_time () + WAIT_MSEC * 1000;

  do
    {
      g_autoptr(GArray) pids = find_processes (cmdline);

      if (pids->len == n)
        return TRUE;
      g_usleep (20 * 1000);
    }
  while (g_get_monotonic_time () < deadline);
  return FALSE;
}

/* The process group of @pid, from /proc/PID/stat. */
static int
process_group (int pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/stat", pid);
  g_autofree char *contents = NULL;
  const char *close_paren;
  int ppid = 0, pgrp = 0;
  char state;

  g_assert_true (g_file_get_contents (path, &contents, NULL, NULL));
  close_paren = strrchr (contents, ')');
  g_assert_nonnull (close_paren);
  g_assert_cmpint (sscanf (close_paren + 1, " %c %d %d", &state, &ppid, &pgrp), ==, 3);
  return pgrp;
}

static GVariant *
shell_args (const char *script)
{
  return g_variant_new ("(^as)", (const char *[]) { "sh", "-c", script, NULL });
}

/* SIGKILL gives the agent no chance to clean up: the kernel's parent-death
 * signal kills its child, which leads a process group of its own. */
static void
test_run_dies_with_killed_agent (Fixture       *fixture,
                                 gconstpointer  data)
{
  g_autoptr(MitogenContext) ctx = mitogen_test_local (fixture->router);
  g_autoptr(MitogenReceiver) recv = NULL;
  g_autoptr(GArray) pids = NULL;
  const char *cmdline = "sleep 30.123";
  int agent = mitogen_test_context_pid (ctx);

  g_assert_true (wait_processes (cmdline, 0));
  recv = mitogen_context_begin_call (ctx, "proc.run",
                                     g_variant_new ("(^as)", (const char *[]) { "sleep", "30.123", NULL }));
  g_assert_true (wait_processes (cmdline, 1));
  pids = find_processes (cmdline);
  g_assert_cmpuint (pids->len, ==, 1);
  g_assert_cmpint (process_group (g_array_index (pids, int, 0)), ==, g_array_index (pids, int, 0));

  g_assert_cmpint (kill (agent, SIGKILL), ==, 0);
  g_assert_true (mitogen_test_wait_pid_gone (agent, WAIT_MSEC));
  g_assert_true (wait_processes (cmdline, 0));
  g_assert_true (mitogen_test_wait_disconnected (ctx, WAIT_MSEC));
  mitogen_test_drain_default_context ();
}

/* Cancels the call once both sleeps of its shell run. */
static gpointer
cancel_when_running (gpointer data)
{
  if (wait_processes ("sleep 30.124", 1))
    wait_processes ("sleep 30.127", 1);
  g_cancellable_cancel (data);
  return NULL;
}

/* A cancelled call kills what its command started, not only the command. */
static void
test_run_cancel_kills_group (Fixture       *fixture,
                             gconstpointer  data)
{
  g_autoptr(MitogenContext) ctx = mitogen_test_local (fixture->router);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) result = NULL;
  GThread *canceller;

  g_assert_true (wait_processes ("sleep 30.124", 0));
  g_assert_true (wait_processes ("sleep 30.127", 0));
  canceller = g_thread_new ("canceller", cancel_when_running, cancellable);
  result = mitogen_context_call (ctx, "proc.run",
                                 shell_args ("sleep 30.124 & sleep 30.127; echo never"),
                                 cancellable, &error);
  g_thread_join (canceller);
  g_assert_null (result);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_true (wait_processes ("sleep 30.124", 0));
  g_assert_true (wait_processes ("sleep 30.127", 0));
  g_variant_unref (call_ok (ctx, "core.ping", NULL));
}

/* A call that outlives its "timeout" option fails with
 * G_IO_ERROR_TIMED_OUT, and its whole process group is killed. */
static void
test_run_timeout_kills_group (Fixture       *fixture,
                              gconstpointer  data)
{
  g_autoptr(MitogenContext) ctx = mitogen_test_local (fixture->router);
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) result = NULL;
  GVariantBuilder options;

  g_assert_true (wait_processes ("sleep 30.125", 0));
  g_assert_true (wait_processes ("sleep 30.126", 0));
  g_variant_builder_init (&options, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&options, "{sv}", "timeout", g_variant_new_double (1.0));
  result = call_bounded (ctx, "proc.run",
                         g_variant_new ("(^asa{sv})", (const char *[]) {
                           "sh", "-c", "sleep 30.125 & sleep 30.126; echo never", NULL },
                           &options),
                         &error);
  g_assert_null (result);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_assert_nonnull (strstr (error->message, "proc.run"));
  g_assert_true (wait_processes ("sleep 30.125", 0));
  g_assert_true (wait_processes ("sleep 30.126", 0));
  /* The agent goes on serving. */
  g_variant_unref (call_ok (ctx, "core.ping", NULL));
}

int
main (int    argc,
      char **argv)
{
  mitogen_test_init (&argc, &argv);

  TEST ("/builtins/bad-arguments", test_bad_arguments);
  TEST ("/builtins/good-edges", test_good_edges);
  TEST ("/builtins/bytes-pattern", test_bytes_pattern);
  TEST ("/builtins/big-replies-do-not-leak", test_big_replies_do_not_leak);
  TEST ("/builtins/run-dies-with-killed-agent", test_run_dies_with_killed_agent);
  TEST ("/builtins/run-cancel-kills-group", test_run_cancel_kills_group);
  TEST ("/builtins/run-timeout-kills-group", test_run_timeout_kills_group);

  return g_test_run ();
}
