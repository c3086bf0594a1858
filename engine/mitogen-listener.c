/* mitogen-listener.c: a master that other processes of the same user
 * reach over a Unix socket.
 *
 * An accepted client becomes a direct child of the listening router with
 * an id of its own, and is told so in a bootstrap frame, the first frame
 * any context gets. From then on its stream is routed like any child's,
 * with the same source check and flow limit, and one difference: what it
 * sends carries the listening router's own authority, so it may call into
 * every context the listener started. That is safe only because the
 * kernel says who is at the other end: a client whose uid is neither this
 * process's effective uid nor root is closed at once.
 *
 * The listener also serves the functions registered in this process to
 * its clients (and only to them: nothing below it carries its authority),
 * each in a worker thread, since a function such as a connect may block.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <errno.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gio/gunixsocketaddress.h>

#include "mitogen-bootstrap-private.h"
#include "mitogen-broker-private.h"
#include "mitogen-call-private.h"
#include "mitogen-listener-private.h"
#include "mitogen-message-private.h"
#include "mitogen-router-impl-private.h"
#include "mitogen-router-private.h"

/**
 * MitogenListener:
 *
 * A Unix socket on which later programs of the same user reach a running
 * master, made by mitogen_router_listen() and reached with
 * mitogen_router_connect_server().
 *
 * Each accepted client is a new child context of the listening router;
 * the messages it sends carry the listener's authority, so it may call
 * functions in every context the listening router started, and the
 * functions registered in the listening process with
 * mitogen_register_function(). The socket is made mode 0600 in a
 * directory that must belong to this user and be closed to everyone else
 * (mode 0700); each connection's peer credentials (`SO_PEERCRED`) must
 * name this process's effective uid or root (who can act as any user
 * anyway), else it is closed and the refusal logged.
 */
struct _MitogenListener
{
  GObject        parent_instance;

  MitogenRouter *router;     /* owned; immutable */
  char          *path;       /* immutable: the socket's path */
  GSocket       *socket;     /* owned; NULL once closed; broker thread after listen */
  GSource       *source;     /* owned; the accept watch on the broker's context */
  dev_t          dev;        /* immutable: the socket file we made, so that */
  ino_t          ino;        /* close removes only that one */

  GMutex         lock;
  GHashTable    *clients;    /* lock; ids handed to clients (some may be gone) */
  guint          n_refused;  /* lock; connections refused by their credentials */
};

G_DEFINE_FINAL_TYPE (MitogenListener, mitogen_listener, G_TYPE_OBJECT)

static void
mitogen_listener_dispose (GObject *object)
{
  mitogen_listener_close (MITOGEN_LISTENER (object));
  G_OBJECT_CLASS (mitogen_listener_parent_class)->dispose (object);
}

static void
mitogen_listener_finalize (GObject *object)
{
  MitogenListener *self = MITOGEN_LISTENER (object);

  g_clear_object (&self->router);
  g_free (self->path);
  g_hash_table_unref (self->clients);
  g_mutex_clear (&self->lock);
  G_OBJECT_CLASS (mitogen_listener_parent_class)->finalize (object);
}

static void
mitogen_listener_class_init (MitogenListenerClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = mitogen_listener_dispose;
  object_class->finalize = mitogen_listener_finalize;
}

static void
mitogen_listener_init (MitogenListener *self)
{
  g_mutex_init (&self->lock);
  self->clients = g_hash_table_new (NULL, NULL);
}

/* ---- the directory and the peer ----------------------------------------- */

gboolean
_mitogen_listener_check_directory (const char  *dir,
                                   GError     **error)
{
  struct stat st;

  if (lstat (dir, &st) != 0)
    {
      int saved = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                   "socket directory %s: %s", dir, g_strerror (saved));
      return FALSE;
    }
  if (!S_ISDIR (st.st_mode))
    {
      g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_FAILED,
                   "socket directory %s is not a directory", dir);
      return FALSE;
    }
  if (st.st_uid != geteuid ())
    {
      g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_FAILED,
                   "socket directory %s belongs to uid %u, not to this user (%u)",
                   dir, (guint) st.st_uid, (guint) geteuid ());
      return FALSE;
    }
  if ((st.st_mode & 0077) != 0)
    {
      g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_FAILED,
                   "socket directory %s has mode %04o: others may reach it (0700 needed)",
                   dir, (guint) (st.st_mode & 07777));
      return FALSE;
    }
  return TRUE;
}

gboolean
_mitogen_listener_peer_is_trusted (GSocket  *socket,
                                   uid_t    *uid,
                                   GError  **error)
{
  g_autoptr(GCredentials) creds = g_socket_get_credentials (socket, error);
  uid_t peer;

  if (creds == NULL)
    return FALSE;
  peer = g_credentials_get_unix_user (creds, error);
  if (peer == (uid_t) -1)
    return FALSE;
  *uid = peer;
  if (peer != geteuid () && peer != 0)
    {
      g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_FAILED,
                   "the peer runs as uid %u, not as this user (%u) or root",
                   (guint) peer, (guint) geteuid ());
      return FALSE;
    }
  return TRUE;
}

/* ---- accepting clients --------------------------------------------------- */

static GBytes *
client_bootstrap_bytes (MitogenRouter *router,
                        guint32        id)
{
  g_autoptr(MitogenBootstrap) boot = _mitogen_bootstrap_new ();
  g_autoptr(GArray) lineage = _mitogen_route_table_dup_lineage (router->table);

  boot->context_id = id;
  boot->parent_id = router->context_id;
  g_array_append_vals (boot->ancestors, lineage->data, lineage->len);
  boot->transport = g_strdup ("unix");
  boot->serializer = g_strdup ("gvariant");
  boot->max_message_size = mitogen_router_get_max_message_size (router);
  boot->max_buffered = mitogen_router_get_max_buffered (router);
  g_object_get (router, "unidirectional", &boot->unidirectional, NULL);
  return _mitogen_bootstrap_encode (boot);
}

/* Makes the accepted @socket a child of the router, tells it its id, and
 * starts reading it. Broker thread. */
static gboolean
adopt_client (MitogenListener  *self,
              GSocket          *socket,
              uid_t             uid,
              GError          **error)
{
  MitogenRouter *router = self->router;
  g_autoptr(GSocketConnection) conn = g_socket_connection_factory_create_connection (socket);
  g_autoptr(MitogenSerializer) serializer = mitogen_serializer_lookup ("gvariant", error);
  g_autoptr(MitogenStream) stream = NULL;
  g_autoptr(MitogenMessage) boot = NULL;
  g_autoptr(GBytes) data = NULL;
  g_autofree char *name = NULL;
  guint32 id;

  if (serializer == NULL)
    return FALSE;
  id = _mitogen_route_table_next_id (router->table);
  _mitogen_route_table_grant (router->table, id, NULL, 0);
  name = g_strdup_printf ("unix#%u(uid %u)", id, (guint) uid);
  stream = _mitogen_stream_new_for_io_stream (mitogen_router_get_broker (router),
                                              G_IO_STREAM (conn), name, error);
  if (stream == NULL)
    return FALSE;
  _mitogen_stream_set_serializer (stream, serializer);
  _mitogen_stream_set_max_message_size (stream, mitogen_router_get_max_message_size (router));
  _mitogen_stream_set_remote_id (stream, id);

  /* The bootstrap goes first, before anything can be routed to it. */
  data = client_bootstrap_bytes (router, id);
  boot = _mitogen_message_new_raw (id, router->context_id, MITOGEN_HANDLE_BOOTSTRAP, data);
  if (!_mitogen_stream_send (stream, boot, error) ||
      !_mitogen_router_adopt_peer (router, stream, id, error))
    {
      _mitogen_stream_close (stream, NULL);
      return FALSE;
    }
  g_mutex_lock (&self->lock);
  g_hash_table_add (self->clients, GUINT_TO_POINTER (id));
  g_mutex_unlock (&self->lock);
  g_debug ("listener %s: client %s connected", self->path, name);
  _mitogen_stream_start (stream);
  return TRUE;
}

static void
accept_one (MitogenListener *self,
            GSocket         *client)
{
  g_autoptr(GError) error = NULL;
  uid_t uid = (uid_t) -1;

  if (!_mitogen_listener_peer_is_trusted (client, &uid, &error))
    {
      g_mutex_lock (&self->lock);
      self->n_refused++;
      g_mutex_unlock (&self->lock);
      g_warning ("listener %s: refused a connection: %s", self->path, error->message);
      g_socket_close (client, NULL);
      return;
    }
  if (!adopt_client (self, client, uid, &error))
    {
      /* A probe that only checks that we answer hangs up at once. */
      if (g_error_matches (error, MITOGEN_ERROR, MITOGEN_ERROR_STREAM))
        g_debug ("listener %s: a client left at once: %s", self->path, error->message);
      else
        g_warning ("listener %s: could not take a client: %s", self->path, error->message);
      g_socket_close (client, NULL);
    }
}

static gboolean
on_acceptable (GSocket      *socket,
               GIOCondition  condition,
               gpointer      data)
{
  MitogenListener *self = data;

  for (;;)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GSocket) client = g_socket_accept (socket, NULL, &error);

      if (client != NULL)
        {
          accept_one (self, client);
          continue;
        }
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
        g_warning ("listener %s: accept: %s", self->path, error->message);
      return G_SOURCE_CONTINUE;
    }
}

/* ---- serving calls to clients ------------------------------------------ */

static void
run_call_in_thread (GTask        *task,
                    gpointer      source_object,
                    gpointer      task_data,
                    GCancellable *cancellable)
{
  MitogenRouter *router = MITOGEN_ROUTER (source_object);

  _mitogen_call_run_message (router, task_data, "listener", NULL, NULL, NULL);
  g_task_return_boolean (task, TRUE);
}

/* Broker thread: a call for this process. Only a client of a listener
 * (or this process itself) carries our authority; anyone else is below us
 * and refused, as a master refuses every call from below. */
static void
on_call_function (MitogenMessage *msg,
                  gpointer        data)
{
  MitogenRouter *router = data;
  g_autoptr(GTask) task = NULL;

  if (mitogen_message_is_dead (msg))
    return;
  if (msg->auth_id != router->context_id)
    {
      g_autoptr(MitogenMessage) dead = NULL;

      g_warning ("refused a call from context %u: this context does not accept calls "
                 "from contexts below it", msg->auth_id);
      dead = _mitogen_message_make_dead_reply (msg, "refused by policy: calls go from a "
                                               "parent to its children only");
      if (dead != NULL)
        mitogen_router_route (router, dead, NULL);
      return;
    }
  task = g_task_new (router, NULL, NULL, NULL);
  g_task_set_task_data (task, mitogen_message_ref (msg), (GDestroyNotify) mitogen_message_unref);
  g_task_run_in_thread (task, run_call_in_thread);
}

/* ---- listening ------------------------------------------------------------ */

/* A socket file left by a listener that is gone is removed; one that
 * answers belongs to a live listener and is kept. */
static gboolean
clear_stale_socket (const char  *path,
                    GError     **error)
{
  g_autoptr(GSocketAddress) address = g_unix_socket_address_new (path);
  g_autoptr(GSocket) probe = NULL;
  struct stat st;

  if (lstat (path, &st) != 0)
    return TRUE;
  if (!S_ISSOCK (st.st_mode))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_EXISTS,
                   "%s exists and is not a socket", path);
      return FALSE;
    }
  probe = g_socket_new (G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_STREAM, 0, error);
  if (probe == NULL)
    return FALSE;
  if (g_socket_connect (probe, address, NULL, NULL))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE,
                   "a server already listens on %s", path);
      return FALSE;
    }
  if (unlink (path) != 0 && errno != ENOENT)
    {
      int saved = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                   "removing the stale socket %s: %s", path, g_strerror (saved));
      return FALSE;
    }
  return TRUE;
}

static GSocket *
bind_socket (const char  *path,
             struct stat *made,
             GError     **error)
{
  g_autoptr(GSocketAddress) address = g_unix_socket_address_new (path);
  g_autoptr(GSocket) socket = g_socket_new (G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_STREAM, 0, error);

  if (socket == NULL || !g_socket_bind (socket, address, FALSE, error))
    return NULL;
  /* The directory keeps others out while the mode is not yet 0600. */
  if (chmod (path, 0600) != 0 || lstat (path, made) != 0)
    {
      int saved = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                   "%s: %s", path, g_strerror (saved));
      unlink (path);
      return NULL;
    }
  g_socket_set_listen_backlog (socket, 64);
  if (!g_socket_listen (socket, error))
    {
      unlink (path);
      return NULL;
    }
  g_socket_set_blocking (socket, FALSE);
  return g_steal_pointer (&socket);
}

/**
 * mitogen_router_listen:
 * @router: the router of a master
 * @path: where to make the socket; its directory must exist, belong to
 *   this user and be closed to others (mode 0700)
 * @cancellable: (nullable): unused for now (listening does not block)
 * @error: return location for an error
 *
 * Listens on a Unix socket (mode 0600) for later programs of the same
 * user, which attach with mitogen_router_connect_server(). Each becomes a
 * child context of @router, may call functions in every context @router
 * started with @router's authority, and may call the functions registered
 * in this process. A connection from another uid (other than root) is
 * closed and logged. A stale socket file at @path is replaced; a live one
 * fails with %G_IO_ERROR_ADDRESS_IN_USE.
 *
 * Only a master listens: an agent's calls come from its parent.
 *
 * Returns: (transfer full): the listener; drop it or call
 *   mitogen_listener_close() to stop listening
 */
MitogenListener *
mitogen_router_listen (MitogenRouter  *router,
                       const char     *path,
                       GCancellable   *cancellable,
                       GError        **error)
{
  g_autoptr(MitogenListener) self = NULL;
  g_autofree char *dir = NULL;
  struct stat made;

  g_return_val_if_fail (MITOGEN_IS_ROUTER (router), NULL);
  g_return_val_if_fail (path != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (_mitogen_route_table_has_parent (router->table) || !mitogen_is_master ())
    {
      g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_FAILED,
                   "only a master's router may listen");
      return NULL;
    }
  if (g_cancellable_set_error_if_cancelled (cancellable, error))
    return NULL;
  dir = g_path_get_dirname (path);
  if (!_mitogen_listener_check_directory (dir, error) || !clear_stale_socket (path, error))
    return NULL;

  self = g_object_new (MITOGEN_TYPE_LISTENER, NULL);
  self->router = g_object_ref (router);
  self->path = g_strdup (path);
  self->socket = bind_socket (path, &made, error);
  if (self->socket == NULL)
    return NULL;
  self->dev = made.st_dev;
  self->ino = made.st_ino;

  mitogen_router_add_handler (router, MITOGEN_HANDLE_CALL_FUNCTION, NULL,
                              on_call_function, router, NULL);
  self->source = g_socket_create_source (self->socket, G_IO_IN, NULL);
  g_source_set_callback (self->source, G_SOURCE_FUNC (on_acceptable), self, NULL);
  g_source_attach (self->source, mitogen_broker_get_main_context (mitogen_router_get_broker (router)));
  return g_steal_pointer (&self);
}

/**
 * mitogen_listener_get_path:
 * @listener: a listener
 *
 * Gets the path the listener was made on.
 *
 * Returns: the socket's path
 */
const char *
mitogen_listener_get_path (MitogenListener *listener)
{
  g_return_val_if_fail (MITOGEN_IS_LISTENER (listener), NULL);
  return listener->path;
}

/**
 * mitogen_listener_list_clients:
 * @listener: a listener
 *
 * Lists the context ids of the clients connected now.
 *
 * Returns: (transfer full) (element-type guint32): their ids, in no order
 */
GArray *
mitogen_listener_list_clients (MitogenListener *listener)
{
  MitogenRouteTable *table;
  GArray *ids = g_array_new (FALSE, FALSE, sizeof (guint32));
  GHashTableIter iter;
  gpointer key;

  g_return_val_if_fail (MITOGEN_IS_LISTENER (listener), ids);
  table = listener->router->table;
  g_mutex_lock (&listener->lock);
  g_hash_table_iter_init (&iter, listener->clients);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    {
      guint32 id = GPOINTER_TO_UINT (key);
      gpointer stream = _mitogen_route_table_ref_child (table, id);

      /* The router forgets a client whose stream closed; so do we. */
      if (stream == NULL)
        g_hash_table_iter_remove (&iter);
      else
        g_array_append_val (ids, id);
      _mitogen_route_table_unref_stream (table, stream);
    }
  g_mutex_unlock (&listener->lock);
  return ids;
}

/**
 * mitogen_listener_get_n_clients:
 * @listener: a listener
 *
 * Counts the clients connected now; one whose stream closed is not.
 *
 * Returns: how many clients are connected now
 */
guint
mitogen_listener_get_n_clients (MitogenListener *listener)
{
  g_autoptr(GArray) ids = mitogen_listener_list_clients (listener);

  return ids->len;
}

/**
 * mitogen_listener_get_n_refused:
 * @listener: a listener
 *
 * Counts the connections closed at once because their peer credentials
 * named another user (neither this process's effective uid nor root).
 *
 * Returns: how many connections were refused so far
 */
guint
mitogen_listener_get_n_refused (MitogenListener *listener)
{
  guint n;

  g_return_val_if_fail (MITOGEN_IS_LISTENER (listener), 0);
  g_mutex_lock (&listener->lock);
  n = listener->n_refused;
  g_mutex_unlock (&listener->lock);
  return n;
}

static void
stop_on_broker (gpointer data)
{
  MitogenListener *self = data;

  g_source_destroy (self->source);
  g_clear_pointer (&self->source, g_source_unref);
  g_socket_close (self->socket, NULL);
  g_clear_object (&self->socket);
}

/**
 * mitogen_listener_close:
 * @listener: a listener
 *
 * Stops listening, removes the socket file (if it is still the one made
 * here) and closes the clients' streams. Calling it again does nothing.
 */
void
mitogen_listener_close (MitogenListener *listener)
{
  g_autoptr(GArray) ids = NULL;
  MitogenRouteTable *table;
  struct stat st;

  g_return_if_fail (MITOGEN_IS_LISTENER (listener));
  if (listener->socket == NULL)
    return;
  _mitogen_broker_run_and_wait (mitogen_router_get_broker (listener->router),
                                stop_on_broker, listener);
  if (lstat (listener->path, &st) == 0 && st.st_dev == listener->dev && st.st_ino == listener->ino)
    unlink (listener->path);

  table = listener->router->table;
  ids = mitogen_listener_list_clients (listener);
  for (guint i = 0; i < ids->len; i++)
    {
      MitogenStream *stream = _mitogen_route_table_ref_child (table, g_array_index (ids, guint32, i));

      if (stream != NULL)
        _mitogen_stream_close (stream, NULL);
      _mitogen_route_table_unref_stream (table, stream);
    }
}
