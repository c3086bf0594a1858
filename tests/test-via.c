/* test-via.c: contexts started through other contexts: names, routing,
 * modules fetched two hops away, losing an intermediate, and the rule that
 * calls only go from parents to children.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <signal.h>
#include <stdio.h>
#include <glib/gstdio.h>
#include <unistd.h>

#include "mitogen-test-util.h"

static MitogenContext *
connect_via (MitogenRouter  *router,
             MitogenContext *via)
{
  g_autoptr(GError) error = NULL;
  MitogenContext *ctx = mitogen_router_connect_context (router, "local", NULL, via, NULL, &error);

  g_assert_no_error (error);
  g_assert_nonnull (ctx);
  return ctx;
}

static int
call_getpid (MitogenContext *ctx)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) v = mitogen_context_call (ctx, "core.getpid", NULL, NULL, &error);

  g_assert_no_error (error);
  return g_variant_get_int32 (v);
}

static int
parent_pid_of (int pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/stat", pid);
  g_autofree char *contents = NULL;
  const char *p;
  int ppid = -1;

  g_assert_true (g_file_get_contents (path, &contents, NULL, NULL));
  p = strrchr (contents, ')');
  g_assert_nonnull (p);
  g_assert_cmpint (sscanf (p + 2, "%*c %d", &ppid), ==, 1);
  return ppid;
}

static void
test_chain (MitogenTestFixture *fixture,
            gconstpointer       data)
{
  g_autoptr(MitogenContext) a = mitogen_test_local (fixture->router);
  g_autoptr(MitogenContext) b = connect_via (fixture->router, a);
  g_autoptr(MitogenContext) c = connect_via (fixture->router, b);
  g_autofree char *b_prefix = g_strconcat (mitogen_context_get_name (a), ".", NULL);
  g_autofree char *c_prefix = g_strconcat (mitogen_context_get_name (b), ".", NULL);
  int pa = call_getpid (a), pb = call_getpid (b), pc = call_getpid (c);

  /* Names compose along the chain. */
  g_assert_true (g_str_has_prefix (mitogen_context_get_name (b), b_prefix));
  g_assert_true (g_str_has_prefix (mitogen_context_get_name (c), c_prefix));
  g_assert_true (mitogen_context_get_via (c) == b);
  g_assert_true (mitogen_context_get_via (b) == a);

  /* Each was started by the one before it. */
  g_assert_cmpint (parent_pid_of (pb), ==, pa);
  g_assert_cmpint (parent_pid_of (pc), ==, pb);
  g_assert_cmpint (mitogen_test_context_pid (c), ==, pc);

  /* Ids are unique in the tree, and the router knows them all. */
  g_assert_cmpuint (mitogen_context_get_id (a), !=, mitogen_context_get_id (b));
  g_assert_cmpuint (mitogen_context_get_id (b), !=, mitogen_context_get_id (c));
}

static void
test_module_two_hops (MitogenTestFixture *fixture,
                      gconstpointer       data)
{
  const char *path = g_getenv ("MITOGEN_TEST_MODULE");
  g_autoptr(GError) error = NULL;
  g_autoptr(MitogenContext) a = mitogen_test_local (fixture->router);
  g_autoptr(MitogenContext) b = connect_via (fixture->router, a);
  g_autoptr(MitogenContext) c = connect_via (fixture->router, b);
  g_autoptr(GVariant) sum = NULL;
  g_autoptr(GVariant) who = NULL;
  gint32 pid;
  guint32 id;

  g_assert_nonnull (path);
  g_assert_true (mitogen_add_module ("testmod", path, &error));
  g_assert_no_error (error);

  /* c never had the module: it comes from the master through a and b. */
  sum = mitogen_context_call (c, "testmod.add", g_variant_new ("(ii)", 2, 40), NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_variant_get_int32 (sum), ==, 42);

  who = mitogen_context_call (c, "testmod.whoami", NULL, NULL, &error);
  g_assert_no_error (error);
  g_variant_get (who, "(iu)", &pid, &id);
  g_assert_cmpint (pid, ==, mitogen_test_context_pid (c));
  g_assert_cmpuint (id, ==, mitogen_context_get_id (c));

  /* A function the module lacks is a clear error. */
  g_clear_pointer (&sum, g_variant_unref);
  sum = mitogen_context_call (c, "testmod.nope", NULL, NULL, &error);
  g_assert_error (error, MITOGEN_ERROR, MITOGEN_ERROR_CALL);
  g_assert_nonnull (strstr (error->message, "testmod.nope"));
  g_clear_error (&error);

  /* So is a module nobody has. */
  sum = mitogen_context_call (b, "nosuchmod.f", NULL, NULL, &error);
  g_assert_error (error, MITOGEN_ERROR, MITOGEN_ERROR_CALL);
  g_assert_nonnull (strstr (error->message, "nosuchmod"));
}

static void
test_module_wrong_arch (void)
{
  const char *path = g_getenv ("MITOGEN_TEST_MODULE");
  g_autoptr(GError) error = NULL;
  g_autofree char *contents = NULL;
  g_autofree char *tmp = NULL;
  gsize len;
  int fd;

  g_assert_true (g_file_get_contents (path, &contents, &len, NULL));
  /* e_machine, little-endian, at offset 18: claim aarch64 (183). */
  contents[18] = (char) 183;
  contents[19] = 0;
  fd = g_file_open_tmp ("mitogen-badarch-XXXXXX.so", &tmp, &error);
  g_assert_no_error (error);
  close (fd);
  g_assert_true (g_file_set_contents (tmp, contents, len, NULL));

  g_assert_false (mitogen_add_module ("badarch", tmp, &error));
  g_assert_error (error, MITOGEN_ERROR, MITOGEN_ERROR_FAILED);
  g_assert_nonnull (strstr (error->message, "aarch64"));
  g_unlink (tmp);
}

static void
on_disconnected (MitogenContext *ctx,
                 gpointer        data)
{
  (*(int *) data)++;
}

static void
test_intermediate_killed (MitogenTestFixture *fixture,
                          gconstpointer       data)
{
  g_autoptr(MitogenContext) a = mitogen_test_local (fixture->router);
  g_autoptr(MitogenContext) b = connect_via (fixture->router, a);
  g_autoptr(MitogenContext) c = connect_via (fixture->router, b);
  g_autoptr(MitogenReceiver) pending = NULL;
  g_autoptr(MitogenMessage) msg = NULL;
  g_autoptr(GVariant) v = NULL;
  g_autoptr(GError) error = NULL;
  int pb = call_getpid (b), pc = call_getpid (c);
  int lost = 0;
  gint64 start, deadline;

  g_signal_connect (b, "disconnected", G_CALLBACK (on_disconnected), &lost);
  g_signal_connect (c, "disconnected", G_CALLBACK (on_disconnected), &lost);

  pending = mitogen_context_begin_call (c, "core.sleep", g_variant_new ("(d)", 30.0));
  g_usleep (50000);
  g_assert_cmpint (kill (pb, SIGKILL), ==, 0);

  /* The call behind the dead context fails at once, not after its 30 s. */
  start = g_get_monotonic_time ();
  msg = mitogen_receiver_get (pending, 5000, NULL, &error);
  g_assert_null (msg);
  g_assert_error (error, MITOGEN_ERROR, MITOGEN_ERROR_CHANNEL);
  g_assert_cmpint (g_get_monotonic_time () - start, <, 2 * G_USEC_PER_SEC);
  g_clear_error (&error);

  /* The context behind it exits: no orphan. */
  g_assert_true (mitogen_test_wait_pid_gone (pc, 3000));

  /* Each lost context says so. */
  deadline = g_get_monotonic_time () + 3 * G_USEC_PER_SEC;
  while (lost < 2 && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, FALSE), g_usleep (1000);
  g_assert_cmpint (lost, ==, 2);
  g_assert_false (mitogen_context_is_connected (c));

  /* Later calls fail at once: there is no route any more. */
  start = g_get_monotonic_time ();
  v = mitogen_context_call (c, "core.getpid", NULL, NULL, &error);
  g_assert_null (v);
  g_assert_error (error, MITOGEN_ERROR, MITOGEN_ERROR_CHANNEL);
  g_assert_cmpint (g_get_monotonic_time () - start, <, G_USEC_PER_SEC / 2);
  g_clear_error (&error);

  /* The context in front of the dead one carries on. */
  g_assert_cmpint (call_getpid (a), ==, mitogen_test_context_pid (a));
}

static char *
call_context_from (MitogenContext *from,
                   guint32         target,
                   const char     *function)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) v = mitogen_context_call (from, "testmod.call_context",
                                                g_variant_new ("(us)", target, function),
                                                NULL, &error);

  g_assert_no_error (error);
  return g_variant_dup_string (v, NULL);
}

static void
test_calls_go_down_only (MitogenTestFixture *fixture,
                         gconstpointer       data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MitogenContext) a = mitogen_test_local (fixture->router);
  g_autoptr(MitogenContext) sibling = mitogen_test_local (fixture->router);
  g_autoptr(MitogenContext) b = connect_via (fixture->router, a);
  g_autofree char *up = NULL;
  g_autofree char *side = NULL;
  g_autofree char *grand = NULL;
  g_autofree char *down = NULL;

  g_assert_true (mitogen_add_module ("testmod", g_getenv ("MITOGEN_TEST_MODULE"), &error));
  g_assert_no_error (error);

  /* A child may not call its parent (the master here)... */
  mitogen_test_expect_log ("mitogen", G_LOG_LEVEL_WARNING, "*refused a call from context*");
  up = call_context_from (a, 0, "core.getpid");
  g_assert_true (mitogen_test_wait_expected_logs (2000));
  g_assert_nonnull (strstr (up, "refused by policy"));

  /* ...nor a sibling, nor its own parent further down a chain. The
   * refusals are logged in those agents and forwarded here. */
  mitogen_test_expect_forwarded_log (NULL, "mitogen", G_LOG_LEVEL_WARNING, "*refused a call from context*");
  side = call_context_from (a, mitogen_context_get_id (sibling), "core.getpid");
  g_assert_true (mitogen_test_wait_expected_logs (2000));
  g_assert_nonnull (strstr (side, "refused by policy"));

  mitogen_test_expect_forwarded_log (NULL, "mitogen", G_LOG_LEVEL_WARNING, "*refused a call from context*");
  grand = call_context_from (b, mitogen_context_get_id (a), "core.getpid");
  g_assert_true (mitogen_test_wait_expected_logs (2000));
  g_assert_nonnull (strstr (grand, "refused by policy"));

  /* Downwards is fine: a parent calls its child. */
  down = call_context_from (a, mitogen_context_get_id (b), "core.getpid");
  g_assert_cmpstr (down, ==, "ok");
}

static void
test_unidirectional (MitogenTestFixture *fixture,
                     gconstpointer       data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MitogenContext) a = NULL;
  g_autoptr(MitogenContext) sibling = NULL;
  g_autoptr(MitogenContext) b = NULL;
  g_autoptr(MitogenContext) c = NULL;
  g_autofree char *side = NULL;
  g_autofree char *cousin = NULL;

  g_object_set (fixture->router, "unidirectional", TRUE, NULL);
  a = mitogen_test_local (fixture->router);
  sibling = mitogen_test_local (fixture->router);
  b = connect_via (fixture->router, a);
  c = connect_via (fixture->router, a);
  g_assert_true (mitogen_add_module ("testmod", g_getenv ("MITOGEN_TEST_MODULE"), &error));
  g_assert_no_error (error);

  /* The master refuses to pass a message between its children... */
  side = call_context_from (a, mitogen_context_get_id (sibling), "core.getpid");
  g_assert_nonnull (strstr (side, "unidirectional"));
  /* ...and a context that inherited the mode does the same below it. */
  cousin = call_context_from (b, mitogen_context_get_id (c), "core.getpid");
  g_assert_nonnull (strstr (cousin, "unidirectional"));
  /* Calls from the master still go everywhere. */
  g_assert_cmpint (call_getpid (c), ==, mitogen_test_context_pid (c));
}

/* A context without a transport's plugin fetches it from the master when
 * asked to start a context with it. "relay" (tests/plugins) is a plugin
 * in the master's plugin path only; "local" is built in everywhere. */
static void
test_plugin_travels (MitogenTestFixture *fixture,
                     gconstpointer       data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MitogenContext) a = NULL;
  g_autoptr(MitogenContext) b = NULL;
  GVariantDict dict;

  g_variant_dict_init (&dict, NULL);
  g_variant_dict_insert (&dict, "plugin_path", "s", "/nonexistent/mitogen-plugins");
  a = mitogen_router_connect_context (fixture->router, "local", g_variant_dict_end (&dict), NULL, NULL, &error);
  g_assert_no_error (error);
  b = mitogen_router_connect_context (fixture->router, "relay", NULL, a, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (call_getpid (b), ==, mitogen_test_context_pid (b));
  g_assert_cmpint (parent_pid_of (mitogen_test_context_pid (b)), ==, mitogen_test_context_pid (a));
}

static void
test_fan_out (MitogenTestFixture *fixture,
              gconstpointer       data)
{
  g_autoptr(GPtrArray) contexts = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GHashTable) pids = g_hash_table_new (NULL, NULL);
  gint64 start = g_get_monotonic_time ();

  for (int i = 0; i < 10; i++)
    {
      MitogenContext *top = mitogen_test_local (fixture->router);

      g_ptr_array_add (contexts, top);
      for (int j = 0; j < 9; j++)
        g_ptr_array_add (contexts, connect_via (fixture->router, top));
    }
  for (guint i = 0; i < contexts->len; i++)
    g_hash_table_add (pids, GINT_TO_POINTER (call_getpid (contexts->pdata[i])));

  g_test_message ("100 contexts (10 x 10 through via) ready in %.3f s",
                  (g_get_monotonic_time () - start) / 1e6);
  g_assert_cmpuint (g_hash_table_size (pids), ==, 100);
}

int
main (int    argc,
      char **argv)
{
  mitogen_test_init (&argc, &argv);

  g_test_add ("/via/chain", MitogenTestFixture, NULL,
              mitogen_test_fixture_setup, test_chain, mitogen_test_fixture_teardown);
  g_test_add ("/via/module-two-hops", MitogenTestFixture, NULL,
              mitogen_test_fixture_setup, test_module_two_hops, mitogen_test_fixture_teardown);
  g_test_add_func ("/via/module-wrong-arch", test_module_wrong_arch);
  g_test_add ("/via/intermediate-killed", MitogenTestFixture, NULL,
              mitogen_test_fixture_setup, test_intermediate_killed, mitogen_test_fixture_teardown);
  g_test_add ("/via/calls-go-down-only", MitogenTestFixture, NULL,
              mitogen_test_fixture_setup, test_calls_go_down_only, mitogen_test_fixture_teardown);
  g_test_add ("/via/unidirectional", MitogenTestFixture, NULL,
              mitogen_test_fixture_setup, test_unidirectional, mitogen_test_fixture_teardown);
  g_test_add ("/via/plugin-travels", MitogenTestFixture, NULL,
              mitogen_test_fixture_setup, test_plugin_travels, mitogen_test_fixture_teardown);
  g_test_add ("/via/fan-out", MitogenTestFixture, NULL,
              mitogen_test_fixture_setup, test_fan_out, mitogen_test_fixture_teardown);
  return g_test_run ();
}
