/* mitogen-call-result.c: one answered call of a MitogenFanout.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "mitogen-call-result-private.h"

/**
 * MitogenCallResult:
 *
 * What one call of a [class@Fanout] gave: its value or its error, the
 * context it ran in, and how long the answer took.
 */
struct _MitogenCallResult
{
  GObject         parent_instance;
  MitogenContext *context;   /* owned */
  char           *function;
  guint           index;     /* the order of mitogen_fanout_add_call() */
  double          seconds;   /* from sending the call to its answer */
  GVariant       *value;     /* owned; NULL when the call failed */
  GError         *error;     /* owned; NULL when it succeeded */
};

G_DEFINE_FINAL_TYPE (MitogenCallResult, mitogen_call_result, G_TYPE_OBJECT)

static void
mitogen_call_result_finalize (GObject *object)
{
  MitogenCallResult *self = MITOGEN_CALL_RESULT (object);

  g_clear_object (&self->context);
  g_free (self->function);
  g_clear_pointer (&self->value, g_variant_unref);
  g_clear_error (&self->error);
  G_OBJECT_CLASS (mitogen_call_result_parent_class)->finalize (object);
}

static void
mitogen_call_result_class_init (MitogenCallResultClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = mitogen_call_result_finalize;
}

static void
mitogen_call_result_init (MitogenCallResult *self)
{
}

MitogenCallResult *
_mitogen_call_result_new (MitogenContext *context,
                          const char     *function,
                          guint           index,
                          double          seconds,
                          GVariant       *value,
                          GError         *error)
{
  MitogenCallResult *self = g_object_new (MITOGEN_TYPE_CALL_RESULT, NULL);

  g_return_val_if_fail ((value == NULL) != (error == NULL), self);
  self->context = g_object_ref (context);
  self->function = g_strdup (function);
  self->index = index;
  self->seconds = seconds;
  self->value = value != NULL ? g_variant_ref_sink (value) : NULL;
  self->error = error;
  return self;
}

/**
 * mitogen_call_result_get_context:
 * @result: a #MitogenCallResult
 *
 * The context the call was sent to.
 *
 * Returns: (transfer none): the context the call ran in
 */
MitogenContext *
mitogen_call_result_get_context (MitogenCallResult *result)
{
  g_return_val_if_fail (MITOGEN_IS_CALL_RESULT (result), NULL);
  return result->context;
}

/**
 * mitogen_call_result_get_function:
 * @result: a #MitogenCallResult
 *
 * The function the call named.
 *
 * Returns: the function called ("module.name")
 */
const char *
mitogen_call_result_get_function (MitogenCallResult *result)
{
  g_return_val_if_fail (MITOGEN_IS_CALL_RESULT (result), NULL);
  return result->function;
}

/**
 * mitogen_call_result_get_index:
 * @result: a #MitogenCallResult
 *
 * Which call this answers, by the order the calls were added.
 *
 * Returns: what mitogen_fanout_add_call() returned for this call: 0 for
 *   the first call added, 1 for the next, and so on
 */
guint
mitogen_call_result_get_index (MitogenCallResult *result)
{
  g_return_val_if_fail (MITOGEN_IS_CALL_RESULT (result), 0);
  return result->index;
}

/**
 * mitogen_call_result_get_seconds:
 * @result: a #MitogenCallResult
 *
 * How long the answer took, from sending the call.
 *
 * Returns: the seconds from sending the call to its answer
 */
double
mitogen_call_result_get_seconds (MitogenCallResult *result)
{
  g_return_val_if_fail (MITOGEN_IS_CALL_RESULT (result), 0);
  return result->seconds;
}

/**
 * mitogen_call_result_is_ok:
 * @result: a #MitogenCallResult
 *
 * Whether the call succeeded.
 *
 * Returns: whether the call returned a value (and did not fail)
 */
gboolean
mitogen_call_result_is_ok (MitogenCallResult *result)
{
  g_return_val_if_fail (MITOGEN_IS_CALL_RESULT (result), FALSE);
  return result->error == NULL;
}

/**
 * mitogen_call_result_get_value:
 * @result: a #MitogenCallResult
 * @error: the call's failure, when it failed
 *
 * The value the call returned, as mitogen_context_call() would have given
 * it; or its failure (a remote exception, a lost context) as @error, so
 * that in Python or JavaScript a failed call raises here.
 *
 * Returns: (transfer full): the value, or %NULL with @error set
 */
GVariant *
mitogen_call_result_get_value (MitogenCallResult  *result,
                               GError            **error)
{
  g_return_val_if_fail (MITOGEN_IS_CALL_RESULT (result), NULL);
  if (result->error != NULL)
    {
      g_propagate_error (error, g_error_copy (result->error));
      return NULL;
    }
  return g_variant_ref (result->value);
}

/**
 * mitogen_call_result_get_error:
 * @result: a #MitogenCallResult
 *
 * Why the call failed, for looking at without raising it.
 *
 * Returns: (nullable) (transfer none): why the call failed, or %NULL
 */
const GError *
mitogen_call_result_get_error (MitogenCallResult *result)
{
  g_return_val_if_fail (MITOGEN_IS_CALL_RESULT (result), NULL);
  return result->error;
}
