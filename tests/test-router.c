/* test-router.c: handles, dead messages and the message size limit.
 *
 * Ports the handle, no-route and message-size parts of Mitogen's
 * router_test.py (AddHandlerTest, NoRouteTest, MessageSizeTest).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <signal.h>
#include <unistd.h>

#include "mitogen-test-util.h"

#define WAIT_MSEC 10000
#define SMALL_LIMIT 4096

typedef MitogenTestFixture Fixture;

#define TEST(path, func) \
  g_test_add ((path), Fixture, NULL, mitogen_test_fixture_setup, (func), \
              mitogen_test_fixture_teardown)

/* ---- helpers ----------------------------------------------------------- */

/* Records the messages a handler receives, from the broker thread. */
typedef struct
{
  GAsyncQueue *messages;     /* MitogenMessage* */
  gint         on_broker;    /* atomic: every call came on the broker thread */
  gint         calls;        /* atomic */
  gint         notified;     /* atomic: the destroy notify ran */
  MitogenBroker *broker;
} Recorder;

static void
recorder_init (Recorder      *r,
               MitogenBroker *broker)
{
  r->messages = g_async_queue_new_full ((GDestroyNotify) mitogen_message_unref);
  r->on_broker = TRUE;
  r->calls = 0;
  r->notified = 0;
  r->broker = broker;
}

static void
recorder_clear (Recorder *r)
{
  g_clear_pointer (&r->messages, g_async_queue_unref);
}

static void
recorder_handler (MitogenMessage *msg,
                  gpointer        user_data)
{
  Recorder *r = user_data;

  if (!mitogen_broker_is_broker_thread (r->broker))
    g_atomic_int_set (&r->on_broker, FALSE);
  g_atomic_int_inc (&r->calls);
  g_async_queue_push (r->messages, mitogen_message_ref (msg));
}

static void
recorder_notify (gpointer user_data)
{
  Recorder *r = user_data;

  g_atomic_int_inc (&r->notified);
}

static MitogenMessage *
recorder_pop (Recorder *r)
{
  MitogenMessage *msg = g_async_queue_timeout_pop (r->messages, (guint64) WAIT_MSEC * 1000);

  g_assert_nonnull (msg);
  return msg;
}

/* Asserts @msg is dead and its reason contains @needle. */
static void
assert_dead (MitogenMessage *msg,
             const char     *needle)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) value = NULL;

  g_assert_true (mitogen_message_is_dead (msg));
  g_assert_cmpuint (mitogen_message_get_reply_to (msg), ==, MITOGEN_IS_DEAD);
  value = mitogen_message_unpack (msg, &error);
  g_assert_null (value);
  g_assert_error (error, MITOGEN_ERROR, MITOGEN_ERROR_CHANNEL);
  if (needle != NULL && strstr (error->message, needle) == NULL)
    g_error ("dead message reason “%s” does not mention “%s”", error->message, needle);
}

/* ---- handles ----------------------------------------------------------- */

#define N_THREADS 4
#define N_PER_THREAD 2000

typedef struct
{
  MitogenRouter *router;
  guint32        handles[N_PER_THREAD];
} AllocData;

static gpointer
allocate_many (gpointer data)
{
  AllocData *ad = data;

  for (guint i = 0; i < N_PER_THREAD; i++)
    ad->handles[i] = mitogen_router_allocate_handle (ad->router);
  return NULL;
}

static void
test_allocate_handle_unique (Fixture       *fixture,
                             gconstpointer  data)
{
  g_autoptr(GHashTable) seen = g_hash_table_new (NULL, NULL);
  AllocData *ad = g_new0 (AllocData, N_THREADS);
  GThread *threads[N_THREADS];

  for (guint t = 0; t < N_THREADS; t++)
    {
      ad[t].router = fixture->router;
      threads[t] = g_thread_new ("alloc", allocate_many, &ad[t]);
    }
  for (guint t = 0; t < N_THREADS; t++)
    g_thread_join (threads[t]);

  for (guint t = 0; t < N_THREADS; t++)
    for (guint i = 0; i < N_PER_THREAD; i++)
      {
        guint32 h = ad[t].handles[i];

        g_assert_cmpuint (h, >=, MITOGEN_FIRST_USER_HANDLE);
        g_assert_false (g_hash_table_contains (seen, GUINT_TO_POINTER (h)));
        g_hash_table_add (seen, GUINT_TO_POINTER (h));
      }
  g_free (ad);
}

static void
test_add_handler_allocates (Fixture       *fixture,
                            gconstpointer  data)
{
  Recorder r;
  guint32 a, b;

  recorder_init (&r, fixture->broker);
  a = mitogen_router_add_handler (fixture->router, 0, NULL, recorder_handler, &r, recorder_notify);
  b = mitogen_router_add_handler (fixture->router, 0, NULL, recorder_handler, &r, recorder_notify);
  g_assert_cmpuint (a, >=, MITOGEN_FIRST_USER_HANDLE);
  g_assert_cmpuint (b, >=, MITOGEN_FIRST_USER_HANDLE);
  g_assert_cmpuint (a, !=, b);
  /* Handles given out by receivers do not collide with these either. */
  {
    g_autoptr(MitogenReceiver) recv = mitogen_receiver_new (fixture->router);

    g_assert_cmpuint (mitogen_receiver_get_handle (recv), !=, a);
    g_assert_cmpuint (mitogen_receiver_get_handle (recv), !=, b);
  }
  mitogen_router_del_handler (fixture->router, a);
  mitogen_router_del_handler (fixture->router, b);
  g_assert_cmpint (g_atomic_int_get (&r.notified), ==, 2);
  recorder_clear (&r);
}

static void
test_add_del_handler (Fixture       *fixture,
                      gconstpointer  data)
{
  g_autoptr(MitogenReceiver) reply_target = mitogen_receiver_new (fixture->router);
  g_autoptr(GError) error = NULL;
  Recorder r;
  guint32 handle;

  recorder_init (&r, fixture->broker);
  handle = mitogen_router_add_handler (fixture->router, 0, NULL, recorder_handler, &r,
                                       recorder_notify);

  /* A message to our own context reaches the handler, on the broker. */
  for (int i = 0; i < 3; i++)
    {
      g_autoptr(MitogenMessage) msg = mitogen_message_new (mitogen_router_get_context_id (fixture->router),
                                                           handle, g_variant_new_int32 (i));
      g_autoptr(MitogenMessage) got = NULL;
      g_autoptr(GVariant) value = NULL;

      g_assert_true (mitogen_router_route (fixture->router, msg, &error));
      g_assert_no_error (error);
      got = recorder_pop (&r);
      g_assert_false (mitogen_message_is_dead (got));
      g_assert_cmpuint (mitogen_message_get_handle (got), ==, handle);
      value = mitogen_message_unpack (got, &error);
      g_assert_no_error (error);
      g_assert_cmpint (g_variant_get_int32 (value), ==, i);
    }
  g_assert_true (g_atomic_int_get (&r.on_broker));
  g_assert_cmpint (g_atomic_int_get (&r.notified), ==, 0);

  /* Once removed, the handler hears nothing more, its data is freed, and
   * a sender expecting a reply is told the handle is dead. */
  mitogen_router_del_handler (fixture->router, handle);
  /* A dispatch still finishing on the broker holds the handler a moment. */
  mitogen_test_sync_with_broker (fixture->broker);
  g_assert_cmpint (g_atomic_int_get (&r.notified), ==, 1);
  {
    g_autoptr(MitogenMessage) msg = mitogen_message_new (0, handle, NULL);
    g_autoptr(MitogenMessage) dead = NULL;

    mitogen_message_set_reply_to (msg, mitogen_receiver_get_handle (reply_target));
    mitogen_router_route (fixture->router, msg, NULL);
    dead = mitogen_receiver_get (reply_target, WAIT_MSEC, NULL, &error);
    g_assert_null (dead);
    g_assert_error (error, MITOGEN_ERROR, MITOGEN_ERROR_CHANNEL);
    g_assert_nonnull (strstr (error->message, "invalid handle"));
    g_clear_error (&error);
  }
  mitogen_test_sync_with_broker (fixture->broker);
  g_assert_cmpint (g_atomic_int_get (&r.calls), ==, 3);

  /* Deleting twice, or a handle never added, is harmless. */
  mitogen_router_del_handler (fixture->router, handle);
  mitogen_router_del_handler (fixture->router, 987654);
  g_assert_cmpint (g_atomic_int_get (&r.notified), ==, 1);
  recorder_clear (&r);
}

/* AddHandlerTest.test_can_reregister: a fixed handle can be served again
 * once it was deleted; adding it again replaces the old handler. */
static void
test_reregister_handle (Fixture       *fixture,
                        gconstpointer  data)
{
  Recorder first, second;
  guint32 handle = 54321;

  recorder_init (&first, fixture->broker);
  recorder_init (&second, fixture->broker);

  g_assert_cmpuint (mitogen_router_add_handler (fixture->router, handle, NULL, recorder_handler,
                                                &first, recorder_notify), ==, handle);
  mitogen_router_del_handler (fixture->router, handle);
  g_assert_cmpuint (mitogen_router_add_handler (fixture->router, handle, NULL, recorder_handler,
                                                &first, recorder_notify), ==, handle);
  g_assert_cmpuint (mitogen_router_add_handler (fixture->router, handle, NULL, recorder_handler,
                                                &second, recorder_notify), ==, handle);
  /* The replaced handler's data was released. */
  g_assert_cmpint (g_atomic_int_get (&first.notified), ==, 2);

  {
    g_autoptr(MitogenMessage) msg = mitogen_message_new (0, handle, g_variant_new_string ("x"));
    g_autoptr(MitogenMessage) got = NULL;

    mitogen_router_route (fixture->router, msg, NULL);
    got = recorder_pop (&second);
    g_assert_cmpuint (mitogen_message_get_handle (got), ==, handle);
  }
  mitogen_test_sync_with_broker (fixture->broker);
  g_assert_cmpint (g_atomic_int_get (&first.calls), ==, 0);
  mitogen_router_del_handler (fixture->router, handle);
  mitogen_test_sync_with_broker (fixture->broker);
  g_assert_cmpint (g_atomic_int_get (&second.notified), ==, 1);
  recorder_clear (&first);
  recorder_clear (&second);
}

/* A handler waiting on a context hears once, with a dead message, when the
 * context goes, and is then removed. */
static void
test_handler_respondent_lost (Fixture       *fixture,
                              gconstpointer  data)
{
  g_autoptr(MitogenContext) ctx = mitogen_test_local (fixture->router);
  g_autoptr(MitogenMessage) dead = NULL;
  Recorder r;
  guint32 handle;

  recorder_init (&r, fixture->broker);
  handle = mitogen_router_add_handler (fixture->router, 0, ctx, recorder_handler, &r,
                                       recorder_notify);
  g_assert_cmpint (kill (mitogen_test_context_pid (ctx), SIGKILL), ==, 0);

  dead = recorder_pop (&r);
  assert_dead (dead, NULL);
  g_assert_cmpuint (mitogen_message_get_handle (dead), ==, handle);
  g_assert_cmpuint (mitogen_message_get_src_id (dead), ==, mitogen_context_get_id (ctx));
  mitogen_test_sync_with_broker (fixture->broker);
  g_assert_cmpint (g_atomic_int_get (&r.calls), ==, 1);
  g_assert_cmpint (g_atomic_int_get (&r.notified), ==, 1);
  g_clear_pointer (&dead, mitogen_message_unref);

  /* Adding a handler for a context already lost hears at once. */
  handle = mitogen_router_add_handler (fixture->router, 0, ctx, recorder_handler, &r,
                                       recorder_notify);
  dead = recorder_pop (&r);
  assert_dead (dead, NULL);
  g_assert_cmpuint (mitogen_message_get_handle (dead), ==, handle);
  mitogen_router_del_handler (fixture->router, handle);
  /* That dead message went through the broker, which may still hold the
   * handler (and so &r) for a moment. */
  mitogen_test_sync_with_broker (fixture->broker);
  g_assert_cmpint (g_atomic_int_get (&r.notified), ==, 2);
  recorder_clear (&r);
}

/* ---- dead messages (NoRouteTest) --------------------------------------- */

/* test_invalid_handle_returns_dead: the child answers a message for a
 * handle nobody serves with a dead message from itself. */
static void
test_invalid_handle_in_child (Fixture       *fixture,
                              gconstpointer  data)
{
  g_autoptr(MitogenContext) ctx = mitogen_test_local (fixture->router);
  g_autoptr(GError) error = NULL;
  Recorder r;
  guint32 reply_to;

  /* Raw: the dead message itself. */
  recorder_init (&r, fixture->broker);
  reply_to = mitogen_router_add_handler (fixture->router, 0, NULL, recorder_handler, &r, NULL);
  {
    g_autoptr(MitogenMessage) msg = mitogen_message_new (0, 4321, g_variant_new_string ("hello"));
    g_autoptr(MitogenMessage) dead = NULL;

    mitogen_message_set_reply_to (msg, reply_to);
    g_assert_true (mitogen_context_send (ctx, msg, &error));
    g_assert_no_error (error);
    g_assert_cmpuint (mitogen_message_get_dst_id (msg), ==, mitogen_context_get_id (ctx));

    dead = recorder_pop (&r);
    assert_dead (dead, "invalid handle");
    g_assert_cmpuint (mitogen_message_get_src_id (dead), ==, mitogen_context_get_id (ctx));
    g_assert_cmpuint (mitogen_message_get_handle (dead), ==, reply_to);
  }
  mitogen_router_del_handler (fixture->router, reply_to);
  recorder_clear (&r);

  /* Through a receiver: its get fails with the reason. */
  {
    g_autoptr(MitogenMessage) msg = mitogen_message_new (0, 4321, NULL);
    g_autoptr(MitogenReceiver) recv = mitogen_context_begin_send (ctx, msg);
    g_autoptr(MitogenMessage) got = mitogen_receiver_get (recv, WAIT_MSEC, NULL, &error);

    g_assert_null (got);
    g_assert_error (error, MITOGEN_ERROR, MITOGEN_ERROR_CHANNEL);
    g_assert_nonnull (strstr (error->message, "invalid handle"));
    g_clear_error (&error);
  }

  /* A message for a dead handle that expects no reply is dropped, and
   * the child carries on. */
  {
    g_autoptr(MitogenMessage) msg = mitogen_message_new (0, 4321, NULL);
    g_autoptr(GVariant) pong = NULL;

    g_assert_true (mitogen_context_send (ctx, msg, &error));
    pong = mitogen_context_call (ctx, "core.ping", NULL, NULL, &error);
    g_assert_no_error (error);
    g_assert_nonnull (pong);
  }
}

/* test_totally_invalid_context_returns_dead. */
static void
test_no_route (Fixture       *fixture,
               gconstpointer  data)
{
  g_autoptr(MitogenReceiver) recv = mitogen_receiver_new (fixture->router);
  g_autoptr(GError) error = NULL;
  Recorder r;
  guint32 reply_to;

  recorder_init (&r, fixture->broker);
  reply_to = mitogen_router_add_handler (fixture->router, 0, NULL, recorder_handler, &r, NULL);
  for (int round = 0; round < 2; round++)
    {
      g_autoptr(MitogenMessage) msg = mitogen_message_new (1234, 1234, NULL);
      g_autoptr(MitogenMessage) dead = NULL;

      mitogen_message_set_reply_to (msg, reply_to);
      g_assert_false (mitogen_router_route (fixture->router, msg, &error));
      g_assert_error (error, MITOGEN_ERROR, MITOGEN_ERROR_CHANNEL);
      g_assert_nonnull (strstr (error->message, "1234"));
      g_clear_error (&error);

      dead = recorder_pop (&r);
      assert_dead (dead, "no route to context 1234");
      g_assert_cmpuint (mitogen_message_get_src_id (dead), ==,
                        mitogen_router_get_context_id (fixture->router));
    }
  mitogen_router_del_handler (fixture->router, reply_to);
  recorder_clear (&r);

  /* Without reply_to, the sender only learns from the return value. */
  {
    g_autoptr(MitogenMessage) msg = mitogen_message_new (1234, 1234, NULL);

    g_assert_false (mitogen_router_route (fixture->router, msg, &error));
    g_assert_error (error, MITOGEN_ERROR, MITOGEN_ERROR_CHANNEL);
    g_clear_error (&error);
  }
  g_assert_true (mitogen_receiver_is_empty (recv));
}

/* test_previously_alive_context_returns_dead. */
static void
test_previously_alive_context (Fixture       *fixture,
                               gconstpointer  data)
{
  g_autoptr(MitogenContext) ctx = mitogen_test_local (fixture->router);
  g_autoptr(MitogenReceiver) recv = mitogen_receiver_new (fixture->router);
  g_autoptr(GError) error = NULL;
  g_autofree char *expected = NULL;

  mitogen_context_shutdown (ctx, 30000, NULL, NULL);
  expected = g_strdup_printf ("no route to context %u", mitogen_context_get_id (ctx));

  for (int round = 0; round < 2; round++)
    {
      g_autoptr(MitogenMessage) msg = mitogen_message_new (mitogen_context_get_id (ctx),
                                                           MITOGEN_HANDLE_CALL_FUNCTION,
                                                           g_variant_new ("(sv)", "core.ping",
                                                                          g_variant_new ("()")));
      g_autoptr(MitogenMessage) got = NULL;

      mitogen_message_set_reply_to (msg, mitogen_receiver_get_handle (recv));
      g_assert_false (mitogen_router_route (fixture->router, msg, NULL));
      got = mitogen_receiver_get (recv, WAIT_MSEC, NULL, &error);
      g_assert_null (got);
      g_assert_error (error, MITOGEN_ERROR, MITOGEN_ERROR_CHANNEL);
      g_assert_cmpstr (error->message, ==, expected);
      g_clear_error (&error);
    }
}

/* ---- the message size limit (MessageSizeTest) -------------------------- */

static GVariant *
bytes_of (gsize  size,
          guint8 fill)
{
  guint8 *p = g_malloc (MAX (size, 1));

  memset (p, fill, size);
  return g_variant_new_from_data (G_VARIANT_TYPE_BYTESTRING, p, size, TRUE, g_free, p);
}

static void
test_max_message_size_property (Fixture       *fixture,
                                gconstpointer  data)
{
  guint64 size = 0;

  g_assert_cmpuint (mitogen_router_get_max_message_size (fixture->router), ==,
                    MITOGEN_DEFAULT_MAX_MESSAGE_SIZE);
  mitogen_router_set_max_message_size (fixture->router, SMALL_LIMIT);
  g_assert_cmpuint (mitogen_router_get_max_message_size (fixture->router), ==, SMALL_LIMIT);
  g_object_get (fixture->router, "max-message-size", &size, NULL);
  g_assert_cmpuint (size, ==, SMALL_LIMIT);
  g_object_set (fixture->router, "max-message-size", (guint64) 65536, NULL);
  g_assert_cmpuint (mitogen_router_get_max_message_size (fixture->router), ==, 65536);
}

/* test_local_dead_message: a call whose arguments exceed the limit fails
 * at once with the reason, and the context is not disturbed. */
static void
test_call_args_too_large (Fixture       *fixture,
                          gconstpointer  data)
{
  g_autoptr(MitogenContext) ctx = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) result = NULL;
  g_autoptr(MitogenReceiver) recv = NULL;
  g_autoptr(MitogenMessage) msg = NULL;

  mitogen_router_set_max_message_size (fixture->router, SMALL_LIMIT);
  ctx = mitogen_test_local (fixture->router);

  result = mitogen_context_call (ctx, "core.echo", g_variant_new ("(@ay)", bytes_of (8192, 'x')),
                                 NULL, &error);
  g_assert_null (result);
  g_assert_error (error, MITOGEN_ERROR, MITOGEN_ERROR_CHANNEL);
  g_assert_nonnull (strstr (error->message, "4096"));
  g_clear_error (&error);

  /* The same through a receiver: a dead message, not silence. */
  recv = mitogen_context_begin_call (ctx, "core.echo", g_variant_new ("(@ay)", bytes_of (5000, 'y')));
  msg = mitogen_receiver_get (recv, WAIT_MSEC, NULL, &error);
  g_assert_null (msg);
  g_assert_error (error, MITOGEN_ERROR, MITOGEN_ERROR_CHANNEL);
  g_assert_nonnull (strstr (error->message, "limit"));
  g_clear_error (&error);

  /* The context carries on, and a message just under the limit passes. */
  g_assert_true (mitogen_context_is_connected (ctx));
  result = mitogen_context_call (ctx, "core.echo", g_variant_new ("(@ay)", bytes_of (3000, 'z')),
                                 NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_variant_get_size (result), ==, 3000);
}

/* test_remote_exceeded: a context started after the limit was set has it
 * too, so it cannot send a reply over it. The caller hears why instead of
 * waiting forever, and the context keeps serving small calls. */
static void
test_child_inherits_limit (Fixture       *fixture,
                           gconstpointer  data)
{
  g_autoptr(MitogenContext) ctx = NULL;
  g_autoptr(MitogenReceiver) recv = NULL;
  g_autoptr(MitogenMessage) msg = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) small = NULL;
  gint64 start;

  mitogen_router_set_max_message_size (fixture->router, SMALL_LIMIT);
  ctx = mitogen_test_local (fixture->router);

  start = g_get_monotonic_time ();
  recv = mitogen_context_begin_call (ctx, "core.zeros", g_variant_new ("(t)", (guint64) 8192));
  msg = mitogen_receiver_get (recv, WAIT_MSEC, NULL, &error);
  g_assert_null (msg);
  /* Not a timeout, and not the stream closing on an over-long frame (which
   * is what a child without the limit would cause): the child's own
   * refusal, naming the limit. */
  g_assert_error (error, MITOGEN_ERROR, MITOGEN_ERROR_CHANNEL);
  g_assert_nonnull (strstr (error->message, "4096"));
  g_assert_cmpint (g_get_monotonic_time () - start, <, 2 * G_USEC_PER_SEC);
  g_clear_error (&error);

  g_assert_true (mitogen_context_is_connected (ctx));
  small = mitogen_context_call (ctx, "core.zeros", g_variant_new ("(t)", (guint64) 1000), NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_variant_get_size (small), ==, 1000);
  g_clear_pointer (&small, g_variant_unref);

  /* mitogen_context_call() the same way. */
  small = mitogen_context_call (ctx, "core.zeros", g_variant_new ("(t)", (guint64) 100000), NULL, &error);
  g_assert_null (small);
  g_assert_error (error, MITOGEN_ERROR, MITOGEN_ERROR_CHANNEL);
  g_clear_error (&error);
  g_assert_true (mitogen_context_is_connected (ctx));
}

/* A context started before the limit changed keeps the limit it got. */
static void
test_limit_applies_to_new_contexts (Fixture       *fixture,
                                    gconstpointer  data)
{
  g_autoptr(MitogenContext) before = mitogen_test_local (fixture->router);
  g_autoptr(MitogenContext) after = NULL;
  g_autoptr(GVariant) result = NULL;
  g_autoptr(GError) error = NULL;

  mitogen_router_set_max_message_size (fixture->router, 1024 * 1024);
  after = mitogen_test_local (fixture->router);

  result = mitogen_context_call (before, "core.zeros", g_variant_new ("(t)", (guint64) 2 * 1024 * 1024),
                                 NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_variant_get_size (result), ==, 2 * 1024 * 1024);
  g_clear_pointer (&result, g_variant_unref);

  result = mitogen_context_call (after, "core.zeros", g_variant_new ("(t)", (guint64) 2 * 1024 * 1024),
                                 NULL, &error);
  g_assert_null (result);
  g_assert_error (error, MITOGEN_ERROR, MITOGEN_ERROR_CHANNEL);
  g_clear_error (&error);
  g_assert_true (mitogen_context_is_connected (after));
}

int
main (int    argc,
      char **argv)
{
  mitogen_test_init (&argc, &argv);

  TEST ("/router/handle/allocate-unique", test_allocate_handle_unique);
  TEST ("/router/handle/add-allocates", test_add_handler_allocates);
  TEST ("/router/handle/add-del", test_add_del_handler);
  TEST ("/router/handle/reregister", test_reregister_handle);
  TEST ("/router/handle/respondent-lost", test_handler_respondent_lost);
  TEST ("/router/dead/invalid-handle-in-child", test_invalid_handle_in_child);
  TEST ("/router/dead/no-route", test_no_route);
  TEST ("/router/dead/previously-alive-context", test_previously_alive_context);
  TEST ("/router/size/property", test_max_message_size_property);
  TEST ("/router/size/call-args-too-large", test_call_args_too_large);
  TEST ("/router/size/child-inherits-limit", test_child_inherits_limit);
  TEST ("/router/size/applies-to-new-contexts", test_limit_applies_to_new_contexts);

  return g_test_run ();
}
