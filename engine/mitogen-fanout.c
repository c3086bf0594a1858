/* mitogen-fanout.c: one call on many contexts, a bounded number at a time,
 * results as they come.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "mitogen-call-result-private.h"

/**
 * MitogenFanout:
 *
 * Calls on many contexts with at most #MitogenFanout:max-in-flight of
 * them unanswered at a time, handed back in the order they are answered:
 * what Ansible's forks setting or `pdsh -f` does, for function calls.
 *
 * ```python
 * fanout = Mitogen.Fanout.new(32)
 * for context in contexts:
 *     fanout.add_call(context, "core.ping", None)
 * while (result := fanout.next(None)) is not None:
 *     print(result.get_context().get_name(), result.get_value())
 * ```
 *
 * Each answer arrives on a receiver of one [class@Select], so the calls
 * cost no thread each, and a slow or lost context holds up only its own
 * call (a lost one answers with %MITOGEN_ERROR_CHANNEL). A call fails
 * alone: its [class@CallResult] carries the error, and the others carry
 * on. Use a fanout from one thread, one mitogen_fanout_next() or
 * mitogen_fanout_next_async() at a time; dropping it drops the calls
 * still unanswered (their late answers are discarded).
 */

typedef struct
{
  MitogenContext *context;   /* owned */
  char           *function;
  GVariant       *args;      /* owned until sent */
  guint           index;
  gint64          sent;      /* monotonic µs, once sent */
} Call;

struct _MitogenFanout
{
  GObject        parent_instance;
  guint          max_in_flight;  /* immutable; 0: no limit */
  GQueue         waiting;        /* Call *, not sent yet, in order */
  GHashTable    *in_flight;      /* MitogenReceiver * → Call *, both owned */
  MitogenSelect *select;         /* oneshot, over the receivers in @in_flight */
  guint          added;          /* calls added so far: the next index */
};

enum
{
  PROP_0,
  PROP_MAX_IN_FLIGHT,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

G_DEFINE_FINAL_TYPE (MitogenFanout, mitogen_fanout, G_TYPE_OBJECT)

static void
call_free (gpointer data)
{
  Call *call = data;

  g_clear_object (&call->context);
  g_free (call->function);
  g_clear_pointer (&call->args, g_variant_unref);
  g_free (call);
}

static void
mitogen_fanout_finalize (GObject *object)
{
  MitogenFanout *self = MITOGEN_FANOUT (object);

  mitogen_select_close (self->select);
  g_clear_object (&self->select);
  g_hash_table_unref (self->in_flight);
  g_queue_clear_full (&self->waiting, call_free);
  G_OBJECT_CLASS (mitogen_fanout_parent_class)->finalize (object);
}

static void
mitogen_fanout_get_property (GObject    *object,
                             guint       prop_id,
                             GValue     *value,
                             GParamSpec *pspec)
{
  MitogenFanout *self = MITOGEN_FANOUT (object);

  switch (prop_id)
    {
    case PROP_MAX_IN_FLIGHT:
      g_value_set_uint (value, self->max_in_flight);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
mitogen_fanout_set_property (GObject      *object,
                             guint         prop_id,
                             const GValue *value,
                             GParamSpec   *pspec)
{
  MitogenFanout *self = MITOGEN_FANOUT (object);

  switch (prop_id)
    {
    case PROP_MAX_IN_FLIGHT:
      self->max_in_flight = g_value_get_uint (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
mitogen_fanout_class_init (MitogenFanoutClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = mitogen_fanout_finalize;
  object_class->get_property = mitogen_fanout_get_property;
  object_class->set_property = mitogen_fanout_set_property;

  /**
   * MitogenFanout:max-in-flight:
   *
   * The most calls sent and not yet answered at a time; 0 for no limit.
   */
  properties[PROP_MAX_IN_FLIGHT] =
    g_param_spec_uint ("max-in-flight", NULL, NULL, 0, G_MAXUINT, 0,
                       G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
mitogen_fanout_init (MitogenFanout *self)
{
  g_queue_init (&self->waiting);
  self->in_flight = g_hash_table_new_full (NULL, NULL, g_object_unref, call_free);
  self->select = mitogen_select_new (TRUE);
}

/**
 * mitogen_fanout_new:
 * @max_in_flight: the most calls unanswered at a time; 0 for no limit
 *
 * Makes a fanout that keeps at most @max_in_flight calls unanswered.
 *
 * Returns: (transfer full): a new, empty #MitogenFanout
 */
MitogenFanout *
mitogen_fanout_new (guint max_in_flight)
{
  return g_object_new (MITOGEN_TYPE_FANOUT, "max-in-flight", max_in_flight, NULL);
}

/**
 * mitogen_fanout_add_call:
 * @fanout: a #MitogenFanout
 * @context: where to call
 * @function: the function, "module.name"
 * @args: (nullable): its arguments, a tuple (floating references are sunk)
 *
 * Adds a call. It is sent at once if fewer than
 * #MitogenFanout:max-in-flight calls are unanswered, else when an earlier
 * one is answered and taken with mitogen_fanout_next().
 *
 * Returns: the call's index, which its [class@CallResult] repeats: 0 for
 *   the first call added, then 1, 2...
 */
guint
mitogen_fanout_add_call (MitogenFanout  *fanout,
                         MitogenContext *context,
                         const char     *function,
                         GVariant       *args)
{
  Call *call;

  g_return_val_if_fail (MITOGEN_IS_FANOUT (fanout), 0);
  g_return_val_if_fail (MITOGEN_IS_CONTEXT (context), 0);
  g_return_val_if_fail (function != NULL, 0);

  call = g_new0 (Call, 1);
  call->context = g_object_ref (context);
  call->function = g_strdup (function);
  call->args = args != NULL ? g_variant_ref_sink (args) : NULL;
  call->index = fanout->added++;
  g_queue_push_tail (&fanout->waiting, call);
  return call->index;
}

/* Sends waiting calls while the limit allows. */
static void
send_calls (MitogenFanout *self)
{
  while (!g_queue_is_empty (&self->waiting) &&
         (self->max_in_flight == 0 || g_hash_table_size (self->in_flight) < self->max_in_flight))
    {
      Call *call = g_queue_pop_head (&self->waiting);
      g_autoptr(GError) error = NULL;
      MitogenReceiver *receiver;

      call->sent = g_get_monotonic_time ();
      receiver = mitogen_context_begin_call (call->context, call->function, call->args);
      g_clear_pointer (&call->args, g_variant_unref);
      /* A fresh receiver in an open select: refused only after
       * finalize began, which no caller can race. */
      if (!mitogen_select_add (self->select, G_OBJECT (receiver), &error))
        g_critical ("MitogenFanout: %s", error->message);
      g_hash_table_insert (self->in_flight, receiver, call);
    }
}

/* The result of the call whose receiver @source delivered @msg, or
 * failed with @failure (a dead message: its context is gone). Takes
 * @failure. */
static MitogenCallResult *
take_result (MitogenFanout  *self,
             GObject        *source,
             MitogenMessage *msg,
             GError         *failure)
{
  Call *call = g_hash_table_lookup (self->in_flight, source);
  GVariant *value = NULL;
  MitogenCallResult *result;

  g_return_val_if_fail (call != NULL, NULL);
  if (msg != NULL)
    value = mitogen_message_unpack (msg, &failure);
  result = _mitogen_call_result_new (call->context, call->function, call->index,
                                     (g_get_monotonic_time () - call->sent) / (double) G_USEC_PER_SEC,
                                     value, failure);
  g_clear_pointer (&value, g_variant_unref);
  g_hash_table_remove (self->in_flight, source);
  send_calls (self);
  return result;
}

/* Whether a get that gave no message still answered a call: a dead
 * message fails the get, but names the receiver it came from. */
static gboolean
answered (MitogenFanout *self,
          GObject       *source)
{
  return source != NULL && g_hash_table_contains (self->in_flight, source);
}

/**
 * mitogen_fanout_next:
 * @fanout: a #MitogenFanout
 * @cancellable: (nullable): a #GCancellable
 * @error: where to put an error
 *
 * Waits for the next answer to any call of @fanout, and sends the next
 * waiting call in its place. A call that failed is a result too (see
 * mitogen_call_result_get_error()); only cancelling fails this.
 *
 * Returns: (transfer full) (nullable): the next result, or %NULL when every
 *   call added has been answered and taken (@error unset), or on
 *   cancellation (@error set)
 */
MitogenCallResult *
mitogen_fanout_next (MitogenFanout  *fanout,
                     GCancellable   *cancellable,
                     GError        **error)
{
  g_autoptr(MitogenMessage) msg = NULL;
  g_autoptr(GObject) source = NULL;
  GError *failure = NULL;

  g_return_val_if_fail (MITOGEN_IS_FANOUT (fanout), NULL);

  send_calls (fanout);
  if (g_hash_table_size (fanout->in_flight) == 0)
    return NULL;
  msg = mitogen_select_get (fanout->select, -1, &source, cancellable, &failure);
  if (msg == NULL && !answered (fanout, source))
    {
      g_propagate_error (error, failure);
      return NULL;
    }
  return take_result (fanout, source, msg, failure);
}

static void
on_select_get (GObject      *object,
               GAsyncResult *res,
               gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  MitogenFanout *self = g_task_get_source_object (task);
  g_autoptr(MitogenMessage) msg = NULL;
  g_autoptr(GObject) source = NULL;
  GError *error = NULL;

  msg = mitogen_select_get_finish (MITOGEN_SELECT (object), res, &source, &error);
  if (msg == NULL && !answered (self, source))
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, take_result (self, source, msg, error), g_object_unref);
}

/**
 * mitogen_fanout_next_async:
 * @fanout: a #MitogenFanout
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called with the next result
 * @user_data: for @callback
 *
 * Waits for the next answer without blocking; see mitogen_fanout_next().
 */
void
mitogen_fanout_next_async (MitogenFanout       *fanout,
                           GCancellable        *cancellable,
                           GAsyncReadyCallback  callback,
                           gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;

  g_return_if_fail (MITOGEN_IS_FANOUT (fanout));

  task = g_task_new (fanout, cancellable, callback, user_data);
  g_task_set_source_tag (task, mitogen_fanout_next_async);
  send_calls (fanout);
  if (g_hash_table_size (fanout->in_flight) == 0)
    {
      g_task_return_pointer (task, NULL, NULL);
      return;
    }
  mitogen_select_get_async (fanout->select, -1, cancellable, on_select_get, g_steal_pointer (&task));
}

/**
 * mitogen_fanout_next_finish:
 * @fanout: a #MitogenFanout
 * @result: the #GAsyncResult given to the callback
 * @error: where to put an error
 *
 * Finishes mitogen_fanout_next_async().
 *
 * Returns: (transfer full) (nullable): the next result, or %NULL when
 *   every call was answered and taken (@error unset) or on cancellation
 */
MitogenCallResult *
mitogen_fanout_next_finish (MitogenFanout  *fanout,
                            GAsyncResult   *result,
                            GError        **error)
{
  g_return_val_if_fail (g_task_is_valid (result, fanout), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

/**
 * mitogen_fanout_get_max_in_flight:
 * @fanout: a #MitogenFanout
 *
 * The limit the fanout was made with.
 *
 * Returns: the most calls unanswered at a time (0: no limit)
 */
guint
mitogen_fanout_get_max_in_flight (MitogenFanout *fanout)
{
  g_return_val_if_fail (MITOGEN_IS_FANOUT (fanout), 0);
  return fanout->max_in_flight;
}

/**
 * mitogen_fanout_get_in_flight:
 * @fanout: a #MitogenFanout
 *
 * How many calls were sent and not yet taken with mitogen_fanout_next().
 *
 * Returns: the calls sent whose results were not taken yet
 */
guint
mitogen_fanout_get_in_flight (MitogenFanout *fanout)
{
  g_return_val_if_fail (MITOGEN_IS_FANOUT (fanout), 0);
  return g_hash_table_size (fanout->in_flight);
}

/**
 * mitogen_fanout_get_remaining:
 * @fanout: a #MitogenFanout
 *
 * How many results are still to take.
 *
 * Returns: the results still to take: calls waiting plus calls in flight
 */
guint
mitogen_fanout_get_remaining (MitogenFanout *fanout)
{
  g_return_val_if_fail (MITOGEN_IS_FANOUT (fanout), 0);
  return g_queue_get_length (&fanout->waiting) + g_hash_table_size (fanout->in_flight);
}
