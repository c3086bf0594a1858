/* mitogen-call.c: the function registry and what a function knows of the
 * call it serves.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "mitogen-call-private.h"
#include "mitogen-latch-private.h"
#include "mitogen-message-private.h"
#include "mitogen-module-private.h"
#include "mitogen-stream-private.h"

/**
 * MitogenCall:
 *
 * Passed to every #MitogenFunction: the router of the context running it,
 * the context that called, and the call's message. It replaces Mitogen's
 * `takes_router` and `takes_econtext`.
 */
struct _MitogenCall
{
  GObject         parent_instance;

  MitogenRouter  *router;      /* owned; immutable */
  MitogenContext *caller;      /* owned; immutable */
  MitogenMessage *message;     /* owned; immutable */
  char           *function;    /* immutable */
  GCancellable   *cancellable; /* owned, created on first use: most calls never ask */
};

G_DEFINE_FINAL_TYPE (MitogenCall, mitogen_call, G_TYPE_OBJECT)

typedef struct
{
  MitogenFunction func;
  gpointer        user_data;
  GDestroyNotify  notify;
} Registration;

static GMutex registry_lock;
static GHashTable *registry;  /* guarded by registry_lock; name → Registration* */

static void
mitogen_call_finalize (GObject *object)
{
  MitogenCall *self = MITOGEN_CALL (object);

  g_clear_object (&self->router);
  g_clear_object (&self->caller);
  g_clear_pointer (&self->message, mitogen_message_unref);
  g_clear_object (&self->cancellable);
  g_free (self->function);
  G_OBJECT_CLASS (mitogen_call_parent_class)->finalize (object);
}

static void
mitogen_call_class_init (MitogenCallClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = mitogen_call_finalize;
}

static void
mitogen_call_init (MitogenCall *self)
{
}

MitogenCall *
_mitogen_call_new (MitogenRouter  *router,
                   MitogenContext *caller,
                   MitogenMessage *msg,
                   const char     *function)
{
  MitogenCall *self = g_object_new (MITOGEN_TYPE_CALL, NULL);

  self->router = g_object_ref (router);
  self->caller = g_object_ref (caller);
  self->message = mitogen_message_ref (msg);
  self->function = g_strdup (function);
  return self;
}

/**
 * mitogen_call_get_router:
 * @call: a call
 *
 * Gets the router of the context the function runs in, for functions that
 * start contexts or open channels of their own.
 *
 * Returns: (transfer none): the router of the context running the function
 */
MitogenRouter *
mitogen_call_get_router (MitogenCall *call)
{
  g_return_val_if_fail (MITOGEN_IS_CALL (call), NULL);
  return call->router;
}

/**
 * mitogen_call_get_caller:
 * @call: a call
 *
 * Gets the context that asked for this call, so that a function can send
 * back to it beyond the one reply (for example through a #MitogenSender).
 *
 * Returns: (transfer none): the context that made the call
 */
MitogenContext *
mitogen_call_get_caller (MitogenCall *call)
{
  g_return_val_if_fail (MITOGEN_IS_CALL (call), NULL);
  return call->caller;
}

/**
 * mitogen_call_get_function:
 * @call: a call
 *
 * Gets the name the caller asked for, in the form "module.name".
 *
 * Returns: the "module.name" being called
 */
const char *
mitogen_call_get_function (MitogenCall *call)
{
  g_return_val_if_fail (MITOGEN_IS_CALL (call), NULL);
  return call->function;
}

/**
 * mitogen_call_get_message:
 * @call: a call
 *
 * Gets the request message as it arrived, with its header (source,
 * authority, reply handle) and its `(sv)` body.
 *
 * Returns: (transfer none): the CALL_FUNCTION message
 */
MitogenMessage *
mitogen_call_get_message (MitogenCall *call)
{
  g_return_val_if_fail (MITOGEN_IS_CALL (call), NULL);
  return call->message;
}

/**
 * mitogen_call_get_cancellable:
 * @call: a call
 *
 * Gets a #GCancellable belonging to this call, made on first request, for
 * a function to hand to the blocking I/O it does. The engine does not
 * cancel it yet: a caller going away does not interrupt a running
 * function.
 *
 * Returns: (transfer none): a cancellable a long-running function may watch
 */
GCancellable *
mitogen_call_get_cancellable (MitogenCall *call)
{
  g_return_val_if_fail (MITOGEN_IS_CALL (call), NULL);
  if (call->cancellable == NULL)
    call->cancellable = g_cancellable_new ();
  return call->cancellable;
}

static void
registration_free (gpointer data)
{
  Registration *reg = data;

  if (reg->notify != NULL)
    reg->notify (reg->user_data);
  g_free (reg);
}

static void
ensure_registry (void)
{
  static gsize done = 0;

  if (g_once_init_enter (&done))
    {
      registry = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, registration_free);
      g_once_init_leave (&done, 1);
    }
}

static gboolean
name_is_valid (const char *name)
{
  const char *dot = strchr (name, '.');

  return dot != NULL && dot != name && dot[1] != '\0';
}

/**
 * mitogen_register_function:
 * @name: the "module.name" callers use
 * @func: (scope notified) (closure user_data) (destroy notify): the function
 * @user_data: data for @func
 * @notify: (nullable): frees @user_data when the function is replaced or
 *   unregistered
 *
 * Makes a function callable by other contexts in this process. A name
 * registered before is replaced.
 *
 * Returns: %TRUE, or %FALSE when @name is not of the form "module.name"
 */
gboolean
mitogen_register_function (const char      *name,
                           MitogenFunction  func,
                           gpointer         user_data,
                           GDestroyNotify   notify)
{
  Registration *reg;

  g_return_val_if_fail (name != NULL, FALSE);
  g_return_val_if_fail (func != NULL, FALSE);

  if (!name_is_valid (name))
    {
      g_critical ("function name “%s” is not of the form module.name", name);
      return FALSE;
    }
  ensure_registry ();
  reg = g_new0 (Registration, 1);
  reg->func = func;
  reg->user_data = user_data;
  reg->notify = notify;
  g_mutex_lock (&registry_lock);
  g_hash_table_replace (registry, g_strdup (name), reg);
  g_mutex_unlock (&registry_lock);
  return TRUE;
}

/**
 * mitogen_unregister_function:
 * @name: a "module.name"
 *
 * Removes the function registered under @name with
 * mitogen_register_function(). Its destroy notify runs at once, so do not
 * unregister a function while a call to it may be running.
 *
 * Returns: %TRUE when a function was registered under @name
 */
gboolean
mitogen_unregister_function (const char *name)
{
  gboolean found;

  g_return_val_if_fail (name != NULL, FALSE);

  ensure_registry ();
  g_mutex_lock (&registry_lock);
  found = g_hash_table_remove (registry, name);
  g_mutex_unlock (&registry_lock);
  return found;
}

/**
 * mitogen_has_function:
 * @name: a "module.name"
 *
 * Tells whether this process has a function registered under @name.
 * Functions a context lacks may still be fetched from its parent on first
 * call.
 *
 * Returns: %TRUE when a function is registered under @name here
 */
gboolean
mitogen_has_function (const char *name)
{
  gboolean found;

  g_return_val_if_fail (name != NULL, FALSE);

  ensure_registry ();
  g_mutex_lock (&registry_lock);
  found = g_hash_table_contains (registry, name);
  g_mutex_unlock (&registry_lock);
  return found;
}

static gboolean
lookup_function (const char       *name,
                 MitogenFunction  *func,
                 gpointer         *user_data)
{
  Registration *reg;

  ensure_registry ();
  g_mutex_lock (&registry_lock);
  reg = g_hash_table_lookup (registry, name);
  if (reg != NULL)
    {
      *func = reg->func;
      *user_data = reg->user_data;
    }
  g_mutex_unlock (&registry_lock);
  return reg != NULL;
}

/* Looks the function up (fetching its module if need be) and runs it. */
static GVariant *
invoke (MitogenRouter   *router,
        MitogenMessage  *msg,
        const char      *function,
        GVariant        *args,
        GCancellable    *cancellable,
        GError         **error)
{
  g_autoptr(MitogenContext) caller = NULL;
  g_autoptr(MitogenCall) call = NULL;
  MitogenFunction func = NULL;
  gpointer user_data = NULL;
  GError *local_error = NULL;
  GVariant *result;

  if (!lookup_function (function, &func, &user_data))
    {
      g_autofree char *module = g_strndup (function, strcspn (function, "."));
      g_autoptr(GError) fetch_error = NULL;

      /* A module this context lacks comes from its parent. */
      if (!_mitogen_module_ensure (router, module, NULL, &fetch_error))
        {
          g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_CALL,
                       "no function named “%s” is registered, and its module is not "
                       "available: %s", function, fetch_error->message);
          return NULL;
        }
      if (!lookup_function (function, &func, &user_data))
        {
          g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_CALL,
                       "module %s has no function named “%s”", module, function);
          return NULL;
        }
    }

  caller = mitogen_router_context_by_id (router, msg->src_id);
  call = _mitogen_call_new (router, caller, msg, function);
  if (cancellable != NULL)
    call->cancellable = g_object_ref (cancellable);
  result = func (call, g_variant_n_children (args) > 0 ? args : NULL, user_data, &local_error);
  if (local_error != NULL)
    {
      g_clear_pointer (&result, g_variant_unref);
      g_propagate_error (error, local_error);
      return NULL;
    }
  if (result == NULL)
    result = g_variant_new_tuple (NULL, 0);
  return g_variant_take_ref (result);
}

void
_mitogen_call_run_message (MitogenRouter  *router,
                           MitogenMessage *msg,
                           const char     *context_name)
{
  _mitogen_call_run_message_full (router, msg, context_name, NULL);
}

void
_mitogen_call_run_message_full (MitogenRouter  *router,
                                MitogenMessage *msg,
                                const char     *context_name,
                                GCancellable   *cancellable)
{
  g_autoptr(GVariant) request = NULL;
  g_autoptr(GVariant) args = NULL;
  g_autoptr(GVariant) result = NULL;
  g_autoptr(MitogenMessage) reply = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) name_v = NULL;  /* holds what @function points into */
  const char *function = "?";

  request = mitogen_message_unpack (msg, &error);
  if (request != NULL && !g_variant_is_of_type (request, G_VARIANT_TYPE ("(sv)")))
    g_set_error (&error, MITOGEN_ERROR, MITOGEN_ERROR_PROTOCOL,
                 "a call request must be of type '(sv)', not '%s'",
                 g_variant_get_type_string (request));

  if (error == NULL)
    {
      g_autoptr(GVariant) boxed = g_variant_get_child_value (request, 1);

      name_v = g_variant_get_child_value (request, 0);

      /* Child by child: g_variant_get() parses its format string each
       * time, which costs more than the rest of a ping. */
      function = g_variant_get_string (name_v, NULL);
      args = g_variant_get_variant (boxed);
      if (!g_variant_is_of_type (args, G_VARIANT_TYPE_TUPLE))
        g_set_error (&error, MITOGEN_ERROR, MITOGEN_ERROR_CALL,
                     "the arguments of %s must be a tuple, not '%s'",
                     function, g_variant_get_type_string (args));
      else
        result = invoke (router, msg, function, args, cancellable, &error);
    }

  if (msg->reply_to == 0 || msg->reply_to == MITOGEN_IS_DEAD)
    {
      if (error != NULL)
        g_info ("%s() failed and nobody waits for its reply: %s", function, error->message);
      return;
    }
  if (error != NULL)
    reply = _mitogen_message_make_error_reply (msg, error, context_name, function);
  else
    reply = _mitogen_message_make_reply (msg, result);
  mitogen_router_route (router, reply, NULL);
}

/* ---- the call queue and cancellation ----------------------------------- */

/* One accepted call. The queue's latch and its table each hold a ref. */
typedef struct
{
  MitogenMessage *msg;          /* owned; immutable */
  guint64         key;          /* immutable; 0 when it cannot be cancelled */
  gboolean        cancelled;    /* guarded by the queue's lock */
  GCancellable   *cancellable;  /* owned; guarded by the queue's lock; set
                                 * when the call starts running */
} PendingCall;

struct _MitogenCallQueue
{
  MitogenRouter *router;        /* owned; immutable */
  char          *context_name;  /* immutable */
  MitogenLatch  *latch;         /* owned; PendingCall refs in arrival order */
  guint32        cancel_handle; /* immutable; MITOGEN_HANDLE_CANCEL_CALL */

  GMutex         lock;
  GHashTable    *pending;       /* guarded by @lock; key → PendingCall ref */
};

static void
pending_call_clear (gpointer data)
{
  PendingCall *pc = data;

  mitogen_message_unref (pc->msg);
  g_clear_object (&pc->cancellable);
}

static void
pending_call_release (gpointer data)
{
  g_atomic_rc_box_release_full (data, pending_call_clear);
}

/* A call is known by who made it and where its reply goes: reply handles
 * are unique within the caller, never across callers. */
static guint64
call_key (guint32 src_id,
          guint32 reply_to)
{
  return ((guint64) src_id << 32) | reply_to;
}

static gboolean
key_is_cancellable (guint32 reply_to)
{
  return reply_to != 0 && reply_to != MITOGEN_IS_DEAD;
}

static guint
key_hash (gconstpointer key)
{
  return g_int64_hash (key);
}

static gboolean
key_equal (gconstpointer a,
           gconstpointer b)
{
  return g_int64_equal (a, b);
}

/* The function named by a call request, for the cancelled reply. */
static char *
request_function (MitogenMessage *msg)
{
  g_autoptr(GVariant) request = mitogen_message_unpack (msg, NULL);
  g_autoptr(GVariant) name = NULL;

  if (request == NULL || !g_variant_is_of_type (request, G_VARIANT_TYPE ("(sv)")))
    return NULL;
  name = g_variant_get_child_value (request, 0);
  return g_variant_dup_string (name, NULL);
}

static void
answer_cancelled (MitogenCallQueue *queue,
                  PendingCall      *pc)
{
  g_autoptr(GError) error = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED,
                                                 "cancelled by its caller before it started");
  g_autofree char *function = request_function (pc->msg);
  g_autoptr(MitogenMessage) reply = NULL;

  reply = _mitogen_message_make_error_reply (pc->msg, error, queue->context_name, function);
  mitogen_router_route (queue->router, reply, NULL);
}

/* Broker thread: a MITOGEN_HANDLE_CANCEL_CALL message. Any context may
 * send one, so it only ever touches a call of its own sender. */
static void
on_cancel_call (MitogenMessage *msg,
                gpointer        data)
{
  MitogenCallQueue *queue = data;
  g_autoptr(GVariant) value = NULL;
  g_autoptr(GCancellable) running = NULL;
  PendingCall *pc;
  guint64 key;
  gboolean answer = FALSE;

  if (mitogen_message_is_dead (msg))
    return;
  value = mitogen_message_unpack (msg, NULL);
  if (value == NULL || !g_variant_is_of_type (value, G_VARIANT_TYPE_UINT32))
    {
      g_debug ("malformed cancel message from context %u ignored", msg->src_id);
      return;
    }
  key = call_key (msg->src_id, g_variant_get_uint32 (value));

  g_mutex_lock (&queue->lock);
  pc = g_hash_table_lookup (queue->pending, &key);
  /* The key holds the source; the authority must match too. */
  if (pc != NULL && pc->msg->auth_id == msg->auth_id && !pc->cancelled)
    {
      pc->cancelled = TRUE;
      if (pc->cancellable != NULL)
        running = g_object_ref (pc->cancellable);
      else
        answer = TRUE;
      g_atomic_rc_box_acquire (pc);
    }
  else
    pc = NULL;
  g_mutex_unlock (&queue->lock);

  if (pc == NULL)
    {
      g_debug ("cancel from context %u names no call of its own; ignored", msg->src_id);
      return;
    }
  /* Outside the lock: cancel handlers run here, in this thread. */
  if (running != NULL)
    g_cancellable_cancel (running);
  else if (answer)
    answer_cancelled (queue, pc);
  pending_call_release (pc);
}

MitogenCallQueue *
_mitogen_call_queue_new (MitogenRouter *router,
                         const char    *context_name)
{
  MitogenCallQueue *queue = g_new0 (MitogenCallQueue, 1);

  queue->router = g_object_ref (router);
  queue->context_name = g_strdup (context_name);
  queue->latch = _mitogen_latch_new (pending_call_release);
  g_mutex_init (&queue->lock);
  queue->pending = g_hash_table_new_full (key_hash, key_equal, NULL, pending_call_release);
  queue->cancel_handle = mitogen_router_add_handler (router, MITOGEN_HANDLE_CANCEL_CALL, NULL,
                                                     on_cancel_call, queue, NULL);
  return queue;
}

void
_mitogen_call_queue_free (MitogenCallQueue *queue)
{
  mitogen_router_del_handler (queue->router, queue->cancel_handle);
  _mitogen_latch_close (queue->latch);
  _mitogen_latch_unref (queue->latch);
  g_hash_table_destroy (queue->pending);
  g_mutex_clear (&queue->lock);
  g_object_unref (queue->router);
  g_free (queue->context_name);
  g_free (queue);
}

/* Forgets @pc, unless its key now names another call. Lock held. */
static void
forget_unlocked (MitogenCallQueue *queue,
                 PendingCall      *pc)
{
  if (pc->key != 0 && g_hash_table_lookup (queue->pending, &pc->key) == pc)
    g_hash_table_remove (queue->pending, &pc->key);
}

void
_mitogen_call_queue_push (MitogenCallQueue *queue,
                          MitogenMessage   *msg)
{
  PendingCall *pc = g_atomic_rc_box_new0 (PendingCall);

  pc->msg = mitogen_message_ref (msg);
  if (key_is_cancellable (msg->reply_to))
    {
      pc->key = call_key (msg->src_id, msg->reply_to);
      g_mutex_lock (&queue->lock);
      /* A caller reusing a reply handle while its first call is pending
       * can cancel only the first. */
      if (!g_hash_table_contains (queue->pending, &pc->key))
        g_hash_table_insert (queue->pending, &pc->key, g_atomic_rc_box_acquire (pc));
      g_mutex_unlock (&queue->lock);
    }
  /* A closed queue (the context shuts down) drops the call. */
  g_atomic_rc_box_acquire (pc);
  if (!_mitogen_latch_put (queue->latch, pc))
    {
      g_mutex_lock (&queue->lock);
      forget_unlocked (queue, pc);
      g_mutex_unlock (&queue->lock);
    }
  pending_call_release (pc);
}

gboolean
_mitogen_call_queue_run_next (MitogenCallQueue *queue)
{
  PendingCall *pc = _mitogen_latch_get (queue->latch, -1, NULL, NULL);
  g_autoptr(GCancellable) cancellable = NULL;
  gboolean cancelled;

  if (pc == NULL)
    return FALSE;

  g_mutex_lock (&queue->lock);
  cancelled = pc->cancelled;
  if (!cancelled)
    pc->cancellable = g_cancellable_new ();
  cancellable = pc->cancellable != NULL ? g_object_ref (pc->cancellable) : NULL;
  if (cancelled)
    forget_unlocked (queue, pc);
  g_mutex_unlock (&queue->lock);

  /* A call cancelled while it waited was answered then. */
  if (!cancelled)
    {
      /* Let the broker write a burst of replies in one go while more calls
       * wait; the last reply of a burst goes straight out. */
      _mitogen_stream_set_thread_batching (_mitogen_latch_size (queue->latch) > 0);
      _mitogen_call_run_message_full (queue->router, pc->msg, queue->context_name, cancellable);
      g_mutex_lock (&queue->lock);
      forget_unlocked (queue, pc);
      g_mutex_unlock (&queue->lock);
    }
  pending_call_release (pc);
  return TRUE;
}

guint
_mitogen_call_queue_size (MitogenCallQueue *queue)
{
  return _mitogen_latch_size (queue->latch);
}

void
_mitogen_call_queue_close (MitogenCallQueue *queue)
{
  _mitogen_latch_close (queue->latch);
}

void
_mitogen_call_send_cancel (MitogenContext *context,
                           guint32         reply_to)
{
  g_autoptr(MitogenMessage) msg = NULL;
  g_autoptr(MitogenRouter) router = mitogen_context_dup_router (context);

  if (router == NULL || !key_is_cancellable (reply_to))
    return;
  msg = mitogen_message_new (mitogen_context_get_id (context), MITOGEN_HANDLE_CANCEL_CALL,
                             g_variant_new_uint32 (reply_to));
  /* A lost context has nothing left to cancel: ignore a failure. */
  mitogen_router_route (router, msg, NULL);
}
