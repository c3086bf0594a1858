/* test-receiver.c: receivers and senders, after Python Mitogen's
 * receiver_test: order, timeouts, close, dead messages, async gets, and the
 * rule that blocking on the broker thread is an error.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "mitogen-test-util.h"

static MitogenSender *
sender_to_self (MitogenReceiver *recv)
{
  return mitogen_receiver_to_sender (recv);
}

static gint32
get_int (MitogenReceiver *recv)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MitogenMessage) msg = mitogen_receiver_get (recv, 5000, NULL, &error);
  g_autoptr(GVariant) v = NULL;

  g_assert_no_error (error);
  v = mitogen_message_unpack (msg, &error);
  g_assert_no_error (error);
  return g_variant_get_int32 (v);
}

static void
test_handle_allocated (MitogenTestFixture *fixture,
                       gconstpointer       data)
{
  g_autoptr(MitogenReceiver) a = mitogen_receiver_new (fixture->router);
  g_autoptr(MitogenReceiver) b = mitogen_receiver_new (fixture->router);

  g_assert_cmpuint (mitogen_receiver_get_handle (a), >=, MITOGEN_FIRST_USER_HANDLE);
  g_assert_cmpuint (mitogen_receiver_get_handle (a), !=, mitogen_receiver_get_handle (b));
  g_assert_true (mitogen_receiver_get_router (a) == fixture->router);
}

static void
test_order_and_empty (MitogenTestFixture *fixture,
                      gconstpointer       data)
{
  g_autoptr(MitogenReceiver) recv = mitogen_receiver_new (fixture->router);
  g_autoptr(MitogenSender) sender = sender_to_self (recv);
  g_autoptr(GError) error = NULL;

  g_assert_true (mitogen_receiver_is_empty (recv));
  for (int i = 0; i < 100; i++)
    {
      g_assert_true (mitogen_sender_send (sender, g_variant_new_int32 (i), &error));
      g_assert_no_error (error);
    }
  for (int i = 0; i < 100; i++)
    g_assert_cmpint (get_int (recv), ==, i);
  g_assert_true (mitogen_receiver_is_empty (recv));
}

static void
test_timeout (MitogenTestFixture *fixture,
              gconstpointer       data)
{
  g_autoptr(MitogenReceiver) recv = mitogen_receiver_new (fixture->router);
  g_autoptr(GError) error = NULL;
  g_autoptr(MitogenMessage) msg = NULL;
  gint64 start = g_get_monotonic_time ();

  msg = mitogen_receiver_get (recv, 100, NULL, &error);
  g_assert_null (msg);
  g_assert_error (error, MITOGEN_ERROR, MITOGEN_ERROR_TIMEOUT);
  g_assert_cmpint (g_get_monotonic_time () - start, >=, 90 * 1000);
  g_clear_error (&error);

  /* timeout 0: do not wait at all. */
  msg = mitogen_receiver_get (recv, 0, NULL, &error);
  g_assert_error (error, MITOGEN_ERROR, MITOGEN_ERROR_TIMEOUT);
}

static void
test_dead_after_values (MitogenTestFixture *fixture,
                        gconstpointer       data)
{
  g_autoptr(MitogenReceiver) recv = mitogen_receiver_new (fixture->router);
  g_autoptr(MitogenSender) sender = sender_to_self (recv);
  g_autoptr(GError) error = NULL;
  g_autoptr(MitogenMessage) msg = NULL;

  mitogen_sender_send (sender, g_variant_new_int32 (1), NULL);
  mitogen_sender_send (sender, g_variant_new_int32 (2), NULL);
  mitogen_sender_close (sender);

  /* What came before the close still arrives, in order; then the end. */
  g_assert_cmpint (get_int (recv), ==, 1);
  g_assert_cmpint (get_int (recv), ==, 2);
  msg = mitogen_receiver_get (recv, 5000, NULL, &error);
  g_assert_null (msg);
  g_assert_error (error, MITOGEN_ERROR, MITOGEN_ERROR_CHANNEL);
  g_assert_nonnull (strstr (error->message, "closed"));
}

static gpointer
get_in_thread (gpointer data)
{
  MitogenReceiver *recv = data;
  GError *error = NULL;
  MitogenMessage *msg = mitogen_receiver_get (recv, 10000, NULL, &error);

  g_assert_null (msg);
  return error;
}

static void
test_close_wakes_waiter (MitogenTestFixture *fixture,
                         gconstpointer       data)
{
  g_autoptr(MitogenReceiver) recv = mitogen_receiver_new (fixture->router);
  g_autoptr(GError) error = NULL;
  g_autoptr(MitogenMessage) msg = NULL;
  GThread *thread = g_thread_new ("waiter", get_in_thread, recv);
  GError *thread_error;
  gint64 start;

  g_usleep (50000);
  start = g_get_monotonic_time ();
  mitogen_receiver_close (recv);
  thread_error = g_thread_join (thread);
  g_assert_error (thread_error, MITOGEN_ERROR, MITOGEN_ERROR_CHANNEL);
  g_error_free (thread_error);
  g_assert_cmpint (g_get_monotonic_time () - start, <, G_USEC_PER_SEC);
  g_assert_true (mitogen_receiver_is_closed (recv));

  /* Later gets fail at once, too. */
  msg = mitogen_receiver_get (recv, -1, NULL, &error);
  g_assert_error (error, MITOGEN_ERROR, MITOGEN_ERROR_CHANNEL);
}

static void
test_closed_handle_answers_dead (MitogenTestFixture *fixture,
                                 gconstpointer       data)
{
  g_autoptr(MitogenReceiver) recv = mitogen_receiver_new (fixture->router);
  g_autoptr(MitogenReceiver) replies = mitogen_receiver_new (fixture->router);
  g_autoptr(MitogenMessage) msg = NULL;
  g_autoptr(MitogenMessage) got = NULL;
  g_autoptr(GError) error = NULL;

  mitogen_receiver_close (recv);
  msg = mitogen_message_new (mitogen_router_get_context_id (fixture->router),
                             mitogen_receiver_get_handle (recv), g_variant_new_int32 (5));
  mitogen_message_set_reply_to (msg, mitogen_receiver_get_handle (replies));
  g_assert_true (mitogen_router_route (fixture->router, msg, &error));

  got = mitogen_receiver_get (replies, 5000, NULL, &error);
  g_assert_null (got);
  g_assert_error (error, MITOGEN_ERROR, MITOGEN_ERROR_CHANNEL);
}

static void
test_respondent_lost (MitogenTestFixture *fixture,
                      gconstpointer       data)
{
  g_autoptr(MitogenContext) ctx = mitogen_test_local (fixture->router);
  g_autoptr(MitogenReceiver) recv = mitogen_receiver_new_full (fixture->router, 0, ctx);
  g_autoptr(MitogenMessage) msg = NULL;
  g_autoptr(GError) error = NULL;
  gint64 start = g_get_monotonic_time ();

  mitogen_router_disconnect_context (fixture->router, ctx);
  msg = mitogen_receiver_get (recv, 5000, NULL, &error);
  g_assert_null (msg);
  g_assert_error (error, MITOGEN_ERROR, MITOGEN_ERROR_CHANNEL);
  g_assert_cmpint (g_get_monotonic_time () - start, <, 2 * G_USEC_PER_SEC);
}

typedef struct
{
  GMainLoop *loop;
  GError    *error;
  gint32     value;
} AsyncResult;

static void
got_async (GObject      *source,
           GAsyncResult *result,
           gpointer      data)
{
  AsyncResult *r = data;
  g_autoptr(MitogenMessage) msg = mitogen_receiver_get_finish (MITOGEN_RECEIVER (source), result, &r->error);

  if (msg != NULL)
    {
      g_autoptr(GVariant) v = mitogen_message_unpack (msg, &r->error);
      r->value = v != NULL ? g_variant_get_int32 (v) : -1;
    }
  g_main_loop_quit (r->loop);
}

static void
run_async_get (MitogenReceiver *recv,
               int              timeout_msec,
               GCancellable    *cancellable,
               AsyncResult     *r)
{
  r->loop = g_main_loop_new (NULL, FALSE);
  r->error = NULL;
  r->value = -1;
  mitogen_receiver_get_async (recv, timeout_msec, cancellable, got_async, r);
  g_main_loop_run (r->loop);
  g_main_loop_unref (r->loop);
}

static gboolean
cancel_later (gpointer data)
{
  g_cancellable_cancel (data);
  return G_SOURCE_REMOVE;
}

static void
test_get_async (MitogenTestFixture *fixture,
                gconstpointer       data)
{
  g_autoptr(MitogenReceiver) recv = mitogen_receiver_new (fixture->router);
  g_autoptr(MitogenSender) sender = sender_to_self (recv);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  AsyncResult r;

  /* A value sent after the wait began. */
  mitogen_sender_send (sender, g_variant_new_int32 (7), NULL);
  run_async_get (recv, 5000, NULL, &r);
  g_assert_no_error (r.error);
  g_assert_cmpint (r.value, ==, 7);

  /* Nothing comes: a timeout error. */
  run_async_get (recv, 50, NULL, &r);
  g_assert_error (r.error, MITOGEN_ERROR, MITOGEN_ERROR_TIMEOUT);
  g_clear_error (&r.error);

  /* Cancelled while waiting. */
  g_timeout_add (30, cancel_later, cancellable);
  run_async_get (recv, -1, cancellable, &r);
  g_assert_error (r.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&r.error);
}

typedef struct
{
  MitogenReceiver *recv;
  GError          *error;
  gboolean         done;
} BrokerGet;

static gboolean
get_on_broker (gpointer data)
{
  BrokerGet *b = data;
  MitogenMessage *msg = mitogen_receiver_get (b->recv, -1, NULL, &b->error);

  g_assert_null (msg);
  g_atomic_int_set (&b->done, TRUE);
  return G_SOURCE_REMOVE;
}

static void
test_blocking_on_broker_fails (MitogenTestFixture *fixture,
                               gconstpointer       data)
{
  g_autoptr(MitogenReceiver) recv = mitogen_receiver_new (fixture->router);
  BrokerGet b = { recv, NULL, FALSE };
  gint64 deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;

  mitogen_broker_defer (fixture->broker, get_on_broker, &b, NULL);
  while (!g_atomic_int_get (&b.done) && g_get_monotonic_time () < deadline)
    g_usleep (1000);
  g_assert_true (g_atomic_int_get (&b.done));
  g_assert_error (b.error, MITOGEN_ERROR, MITOGEN_ERROR_FAILED);
  g_assert_nonnull (strstr (b.error->message, "broker"));
  g_clear_error (&b.error);
}

int
main (int    argc,
      char **argv)
{
  mitogen_test_init (&argc, &argv);

#define ADD(path, func) \
  g_test_add (path, MitogenTestFixture, NULL, mitogen_test_fixture_setup, func, \
              mitogen_test_fixture_teardown)
  ADD ("/receiver/handle-allocated", test_handle_allocated);
  ADD ("/receiver/order-and-empty", test_order_and_empty);
  ADD ("/receiver/timeout", test_timeout);
  ADD ("/receiver/dead-after-values", test_dead_after_values);
  ADD ("/receiver/close-wakes-waiter", test_close_wakes_waiter);
  ADD ("/receiver/closed-handle-answers-dead", test_closed_handle_answers_dead);
  ADD ("/receiver/respondent-lost", test_respondent_lost);
  ADD ("/receiver/get-async", test_get_async);
  ADD ("/receiver/blocking-on-broker-fails", test_blocking_on_broker_fails);
#undef ADD
  return g_test_run ();
}
