/* mitogen-context.c: a handle on one context (a running agent).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "mitogen-context-private.h"
#include "mitogen-message-private.h"

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

  GWeakRef        router;       /* the router that knows this context; thread-safe */
  guint32         id;           /* immutable */
  char           *name;         /* immutable */
  MitogenContext *via;          /* owned, nullable; immutable */
  GVariant       *remote_info;  /* owned, nullable; the ready frame; immutable */

  GMutex          lock;
  gboolean        lost;         /* guarded by @lock */
  GSList         *waiters;      /* guarded by @lock; GTask* of shutdown waits */
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
      g_value_set_string (value, self->name);
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
  GSList *waiters;

  g_mutex_lock (&context->lock);
  context->lost = TRUE;
  waiters = g_steal_pointer (&context->waiters);
  g_mutex_unlock (&context->lock);

  for (GSList *l = waiters; l != NULL; l = l->next)
    {
      GSource *cancelled = g_task_get_task_data (l->data);

      if (cancelled != NULL)
        g_source_destroy (cancelled);
      g_task_return_boolean (l->data, TRUE);
      g_object_unref (l->data);
    }
  g_slist_free (waiters);
}

void
_mitogen_context_emit_disconnected (MitogenContext *context)
{
  g_signal_emit (context, signals[SIGNAL_DISCONNECTED], 0);
}

/**
 * mitogen_context_get_id:
 * @context: a context
 *
 * Gets the context's id, unique in the tree of one master (Mitogen's
 * `context_id`).
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
 * Gets the context's name, for logs and errors.
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
 * Gets the context that started this one, when it was started through
 * another context.
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
 * mitogen_context_dup_router:
 * @context: a context
 *
 * Gets a new reference to the router that knows this context. Contexts
 * hold their router weakly, so this is %NULL once the router is gone.
 *
 * Returns: (transfer full) (nullable): the router that knows this context,
 *   or %NULL when it was finalized
 */
MitogenRouter *
mitogen_context_dup_router (MitogenContext *context)
{
  g_return_val_if_fail (MITOGEN_IS_CONTEXT (context), NULL);
  return g_weak_ref_get (&context->router);
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
 * Tells whether the context may still answer: %FALSE once its stream
 * closed, its route was withdrawn, or its router is gone.
 *
 * Returns: %FALSE once the context was lost
 */
gboolean
mitogen_context_is_connected (MitogenContext *context)
{
  g_autoptr(MitogenRouter) router = NULL;
  gboolean lost;

  g_return_val_if_fail (MITOGEN_IS_CONTEXT (context), FALSE);

  g_mutex_lock (&context->lock);
  lost = context->lost;
  g_mutex_unlock (&context->lock);
  if (lost)
    return FALSE;
  router = mitogen_context_dup_router (context);
  return router != NULL;
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
  return _mitogen_context_begin_call_full (context, function, args, FALSE);
}

MitogenReceiver *
_mitogen_context_begin_call_full (MitogenContext *context,
                                  const char     *function,
                                  GVariant       *args,
                                  gboolean        sensitive)
{
  g_autoptr(MitogenMessage) msg = NULL;
  g_autoptr(MitogenRouter) router = NULL;
  MitogenReceiver *recv;

  g_return_val_if_fail (MITOGEN_IS_CONTEXT (context), NULL);
  g_return_val_if_fail (function != NULL, NULL);
  g_return_val_if_fail (args == NULL || g_variant_is_of_type (args, G_VARIANT_TYPE_TUPLE), NULL);

  router = mitogen_context_dup_router (context);
  g_return_val_if_fail (router != NULL, NULL);

  recv = mitogen_receiver_new_full (router, 0, context);
  msg = _mitogen_message_new_call (context->id, MITOGEN_HANDLE_CALL_FUNCTION, function, args);
  msg->reply_to = mitogen_receiver_get_handle (recv);
  msg->sensitive = sensitive;
  /* A failure to route comes back to @recv as a dead message. */
  mitogen_router_route (router, msg, NULL);
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
  g_autoptr(MitogenRouter) router = NULL;

  g_return_if_fail (MITOGEN_IS_CONTEXT (context));
  g_return_if_fail (function != NULL);
  g_return_if_fail (args == NULL || g_variant_is_of_type (args, G_VARIANT_TYPE_TUPLE));

  router = mitogen_context_dup_router (context);
  g_return_if_fail (router != NULL);

  msg = _mitogen_message_new_call (context->id, MITOGEN_HANDLE_CALL_FUNCTION, function, args);
  mitogen_router_route (router, msg, NULL);
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
 * It waits for as long as the context takes, and a stopped or hung
 * context that keeps its stream open never answers: give the wait a
 * deadline with mitogen_context_call_with_timeout().
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
  return mitogen_context_call_with_timeout (context, function, args, -1, cancellable, error);
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
  mitogen_context_call_with_timeout_async (context, function, args, -1, cancellable,
                                           callback, user_data);
}

/**
 * mitogen_context_call_finish:
 * @context: a context
 * @result: the result given to the callback
 * @error: return location for an error
 *
 * Finishes mitogen_context_call_async().
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
  g_autoptr(MitogenRouter) router = NULL;

  g_return_val_if_fail (MITOGEN_IS_CONTEXT (context), FALSE);
  g_return_val_if_fail (msg != NULL, FALSE);

  router = mitogen_context_dup_router (context);
  if (router == NULL)
    {
      g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_FAILED,
                   "the router of context %s is gone", context->name);
      return FALSE;
    }
  msg->dst_id = context->id;
  return mitogen_router_route (router, msg, error);
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
  g_autoptr(MitogenRouter) router = NULL;
  MitogenReceiver *recv;

  g_return_val_if_fail (MITOGEN_IS_CONTEXT (context), NULL);
  g_return_val_if_fail (msg != NULL, NULL);

  router = mitogen_context_dup_router (context);
  g_return_val_if_fail (router != NULL, NULL);

  recv = mitogen_receiver_new_full (router, 0, context);
  msg->dst_id = context->id;
  msg->reply_to = mitogen_receiver_get_handle (recv);
  mitogen_router_route (router, msg, NULL);
  return recv;
}

static gboolean
send_shutdown (MitogenContext  *context,
               GError         **error)
{
  g_autoptr(MitogenMessage) msg = mitogen_message_new (context->id, MITOGEN_HANDLE_SHUTDOWN, NULL);
  g_autoptr(MitogenRouter) router = mitogen_context_dup_router (context);

  if (router == NULL)
    {
      g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_FAILED,
                   "the router of context %s is gone", context->name);
      return FALSE;
    }
  return mitogen_router_route (router, msg, error);
}

/* The wait's cancellable fired: fail the wait, unless the context's loss
 * completed it first. Runs in the caller's main context, from a source
 * that the loss destroys: a handler connected to the cancellable would
 * keep the task, and the task its cancellable, for ever. */
static gboolean
shutdown_cancelled (GCancellable *cancellable,
                    gpointer      data)
{
  GTask *task = data;
  MitogenContext *context = g_task_get_source_object (task);
  gboolean waiting;

  /* Whoever takes the task off the list completes it. */
  g_mutex_lock (&context->lock);
  waiting = g_slist_find (context->waiters, task) != NULL;
  context->waiters = g_slist_remove (context->waiters, task);
  g_mutex_unlock (&context->lock);
  if (waiting)
    {
      g_task_return_error_if_cancelled (task);
      g_object_unref (task);
    }
  return G_SOURCE_REMOVE;
}

/**
 * mitogen_context_shutdown_async:
 * @context: a context
 * @cancellable: (nullable): a #GCancellable
 * @callback: called once the context is gone
 * @user_data: data for @callback
 *
 * Asks the context to exit (after the call it is running, if any) and
 * calls back once its stream closed. Cancelling stops the wait, not the
 * shutdown.
 */
void
mitogen_context_shutdown_async (MitogenContext      *context,
                                GCancellable        *cancellable,
                                GAsyncReadyCallback  callback,
                                gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  GError *error = NULL;
  gboolean lost;

  g_return_if_fail (MITOGEN_IS_CONTEXT (context));

  task = g_task_new (context, cancellable, callback, user_data);
  g_task_set_source_tag (task, mitogen_context_shutdown_async);
  /* Before the task is on the list, where the loss may find it at once. */
  if (cancellable != NULL)
    {
      GSource *source = g_cancellable_source_new (cancellable);

      g_source_set_callback (source, G_SOURCE_FUNC (shutdown_cancelled), g_object_ref (task),
                             g_object_unref);
      g_source_attach (source, g_task_get_context (task));
      g_task_set_task_data (task, source, (GDestroyNotify) g_source_unref);
    }
  g_mutex_lock (&context->lock);
  lost = context->lost;
  if (!lost)
    context->waiters = g_slist_prepend (context->waiters, g_object_ref (task));
  g_mutex_unlock (&context->lock);

  if (lost)
    {
      if (cancellable != NULL)
        g_source_destroy (g_task_get_task_data (task));
      g_task_return_boolean (task, TRUE);
      return;
    }
  /* A message that cannot go: the context is as good as gone already,
   * and its loss completes the wait. */
  if (!send_shutdown (context, &error))
    g_debug ("shutting down %s: %s", context->name, error->message);
  g_clear_error (&error);
}

/**
 * mitogen_context_shutdown_finish:
 * @context: a context
 * @result: the result given to the callback
 * @error: return location for an error
 *
 * Finishes mitogen_context_shutdown_async().
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

static void
store_result (GObject      *source,
              GAsyncResult *result,
              gpointer      data)
{
  *(GAsyncResult **) data = g_object_ref (result);
}

static void
forward_cancel (GCancellable *cancellable,
                gpointer      stop)
{
  g_cancellable_cancel (stop);
}

static gboolean
note_timeout (gpointer data)
{
  *(gboolean *) data = TRUE;
  return G_SOURCE_REMOVE;
}

/**
 * mitogen_context_shutdown:
 * @context: a context
 * @timeout_msec: how long to wait until it is gone: 0 not at all, -1 for
 *   ever
 * @cancellable: (nullable): a #GCancellable to stop waiting
 * @error: return location for an error
 *
 * Asks the context to exit (after the call it is running, if any) and
 * waits until its stream closes, for at most @timeout_msec. Must not be
 * called on the broker thread when it waits.
 *
 * Returns: %TRUE when the context is gone (or, with a @timeout_msec of 0,
 *   when it was asked to go), %FALSE with %MITOGEN_ERROR_TIMEOUT or
 *   %G_IO_ERROR_CANCELLED
 */
gboolean
mitogen_context_shutdown (MitogenContext  *context,
                          int              timeout_msec,
                          GCancellable    *cancellable,
                          GError         **error)
{
  g_autoptr(GMainContext) main_context = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GCancellable) stop = NULL;
  g_autoptr(GSource) timeout = NULL;
  gboolean timed_out = FALSE;
  gulong forward_id = 0;
  gboolean ok;

  g_return_val_if_fail (MITOGEN_IS_CONTEXT (context), FALSE);

  if (timeout_msec == 0)
    return send_shutdown (context, error);

  main_context = g_main_context_new ();
  g_main_context_push_thread_default (main_context);
  stop = g_cancellable_new ();
  if (cancellable != NULL)
    forward_id = g_cancellable_connect (cancellable, G_CALLBACK (forward_cancel),
                                        g_object_ref (stop), g_object_unref);
  if (timeout_msec > 0)
    {
      timeout = g_timeout_source_new (timeout_msec);
      g_source_set_callback (timeout, note_timeout, &timed_out, NULL);
      g_source_attach (timeout, main_context);
    }
  mitogen_context_shutdown_async (context, stop, store_result, &result);
  while (result == NULL)
    {
      g_main_context_iteration (main_context, TRUE);
      if (timed_out)
        g_cancellable_cancel (stop);
    }
  if (timeout != NULL)
    g_source_destroy (timeout);
  g_cancellable_disconnect (cancellable, forward_id);
  g_main_context_pop_thread_default (main_context);

  ok = mitogen_context_shutdown_finish (context, result, NULL);
  if (!ok && timed_out)
    g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_TIMEOUT,
                 "context %s did not exit within %d ms", context->name, timeout_msec);
  else if (!ok)
    g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_CANCELLED, "the wait was cancelled");
  return ok;
}
