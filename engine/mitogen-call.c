/* mitogen-call.c: one incoming call: what its function knows of it, and
 * how it answers, at once or later (as GDBusMethodInvocation does).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "mitogen-call-private.h"
#include "mitogen-message-private.h"
#include "mitogen-module-private.h"
#include "mitogen-registry-private.h"

/**
 * MitogenCall:
 *
 * Passed to every #MitogenFunction: the router of the context running it,
 * the context that called, and the call's message. It replaces Mitogen's
 * `takes_router` and `takes_econtext`.
 *
 * It is also the call's reply handle. A function answers by returning a
 * value or setting an error; or it calls mitogen_call_return_later(), keeps
 * a reference to the call, returns %NULL, and answers once later, from any
 * thread, with mitogen_call_return_value() or mitogen_call_return_error().
 * The context runs its next call meanwhile. A call let go of without an
 * answer is answered with an error, so no caller waits for ever.
 */
struct _MitogenCall
{
  GObject         parent_instance;

  MitogenRouter  *router;       /* owned; immutable */
  MitogenContext *caller;       /* owned; immutable */
  MitogenMessage *message;      /* owned; immutable */
  char           *function;     /* immutable */
  char           *context_name; /* immutable: names this context in errors */
  MitogenCallCancel *cancel;    /* owned; its GCancellable made on first use */
  gint            state;        /* atomic: CALL_RUNNING, _DEFERRED, _ANSWERED */
  GDestroyNotify  done_func;    /* immutable: runs once the call is answered */
  gpointer        done_data;    /* immutable */
};

enum
{
  CALL_RUNNING,
  CALL_DEFERRED,
  CALL_ANSWERED,
};

G_DEFINE_FINAL_TYPE (MitogenCall, mitogen_call, G_TYPE_OBJECT)

static void call_answer (MitogenCall *call, GVariant *value, const GError *error);

static void
mitogen_call_finalize (GObject *object)
{
  MitogenCall *self = MITOGEN_CALL (object);

  if (g_atomic_int_get (&self->state) == CALL_DEFERRED)
    {
      g_autoptr(GError) error = g_error_new (MITOGEN_ERROR, MITOGEN_ERROR_CALL,
                                             "%s let go of its call without answering",
                                             self->function);
      g_warning ("%s", error->message);
      call_answer (self, NULL, error);
    }

  g_clear_object (&self->router);
  g_clear_object (&self->caller);
  g_clear_pointer (&self->message, mitogen_message_unref);
  g_clear_pointer (&self->cancel, _mitogen_call_cancel_unref);
  g_free (self->function);
  g_free (self->context_name);
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

static MitogenCall *
call_new (MitogenRouter  *router,
          MitogenMessage *msg,
          const char     *function,
          const char     *context_name,
          MitogenCallCancel *cancel,
          GDestroyNotify  done_func,
          gpointer        done_data)
{
  MitogenCall *self = g_object_new (MITOGEN_TYPE_CALL, NULL);

  self->router = g_object_ref (router);
  self->caller = mitogen_router_context_by_id (router, msg->src_id);
  self->message = mitogen_message_ref (msg);
  self->function = g_strdup (function);
  self->context_name = g_strdup (context_name);
  self->cancel = cancel != NULL ? _mitogen_call_cancel_ref (cancel) : _mitogen_call_cancel_new ();
  self->done_func = done_func;
  self->done_data = done_data;
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
 * Gets a #GCancellable belonging to this call, for a function to hand to
 * the blocking I/O it does. It fires when the caller cancels the call.
 *
 * Returns: (transfer none): a cancellable a long-running function may watch
 */
GCancellable *
mitogen_call_get_cancellable (MitogenCall *call)
{
  g_return_val_if_fail (MITOGEN_IS_CALL (call), NULL);
  return _mitogen_call_cancel_get (call->cancel);
}

struct _MitogenCallCancel
{
  gint          fired;        /* atomic */
  GCancellable *cancellable;  /* atomic pointer; owned; made on first use */
};

MitogenCallCancel *
_mitogen_call_cancel_new (void)
{
  return g_atomic_rc_box_new0 (MitogenCallCancel);
}

MitogenCallCancel *
_mitogen_call_cancel_ref (MitogenCallCancel *cancel)
{
  return g_atomic_rc_box_acquire (cancel);
}

static void
call_cancel_clear (gpointer data)
{
  MitogenCallCancel *cancel = data;

  g_clear_object (&cancel->cancellable);
}

void
_mitogen_call_cancel_unref (MitogenCallCancel *cancel)
{
  g_atomic_rc_box_release_full (cancel, call_cancel_clear);
}

/* Whichever of fire and get comes second cancels the GCancellable: fire
 * sets @fired before it looks for one, get installs one before it looks
 * at @fired. */
void
_mitogen_call_cancel_fire (MitogenCallCancel *cancel)
{
  GCancellable *cancellable;

  g_atomic_int_set (&cancel->fired, TRUE);
  cancellable = g_atomic_pointer_get (&cancel->cancellable);
  if (cancellable != NULL)
    g_cancellable_cancel (cancellable);
}

GCancellable *
_mitogen_call_cancel_get (MitogenCallCancel *cancel)
{
  GCancellable *cancellable = g_atomic_pointer_get (&cancel->cancellable);

  if (cancellable == NULL)
    {
      GCancellable *made = g_cancellable_new ();

      if (g_atomic_pointer_compare_and_exchange (&cancel->cancellable, NULL, made))
        cancellable = made;
      else
        {
          g_object_unref (made);
          cancellable = g_atomic_pointer_get (&cancel->cancellable);
        }
    }
  if (g_atomic_int_get (&cancel->fired))
    g_cancellable_cancel (cancellable);
  return cancellable;
}

/* Sends the one answer: a value, or @error. Any thread. */
static void
call_answer (MitogenCall  *call,
             GVariant     *value,
             const GError *error)
{
  MitogenMessage *msg = call->message;
  g_autoptr(MitogenMessage) reply = NULL;
  g_autoptr(GVariant) sunk = value != NULL ? g_variant_ref_sink (value) : NULL;

  g_atomic_int_set (&call->state, CALL_ANSWERED);
  if (msg->reply_to == 0 || msg->reply_to == MITOGEN_IS_DEAD)
    {
      if (error != NULL)
        g_info ("%s() failed and nobody waits for its reply: %s", call->function, error->message);
    }
  else
    {
      if (error != NULL)
        reply = _mitogen_message_make_error_reply (msg, error, call->context_name, call->function);
      else
        /* mitogen_message_new() takes its own reference: passing it one
         * of ours leaked every reply value. */
        {
          g_autoptr(GVariant) value_or_unit = sunk != NULL ? g_variant_ref (sunk) : _mitogen_unit ();

          reply = _mitogen_message_make_reply (msg, value_or_unit);
        }
      mitogen_router_route (call->router, reply, NULL);
    }
  if (call->done_func != NULL)
    call->done_func (call->done_data);
}

/* Moves @call from @from to answered; FALSE (and a critical) if it was
 * answered already or is not in @from. */
static gboolean
call_take_answer (MitogenCall *call,
                  gint         from,
                  const char  *what)
{
  if (g_atomic_int_compare_and_exchange (&call->state, from, CALL_ANSWERED))
    return TRUE;
  g_critical ("%s: %s() was answered already or not deferred", what, call->function);
  return FALSE;
}

/**
 * mitogen_call_return_later:
 * @call: a call
 *
 * Says that the function answers later with mitogen_call_return_value()
 * or mitogen_call_return_error(). Keep a reference to @call until then;
 * what the function returns is ignored.
 */
void
mitogen_call_return_later (MitogenCall *call)
{
  g_return_if_fail (MITOGEN_IS_CALL (call));

  if (!g_atomic_int_compare_and_exchange (&call->state, CALL_RUNNING, CALL_DEFERRED))
    g_critical ("mitogen_call_return_later: %s() was answered already", call->function);
}

/**
 * mitogen_call_return_value:
 * @call: a call deferred with mitogen_call_return_later()
 * @value: (nullable): the result; a floating reference is sunk; %NULL for
 *   no value
 *
 * Answers a deferred call. Any thread; once.
 */
void
mitogen_call_return_value (MitogenCall *call,
                           GVariant    *value)
{
  g_return_if_fail (MITOGEN_IS_CALL (call));

  if (call_take_answer (call, CALL_DEFERRED, "mitogen_call_return_value"))
    call_answer (call, value, NULL);
  else if (value != NULL)
    g_variant_unref (g_variant_ref_sink (value));
}

/**
 * mitogen_call_return_error:
 * @call: a call deferred with mitogen_call_return_later()
 * @error: the error; its domain and code reach the caller
 *
 * Answers a deferred call with an error. Any thread; once.
 */
void
mitogen_call_return_error (MitogenCall  *call,
                           const GError *error)
{
  g_return_if_fail (MITOGEN_IS_CALL (call));
  g_return_if_fail (error != NULL);

  if (call_take_answer (call, CALL_DEFERRED, "mitogen_call_return_error"))
    call_answer (call, NULL, error);
}

/* The registration of @function, fetching its module from the parent if
 * this context lacks it. */
static MitogenRegistration *
find_function (MitogenRouter  *router,
               const char     *function,
               GError        **error)
{
  g_autofree char *module = NULL;
  g_autoptr(GError) fetch_error = NULL;
  MitogenRegistration *reg = _mitogen_registry_lookup (function);

  if (reg != NULL)
    return reg;
  module = g_strndup (function, strcspn (function, "."));
  if (!_mitogen_module_ensure (router, module, NULL, &fetch_error))
    {
      g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_CALL,
                   "no function named “%s” is registered, and its module is not "
                   "available: %s", function, fetch_error->message);
      return NULL;
    }
  reg = _mitogen_registry_lookup (function);
  if (reg == NULL)
    g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_CALL,
                 "module %s has no function named “%s”", module, function);
  return reg;
}

/* The function's name and arguments from a `(sv)` request. */
static gboolean
parse_request (MitogenMessage  *msg,
               char           **name,
               GVariant       **args,
               GError         **error)
{
  if (!_mitogen_message_get_call (msg, name, args, error))
    return FALSE;
  if (!g_variant_is_of_type (*args, G_VARIANT_TYPE_TUPLE))
    {
      g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_CALL,
                   "the arguments of %s must be a tuple, not '%s'",
                   *name, g_variant_get_type_string (*args));
      return FALSE;
    }
  return TRUE;
}

void
_mitogen_call_run_message (MitogenRouter  *router,
                           MitogenMessage *msg,
                           const char     *context_name,
                           MitogenCallCancel *cancel,
                           GDestroyNotify  done_func,
                           gpointer        done_data)
{
  g_autofree char *name = NULL;
  g_autoptr(GVariant) args = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(MitogenRegistration) reg = NULL;
  g_autoptr(MitogenCall) call = NULL;
  const char *function = "?";
  GVariant *result = NULL;

  if (parse_request (msg, &name, &args, &error))
    {
      function = name;
      reg = find_function (router, function, &error);
    }
  call = call_new (router, msg, function, context_name, cancel, done_func, done_data);
  if (reg != NULL)
    result = _mitogen_registration_invoke (reg, call, g_variant_n_children (args) > 0 ? args : NULL,
                                           &error);
  /* The function gave us its reference, floating or not: a full one (core.echo
   * returns a child of its arguments) is ours to drop, not one to add to. */
  if (result != NULL)
    g_variant_take_ref (result);
  if (error != NULL)
    g_clear_pointer (&result, g_variant_unref);
  if (g_atomic_int_compare_and_exchange (&call->state, CALL_RUNNING, CALL_ANSWERED))
    call_answer (call, result, error);
  g_clear_pointer (&result, g_variant_unref);
}
