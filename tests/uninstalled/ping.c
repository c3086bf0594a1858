/* ping.c: a program built outside the project against the build tree, with
 * only `pkg-config mitogen-1.0`: starts a local context, pings it, and
 * prints the path of the agent program that answered.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <stdio.h>
#include <mitogen/mitogen.h>

int
main (void)
{
  g_autoptr(MitogenBroker) broker = mitogen_broker_new ();
  g_autoptr(MitogenRouter) router = mitogen_router_new (broker);
  g_autoptr(MitogenContext) ctx = NULL;
  g_autoptr(GVariant) pong = NULL;
  g_autoptr(GVariant) pid = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *exe_link = NULL;
  g_autofree char *exe = NULL;

  ctx = mitogen_router_connect_context (router, "local", NULL, NULL, NULL, &error);
  if (ctx == NULL)
    {
      fprintf (stderr, "ping: connect: %s\n", error->message);
      return 1;
    }
  pong = mitogen_context_call (ctx, "core.ping", NULL, NULL, &error);
  if (pong == NULL || !g_variant_is_of_type (pong, G_VARIANT_TYPE_UNIT))
    {
      fprintf (stderr, "ping: core.ping: %s\n", error ? error->message : "not ()");
      return 1;
    }
  pid = mitogen_context_call (ctx, "core.getpid", NULL, NULL, &error);
  if (pid == NULL)
    {
      fprintf (stderr, "ping: core.getpid: %s\n", error->message);
      return 1;
    }
  exe_link = g_strdup_printf ("/proc/%d/exe", g_variant_get_int32 (pid));
  exe = g_file_read_link (exe_link, NULL);
  printf ("%s\n", exe ? exe : "?");
  mitogen_context_shutdown (ctx, 30000, NULL, NULL);
  mitogen_broker_shutdown (broker);
  return 0;
}
