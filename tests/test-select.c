/* test-select.c: selects, after Python Mitogen's select_test: membership,
 * cycles, oneshot, nesting, order, timeouts, close, iteration, async.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "mitogen-test-util.h"

static void
send_int (MitogenReceiver *recv,
          gint32           value)
{
  g_autoptr(MitogenSender) sender = mitogen_receiver_to_sender (recv);
  g_autoptr(GError) error = NULL;

  g_assert_true (mitogen_sender_send (sender, g_variant_new_int32 (value), &error));
  g_assert_no_error (error);
}

static gint32
msg_int (MitogenMessage *msg)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) v = mitogen_message_unpack (msg, &error);

  g_assert_no_error (error);
  return g_variant_get_int32 (v);
}

/* Waits until @recv holds @n messages (local sends go through the broker). */
static void
wait_queued (MitogenSelect *sel)
{
  gint64 deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;

  while (mitogen_select_is_empty (sel) && g_get_monotonic_time () < deadline)
    g_usleep (1000);
}

static void
test_empty_select (void)
{
  g_autoptr(MitogenSelect) sel = mitogen_select_new (TRUE);
  g_autoptr(GError) error = NULL;
  g_autoptr(MitogenMessage) msg = NULL;

  g_assert_false (mitogen_select_has_sources (sel));
  g_assert_true (mitogen_select_is_empty (sel));
  g_assert_true (mitogen_select_is_oneshot (sel));
  msg = mitogen_select_get (sel, 0, NULL, NULL, &error);
  g_assert_error (error, MITOGEN_ERROR, MITOGEN_ERROR_FAILED);
  g_assert_false (mitogen_select_next (sel, 0, NULL, NULL, NULL, NULL));
}

static void
test_add_remove (MitogenTestFixture *fixture,
                 gconstpointer       data)
{
  g_autoptr(MitogenSelect) sel = mitogen_select_new (FALSE);
  g_autoptr(MitogenSelect) other = mitogen_select_new (FALSE);
  g_autoptr(MitogenReceiver) recv = mitogen_receiver_new (fixture->router);
  g_autoptr(GError) error = NULL;

  g_assert_true (mitogen_select_add (sel, G_OBJECT (recv), &error));
  g_assert_no_error (error);
  g_assert_true (mitogen_select_has_sources (sel));

  /* One owner at a time. */
  g_assert_false (mitogen_select_add (other, G_OBJECT (recv), &error));
  g_assert_error (error, MITOGEN_ERROR, MITOGEN_ERROR_FAILED);
  g_clear_error (&error);
  g_assert_false (mitogen_select_add (sel, G_OBJECT (recv), &error));
  g_assert_error (error, MITOGEN_ERROR, MITOGEN_ERROR_FAILED);
  g_clear_error (&error);

  /* Removing what is not there fails; removing frees it for another. */
  g_assert_false (mitogen_select_remove (other, G_OBJECT (recv), &error));
  g_assert_error (error, MITOGEN_ERROR, MITOGEN_ERROR_FAILED);
  g_clear_error (&error);
  g_assert_true (mitogen_select_remove (sel, G_OBJECT (recv), &error));
  g_assert_no_error (error);
  g_assert_false (mitogen_select_has_sources (sel));
  g_assert_true (mitogen_select_add (other, G_OBJECT (recv), &error));
  g_assert_no_error (error);
}

static void
test_cycles_refused (void)
{
  g_autoptr(MitogenSelect) a = mitogen_select_new (FALSE);
  g_autoptr(MitogenSelect) b = mitogen_select_new (FALSE);
  g_autoptr(MitogenSelect) c = mitogen_select_new (FALSE);
  g_autoptr(GError) error = NULL;

  g_assert_false (mitogen_select_add (a, G_OBJECT (a), &error));
  g_assert_error (error, MITOGEN_ERROR, MITOGEN_ERROR_FAILED);
  g_assert_nonnull (strstr (error->message, "cycle"));
  g_clear_error (&error);

  g_assert_true (mitogen_select_add (a, G_OBJECT (b), &error));
  g_assert_true (mitogen_select_add (b, G_OBJECT (c), &error));
  g_assert_no_error (error);
  /* c is inside a (through b): a inside c would loop. */
  g_assert_false (mitogen_select_add (c, G_OBJECT (a), &error));
  g_assert_error (error, MITOGEN_ERROR, MITOGEN_ERROR_FAILED);
}

static void
test_oneshot_and_order (MitogenTestFixture *fixture,
                        gconstpointer       data)
{
  g_autoptr(MitogenSelect) sel = mitogen_select_new (TRUE);
  g_autoptr(MitogenReceiver) a = mitogen_receiver_new (fixture->router);
  g_autoptr(MitogenReceiver) b = mitogen_receiver_new (fixture->router);
  g_autoptr(GError) error = NULL;
  int seen = 0;

  mitogen_select_add (sel, G_OBJECT (a), NULL);
  mitogen_select_add (sel, G_OBJECT (b), NULL);
  send_int (b, 2);
  wait_queued (sel);
  send_int (a, 1);
  send_int (a, 11);

  /* First to arrive comes first; each receiver yields once, then leaves. */
  for (;;)
    {
      g_autoptr(MitogenMessage) msg = NULL;
      g_autoptr(GObject) source = NULL;

      if (!mitogen_select_next (sel, 5000, &msg, &source, NULL, &error))
        break;
      seen++;
      if (seen == 1)
        {
          g_assert_true (source == G_OBJECT (b));
          g_assert_cmpint (msg_int (msg), ==, 2);
        }
      else
        {
          g_assert_true (source == G_OBJECT (a));
          g_assert_cmpint (msg_int (msg), ==, 1);
        }
    }
  g_assert_no_error (error);
  g_assert_cmpint (seen, ==, 2);
  g_assert_false (mitogen_select_has_sources (sel));
  /* a's second message is still a's, not the select's. Local delivery
   * goes through the broker thread, so it may land a moment later. */
  for (gint64 deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;
       mitogen_receiver_is_empty (a) && g_get_monotonic_time () < deadline;)
    g_usleep (1000);
  g_assert_false (mitogen_receiver_is_empty (a));
  g_assert_false (mitogen_select_has_sources (sel));
}

static void
test_not_oneshot_keeps_sources (MitogenTestFixture *fixture,
                                gconstpointer       data)
{
  g_autoptr(MitogenSelect) sel = mitogen_select_new (FALSE);
  g_autoptr(MitogenReceiver) recv = mitogen_receiver_new (fixture->router);

  /* Messages queued before add() count too. */
  send_int (recv, 1);
  send_int (recv, 2);
  g_usleep (20000);
  mitogen_select_add (sel, G_OBJECT (recv), NULL);
  wait_queued (sel);
  for (int i = 1; i <= 2; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(MitogenMessage) msg = mitogen_select_get (sel, 5000, NULL, NULL, &error);

      g_assert_no_error (error);
      g_assert_cmpint (msg_int (msg), ==, i);
    }
  g_assert_true (mitogen_select_has_sources (sel));
  g_assert_true (mitogen_select_is_empty (sel));
}

static void
test_nested (MitogenTestFixture *fixture,
             gconstpointer       data)
{
  g_autoptr(MitogenSelect) outer = mitogen_select_new (FALSE);
  g_autoptr(MitogenSelect) inner = mitogen_select_new (FALSE);
  g_autoptr(MitogenReceiver) recv = mitogen_receiver_new (fixture->router);
  g_autoptr(MitogenMessage) msg = NULL;
  g_autoptr(GObject) source = NULL;
  g_autoptr(GError) error = NULL;

  g_assert_true (mitogen_select_add (inner, G_OBJECT (recv), NULL));
  g_assert_true (mitogen_select_add (outer, G_OBJECT (inner), NULL));
  send_int (recv, 42);
  msg = mitogen_select_get (outer, 5000, &source, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (msg_int (msg), ==, 42);
  /* The source is the receiver inside, not the select between. */
  g_assert_true (source == G_OBJECT (recv));
}

static void
test_timeout (MitogenTestFixture *fixture,
              gconstpointer       data)
{
  g_autoptr(MitogenSelect) sel = mitogen_select_new (TRUE);
  g_autoptr(MitogenReceiver) recv = mitogen_receiver_new (fixture->router);
  g_autoptr(GError) error = NULL;
  g_autoptr(MitogenMessage) msg = NULL;
  gint64 start = g_get_monotonic_time ();

  mitogen_select_add (sel, G_OBJECT (recv), NULL);
  msg = mitogen_select_get (sel, 100, NULL, NULL, &error);
  g_assert_error (error, MITOGEN_ERROR, MITOGEN_ERROR_TIMEOUT);
  g_assert_cmpint (g_get_monotonic_time () - start, >=, 90 * 1000);
}

static gpointer
select_get_in_thread (gpointer data)
{
  GError *error = NULL;
  MitogenMessage *msg = mitogen_select_get (data, 10000, NULL, NULL, &error);

  g_assert_null (msg);
  return error;
}

static void
test_close_wakes_waiter (MitogenTestFixture *fixture,
                         gconstpointer       data)
{
  g_autoptr(MitogenSelect) sel = mitogen_select_new (TRUE);
  g_autoptr(MitogenReceiver) recv = mitogen_receiver_new (fixture->router);
  GThread *thread;
  GError *error;

  mitogen_select_add (sel, G_OBJECT (recv), NULL);
  thread = g_thread_new ("select-waiter", select_get_in_thread, sel);
  g_usleep (50000);
  mitogen_select_close (sel);
  error = g_thread_join (thread);
  g_assert_error (error, MITOGEN_ERROR, MITOGEN_ERROR_CHANNEL);
  g_error_free (error);
  g_assert_false (mitogen_select_has_sources (sel));
  /* The receiver is free to join another select. */
  {
    g_autoptr(MitogenSelect) other = mitogen_select_new (TRUE);
    g_assert_true (mitogen_select_add (other, G_OBJECT (recv), NULL));
  }
}

static void
test_dead_message (MitogenTestFixture *fixture,
                   gconstpointer       data)
{
  g_autoptr(MitogenSelect) sel = mitogen_select_new (TRUE);
  g_autoptr(MitogenReceiver) recv = mitogen_receiver_new (fixture->router);
  g_autoptr(MitogenSender) sender = mitogen_receiver_to_sender (recv);
  g_autoptr(MitogenMessage) msg = NULL;
  g_autoptr(GObject) source = NULL;
  g_autoptr(GError) error = NULL;

  mitogen_select_add (sel, G_OBJECT (recv), NULL);
  mitogen_sender_close (sender);
  msg = mitogen_select_get (sel, 5000, &source, NULL, &error);
  g_assert_null (msg);
  g_assert_error (error, MITOGEN_ERROR, MITOGEN_ERROR_CHANNEL);
  /* Whose end it was is known, and a oneshot loop is over. */
  g_assert_true (source == G_OBJECT (recv));
  g_assert_false (mitogen_select_has_sources (sel));
}

static void
test_calls_to_contexts (MitogenTestFixture *fixture,
                        gconstpointer       data)
{
  g_autoptr(MitogenContext) a = mitogen_test_local (fixture->router);
  g_autoptr(MitogenContext) b = mitogen_test_local (fixture->router);
  g_autoptr(MitogenSelect) sel = mitogen_select_new (TRUE);
  g_autoptr(MitogenReceiver) ra = mitogen_context_begin_call (a, "core.getpid", NULL);
  g_autoptr(MitogenReceiver) rb = mitogen_context_begin_call (b, "core.getpid", NULL);
  g_autoptr(GError) error = NULL;
  int answered = 0;

  mitogen_select_add (sel, G_OBJECT (ra), NULL);
  mitogen_select_add (sel, G_OBJECT (rb), NULL);
  for (;;)
    {
      g_autoptr(MitogenMessage) msg = NULL;
      g_autoptr(GObject) source = NULL;
      MitogenContext *ctx;

      if (!mitogen_select_next (sel, 5000, &msg, &source, NULL, &error))
        break;
      ctx = source == G_OBJECT (ra) ? a : b;
      g_assert_cmpint (msg_int (msg), ==, mitogen_test_context_pid (ctx));
      answered++;
    }
  g_assert_no_error (error);
  g_assert_cmpint (answered, ==, 2);
}

typedef struct
{
  GMainLoop *loop;
  gint32     value;
  GObject   *source;
  GError    *error;
} AsyncResult;

static void
got_async (GObject      *object,
           GAsyncResult *result,
           gpointer      data)
{
  AsyncResult *r = data;
  g_autoptr(MitogenMessage) msg = mitogen_select_get_finish (MITOGEN_SELECT (object), result,
                                                             &r->source, &r->error);

  if (msg != NULL)
    r->value = msg_int (msg);
  g_main_loop_quit (r->loop);
}

static void
test_get_async (MitogenTestFixture *fixture,
                gconstpointer       data)
{
  g_autoptr(MitogenSelect) sel = mitogen_select_new (TRUE);
  g_autoptr(MitogenReceiver) recv = mitogen_receiver_new (fixture->router);
  AsyncResult r = { g_main_loop_new (NULL, FALSE), -1, NULL, NULL };

  mitogen_select_add (sel, G_OBJECT (recv), NULL);
  mitogen_select_get_async (sel, 5000, NULL, got_async, &r);
  send_int (recv, 9);
  g_main_loop_run (r.loop);
  g_assert_no_error (r.error);
  g_assert_cmpint (r.value, ==, 9);
  g_assert_true (r.source == G_OBJECT (recv));
  g_clear_object (&r.source);

  /* Now empty: the async get of an empty select fails. */
  mitogen_select_get_async (sel, 50, NULL, got_async, &r);
  g_main_loop_run (r.loop);
  g_assert_error (r.error, MITOGEN_ERROR, MITOGEN_ERROR_FAILED);
  g_clear_error (&r.error);
  g_main_loop_unref (r.loop);
}

int
main (int    argc,
      char **argv)
{
  mitogen_test_init (&argc, &argv);

#define ADD(path, func) \
  g_test_add (path, MitogenTestFixture, NULL, mitogen_test_fixture_setup, func, \
              mitogen_test_fixture_teardown)
  g_test_add_func ("/select/empty", test_empty_select);
  g_test_add_func ("/select/cycles-refused", test_cycles_refused);
  ADD ("/select/add-remove", test_add_remove);
  ADD ("/select/oneshot-and-order", test_oneshot_and_order);
  ADD ("/select/not-oneshot-keeps-sources", test_not_oneshot_keeps_sources);
  ADD ("/select/nested", test_nested);
  ADD ("/select/timeout", test_timeout);
  ADD ("/select/close-wakes-waiter", test_close_wakes_waiter);
  ADD ("/select/dead-message", test_dead_message);
  ADD ("/select/calls-to-contexts", test_calls_to_contexts);
  ADD ("/select/get-async", test_get_async);
#undef ADD
  return g_test_run ();
}
