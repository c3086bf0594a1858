/* test-fanout.c: MitogenFanout, one call on many real local contexts with
 * a limit on the calls in flight.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <signal.h>
#include <string.h>

#include "mitogen-test-util.h"

typedef MitogenTestFixture Fixture;

#define TEST(path, func) \
  g_test_add ((path), Fixture, NULL, mitogen_test_fixture_setup, (func), \
              mitogen_test_fixture_teardown)

#define N_CONTEXTS 6

static GPtrArray *
start_contexts (MitogenRouter *router,
                guint          n)
{
  GPtrArray *contexts = g_ptr_array_new_with_free_func (g_object_unref);

  for (guint i = 0; i < n; i++)
    g_ptr_array_add (contexts, mitogen_test_local (router));
  return contexts;
}

/* Sleeps of @seconds on every context with @limit: the wall time, after
 * checking every result and that no more than @limit were in flight. */
static double
sleep_everywhere (GPtrArray *contexts,
                  guint      limit,
                  double     seconds)
{
  g_autoptr(MitogenFanout) fanout = mitogen_fanout_new (limit);
  g_autoptr(GHashTable) seen = g_hash_table_new (NULL, NULL);
  gint64 start = g_get_monotonic_time ();
  MitogenCallResult *result;
  g_autoptr(GError) error = NULL;

  g_assert_cmpuint (mitogen_fanout_get_max_in_flight (fanout), ==, limit);
  for (guint i = 0; i < contexts->len; i++)
    g_assert_cmpuint (mitogen_fanout_add_call (fanout, contexts->pdata[i], "core.sleep",
                                               g_variant_new ("(d)", seconds)), ==, i);
  g_assert_cmpuint (mitogen_fanout_get_remaining (fanout), ==, contexts->len);
  while ((result = mitogen_fanout_next (fanout, NULL, &error)) != NULL)
    {
      guint index = mitogen_call_result_get_index (result);
      g_autoptr(GVariant) value = mitogen_call_result_get_value (result, &error);

      g_assert_no_error (error);
      g_assert_nonnull (value);
      g_assert_true (mitogen_call_result_is_ok (result));
      g_assert_null (mitogen_call_result_get_error (result));
      g_assert_true (mitogen_call_result_get_context (result) == contexts->pdata[index]);
      g_assert_cmpstr (mitogen_call_result_get_function (result), ==, "core.sleep");
      g_assert_cmpfloat (mitogen_call_result_get_seconds (result), >=, seconds * 0.9);
      g_assert_true (g_hash_table_add (seen, GUINT_TO_POINTER (index + 1)));
      if (limit > 0)
        g_assert_cmpuint (mitogen_fanout_get_in_flight (fanout), <=, limit);
      g_object_unref (result);
    }
  g_assert_no_error (error);
  g_assert_cmpuint (g_hash_table_size (seen), ==, contexts->len);
  g_assert_cmpuint (mitogen_fanout_get_remaining (fanout), ==, 0);
  return (g_get_monotonic_time () - start) / (double) G_USEC_PER_SEC;
}

/* Six sleeps of 0.4 s: two at a time take three rounds, unlimited one. */
static void
test_limit (Fixture *fixture, gconstpointer data)
{
  g_autoptr(GPtrArray) contexts = start_contexts (fixture->router, N_CONTEXTS);
  double limited = sleep_everywhere (contexts, 2, 0.4);
  double unlimited = sleep_everywhere (contexts, 0, 0.4);

  g_test_message ("limit 2: %.2f s; no limit: %.2f s", limited, unlimited);
  g_assert_cmpfloat (limited, >=, 3 * 0.4 * 0.95);
  g_assert_cmpfloat (unlimited, <, 3 * 0.4 * 0.95);
}

/* Results come as answers come, not in the order added. */
static void
test_answer_order (Fixture *fixture, gconstpointer data)
{
  g_autoptr(GPtrArray) contexts = start_contexts (fixture->router, 3);
  g_autoptr(MitogenFanout) fanout = mitogen_fanout_new (0);
  const double delays[] = { 1.2, 0.1, 0.6 };
  const guint expected[] = { 1, 2, 0 };
  g_autoptr(GError) error = NULL;

  for (guint i = 0; i < 3; i++)
    mitogen_fanout_add_call (fanout, contexts->pdata[i], "core.sleep",
                             g_variant_new ("(d)", delays[i]));
  for (guint i = 0; i < 3; i++)
    {
      g_autoptr(MitogenCallResult) result = mitogen_fanout_next (fanout, NULL, &error);

      g_assert_no_error (error);
      g_assert_cmpuint (mitogen_call_result_get_index (result), ==, expected[i]);
    }
  g_assert_null (mitogen_fanout_next (fanout, NULL, &error));
  g_assert_no_error (error);
}

/* A call that fails, and a context that dies under its call, fail alone. */
static void
test_failures_alone (Fixture *fixture, gconstpointer data)
{
  g_autoptr(GPtrArray) contexts = start_contexts (fixture->router, 3);
  g_autoptr(MitogenFanout) fanout = mitogen_fanout_new (2);
  g_autoptr(GError) error = NULL;
  int doomed = mitogen_test_context_pid (contexts->pdata[2]);
  guint ok = 0, failed_call = 0, lost = 0;
  MitogenCallResult *result;

  mitogen_fanout_add_call (fanout, contexts->pdata[0], "core.ping", NULL);
  mitogen_fanout_add_call (fanout, contexts->pdata[1], "no.such_function", NULL);
  mitogen_fanout_add_call (fanout, contexts->pdata[2], "core.sleep", g_variant_new ("(d)", 30.0));
  mitogen_fanout_add_call (fanout, contexts->pdata[0], "core.ping", NULL);
  while ((result = mitogen_fanout_next (fanout, NULL, &error)) != NULL)
    {
      const GError *why = mitogen_call_result_get_error (result);

      if (mitogen_call_result_is_ok (result))
        ok++;
      else if (g_error_matches (why, MITOGEN_ERROR, MITOGEN_ERROR_CHANNEL))
        lost++;
      else
        {
          g_autoptr(GError) raised = NULL;
          g_autoptr(GVariant) value = mitogen_call_result_get_value (result, &raised);

          g_assert_null (value);
          g_assert_error (raised, MITOGEN_ERROR, MITOGEN_ERROR_CALL);
          g_assert_nonnull (strstr (raised->message, "no.such_function"));
          failed_call++;
        }
      /* Once the ping and the failure are in, the sleeper is in flight. */
      if (ok + failed_call == 2 && lost == 0 && doomed > 0)
        {
          g_assert_cmpint (kill (doomed, SIGKILL), ==, 0);
          doomed = 0;
        }
      g_object_unref (result);
    }
  g_assert_no_error (error);
  g_assert_cmpuint (ok, ==, 2);
  g_assert_cmpuint (failed_call, ==, 1);
  g_assert_cmpuint (lost, ==, 1);
}

/* Cancelling a wait fails only the wait; the calls carry on, and a
 * fanout dropped with calls in flight leaves the contexts working. */
static void
test_cancel_and_drop (Fixture *fixture, gconstpointer data)
{
  g_autoptr(GPtrArray) contexts = start_contexts (fixture->router, 2);
  g_autoptr(MitogenFanout) fanout = mitogen_fanout_new (1);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(MitogenCallResult) result = NULL;
  g_autoptr(GVariant) pong = NULL;
  g_autoptr(GError) error = NULL;

  mitogen_fanout_add_call (fanout, contexts->pdata[0], "core.sleep", g_variant_new ("(d)", 0.3));
  mitogen_fanout_add_call (fanout, contexts->pdata[1], "core.sleep", g_variant_new ("(d)", 60.0));
  g_cancellable_cancel (cancellable);
  g_assert_null (mitogen_fanout_next (fanout, cancellable, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);
  result = mitogen_fanout_next (fanout, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (mitogen_call_result_get_index (result), ==, 0);
  g_assert_cmpuint (mitogen_fanout_get_in_flight (fanout), ==, 1);

  g_clear_object (&fanout);
  pong = mitogen_test_call_ok (contexts->pdata[0], "core.ping", NULL);
  g_assert_nonnull (pong);
}

typedef struct
{
  GMainLoop *loop;
  guint      results;
  guint      in_flight_max;
} AsyncState;

static void
on_next (GObject      *object,
         GAsyncResult *res,
         gpointer      user_data)
{
  MitogenFanout *fanout = MITOGEN_FANOUT (object);
  AsyncState *state = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(MitogenCallResult) result = mitogen_fanout_next_finish (fanout, res, &error);

  g_assert_no_error (error);
  if (result == NULL)
    {
      g_main_loop_quit (state->loop);
      return;
    }
  g_assert_true (mitogen_call_result_is_ok (result));
  state->results++;
  state->in_flight_max = MAX (state->in_flight_max, mitogen_fanout_get_in_flight (fanout));
  mitogen_fanout_next_async (fanout, NULL, on_next, state);
}

static void
test_async (Fixture *fixture, gconstpointer data)
{
  g_autoptr(GPtrArray) contexts = start_contexts (fixture->router, N_CONTEXTS);
  g_autoptr(MitogenFanout) fanout = mitogen_fanout_new (3);
  g_autoptr(GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  AsyncState state = { loop, 0, 0 };

  for (guint round = 0; round < 4; round++)
    for (guint i = 0; i < contexts->len; i++)
      mitogen_fanout_add_call (fanout, contexts->pdata[i], "core.ping", NULL);
  mitogen_fanout_next_async (fanout, NULL, on_next, &state);
  g_main_loop_run (loop);
  g_assert_cmpuint (state.results, ==, 4 * N_CONTEXTS);
  g_assert_cmpuint (state.in_flight_max, <=, 3);
}

int
main (int    argc,
      char **argv)
{
  mitogen_test_init (&argc, &argv);

  TEST ("/fanout/limit", test_limit);
  TEST ("/fanout/answer-order", test_answer_order);
  TEST ("/fanout/failures-alone", test_failures_alone);
  TEST ("/fanout/cancel-and-drop", test_cancel_and_drop);
  TEST ("/fanout/async", test_async);
  return g_test_run ();
}
