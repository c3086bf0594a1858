/* mitogen-listener-client.c: a fresh router attaching below a listening
 * master, its parent stream the Unix socket.
 *
 * The listener speaks first: a bootstrap frame, as a new agent gets,
 * tells the client its context id and its ancestors. The client then
 * routes as any context does, everything it does not know going up to
 * the listener; when the listener goes, every reply still awaited from
 * anywhere fails, since everything it reached was behind that stream.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <unistd.h>

#include <gio/gunixsocketaddress.h>

#include "mitogen-bootstrap-private.h"
#include "mitogen-control-private.h"
#include "mitogen-listener-private.h"
#include "mitogen-message-private.h"
#include "mitogen-router-impl-private.h"
#include "mitogen-router-private.h"

/* The bootstrap frame is small; a server sending more is not one. */
#define MAX_BOOTSTRAP_SIZE (64 * 1024)
/* How long a connected server may take to send it. */
#define BOOTSTRAP_TIMEOUT_SEC 30

static MitogenBootstrap *
read_bootstrap (GSocketConnection  *conn,
                GCancellable       *cancellable,
                GError            **error)
{
  GInputStream *in = g_io_stream_get_input_stream (G_IO_STREAM (conn));
  guint8 header[MITOGEN_HEADER_SIZE];
  MitogenFrameHeader hdr;
  g_autofree guint8 *data = NULL;
  g_autoptr(GBytes) bytes = NULL;
  gsize got = 0;

  if (!g_input_stream_read_all (in, header, sizeof header, &got, cancellable, error))
    return NULL;
  if (got != sizeof header)
    {
      g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_STREAM,
                   "the server closed the connection before it said who we are");
      return NULL;
    }
  if (!_mitogen_frame_header_decode (header, MAX_BOOTSTRAP_SIZE, &hdr, error))
    return NULL;
  if (hdr.handle != MITOGEN_HANDLE_BOOTSTRAP)
    {
      g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_PROTOCOL,
                   "the server's first frame is for handle %u, not the bootstrap", hdr.handle);
      return NULL;
    }
  data = g_malloc (MAX (hdr.length, 1));
  if (!g_input_stream_read_all (in, data, hdr.length, &got, cancellable, error))
    return NULL;
  if (got != hdr.length)
    {
      g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_STREAM,
                   "the server closed the connection in its first frame");
      return NULL;
    }
  bytes = g_bytes_new_take (g_steal_pointer (&data), hdr.length);
  return _mitogen_bootstrap_decode (bytes, error);
}

/* The server is gone: whatever was awaited through it will not come. */
static void
on_server_lost (MitogenRouter *router,
                const GError  *reason,
                gpointer       user_data)
{
  g_debug ("the server's stream closed: %s", reason != NULL ? reason->message : "cleanly");
  _mitogen_handler_table_fail_respondents (router->handlers, NULL, router->context_id);
}

/* DEL_ROUTE, as the control layer takes it from a direct child (which
 * this router may still have), and also from the server: a context it
 * kept was lost, so whoever waits here on it fails. Broker thread. */
static void
on_del_route (MitogenMessage *msg,
              gpointer        data)
{
  MitogenRouter *router = data;
  g_autoptr(GVariant) value = NULL;
  g_autoptr(GArray) ids = NULL;
  guint32 id;

  if (mitogen_message_is_dead (msg))
    return;
  value = mitogen_message_unpack (msg, NULL);
  if (value == NULL || !g_variant_is_of_type (value, G_VARIANT_TYPE ("(u)")))
    {
      g_warning ("context %u sent a malformed DEL_ROUTE; ignored", msg->src_id);
      return;
    }
  g_variant_get (value, "(u)", &id);
  ids = g_array_new (FALSE, FALSE, sizeof (guint32));
  g_array_append_val (ids, id);
  if (msg->src_id == _mitogen_route_table_get_parent_id (router->table))
    {
      /* Only of contexts beside us: nothing of ours is the server's to end. */
      MitogenStream *below = _mitogen_route_table_ref_route (router->table, id);
      gboolean ours = below != NULL && !_mitogen_route_table_is_parent (router->table, below);

      _mitogen_route_table_unref_stream (router->table, below);
      if (ours || id == router->context_id)
        g_warning ("refused DEL_ROUTE for context %u from the server: it is not beside us", id);
      else
        _mitogen_handler_table_fail_respondents (router->handlers, ids, router->context_id);
      return;
    }
  if (!_mitogen_route_table_withdraw (router->table, msg->src_id, id))
    {
      g_warning ("refused DEL_ROUTE for context %u from context %u: only a direct child "
                 "may withdraw contexts below it", id, msg->src_id);
      return;
    }
  _mitogen_control_announce_lost (router, router->table, id);
  _mitogen_router_routes_lost (router, ids);
}

static gboolean
router_is_fresh (MitogenRouter  *router,
                 GError        **error)
{
  g_autoptr(GPtrArray) contexts = mitogen_router_list_contexts (router);

  if (router->context_id != 0 || _mitogen_route_table_has_parent (router->table) ||
      contexts->len > 0)
    {
      g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_FAILED,
                   "only a fresh router (no parent, no contexts) attaches to a server");
      return FALSE;
    }
  return TRUE;
}

static GSocketConnection *
connect_socket (const char    *path,
                GCancellable  *cancellable,
                GError       **error)
{
  g_autoptr(GSocketAddress) address = g_unix_socket_address_new (path);
  g_autoptr(GSocketClient) client = g_socket_client_new ();
  g_autoptr(GSocketConnection) conn = NULL;
  g_autofree char *dir = g_path_get_dirname (path);
  uid_t uid;

  /* Someone else's directory could hold someone else's server. */
  if (!_mitogen_listener_check_directory (dir, error))
    return NULL;
  conn = g_socket_client_connect (client, G_SOCKET_CONNECTABLE (address), cancellable, error);
  if (conn == NULL)
    return NULL;
  if (!_mitogen_listener_peer_is_trusted (g_socket_connection_get_socket (conn), &uid, error))
    {
      g_prefix_error (error, "%s: ", path);
      return NULL;
    }
  return g_steal_pointer (&conn);
}

/**
 * mitogen_router_connect_server:
 * @router: a fresh router: no parent, no context started yet
 * @path: the socket of a listener (mitogen_router_listen())
 * @cancellable: (nullable): cancels the attach
 * @error: return location for an error
 *
 * Attaches @router below a listening master of the same user: the
 * listener gives it a context id of its own, and from then on @router
 * reaches, through the socket, every context the listener started, with
 * the listener's authority (mitogen_router_context_by_id() on their ids,
 * which the listener's own functions may hand out). The socket's
 * directory must belong to this user with mode 0700, and the listening
 * process must run as this user or root.
 *
 * When the listener goes away, every reply still awaited fails as from a
 * lost context.
 *
 * Returns: (transfer full): the listening master's context, for calls to
 *   the functions registered there
 */
MitogenContext *
mitogen_router_connect_server (MitogenRouter  *router,
                               const char     *path,
                               GCancellable   *cancellable,
                               GError        **error)
{
  g_autoptr(GSocketConnection) conn = NULL;
  g_autoptr(MitogenBootstrap) boot = NULL;
  g_autoptr(MitogenSerializer) serializer = NULL;
  g_autoptr(MitogenStream) stream = NULL;
  GSocket *socket;

  g_return_val_if_fail (MITOGEN_IS_ROUTER (router), NULL);
  g_return_val_if_fail (path != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!router_is_fresh (router, error))
    return NULL;
  conn = connect_socket (path, cancellable, error);
  if (conn == NULL)
    return NULL;
  socket = g_socket_connection_get_socket (conn);
  g_socket_set_timeout (socket, BOOTSTRAP_TIMEOUT_SEC);
  boot = read_bootstrap (conn, cancellable, error);
  if (boot == NULL)
    {
      g_prefix_error (error, "%s: ", path);
      return NULL;
    }
  g_socket_set_timeout (socket, 0);
  serializer = mitogen_serializer_lookup (boot->serializer, error);
  if (serializer == NULL)
    return NULL;
  stream = _mitogen_stream_new_for_io_stream (mitogen_router_get_broker (router),
                                              G_IO_STREAM (conn), "server", error);
  if (stream == NULL)
    return NULL;
  _mitogen_stream_set_serializer (stream, serializer);
  _mitogen_stream_set_remote_id (stream, boot->parent_id);
  if (boot->max_message_size > 0 && boot->max_message_size <= G_MAXUINT32)
    {
      _mitogen_stream_set_max_message_size (stream, boot->max_message_size);
      mitogen_router_set_max_message_size (router, boot->max_message_size);
    }

  /* Who we are, before anything is routed; not _mitogen_router_set_identity(),
   * which would make this whole process an agent. */
  router->context_id = boot->context_id;
  _mitogen_route_table_set_identity (router->table, boot->context_id, boot->parent_id,
                                     boot->ancestors);
  mitogen_router_add_handler (router, MITOGEN_HANDLE_DEL_ROUTE, NULL, on_del_route, router, NULL);
  _mitogen_router_attach_parent (router, stream, on_server_lost, NULL);
  return mitogen_router_context_by_id (router, boot->parent_id);
}

static void
connect_server_in_thread (GTask        *task,
                          gpointer      source_object,
                          gpointer      task_data,
                          GCancellable *cancellable)
{
  GError *error = NULL;
  MitogenContext *server = mitogen_router_connect_server (source_object, task_data,
                                                          cancellable, &error);

  if (server == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, server, g_object_unref);
}

/**
 * mitogen_router_connect_server_async:
 * @router: a fresh router
 * @path: the socket of a listener
 * @cancellable: (nullable): cancels the attach
 * @callback: (scope async): called when attached or failed
 * @user_data: data for @callback
 *
 * Starts mitogen_router_connect_server() in a worker thread.
 */
void
mitogen_router_connect_server_async (MitogenRouter       *router,
                                     const char          *path,
                                     GCancellable        *cancellable,
                                     GAsyncReadyCallback  callback,
                                     gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;

  g_return_if_fail (MITOGEN_IS_ROUTER (router));
  g_return_if_fail (path != NULL);

  task = g_task_new (router, cancellable, callback, user_data);
  g_task_set_source_tag (task, mitogen_router_connect_server_async);
  g_task_set_task_data (task, g_strdup (path), g_free);
  g_task_run_in_thread (task, connect_server_in_thread);
}

/**
 * mitogen_router_connect_server_finish:
 * @router: the router given to mitogen_router_connect_server_async()
 * @result: the result given to the callback
 * @error: return location for an error
 *
 * Finishes mitogen_router_connect_server_async().
 *
 * Returns: (transfer full): the listening master's context
 */
MitogenContext *
mitogen_router_connect_server_finish (MitogenRouter  *router,
                                      GAsyncResult   *result,
                                      GError        **error)
{
  g_return_val_if_fail (g_task_is_valid (result, router), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}
