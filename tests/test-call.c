/* test-call.c: calling functions in a local context.
 *
 * Ports what Mitogen's call_error_test.py and local_test.py check to the
 * GVariant calling convention, and adds what the engine promises on top:
 * calls run in arrival order, a context killed mid-call fails its pending
 * calls at once, and shutdown makes the process exit.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <signal.h>
#include <sys/types.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "mitogen-test-util.h"

/* A failing test must not hang the suite: every wait has a deadline. */
#define WAIT_MSEC 10000

typedef MitogenTestFixture Fixture;

#define TEST(path, func) \
  g_test_add ((path), Fixture, NULL, mitogen_test_fixture_setup, (func), \
              mitogen_test_fixture_teardown)

/* ---- identity ---------------------------------------------------------- */

static void
test_getpid_is_another_process (Fixture       *fixture,
                                gconstpointer  data)
{
  g_autoptr(MitogenContext) ctx = mitogen_test_local (fixture->router);
  g_autoptr(GVariant) result = mitogen_test_call_ok (ctx, "core.getpid", NULL);
  gint32 pid;

  g_assert_true (g_variant_is_of_type (result, G_VARIANT_TYPE_INT32));
  pid = g_variant_get_int32 (result);
  g_assert_cmpint (pid, >, 0);
  g_assert_cmpint (pid, !=, getpid ());
  /* The ready frame and the function agree on who answers. */
  g_assert_cmpint (pid, ==, mitogen_test_context_pid (ctx));
  g_assert_true (mitogen_test_pid_alive (pid));
}

/* local_test.py test_stream_name: a local context is called "local.PID". */
static void
test_default_name (Fixture       *fixture,
                   gconstpointer  data)
{
  g_autoptr(MitogenContext) ctx = mitogen_test_local (fixture->router);
  g_autofree char *expected = g_strdup_printf ("local.%d", mitogen_test_context_pid (ctx));

  g_assert_cmpstr (mitogen_context_get_name (ctx), ==, expected);
  g_assert_cmpuint (mitogen_context_get_id (ctx), >, 0);
  g_assert_true (mitogen_context_is_connected (ctx));
}

static void
test_name_and_env_options (Fixture       *fixture,
                           gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MitogenContext) ctx = NULL;
  g_autoptr(GVariant) value = NULL;
  g_autoptr(GVariant) cwd = NULL;
  GVariantBuilder env;
  GVariantDict options;
  g_autofree char *tmpdir = g_dir_make_tmp ("mitogen-test-XXXXXX", &error);
  const char *s = NULL;

  g_assert_no_error (error);
  g_variant_builder_init (&env, G_VARIANT_TYPE ("a{ss}"));
  g_variant_builder_add (&env, "{ss}", "MITOGEN_TEST_MARK", "marked");
  g_variant_dict_init (&options, NULL);
  g_variant_dict_insert (&options, "name", "s", "alice");
  g_variant_dict_insert (&options, "cwd", "s", tmpdir);
  g_variant_dict_insert_value (&options, "env", g_variant_builder_end (&env));

  ctx = mitogen_router_local (fixture->router, g_variant_dict_end (&options), NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (mitogen_context_get_name (ctx), ==, "alice");

  value = mitogen_test_call_ok (ctx, "core.getenv", g_variant_new ("(s)", "MITOGEN_TEST_MARK"));
  g_assert_true (g_variant_is_of_type (value, G_VARIANT_TYPE ("ms")));
  g_variant_get (value, "m&s", &s);
  g_assert_cmpstr (s, ==, "marked");
  g_clear_pointer (&value, g_variant_unref);

  /* An unset variable is "nothing", not an empty string. */
  value = mitogen_test_call_ok (ctx, "core.getenv", g_variant_new ("(s)", "MITOGEN_TEST_SURELY_UNSET"));
  g_assert_null (g_variant_get_maybe (value));

  /* The agent runs in the directory it was given. */
  cwd = mitogen_test_call_ok (ctx, "proc.run",
                 g_variant_new ("(^as)", (const char *[]) { "pwd", "-P", NULL }));
  {
    g_autoptr(GVariant) out = g_variant_get_child_value (cwd, 1);
    g_autofree char *real = realpath (tmpdir, NULL);
    g_autofree char *line = g_strdup_printf ("%s\n", real);
    gsize len;
    const char *p = g_variant_get_fixed_array (out, &len, 1);

    g_assert_cmpmem (p, len, line, strlen (line));
  }
  g_rmdir (tmpdir);
}

/* ---- values ------------------------------------------------------------ */

static void
check_echo (MitogenContext *ctx,
            GVariant       *value)
{
  g_autoptr(GVariant) sunk = g_variant_ref_sink (value);
  g_autoptr(GVariant) result = mitogen_test_call_ok (ctx, "core.echo", g_variant_new_tuple (&value, 1));

  g_assert_cmpstr (g_variant_get_type_string (result), ==, g_variant_get_type_string (sunk));
  g_assert_true (g_variant_equal (result, sunk));
}

static void
test_echo_types (Fixture       *fixture,
                 gconstpointer  data)
{
  g_autoptr(MitogenContext) ctx = mitogen_test_local (fixture->router);
  GVariantDict dict;
  guint8 *big;
  gsize big_size = 1024 * 1024;

  check_echo (ctx, g_variant_new_string ("hello, wörld"));
  check_echo (ctx, g_variant_new_string (""));
  check_echo (ctx, g_variant_new_int64 (G_MININT64));
  check_echo (ctx, g_variant_new_int64 (G_MAXINT64));
  check_echo (ctx, g_variant_new_boolean (TRUE));
  check_echo (ctx, g_variant_new_double (-0.125));
  check_echo (ctx, g_variant_new ("(i(s(x@ay))@as)", 7, "inner", (gint64) -3,
                                  g_variant_new_bytestring ("deep"),
                                  g_variant_new_strv ((const char *[]) { "a", "b", NULL }, -1)));
  check_echo (ctx, g_variant_new ("()"));
  check_echo (ctx, g_variant_new ("mi", NULL));

  g_variant_dict_init (&dict, NULL);
  g_variant_dict_insert (&dict, "name", "s", "value");
  g_variant_dict_insert (&dict, "count", "u", 42);
  g_variant_dict_insert (&dict, "nested", "v", g_variant_new ("(sd)", "pi", 3.14159));
  check_echo (ctx, g_variant_dict_end (&dict));

  /* 1 MiB of non-zero bytes, so a truncated or zeroed copy is seen. */
  big = g_malloc (big_size);
  for (gsize i = 0; i < big_size; i++)
    big[i] = (guint8) (i * 7 + 1);
  check_echo (ctx, g_variant_new_from_data (G_VARIANT_TYPE_BYTESTRING, big, big_size,
                                            TRUE, g_free, big));

  /* A zero-length one too. */
  check_echo (ctx, g_variant_new_from_data (G_VARIANT_TYPE_BYTESTRING, "", 0, TRUE, NULL, NULL));
}

static void
test_zeros (Fixture       *fixture,
            gconstpointer  data)
{
  g_autoptr(MitogenContext) ctx = mitogen_test_local (fixture->router);
  g_autoptr(GVariant) result = mitogen_test_call_ok (ctx, "core.zeros", g_variant_new ("(t)", (guint64) 100000));
  gsize len;
  const guint8 *p = g_variant_get_fixed_array (result, &len, 1);

  g_assert_cmpuint (len, ==, 100000);
  for (gsize i = 0; i < len; i++)
    g_assert_cmpuint (p[i], ==, 0);
}

/* ---- errors (call_error_test.py) --------------------------------------- */

static void
test_remote_error (Fixture       *fixture,
                   gconstpointer  data)
{
  g_autoptr(MitogenContext) ctx = mitogen_test_local (fixture->router);
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) result = NULL;

  result = mitogen_context_call (ctx, "core.fail", g_variant_new ("(s)", "the remote text"),
                                 NULL, &error);
  g_assert_null (result);
  g_assert_error (error, MITOGEN_ERROR, MITOGEN_ERROR_CALL);
  g_assert_nonnull (strstr (error->message, mitogen_context_get_name (ctx)));
  g_assert_nonnull (strstr (error->message, "core.fail"));
  g_assert_nonnull (strstr (error->message, "the remote text"));

  /* The context survives its function's failure. */
  g_clear_pointer (&result, g_variant_unref);
  result = mitogen_test_call_ok (ctx, "core.ping", NULL);
  g_assert_true (g_variant_is_of_type (result, G_VARIANT_TYPE_UNIT));
}

/* CallError('%s%s') keeps its text as it is: no formatting on the way. */
static void
test_remote_error_text_verbatim (Fixture       *fixture,
                                 gconstpointer  data)
{
  g_autoptr(MitogenContext) ctx = mitogen_test_local (fixture->router);
  const char *texts[] = { "%s%s%n", "ünïcödé ✓", "line one\nline two" };

  for (gsize i = 0; i < G_N_ELEMENTS (texts); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GVariant) result = mitogen_context_call (ctx, "core.fail",
                                                         g_variant_new ("(s)", texts[i]),
                                                         NULL, &error);

      g_assert_null (result);
      g_assert_error (error, MITOGEN_ERROR, MITOGEN_ERROR_CALL);
      g_assert_true (g_utf8_validate (error->message, -1, NULL));
      g_assert_true (g_str_has_suffix (error->message, texts[i]));
    }
}

static void
test_unknown_function (Fixture       *fixture,
                       gconstpointer  data)
{
  g_autoptr(MitogenContext) ctx = mitogen_test_local (fixture->router);
  const char *names[] = { "nosuch.function", "core.nosuch" };

  for (gsize i = 0; i < G_N_ELEMENTS (names); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GVariant) result = mitogen_context_call (ctx, names[i], NULL, NULL, &error);

      g_assert_null (result);
      g_assert_error (error, MITOGEN_ERROR, MITOGEN_ERROR_CALL);
      g_assert_nonnull (strstr (error->message, names[i]));
      g_assert_nonnull (strstr (error->message, mitogen_context_get_name (ctx)));
    }
}

static void
test_bad_argument_types (Fixture       *fixture,
                         gconstpointer  data)
{
  g_autoptr(MitogenContext) ctx = mitogen_test_local (fixture->router);
  struct {
    const char *function;
    GVariant   *args;
  } cases[] = {
    { "core.getpid", g_variant_new ("(s)", "unexpected") },
    { "core.sleep", g_variant_new ("(s)", "1") },
    { "core.sleep", NULL },
    { "core.zeros", g_variant_new ("(i)", 5) },
    { "core.getenv", g_variant_new ("(ss)", "A", "B") },
    { "core.echo", NULL },
    { "core.echo", g_variant_new ("(ii)", 1, 2) },
    { "proc.run", g_variant_new ("(s)", "ls") },
    { "proc.run", g_variant_new ("(^as)", (const char *[]) { NULL }) },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GVariant) result = mitogen_context_call (ctx, cases[i].function, cases[i].args,
                                                         NULL, &error);

      g_assert_null (result);
      g_assert_error (error, MITOGEN_ERROR, MITOGEN_ERROR_CALL);
      g_assert_nonnull (strstr (error->message, cases[i].function));
    }

  /* Still serving. */
  g_variant_unref (mitogen_test_call_ok (ctx, "core.ping", NULL));
}

/* ---- the asynchronous forms -------------------------------------------- */

typedef struct
{
  GMainLoop *loop;
  GVariant  *result;
  GError    *error;
  gint64     done_at;
} AsyncResult;

static void
on_call_done (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  AsyncResult *r = user_data;

  r->result = mitogen_context_call_finish (MITOGEN_CONTEXT (source), result, &r->error);
  r->done_at = g_get_monotonic_time ();
  g_main_loop_quit (r->loop);
}

static gboolean
on_timeout_quit (gpointer user_data)
{
  g_main_loop_quit (user_data);
  return G_SOURCE_REMOVE;
}

/* Runs @loop until it quits or @timeout_msec passes. */
static void
run_loop_with_timeout (GMainLoop *loop,
                       int        timeout_msec)
{
  GSource *timeout = g_timeout_source_new (timeout_msec);

  g_source_set_callback (timeout, on_timeout_quit, loop, NULL);
  g_source_attach (timeout, g_main_loop_get_context (loop));
  g_main_loop_run (loop);
  g_source_destroy (timeout);
  g_source_unref (timeout);
}

static void
test_call_async (Fixture       *fixture,
                 gconstpointer  data)
{
  g_autoptr(MitogenContext) ctx = mitogen_test_local (fixture->router);
  g_autoptr(GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  AsyncResult r = { loop, };

  mitogen_context_call_async (ctx, "core.echo", g_variant_new ("(s)", "async"), NULL,
                              on_call_done, &r);
  run_loop_with_timeout (loop, WAIT_MSEC);
  g_assert_no_error (r.error);
  g_assert_nonnull (r.result);
  g_assert_cmpstr (g_variant_get_string (r.result, NULL), ==, "async");
  g_clear_pointer (&r.result, g_variant_unref);

  /* Errors come through _finish too. */
  mitogen_context_call_async (ctx, "core.fail", g_variant_new ("(s)", "async failure"), NULL,
                              on_call_done, &r);
  run_loop_with_timeout (loop, WAIT_MSEC);
  g_assert_null (r.result);
  g_assert_error (r.error, MITOGEN_ERROR, MITOGEN_ERROR_CALL);
  g_assert_nonnull (strstr (r.error->message, "async failure"));
  g_clear_error (&r.error);
}

/* The callback runs in the thread-default main context of the caller, not
 * on the broker or a worker thread. */
typedef struct
{
  GMainContext *context;
  GThread      *thread;
  gboolean      in_right_thread;
  gboolean      done;
  gint32        pid;
} ThreadCheck;

static void
on_call_done_check_thread (GObject      *source,
                           GAsyncResult *result,
                           gpointer      user_data)
{
  ThreadCheck *check = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) value = mitogen_context_call_finish (MITOGEN_CONTEXT (source), result, &error);

  g_assert_no_error (error);
  check->pid = g_variant_get_int32 (value);
  check->in_right_thread = g_thread_self () == check->thread &&
                           g_main_context_is_owner (check->context);
  check->done = TRUE;
}

static void
test_call_async_thread_default (Fixture       *fixture,
                                gconstpointer  data)
{
  g_autoptr(MitogenContext) ctx = mitogen_test_local (fixture->router);
  g_autoptr(GMainContext) context = g_main_context_new ();
  ThreadCheck check = { context, g_thread_self (), };
  gint64 deadline = g_get_monotonic_time () + WAIT_MSEC * 1000;

  g_main_context_push_thread_default (context);
  mitogen_context_call_async (ctx, "core.getpid", NULL, NULL, on_call_done_check_thread, &check);
  while (!check.done && g_get_monotonic_time () < deadline)
    g_main_context_iteration (context, TRUE);
  g_main_context_pop_thread_default (context);

  g_assert_true (check.done);
  g_assert_true (check.in_right_thread);
  g_assert_cmpint (check.pid, ==, mitogen_test_context_pid (ctx));
}

static void
test_call_async_cancelled (Fixture       *fixture,
                           gconstpointer  data)
{
  g_autoptr(MitogenContext) ctx = mitogen_test_local (fixture->router);
  g_autoptr(GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GVariant) after = NULL;
  AsyncResult r = { loop, };
  gint64 start = g_get_monotonic_time ();

  mitogen_context_call_async (ctx, "core.sleep", g_variant_new ("(d)", 0.5), cancellable,
                              on_call_done, &r);
  g_cancellable_cancel (cancellable);
  run_loop_with_timeout (loop, WAIT_MSEC);
  g_assert_null (r.result);
  g_assert_error (r.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  /* The caller stops waiting at once (and the remote call is cancelled). */
  g_assert_cmpint (r.done_at - start, <, 400 * 1000);
  g_clear_error (&r.error);

  after = mitogen_test_call_ok (ctx, "core.echo", g_variant_new ("(s)", "after"));
  g_assert_cmpstr (g_variant_get_string (after, NULL), ==, "after");
}

static void
test_begin_call (Fixture       *fixture,
                 gconstpointer  data)
{
  g_autoptr(MitogenContext) ctx = mitogen_test_local (fixture->router);
  MitogenReceiver *receivers[5];
  guint32 handles[G_N_ELEMENTS (receivers)];

  for (gsize i = 0; i < G_N_ELEMENTS (receivers); i++)
    {
      receivers[i] = mitogen_context_begin_call (ctx, "core.echo",
                                                 g_variant_new ("(x)", (gint64) i * 1000));
      g_assert_nonnull (receivers[i]);
      handles[i] = mitogen_receiver_get_handle (receivers[i]);
      g_assert_cmpuint (handles[i], >=, MITOGEN_FIRST_USER_HANDLE);
      for (gsize j = 0; j < i; j++)
        g_assert_cmpuint (handles[i], !=, handles[j]);
    }

  /* Read back to front: each reply waits on its own receiver. */
  for (gsize i = G_N_ELEMENTS (receivers); i-- > 0;)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(MitogenMessage) msg = mitogen_receiver_get (receivers[i], WAIT_MSEC, NULL, &error);
      g_autoptr(GVariant) value = NULL;

      g_assert_no_error (error);
      g_assert_nonnull (msg);
      g_assert_false (mitogen_message_is_dead (msg));
      g_assert_cmpuint (mitogen_message_get_src_id (msg), ==, mitogen_context_get_id (ctx));
      g_assert_cmpuint (mitogen_message_get_handle (msg), ==, handles[i]);
      value = mitogen_message_unpack (msg, &error);
      g_assert_no_error (error);
      g_assert_cmpint (g_variant_get_int64 (value), ==, (gint64) i * 1000);
      g_object_unref (receivers[i]);
    }
}

static void
test_begin_call_error (Fixture       *fixture,
                       gconstpointer  data)
{
  g_autoptr(MitogenContext) ctx = mitogen_test_local (fixture->router);
  g_autoptr(MitogenReceiver) recv = mitogen_context_begin_call (ctx, "core.fail",
                                                                g_variant_new ("(s)", "via receiver"));
  g_autoptr(GError) error = NULL;
  g_autoptr(MitogenMessage) msg = mitogen_receiver_get (recv, WAIT_MSEC, NULL, &error);
  g_autoptr(GVariant) value = NULL;

  /* The error is a message like any other until it is unpacked. */
  g_assert_no_error (error);
  g_assert_nonnull (msg);
  g_assert_false (mitogen_message_is_dead (msg));
  value = mitogen_message_unpack (msg, &error);
  g_assert_null (value);
  g_assert_error (error, MITOGEN_ERROR, MITOGEN_ERROR_CALL);
  g_assert_nonnull (strstr (error->message, "via receiver"));
  g_assert_nonnull (strstr (error->message, "core.fail"));
}

/* ---- ordering ---------------------------------------------------------- */

/* A reply-less call, then a call: the second runs after the first even
 * when the first is slow, because an agent runs calls in arrival order. */
static void
test_no_reply_then_call_ordering (Fixture       *fixture,
                                  gconstpointer  data)
{
  g_autoptr(MitogenContext) ctx = mitogen_test_local (fixture->router);
  g_autoptr(GError) error = NULL;
  g_autofree char *tmpdir = g_dir_make_tmp ("mitogen-test-XXXXXX", &error);
  g_autofree char *path = NULL;
  g_autofree char *slow = NULL;
  g_autofree char *fast = NULL;
  g_autofree char *contents = NULL;
  g_autoptr(GVariant) result = NULL;

  g_assert_no_error (error);
  path = g_build_filename (tmpdir, "order", NULL);
  slow = g_strdup_printf ("sleep 0.3; echo one >> '%s'", path);
  fast = g_strdup_printf ("echo two >> '%s'", path);

  mitogen_context_call_no_reply (ctx, "proc.run",
                                 g_variant_new ("(^as)", (const char *[]) { "sh", "-c", slow, NULL }));
  mitogen_context_call_no_reply (ctx, "proc.run",
                                 g_variant_new ("(^as)", (const char *[]) { "sh", "-c", fast, NULL }));
  /* A reply-less failure is not reported and does not stop the queue. */
  mitogen_context_call_no_reply (ctx, "core.fail", NULL);
  result = mitogen_test_call_ok (ctx, "proc.run",
                    g_variant_new ("(^as)", (const char *[]) { "cat", path, NULL }));

  g_assert_true (g_file_get_contents (path, &contents, NULL, NULL));
  g_assert_cmpstr (contents, ==, "one\ntwo\n");
  g_unlink (path);
  g_rmdir (tmpdir);
}

static void
test_sleep_then_getpid (Fixture       *fixture,
                        gconstpointer  data)
{
  g_autoptr(MitogenContext) ctx = mitogen_test_local (fixture->router);
  g_autoptr(MitogenReceiver) sleeper = NULL;
  g_autoptr(MitogenReceiver) getpid_recv = NULL;
  g_autoptr(MitogenMessage) msg = NULL;
  g_autoptr(GError) error = NULL;
  gint64 start = g_get_monotonic_time ();

  sleeper = mitogen_context_begin_call (ctx, "core.sleep", g_variant_new ("(d)", 0.3));
  getpid_recv = mitogen_context_begin_call (ctx, "core.getpid", NULL);

  /* getpid waits for the sleep ahead of it... */
  msg = mitogen_receiver_get (getpid_recv, WAIT_MSEC, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_get_monotonic_time () - start, >=, 290 * 1000);
  /* ...so the sleep's reply is already there. */
  g_assert_false (mitogen_receiver_is_empty (sleeper));
}

/* ---- losing the context ------------------------------------------------ */

static void
test_killed_mid_call (Fixture       *fixture,
                      gconstpointer  data)
{
  g_autoptr(MitogenContext) ctx = mitogen_test_local (fixture->router);
  g_autoptr(GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) later = NULL;
  AsyncResult r = { loop, };
  int pid = mitogen_test_context_pid (ctx);
  gint64 killed_at, start;

  mitogen_context_call_async (ctx, "core.sleep", g_variant_new ("(d)", 30.0), NULL,
                              on_call_done, &r);
  /* Let the call reach the agent and start sleeping. */
  g_usleep (100 * 1000);
  g_assert_null (r.result);

  killed_at = g_get_monotonic_time ();
  g_assert_cmpint (kill (pid, SIGKILL), ==, 0);
  run_loop_with_timeout (loop, WAIT_MSEC);

  g_assert_null (r.result);
  g_assert_error (r.error, MITOGEN_ERROR, MITOGEN_ERROR_CHANNEL);
  g_assert_cmpint (r.done_at, >, 0);
  g_assert_cmpint (r.done_at - killed_at, <, 500 * 1000);
  g_clear_error (&r.error);

  g_assert_false (mitogen_context_is_connected (ctx));

  /* A later call fails at once. */
  start = g_get_monotonic_time ();
  later = mitogen_context_call (ctx, "core.getpid", NULL, NULL, &error);
  g_assert_null (later);
  g_assert_error (error, MITOGEN_ERROR, MITOGEN_ERROR_CHANNEL);
  g_assert_cmpint (g_get_monotonic_time () - start, <, 100 * 1000);
  g_clear_error (&error);

  /* So does a receiver-based one. */
  {
    g_autoptr(MitogenReceiver) recv = mitogen_context_begin_call (ctx, "core.ping", NULL);
    g_autoptr(MitogenMessage) msg = mitogen_receiver_get (recv, 1000, NULL, &error);

    g_assert_null (msg);
    g_assert_error (error, MITOGEN_ERROR, MITOGEN_ERROR_CHANNEL);
  }
  g_assert_true (mitogen_test_wait_pid_gone (pid, 2000));
  mitogen_test_drain_default_context ();
}

typedef struct
{
  MitogenContext *ctx;
  GError         *error;
  GVariant       *result;
  gint64          done_at;
} ThreadCall;

static gpointer
sleep_in_thread (gpointer data)
{
  ThreadCall *tc = data;

  tc->result = mitogen_context_call (tc->ctx, "core.sleep", g_variant_new ("(d)", 30.0),
                                     NULL, &tc->error);
  tc->done_at = g_get_monotonic_time ();
  return NULL;
}

/* The same from a thread blocked in mitogen_context_call(). */
static void
test_killed_mid_blocking_call (Fixture       *fixture,
                               gconstpointer  data)
{
  g_autoptr(MitogenContext) ctx = mitogen_test_local (fixture->router);
  ThreadCall tc = { ctx, };
  int pid = mitogen_test_context_pid (ctx);
  GThread *thread;
  gint64 killed_at;

  thread = g_thread_new ("caller", sleep_in_thread, &tc);
  g_usleep (100 * 1000);
  killed_at = g_get_monotonic_time ();
  g_assert_cmpint (kill (pid, SIGKILL), ==, 0);
  g_thread_join (thread);

  g_assert_null (tc.result);
  g_assert_error (tc.error, MITOGEN_ERROR, MITOGEN_ERROR_CHANNEL);
  g_assert_cmpint (tc.done_at - killed_at, <, 500 * 1000);
  g_clear_error (&tc.error);
  mitogen_test_drain_default_context ();
}

static void
test_shutdown_exits (Fixture       *fixture,
                     gconstpointer  data)
{
  g_autoptr(MitogenContext) ctx = mitogen_test_local (fixture->router);
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) later = NULL;
  int pid = mitogen_test_context_pid (ctx);

  g_assert_true (mitogen_test_pid_alive (pid));
  mitogen_context_shutdown (ctx, 30000, NULL, NULL);
  g_assert_false (mitogen_context_is_connected (ctx));
  g_assert_true (mitogen_test_wait_pid_gone (pid, 2000));

  later = mitogen_context_call (ctx, "core.ping", NULL, NULL, &error);
  g_assert_null (later);
  g_assert_error (error, MITOGEN_ERROR, MITOGEN_ERROR_CHANNEL);
  mitogen_test_drain_default_context ();
}

/* Shutdown waits for the call in progress: its reply still arrives. */
static void
test_shutdown_after_call (Fixture       *fixture,
                          gconstpointer  data)
{
  g_autoptr(MitogenContext) ctx = mitogen_test_local (fixture->router);
  g_autoptr(MitogenReceiver) recv = NULL;
  g_autoptr(MitogenMessage) msg = NULL;
  g_autoptr(GError) error = NULL;
  int pid = mitogen_test_context_pid (ctx);

  recv = mitogen_context_begin_call (ctx, "core.sleep", g_variant_new ("(d)", 0.2));
  mitogen_context_shutdown (ctx, 30000, NULL, NULL);
  msg = mitogen_receiver_get (recv, WAIT_MSEC, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (msg);
  g_assert_true (mitogen_test_wait_pid_gone (pid, 2000));
  mitogen_test_drain_default_context ();
}

static void
on_disconnected (MitogenContext *ctx,
                 gpointer        user_data)
{
  gboolean *flag = user_data;

  g_assert_false (mitogen_context_is_connected (ctx));
  *flag = TRUE;
}

static void
on_context_lost (MitogenRouter  *router,
                 MitogenContext *ctx,
                 gpointer        user_data)
{
  MitogenContext **lost = user_data;

  g_set_object (lost, ctx);
}

static void
test_disconnected_signal (Fixture       *fixture,
                          gconstpointer  data)
{
  g_autoptr(MitogenContext) ctx = mitogen_test_local (fixture->router);
  g_autoptr(MitogenContext) other = mitogen_test_local (fixture->router);
  g_autoptr(MitogenContext) lost = NULL;
  gboolean disconnected = FALSE;
  gboolean other_disconnected = FALSE;
  gulong id;

  g_signal_connect (ctx, "disconnected", G_CALLBACK (on_disconnected), &disconnected);
  g_signal_connect (other, "disconnected", G_CALLBACK (on_disconnected), &other_disconnected);
  id = g_signal_connect (fixture->router, "context-lost", G_CALLBACK (on_context_lost), &lost);

  mitogen_context_shutdown (ctx, 0, NULL, NULL);
  g_assert_true (mitogen_test_iterate_until (&disconnected, WAIT_MSEC));
  /* Only the context that went away says so. */
  g_assert_false (other_disconnected);
  g_assert_true (lost == ctx);
  g_assert_true (mitogen_context_is_connected (other));
  g_variant_unref (mitogen_test_call_ok (other, "core.ping", NULL));

  /* A kill is noticed the same way. */
  g_assert_cmpint (kill (mitogen_test_context_pid (other), SIGKILL), ==, 0);
  g_assert_true (mitogen_test_iterate_until (&other_disconnected, WAIT_MSEC));
  g_assert_true (lost == other);

  g_signal_handlers_disconnect_by_data (ctx, &disconnected);
  g_signal_handlers_disconnect_by_data (other, &other_disconnected);
  g_signal_handler_disconnect (fixture->router, id);
  mitogen_test_drain_default_context ();
}

/* ---- proc.run ---------------------------------------------------------- */

static void
test_proc_run (Fixture       *fixture,
               gconstpointer  data)
{
  g_autoptr(MitogenContext) ctx = mitogen_test_local (fixture->router);
  g_autoptr(GVariant) result = NULL;
  g_autoptr(GVariant) out = NULL;
  g_autoptr(GVariant) err = NULL;
  GVariantDict options;
  GVariantBuilder env;
  gint32 status;
  gsize len;
  const char *p;

  result = mitogen_test_call_ok (ctx, "proc.run",
                    g_variant_new ("(^as)", (const char *[]) {
                      "sh", "-c", "echo out; echo err >&2; exit 3", NULL }));
  g_assert_cmpstr (g_variant_get_type_string (result), ==, "(iayay)");
  g_variant_get (result, "(i@ay@ay)", &status, &out, &err);
  g_assert_cmpint (status, ==, 3);
  p = g_variant_get_fixed_array (out, &len, 1);
  g_assert_cmpmem (p, len, "out\n", 4);
  p = g_variant_get_fixed_array (err, &len, 1);
  g_assert_cmpmem (p, len, "err\n", 4);
  g_clear_pointer (&result, g_variant_unref);
  g_clear_pointer (&out, g_variant_unref);
  g_clear_pointer (&err, g_variant_unref);

  /* stdin and env options. */
  g_variant_builder_init (&env, G_VARIANT_TYPE ("a{ss}"));
  g_variant_builder_add (&env, "{ss}", "MITOGEN_RUN_VAR", "from-env");
  g_variant_dict_init (&options, NULL);
  g_variant_dict_insert_value (&options, "stdin",
                               g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, "piped in", 8, 1));
  g_variant_dict_insert_value (&options, "env", g_variant_builder_end (&env));
  result = mitogen_test_call_ok (ctx, "proc.run",
                    g_variant_new ("(^as@a{sv})", (const char *[]) {
                      "sh", "-c", "cat; printf ' %s' \"$MITOGEN_RUN_VAR\"", NULL },
                      g_variant_dict_end (&options)));
  g_variant_get (result, "(i@ay@ay)", &status, &out, &err);
  g_assert_cmpint (status, ==, 0);
  p = g_variant_get_fixed_array (out, &len, 1);
  g_assert_cmpmem (p, len, "piped in from-env", strlen ("piped in from-env"));
  g_clear_pointer (&result, g_variant_unref);
  g_clear_pointer (&out, g_variant_unref);
  g_clear_pointer (&err, g_variant_unref);

  /* Death by signal is a negative status. */
  result = mitogen_test_call_ok (ctx, "proc.run",
                    g_variant_new ("(^as)", (const char *[]) { "sh", "-c", "kill -9 $$", NULL }));
  g_variant_get (result, "(i@ay@ay)", &status, NULL, NULL);
  g_assert_cmpint (status, ==, -SIGKILL);
}

static void
test_proc_run_missing_program (Fixture       *fixture,
                               gconstpointer  data)
{
  g_autoptr(MitogenContext) ctx = mitogen_test_local (fixture->router);
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) result = NULL;

  result = mitogen_context_call (ctx, "proc.run",
                                 g_variant_new ("(^as)", (const char *[]) {
                                   "/nonexistent/mitogen-no-such-program", NULL }),
                                 NULL, &error);
  g_assert_null (result);
  /* A missing program is G_IO_ERROR_NOT_FOUND in the context, and here. */
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  {
    g_autofree char *prefix = g_strdup_printf ("context %s: proc.run: ",
                                               mitogen_context_get_name (ctx));
    g_assert_true (g_str_has_prefix (error->message, prefix));
  }
  g_assert_nonnull (strstr (error->message, "mitogen-no-such-program"));
}

/* ---- remote errors keep their domain and code -------------------------- */

static void
add_test_module (void)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (mitogen_add_module ("testmod", g_getenv ("MITOGEN_TEST_MODULE"), &error));
  g_assert_no_error (error);
}

/* Calls testmod.raise, which fails with exactly @domain and @code. */
static GError *
raise_in (MitogenContext *ctx,
          const char     *domain,
          int             code,
          const char     *text)
{
  GError *error = NULL;
  g_autoptr(GVariant) result = mitogen_context_call (ctx, "testmod.raise",
                                                     g_variant_new ("(sis)", domain, code, text),
                                                     NULL, &error);

  g_assert_null (result);
  g_assert_nonnull (error);
  return error;
}

static void
check_domains_preserved (MitogenContext *ctx)
{
  g_autofree char *prefix = g_strdup_printf ("context %s: testmod.raise: ",
                                             mitogen_context_get_name (ctx));
  g_autoptr(GError) io = raise_in (ctx, g_quark_to_string (G_IO_ERROR),
                                   G_IO_ERROR_NOT_FOUND, "no such file");
  g_autoptr(GError) file = raise_in (ctx, g_quark_to_string (G_FILE_ERROR),
                                     G_FILE_ERROR_ACCES, "denied");
  g_autoptr(GError) missing = NULL;
  g_autoptr(GVariant) result = NULL;

  g_assert_error (io, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  g_assert_cmpstr (io->message + strlen (prefix), ==, "no such file");
  g_assert_true (g_str_has_prefix (io->message, prefix));
  g_assert_error (file, G_FILE_ERROR, G_FILE_ERROR_ACCES);

  /* Every MITOGEN_ERROR code stays itself. */
  for (int code = MITOGEN_ERROR_FAILED; code <= MITOGEN_ERROR_PROTOCOL; code++)
    {
      g_autoptr(GError) error = raise_in (ctx, g_quark_to_string (MITOGEN_ERROR), code, "m");

      g_assert_error (error, MITOGEN_ERROR, code);
    }

  /* A real missing program, by the built-in proc.run. */
  result = mitogen_context_call (ctx, "proc.run",
                                 g_variant_new ("(^as)", (const char *[]) {
                                   "/nonexistent/mitogen-no-such-program", NULL }),
                                 NULL, &missing);
  g_assert_null (result);
  g_assert_error (missing, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
}

static void
test_error_domain_preserved (Fixture       *fixture,
                             gconstpointer  data)
{
  g_autoptr(MitogenContext) ctx = mitogen_test_local (fixture->router);

  add_test_module ();
  check_domains_preserved (ctx);
}

/* Only the value inside the body changes: the JSON serializer carries the
 * domain and the code as well. */
static void
test_error_domain_preserved_json (Fixture       *fixture,
                                  gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MitogenContext) ctx = NULL;
  GVariantDict options;

  add_test_module ();
  g_variant_dict_init (&options, NULL);
  g_variant_dict_insert (&options, "serializer", "s", "json");
  ctx = mitogen_router_local (fixture->router, g_variant_dict_end (&options), NULL, &error);
  g_assert_no_error (error);
  check_domains_preserved (ctx);
}

/* A context may raise any domain and code it likes; those no GError may
 * carry end as a clean MITOGEN_ERROR_PROTOCOL that keeps the text. */
static void
test_error_hostile_domain (Fixture       *fixture,
                           gconstpointer  data)
{
  g_autoptr(MitogenContext) ctx = mitogen_test_local (fixture->router);
  g_autofree char *overlong = g_strnfill (4096, 'x');
  struct {
    const char *domain;
    int         code;
  } cases[] = {
    { overlong, 1 },
    { "spaces are not in quark names", 1 },
    { "g-io-error-quark", -5 },
    { "mitogen-error-quark", 4711 },
  };

  add_test_module ();
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = raise_in (ctx, cases[i].domain, cases[i].code, "the text");

      g_assert_error (error, MITOGEN_ERROR, MITOGEN_ERROR_PROTOCOL);
      g_assert_true (g_str_has_suffix (error->message, "the text"));
    }
  /* Still serving. */
  g_variant_unref (mitogen_test_call_ok (ctx, "core.ping", NULL));
}

/* ---- cancellation reaches the context ---------------------------------- */

static gpointer
cancel_after_100ms (gpointer data)
{
  g_usleep (100 * 1000);
  g_cancellable_cancel (data);
  return NULL;
}

/* The context is free again: a ping answers within a second. */
static void
assert_answers_promptly (MitogenContext *ctx)
{
  gint64 start = g_get_monotonic_time ();

  g_variant_unref (mitogen_test_call_ok (ctx, "core.ping", NULL));
  g_assert_cmpint (g_get_monotonic_time () - start, <, G_USEC_PER_SEC);
}

static void
test_cancel_reaches_context (Fixture       *fixture,
                             gconstpointer  data)
{
  g_autoptr(MitogenContext) ctx = mitogen_test_local (fixture->router);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) result = NULL;
  GThread *canceller;
  gint64 start = g_get_monotonic_time ();

  canceller = g_thread_new ("canceller", cancel_after_100ms, cancellable);
  result = mitogen_context_call (ctx, "core.sleep", g_variant_new ("(d)", 30.0),
                                 cancellable, &error);
  g_thread_join (canceller);
  g_assert_null (result);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_cmpint (g_get_monotonic_time () - start, <, G_USEC_PER_SEC);

  /* Without the cancel on the wire this ping would wait 30 s. */
  assert_answers_promptly (ctx);
}

static gboolean
cancel_on_timeout (gpointer data)
{
  g_cancellable_cancel (data);
  return G_SOURCE_REMOVE;
}

static void
test_cancel_async_reaches_context (Fixture       *fixture,
                                   gconstpointer  data)
{
  g_autoptr(MitogenContext) ctx = mitogen_test_local (fixture->router);
  g_autoptr(GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  AsyncResult r = { loop, };
  gint64 start = g_get_monotonic_time ();

  mitogen_context_call_async (ctx, "core.sleep", g_variant_new ("(d)", 30.0), cancellable,
                              on_call_done, &r);
  g_timeout_add (100, cancel_on_timeout, cancellable);
  run_loop_with_timeout (loop, WAIT_MSEC);
  g_assert_null (r.result);
  g_assert_error (r.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_cmpint (r.done_at - start, <, G_USEC_PER_SEC);
  g_clear_error (&r.error);

  assert_answers_promptly (ctx);
}

/* A call cancelled while it waits behind another is dropped: it never
 * runs, so it does not hold up what comes after it. */
static void
test_cancel_queued_call (Fixture       *fixture,
                         gconstpointer  data)
{
  g_autoptr(MitogenContext) ctx = mitogen_test_local (fixture->router);
  g_autoptr(GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  g_autoptr(GCancellable) first_cancel = g_cancellable_new ();
  g_autoptr(GCancellable) queued_cancel = g_cancellable_new ();
  AsyncResult first = { loop, };
  AsyncResult queued = { loop, };

  mitogen_context_call_async (ctx, "core.sleep", g_variant_new ("(d)", 30.0), first_cancel,
                              on_call_done, &first);
  mitogen_context_call_async (ctx, "core.sleep", g_variant_new ("(d)", 30.0), queued_cancel,
                              on_call_done, &queued);
  /* The queued one first, while the first still runs. */
  g_cancellable_cancel (queued_cancel);
  run_loop_with_timeout (loop, WAIT_MSEC);
  g_assert_error (queued.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_null (first.error);
  g_assert_null (first.result);

  g_timeout_add (100, cancel_on_timeout, first_cancel);
  run_loop_with_timeout (loop, WAIT_MSEC);
  g_assert_error (first.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&first.error);
  g_clear_error (&queued.error);

  assert_answers_promptly (ctx);
}

/* A cancelled proc.run kills its child rather than leaving it behind. */
static void
test_cancel_kills_proc_run_child (Fixture       *fixture,
                                  gconstpointer  data)
{
  g_autoptr(MitogenContext) ctx = mitogen_test_local (fixture->router);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  AsyncResult r = { loop, };
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("mitogen-test-XXXXXX", &error);
  g_autofree char *pidfile = g_build_filename (dir, "pid", NULL);
  g_autofree char *script = g_strdup_printf ("echo $$ > %s.tmp && mv %s.tmp %s && exec sleep 30",
                                             pidfile, pidfile, pidfile);
  g_autofree char *text = NULL;
  gint64 deadline = g_get_monotonic_time () + WAIT_MSEC * 1000;
  int pid;

  g_assert_no_error (error);
  mitogen_context_call_async (ctx, "proc.run",
                              g_variant_new ("(^as)", (const char *[]) { "sh", "-c", script, NULL }),
                              cancellable, on_call_done, &r);
  /* Wait for the child to be there before cancelling. */
  while (!g_file_get_contents (pidfile, &text, NULL, NULL))
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_usleep (10 * 1000);
    }
  pid = atoi (text);
  g_assert_cmpint (pid, >, 0);
  g_assert_true (mitogen_test_pid_alive (pid));

  g_cancellable_cancel (cancellable);
  run_loop_with_timeout (loop, WAIT_MSEC);
  g_assert_error (r.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&r.error);
  g_assert_true (mitogen_test_wait_pid_gone (pid, WAIT_MSEC));
  assert_answers_promptly (ctx);
  g_unlink (pidfile);
  g_rmdir (dir);
}

/* ---- the broker thread ------------------------------------------------- */

typedef struct
{
  MitogenContext *ctx;
  GError         *error;
  GVariant       *result;
  GMutex          lock;
  GCond           cond;
  gboolean        done;
} BrokerCall;

static gboolean
call_on_broker (gpointer data)
{
  BrokerCall *bc = data;

  bc->result = mitogen_context_call (bc->ctx, "core.ping", NULL, NULL, &bc->error);
  g_mutex_lock (&bc->lock);
  bc->done = TRUE;
  g_cond_signal (&bc->cond);
  g_mutex_unlock (&bc->lock);
  return G_SOURCE_REMOVE;
}

/* A blocking call on the broker thread would deadlock: it must fail. */
static void
test_call_on_broker_fails (Fixture       *fixture,
                           gconstpointer  data)
{
  g_autoptr(MitogenContext) ctx = mitogen_test_local (fixture->router);
  BrokerCall bc = { ctx, };
  gint64 deadline = g_get_monotonic_time () + WAIT_MSEC * 1000;

  g_mutex_init (&bc.lock);
  g_cond_init (&bc.cond);
  mitogen_broker_defer (fixture->broker, call_on_broker, &bc, NULL);
  g_mutex_lock (&bc.lock);
  while (!bc.done && g_cond_wait_until (&bc.cond, &bc.lock, deadline))
    ;
  g_mutex_unlock (&bc.lock);
  g_assert_true (bc.done);
  g_assert_null (bc.result);
  g_assert_error (bc.error, MITOGEN_ERROR, MITOGEN_ERROR_FAILED);
  g_clear_error (&bc.error);
  g_mutex_clear (&bc.lock);
  g_cond_clear (&bc.cond);
}

/* ---- answers that come later (MitogenCall as the reply handle) --------- */

/* A deferred call answers from another thread; the context serves other
 * calls meanwhile. */
static void
test_return_later (Fixture       *fixture,
                   gconstpointer  data)
{
  g_autoptr(MitogenContext) ctx = NULL;
  g_autoptr(MitogenReceiver) later = NULL;
  g_autoptr(MitogenMessage) reply = NULL;
  g_autoptr(GVariant) value = NULL;
  g_autoptr(GVariant) pong = NULL;
  g_autoptr(GError) error = NULL;
  gint64 start;

  add_test_module ();
  ctx = mitogen_test_local (fixture->router);
  later = mitogen_context_begin_call (ctx, "testmod.later", g_variant_new ("(db)", 0.5, FALSE));
  start = g_get_monotonic_time ();
  pong = mitogen_test_call_ok (ctx, "core.ping", NULL);
  /* Not stuck behind the half-second answer. */
  g_assert_cmpint (g_get_monotonic_time () - start, <, 400 * 1000);
  reply = mitogen_receiver_get (later, WAIT_MSEC, NULL, &error);
  g_assert_no_error (error);
  value = mitogen_message_unpack (reply, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (g_variant_get_string (value, NULL), ==, "later");
}

/* A function that lets go of a deferred call without answering: its
 * caller hears so instead of waiting for ever. */
static void
test_return_later_dropped (Fixture       *fixture,
                           gconstpointer  data)
{
  g_autoptr(MitogenContext) ctx = NULL;
  g_autoptr(GVariant) value = NULL;
  g_autoptr(GError) error = NULL;

  add_test_module ();
  ctx = mitogen_test_local (fixture->router);
  mitogen_test_expect_forwarded_log (mitogen_context_get_name (ctx), "mitogen", G_LOG_LEVEL_WARNING,
                                     "*testmod.later let go of its call*");
  value = mitogen_context_call (ctx, "testmod.later", g_variant_new ("(db)", 0.05, TRUE),
                                NULL, &error);
  g_assert_null (value);
  g_assert_error (error, MITOGEN_ERROR, MITOGEN_ERROR_CALL);
  g_assert_nonnull (strstr (error->message, "without answering"));
}

/* Cancelling a deferred call reaches it until it answers. */
static void
test_return_later_cancelled (Fixture       *fixture,
                             gconstpointer  data)
{
  g_autoptr(MitogenContext) ctx = NULL;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GVariant) value = NULL;
  g_autoptr(GError) error = NULL;
  GThread *canceller;
  gint64 deadline;
  gint32 pending = -1;

  add_test_module ();
  ctx = mitogen_test_local (fixture->router);
  canceller = g_thread_new ("canceller", cancel_after_100ms, cancellable);
  value = mitogen_context_call (ctx, "testmod.later", g_variant_new ("(db)", 30.0, FALSE),
                                cancellable, &error);
  g_thread_join (canceller);
  g_assert_null (value);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  /* The function's own thread saw the cancellable fire and answered. */
  deadline = g_get_monotonic_time () + 2 * G_USEC_PER_SEC;
  while (pending != 0 && g_get_monotonic_time () < deadline)
    {
      g_autoptr(GVariant) n = mitogen_test_call_ok (ctx, "testmod.pending", NULL);

      pending = g_variant_get_int32 (n);
      g_usleep (10 * 1000);
    }
  g_assert_cmpint (pending, ==, 0);
}

int
main (int    argc,
      char **argv)
{
  mitogen_test_init (&argc, &argv);

  TEST ("/call/getpid-is-another-process", test_getpid_is_another_process);
  TEST ("/call/default-name", test_default_name);
  TEST ("/call/name-and-env-options", test_name_and_env_options);
  TEST ("/call/echo-types", test_echo_types);
  TEST ("/call/zeros", test_zeros);
  TEST ("/call/error/remote", test_remote_error);
  TEST ("/call/error/text-verbatim", test_remote_error_text_verbatim);
  TEST ("/call/error/unknown-function", test_unknown_function);
  TEST ("/call/error/bad-argument-types", test_bad_argument_types);
  TEST ("/call/async", test_call_async);
  TEST ("/call/async/thread-default-context", test_call_async_thread_default);
  TEST ("/call/async/cancelled", test_call_async_cancelled);
  TEST ("/call/begin-call", test_begin_call);
  TEST ("/call/begin-call/error", test_begin_call_error);
  TEST ("/call/order/no-reply-then-call", test_no_reply_then_call_ordering);
  TEST ("/call/order/sleep-then-getpid", test_sleep_then_getpid);
  TEST ("/call/lost/killed-mid-call", test_killed_mid_call);
  TEST ("/call/lost/killed-mid-blocking-call", test_killed_mid_blocking_call);
  TEST ("/call/shutdown/exits", test_shutdown_exits);
  TEST ("/call/shutdown/after-call", test_shutdown_after_call);
  TEST ("/call/lost/disconnected-signal", test_disconnected_signal);
  TEST ("/call/proc-run", test_proc_run);
  TEST ("/call/proc-run/missing-program", test_proc_run_missing_program);
  TEST ("/call/on-broker-fails", test_call_on_broker_fails);
  TEST ("/call/error/domain-preserved", test_error_domain_preserved);
  TEST ("/call/error/domain-preserved-json", test_error_domain_preserved_json);
  TEST ("/call/error/hostile-domain", test_error_hostile_domain);
  TEST ("/call/cancel/reaches-context", test_cancel_reaches_context);
  TEST ("/call/cancel/async-reaches-context", test_cancel_async_reaches_context);
  TEST ("/call/cancel/queued-call-dropped", test_cancel_queued_call);
  TEST ("/call/cancel/kills-proc-run-child", test_cancel_kills_proc_run_child);
  TEST ("/call/later/answers", test_return_later);
  TEST ("/call/later/dropped", test_return_later_dropped);
  TEST ("/call/later/cancelled", test_return_later_cancelled);

  return g_test_run ();
}
