/* mitogen-request.c: the engine's own one-question requests.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "mitogen-request-private.h"

typedef struct
{
  MitogenReceiver    *recv;    /* owned; closed when the answer is in */
  const GVariantType *type;    /* static */
  guint32             dst;
  guint32             handle;
} Request;

static void
request_free (gpointer data)
{
  Request *r = data;

  mitogen_receiver_close (r->recv);
  g_object_unref (r->recv);
  g_free (r);
}

/* Sends the question; the receiver waits for the answer from @dst only. */
static Request *
request_send (MitogenRouter      *router,
              guint32             dst,
              guint32             handle,
              GVariant           *value,
              const GVariantType *type,
              GError            **error)
{
  g_autoptr(MitogenContext) respondent = mitogen_router_context_by_id (router, dst);
  g_autoptr(MitogenMessage) msg = mitogen_message_new (dst, handle, value);
  Request *r = g_new0 (Request, 1);

  r->recv = mitogen_receiver_new_full (router, 0, respondent);
  r->type = type;
  r->dst = dst;
  r->handle = handle;
  mitogen_message_set_reply_to (msg, mitogen_receiver_get_handle (r->recv));
  if (!mitogen_router_route (router, msg, error))
    {
      request_free (r);
      return NULL;
    }
  return r;
}

static GVariant *
request_check (Request         *r,
               MitogenMessage  *reply,
               GError         **error)
{
  g_autoptr(GVariant) answer = NULL;

  if (reply == NULL || (answer = mitogen_message_unpack (reply, error)) == NULL)
    return NULL;
  if (!g_variant_is_of_type (answer, r->type))
    {
      g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_PROTOCOL,
                   "context %u answered handle %u with a '%s', not a '%s'", r->dst, r->handle,
                   g_variant_get_type_string (answer), (const char *) r->type);
      return NULL;
    }
  return g_steal_pointer (&answer);
}

GVariant *
_mitogen_request (MitogenRouter       *router,
                  guint32              dst,
                  guint32              handle,
                  GVariant            *value,
                  const GVariantType  *type,
                  int                  timeout_msec,
                  GCancellable        *cancellable,
                  GError             **error)
{
  g_autoptr(MitogenMessage) reply = NULL;
  Request *r;
  GVariant *answer;

  r = request_send (router, dst, handle, value, type, error);
  if (r == NULL)
    return NULL;
  reply = mitogen_receiver_get (r->recv, timeout_msec, cancellable, error);
  answer = request_check (r, reply, error);
  request_free (r);
  return answer;
}

static void
request_got_reply (GObject      *source,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  g_autoptr(MitogenMessage) reply = NULL;
  GError *error = NULL;
  GVariant *answer;

  reply = mitogen_receiver_get_finish (MITOGEN_RECEIVER (source), result, &error);
  answer = request_check (g_task_get_task_data (task), reply, &error);
  if (answer == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, answer, (GDestroyNotify) g_variant_unref);
}

void
_mitogen_request_async (MitogenRouter       *router,
                        guint32              dst,
                        guint32              handle,
                        GVariant            *value,
                        const GVariantType  *type,
                        int                  timeout_msec,
                        GCancellable        *cancellable,
                        GAsyncReadyCallback  callback,
                        gpointer             user_data)
{
  g_autoptr(GTask) task = g_task_new (NULL, cancellable, callback, user_data);
  GError *error = NULL;
  Request *r;

  g_task_set_source_tag (task, _mitogen_request_async);
  r = request_send (router, dst, handle, value, type, &error);
  if (r == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  g_task_set_task_data (task, r, request_free);
  mitogen_receiver_get_async (r->recv, timeout_msec, cancellable, request_got_reply,
                              g_steal_pointer (&task));
}

GVariant *
_mitogen_request_finish (GAsyncResult  *result,
                         GError       **error)
{
  return g_task_propagate_pointer (G_TASK (result), error);
}
