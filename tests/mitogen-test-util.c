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

static gboolean
signal_done (gpointer data)
{
  g_atomic_int_set ((gboolean *) data, TRUE);
  return G_SOURCE_REMOVE;
}

void
mitogen_test_sync_with_broker (MitogenBroker *broker)
{
  gboolean done = FALSE;
  gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;

  mitogen_broker_defer (broker, signal_done, &done, NULL);
  while (!g_atomic_int_get (&done) && g_get_monotonic_time () < deadline)
    g_usleep (1000);
  g_assert_true (g_atomic_int_get (&done));
}

void
mitogen_test_drain_default_context (void)
{
  while (g_main_context_iteration (NULL, FALSE))
    ;
}

gboolean
mitogen_test_iterate_until (gboolean *flag,
                            int       timeout_msec)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_msec * 1000;

  while (!g_atomic_int_get (flag) && g_get_monotonic_time () < deadline)
    if (!g_main_context_iteration (NULL, FALSE))
      g_usleep (1000);
  return g_atomic_int_get (flag);
}

gboolean
mitogen_test_wait_disconnected (MitogenContext *ctx,
                                int             timeout_msec)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_msec * 1000;

  while (mitogen_context_is_connected (ctx) && g_get_monotonic_time () < deadline)
    g_usleep (1000);
  return !mitogen_context_is_connected (ctx);
}

/* Disconnects every context this router started and waits until each is
 * gone; lets the broker finish and the "context-lost" emissions (which hold
 * the router) run; then a router still alive was leaked. */
void
mitogen_test_fixture_teardown (MitogenTestFixture *fixture,
                               gconstpointer       data)
{
  g_autoptr(GPtrArray) contexts = mitogen_router_list_contexts (fixture->router);

  mitogen_router_disconnect_all (fixture->router);
  for (guint i = 0; i < contexts->len; i++)
    if (mitogen_context_get_remote_info (contexts->pdata[i]) != NULL &&
        mitogen_context_get_via (contexts->pdata[i]) == NULL)
      g_assert_true (mitogen_test_wait_disconnected (contexts->pdata[i], 10000));
  g_clear_pointer (&contexts, g_ptr_array_unref);
  mitogen_test_sync_with_broker (fixture->broker);
  mitogen_test_drain_default_context ();

  g_object_add_weak_pointer (G_OBJECT (fixture->router), (gpointer *) &fixture->router);
  g_object_unref (fixture->router);
  for (gint64 deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;
       fixture->router != NULL && g_get_monotonic_time () < deadline;)
    if (!g_main_context_iteration (NULL, FALSE))
      g_usleep (1000);
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

static GMutex captured_lock;
static GPtrArray *captured;   /* captured_lock; char* messages */

static GLogWriterOutput
capture_writer (GLogLevelFlags   level,
                const GLogField *fields,
                gsize            n_fields,
                gpointer         user_data)
{
  const char *domain = NULL;
  const char *message = NULL;

  for (gsize i = 0; i < n_fields; i++)
    {
      if (g_str_equal (fields[i].key, "GLIB_DOMAIN"))
        domain = fields[i].value;
      else if (g_str_equal (fields[i].key, "MESSAGE"))
        message = fields[i].value;
    }
  if ((level & (G_LOG_LEVEL_WARNING | G_LOG_LEVEL_CRITICAL)) && domain != NULL &&
      g_str_has_prefix (domain, "mitogen") && message != NULL)
    {
      g_mutex_lock (&captured_lock);
      g_ptr_array_add (captured, g_strdup (message));
      g_mutex_unlock (&captured_lock);
      return G_LOG_WRITER_HANDLED;
    }
  return g_log_writer_default (level, fields, n_fields, user_data);
}

void
mitogen_test_capture_logs (void)
{
  static gsize done = 0;

  if (g_once_init_enter (&done))
    {
      captured = g_ptr_array_new_with_free_func (g_free);
      g_log_set_writer_func (capture_writer, NULL, NULL);
      g_once_init_leave (&done, 1);
    }
}

gboolean
mitogen_test_take_log (const char *pattern)
{
  gboolean found = FALSE;

  g_mutex_lock (&captured_lock);
  for (guint i = 0; captured != NULL && i < captured->len && !found; i++)
    if (g_pattern_match_simple (pattern, captured->pdata[i]))
      {
        g_ptr_array_remove_index (captured, i);
        found = TRUE;
      }
  g_mutex_unlock (&captured_lock);
  return found;
}

gboolean
mitogen_test_wait_log (const char *pattern,
                       int         timeout_msec)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_msec * 1000;

  while (!mitogen_test_take_log (pattern))
    {
      if (g_get_monotonic_time () > deadline)
        return FALSE;
      g_usleep (2000);
    }
  return TRUE;
}
