/* mitogen-call.c: the function registry and what a function knows of the
 * call it serves.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "mitogen-call-private.h"
#include "mitogen-message-private.h"
#include "mitogen-module-private.h"

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
        result = invoke (router, msg, function, args, &error);
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
