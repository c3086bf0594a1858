/* serve-helper.c: the other process of test-serve.c, a listener or a
 * client of one, so that the two ends are distinct processes.
 *
 *   serve-helper serve PATH      listen on PATH, serve test.keep, run until killed
 *   serve-helper keep PATH       attach, call test.keep, then core.getpid in the
 *                                context it names; print "ID PID"
 *
 * test.keep starts one local context on first use and hands the same one
 * to every later caller.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <stdio.h>

#include <mitogen/mitogen.h>

#include "serve-helper.h"

int
main (int    argc,
      char **argv)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MitogenBroker) broker = NULL;
  g_autoptr(MitogenRouter) router = NULL;

  if (argc != 3)
    {
      fprintf (stderr, "usage: serve-helper serve|keep PATH\n");
      return 2;
    }
  broker = mitogen_broker_new ();
  router = mitogen_router_new (broker);
  if (g_str_equal (argv[1], "serve"))
    {
      g_autoptr(MitogenListener) listener = NULL;
      g_autoptr(GMainLoop) loop = g_main_loop_new (NULL, FALSE);

      serve_helper_register_keep ();
      listener = mitogen_router_listen (router, argv[2], NULL, &error);
      if (listener == NULL)
        {
          fprintf (stderr, "serve-helper: %s\n", error->message);
          return 1;
        }
      g_main_loop_run (loop);
      return 0;
    }
  if (g_str_equal (argv[1], "keep"))
    {
      g_autoptr(MitogenContext) server = mitogen_router_connect_server (router, argv[2], NULL, &error);
      g_autoptr(GVariant) id = NULL;
      g_autoptr(GVariant) pid = NULL;
      g_autoptr(MitogenContext) kept = NULL;

      if (server != NULL)
        id = mitogen_context_call (server, "test.keep", NULL, NULL, &error);
      if (id != NULL)
        {
          kept = mitogen_router_context_by_id (router, g_variant_get_uint32 (id));
          pid = mitogen_context_call (kept, "core.getpid", NULL, NULL, &error);
        }
      if (pid == NULL)
        {
          fprintf (stderr, "serve-helper: %s\n", error->message);
          return 1;
        }
      printf ("%u %d\n", g_variant_get_uint32 (id), g_variant_get_int32 (pid));
      fflush (stdout);
      mitogen_broker_shutdown (broker);
      mitogen_broker_join (broker);
      return 0;
    }
  fprintf (stderr, "serve-helper: unknown mode %s\n", argv[1]);
  return 2;
}
