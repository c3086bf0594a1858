/* mitogen-context.c: a handle on one context (a running agent).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "mitogen-message-private.h"
#include "mitogen-router-private.h"

/**
 * MitogenContext:
 *
 * One context: an agent process started by a router, its parent, or any
 * context reachable through the tree. Calls made through it run in that
 * process, one at a time, in the order they arrive.
 *
 * A context does not keep its router alive: keep a reference to the router
 * for as long as you use its contexts.
 */
struct _MitogenContext
{
  GObject         parent_instance;

  GWeakRef        router;       /* the router that knows this context */
  guint32         id;           /* immutable */
  char           *name;         /* guarded by @lock */
  MitogenContext *via;          /* owned, nullable; immutable */
  GVariant       *remote_info;  /* owned, nullable; the ready frame; immutable */

  GMutex          lock;
  GCond           lost_cond;    /* broadcast when @lost turns TRUE */
  gboolean        lost;         /* guarded by @lock */
};

enum {
  PROP_0,
  PROP_ID,
  PROP_NAME,
  PROP_VIA,
  PROP_ROUTER,
  N_PROPS
};

enum {
  SIGNAL_DISCONNECTED,
  N_SIGNALS
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE (MitogenContext, mitogen_context, G_TYPE_OBJECT)

static void
mitogen_context_finalize (GObject *object)
{
  MitogenContext *self = MITOGEN_CONTEXT (object);

  g_weak_ref_clear (&self->router);
  g_free (self->name);
  g_clear_object (&self->via);
  g_clear_pointer (&self->remote_info, g_variant_unref);
  g_mutex_clear (&self->lock);
  g_cond_clear (&self->lost_cond);

  G_OBJECT_CLASS (mitogen_context_parent_class)->finalize (object);
}

static void
mitogen_context_get_property (GObject    *object,
                              guint       prop_id,
                              GValue     *value,
                              GParamSpec *pspec)
{
  MitogenContext *self = MITOGEN_CONTEXT (object);

  switch (prop_id)
    {
    case PROP_ID:
      g_value_set_uint (value, self->id);
      break;
    case PROP_NAME:
      g_mutex_lock (&self->lock);
      g_value_set_string (value, self->name);
      g_mutex_unlock (&self->lock);
      break;
    case PROP_VIA:
      g_value_set_object (value, self->via);
      break;
    case PROP_ROUTER:
      g_value_take_object (value, g_weak_ref_get (&self->router));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
mitogen_context_class_init (MitogenContextClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = mitogen_context_finalize;
  object_class->get_property = mitogen_context_get_property;

  /**
   * MitogenContext:id:
   *
   * The context's id, unique within the tree of one master.
   */
  properties[PROP_ID] =
    g_param_spec_uint ("id", NULL, NULL, 0, G_MAXUINT32, 0,
                       G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  /**
   * MitogenContext:name:
   *
   * A name for logs and errors, such as "local.4711".
   */
  properties[PROP_NAME] =
    g_param_spec_string ("name", NULL, NULL, NULL,
                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  /**
   * MitogenContext:via:
   *
   * The context that started this one, or %NULL when the router's own
   * context did.
   */
  properties[PROP_VIA] =
    g_param_spec_object ("via", NULL, NULL, MITOGEN_TYPE_CONTEXT,
                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  /**
   * MitogenContext:router:
   *
   * The router that knows this context, or %NULL once it is gone.
   */
  properties[PROP_ROUTER] =
    g_param_spec_object ("router", NULL, NULL, MITOGEN_TYPE_ROUTER,
                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * MitogenContext::disconnected:
   * @context: the context
   *
   * The context went away. Pending calls have already failed with
   * %MITOGEN_ERROR_CHANNEL; later ones fail at once. Emitted in the
   * thread-default main context of the thread that created the router.
   */
  signals[SIGNAL_DISCONNECTED] =
    g_signal_new ("disconnected", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 0);
}

static void
mitogen_context_init (MitogenContext *self)
{
  g_mutex_init (&self->lock);
  g_cond_init (&self->lost_cond);
}

MitogenContext *
_mitogen_context_new (MitogenRouter  *router,
                      guint32         id,
                      const char     *name,
                      MitogenContext *via,
                      GVariant       *remote_info)
{
  MitogenContext *self = g_object_new (MITOGEN_TYPE_CONTEXT, NULL);

  g_weak_ref_init (&self->router, router);
  self->id = id;
  self->name = g_strdup (name);
  self->via = via != NULL ? g_object_ref (via) : NULL;
  self->remote_info = remote_info != NULL ? g_variant_ref_sink (remote_info) : NULL;
  return self;
}

void
_mitogen_context_set_lost (MitogenContext *context)
{
  g_mutex_lock (&context->lock);
  context->lost = TRUE;
  g_cond_broadcast (&context->lost_cond);
  g_mutex_unlock (&context->lock);
}

void
_mitogen_context_emit_disconnected (MitogenContext *context)
{
  g_signal_emit (context, signals[SIGNAL_DISCONNECTED], 0);
}

void
_mitogen_context_set_name (MitogenContext *context,
                           const char     *name)
{
  g_mutex_lock (&context->lock);
  g_free (context->name);
  context->name = g_strdup (name);
  g_mutex_unlock (&context->lock);
  g_object_notify_by_pspec (G_OBJECT (context), properties[PROP_NAME]);
}

/**
 * mitogen_context_get_id:
 * @context: a context
 *
 * Returns: the context's id
 */
guint32
mitogen_context_get_id (MitogenContext *context)
{
  g_return_val_if_fail (MITOGEN_IS_CONTEXT (context), 0);
  return context->id;
}

/**
 * mitogen_context_get_name:
 * @context: a context
 *
 * Returns: the context's name
 */
const char *
mitogen_context_get_name (MitogenContext *context)
{
  g_return_val_if_fail (MITOGEN_IS_CONTEXT (context), NULL);
  return context->name;
}

/**
 * mitogen_context_get_via:
 * @context: a context
 *
 * Returns: (transfer none) (nullable): the context that started this one
 */
MitogenContext *
mitogen_context_get_via (MitogenContext *context)
{
  g_return_val_if_fail (MITOGEN_IS_CONTEXT (context), NULL);
  return context->via;
}

/**
 * mitogen_context_get_router:
 * @context: a context
 *
 * Returns: (transfer none) (nullable): the router that knows this context,
 *   or %NULL when it was finalized
 */
MitogenRouter *
mitogen_context_get_router (MitogenContext *context)
{
  MitogenRouter *router;

  g_return_val_if_fail (MITOGEN_IS_CONTEXT (context), NULL);
  router = g_weak_ref_get (&context->router);
  /* The router's table holds the context, so while the context is in use
   * through the router, the router is alive; hand out a borrowed pointer. */
  if (router != NULL)
    g_object_unref (router);
  return router;
}

/**
 * mitogen_context_get_remote_info:
 * @context: a context
 *
 * What the agent said of itself when it started: an `a{sv}` with "pid",
 * "uid", "hostname", "arch", "name" and "version".
 *
 * Returns: (transfer none) (nullable): the information, or %NULL for a
 *   context this router did not start
 */
GVariant *
mitogen_context_get_remote_info (MitogenContext *context)
{
  g_return_val_if_fail (MITOGEN_IS_CONTEXT (context), NULL);
  return context->remote_info;
}

/**
 * mitogen_context_is_connected:
 * @context: a context
 *
 * Returns: %FALSE once the context was lost
 */
gboolean
mitogen_context_is_connected (MitogenContext *context)
{
  MitogenRouter *router;
  gboolean lost;

  g_return_val_if_fail (MITOGEN_IS_CONTEXT (context), FALSE);

  g_mutex_lock (&context->lock);
  lost = context->lost;
  g_mutex_unlock (&context->lock);
  if (lost)
    return FALSE;
  router = mitogen_context_get_router (context);
  return router != NULL && !_mitogen_router_context_is_lost (router, context->id);
}

static GVariant *
call_value (const char *function,
            GVariant   *args)
{
  if (args == NULL)
    args = g_variant_new_tuple (NULL, 0);
  GVariant *children[2] = { g_variant_new_string (function), g_variant_new_variant (args) };

  return g_variant_new_tuple (children, 2);
}

/**
 * mitogen_context_begin_call:
 * @context: a context
 * @function: the function's "module.name"
 * @args: (nullable): the arguments, a tuple
 *
 * Starts a call without waiting for it (Mitogen's `call_async`). The reply
 * arrives on the returned receiver: a value, the remote error, or a dead
 * message if the context is lost first.
 *
 * Returns: (transfer full): the receiver of the reply
 */
MitogenReceiver *
mitogen_context_begin_call (MitogenContext *context,
                            const char     *function,
                            GVariant       *args)
{
  g_autoptr(MitogenMessage) msg = NULL;
  MitogenRouter *router;
  MitogenReceiver *recv;

  g_return_val_if_fail (MITOGEN_IS_CONTEXT (context), NULL);
  g_return_val_if_fail (function != NULL, NULL);
  g_return_val_if_fail (args == NULL || g_variant_is_of_type (args, G_VARIANT_TYPE_TUPLE), NULL);

  router = mitogen_context_get_router (context);
  g_return_val_if_fail (router != NULL, NULL);

  recv = mitogen_receiver_new_full (router, 0, context);
  msg = mitogen_message_new (context->id, MITOGEN_HANDLE_CALL_FUNCTION,
                             call_value (function, args));
  msg->reply_to = mitogen_receiver_get_handle (recv);
  /* A failure to route comes back to @recv as a dead message. */
  _mitogen_router_send (router, msg, NULL);
  return recv;
}

/**
 * mitogen_context_call_no_reply:
 * @context: a context
 * @function: the function's "module.name"
 * @args: (nullable): the arguments, a tuple
 *
 * Starts a call whose result and errors nobody hears of.
 */
void
mitogen_context_call_no_reply (MitogenContext *context,
                               const char     *function,
                               GVariant       *args)
{
  g_autoptr(MitogenMessage) msg = NULL;
  MitogenRouter *router;

  g_return_if_fail (MITOGEN_IS_CONTEXT (context));
  g_return_if_fail (function != NULL);
  g_return_if_fail (args == NULL || g_variant_is_of_type (args, G_VARIANT_TYPE_TUPLE));

  router = mitogen_context_get_router (context);
  g_return_if_fail (router != NULL);

  msg = mitogen_message_new (context->id, MITOGEN_HANDLE_CALL_FUNCTION,
                             call_value (function, args));
  _mitogen_router_send (router, msg, NULL);
}

/**
 * mitogen_context_call:
 * @context: a context
 * @function: the function's "module.name", such as "core.getpid"
 * @args: (nullable): the arguments, a tuple
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for an error
 *
 * Calls a function in @context and waits for its result. A remote error
 * keeps its domain and code, with a message naming the context and the
 * function (see mitogen_message_unpack()); a context lost before it
 * answers is %MITOGEN_ERROR_CHANNEL. Must not be called on the broker
 * thread.
 *
 * Cancelling @cancellable fails the call at once with
 * %G_IO_ERROR_CANCELLED and cancels it in @context too: a call still
 * queued there is dropped, a running one sees its
 * mitogen_call_get_cancellable() fire.
 *
 * Returns: (transfer full): the result, or %NULL with @error set
 */
GVariant *
mitogen_context_call (MitogenContext  *context,
                      const char      *function,
                      GVariant        *args,
                      GCancellable    *cancellable,
                      GError         **error)
{
  g_autoptr(MitogenReceiver) recv = NULL;
  g_autoptr(MitogenMessage) reply = NULL;
  GError *local_error = NULL;
  MitogenRouter *router;

  g_return_val_if_fail (MITOGEN_IS_CONTEXT (context), NULL);
  g_return_val_if_fail (function != NULL, NULL);

  router = mitogen_context_get_router (context);
  if (router == NULL)
    {
      g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_FAILED,
                   "the router of context %s is gone", context->name);
      return NULL;
    }
  if (!_mitogen_check_not_broker (mitogen_router_get_broker (router),
                                  "mitogen_context_call()", error))
    return NULL;

  recv = mitogen_context_begin_call (context, function, args);
  reply = mitogen_receiver_get (recv, -1, cancellable, &local_error);
  mitogen_receiver_close (recv);
  if (reply == NULL)
    {
      if (g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        _mitogen_call_send_cancel (context, mitogen_receiver_get_handle (recv));
      g_propagate_error (error, local_error);
      return NULL;
    }
  return mitogen_message_unpack (reply, error);
}

static void
call_got_reply (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  g_autoptr(MitogenMessage) reply = NULL;
  GError *error = NULL;
  GVariant *value;

  reply = mitogen_receiver_get_finish (MITOGEN_RECEIVER (source), result, &error);
  mitogen_receiver_close (MITOGEN_RECEIVER (source));
  if (reply == NULL)
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        _mitogen_call_send_cancel (g_task_get_source_object (task),
                                   mitogen_receiver_get_handle (MITOGEN_RECEIVER (source)));
      g_task_return_error (task, error);
      return;
    }
  value = mitogen_message_unpack (reply, &error);
  if (value == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, value, (GDestroyNotify) g_variant_unref);
}

/**
 * mitogen_context_call_async:
 * @context: a context
 * @function: the function's "module.name"
 * @args: (nullable): the arguments, a tuple
 * @cancellable: (nullable): a #GCancellable
 * @callback: called in the caller's thread-default main context
 * @user_data: data for @callback
 *
 * Calls a function without blocking; see mitogen_context_call(). Cancelling
 * @cancellable cancels the call in @context too.
 */
void
mitogen_context_call_async (MitogenContext      *context,
                            const char          *function,
                            GVariant            *args,
                            GCancellable        *cancellable,
                            GAsyncReadyCallback  callback,
                            gpointer             user_data)
{
  g_autoptr(MitogenReceiver) recv = NULL;
  GTask *task;

  g_return_if_fail (MITOGEN_IS_CONTEXT (context));
  g_return_if_fail (function != NULL);

  task = g_task_new (context, cancellable, callback, user_data);
  g_task_set_source_tag (task, mitogen_context_call_async);
  if (mitogen_context_get_router (context) == NULL)
    {
      g_task_return_new_error (task, MITOGEN_ERROR, MITOGEN_ERROR_FAILED,
                               "the router of context %s is gone", context->name);
      g_object_unref (task);
      return;
    }
  recv = mitogen_context_begin_call (context, function, args);
  mitogen_receiver_get_async (recv, -1, cancellable, call_got_reply, task);
}

/**
 * mitogen_context_call_finish:
 * @context: a context
 * @result: the result given to the callback
 * @error: return location for an error
 *
 * Returns: (transfer full): the call's result, or %NULL with @error set
 */
GVariant *
mitogen_context_call_finish (MitogenContext  *context,
                             GAsyncResult    *result,
                             GError         **error)
{
  g_return_val_if_fail (g_task_is_valid (result, context), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

/**
 * mitogen_context_send:
 * @context: a context
 * @msg: a message; its destination is set to @context
 * @error: return location for an error
 *
 * Sends a message to a handle in @context.
 *
 * Returns: %TRUE when the message was passed on
 */
gboolean
mitogen_context_send (MitogenContext  *context,
                      MitogenMessage  *msg,
                      GError         **error)
{
  MitogenRouter *router;

  g_return_val_if_fail (MITOGEN_IS_CONTEXT (context), FALSE);
  g_return_val_if_fail (msg != NULL, FALSE);

  router = mitogen_context_get_router (context);
  if (router == NULL)
    {
      g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_FAILED,
                   "the router of context %s is gone", context->name);
      return FALSE;
    }
  msg->dst_id = context->id;
  return _mitogen_router_send (router, msg, error);
}

/**
 * mitogen_context_begin_send:
 * @context: a context
 * @msg: a message; its destination and reply_to are set
 *
 * Sends a message and returns the receiver its reply will reach (Mitogen's
 * `send_async`).
 *
 * Returns: (transfer full): the receiver of the reply
 */
MitogenReceiver *
mitogen_context_begin_send (MitogenContext *context,
                            MitogenMessage *msg)
{
  MitogenRouter *router;
  MitogenReceiver *recv;

  g_return_val_if_fail (MITOGEN_IS_CONTEXT (context), NULL);
  g_return_val_if_fail (msg != NULL, NULL);

  router = mitogen_context_get_router (context);
  g_return_val_if_fail (router != NULL, NULL);

  recv = mitogen_receiver_new_full (router, 0, context);
  msg->dst_id = context->id;
  msg->reply_to = mitogen_receiver_get_handle (recv);
  _mitogen_router_send (router, msg, NULL);
  return recv;
}

static gboolean
send_shutdown (MitogenContext *context)
{
  g_autoptr(MitogenMessage) msg = mitogen_message_new (context->id, MITOGEN_HANDLE_SHUTDOWN, NULL);
  MitogenRouter *router = mitogen_context_get_router (context);

  return router != NULL && _mitogen_router_send (router, msg, NULL);
}

/**
 * mitogen_context_shutdown:
 * @context: a context
 * @wait: whether to wait until it is gone
 *
 * Asks the context to exit (after the call it is running, if any) and,
 * with @wait, waits until its stream closes.
 */
void
mitogen_context_shutdown (MitogenContext *context,
                          gboolean        wait)
{
  g_return_if_fail (MITOGEN_IS_CONTEXT (context));

  /* Nothing to wait for when the message could not even be sent. */
  if (!send_shutdown (context) || !wait)
    return;

  /* The router marks the context lost on its broker thread. */
  g_mutex_lock (&context->lock);
  while (!context->lost)
    g_cond_wait (&context->lost_cond, &context->lock);
  g_mutex_unlock (&context->lock);
}

static void
shutdown_in_thread (GTask        *task,
                    gpointer      source_object,
                    gpointer      task_data,
                    GCancellable *cancellable)
{
  mitogen_context_shutdown (source_object, TRUE);
  g_task_return_boolean (task, TRUE);
}

/**
 * mitogen_context_shutdown_async:
 * @context: a context
 * @cancellable: (nullable): a #GCancellable
 * @callback: called once the context is gone
 * @user_data: data for @callback
 *
 * Asks the context to exit and calls back once it is gone.
 */
void
mitogen_context_shutdown_async (MitogenContext      *context,
                                GCancellable        *cancellable,
                                GAsyncReadyCallback  callback,
                                gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;

  g_return_if_fail (MITOGEN_IS_CONTEXT (context));

  task = g_task_new (context, cancellable, callback, user_data);
  g_task_set_source_tag (task, mitogen_context_shutdown_async);
  g_task_set_return_on_cancel (task, TRUE);
  g_task_run_in_thread (task, shutdown_in_thread);
}

/**
 * mitogen_context_shutdown_finish:
 * @context: a context
 * @result: the result given to the callback
 * @error: return location for an error
 *
 * Returns: %TRUE once the context is gone, %FALSE with @error set if the
 *   wait was cancelled
 */
gboolean
mitogen_context_shutdown_finish (MitogenContext  *context,
                                 GAsyncResult    *result,
                                 GError         **error)
{
  g_return_val_if_fail (g_task_is_valid (result, context), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}
