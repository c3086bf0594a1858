/* test-engine.c: the engine's contract with its users' threads and
 * lifetimes: where signals are emitted, what a broker shutdown does, what
 * the router keeps.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <signal.h>

#include "mitogen-test-util.h"

#define WAIT_MSEC 10000

typedef MitogenTestFixture Fixture;

/* ---- signals in the owner's main context -------------------------------- */

typedef struct
{
  int      added;
  int      lost;
  GThread *thread;       /* where the last handler ran */
  gboolean callback_ran; /* connect_async's callback, when added ran */
} Seen;

static void
on_added (MitogenRouter  *router,
          MitogenContext *ctx,
          Seen           *seen)
{
  seen->added++;
  seen->thread = g_thread_self ();
}

static void
on_lost (MitogenRouter  *router,
         MitogenContext *ctx,
         Seen           *seen)
{
  seen->lost++;
  seen->thread = g_thread_self ();
}

/* A blocking connect on the router's own thread emits before it returns. */
static void
test_added_blocking (Fixture       *fixture,
                     gconstpointer  data)
{
  Seen seen = { 0, };
  g_autoptr(MitogenContext) ctx = NULL;

  g_signal_connect (fixture->router, "context-added", G_CALLBACK (on_added), &seen);
  ctx = mitogen_test_local (fixture->router);
  g_assert_cmpint (seen.added, ==, 1);
  g_assert_true (seen.thread == g_thread_self ());
  g_signal_handlers_disconnect_by_data (fixture->router, &seen);
}

typedef struct
{
  Seen           *seen;
  MitogenContext *ctx;
  GError         *error;
  gboolean        done;
} Connected;

static void
on_connected (GObject      *source,
              GAsyncResult *result,
              gpointer      data)
{
  Connected *c = data;

  c->ctx = mitogen_router_connect_context_finish (MITOGEN_ROUTER (source), result, &c->error);
  c->seen->callback_ran = TRUE;
  c->done = TRUE;
}

static void
on_added_before_callback (MitogenRouter  *router,
                          MitogenContext *ctx,
                          Seen           *seen)
{
  g_assert_false (seen->callback_ran);
  on_added (router, ctx, seen);
}

/* connect_async on the router's thread: added first, then the callback,
 * both on this thread. */
static void
test_added_async (Fixture       *fixture,
                  gconstpointer  data)
{
  Seen seen = { 0, };
  Connected c = { &seen, };

  g_signal_connect (fixture->router, "context-added",
                    G_CALLBACK (on_added_before_callback), &seen);
  mitogen_router_connect_context_async (fixture->router, "local", NULL, NULL, NULL,
                                        on_connected, &c);
  g_assert_true (mitogen_test_iterate_until (&c.done, WAIT_MSEC));
  g_assert_no_error (c.error);
  g_assert_cmpint (seen.added, ==, 1);
  g_assert_true (seen.thread == g_thread_self ());
  g_clear_object (&c.ctx);
  g_signal_handlers_disconnect_by_data (fixture->router, &seen);
}

typedef struct
{
  MitogenRouter  *router;
  Connected       connected;
} WorkerConnect;

/* Another thread with a main context of its own connects. */
static gpointer
connect_from_worker (gpointer data)
{
  WorkerConnect *w = data;
  g_autoptr(GMainContext) context = g_main_context_new ();

  g_main_context_push_thread_default (context);
  mitogen_router_connect_context_async (w->router, "local", NULL, NULL, NULL,
                                        on_connected, &w->connected);
  while (!w->connected.done)
    g_main_context_iteration (context, TRUE);
  g_main_context_pop_thread_default (context);
  return NULL;
}

/* A connect from another thread: its callback runs there, but the signal
 * waits for the router's own main context. */
static void
test_added_from_worker (Fixture       *fixture,
                        gconstpointer  data)
{
  Seen seen = { 0, };
  WorkerConnect w = { fixture->router, { &seen, } };
  GThread *worker;

  g_signal_connect (fixture->router, "context-added", G_CALLBACK (on_added), &seen);
  worker = g_thread_new ("connector", connect_from_worker, &w);
  g_thread_join (worker);
  g_assert_no_error (w.connected.error);
  g_assert_nonnull (w.connected.ctx);
  g_assert_cmpint (seen.added, ==, 0);

  mitogen_test_drain_default_context ();
  g_assert_cmpint (seen.added, ==, 1);
  g_assert_true (seen.thread == g_thread_self ());
  g_clear_object (&w.connected.ctx);
  g_signal_handlers_disconnect_by_data (fixture->router, &seen);
}

/* context-lost, emitted from the broker thread's work, arrives here. */
static void
test_lost_in_owner_context (Fixture       *fixture,
                            gconstpointer  data)
{
  Seen seen = { 0, };
  g_autoptr(MitogenContext) ctx = mitogen_test_local (fixture->router);
  gboolean never = FALSE;

  g_signal_connect (fixture->router, "context-lost", G_CALLBACK (on_lost), &seen);
  mitogen_router_disconnect_context (fixture->router, ctx);
  g_assert_true (mitogen_test_wait_disconnected (ctx, WAIT_MSEC));
  mitogen_test_iterate_until (&never, 200);
  g_assert_cmpint (seen.lost, ==, 1);
  g_assert_true (seen.thread == g_thread_self ());
  g_signal_handlers_disconnect_by_data (fixture->router, &seen);
}

/* ---- what the router keeps ----------------------------------------------- */

static void
test_gone_contexts_leave_table (Fixture       *fixture,
                                gconstpointer  data)
{
  for (int i = 0; i < 5; i++)
    {
      g_autoptr(MitogenContext) ctx = mitogen_test_local (fixture->router);
      g_autoptr(GPtrArray) listed = mitogen_router_list_contexts (fixture->router);

      g_assert_cmpuint (listed->len, ==, 1);
      g_assert_true (listed->pdata[0] == ctx);
      g_assert_true (mitogen_context_shutdown (ctx, WAIT_MSEC, NULL, NULL));
      g_clear_pointer (&listed, g_ptr_array_unref);
      listed = mitogen_router_list_contexts (fixture->router);
      g_assert_cmpuint (listed->len, ==, 0);
    }
}

/* Handles for ids nobody started are not kept, whatever ids are named. */
static void
test_context_by_id_keeps_nothing (Fixture       *fixture,
                                  gconstpointer  data)
{
  g_autoptr(GPtrArray) listed = NULL;

  for (guint32 id = 1000; id < 1100; id++)
    {
      g_autoptr(MitogenContext) ctx = mitogen_router_context_by_id (fixture->router, id);

      g_assert_cmpuint (mitogen_context_get_id (ctx), ==, id);
    }
  listed = mitogen_router_list_contexts (fixture->router);
  g_assert_cmpuint (listed->len, ==, 0);
}

static void
test_dup_router (void)
{
  g_autoptr(MitogenBroker) broker = mitogen_broker_new ();
  MitogenRouter *router = mitogen_router_new (broker);
  g_autoptr(MitogenContext) ctx = mitogen_router_context_by_id (router, 7);
  MitogenRouter *dup = mitogen_context_dup_router (ctx);

  /* A full reference: the router outlives our own one. */
  g_assert_true (dup == router);
  g_object_add_weak_pointer (G_OBJECT (router), (gpointer *) &router);
  g_object_unref (router);
  g_assert_nonnull (router);
  g_object_unref (dup);
  g_assert_null (router);
  g_assert_null (mitogen_context_dup_router (ctx));
  g_assert_false (mitogen_context_is_connected (ctx));
  mitogen_broker_shutdown (broker);
  mitogen_broker_join (broker);
}

/* ---- broker shutdown ------------------------------------------------------ */

typedef struct
{
  gboolean        done;
  MitogenMessage *msg;
  GError         *error;
} Reply;

static void
on_reply (GObject      *source,
          GAsyncResult *result,
          gpointer      data)
{
  Reply *r = data;

  r->msg = mitogen_receiver_get_finish (MITOGEN_RECEIVER (source), result, &r->error);
  r->done = TRUE;
}

/* Shutting the broker down ends its contexts and fails what waits on
 * them, instead of leaving agents running and callers hanging. */
static void
test_broker_shutdown_ends_contexts (void)
{
  g_autoptr(MitogenBroker) broker = mitogen_broker_new ();
  g_autoptr(MitogenRouter) router = mitogen_router_new (broker);
  g_autoptr(MitogenContext) ctx = mitogen_test_local (router);
  g_autoptr(MitogenReceiver) recv = NULL;
  Reply r = { FALSE, };
  int pid = mitogen_test_context_pid (ctx);
  gint64 start;

  recv = mitogen_context_begin_call (ctx, "core.sleep", g_variant_new ("(d)", 30.0));
  mitogen_receiver_get_async (recv, -1, NULL, on_reply, &r);
  start = g_get_monotonic_time ();
  mitogen_broker_shutdown (broker);
  g_assert_true (mitogen_test_iterate_until (&r.done, WAIT_MSEC));
  g_assert_cmpint (g_get_monotonic_time () - start, <, 5 * G_USEC_PER_SEC);
  /* The call did not answer: it died with its context. */
  g_assert_null (r.msg);
  g_assert_error (r.error, MITOGEN_ERROR, MITOGEN_ERROR_CHANNEL);
  g_clear_error (&r.error);
  g_assert_true (mitogen_test_wait_pid_gone (pid, WAIT_MSEC));
  g_assert_false (mitogen_context_is_connected (ctx));
  mitogen_broker_join (broker);
}

#define TEST(path, func) \
  g_test_add ((path), Fixture, NULL, mitogen_test_fixture_setup, (func), mitogen_test_fixture_teardown)

int
main (int    argc,
      char **argv)
{
  mitogen_test_init (&argc, &argv);
  TEST ("/engine/signals/added-blocking", test_added_blocking);
  TEST ("/engine/signals/added-async", test_added_async);
  TEST ("/engine/signals/added-from-worker", test_added_from_worker);
  TEST ("/engine/signals/lost", test_lost_in_owner_context);
  TEST ("/engine/table/gone-contexts-leave", test_gone_contexts_leave_table);
  TEST ("/engine/table/context-by-id-keeps-nothing", test_context_by_id_keeps_nothing);
  g_test_add_func ("/engine/dup-router", test_dup_router);
  g_test_add_func ("/engine/broker-shutdown-ends-contexts", test_broker_shutdown_ends_contexts);
  return g_test_run ();
}
