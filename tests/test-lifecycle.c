/* test-lifecycle.c: contexts come and go without leaving processes behind,
 * and what they log reaches the master.
 *
 * The orphan tests need a master that can be killed: the test binary runs
 * itself with --orphan-master, which starts contexts, prints their pids and
 * waits to be killed.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "mitogen-test-util.h"

#define WAIT_MSEC 10000
#define GONE_MSEC 2000

typedef MitogenTestFixture Fixture;

/* ---- helpers ----------------------------------------------------------- */

#define TEST(path, func) \
  g_test_add ((path), Fixture, NULL, mitogen_test_fixture_setup, (func), mitogen_test_fixture_teardown)

/* The live (non-zombie) child processes of this process. */
static GArray *
live_children (void)
{
  GArray *pids = g_array_new (FALSE, FALSE, sizeof (int));
  g_autoptr(GDir) dir = g_dir_open ("/proc", 0, NULL);
  const char *name;

  g_assert_nonnull (dir);
  while ((name = g_dir_read_name (dir)) != NULL)
    {
      char state;
      int ppid;

      if (!g_ascii_isdigit (name[0]) || !mitogen_test_read_stat (atoi (name), &state, &ppid))
        continue;
      if (ppid == getpid () && state != 'Z')
        {
          int pid = atoi (name);
          g_array_append_val (pids, pid);
        }
    }
  return pids;
}

/* ---- the killable master ----------------------------------------------- */

/* Runs in a subprocess: start contexts, print their pids, wait. */
static int
orphan_master (const char *mode)
{
  g_autoptr(MitogenBroker) broker = mitogen_broker_new ();
  g_autoptr(MitogenRouter) router = mitogen_router_new (broker);
  g_autoptr(GPtrArray) contexts = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GError) error = NULL;

  /* Whatever happens to the test, this process does not outlive it. */
  alarm (60);

  for (int i = 0; i < 3; i++)
    {
      MitogenContext *ctx = mitogen_router_local (router, NULL, NULL, &error);

      if (ctx == NULL)
        {
          printf ("error %s\n", error->message);
          return 1;
        }
      g_ptr_array_add (contexts, ctx);
    }
  if (g_str_equal (mode, "chain"))
    {
      /* A context started by a context: it must go too, through its
       * parent going. */
      MitogenContext *inner = mitogen_router_connect_context (router, "local", NULL, contexts->pdata[0],
                                                      NULL, &error);

      if (inner == NULL)
        {
          printf ("error %s\n", error->message);
          return 1;
        }
      g_ptr_array_add (contexts, inner);
    }

  for (guint i = 0; i < contexts->len; i++)
    {
      g_autoptr(GVariant) pid = mitogen_context_call (contexts->pdata[i], "core.getpid", NULL,
                                                      NULL, &error);

      if (pid == NULL)
        {
          printf ("error %s\n", error->message);
          return 1;
        }
      printf ("pid %d\n", g_variant_get_int32 (pid));
    }
  printf ("ready\n");
  fflush (stdout);

  if (g_str_equal (mode, "exit"))
    {
      char line[16];

      /* Once told to, leave without any cleanup, as a program that forgets
       * to disconnect would. */
      if (fgets (line, sizeof line, stdin) == NULL)
        _exit (1);
      _exit (0);
    }

  for (;;)
    pause ();
}

/* Starts the master, reads the pids it printed. */
static GSubprocess *
start_orphan_master (const char  *mode,
                     GArray     **pids_out)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *self = g_file_read_link ("/proc/self/exe", &error);
  g_autoptr(GDataInputStream) lines = NULL;
  GArray *pids = g_array_new (FALSE, FALSE, sizeof (int));
  GSubprocess *master;

  g_assert_no_error (error);
  master = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDIN_PIPE, &error,
                             self, "--orphan-master", mode, NULL);
  g_assert_no_error (error);

  lines = g_data_input_stream_new (g_subprocess_get_stdout_pipe (master));
  for (;;)
    {
      g_autofree char *line = g_data_input_stream_read_line_utf8 (lines, NULL, NULL, &error);
      int pid;

      g_assert_no_error (error);
      if (line == NULL)
        g_error ("the master exited before it was ready");
      if (g_str_equal (line, "ready"))
        break;
      if (g_str_has_prefix (line, "error "))
        g_error ("the master failed: %s", line + 6);
      g_assert_true (g_str_has_prefix (line, "pid "));
      pid = atoi (line + 4);
      g_assert_cmpint (pid, >, 0);
      g_array_append_val (pids, pid);
    }
  *pids_out = pids;
  return master;
}

static void
check_no_orphans (const char *mode,
                  guint       expected)
{
  g_autoptr(GSubprocess) master = NULL;
  g_autoptr(GArray) pids = NULL;
  g_autoptr(GError) error = NULL;

  master = start_orphan_master (mode, &pids);
  g_assert_cmpuint (pids->len, ==, expected);
  for (guint i = 0; i < pids->len; i++)
    g_assert_true (mitogen_test_pid_alive (g_array_index (pids, int, i)));

  if (g_str_equal (mode, "exit"))
    {
      g_assert_true (g_output_stream_write_all (g_subprocess_get_stdin_pipe (master), "go\n", 3,
                                                NULL, NULL, &error));
      g_assert_true (g_subprocess_wait (master, NULL, &error));
      g_assert_true (g_subprocess_get_if_exited (master));
      g_assert_cmpint (g_subprocess_get_exit_status (master), ==, 0);
    }
  else
    {
      g_subprocess_send_signal (master, SIGKILL);
      g_assert_true (g_subprocess_wait (master, NULL, &error));
      g_assert_true (g_subprocess_get_if_signaled (master));
    }
  g_assert_no_error (error);

  for (guint i = 0; i < pids->len; i++)
    {
      int pid = g_array_index (pids, int, i);

      if (!mitogen_test_wait_pid_gone (pid, GONE_MSEC))
        {
          /* Do not leave it behind for the next test either. */
          kill (pid, SIGKILL);
          g_error ("context process %d outlived its master by %d ms", pid, GONE_MSEC);
        }
    }
}

static void
test_orphans_master_killed (void)
{
  check_no_orphans ("plain", 3);
}

static void
test_orphans_master_killed_chain (void)
{
  check_no_orphans ("chain", 4);
}

static void
test_orphans_master_exits (void)
{
  check_no_orphans ("exit", 3);
}

/* ---- in this process --------------------------------------------------- */

static void
test_sequential_contexts (Fixture       *fixture,
                          gconstpointer  data)
{
  g_autoptr(GArray) before = live_children ();
  g_autoptr(GArray) after = NULL;
  g_autoptr(GHashTable) seen = g_hash_table_new (NULL, NULL);

  for (int i = 0; i < 20; i++)
    {
      g_autoptr(MitogenContext) ctx = mitogen_test_local (fixture->router);
      g_autoptr(GError) error = NULL;
      g_autoptr(GVariant) pid = mitogen_context_call (ctx, "core.getpid", NULL, NULL, &error);
      int p;

      g_assert_no_error (error);
      p = g_variant_get_int32 (pid);
      g_assert_false (g_hash_table_contains (seen, GINT_TO_POINTER (p)));
      g_hash_table_add (seen, GINT_TO_POINTER (p));

      mitogen_context_shutdown (ctx, 30000, NULL, NULL);
      g_assert_false (mitogen_context_is_connected (ctx));
      g_assert_true (mitogen_test_wait_pid_gone (p, GONE_MSEC));
    }
  /* Ids are never reused within a router either. */
  {
    g_autoptr(GPtrArray) contexts = mitogen_router_list_contexts (fixture->router);
    g_autoptr(GHashTable) ids = g_hash_table_new (NULL, NULL);

    for (guint i = 0; i < contexts->len; i++)
      {
        guint32 id = mitogen_context_get_id (contexts->pdata[i]);

        g_assert_false (g_hash_table_contains (ids, GUINT_TO_POINTER (id)));
        g_hash_table_add (ids, GUINT_TO_POINTER (id));
      }
  }

  after = live_children ();
  g_assert_cmpuint (after->len, <=, before->len);
  mitogen_test_drain_default_context ();
}

static void
test_disconnect_all (Fixture       *fixture,
                     gconstpointer  data)
{
  int pids[5];

  for (guint i = 0; i < G_N_ELEMENTS (pids); i++)
    {
      g_autoptr(MitogenContext) ctx = mitogen_test_local (fixture->router);

      pids[i] = mitogen_test_context_pid (ctx);
    }
  mitogen_router_disconnect_all (fixture->router);
  for (guint i = 0; i < G_N_ELEMENTS (pids); i++)
    g_assert_true (mitogen_test_wait_pid_gone (pids[i], GONE_MSEC));
}

/* Dropping the router closes its streams: its contexts exit. */
static void
test_router_unref_ends_contexts (void)
{
  g_autoptr(MitogenBroker) broker = mitogen_broker_new ();
  MitogenRouter *router = mitogen_router_new (broker);
  int pids[3];

  for (guint i = 0; i < G_N_ELEMENTS (pids); i++)
    {
      g_autoptr(MitogenContext) ctx = mitogen_test_local (router);

      pids[i] = mitogen_test_context_pid (ctx);
    }
  g_object_add_weak_pointer (G_OBJECT (router), (gpointer *) &router);
  g_object_unref (router);
  g_assert_null (router);
  for (guint i = 0; i < G_N_ELEMENTS (pids); i++)
    g_assert_true (mitogen_test_wait_pid_gone (pids[i], GONE_MSEC));
  mitogen_broker_shutdown (broker);
  mitogen_broker_join (broker);
  mitogen_test_drain_default_context ();
}

typedef struct
{
  gboolean done;
  gboolean ok;
  GError  *error;
} ShutdownResult;

static void
on_shutdown_done (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  ShutdownResult *r = user_data;

  r->ok = mitogen_context_shutdown_finish (MITOGEN_CONTEXT (source), result, &r->error);
  r->done = TRUE;
}

static void
test_shutdown_async (Fixture       *fixture,
                     gconstpointer  data)
{
  g_autoptr(MitogenContext) ctx = mitogen_test_local (fixture->router);
  ShutdownResult r = { FALSE, };
  int pid = mitogen_test_context_pid (ctx);
  gint64 deadline = g_get_monotonic_time () + WAIT_MSEC * 1000;

  mitogen_context_shutdown_async (ctx, NULL, on_shutdown_done, &r);
  while (!r.done && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, FALSE);
  g_assert_true (r.done);
  g_assert_no_error (r.error);
  g_assert_true (r.ok);
  g_assert_false (mitogen_context_is_connected (ctx));
  g_assert_true (mitogen_test_wait_pid_gone (pid, GONE_MSEC));
}

/* ---- log forwarding ---------------------------------------------------- */

static void
call_log (MitogenContext *ctx,
          const char     *level,
          const char     *message)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) result = mitogen_context_call (ctx, "core.log",
                                                     g_variant_new ("(ss)", level, message),
                                                     NULL, &error);

  g_assert_no_error (error);
}

static void
test_log_forwarded (Fixture       *fixture,
                    gconstpointer  data)
{
  g_autoptr(MitogenContext) ctx = mitogen_test_local (fixture->router);
  const char *name = mitogen_context_get_name (ctx);
  struct {
    const char     *level_name;
    GLogLevelFlags  level;
    const char     *shown;
  } levels[] = {
    { "critical", G_LOG_LEVEL_CRITICAL, "CRITICAL" },
    { "warning", G_LOG_LEVEL_WARNING, "WARNING" },
    { "message", G_LOG_LEVEL_MESSAGE, "MESSAGE" },
    { "info", G_LOG_LEVEL_INFO, "INFO" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (levels); i++)
    {
      g_autofree char *text = g_strdup_printf ("forwarded %s record %u", levels[i].level_name,
                                               g_random_int ());
      g_autofree char *line = g_strdup_printf ("[%s] %s: %s", name, levels[i].shown, text);

      /* Saying which context spoke and at which level (in the text, and in
       * the MITOGEN_CONTEXT and MITOGEN_REMOTE_LEVEL fields for the
       * program's log writer), logged here at message level or below. */
      mitogen_test_expect_forwarded_log (name, "mitogen", levels[i].level, line);
      call_log (ctx, levels[i].level_name, text);
      g_assert_true (mitogen_test_wait_expected_logs (WAIT_MSEC));
    }
}

static void
test_log_debug_needs_option (Fixture       *fixture,
                             gconstpointer  data)
{
  g_autoptr(MitogenContext) quiet = mitogen_test_local (fixture->router);
  g_autoptr(MitogenContext) chatty = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) pong = NULL;
  GVariantDict options;

  /* Debug records stay in the context unless it was started with debug:
   * the record would come before the reply to the ping behind it. */
  mitogen_test_expect_no_log ("mitogen", G_LOG_LEVEL_DEBUG, "*quiet debug record*");
  call_log (quiet, "debug", "quiet debug record");
  pong = mitogen_context_call (quiet, "core.ping", NULL, NULL, &error);
  g_assert_no_error (error);

  g_variant_dict_init (&options, NULL);
  g_variant_dict_insert (&options, "debug", "b", TRUE);
  chatty = mitogen_router_local (fixture->router, g_variant_dict_end (&options), NULL, &error);
  g_assert_no_error (error);
  mitogen_test_expect_forwarded_log (mitogen_context_get_name (chatty), "mitogen", G_LOG_LEVEL_DEBUG,
                                     "*chatty debug record");
  call_log (chatty, "debug", "chatty debug record");
  g_assert_true (mitogen_test_wait_expected_logs (WAIT_MSEC));
}

static void
test_log_bad_level (Fixture       *fixture,
                    gconstpointer  data)
{
  g_autoptr(MitogenContext) ctx = mitogen_test_local (fixture->router);
  const char *bad[] = { "error", "loud", "" };

  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GVariant) result = mitogen_context_call (ctx, "core.log",
                                                         g_variant_new ("(ss)", bad[i], "x"),
                                                         NULL, &error);

      g_assert_null (result);
      g_assert_error (error, MITOGEN_ERROR, MITOGEN_ERROR_CALL);
      g_assert_nonnull (strstr (error->message, "core.log"));
    }
  /* "error" would have aborted it; it is still there. */
  g_assert_true (mitogen_context_is_connected (ctx));
}

/* ---- shutdown ------------------------------------------------------------ */

/* Busy contexts exit after their current call: the wait times out. */
static void
test_shutdown_timeout (Fixture       *fixture,
                       gconstpointer  data)
{
  g_autoptr(MitogenContext) ctx = mitogen_test_local (fixture->router);
  g_autoptr(GError) error = NULL;
  gint64 start;

  mitogen_context_call_no_reply (ctx, "core.sleep", g_variant_new ("(d)", 3.0));
  start = g_get_monotonic_time ();
  g_assert_false (mitogen_context_shutdown (ctx, 200, NULL, &error));
  g_assert_error (error, MITOGEN_ERROR, MITOGEN_ERROR_TIMEOUT);
  g_assert_cmpint (g_get_monotonic_time () - start, <, 2 * G_USEC_PER_SEC);
  g_assert_true (mitogen_context_is_connected (ctx));

  /* Once the call is over it goes, as asked. */
  g_assert_true (mitogen_test_wait_disconnected (ctx, WAIT_MSEC));
}

static guint
count_fds (void)
{
  g_autoptr(GDir) dir = g_dir_open ("/proc/self/fd", 0, NULL);
  guint n = 0;

  g_assert_nonnull (dir);
  while (g_dir_read_name (dir) != NULL)
    n++;
  return n;
}

/* A blocking shutdown with a timeout leaves nothing behind: each once
 * kept its GTask, its cancellable and its own GMainContext (an eventfd)
 * alive in a reference cycle for as long as the router kept the context. */
static void
test_shutdown_leaves_no_fd (Fixture       *fixture,
                            gconstpointer  data)
{
  g_autoptr(GPtrArray) done = g_ptr_array_new_with_free_func (g_object_unref);
  guint before = 0;

  for (guint i = 0; i < 12; i++)
    {
      MitogenContext *ctx = mitogen_test_local (fixture->router);
      g_autoptr(GError) error = NULL;

      g_assert_true (mitogen_context_shutdown (ctx, WAIT_MSEC, NULL, &error));
      g_assert_no_error (error);
      g_ptr_array_add (done, ctx);   /* kept, as a program may keep them */
      if (i == 1)
        before = count_fds ();
    }
  mitogen_test_drain_default_context ();
  g_assert_cmpuint (count_fds (), <=, before + 2);
}

/* TRUE while @pid is a child of this process, a zombie included. */
static gboolean
is_my_child (int pid)
{
  char state;
  int ppid;

  return mitogen_test_read_stat (pid, &state, &ppid) && ppid == getpid ();
}

/* An agent that has exited is reaped: no zombie stays behind, even when
 * nobody iterates a main context (this test does not). */
static void
test_local_agents_reaped (Fixture       *fixture,
                          gconstpointer  data)
{
  int pids[4];

  for (guint i = 0; i < G_N_ELEMENTS (pids); i++)
    {
      g_autoptr(MitogenContext) ctx = mitogen_test_local (fixture->router);
      g_autoptr(GError) error = NULL;

      pids[i] = mitogen_test_context_pid (ctx);
      g_assert_true (is_my_child (pids[i]));
      g_assert_true (mitogen_context_shutdown (ctx, WAIT_MSEC, NULL, &error));
      g_assert_no_error (error);
    }
  for (guint i = 0; i < G_N_ELEMENTS (pids); i++)
    {
      gint64 deadline = g_get_monotonic_time () + WAIT_MSEC * 1000;

      while (is_my_child (pids[i]) && g_get_monotonic_time () < deadline)
        g_usleep (2000);
      g_assert_false (is_my_child (pids[i]));
    }
}

/* The agent inherits its standard input, output and error and nothing
 * else, not even a descriptor this process left without close-on-exec;
 * and it starts with no signal blocked, although GLib starts its worker
 * threads (where connects run) with every signal blocked. */
static void
test_local_agent_inherits_nothing (Fixture       *fixture,
                                   gconstpointer  data)
{
  g_autofree char *marker = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(MitogenContext) ctx = NULL;
  g_autoptr(GDir) dir = NULL;
  g_autofree char *fd_dir = NULL;
  g_autofree char *status_path = NULL;
  g_autofree char *status = NULL;
  const char *name;
  int fd = g_file_open_tmp ("mitogen-test-inherit-XXXXXX", &marker, &error);
  sigset_t blocked, old;

  g_assert_no_error (error);
  g_assert_cmpint (fcntl (fd, F_GETFD), ==, 0);   /* no close-on-exec */
  sigemptyset (&blocked);
  sigaddset (&blocked, SIGUSR2);
  pthread_sigmask (SIG_BLOCK, &blocked, &old);
  ctx = mitogen_router_local (fixture->router, NULL, NULL, &error);
  pthread_sigmask (SIG_SETMASK, &old, NULL);
  g_assert_no_error (error);

  fd_dir = g_strdup_printf ("/proc/%d/fd", mitogen_test_context_pid (ctx));
  dir = g_dir_open (fd_dir, 0, &error);
  g_assert_no_error (error);
  while ((name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *link = g_build_filename (fd_dir, name, NULL);
      g_autofree char *target = g_file_read_link (link, NULL);

      g_assert_cmpstr (target, !=, marker);
    }

  status_path = g_strdup_printf ("/proc/%d/status", mitogen_test_context_pid (ctx));
  g_assert_true (g_file_get_contents (status_path, &status, NULL, NULL));
  /* Under a wrapper (valgrind) that pid is the wrapper's, whose threads
   * block what they like. */
  if (g_getenv ("MITOGEN_AGENT_WRAPPER") == NULL)
    g_assert_nonnull (strstr (status, "\nSigBlk:\t0000000000000000\n"));
  else
    g_test_message ("the agent runs under a wrapper: its signal mask is not checked");
  close (fd);
  g_unlink (marker);
}

/* A working directory that does not exist is a clear error, not a child
 * that dies unseen. */
static void
test_local_missing_cwd (Fixture       *fixture,
                        gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MitogenContext) ctx = NULL;
  GVariantDict options;

  g_variant_dict_init (&options, NULL);
  g_variant_dict_insert (&options, "cwd", "s", "/nonexistent/mitogen-test");
  ctx = mitogen_router_local (fixture->router, g_variant_dict_end (&options), NULL, &error);
  g_assert_null (ctx);
  g_assert_error (error, MITOGEN_ERROR, MITOGEN_ERROR_STREAM);
  g_assert_nonnull (strstr (error->message, "“/nonexistent/mitogen-test”"));
  g_assert_nonnull (strstr (error->message, "No such file or directory"));
}

/* A relative agent path names the file beside the master, not one in the
 * agent's working directory. */
static void
test_local_relative_agent_path (Fixture       *fixture,
                                gconstpointer  data)
{
  const char *agent = g_getenv ("MITOGEN_AGENT_PATH");
  g_autofree char *dir = g_path_get_dirname (agent);
  g_autofree char *base = g_path_get_basename (agent);
  g_autofree char *relative = g_build_filename (".", base, NULL);
  g_autofree char *saved = g_get_current_dir ();
  g_autoptr(GError) error = NULL;
  g_autoptr(MitogenContext) ctx = NULL;
  g_autoptr(GVariant) value = NULL;
  GVariantDict options;

  g_assert_nonnull (agent);
  g_assert_cmpint (g_chdir (dir), ==, 0);
  g_variant_dict_init (&options, NULL);
  g_variant_dict_insert (&options, "agent_path", "s", relative);
  g_variant_dict_insert (&options, "cwd", "s", "/");
  ctx = mitogen_router_local (fixture->router, g_variant_dict_end (&options), NULL, &error);
  g_assert_cmpint (g_chdir (saved), ==, 0);
  g_assert_no_error (error);
  value = mitogen_test_call_ok (ctx, "core.getpid", NULL);
  g_assert_cmpint (g_variant_get_int32 (value), ==, mitogen_test_context_pid (ctx));
}

static gboolean
cancel_later (gpointer data)
{
  g_cancellable_cancel (data);
  return G_SOURCE_REMOVE;
}

static gpointer
cancel_after_100ms (gpointer data)
{
  g_usleep (100000);
  g_cancellable_cancel (data);
  return NULL;
}

static void
test_shutdown_cancelled (Fixture       *fixture,
                         gconstpointer  data)
{
  g_autoptr(MitogenContext) ctx = mitogen_test_local (fixture->router);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GError) error = NULL;
  GThread *canceller;

  mitogen_context_call_no_reply (ctx, "core.sleep", g_variant_new ("(d)", 3.0));
  canceller = g_thread_new ("canceller", cancel_after_100ms, cancellable);
  g_assert_false (mitogen_context_shutdown (ctx, -1, cancellable, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_thread_join (canceller);
  g_assert_true (mitogen_test_wait_disconnected (ctx, WAIT_MSEC));
}

static void
test_shutdown_async_cancelled (Fixture       *fixture,
                               gconstpointer  data)
{
  g_autoptr(MitogenContext) ctx = mitogen_test_local (fixture->router);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  ShutdownResult r = { FALSE, };

  mitogen_context_call_no_reply (ctx, "core.sleep", g_variant_new ("(d)", 3.0));
  mitogen_context_shutdown_async (ctx, cancellable, on_shutdown_done, &r);
  g_timeout_add (100, cancel_later, cancellable);
  g_assert_true (mitogen_test_iterate_until (&r.done, WAIT_MSEC));
  g_assert_false (r.ok);
  g_assert_error (r.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&r.error);
  g_assert_true (mitogen_test_wait_disconnected (ctx, WAIT_MSEC));
}

int
main (int    argc,
      char **argv)
{
  if (argc == 3 && g_str_equal (argv[1], "--orphan-master"))
    return orphan_master (argv[2]);

  mitogen_test_init (&argc, &argv);

  g_test_add_func ("/lifecycle/orphans/master-killed", test_orphans_master_killed);
  g_test_add_func ("/lifecycle/orphans/master-killed-chain", test_orphans_master_killed_chain);
  g_test_add_func ("/lifecycle/orphans/master-exits", test_orphans_master_exits);
  TEST ("/lifecycle/sequential-20", test_sequential_contexts);
  TEST ("/lifecycle/disconnect-all", test_disconnect_all);
  g_test_add_func ("/lifecycle/router-unref-ends-contexts", test_router_unref_ends_contexts);
  TEST ("/lifecycle/shutdown/timeout", test_shutdown_timeout);
  TEST ("/lifecycle/shutdown/leaves-no-fd", test_shutdown_leaves_no_fd);
  TEST ("/lifecycle/local/reaped", test_local_agents_reaped);
  TEST ("/lifecycle/local/inherits-nothing", test_local_agent_inherits_nothing);
  TEST ("/lifecycle/local/missing-cwd", test_local_missing_cwd);
  TEST ("/lifecycle/local/relative-agent-path", test_local_relative_agent_path);
  TEST ("/lifecycle/shutdown/cancelled", test_shutdown_cancelled);
  TEST ("/lifecycle/shutdown/async-cancelled", test_shutdown_async_cancelled);
  TEST ("/lifecycle/shutdown-async", test_shutdown_async);
  TEST ("/lifecycle/log/forwarded", test_log_forwarded);
  TEST ("/lifecycle/log/debug-needs-option", test_log_debug_needs_option);
  TEST ("/lifecycle/log/bad-level", test_log_bad_level);

  return g_test_run ();
}
