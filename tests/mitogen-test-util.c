/* mitogen-test-util.c: helpers shared by the C tests.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#include "mitogen-test-util.h"

void
mitogen_test_fixture_setup (MitogenTestFixture *fixture,
                            gconstpointer       data)
{
  fixture->broker = mitogen_broker_new ();
  fixture->router = mitogen_router_new (fixture->broker);
}

void
mitogen_test_fixture_teardown (MitogenTestFixture *fixture,
                               gconstpointer       data)
{
  mitogen_router_disconnect_all (fixture->router);
  g_object_add_weak_pointer (G_OBJECT (fixture->router), (gpointer *) &fixture->router);
  g_object_unref (fixture->router);
  /* A router still alive here was leaked by the test or the library. */
  g_assert_null (fixture->router);
  mitogen_broker_shutdown (fixture->broker);
  mitogen_broker_join (fixture->broker);
  g_clear_object (&fixture->broker);
}

MitogenContext *
mitogen_test_local (MitogenRouter *router)
{
  g_autoptr(GError) error = NULL;
  MitogenContext *ctx = mitogen_router_local (router, NULL, NULL, &error);

  g_assert_no_error (error);
  g_assert_nonnull (ctx);
  return ctx;
}

int
mitogen_test_context_pid (MitogenContext *context)
{
  GVariant *info = mitogen_context_get_remote_info (context);
  gint32 pid = 0;

  g_assert_nonnull (info);
  g_assert_true (g_variant_lookup (info, "pid", "i", &pid));
  return pid;
}

gboolean
mitogen_test_pid_alive (int pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/stat", pid);
  g_autofree char *contents = NULL;
  const char *close_paren;

  if (!g_file_get_contents (path, &contents, NULL, NULL))
    return FALSE;
  /* Field 3, after "pid (comm) ", is the state; Z is a zombie. */
  close_paren = strrchr (contents, ')');
  return close_paren == NULL || close_paren[2] != 'Z';
}

gboolean
mitogen_test_wait_pid_gone (int pid,
                            int timeout_msec)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_msec * 1000;

  while (mitogen_test_pid_alive (pid))
    {
      if (g_get_monotonic_time () > deadline)
        return FALSE;
      g_usleep (5000);
    }
  return TRUE;
}
