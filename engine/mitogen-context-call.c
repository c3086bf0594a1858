/* mitogen-context-call.c: calls through a context that wait for their
 * reply, with a deadline and a cancellable; both reach into the context.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "mitogen-call-queue-private.h"
#include "mitogen-context-private.h"

/* What an asynchronous call needs once its wait ends. */
typedef struct
{
  char *function;      /* owned: names the call in a timeout */
  int   timeout_msec;  /* as given: -1 or more than 0 */
} CallWait;

static void
call_wait_free (CallWait *wait)
{
  g_free (wait->function);
  g_free (wait);
}

/* The wait for @recv's reply ended without one (@error). A cancelled or
 * timed-out call is cancelled in @context too, so that it stops using the
 * context's one thread; a reply that still comes finds its receiver closed
 * and is dropped. A timeout, or a context lost (its dead notice names
 * neither), says which call failed, where. */
static GError *
call_abandoned (MitogenContext  *context,
                MitogenReceiver *recv,
                const char      *function,
                int              timeout_msec,
                GError          *error)
{
  gboolean timed_out = g_error_matches (error, MITOGEN_ERROR, MITOGEN_ERROR_TIMEOUT);

  if (timed_out || g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    _mitogen_call_send_cancel (context, mitogen_receiver_get_handle (recv));
  if (g_error_matches (error, MITOGEN_ERROR, MITOGEN_ERROR_CHANNEL))
    g_prefix_error (&error, "call to %s in %s failed: ", function,
                    mitogen_context_get_name (context));
  if (!timed_out)
    return error;
  g_error_free (error);
  return g_error_new (MITOGEN_ERROR, MITOGEN_ERROR_TIMEOUT,
                      "call to %s in %s timed out after %g s",
                      function, mitogen_context_get_name (context), timeout_msec / 1000.0);
}

/**
 * mitogen_context_call_with_timeout:
 * @context: a context
 * @function: the function's "module.name", such as "core.getpid"
 * @args: (nullable): the arguments, a tuple
 * @timeout_msec: how long to wait for the reply, in milliseconds, more
 *   than 0; or -1 to wait for ever, as mitogen_context_call() does
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for an error
 *
 * Calls a function in @context and waits at most @timeout_msec for its
 * result; otherwise as mitogen_context_call(). The deadline is kept here,
 * in the caller, so it holds whatever the context does: a context that is
 * stopped, hung or cut off fails the call with %MITOGEN_ERROR_TIMEOUT
 * ("call to core.sleep in local.4711 timed out after 2 s").
 *
 * A call that runs out of time is cancelled in @context, as a cancelled
 * one is: dropped if it still waits there, told through
 * mitogen_call_get_cancellable() if it runs. A reply that comes after the
 * deadline is dropped. The context itself stays connected: a slow call
 * is not a lost context.
 *
 * Returns: (transfer full): the result, or %NULL with @error set
 */
GVariant *
mitogen_context_call_with_timeout (MitogenContext  *context,
                                   const char      *function,
                                   GVariant        *args,
                                   int              timeout_msec,
                                   GCancellable    *cancellable,
                                   GError         **error)
{
  g_autoptr(MitogenReceiver) recv = NULL;
  g_autoptr(MitogenMessage) reply = NULL;
  g_autoptr(MitogenRouter) router = NULL;
  GError *local_error = NULL;

  g_return_val_if_fail (MITOGEN_IS_CONTEXT (context), NULL);
  g_return_val_if_fail (function != NULL, NULL);
  g_return_val_if_fail (timeout_msec == -1 || timeout_msec > 0, NULL);

  router = mitogen_context_dup_router (context);
  if (router == NULL)
    {
      g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_FAILED,
                   "the router of context %s is gone", mitogen_context_get_name (context));
      return NULL;
    }
  if (!_mitogen_check_not_broker (mitogen_router_get_broker (router),
                                  "mitogen_context_call()", error))
    return NULL;

  recv = mitogen_context_begin_call (context, function, args);
  reply = mitogen_receiver_get (recv, timeout_msec, cancellable, &local_error);
  mitogen_receiver_close (recv);
  if (reply == NULL)
    {
      g_propagate_error (error, call_abandoned (context, recv, function, timeout_msec,
                                                local_error));
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
  MitogenReceiver *recv = MITOGEN_RECEIVER (source);
  CallWait *wait = g_task_get_task_data (task);
  g_autoptr(MitogenMessage) reply = NULL;
  GError *error = NULL;
  GVariant *value;

  reply = mitogen_receiver_get_finish (recv, result, &error);
  mitogen_receiver_close (recv);
  if (reply == NULL)
    {
      g_task_return_error (task, call_abandoned (g_task_get_source_object (task), recv,
                                                 wait->function, wait->timeout_msec, error));
      return;
    }
  value = mitogen_message_unpack (reply, &error);
  if (value == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, value, (GDestroyNotify) g_variant_unref);
}

/**
 * mitogen_context_call_with_timeout_async:
 * @context: a context
 * @function: the function's "module.name"
 * @args: (nullable): the arguments, a tuple
 * @timeout_msec: how long to wait for the reply, in milliseconds, more
 *   than 0; or -1 to wait for ever
 * @cancellable: (nullable): a #GCancellable
 * @callback: called in the caller's thread-default main context
 * @user_data: data for @callback
 *
 * Calls a function without blocking, with a deadline kept by the caller's
 * thread-default main context; see mitogen_context_call_with_timeout().
 * Finish with mitogen_context_call_with_timeout_finish().
 */
void
mitogen_context_call_with_timeout_async (MitogenContext      *context,
                                         const char          *function,
                                         GVariant            *args,
                                         int                  timeout_msec,
                                         GCancellable        *cancellable,
                                         GAsyncReadyCallback  callback,
                                         gpointer             user_data)
{
  g_autoptr(MitogenReceiver) recv = NULL;
  g_autoptr(MitogenRouter) router = NULL;
  CallWait *wait;
  GTask *task;

  g_return_if_fail (MITOGEN_IS_CONTEXT (context));
  g_return_if_fail (function != NULL);
  g_return_if_fail (timeout_msec == -1 || timeout_msec > 0);

  task = g_task_new (context, cancellable, callback, user_data);
  g_task_set_source_tag (task, mitogen_context_call_with_timeout_async);
  wait = g_new (CallWait, 1);
  wait->function = g_strdup (function);
  wait->timeout_msec = timeout_msec;
  g_task_set_task_data (task, wait, (GDestroyNotify) call_wait_free);
  router = mitogen_context_dup_router (context);
  if (router == NULL)
    {
      g_task_return_new_error (task, MITOGEN_ERROR, MITOGEN_ERROR_FAILED,
                               "the router of context %s is gone",
                               mitogen_context_get_name (context));
      g_object_unref (task);
      return;
    }
  recv = mitogen_context_begin_call (context, function, args);
  mitogen_receiver_get_async (recv, timeout_msec, cancellable, call_got_reply, task);
}

/**
 * mitogen_context_call_with_timeout_finish:
 * @context: a context
 * @result: the result given to the callback
 * @error: return location for an error
 *
 * Finishes mitogen_context_call_with_timeout_async() (or
 * mitogen_context_call_async(): the two are one).
 *
 * Returns: (transfer full): the call's result, or %NULL with @error set
 */
GVariant *
mitogen_context_call_with_timeout_finish (MitogenContext  *context,
                                          GAsyncResult    *result,
                                          GError         **error)
{
  g_return_val_if_fail (g_task_is_valid (result, context), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}
