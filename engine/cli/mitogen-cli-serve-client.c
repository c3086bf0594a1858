/* mitogen-cli-serve-client.c: how `mitogen run`, `call` and `serve
 * --status/--stop` reach a running `mitogen serve` (mitogen-cli-serve.c):
 * where its socket lives, attaching to it, and asking it for a target's
 * kept context, blocking (a single target) or not (a fan-out).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mitogen-cli.h"
#include "mitogen-cli-target.h"

static gboolean opt_no_serve;

const GOptionEntry cli_serve_entries[] = {
  { "no-serve", 0, 0, G_OPTION_ARG_NONE, &opt_no_serve,
    "Start a context of this command's own even when `mitogen serve` runs", NULL },
  G_OPTION_ENTRY_NULL
};

/* ---- where the socket lives -------------------------------------------- */

static char *
socket_dir (void)
{
  const char *runtime = g_getenv ("XDG_RUNTIME_DIR");

  if (runtime != NULL && g_path_is_absolute (runtime) && g_file_test (runtime, G_FILE_TEST_IS_DIR))
    return g_build_filename (runtime, "mitogen", NULL);
  return g_strdup_printf ("/tmp/mitogen-%u", (guint) geteuid ());
}

/* The socket's directory, made (mode 0700) if missing; its checks are
 * the listener's and the client's own. */
char *
cli_serve_socket_path (gboolean create)
{
  g_autofree char *dir = socket_dir ();

  if (create && mkdir (dir, 0700) != 0 && errno != EEXIST)
    fail ("cannot make %s: %s", dir, g_strerror (errno));
  return g_build_filename (dir, "serve.sock", NULL);
}

/* ---- the client side ------------------------------------------------------ */

static gboolean
server_absent (const GError *error)
{
  return g_error_matches (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND) ||
         g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED);
}

/* The client side may be used from several threads (a fan-out): one
 * attachment per router, made once. */
static GMutex client_lock;
static MitogenRouter *attached_router;   /* client_lock; weak, as a key only */
static MitogenContext *attached_server;  /* client_lock; owned */
static GHashTable *kept_here;            /* client_lock; contexts the server keeps */

/* Records @server_ctx as @client's attachment. Under client_lock. */
static void
remember_attachment (MitogenRouter  *client,
                     MitogenContext *server_ctx)
{
  g_clear_object (&attached_server);
  attached_router = client;
  attached_server = g_object_ref (server_ctx);
}

MitogenContext *
cli_serve_attach (MitogenRouter  *client,
        GError        **error)
{
  g_autofree char *path = cli_serve_socket_path (FALSE);
  g_autoptr(GError) local_error = NULL;
  g_autoptr(GMutexLocker) locker = g_mutex_locker_new (&client_lock);
  MitogenContext *server_ctx;

  if (attached_router == client && attached_server != NULL)
    return g_object_ref (attached_server);
  server_ctx = mitogen_router_connect_server (client, path, interrupted, &local_error);
  if (server_ctx == NULL && !server_absent (local_error))
    g_propagate_error (error, g_steal_pointer (&local_error));
  if (server_ctx != NULL)
    remember_attachment (client, server_ctx);
  return server_ctx;
}

static void
attached (GObject      *source,
          GAsyncResult *result,
          gpointer      data)
{
  g_autoptr(GTask) task = data;
  g_autoptr(GError) error = NULL;
  MitogenRouter *client = MITOGEN_ROUTER (source);
  MitogenContext *server_ctx = mitogen_router_connect_server_finish (client, result, &error);

  if (server_ctx == NULL)
    {
      /* Said here, as cli_serve_connect() says it: the run goes on without. */
      if (!server_absent (error) && !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        fprintf (stderr, "mitogen: not using mitogen serve: %s\n", error->message);
      g_task_return_pointer (task, NULL, NULL);
      return;
    }
  g_mutex_lock (&client_lock);
  remember_attachment (client, server_ctx);
  g_mutex_unlock (&client_lock);
  g_task_return_pointer (task, server_ctx, g_object_unref);
}

void
cli_serve_attach_async (MitogenRouter       *client,
                        GCancellable        *cancellable,
                        GAsyncReadyCallback  callback,
                        gpointer             user_data)
{
  g_autofree char *path = cli_serve_socket_path (FALSE);
  GTask *task = g_task_new (client, cancellable, callback, user_data);

  if (opt_no_serve)
    {
      g_task_return_pointer (task, NULL, NULL);
      g_object_unref (task);
      return;
    }
  mitogen_router_connect_server_async (client, path, cancellable, attached, task);
}

MitogenContext *
cli_serve_attach_finish (MitogenRouter *client,
                         GAsyncResult  *result)
{
  return g_task_propagate_pointer (G_TASK (result), NULL);
}

static gboolean
hops_hold_secrets (GArray *hops)
{
  for (guint i = 0; i < hops->len; i++)
    {
      GVariant *options = g_array_index (hops, CliHop, i).options;
      g_autoptr(GVariant) password = NULL;

      if (options != NULL)
        password = g_variant_lookup_value (options, "password", NULL);
      if (password != NULL)
        return TRUE;
    }
  return FALSE;
}

static void
add_hops (GVariantBuilder *list,
          GArray          *hops)
{
  for (guint i = 0; hops != NULL && i < hops->len; i++)
    {
      CliHop *hop = &g_array_index (hops, CliHop, i);

      g_variant_builder_add (list, "(s@a{sv})", hop->transport,
                             hop->options != NULL ? hop->options : g_variant_new ("a{sv}", NULL));
    }
}

/* serve.connect's arguments: @target, and the hops of @first then of
 * @then (NULL, or a host's own after its gateway's). */
static GVariant *
connect_args (const char *target,
              GArray     *first,
              GArray     *then)
{
  GVariantBuilder list;

  g_variant_builder_init (&list, G_VARIANT_TYPE ("a(sa{sv})"));
  add_hops (&list, first);
  add_hops (&list, then);
  return g_variant_new ("(sa(sa{sv}))", target, &list);
}

/* The kept context that serve.connect's @reply names, remembered as not
 * ours to shut down (see cli_serve_is_kept()). */
static MitogenContext *
kept_from_reply (MitogenRouter *client,
                 GVariant      *reply)
{
  MitogenContext *kept;
  const char *name;
  guint32 id;

  g_variant_get (reply, "(u&s)", &id, &name);
  g_debug ("kept context %s (%u) from the server", name, id);
  kept = mitogen_router_context_by_id (client, id);
  g_mutex_lock (&client_lock);
  if (kept_here == NULL)
    kept_here = g_hash_table_new_full (NULL, NULL, g_object_unref, NULL);
  g_hash_table_add (kept_here, g_object_ref (kept));
  g_mutex_unlock (&client_lock);
  return kept;
}

MitogenContext *
cli_serve_connect (MitogenRouter  *client,
                   const char     *target,
                   GArray         *hops,
                   GError        **error)
{
  g_autoptr(GError) attach_error = NULL;
  g_autoptr(MitogenContext) server_ctx = cli_serve_attach (client, &attach_error);
  g_autoptr(GVariant) reply = NULL;

  /* A server we may not trust (a directory or socket of someone else's)
   * is worth a word, not the command: it goes without the server. */
  if (server_ctx == NULL)
    {
      if (attach_error != NULL)
        fprintf (stderr, "mitogen: not using mitogen serve: %s\n", attach_error->message);
      return NULL;
    }
  reply = mitogen_context_call (server_ctx, "serve.connect", connect_args (target, hops, NULL),
                                interrupted, error);
  if (reply == NULL)
    return NULL;
  return kept_from_reply (client, reply);
}

static void
served (GObject      *source,
        GAsyncResult *result,
        gpointer      data)
{
  g_autoptr(GTask) task = data;
  g_autoptr(MitogenRouter) client = mitogen_context_dup_router (MITOGEN_CONTEXT (source));
  GError *error = NULL;
  g_autoptr(GVariant) reply = mitogen_context_call_finish (MITOGEN_CONTEXT (source), result, &error);

  if (reply == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, kept_from_reply (client, reply), g_object_unref);
}

void
cli_serve_connect_async (MitogenContext      *server_ctx,
                         const char          *target,
                         GArray              *via_hops,
                         GArray              *hops,
                         GCancellable        *cancellable,
                         GAsyncReadyCallback  callback,
                         gpointer             user_data)
{
  GTask *task = g_task_new (server_ctx, cancellable, callback, user_data);

  mitogen_context_call_async (server_ctx, "serve.connect", connect_args (target, via_hops, hops),
                              cancellable, served, task);
}

MitogenContext *
cli_serve_connect_finish (MitogenContext  *server_ctx,
                          GAsyncResult    *result,
                          GError         **error)
{
  return g_task_propagate_pointer (G_TASK (result), error);
}

gboolean
cli_serve_may_carry (GArray *hops)
{
  return !opt_no_serve && !hops_hold_secrets (hops);
}

gboolean
cli_serve_is_kept (MitogenContext *context)
{
  g_autoptr(GMutexLocker) locker = g_mutex_locker_new (&client_lock);

  return kept_here != NULL && g_hash_table_contains (kept_here, context);
}

MitogenContext *
cli_connect_target (MitogenRouter *router,
                    const char    *target,
                    GArray        *hops)
{
  g_autoptr(GError) error = NULL;
  MitogenContext *ctx;

  if (target == NULL || opt_no_serve || hops_hold_secrets (hops))
    return connect_chain (router, hops);
  ctx = cli_serve_connect (router, target, hops, &error);
  if (ctx != NULL)
    return ctx;
  if (error != NULL)
    {
      if (interrupted_status () < 0)
        report (error);
      return NULL;
    }
  return connect_chain (router, hops);
}
