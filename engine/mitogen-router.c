/* mitogen-router.c: routes messages between the handlers of this context
 * and the streams to its parent and children.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <signal.h>
#include <sys/auxv.h>

#include "mitogen-latch-private.h"
#include "mitogen-message-private.h"
#include "mitogen-router-private.h"
#include "mitogen-module-private.h"

#define DEFAULT_CONNECT_TIMEOUT_MSEC 30000

/**
 * MitogenRouter:
 *
 * The router of a process: it owns the streams to the contexts it started
 * (and, in an agent, to its parent), delivers each message to the handler
 * registered for its handle or forwards it towards its destination, and
 * starts new contexts with mitogen_router_connect_context().
 *
 * Messages that cannot be delivered come back to their `reply_to` handle as
 * dead messages carrying the reason, so a waiting caller learns at once.
 */

typedef struct
{
  gatomicrefcount     ref_count;
  MitogenHandlerFunc  func;
  gpointer            user_data;
  GDestroyNotify      notify;
  guint32             respondent;     /* context id; 0 = none */
  gboolean            has_respondent;
} Handler;

struct _MitogenRouter
{
  GObject         parent_instance;

  MitogenBroker  *broker;           /* owned; immutable */
  GMainContext   *owner_context;    /* owned; where signals are emitted */
  gint            next_handle;      /* atomic */
  gsize           max_message_size; /* lock */
  gboolean        unidirectional;   /* atomic: children may not message each other */

  /* Immutable once set by the agent before its broker routes anything. */
  guint32         context_id;
  guint32         parent_id;
  GArray         *ancestors;        /* guint32 ids from the parent to the master */

  GMutex          lock;
  GHashTable     *handlers;         /* lock; handle → Handler* */
  GHashTable     *routes;           /* lock; context id → MitogenStream* (ref) */
  GHashTable     *children;         /* lock; MitogenStream* (ref) → direct child id */
  GHashTable     *contexts;         /* lock; context id → MitogenContext* (ref) */
  GHashTable     *lost;             /* lock; set of context ids that were lost */
  GHashTable     *pending;          /* lock; MitogenStream* → MitogenLatch* of a connect */
  MitogenStream  *parent_stream;    /* lock; owned; agents only */
  guint32         next_context_id;  /* lock; masters only */
  char           *agent_path;       /* lock */

  MitogenParentLostFunc parent_lost_func;  /* broker only */
  gpointer        parent_lost_data;
};

enum {
  PROP_0,
  PROP_BROKER,
  PROP_CONTEXT_ID,
  PROP_MAX_MESSAGE_SIZE,
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

static void router_on_stream_message (MitogenStream *stream, MitogenMessage *msg, gpointer data);
static void router_on_stream_closed (MitogenStream *stream, const GError *reason, gpointer data);
static void router_on_forward_log (MitogenMessage *msg, gpointer data);
static void router_on_add_route (MitogenMessage *msg, gpointer data);
static void router_on_del_route (MitogenMessage *msg, gpointer data);
static void router_on_allocate_id (MitogenMessage *msg, gpointer data);
static void router_on_refused_call (MitogenMessage *msg, gpointer data);
static void router_on_get_module (MitogenMessage *msg, gpointer data);
static void announce_up (MitogenRouter *router, guint32 handle, GVariant *value);
static void deliver_locally_later (MitogenRouter *router, MitogenMessage *msg);

static Handler *
handler_ref (Handler *h)
{
  g_atomic_ref_count_inc (&h->ref_count);
  return h;
}

static void
handler_unref (gpointer data)
{
  Handler *h = data;

  if (!g_atomic_ref_count_dec (&h->ref_count))
    return;
  if (h->notify != NULL)
    h->notify (h->user_data);
  g_free (h);
}

typedef struct
{
  MitogenRouter *router;
  GMutex         lock;
  GCond          cond;
  gboolean       done;
} DetachWait;

/* Closes every stream without calling back into the router. Runs on the
 * broker thread, or anywhere once the broker has stopped. */
static void
router_detach_streams (MitogenRouter *router)
{
  g_autoptr(GPtrArray) streams = g_ptr_array_new_with_free_func ((GDestroyNotify) _mitogen_stream_unref);
  GHashTableIter iter;
  gpointer key;

  g_mutex_lock (&router->lock);
  g_hash_table_iter_init (&iter, router->children);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    g_ptr_array_add (streams, _mitogen_stream_ref (key));
  if (router->parent_stream != NULL)
    g_ptr_array_add (streams, _mitogen_stream_ref (router->parent_stream));
  g_hash_table_remove_all (router->pending);
  g_mutex_unlock (&router->lock);

  for (guint i = 0; i < streams->len; i++)
    _mitogen_stream_detach_and_close (streams->pdata[i]);
}

static gboolean
detach_on_broker (gpointer data)
{
  DetachWait *w = data;

  router_detach_streams (w->router);
  g_mutex_lock (&w->lock);
  w->done = TRUE;
  g_cond_signal (&w->cond);
  g_mutex_unlock (&w->lock);
  return G_SOURCE_REMOVE;
}

static void
mitogen_router_dispose (GObject *object)
{
  MitogenRouter *self = MITOGEN_ROUTER (object);
  DetachWait w = { self, };

  /* Streams call back into the router on the broker thread: close them
   * there and wait, so that no callback can reach a finalized router. */
  if (mitogen_broker_is_running (self->broker) && !mitogen_broker_is_broker_thread (self->broker))
    {
      gint64 deadline = g_get_monotonic_time () + 5 * G_TIME_SPAN_SECOND;

      g_mutex_init (&w.lock);
      g_cond_init (&w.cond);
      mitogen_broker_defer (self->broker, detach_on_broker, &w, NULL);
      g_mutex_lock (&w.lock);
      while (!w.done && g_cond_wait_until (&w.cond, &w.lock, deadline))
        ;
      g_mutex_unlock (&w.lock);
      if (!w.done)
        g_critical ("router: the broker did not close the streams in time");
      g_mutex_clear (&w.lock);
      g_cond_clear (&w.cond);
    }
  else
    router_detach_streams (self);

  G_OBJECT_CLASS (mitogen_router_parent_class)->dispose (object);
}

static void
mitogen_router_finalize (GObject *object)
{
  MitogenRouter *self = MITOGEN_ROUTER (object);

  g_hash_table_unref (self->handlers);
  g_hash_table_unref (self->routes);
  g_hash_table_unref (self->children);
  g_hash_table_unref (self->contexts);
  g_hash_table_unref (self->lost);
  g_hash_table_unref (self->pending);
  g_clear_pointer (&self->parent_stream, _mitogen_stream_unref);
  g_clear_pointer (&self->ancestors, g_array_unref);
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

  mitogen_router_add_handler (self, MITOGEN_HANDLE_FORWARD_LOG, NULL,
                              router_on_forward_log, self, NULL);
  mitogen_router_add_handler (self, MITOGEN_HANDLE_ADD_ROUTE, NULL,
                              router_on_add_route, self, NULL);
  mitogen_router_add_handler (self, MITOGEN_HANDLE_DEL_ROUTE, NULL,
                              router_on_del_route, self, NULL);
  mitogen_router_add_handler (self, MITOGEN_HANDLE_ALLOCATE_ID, NULL,
                              router_on_allocate_id, self, NULL);
  mitogen_router_add_handler (self, MITOGEN_HANDLE_GET_MODULE, NULL,
                              router_on_get_module, self, NULL);
  /* An agent replaces this with its own; a master refuses calls. */
  mitogen_router_add_handler (self, MITOGEN_HANDLE_CALL_FUNCTION, NULL,
                              router_on_refused_call, self, NULL);
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
   * A context finished starting. Emitted in the thread-default main context
   * of the thread that created the router.
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
   * it have already failed. Emitted like #MitogenRouter::context-added.
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
  self->next_handle = MITOGEN_FIRST_USER_HANDLE;
  self->max_message_size = MITOGEN_DEFAULT_MAX_MESSAGE_SIZE;
  self->next_context_id = 1;
  self->handlers = g_hash_table_new_full (NULL, NULL, NULL, handler_unref);
  self->routes = g_hash_table_new_full (NULL, NULL, NULL, (GDestroyNotify) _mitogen_stream_unref);
  self->children = g_hash_table_new_full (NULL, NULL, (GDestroyNotify) _mitogen_stream_unref, NULL);
  self->contexts = g_hash_table_new_full (NULL, NULL, NULL, g_object_unref);
  self->lost = g_hash_table_new (NULL, NULL);
  self->pending = g_hash_table_new (NULL, NULL);
}

/**
 * mitogen_router_new:
 * @broker: (nullable): the broker to run on; %NULL starts a new one
 *
 * Creates a router. In a master program this is the root of every context
 * it starts.
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

void
_mitogen_router_set_identity (MitogenRouter *router,
                              guint32        context_id,
                              guint32        parent_id,
                              GArray        *ancestors)
{
  router->context_id = context_id;
  router->parent_id = parent_id;
  g_clear_pointer (&router->ancestors, g_array_unref);
  router->ancestors = ancestors != NULL ? g_array_ref (ancestors) : NULL;
  _mitogen_set_identity (context_id, parent_id);
}

gboolean
_mitogen_router_is_ancestor (MitogenRouter *router,
                             guint32        context_id)
{
  if (context_id == router->parent_id && router->parent_stream != NULL)
    return TRUE;
  for (guint i = 0; router->ancestors != NULL && i < router->ancestors->len; i++)
    if (g_array_index (router->ancestors, guint32, i) == context_id)
      return TRUE;
  return FALSE;
}

const char *
_mitogen_router_get_agent_path (MitogenRouter *router)
{
  const char *path;

  g_mutex_lock (&router->lock);
  if (router->agent_path == NULL)
    router->agent_path = _mitogen_default_agent_path ();
  path = router->agent_path;
  g_mutex_unlock (&router->lock);
  return path;
}

void
_mitogen_router_set_agent_path (MitogenRouter *router,
                                const char    *path)
{
  g_mutex_lock (&router->lock);
  g_free (router->agent_path);
  router->agent_path = g_strdup (path);
  g_mutex_unlock (&router->lock);
}

/* ---- handlers ---------------------------------------------------------- */

/**
 * mitogen_router_allocate_handle:
 * @router: a router
 *
 * Returns: a handle no other receiver of this router uses
 */
guint32
mitogen_router_allocate_handle (MitogenRouter *router)
{
  g_return_val_if_fail (MITOGEN_IS_ROUTER (router), 0);
  return (guint32) g_atomic_int_add (&router->next_handle, 1);
}

/**
 * mitogen_router_add_handler:
 * @router: a router
 * @handle: the handle to serve, or 0 to allocate one
 * @respondent: (nullable): the context expected to answer; when it is
 *   lost, @func receives one dead message and the handler is removed
 * @func: (scope notified) (closure user_data) (destroy notify): called on
 *   the broker thread for each message
 * @user_data: data for @func
 * @notify: (nullable): frees @user_data when the handler is removed
 *
 * Registers a handler; a handle already served is replaced.
 *
 * Returns: the handle
 */
guint32
mitogen_router_add_handler (MitogenRouter      *router,
                            guint32             handle,
                            MitogenContext     *respondent,
                            MitogenHandlerFunc  func,
                            gpointer            user_data,
                            GDestroyNotify      notify)
{
  Handler *h;
  gboolean lost = FALSE;

  g_return_val_if_fail (MITOGEN_IS_ROUTER (router), 0);
  g_return_val_if_fail (func != NULL, 0);

  if (handle == 0)
    handle = mitogen_router_allocate_handle (router);

  h = g_new0 (Handler, 1);
  g_atomic_ref_count_init (&h->ref_count);
  h->func = func;
  h->user_data = user_data;
  h->notify = notify;
  if (respondent != NULL)
    {
      h->respondent = mitogen_context_get_id (respondent);
      h->has_respondent = TRUE;
    }

  g_mutex_lock (&router->lock);
  g_hash_table_replace (router->handlers, GUINT_TO_POINTER (handle), h);
  if (h->has_respondent)
    lost = g_hash_table_contains (router->lost, GUINT_TO_POINTER (h->respondent));
  g_mutex_unlock (&router->lock);

  /* Waiting on a context that is already gone: say so at once. */
  if (lost)
    {
      g_autoptr(MitogenMessage) dead = mitogen_message_new_dead (router->context_id, handle,
                                                                 MITOGEN_MSG_CONTEXT_LOST);
      dead->src_id = h->respondent;
      /* Handlers run on the broker thread, this one too. */
      if (mitogen_broker_is_broker_thread (router->broker))
        _mitogen_router_dispatch_local (router, dead);
      else
        deliver_locally_later (router, dead);
    }
  return handle;
}

/**
 * mitogen_router_del_handler:
 * @router: a router
 * @handle: a handle given to mitogen_router_add_handler()
 *
 * Removes a handler. Messages that arrive for @handle afterwards are
 * answered with a dead message.
 */
void
mitogen_router_del_handler (MitogenRouter *router,
                            guint32        handle)
{
  Handler *h = NULL;

  g_return_if_fail (MITOGEN_IS_ROUTER (router));

  g_mutex_lock (&router->lock);
  g_hash_table_steal_extended (router->handlers, GUINT_TO_POINTER (handle),
                               NULL, (gpointer *) &h);
  g_mutex_unlock (&router->lock);
  if (h != NULL)
    handler_unref (h);
}

void
_mitogen_router_dispatch_local (MitogenRouter  *router,
                                MitogenMessage *msg)
{
  Handler *h;

  g_mutex_lock (&router->lock);
  h = g_hash_table_lookup (router->handlers, GUINT_TO_POINTER (msg->handle));
  if (h != NULL)
    handler_ref (h);
  g_mutex_unlock (&router->lock);

  if (h == NULL)
    {
      g_autoptr(MitogenMessage) dead = NULL;

      if (mitogen_message_is_dead (msg))
        return;
      g_debug ("context %u: no handler for handle %u (from context %u)",
               router->context_id, msg->handle, msg->src_id);
      dead = _mitogen_message_make_dead_reply (msg, "invalid handle: no receiver is listening");
      if (dead != NULL)
        _mitogen_router_send (router, dead, NULL);
      return;
    }
  h->func (msg, h->user_data);
  handler_unref (h);
}

/* ---- routing ----------------------------------------------------------- */

/* The stream towards @dst_id, or NULL. Called with the lock held. */
static MitogenStream *
route_lookup_unlocked (MitogenRouter *router,
                       guint32        dst_id)
{
  MitogenStream *stream = g_hash_table_lookup (router->routes, GUINT_TO_POINTER (dst_id));

  if (stream == NULL && !g_hash_table_contains (router->lost, GUINT_TO_POINTER (dst_id)))
    stream = router->parent_stream;
  return stream;
}

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

static void
deliver_locally_later (MitogenRouter  *router,
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
  MitogenStream *stream;
  gboolean ok;

  if (msg->dst_id == router->context_id)
    {
      if (mitogen_broker_is_broker_thread (router->broker))
        _mitogen_router_dispatch_local (router, msg);
      else
        deliver_locally_later (router, msg);
      return TRUE;
    }

  g_mutex_lock (&router->lock);
  stream = route_lookup_unlocked (router, msg->dst_id);
  if (stream != NULL)
    _mitogen_stream_ref (stream);
  g_mutex_unlock (&router->lock);

  if (stream == NULL)
    {
      g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_CHANNEL,
                   "no route to context %u", msg->dst_id);
      return FALSE;
    }
  if (from != NULL && from != router->parent_stream && stream != router->parent_stream &&
      g_atomic_int_get (&router->unidirectional))
    {
      _mitogen_stream_unref (stream);
      g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_CHANNEL,
                   "refused by policy: in unidirectional mode contexts may not "
                   "message each other (context %u to context %u)", msg->src_id, msg->dst_id);
      return FALSE;
    }
  if (stream == from)
    {
      _mitogen_stream_unref (stream);
      g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_CHANNEL,
                   "context %u routes back where the message came from", msg->dst_id);
      return FALSE;
    }
  ok = _mitogen_stream_send (stream, msg, error);
  _mitogen_stream_unref (stream);
  return ok;
}

/* Routes @msg; when it cannot go, its sender hears why. */
static gboolean
route_or_bounce (MitogenRouter   *router,
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
  return route_or_bounce (router, msg, NULL, error);
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

/* Is @id reached through @stream? Lock held. */
static gboolean
routed_via_unlocked (MitogenRouter *router,
                     guint32        id,
                     MitogenStream *stream)
{
  return g_hash_table_lookup (router->routes, GUINT_TO_POINTER (id)) == stream;
}

/* A message's claimed origin must fit the stream it came on: from a child,
 * the child or something below it; from the parent, anything not below us. */
static gboolean
source_is_plausible (MitogenRouter  *router,
                     MitogenStream  *stream,
                     MitogenMessage *msg)
{
  gboolean ok;

  g_mutex_lock (&router->lock);
  if (stream == router->parent_stream)
    ok = msg->src_id != router->context_id &&
         g_hash_table_lookup (router->routes, GUINT_TO_POINTER (msg->src_id)) == NULL &&
         g_hash_table_lookup (router->routes, GUINT_TO_POINTER (msg->auth_id)) == NULL;
  else
    ok = routed_via_unlocked (router, msg->src_id, stream) &&
         routed_via_unlocked (router, msg->auth_id, stream);
  g_mutex_unlock (&router->lock);
  return ok;
}

static void
router_on_stream_message (MitogenStream  *stream,
                          MitogenMessage *msg,
                          gpointer        data)
{
  MitogenRouter *router = data;
  g_autoptr(GError) error = NULL;

  if (msg->handle == MITOGEN_HANDLE_BOOTSTRAP)
    {
      MitogenLatch *latch;

      g_mutex_lock (&router->lock);
      latch = g_hash_table_lookup (router->pending, stream);
      if (latch != NULL)
        g_hash_table_remove (router->pending, stream);
      g_mutex_unlock (&router->lock);

      if (latch != NULL)
        {
          _mitogen_latch_put (latch, mitogen_message_ref (msg));
          _mitogen_latch_unref (latch);
        }
      else
        g_warning ("stream %s: unexpected bootstrap frame; dropped",
                   _mitogen_stream_get_name (stream));
      return;
    }

  /* Undecodable data breaks the stream's contract: close it, which fails
   * every call pending on the context behind it. The body is decoded once
   * here and cached, so receivers do not pay again. */
  if (_mitogen_message_get_body (msg, &error) == NULL)
    {
      g_warning ("stream %s: %s; closing it", _mitogen_stream_get_name (stream), error->message);
      _mitogen_stream_close (stream, error);
      return;
    }

  if (!source_is_plausible (router, stream, msg))
    {
      g_warning ("stream %s: dropped a message claiming to come from context %u "
                 "(authority %u) for handle %u: forged source",
                 _mitogen_stream_get_name (stream), msg->src_id, msg->auth_id, msg->handle);
      return;
    }

  route_or_bounce (router, msg, stream, NULL);
}

/* ---- losing contexts --------------------------------------------------- */

typedef struct
{
  MitogenRouter  *router;
  MitogenContext *context;
} LostSignal;

static gboolean
emit_context_lost (gpointer data)
{
  LostSignal *s = data;

  _mitogen_context_emit_disconnected (s->context);
  g_signal_emit (s->router, signals[SIGNAL_CONTEXT_LOST], 0, s->context);
  return G_SOURCE_REMOVE;
}

static void
lost_signal_free (gpointer data)
{
  LostSignal *s = data;

  g_object_unref (s->router);
  g_object_unref (s->context);
  g_free (s);
}

/* Fails every handler waiting on a context in @ids. Broker thread. */
static void
fail_respondents (MitogenRouter *router,
                  GArray        *ids)
{
  g_autoptr(GPtrArray) victims = g_ptr_array_new ();
  GHashTableIter iter;
  gpointer key, value;

  g_mutex_lock (&router->lock);
  g_hash_table_iter_init (&iter, router->handlers);
  while (g_hash_table_iter_next (&iter, &key, &value))
    {
      Handler *h = value;

      if (!h->has_respondent)
        continue;
      for (guint i = 0; i < ids->len; i++)
        if (h->respondent == g_array_index (ids, guint32, i))
          {
            g_ptr_array_add (victims, key);
            g_ptr_array_add (victims, handler_ref (h));
            g_hash_table_iter_steal (&iter);
            handler_unref (h);
            break;
          }
    }
  g_mutex_unlock (&router->lock);

  for (guint i = 0; i < victims->len; i += 2)
    {
      guint32 handle = GPOINTER_TO_UINT (victims->pdata[i]);
      Handler *h = victims->pdata[i + 1];
      g_autoptr(MitogenMessage) dead = mitogen_message_new_dead (router->context_id, handle,
                                                                 MITOGEN_MSG_CONTEXT_LOST);

      dead->src_id = dead->auth_id = h->respondent;
      dead->src_fixed = TRUE;
      h->func (dead, h->user_data);
      handler_unref (h);
    }
}

/* Withdraws the routes of @ids (lock held): marks them lost and collects
 * their context objects into @contexts. */
static void
withdraw_routes_unlocked (MitogenRouter *router,
                          GArray        *ids,
                          GPtrArray     *contexts)
{
  for (guint i = 0; i < ids->len; i++)
    {
      gpointer key = GUINT_TO_POINTER (g_array_index (ids, guint32, i));
      MitogenContext *ctx = g_hash_table_lookup (router->contexts, key);

      g_hash_table_remove (router->routes, key);
      g_hash_table_add (router->lost, key);
      if (ctx != NULL)
        g_ptr_array_add (contexts, g_object_ref (ctx));
    }
}

/* After routes were withdrawn: tell the parent, fail whoever waits on the
 * lost contexts, and emit the signals. Broker thread, lock not held. */
static void
contexts_lost (MitogenRouter *router,
               GArray        *ids,
               GPtrArray     *contexts,
               gboolean       tell_parent)
{
  if (ids->len == 0)
    return;
  if (tell_parent)
    for (guint i = 0; i < ids->len; i++)
      announce_up (router, MITOGEN_HANDLE_DEL_ROUTE,
                   g_variant_new ("(u)", g_array_index (ids, guint32, i)));

  fail_respondents (router, ids);

  for (guint i = 0; i < contexts->len; i++)
    {
      LostSignal *s = g_new (LostSignal, 1);

      _mitogen_context_set_lost (contexts->pdata[i]);
      s->router = g_object_ref (router);
      s->context = g_object_ref (contexts->pdata[i]);
      g_main_context_invoke_full (router->owner_context, G_PRIORITY_DEFAULT,
                                  emit_context_lost, s, lost_signal_free);
    }
}

static void
router_on_stream_closed (MitogenStream *stream,
                         const GError  *reason,
                         gpointer       data)
{
  MitogenRouter *router = data;
  g_autoptr(GArray) lost_ids = g_array_new (FALSE, FALSE, sizeof (guint32));
  g_autoptr(GPtrArray) lost_contexts = g_ptr_array_new_with_free_func (g_object_unref);
  MitogenLatch *pending;
  gboolean parent_lost;
  GHashTableIter iter;
  gpointer key, value;

  g_mutex_lock (&router->lock);
  pending = g_hash_table_lookup (router->pending, stream);
  if (pending != NULL)
    g_hash_table_remove (router->pending, stream);

  g_hash_table_iter_init (&iter, router->routes);
  while (g_hash_table_iter_next (&iter, &key, &value))
    if (value == stream)
      {
        guint32 id = GPOINTER_TO_UINT (key);
        g_array_append_val (lost_ids, id);
      }
  withdraw_routes_unlocked (router, lost_ids, lost_contexts);
  g_hash_table_remove (router->children, stream);
  parent_lost = stream == router->parent_stream;
  g_mutex_unlock (&router->lock);

  if (pending != NULL)
    {
      const char *why = reason != NULL ? reason->message : "the agent exited before it was ready";

      _mitogen_latch_put (pending, mitogen_message_new_dead (0, 0, why));
      _mitogen_latch_unref (pending);
    }

  if (lost_ids->len > 0)
    {
      if (reason != NULL)
        g_info ("stream %s closed: %s", _mitogen_stream_get_name (stream), reason->message);
      else
        g_debug ("stream %s closed", _mitogen_stream_get_name (stream));
    }
  contexts_lost (router, lost_ids, lost_contexts, !parent_lost);

  if (parent_lost && router->parent_lost_func != NULL)
    router->parent_lost_func (router, reason, router->parent_lost_data);
}

/* ---- the tree: routes announced by descendants ------------------------- */

/* Sends @value to the parent on @handle, if there is a parent. */
static void
announce_up (MitogenRouter *router,
             guint32        handle,
             GVariant      *value)
{
  g_autoptr(MitogenMessage) msg = NULL;
  gboolean has_parent;

  g_mutex_lock (&router->lock);
  has_parent = router->parent_stream != NULL;
  g_mutex_unlock (&router->lock);
  if (!has_parent)
    {
      g_variant_unref (g_variant_ref_sink (value));
      return;
    }
  msg = mitogen_message_new (router->parent_id, handle, value);
  _mitogen_router_send (router, msg, NULL);
}

/* The stream to the direct child that sent @msg, or NULL (lock held).
 * Route changes are only taken from a direct child, about its subtree. */
static MitogenStream *
direct_child_stream_unlocked (MitogenRouter  *router,
                              MitogenMessage *msg)
{
  MitogenStream *stream = g_hash_table_lookup (router->routes, GUINT_TO_POINTER (msg->src_id));

  if (stream == NULL || !g_hash_table_contains (router->children, stream) ||
      _mitogen_stream_get_remote_id (stream) != msg->src_id)
    return NULL;
  return stream;
}

static void
router_on_add_route (MitogenMessage *msg,
                     gpointer        data)
{
  MitogenRouter *router = data;
  g_autoptr(GVariant) value = NULL;
  MitogenStream *stream, *existing;
  const char *name;
  guint32 id;

  if (mitogen_message_is_dead (msg))
    return;
  value = mitogen_message_unpack (msg, NULL);
  if (value == NULL || !g_variant_is_of_type (value, G_VARIANT_TYPE ("(us)")))
    {
      g_warning ("context %u sent a malformed ADD_ROUTE; ignored", msg->src_id);
      return;
    }
  g_variant_get (value, "(u&s)", &id, &name);

  g_mutex_lock (&router->lock);
  stream = direct_child_stream_unlocked (router, msg);
  existing = g_hash_table_lookup (router->routes, GUINT_TO_POINTER (id));
  if (stream != NULL && (existing == NULL || existing == stream) &&
      id != router->context_id && id != router->parent_id)
    {
      g_hash_table_replace (router->routes, GUINT_TO_POINTER (id), _mitogen_stream_ref (stream));
      g_hash_table_remove (router->lost, GUINT_TO_POINTER (id));
    }
  else
    stream = NULL;
  g_mutex_unlock (&router->lock);

  if (stream == NULL)
    {
      g_warning ("refused ADD_ROUTE for context %u (%s) from context %u: only a direct "
                 "child may announce contexts below it", id, name, msg->src_id);
      return;
    }
  g_debug ("context %u (%s) is reachable through context %u", id, name, msg->src_id);
  announce_up (router, MITOGEN_HANDLE_ADD_ROUTE, g_variant_new ("(us)", id, name));
}

static void
router_on_del_route (MitogenMessage *msg,
                     gpointer        data)
{
  MitogenRouter *router = data;
  g_autoptr(GVariant) value = NULL;
  g_autoptr(GArray) ids = g_array_new (FALSE, FALSE, sizeof (guint32));
  g_autoptr(GPtrArray) contexts = g_ptr_array_new_with_free_func (g_object_unref);
  MitogenStream *stream;
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

  g_mutex_lock (&router->lock);
  stream = direct_child_stream_unlocked (router, msg);
  if (stream != NULL && id != msg->src_id &&
      g_hash_table_lookup (router->routes, GUINT_TO_POINTER (id)) == stream)
    {
      g_array_append_val (ids, id);
      withdraw_routes_unlocked (router, ids, contexts);
    }
  g_mutex_unlock (&router->lock);

  if (ids->len == 0)
    {
      g_warning ("refused DEL_ROUTE for context %u from context %u: only a direct child "
                 "may withdraw contexts below it", id, msg->src_id);
      return;
    }
  g_debug ("context %u, behind context %u, was lost", id, msg->src_id);
  contexts_lost (router, ids, contexts, TRUE);
}

/* The master hands out context ids to agents that start contexts. */
static void
router_on_allocate_id (MitogenMessage *msg,
                       gpointer        data)
{
  MitogenRouter *router = data;
  g_autoptr(MitogenMessage) reply = NULL;
  guint32 id;

  if (mitogen_message_is_dead (msg) || msg->reply_to == 0)
    return;
  if (router->parent_stream != NULL || router->context_id != 0)
    {
      reply = _mitogen_message_make_dead_reply (msg, "only the master allocates context ids");
      _mitogen_router_send (router, reply, NULL);
      return;
    }
  g_mutex_lock (&router->lock);
  id = router->next_context_id++;
  g_mutex_unlock (&router->lock);
  reply = _mitogen_message_make_reply (msg, g_variant_new ("(u)", id));
  _mitogen_router_send (router, reply, NULL);
}

/* Modules go to direct children only: a request from further down comes
 * through the child in between, which keeps what it passes on. */
static void
router_on_get_module (MitogenMessage *msg,
                      gpointer        data)
{
  MitogenRouter *router = data;
  gboolean direct;

  g_mutex_lock (&router->lock);
  direct = direct_child_stream_unlocked (router, msg) != NULL;
  g_mutex_unlock (&router->lock);
  if (!direct && !mitogen_message_is_dead (msg))
    {
      g_autoptr(MitogenMessage) dead = _mitogen_message_make_dead_reply (msg,
          "refused by policy: modules are served to direct children only");

      g_warning ("refused GET_MODULE from context %u: not a direct child", msg->src_id);
      if (dead != NULL)
        _mitogen_router_send (router, dead, NULL);
      return;
    }
  _mitogen_module_on_get (msg, router);
}

static void
router_on_refused_call (MitogenMessage *msg,
                        gpointer        data)
{
  MitogenRouter *router = data;
  g_autoptr(MitogenMessage) dead = NULL;

  if (mitogen_message_is_dead (msg))
    return;
  g_warning ("refused a call from context %u: this context does not accept calls "
             "from contexts below it", msg->auth_id);
  dead = _mitogen_message_make_dead_reply (msg, "refused by policy: calls go from a parent "
                                           "to its children only");
  if (dead != NULL)
    _mitogen_router_send (router, dead, NULL);
}

/* Sends @value to @handle in context @dst and waits for the one reply,
 * which must be of @type. For the engine's own requests up the tree. */
GVariant *
_mitogen_router_request (MitogenRouter      *router,
                         guint32             dst,
                         guint32             handle,
                         GVariant           *value,
                         const GVariantType *type,
                         int                 timeout_msec,
                         GCancellable       *cancellable,
                         GError            **error)
{
  g_autoptr(MitogenContext) respondent = mitogen_router_context_by_id (router, dst);
  g_autoptr(MitogenReceiver) recv = mitogen_receiver_new_full (router, 0, respondent);
  g_autoptr(MitogenMessage) msg = mitogen_message_new (dst, handle, value);
  g_autoptr(MitogenMessage) reply = NULL;
  g_autoptr(GVariant) answer = NULL;

  msg->reply_to = mitogen_receiver_get_handle (recv);
  if (!_mitogen_router_send (router, msg, error))
    return NULL;
  reply = mitogen_receiver_get (recv, timeout_msec, cancellable, error);
  if (reply == NULL || (answer = mitogen_message_unpack (reply, error)) == NULL)
    return NULL;
  if (!g_variant_is_of_type (answer, type))
    {
      g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_PROTOCOL,
                   "context %u answered handle %u with a '%s', not a '%s'", dst, handle,
                   g_variant_get_type_string (answer), (const char *) type);
      return NULL;
    }
  return g_steal_pointer (&answer);
}

/* A new context id: the master's own counter, or one asked of the master
 * by an agent. */
static guint32
allocate_context_id (MitogenRouter  *router,
                     GCancellable   *cancellable,
                     GError        **error)
{
  g_autoptr(GVariant) answer = NULL;
  guint32 id;

  if (router->parent_stream == NULL)
    {
      g_mutex_lock (&router->lock);
      id = router->next_context_id++;
      g_mutex_unlock (&router->lock);
      return id;
    }
  answer = _mitogen_router_request (router, 0, MITOGEN_HANDLE_ALLOCATE_ID, NULL,
                                    G_VARIANT_TYPE ("(u)"), 30000, cancellable, error);
  if (answer == NULL)
    return 0;
  g_variant_get (answer, "(u)", &id);
  return id;
}

gboolean
_mitogen_router_context_is_lost (MitogenRouter *router,
                                 guint32        context_id)
{
  gboolean lost;

  g_mutex_lock (&router->lock);
  lost = g_hash_table_contains (router->lost, GUINT_TO_POINTER (context_id));
  g_mutex_unlock (&router->lock);
  return lost;
}

void
_mitogen_router_attach_parent (MitogenRouter         *router,
                               MitogenStream         *stream,
                               MitogenParentLostFunc  func,
                               gpointer               user_data)
{
  router->parent_lost_func = func;
  router->parent_lost_data = user_data;
  g_mutex_lock (&router->lock);
  router->parent_stream = _mitogen_stream_ref (stream);
  g_mutex_unlock (&router->lock);
  _mitogen_stream_set_handlers (stream, router_on_stream_message,
                                router_on_stream_closed, router);
  _mitogen_stream_start (stream);
}

/* ---- logs from other contexts ------------------------------------------ */

static void
router_on_forward_log (MitogenMessage *msg,
                       gpointer        data)
{
  MitogenRouter *router = data;
  g_autoptr(GVariant) value = NULL;
  g_autoptr(MitogenContext) ctx = NULL;
  const char *domain, *text;
  g_autofree char *name = NULL;
  gint32 level;

  if (mitogen_message_is_dead (msg))
    return;
  value = mitogen_message_unpack (msg, NULL);
  if (value == NULL || !g_variant_is_of_type (value, G_VARIANT_TYPE ("(sis)")))
    {
      g_debug ("context %u sent a malformed log record", msg->src_id);
      return;
    }
  g_variant_get (value, "(&si&s)", &domain, &level, &text);

  ctx = mitogen_router_context_by_id (router, msg->src_id);
  name = g_strdup (mitogen_context_get_name (ctx));
  _mitogen_log_forwarded (name, domain, level, text);
}

/* ---- contexts ---------------------------------------------------------- */

/**
 * mitogen_router_context_by_id:
 * @router: a router
 * @context_id: a context id
 *
 * Returns the context with @context_id, creating a handle for it if this
 * router has not met it yet (as for the parent of an agent).
 *
 * Returns: (transfer full): the context
 */
MitogenContext *
mitogen_router_context_by_id (MitogenRouter *router,
                              guint32        context_id)
{
  MitogenContext *ctx;

  g_return_val_if_fail (MITOGEN_IS_ROUTER (router), NULL);

  g_mutex_lock (&router->lock);
  ctx = g_hash_table_lookup (router->contexts, GUINT_TO_POINTER (context_id));
  if (ctx == NULL)
    {
      g_autofree char *name = g_strdup_printf ("context%u", context_id);

      if (context_id == 0)
        g_free (g_steal_pointer (&name)), name = g_strdup ("master");
      ctx = _mitogen_context_new (router, context_id, name, NULL, NULL);
      g_hash_table_insert (router->contexts, GUINT_TO_POINTER (context_id), ctx);
    }
  g_object_ref (ctx);
  g_mutex_unlock (&router->lock);
  return ctx;
}

/**
 * mitogen_router_list_contexts:
 * @router: a router
 *
 * Returns: (transfer container) (element-type MitogenContext): the
 *   contexts this router knows of, reachable or not
 */
GPtrArray *
mitogen_router_list_contexts (MitogenRouter *router)
{
  GPtrArray *list = g_ptr_array_new_with_free_func (g_object_unref);
  GHashTableIter iter;
  gpointer value;

  g_return_val_if_fail (MITOGEN_IS_ROUTER (router), list);

  g_mutex_lock (&router->lock);
  g_hash_table_iter_init (&iter, router->contexts);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    g_ptr_array_add (list, g_object_ref (value));
  g_mutex_unlock (&router->lock);
  return list;
}

/**
 * mitogen_router_disconnect_context:
 * @router: a router
 * @context: a context this router started
 *
 * Closes the stream to @context, which then exits with everything it
 * started. Pending calls to it fail with %MITOGEN_ERROR_CHANNEL.
 */
void
mitogen_router_disconnect_context (MitogenRouter  *router,
                           MitogenContext *context)
{
  MitogenStream *stream = NULL;
  GHashTableIter iter;
  gpointer key, value;
  guint32 id;

  g_return_if_fail (MITOGEN_IS_ROUTER (router));
  g_return_if_fail (MITOGEN_IS_CONTEXT (context));

  id = mitogen_context_get_id (context);
  g_mutex_lock (&router->lock);
  g_hash_table_iter_init (&iter, router->children);
  while (g_hash_table_iter_next (&iter, &key, &value))
    if (GPOINTER_TO_UINT (value) == id)
      stream = _mitogen_stream_ref (key);
  g_mutex_unlock (&router->lock);

  if (stream != NULL)
    {
      _mitogen_stream_close (stream, NULL);
      _mitogen_stream_unref (stream);
    }
  else if (mitogen_context_get_via (context) != NULL)
    mitogen_context_call_no_reply (mitogen_context_get_via (context), "core.disconnect",
                                   g_variant_new ("(u)", id));
}

/**
 * mitogen_router_disconnect_all:
 * @router: a router
 *
 * Closes the streams to every context this router started.
 */
void
mitogen_router_disconnect_all (MitogenRouter *router)
{
  g_autoptr(GPtrArray) streams = g_ptr_array_new_with_free_func ((GDestroyNotify) _mitogen_stream_unref);
  GHashTableIter iter;
  gpointer key;

  g_return_if_fail (MITOGEN_IS_ROUTER (router));

  g_mutex_lock (&router->lock);
  g_hash_table_iter_init (&iter, router->children);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    g_ptr_array_add (streams, _mitogen_stream_ref (key));
  g_mutex_unlock (&router->lock);

  for (guint i = 0; i < streams->len; i++)
    _mitogen_stream_close (streams->pdata[i], NULL);
}

/* ---- connecting -------------------------------------------------------- */

static gboolean
lookup_option (GVariant           *options,
               const char         *key,
               const GVariantType *type,
               GVariant          **out,
               GError            **error)
{
  g_autoptr(GVariant) v = NULL;

  *out = NULL;
  if (options == NULL)
    return TRUE;
  v = g_variant_lookup_value (options, key, NULL);
  if (v == NULL)
    return TRUE;
  if (!g_variant_is_of_type (v, type))
    {
      g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_FAILED,
                   "option “%s” must be of type '%s', not '%s'",
                   key, (const char *) type, g_variant_get_type_string (v));
      return FALSE;
    }
  *out = g_steal_pointer (&v);
  return TRUE;
}

static gboolean
option_string (GVariant    *options,
               const char  *key,
               char       **out,
               GError     **error)
{
  g_autoptr(GVariant) v = NULL;

  *out = NULL;
  if (!lookup_option (options, key, G_VARIANT_TYPE_STRING, &v, error))
    return FALSE;
  if (v != NULL)
    *out = g_variant_dup_string (v, NULL);
  return TRUE;
}

/* The transport @name; an agent lacking its plugin fetches it from its
 * parent, so a context can start contexts where nothing is installed. */
static MitogenTransport *
lookup_transport (MitogenRouter  *router,
                  const char     *name,
                  GCancellable   *cancellable,
                  GError        **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autofree char *module = NULL;
  MitogenTransport *transport;

  transport = mitogen_transport_lookup (name, &local_error);
  if (transport != NULL || mitogen_is_master ())
    {
      if (transport == NULL)
        g_propagate_error (error, g_steal_pointer (&local_error));
      return transport;
    }
  module = g_strdup_printf ("transport:%s", name);
  if (!_mitogen_module_ensure (router, module, cancellable, error))
    return NULL;
  return mitogen_transport_lookup (name, error);
}

static GBytes *
build_bootstrap (MitogenRouter *router,
                 guint32        id,
                 const char    *transport,
                 const char    *name,
                 const char    *serializer,
                 const char    *plugin_path,
                 gboolean       debug)
{
  GVariantBuilder ancestors;
  GVariantDict dict;
  g_autoptr(GVariant) v = NULL;

  g_variant_builder_init (&ancestors, G_VARIANT_TYPE ("au"));
  g_variant_builder_add (&ancestors, "u", router->context_id);
  for (guint i = 0; router->ancestors != NULL && i < router->ancestors->len; i++)
    g_variant_builder_add (&ancestors, "u", g_array_index (router->ancestors, guint32, i));

  g_variant_dict_init (&dict, NULL);
  g_variant_dict_insert (&dict, "context_id", "u", id);
  g_variant_dict_insert (&dict, "parent_id", "u", router->context_id);
  g_variant_dict_insert_value (&dict, "ancestors", g_variant_builder_end (&ancestors));
  g_variant_dict_insert (&dict, "transport", "s", transport);
  if (name != NULL)
    g_variant_dict_insert (&dict, "name", "s", name);
  g_variant_dict_insert (&dict, "serializer", "s", serializer);
  g_variant_dict_insert (&dict, "max_message_size", "t",
                         (guint64) mitogen_router_get_max_message_size (router));
  g_variant_dict_insert (&dict, "debug", "b", debug);
  g_variant_dict_insert (&dict, "unidirectional", "b", g_atomic_int_get (&router->unidirectional));
  if (plugin_path != NULL)
    g_variant_dict_insert (&dict, "plugin_path", "s", plugin_path);
  v = g_variant_ref_sink (g_variant_dict_end (&dict));
  return g_variant_get_data_as_bytes (v);
}

static MitogenContext *
connect_direct (MitogenRouter  *router,
                const char     *transport_name,
                GVariant       *options,
                guint32         id,
                GCancellable   *cancellable,
                GError        **error)
{
  g_autoptr(MitogenTransport) transport = NULL;
  g_autoptr(MitogenSerializer) serializer = NULL;
  g_autoptr(GIOStream) io = NULL;
  g_autoptr(MitogenStream) stream = NULL;
  g_autoptr(MitogenLatch) latch = NULL;
  g_autoptr(MitogenMessage) boot = NULL;
  g_autoptr(MitogenMessage) ready = NULL;
  g_autoptr(GBytes) boot_data = NULL;
  g_autoptr(GVariant) info = NULL;
  g_autoptr(GError) local_error = NULL;
  g_autofree char *serializer_name = NULL;
  g_autofree char *agent_path = NULL;
  g_autofree char *name = NULL;
  g_autofree char *stream_name = NULL;
  g_autofree char *plugin_path = NULL;
  g_autoptr(GVariant) debug_v = NULL;
  const char *remote_name = NULL;
  MitogenContext *ctx;
  int timeout_msec;
  gint64 deadline;

  if (!option_string (options, "serializer", &serializer_name, error) ||
      !option_string (options, "agent_path", &agent_path, error) ||
      !option_string (options, "name", &name, error) ||
      !option_string (options, "plugin_path", &plugin_path, error) ||
      !lookup_option (options, "debug", G_VARIANT_TYPE_BOOLEAN, &debug_v, error) ||
      !mitogen_transport_options_get_timeout (options, DEFAULT_CONNECT_TIMEOUT_MSEC,
                                              &timeout_msec, error))
    return NULL;
  /* connect_timeout covers everything: the transport's own work (a
   * password prompt, an SSH handshake) and the wait for the ready frame. */
  deadline = g_get_monotonic_time () + (gint64) timeout_msec * 1000;

  transport = lookup_transport (router, transport_name, cancellable, error);
  if (transport == NULL)
    return NULL;
  serializer = mitogen_serializer_lookup (serializer_name ? serializer_name : "gvariant", error);
  if (serializer == NULL)
    return NULL;
  if (agent_path == NULL)
    agent_path = g_strdup (_mitogen_router_get_agent_path (router));

  io = mitogen_transport_open_stream (transport, options, agent_path, cancellable, error);
  if (io == NULL)
    return NULL;

  if (id == 0 && (id = allocate_context_id (router, cancellable, error)) == 0)
    return NULL;

  stream_name = g_strdup_printf ("%s#%u", transport_name, id);
  stream = _mitogen_stream_new_for_io_stream (router->broker, io, stream_name, error);
  if (stream == NULL)
    return NULL;
  _mitogen_stream_set_serializer (stream, serializer);
  _mitogen_stream_set_max_message_size (stream, mitogen_router_get_max_message_size (router));
  _mitogen_stream_set_remote_id (stream, id);
  _mitogen_stream_set_handlers (stream, router_on_stream_message, router_on_stream_closed, router);

  latch = _mitogen_latch_new ((GDestroyNotify) mitogen_message_unref);
  g_mutex_lock (&router->lock);
  g_hash_table_insert (router->pending, stream, _mitogen_latch_ref (latch));
  g_hash_table_insert (router->children, _mitogen_stream_ref (stream), GUINT_TO_POINTER (id));
  /* Route the new id now so that its first messages pass the source check. */
  g_hash_table_insert (router->routes, GUINT_TO_POINTER (id), _mitogen_stream_ref (stream));
  g_mutex_unlock (&router->lock);

  /* Where the new context looks for plugins: the option, else where this
   * process looks. What it does not find there comes from here. */
  if (plugin_path == NULL && !getauxval (AT_SECURE))
    plugin_path = g_strdup (g_getenv (MITOGEN_PLUGIN_PATH_ENV));
  boot_data = build_bootstrap (router, id, transport_name, name,
                               serializer_name ? serializer_name : "gvariant",
                               plugin_path,
                               debug_v != NULL && g_variant_get_boolean (debug_v));
  boot = _mitogen_message_new_raw (id, router->context_id, MITOGEN_HANDLE_BOOTSTRAP, boot_data);
  if (!_mitogen_stream_send (stream, boot, &local_error))
    goto fail;
  _mitogen_stream_start (stream);

  ready = _mitogen_latch_get (latch,
                              MAX (1, (int) ((deadline - g_get_monotonic_time ()) / 1000)),
                              cancellable, &local_error);
  if (ready == NULL)
    {
      if (g_error_matches (local_error, MITOGEN_ERROR, MITOGEN_ERROR_TIMEOUT))
        {
          g_clear_error (&local_error);
          g_set_error (&local_error, MITOGEN_ERROR, MITOGEN_ERROR_TIMEOUT,
                       "%s: the agent did not answer within %.1f s",
                       transport_name, timeout_msec / 1000.0);
        }
      goto fail;
    }
  if (mitogen_message_is_dead (ready))
    {
      g_autoptr(GError) why = NULL;
      g_autoptr(GVariant) unused = mitogen_message_unpack (ready, &why);
      g_set_error (&local_error, MITOGEN_ERROR, MITOGEN_ERROR_STREAM,
                   "%s: the agent failed to start: %s", transport_name, why->message);
      goto fail;
    }
  info = g_variant_new_from_bytes (G_VARIANT_TYPE_VARDICT, ready->data, FALSE);
  g_variant_ref_sink (info);
  if (g_variant_is_normal_form (info) && g_variant_lookup (info, "error", "&s", &remote_name))
    {
      g_set_error (&local_error, MITOGEN_ERROR, MITOGEN_ERROR_STREAM,
                   "%s: the agent failed to start: %s", transport_name, remote_name);
      goto fail;
    }
  if (!g_variant_is_normal_form (info) ||
      !g_variant_lookup (info, "name", "&s", &remote_name))
    {
      g_set_error (&local_error, MITOGEN_ERROR, MITOGEN_ERROR_PROTOCOL,
                   "%s: the agent's ready frame is malformed", transport_name);
      goto fail;
    }

  ctx = _mitogen_context_new (router, id, remote_name, NULL, info);
  _mitogen_stream_set_name (stream, remote_name);
  g_mutex_lock (&router->lock);
  g_hash_table_replace (router->contexts, GUINT_TO_POINTER (id), g_object_ref (ctx));
  g_mutex_unlock (&router->lock);

  /* Contexts above learn the new one is reachable through us. */
  announce_up (router, MITOGEN_HANDLE_ADD_ROUTE, g_variant_new ("(us)", id, remote_name));
  g_signal_emit (router, signals[SIGNAL_CONTEXT_ADDED], 0, ctx);
  return ctx;

fail:
  g_mutex_lock (&router->lock);
  if (g_hash_table_remove (router->pending, stream))
    _mitogen_latch_unref (latch);
  g_mutex_unlock (&router->lock);
  _mitogen_stream_close (stream, local_error);
  g_propagate_error (error, g_steal_pointer (&local_error));
  return NULL;
}

/* Asks @via to start the context with its own copy of the transport. The
 * id comes from here (the master, or an agent that asks the master), and
 * the ADD_ROUTE that @via sends up reaches us before its reply does, since
 * both travel the same streams in order. */
static MitogenContext *
connect_via (MitogenRouter   *router,
             const char      *transport,
             GVariant        *options,
             MitogenContext  *via,
             GCancellable    *cancellable,
             GError         **error)
{
  g_autoptr(GVariant) info = NULL;
  g_autoptr(GError) local_error = NULL;
  g_autoptr(MitogenReceiver) recv = NULL;
  g_autoptr(MitogenMessage) reply = NULL;
  g_autofree char *name = NULL;
  const char *remote_name = NULL;
  MitogenContext *ctx;
  guint32 id;

  id = allocate_context_id (router, cancellable, error);
  if (id == 0)
    return NULL;
  recv = mitogen_context_begin_call (via, "core.connect",
                                     g_variant_new ("(s@a{sv}u)", transport,
                                                    options != NULL ? options
                                                                    : g_variant_new ("a{sv}", NULL),
                                                    id));
  reply = mitogen_receiver_get (recv, -1, cancellable, &local_error);
  mitogen_receiver_close (recv);
  if (reply != NULL)
    info = mitogen_message_unpack (reply, &local_error);
  if (info == NULL)
    {
      /* A refused password one hop away is still MITOGEN_ERROR_AUTH here. */
      int code = reply != NULL ? _mitogen_message_get_remote_code (reply, MITOGEN_ERROR_STREAM)
                               : local_error->code;

      g_set_error (error, MITOGEN_ERROR, code, "connecting %s via %s: %s", transport,
                   mitogen_context_get_name (via), local_error->message);
      return NULL;
    }
  if (!g_variant_is_of_type (info, G_VARIANT_TYPE_VARDICT) ||
      !g_variant_lookup (info, "name", "&s", &remote_name))
    {
      g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_PROTOCOL,
                   "connecting %s via %s: malformed answer", transport,
                   mitogen_context_get_name (via));
      return NULL;
    }

  name = g_strdup_printf ("%s.%s", mitogen_context_get_name (via), remote_name);
  ctx = _mitogen_context_new (router, id, name, via, info);
  g_mutex_lock (&router->lock);
  g_hash_table_replace (router->contexts, GUINT_TO_POINTER (id), g_object_ref (ctx));
  g_mutex_unlock (&router->lock);
  g_signal_emit (router, signals[SIGNAL_CONTEXT_ADDED], 0, ctx);
  return ctx;
}

/* core.connect (s transport, a{sv} options, u id) → a{sv}: what a parent
 * calls to make this context start a child for it. */
static GVariant *
core_connect (MitogenCall  *call,
              GVariant     *args,
              gpointer      user_data,
              GError      **error)
{
  MitogenRouter *router = mitogen_call_get_router (call);
  g_autoptr(MitogenContext) ctx = NULL;
  g_autoptr(GVariant) options = NULL;
  const char *transport;
  guint32 id;

  if (args == NULL || !g_variant_is_of_type (args, G_VARIANT_TYPE ("(sa{sv}u)")))
    {
      g_set_error_literal (error, MITOGEN_ERROR, MITOGEN_ERROR_CALL,
                           "core.connect takes (s transport, a{sv} options, u id)");
      return NULL;
    }
  g_variant_get (args, "(&s@a{sv}u)", &transport, &options, &id);
  ctx = connect_direct (router, transport, options, id, mitogen_call_get_cancellable (call), error);
  if (ctx == NULL)
    return NULL;
  return g_variant_ref (mitogen_context_get_remote_info (ctx));
}

/* core.disconnect (u id): close the stream to a direct child. */
static GVariant *
core_disconnect (MitogenCall  *call,
                 GVariant     *args,
                 gpointer      user_data,
                 GError      **error)
{
  MitogenRouter *router = mitogen_call_get_router (call);
  g_autoptr(MitogenContext) ctx = NULL;
  guint32 id;

  if (args == NULL || !g_variant_is_of_type (args, G_VARIANT_TYPE ("(u)")))
    {
      g_set_error_literal (error, MITOGEN_ERROR, MITOGEN_ERROR_CALL,
                           "core.disconnect takes (u id)");
      return NULL;
    }
  g_variant_get (args, "(u)", &id);
  ctx = mitogen_router_context_by_id (router, id);
  mitogen_router_disconnect_context (router, ctx);
  return NULL;
}

void
_mitogen_router_register_functions (void)
{
  mitogen_register_function ("core.connect", core_connect, NULL, NULL);
  mitogen_register_function ("core.disconnect", core_disconnect, NULL, NULL);
}

/**
 * mitogen_router_connect_context:
 * @router: a router
 * @transport: the transport's name: "local", "ssh", "sudo", ...
 * @options: (nullable): the transport's options, an `a{sv}`; every
 *   transport also knows "name", "agent_path", "serializer", "debug" and
 *   "connect_timeout" (seconds)
 * @via: (nullable): the context that should start the new one
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for an error
 *
 * Starts a new context with @transport and waits until its agent is ready.
 * Must not be called on the broker thread.
 *
 * Returns: (transfer full): the new context, or %NULL with @error set
 */
MitogenContext *
mitogen_router_connect_context (MitogenRouter   *router,
                        const char      *transport,
                        GVariant        *options,
                        MitogenContext  *via,
                        GCancellable    *cancellable,
                        GError         **error)
{
  g_autoptr(GVariant) sunk = NULL;

  g_return_val_if_fail (MITOGEN_IS_ROUTER (router), NULL);
  g_return_val_if_fail (transport != NULL, NULL);
  g_return_val_if_fail (via == NULL || MITOGEN_IS_CONTEXT (via), NULL);

  if (options != NULL)
    {
      sunk = g_variant_ref_sink (options);
      if (!g_variant_is_of_type (options, G_VARIANT_TYPE_VARDICT))
        {
          g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_FAILED,
                       "connect options must be an a{sv}, not '%s'",
                       g_variant_get_type_string (options));
          return NULL;
        }
    }
  if (!_mitogen_check_not_broker (router->broker, "mitogen_router_connect_context()", error))
    return NULL;
  if (via != NULL)
    return connect_via (router, transport, options, via, cancellable, error);
  return connect_direct (router, transport, options, 0, cancellable, error);
}

typedef struct
{
  char           *transport;
  GVariant       *options;
  MitogenContext *via;
} ConnectData;

static void
connect_data_free (gpointer data)
{
  ConnectData *cd = data;

  g_free (cd->transport);
  g_clear_pointer (&cd->options, g_variant_unref);
  g_clear_object (&cd->via);
  g_free (cd);
}

static void
connect_in_thread (GTask        *task,
                   gpointer      source_object,
                   gpointer      task_data,
                   GCancellable *cancellable)
{
  ConnectData *cd = task_data;
  GError *error = NULL;
  MitogenContext *ctx;

  ctx = mitogen_router_connect_context (source_object, cd->transport, cd->options,
                                cd->via, cancellable, &error);
  if (ctx == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, ctx, g_object_unref);
}

/**
 * mitogen_router_connect_context_async:
 * @router: a router
 * @transport: the transport's name
 * @options: (nullable): the transport's options, an `a{sv}`
 * @via: (nullable): the context that should start the new one
 * @cancellable: (nullable): a #GCancellable
 * @callback: called in the thread-default main context of the caller
 * @user_data: data for @callback
 *
 * Starts a new context without blocking; see mitogen_router_connect_context().
 */
void
mitogen_router_connect_context_async (MitogenRouter       *router,
                              const char          *transport,
                              GVariant            *options,
                              MitogenContext      *via,
                              GCancellable        *cancellable,
                              GAsyncReadyCallback  callback,
                              gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  ConnectData *cd;

  g_return_if_fail (MITOGEN_IS_ROUTER (router));
  g_return_if_fail (transport != NULL);

  task = g_task_new (router, cancellable, callback, user_data);
  g_task_set_source_tag (task, mitogen_router_connect_context_async);
  cd = g_new0 (ConnectData, 1);
  cd->transport = g_strdup (transport);
  cd->options = options != NULL ? g_variant_ref_sink (options) : NULL;
  cd->via = via != NULL ? g_object_ref (via) : NULL;
  g_task_set_task_data (task, cd, connect_data_free);
  g_task_run_in_thread (task, connect_in_thread);
}

/**
 * mitogen_router_connect_context_finish:
 * @router: a router
 * @result: the result given to the callback
 * @error: return location for an error
 *
 * Returns: (transfer full): the new context, or %NULL with @error set
 */
MitogenContext *
mitogen_router_connect_context_finish (MitogenRouter  *router,
                               GAsyncResult   *result,
                               GError        **error)
{
  g_return_val_if_fail (g_task_is_valid (result, router), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

/**
 * mitogen_router_local:
 * @router: a router
 * @options: (nullable): options of the local transport
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for an error
 *
 * Starts a context on this machine as the same user: shorthand for
 * mitogen_router_connect_context() with the "local" transport.
 *
 * Returns: (transfer full): the new context, or %NULL with @error set
 */
MitogenContext *
mitogen_router_local (MitogenRouter  *router,
                      GVariant       *options,
                      GCancellable   *cancellable,
                      GError        **error)
{
  return mitogen_router_connect_context (router, "local", options, NULL, cancellable, error);
}
