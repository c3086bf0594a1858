/* test-deadline.c: calls with a deadline kept by the caller.
 *
 * A context that is stopped (SIGSTOP), hung or slow keeps its stream
 * open, so nothing but a deadline on the caller's side ends the wait.
 * Each test checks the three halves of a deadline: the caller hears
 * MITOGEN_ERROR_TIMEOUT in time, the call is cancelled in the context (its
 * one thread is free again), and the reply that comes late is dropped
 * while the context stays usable.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <signal.h>
#include <sys/types.h>
#include <unistd.h>

#include "mitogen-test-util.h"

/* A failing test must not hang the suite: every wait has a deadline. */
#define WAIT_MSEC 30000

/* Far longer than any wait below: a context still sleeping this long was
 * never cancelled. */
#define LONG_SLEEP 120.0

typedef MitogenTestFixture Fixture;

#define TEST(path, func) \
  g_test_add ((path), Fixture, NULL, mitogen_test_fixture_setup, (func), \
              mitogen_test_fixture_teardown)

static gint64
msec_since (gint64 start)
{
  return (g_get_monotonic_time () - start) / 1000;
}

static GVariant *
sleep_args (double seconds)
{
  return g_variant_new ("(d)", seconds);
}

/* The context is free again: a ping answers long before LONG_SLEEP (the
 * bound is generous for valgrind on a loaded machine). */
static void
assert_answers_promptly (MitogenContext *ctx)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) pong = NULL;
  gint64 start = g_get_monotonic_time ();

  pong = mitogen_context_call_with_timeout (ctx, "core.ping", NULL, WAIT_MSEC, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (pong);
  g_assert_cmpint (msec_since (start), <, 10000);
  g_assert_true (mitogen_context_is_connected (ctx));
}

static void
assert_timeout_error (GError         *error,
                      MitogenContext *ctx,
                      const char     *function,
                      const char     *after)
{
  g_autofree char *expected = g_strdup_printf ("call to %s in %s timed out after %s",
                                               function, mitogen_context_get_name (ctx), after);

  g_assert_error (error, MITOGEN_ERROR, MITOGEN_ERROR_TIMEOUT);
  g_assert_cmpstr (error->message, ==, expected);
}

/* The reply that comes after the deadline reaches a closed receiver: the
 * master drops it at debug level, never as a warning (which would fail
 * the test). */
static void
expect_late_reply_dropped (MitogenContext *ctx)
{
  g_autofree char *pattern = g_strdup_printf ("*no handler for handle * (from context %u)",
                                              mitogen_context_get_id (ctx));

  mitogen_test_expect_log ("mitogen", G_LOG_LEVEL_DEBUG, pattern);
}

/* ---- blocking calls ---------------------------------------------------- */

static void
test_sleep_past_deadline (Fixture       *fixture,
                          gconstpointer  data)
{
  g_autoptr(MitogenContext) ctx = mitogen_test_local (fixture->router);
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) result = NULL;
  gint64 start = g_get_monotonic_time ();

  expect_late_reply_dropped (ctx);
  result = mitogen_context_call_with_timeout (ctx, "core.sleep", sleep_args (LONG_SLEEP), 500,
                                              NULL, &error);
  g_assert_null (result);
  assert_timeout_error (error, ctx, "core.sleep", "0.5 s");
  g_assert_cmpint (msec_since (start), >=, 500);
  g_assert_cmpint (msec_since (start), <, 10000);
  /* Not a lost context: without the cancel this ping would wait 2 min. */
  assert_answers_promptly (ctx);
  g_assert_true (mitogen_test_wait_expected_logs (WAIT_MSEC));
}

static void
continue_process (gpointer data)
{
  kill (GPOINTER_TO_INT (data), SIGCONT);
}

/* Stops @ctx's agent until SIGCONT, which the end of the test sends too. */
static int
stop_agent (MitogenContext *ctx)
{
  int pid = mitogen_test_context_pid (ctx);

  g_assert_cmpint (kill (pid, SIGSTOP), ==, 0);
  g_test_queue_destroy (continue_process, GINT_TO_POINTER (pid));
  return pid;
}

/* A stopped agent reads nothing: the call and its cancel wait in the
 * socket. The caller still hears of it by the deadline; once the agent
 * goes on, the cancel drops the call before it runs. */
static void
test_stopped_agent (Fixture       *fixture,
                    gconstpointer  data)
{
  g_autoptr(MitogenContext) ctx = mitogen_test_local (fixture->router);
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) result = NULL;
  gint64 start;
  int pid;

  assert_answers_promptly (ctx);
  pid = stop_agent (ctx);

  expect_late_reply_dropped (ctx);
  start = g_get_monotonic_time ();
  result = mitogen_context_call_with_timeout (ctx, "core.sleep", sleep_args (LONG_SLEEP), 1000,
                                              NULL, &error);
  g_assert_null (result);
  assert_timeout_error (error, ctx, "core.sleep", "1 s");
  g_clear_error (&error);
  g_assert_cmpint (msec_since (start), >=, 1000);
  g_assert_cmpint (msec_since (start), <, 10000);

  g_assert_cmpint (kill (pid, SIGCONT), ==, 0);
  assert_answers_promptly (ctx);
  g_assert_true (mitogen_test_wait_expected_logs (WAIT_MSEC));

  /* And it still exits when asked. */
  g_assert_true (mitogen_context_shutdown (ctx, WAIT_MSEC, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (mitogen_test_wait_pid_gone (pid, WAIT_MSEC));
}

/* Stops the agent (@data, its pid) once it is running the call: its
 * stream goes quiet mid-call, as `mitogen run` saw with a stopped agent. */
static gpointer
stop_mid_call (gpointer data)
{
  g_usleep (300 * 1000);
  kill (GPOINTER_TO_INT (data), SIGSTOP);
  return NULL;
}

static void
test_stopped_mid_call (Fixture       *fixture,
                       gconstpointer  data)
{
  g_autoptr(MitogenContext) ctx = mitogen_test_local (fixture->router);
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) result = NULL;
  int pid = mitogen_test_context_pid (ctx);
  GThread *stopper;
  gint64 start = g_get_monotonic_time ();

  g_test_queue_destroy (continue_process, GINT_TO_POINTER (pid));
  stopper = g_thread_new ("stopper", stop_mid_call, GINT_TO_POINTER (pid));
  expect_late_reply_dropped (ctx);
  result = mitogen_context_call_with_timeout (ctx, "core.sleep", sleep_args (LONG_SLEEP), 2000,
                                              NULL, &error);
  g_thread_join (stopper);
  g_assert_null (result);
  assert_timeout_error (error, ctx, "core.sleep", "2 s");
  g_assert_cmpint (msec_since (start), >=, 2000);
  g_assert_cmpint (msec_since (start), <, 12000);

  /* The running sleep sees its cancel as soon as the agent goes on. */
  g_assert_cmpint (kill (pid, SIGCONT), ==, 0);
  assert_answers_promptly (ctx);
  g_assert_true (mitogen_test_wait_expected_logs (WAIT_MSEC));
}

/* A deadline that is not reached changes nothing: values, remote errors
 * and the time taken are those of a call without one. */
static void
test_deadline_not_reached (Fixture       *fixture,
                           gconstpointer  data)
{
  g_autoptr(MitogenContext) ctx = mitogen_test_local (fixture->router);
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) echo = NULL;
  g_autoptr(GVariant) slept = NULL;
  g_autoptr(GVariant) failed = NULL;
  g_autoptr(GVariant) forever = NULL;
  gint64 start;

  /* Nothing comes back late for any of these. */
  mitogen_test_expect_no_log ("mitogen", G_LOG_LEVEL_DEBUG, "*no handler for handle*");

  echo = mitogen_context_call_with_timeout (ctx, "core.echo", g_variant_new ("(s)", "on time"),
                                            WAIT_MSEC, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (g_variant_get_string (echo, NULL), ==, "on time");

  /* The reply ends the wait, not the deadline. */
  start = g_get_monotonic_time ();
  slept = mitogen_context_call_with_timeout (ctx, "core.sleep", sleep_args (0.2), WAIT_MSEC,
                                             NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (msec_since (start), >=, 200);
  g_assert_cmpint (msec_since (start), <, WAIT_MSEC / 2);

  failed = mitogen_context_call_with_timeout (ctx, "core.fail", g_variant_new ("(s)", "as ever"),
                                              WAIT_MSEC, NULL, &error);
  g_assert_null (failed);
  g_assert_error (error, MITOGEN_ERROR, MITOGEN_ERROR_CALL);
  g_assert_nonnull (strstr (error->message, "as ever"));
  g_clear_error (&error);

  forever = mitogen_context_call_with_timeout (ctx, "core.getpid", NULL, -1, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_variant_get_int32 (forever), ==, mitogen_test_context_pid (ctx));
}

/* ---- asynchronous calls ------------------------------------------------ */

typedef struct
{
  GVariant *result;
  GError   *error;
  gint64    done_at;
  guint     calls;     /* how often the callback ran: once, always */
} AsyncResult;

static void
on_call_done (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  AsyncResult *r = user_data;

  r->result = mitogen_context_call_with_timeout_finish (MITOGEN_CONTEXT (source), result,
                                                        &r->error);
  r->done_at = g_get_monotonic_time ();
  r->calls++;
}

static gboolean
async_done (AsyncResult *r)
{
  return r->calls > 0;
}

/* Iterates the default main context until @r is done, or fails. */
static void
wait_async (AsyncResult *r)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) WAIT_MSEC * 1000;

  while (!async_done (r))
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_main_context_iteration (NULL, FALSE);
      g_usleep (1000);
    }
}

/* Runs the default main context for @msec, whatever happens. */
static void
iterate_for (int msec)
{
  gboolean elapsed = FALSE;

  g_assert_false (mitogen_test_iterate_until (&elapsed, msec));
}

static void
async_result_clear (AsyncResult *r)
{
  g_clear_pointer (&r->result, g_variant_unref);
  g_clear_error (&r->error);
}

static void
test_async_timeout (Fixture       *fixture,
                    gconstpointer  data)
{
  g_autoptr(MitogenContext) ctx = mitogen_test_local (fixture->router);
  AsyncResult r = { 0, };
  gint64 start = g_get_monotonic_time ();

  expect_late_reply_dropped (ctx);
  mitogen_context_call_with_timeout_async (ctx, "core.sleep", sleep_args (LONG_SLEEP), 500,
                                           NULL, on_call_done, &r);
  wait_async (&r);
  g_assert_null (r.result);
  assert_timeout_error (r.error, ctx, "core.sleep", "0.5 s");
  g_assert_cmpint ((r.done_at - start) / 1000, >=, 500);
  g_assert_cmpint ((r.done_at - start) / 1000, <, 10000);
  assert_answers_promptly (ctx);
  g_assert_true (mitogen_test_wait_expected_logs (WAIT_MSEC));
  g_assert_cmpuint (r.calls, ==, 1);
  async_result_clear (&r);
}

/* An async call that answers in time is not touched by its deadline
 * later: the callback runs once, with the value. */
static void
test_async_deadline_not_reached (Fixture       *fixture,
                                 gconstpointer  data)
{
  g_autoptr(MitogenContext) ctx = mitogen_test_local (fixture->router);
  AsyncResult r = { 0, };

  mitogen_test_expect_no_log ("mitogen", G_LOG_LEVEL_DEBUG, "*no handler for handle*");
  mitogen_context_call_with_timeout_async (ctx, "core.echo", g_variant_new ("(s)", "in time"),
                                           1000, NULL, on_call_done, &r);
  wait_async (&r);
  g_assert_no_error (r.error);
  g_assert_cmpstr (g_variant_get_string (r.result, NULL), ==, "in time");
  iterate_for (1500);
  g_assert_cmpuint (r.calls, ==, 1);
  async_result_clear (&r);
}

static gboolean
cancel_now (gpointer data)
{
  g_cancellable_cancel (data);
  return G_SOURCE_REMOVE;
}

/* Cancelled before its deadline: the cancel wins, and the deadline that
 * would have come later does nothing. Timed out before being cancelled:
 * the timeout wins, and the cancel that comes later does nothing. Both
 * free the context's thread. */
static void
test_async_cancel_and_deadline (Fixture       *fixture,
                                gconstpointer  data)
{
  g_autoptr(MitogenContext) ctx = mitogen_test_local (fixture->router);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  AsyncResult r = { 0, };
  gint64 start = g_get_monotonic_time ();

  mitogen_context_call_with_timeout_async (ctx, "core.sleep", sleep_args (LONG_SLEEP), 2000,
                                           cancellable, on_call_done, &r);
  g_timeout_add (100, cancel_now, cancellable);
  wait_async (&r);
  g_assert_error (r.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_cmpint ((r.done_at - start) / 1000, <, 2000);
  iterate_for (2500);
  g_assert_cmpuint (r.calls, ==, 1);
  async_result_clear (&r);
  assert_answers_promptly (ctx);

  g_clear_object (&cancellable);
  cancellable = g_cancellable_new ();
  r = (AsyncResult) { 0, };
  start = g_get_monotonic_time ();
  mitogen_context_call_with_timeout_async (ctx, "core.sleep", sleep_args (LONG_SLEEP), 300,
                                           cancellable, on_call_done, &r);
  wait_async (&r);
  assert_timeout_error (r.error, ctx, "core.sleep", "0.3 s");
  g_assert_cmpint ((r.done_at - start) / 1000, >=, 300);
  g_cancellable_cancel (cancellable);
  iterate_for (500);
  g_assert_cmpuint (r.calls, ==, 1);
  async_result_clear (&r);
  assert_answers_promptly (ctx);
}

/* Many calls time out at once behind a stopped agent; each fails alone,
 * none is kept (the fixture's teardown finds the router finalized, which
 * a receiver left behind would prevent), and the agent, once it goes on,
 * drops them all and answers. */
static void
test_many_timeouts (Fixture       *fixture,
                    gconstpointer  data)
{
  g_autoptr(MitogenContext) ctx = mitogen_test_local (fixture->router);
  AsyncResult r[20] = { { 0, } };
  int pid = stop_agent (ctx);

  for (guint i = 0; i < G_N_ELEMENTS (r); i++)
    mitogen_context_call_with_timeout_async (ctx, "core.sleep", sleep_args (LONG_SLEEP),
                                             200 + 10 * i, NULL, on_call_done, &r[i]);
  for (guint i = 0; i < G_N_ELEMENTS (r); i++)
    {
      wait_async (&r[i]);
      g_assert_error (r[i].error, MITOGEN_ERROR, MITOGEN_ERROR_TIMEOUT);
      async_result_clear (&r[i]);
    }
  g_assert_cmpint (kill (pid, SIGCONT), ==, 0);
  assert_answers_promptly (ctx);
}

int
main (int    argc,
      char **argv)
{
  mitogen_test_init (&argc, &argv);

  TEST ("/deadline/sleep-past-deadline", test_sleep_past_deadline);
  TEST ("/deadline/stopped-agent", test_stopped_agent);
  TEST ("/deadline/stopped-mid-call", test_stopped_mid_call);
  TEST ("/deadline/not-reached", test_deadline_not_reached);
  TEST ("/deadline/async/timeout", test_async_timeout);
  TEST ("/deadline/async/not-reached", test_async_deadline_not_reached);
  TEST ("/deadline/async/cancel-and-deadline", test_async_cancel_and_deadline);
  TEST ("/deadline/async/many-timeouts", test_many_timeouts);

  return g_test_run ();
}
