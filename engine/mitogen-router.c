/* mitogen-router.c: delivers messages to the handlers of this context and
 * forwards them along the streams to its parent and children.
 *
 * The layers, bottom up: the routing table (mitogen-route-table.c) says
 * which stream leads where and which claims are plausible; this file
 * moves messages and keeps the handler and context tables; the control
 * messages on reserved handles (mitogen-control.c) keep the tables of the
 * tree in step; connecting (mitogen-connect.c) starts new contexts.
 *
 * Locks: the router's @lock guards its pending table; the routing,
 * handler and context tables have a lock each. No two are ever held at
 * once, and none while calling out (handlers, streams, signals).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <signal.h>

#include "mitogen-broker-private.h"
#include "mitogen-context-private.h"
#include "mitogen-context-table-private.h"
#include "mitogen-control-private.h"
#include "mitogen-handler-table-private.h"
#include "mitogen-message-private.h"
#include "mitogen-router-impl-private.h"
#include "mitogen-router-private.h"

/**
 * MitogenRouter:
 *
 * The router of a process: it owns the streams to the contexts it started
 * (and, in an agent, to its parent), delivers each message to the handler
 * registered for its handle or forwards it towards its destination, and
 * starts new contexts with mitogen_router_connect_context() (Mitogen's
 * `Router.connect()`).
 *
 * Messages that cannot be delivered come back to their `reply_to` handle as
 * dead messages carrying the reason, so a waiting caller learns at once.
 *
 * Signals are emitted in the thread-default main context of the thread
 * that created the router.
 */


enum {
  PROP_0,
  PROP_BROKER,
  PROP_CONTEXT_ID,
  PROP_MAX_MESSAGE_SIZE,
  PROP_MAX_BUFFERED,
  PROP_UNIDIRECTIONAL,
  N_PROPS
};

enum {
  SIGNAL_CONTEXT_ADDED,
  SIGNAL_CONTEXT_LOST,
  N_SIGNALS
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE (MitogenRouter, mitogen_router, G_TYPE_OBJECT)


/* ---- life ------------------------------------------------------------- */

/* Closes every stream, running the usual close path (so pending calls
 * fail and contexts are lost) unless @detach, and the parent's too when
 * @with_parent. Broker thread, or anywhere once the broker stopped. */
static void
router_close_streams (MitogenRouter *router,
                      gboolean       with_parent,
                      gboolean       detach,
                      const GError  *reason)
{
  g_autoptr(GPtrArray) streams = _mitogen_route_table_ref_streams (router->table, with_parent);

  g_ptr_array_set_free_func (streams, (GDestroyNotify) _mitogen_stream_unref);
  if (detach)
    {
      g_mutex_lock (&router->lock);
      g_hash_table_remove_all (router->pending);
      g_mutex_unlock (&router->lock);
    }
  for (guint i = 0; i < streams->len; i++)
    if (detach)
      _mitogen_stream_detach_and_close (streams->pdata[i]);
    else
      _mitogen_stream_close (streams->pdata[i], reason);
}

static void
router_detach_streams (gpointer data)
{
  router_close_streams (data, TRUE, TRUE, NULL);
}

/* The broker is stopping: every context goes, and whoever waits on one
 * hears so now rather than never. Broker thread. */
static void
router_on_broker_shutdown (gpointer data)
{
  g_autoptr(GError) reason = g_error_new_literal (MITOGEN_ERROR, MITOGEN_ERROR_STREAM,
                                                  "the broker was shut down");

  router_close_streams (data, TRUE, FALSE, reason);
}

static void
mitogen_router_dispose (GObject *object)
{
  MitogenRouter *self = MITOGEN_ROUTER (object);

  _mitogen_broker_remove_shutdown_hook (self->broker, self);
  /* Streams call back into the router on the broker thread: close them
   * there and wait, so that no callback can reach a finalized router. */
  _mitogen_broker_run_and_wait (self->broker, router_detach_streams, self);

  G_OBJECT_CLASS (mitogen_router_parent_class)->dispose (object);
}

static void
mitogen_router_finalize (GObject *object)
{
  MitogenRouter *self = MITOGEN_ROUTER (object);

  _mitogen_handler_table_free (self->handlers);
  _mitogen_context_table_free (self->contexts);
  g_hash_table_unref (self->pending);
  g_hash_table_unref (self->peers);
  _mitogen_route_table_free (self->table);
  g_free (self->agent_path);
  g_main_context_unref (self->owner_context);
  g_clear_object (&self->broker);
  g_mutex_clear (&self->lock);

  G_OBJECT_CLASS (mitogen_router_parent_class)->finalize (object);
}

static void
mitogen_router_get_property (GObject    *object,
                             guint       prop_id,
                             GValue     *value,
                             GParamSpec *pspec)
{
  MitogenRouter *self = MITOGEN_ROUTER (object);

  switch (prop_id)
    {
    case PROP_BROKER:
      g_value_set_object (value, self->broker);
      break;
    case PROP_CONTEXT_ID:
      g_value_set_uint (value, self->context_id);
      break;
    case PROP_MAX_MESSAGE_SIZE:
      g_value_set_uint64 (value, mitogen_router_get_max_message_size (self));
      break;
    case PROP_MAX_BUFFERED:
      g_value_set_uint64 (value, mitogen_router_get_max_buffered (self));
      break;
    case PROP_UNIDIRECTIONAL:
      g_value_set_boolean (value, g_atomic_int_get (&self->unidirectional));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
mitogen_router_set_property (GObject      *object,
                             guint         prop_id,
                             const GValue *value,
                             GParamSpec   *pspec)
{
  MitogenRouter *self = MITOGEN_ROUTER (object);

  switch (prop_id)
    {
    case PROP_BROKER:
      self->broker = g_value_dup_object (value);
      break;
    case PROP_MAX_MESSAGE_SIZE:
      mitogen_router_set_max_message_size (self, g_value_get_uint64 (value));
      break;
    case PROP_MAX_BUFFERED:
      mitogen_router_set_max_buffered (self, g_value_get_uint64 (value));
      break;
    case PROP_UNIDIRECTIONAL:
      g_atomic_int_set (&self->unidirectional, g_value_get_boolean (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
mitogen_router_constructed (GObject *object)
{
  MitogenRouter *self = MITOGEN_ROUTER (object);

  G_OBJECT_CLASS (mitogen_router_parent_class)->constructed (object);

  if (self->broker == NULL)
    self->broker = mitogen_broker_new ();
  _mitogen_broker_add_shutdown_hook (self->broker, self, router_on_broker_shutdown);
  _mitogen_control_install (self, self->table, _mitogen_router_routes_lost);
}

static void
mitogen_router_class_init (MitogenRouterClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = mitogen_router_dispose;
  object_class->finalize = mitogen_router_finalize;
  object_class->get_property = mitogen_router_get_property;
  object_class->set_property = mitogen_router_set_property;
  object_class->constructed = mitogen_router_constructed;

  /* A write to a peer that went away must fail with EPIPE, not kill the
   * process; GSocket does the same. */
  signal (SIGPIPE, SIG_IGN);

  /**
   * MitogenRouter:broker:
   *
   * The broker whose thread drives this router's streams.
   */
  properties[PROP_BROKER] =
    g_param_spec_object ("broker", NULL, NULL, MITOGEN_TYPE_BROKER,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);

  /**
   * MitogenRouter:context-id:
   *
   * The id of the context this router belongs to; 0 in the master.
   */
  properties[PROP_CONTEXT_ID] =
    g_param_spec_uint ("context-id", NULL, NULL, 0, G_MAXUINT32, 0,
                       G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);

  /**
   * MitogenRouter:max-message-size:
   *
   * The largest frame data accepted or sent, in bytes. Contexts started
   * later inherit it.
   */
  properties[PROP_MAX_MESSAGE_SIZE] =
    g_param_spec_uint64 ("max-message-size", NULL, NULL, 1, G_MAXUINT32,
                         MITOGEN_DEFAULT_MAX_MESSAGE_SIZE,
                         G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);

  /**
   * MitogenRouter:max-buffered:
   *
   * The memory a stream's unread messages may hold before the router stops
   * reading it, in bytes; 0 for no limit.
   *
   * Each message read counts its size plus a fixed overhead until it is
   * taken from its receiver (or, when it only passes through towards
   * another context, until it is written there). When the next frame would
   * not fit, the stream is not read any further: its peer's writes block
   * once the kernel's buffers are full, so a context that floods its parent
   * slows down instead of growing the parent's memory, and the pause
   * travels back hop by hop. Reading resumes when the messages are taken.
   * Frames are never dropped, and one larger than the limit is read alone.
   *
   * A pause holds back everything on that stream, the replies to other
   * calls included: a program that leaves more than this unread on one
   * context while it waits for something else from that context waits
   * forever. Read what arrives, or raise the limit.
   *
   * Applies to the streams of contexts started from now on, and contexts
   * started later inherit it for their own children. Calls sent to a
   * context do not count there: they come from its parents, which it
   * trusts.
   */
  properties[PROP_MAX_BUFFERED] =
    g_param_spec_uint64 ("max-buffered", NULL, NULL, 0, G_MAXUINT64,
                         MITOGEN_DEFAULT_MAX_BUFFERED,
                         G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);

  /**
   * MitogenRouter:unidirectional:
   *
   * When %TRUE, contexts below this one may not send each other anything:
   * a message from one child's side to another's is refused with a dead
   * message. Contexts started later inherit it.
   */
  properties[PROP_UNIDIRECTIONAL] =
    g_param_spec_boolean ("unidirectional", NULL, NULL, FALSE,
                          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);

  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * MitogenRouter::context-added:
   * @router: the router
   * @context: the new context
   *
   * A context finished starting, before the call that started it returns.
   * Emitted in the thread-default main context of the thread that created
   * the router: at once when that is the calling thread's, else from that
   * main context's loop.
   */
  signals[SIGNAL_CONTEXT_ADDED] =
    g_signal_new ("context-added", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1, MITOGEN_TYPE_CONTEXT);

  /**
   * MitogenRouter::context-lost:
   * @router: the router
   * @context: the context that went away
   *
   * A context's stream closed or its route was withdrawn. Pending calls to
   * it have already failed and it has left the router's table. Emitted in
   * the thread-default main context of the thread that created the router.
   */
  signals[SIGNAL_CONTEXT_LOST] =
    g_signal_new ("context-lost", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1, MITOGEN_TYPE_CONTEXT);
}

static void
mitogen_router_init (MitogenRouter *self)
{
  g_mutex_init (&self->lock);
  self->owner_context = g_main_context_ref_thread_default ();
  self->table = _mitogen_route_table_new ((MitogenRefFunc) _mitogen_stream_ref,
                                          (GDestroyNotify) _mitogen_stream_unref);
  self->next_handle = MITOGEN_FIRST_USER_HANDLE;
  self->max_message_size = MITOGEN_DEFAULT_MAX_MESSAGE_SIZE;
  self->max_buffered = MITOGEN_DEFAULT_MAX_BUFFERED;
  self->handlers = _mitogen_handler_table_new ();
  self->contexts = _mitogen_context_table_new ();
  self->pending = g_hash_table_new (NULL, NULL);
  self->peers = g_hash_table_new (NULL, NULL);
}

/**
 * mitogen_router_new:
 * @broker: (nullable): the broker to run on; %NULL starts a new one
 *
 * Creates a router. In a master program this is the root of every context
 * it starts. Its signals are emitted in the calling thread's thread-default
 * main context.
 *
 * Returns: (transfer full): a new router
 */
MitogenRouter *
mitogen_router_new (MitogenBroker *broker)
{
  g_return_val_if_fail (broker == NULL || MITOGEN_IS_BROKER (broker), NULL);

  return g_object_new (MITOGEN_TYPE_ROUTER, "broker", broker, NULL);
}

/**
 * mitogen_router_get_broker:
 * @router: a router
 *
 * Gets the broker whose thread drives this router's streams.
 *
 * Returns: (transfer none): the router's broker
 */
MitogenBroker *
mitogen_router_get_broker (MitogenRouter *router)
{
  g_return_val_if_fail (MITOGEN_IS_ROUTER (router), NULL);
  return router->broker;
}

/**
 * mitogen_router_get_context_id:
 * @router: a router
 *
 * Gets the id of the context this router belongs to.
 *
 * Returns: the id of this router's own context (0 in the master)
 */
guint32
mitogen_router_get_context_id (MitogenRouter *router)
{
  g_return_val_if_fail (MITOGEN_IS_ROUTER (router), 0);
  return router->context_id;
}

/**
 * mitogen_router_get_max_message_size:
 * @router: a router
 *
 * Gets the largest frame data this router accepts or sends.
 *
 * Returns: the limit on a frame's data, in bytes
 */
gsize
mitogen_router_get_max_message_size (MitogenRouter *router)
{
  gsize size;

  g_return_val_if_fail (MITOGEN_IS_ROUTER (router), 0);
  g_mutex_lock (&router->lock);
  size = router->max_message_size;
  g_mutex_unlock (&router->lock);
  return size;
}

/**
 * mitogen_router_set_max_message_size:
 * @router: a router
 * @size: the new limit in bytes
 *
 * Sets the limit on a frame's data for the streams of contexts started from
 * now on, both ways: a larger message is refused with a dead message to its
 * sender. Contexts started later inherit the limit.
 */
void
mitogen_router_set_max_message_size (MitogenRouter *router,
                                     gsize          size)
{
  g_return_if_fail (MITOGEN_IS_ROUTER (router));
  g_return_if_fail (size > 0 && size <= G_MAXUINT32);

  g_mutex_lock (&router->lock);
  router->max_message_size = size;
  g_mutex_unlock (&router->lock);
  g_object_notify_by_pspec (G_OBJECT (router), properties[PROP_MAX_MESSAGE_SIZE]);
}

/**
 * mitogen_router_get_max_buffered:
 * @router: a router
 *
 * Gets the memory a stream's unread messages may hold before the router
 * stops reading it; see #MitogenRouter:max-buffered.
 *
 * Returns: the limit in bytes; 0 for none
 */
guint64
mitogen_router_get_max_buffered (MitogenRouter *router)
{
  guint64 limit;

  g_return_val_if_fail (MITOGEN_IS_ROUTER (router), 0);
  g_mutex_lock (&router->lock);
  limit = router->max_buffered;
  g_mutex_unlock (&router->lock);
  return limit;
}

/**
 * mitogen_router_set_max_buffered:
 * @router: a router
 * @max_buffered: the limit in bytes; 0 for none
 *
 * Sets the memory a stream's unread messages may hold before the router
 * stops reading it, for the streams of contexts started from now on.
 * Contexts started later inherit it. See #MitogenRouter:max-buffered.
 */
void
mitogen_router_set_max_buffered (MitogenRouter *router,
                                 guint64        max_buffered)
{
  g_return_if_fail (MITOGEN_IS_ROUTER (router));

  g_mutex_lock (&router->lock);
  router->max_buffered = max_buffered;
  g_mutex_unlock (&router->lock);
  g_object_notify_by_pspec (G_OBJECT (router), properties[PROP_MAX_BUFFERED]);
}

MitogenRouteTable *
_mitogen_router_get_route_table (MitogenRouter *router)
{
  return router->table;
}

void
_mitogen_router_set_identity (MitogenRouter *router,
                              guint32        context_id,
                              guint32        parent_id,
                              GArray        *ancestors)
{
  router->context_id = context_id;
  _mitogen_route_table_set_identity (router->table, context_id, parent_id, ancestors);
  _mitogen_set_identity (context_id, parent_id);
}

gboolean
_mitogen_router_is_ancestor (MitogenRouter *router,
                             guint32        context_id)
{
  return _mitogen_route_table_is_ancestor (router->table, context_id);
}

char *
_mitogen_router_dup_agent_path (MitogenRouter *router)
{
  char *path;

  g_mutex_lock (&router->lock);
  if (router->agent_path == NULL)
    router->agent_path = _mitogen_default_agent_path ();
  path = g_strdup (router->agent_path);
  g_mutex_unlock (&router->lock);
  return path;
}

/* ---- routing ----------------------------------------------------------- */

typedef struct
{
  MitogenRouter  *router;
  MitogenMessage *msg;
} LocalDelivery;

static gboolean
deliver_on_broker (gpointer data)
{
  LocalDelivery *d = data;

  _mitogen_router_dispatch_local (d->router, d->msg);
  return G_SOURCE_REMOVE;
}

static void
local_delivery_free (gpointer data)
{
  LocalDelivery *d = data;

  g_object_unref (d->router);
  mitogen_message_unref (d->msg);
  g_free (d);
}

void
_mitogen_router_deliver_later (MitogenRouter  *router,
                       MitogenMessage *msg)
{
  LocalDelivery *d = g_new (LocalDelivery, 1);

  d->router = g_object_ref (router);
  d->msg = mitogen_message_ref (msg);
  mitogen_broker_defer (router->broker, deliver_on_broker, d, local_delivery_free);
}

/* Sends @msg towards its destination; fails without side effects. */
static gboolean
route_message (MitogenRouter   *router,
               MitogenMessage  *msg,
               MitogenStream   *from,
               GError         **error)
{
  g_autoptr(MitogenStream) stream = NULL;

  if (msg->dst_id == router->context_id)
    {
      if (mitogen_broker_is_broker_thread (router->broker))
        _mitogen_router_dispatch_local (router, msg);
      else
        _mitogen_router_deliver_later (router, msg);
      return TRUE;
    }

  stream = _mitogen_route_table_ref_route (router->table, msg->dst_id);
  if (stream == NULL)
    {
      g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_CHANNEL,
                   "no route to context %u", msg->dst_id);
      return FALSE;
    }
  if (from != NULL && g_atomic_int_get (&router->unidirectional) &&
      !_mitogen_route_table_is_parent (router->table, from) &&
      !_mitogen_route_table_is_parent (router->table, stream))
    {
      g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_CHANNEL,
                   "refused by policy: in unidirectional mode contexts may not "
                   "message each other (context %u to context %u)", msg->src_id, msg->dst_id);
      return FALSE;
    }
  if (stream == from)
    {
      g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_CHANNEL,
                   "context %u routes back where the message came from", msg->dst_id);
      return FALSE;
    }
  return _mitogen_stream_send (stream, msg, error);
}

/* Routes @msg; when it cannot go, its sender hears why. */
gboolean
_mitogen_router_route_or_bounce (MitogenRouter   *router,
                 MitogenMessage  *msg,
                 MitogenStream   *from,
                 GError         **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autoptr(MitogenMessage) dead = NULL;

  if (route_message (router, msg, from, &local_error))
    return TRUE;

  g_debug ("context %u: cannot route message for handle %u to context %u: %s",
           router->context_id, msg->handle, msg->dst_id, local_error->message);
  dead = _mitogen_message_make_dead_reply (msg, local_error->message);
  /* A message nobody answers (a reply, say) that its destination could
   * reach but that cannot go, being too large: tell whoever waits for it
   * there, as Mitogen does, instead of leaving it waiting forever. */
  if (dead == NULL && msg->reply_to == 0 &&
      !g_error_matches (local_error, MITOGEN_ERROR, MITOGEN_ERROR_CHANNEL) &&
      !g_error_matches (local_error, MITOGEN_ERROR, MITOGEN_ERROR_STREAM))
    dead = mitogen_message_new_dead (msg->dst_id, msg->handle, local_error->message);
  if (dead != NULL)
    {
      dead->src_id = dead->auth_id = router->context_id;
      dead->src_fixed = TRUE;
      /* Best effort: a bounce that cannot be routed either is dropped. */
      route_message (router, dead, NULL, NULL);
    }
  g_propagate_error (error, g_steal_pointer (&local_error));
  return FALSE;
}

gboolean
_mitogen_router_send (MitogenRouter   *router,
                      MitogenMessage  *msg,
                      GError         **error)
{
  if (!msg->src_fixed)
    {
      msg->src_id = router->context_id;
      msg->auth_id = router->context_id;
      msg->src_fixed = TRUE;
    }
  return _mitogen_router_route_or_bounce (router, msg, NULL, error);
}

/**
 * mitogen_router_route:
 * @router: a router
 * @msg: the message to send; its source is set to this context if unset
 * @error: return location for an error
 *
 * Sends @msg towards its destination: a handler here, a child, or the
 * parent. When it cannot be delivered (no route, too large), a dead message
 * goes to its `reply_to` handle and @error says why.
 *
 * Returns: %TRUE when the message was passed on
 */
gboolean
mitogen_router_route (MitogenRouter   *router,
                      MitogenMessage  *msg,
                      GError         **error)
{
  g_return_val_if_fail (MITOGEN_IS_ROUTER (router), FALSE);
  g_return_val_if_fail (msg != NULL, FALSE);

  return _mitogen_router_send (router, msg, error);
}

/* ---- contexts ---------------------------------------------------------- */

typedef struct
{
  MitogenRouter  *router;
  MitogenContext *context;
  guint           signal_id;
} ContextSignal;

static gboolean
emit_context_signal (gpointer data)
{
  ContextSignal *s = data;

  if (s->signal_id == signals[SIGNAL_CONTEXT_LOST])
    _mitogen_context_emit_disconnected (s->context);
  g_signal_emit (s->router, s->signal_id, 0, s->context);
  return G_SOURCE_REMOVE;
}

static void
context_signal_free (gpointer data)
{
  ContextSignal *s = data;

  g_object_unref (s->router);
  g_object_unref (s->context);
  g_free (s);
}

/* Emits @signal_id in the router's main context: at once when this thread
 * may run it, else from that context's loop. */
static void
emit_in_owner_context (MitogenRouter  *router,
                       guint           signal_id,
                       MitogenContext *context)
{
  ContextSignal *s = g_new (ContextSignal, 1);

  s->router = g_object_ref (router);
  s->context = g_object_ref (context);
  s->signal_id = signal_id;
  g_main_context_invoke_full (router->owner_context, G_PRIORITY_DEFAULT,
                              emit_context_signal, s, context_signal_free);
}

/* A listener's clients call into our contexts but sit beside them, so
 * no loss reaches them on its own: each hears of every lost context
 * (DEL_ROUTE, from its parent), and whoever waits there on it fails too. */
static void
tell_peers_lost (MitogenRouter *router,
                 GArray        *ids)
{
  g_autoptr(GArray) peers = g_array_new (FALSE, FALSE, sizeof (guint32));
  g_autoptr(GArray) lost = g_array_new (FALSE, FALSE, sizeof (guint32));
  GHashTableIter iter;
  gpointer key;

  g_mutex_lock (&router->lock);
  /* A client that left is no news to the others. */
  for (guint i = 0; i < ids->len; i++)
    if (!g_hash_table_remove (router->peers, GUINT_TO_POINTER (g_array_index (ids, guint32, i))))
      g_array_append_val (lost, g_array_index (ids, guint32, i));
  g_hash_table_iter_init (&iter, router->peers);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    {
      guint32 peer = GPOINTER_TO_UINT (key);

      g_array_append_val (peers, peer);
    }
  g_mutex_unlock (&router->lock);

  for (guint p = 0; p < peers->len; p++)
    for (guint i = 0; i < lost->len; i++)
      {
        g_autoptr(MitogenMessage) msg = mitogen_message_new (g_array_index (peers, guint32, p),
                                                             MITOGEN_HANDLE_DEL_ROUTE,
                                                             g_variant_new ("(u)", g_array_index (lost, guint32, i)));

        _mitogen_router_send (router, msg, NULL);
      }
}

/* The contexts in @ids are gone: whoever waits on them fails, they leave
 * the table, and the signals go out. Broker thread, no lock held. */
void
_mitogen_router_routes_lost (MitogenRouter *router,
                             GArray        *ids)
{
  g_autoptr(GPtrArray) contexts = _mitogen_context_table_take (router->contexts, ids);

  /* Lost before anyone waiting hears of it: a caller woken by the failure
   * sees the context disconnected. */
  for (guint i = 0; i < contexts->len; i++)
    _mitogen_context_set_lost (contexts->pdata[i]);
  _mitogen_handler_table_fail_respondents (router->handlers, ids, router->context_id);
  tell_peers_lost (router, ids);
  for (guint i = 0; i < contexts->len; i++)
    emit_in_owner_context (router, signals[SIGNAL_CONTEXT_LOST], contexts->pdata[i]);
}

void
_mitogen_router_emit_context_added (MitogenRouter  *router,
                                    MitogenContext *context)
{
  emit_in_owner_context (router, signals[SIGNAL_CONTEXT_ADDED], context);
}
