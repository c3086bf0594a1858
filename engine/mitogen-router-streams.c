/* mitogen-router-streams.c: the router's side of its streams: frames
 * in, the source check, a new child's ready frame, and what a closed
 * stream takes with it.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "mitogen-control-private.h"
#include "mitogen-message-private.h"
#include "mitogen-router-impl-private.h"
#include "mitogen-router-private.h"

/* A frame on handle 0 is the ready frame of a child being started. */
static void
router_on_ready_frame (MitogenRouter  *router,
                       MitogenStream  *stream,
                       MitogenMessage *msg)
{
  MitogenLatch *latch = NULL;

  g_mutex_lock (&router->lock);
  g_hash_table_steal_extended (router->pending, stream, NULL, (gpointer *) &latch);
  g_mutex_unlock (&router->lock);

  if (latch == NULL)
    {
      g_warning ("stream %s: unexpected bootstrap frame; dropped",
                 _mitogen_stream_get_name (stream));
      return;
    }
  _mitogen_latch_put (latch, mitogen_message_ref (msg));
  _mitogen_latch_unref (latch);
}

/* Checks and routes a frame from a child or the parent (@peer FALSE), or
 * from a listener's client (@peer TRUE): a client may speak only for
 * itself, and what it sends carries this router's own authority. */
static void
route_from_stream (MitogenRouter  *router,
                   MitogenStream  *stream,
                   MitogenMessage *msg,
                   gboolean        peer)
{
  g_autoptr(GError) error = NULL;

  /* Undecodable data breaks the stream's contract: close it, which fails
   * every call pending on the context behind it. The body is decoded once
   * here and cached, so receivers do not pay again. */
  if (!_mitogen_message_decode (msg, &error))
    {
      g_warning ("stream %s: %s; closing it", _mitogen_stream_get_name (stream), error->message);
      _mitogen_stream_close (stream, error);
      return;
    }

  if (!_mitogen_route_table_source_is_plausible (router->table, stream, msg->src_id,
                                                peer ? msg->src_id : msg->auth_id))
    {
      g_warning ("stream %s: dropped a message claiming to come from context %u "
                 "(authority %u) for handle %u: forged source",
                 _mitogen_stream_get_name (stream), msg->src_id, msg->auth_id, msg->handle);
      return;
    }

  if (peer)
    msg->auth_id = router->context_id;
  _mitogen_router_route_or_bounce (router, msg, stream, NULL);
}

static void
router_on_stream_message (MitogenStream  *stream,
                          MitogenMessage *msg,
                          gpointer        data)
{
  MitogenRouter *router = data;

  if (msg->handle == MITOGEN_HANDLE_BOOTSTRAP)
    router_on_ready_frame (router, stream, msg);
  else
    route_from_stream (router, stream, msg, FALSE);
}

/* A client has nothing to say on handle 0 after its first frame: it is
 * not starting. Such a frame is a broken client; cut it off. */
static void
router_on_peer_message (MitogenStream  *stream,
                        MitogenMessage *msg,
                        gpointer        data)
{
  MitogenRouter *router = data;

  if (msg->handle == MITOGEN_HANDLE_BOOTSTRAP)
    {
      g_autoptr(GError) error = g_error_new (MITOGEN_ERROR, MITOGEN_ERROR_PROTOCOL,
                                             "a client sent a frame on handle 0");

      g_warning ("stream %s: %s; closing it", _mitogen_stream_get_name (stream), error->message);
      _mitogen_stream_close (stream, error);
      return;
    }
  route_from_stream (router, stream, msg, TRUE);
}

static void
router_on_stream_closed (MitogenStream *stream,
                         const GError  *reason,
                         gpointer       data)
{
  MitogenRouter *router = data;
  g_autoptr(GArray) lost_ids = g_array_new (FALSE, FALSE, sizeof (guint32));
  MitogenLatch *pending = NULL;
  gboolean parent_lost;

  g_mutex_lock (&router->lock);
  g_hash_table_steal_extended (router->pending, stream, NULL, (gpointer *) &pending);
  g_mutex_unlock (&router->lock);
  parent_lost = _mitogen_route_table_drop_stream (router->table, stream, lost_ids);

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
      if (!parent_lost)
        for (guint i = 0; i < lost_ids->len; i++)
          _mitogen_control_announce_lost (router, router->table, g_array_index (lost_ids, guint32, i));
      _mitogen_router_routes_lost (router, lost_ids);
    }

  if (parent_lost && router->parent_lost_func != NULL)
    router->parent_lost_func (router, reason, router->parent_lost_data);
}

MitogenLatch *
_mitogen_router_adopt_child (MitogenRouter  *router,
                             MitogenStream  *stream,
                             guint32         id,
                             GError        **error)
{
  MitogenLatch *latch;

  /* Routed before it starts, so that its first messages pass the source
   * check. */
  if (!_mitogen_route_table_add_child (router->table, stream, id))
    {
      g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_PROTOCOL,
                   "context id %u is already in use here", id);
      return NULL;
    }
  latch = _mitogen_latch_new ((GDestroyNotify) mitogen_message_unref);
  g_mutex_lock (&router->lock);
  g_hash_table_insert (router->pending, stream, _mitogen_latch_ref (latch));
  _mitogen_stream_set_max_buffered (stream, router->max_buffered);
  g_mutex_unlock (&router->lock);
  _mitogen_stream_set_handlers (stream, router_on_stream_message, router_on_stream_closed, router);
  return latch;
}

gboolean
_mitogen_router_adopt_peer (MitogenRouter  *router,
                            MitogenStream  *stream,
                            guint32         id,
                            GError        **error)
{
  if (!_mitogen_route_table_add_child (router->table, stream, id))
    {
      g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_PROTOCOL,
                   "context id %u is already in use here", id);
      return FALSE;
    }
  g_mutex_lock (&router->lock);
  g_hash_table_add (router->peers, GUINT_TO_POINTER (id));
  g_mutex_unlock (&router->lock);
  _mitogen_stream_set_max_buffered (stream, mitogen_router_get_max_buffered (router));
  _mitogen_stream_set_handlers (stream, router_on_peer_message, router_on_stream_closed, router);
  return TRUE;
}

void
_mitogen_router_abandon_child (MitogenRouter *router,
                               MitogenStream *stream,
                               const GError  *reason)
{
  MitogenLatch *latch = NULL;

  g_mutex_lock (&router->lock);
  g_hash_table_steal_extended (router->pending, stream, NULL, (gpointer *) &latch);
  g_mutex_unlock (&router->lock);
  g_clear_pointer (&latch, _mitogen_latch_unref);
  _mitogen_stream_close (stream, reason);
}

void
_mitogen_router_attach_parent (MitogenRouter         *router,
                               MitogenStream         *stream,
                               MitogenParentLostFunc  func,
                               gpointer               user_data)
{
  router->parent_lost_func = func;
  router->parent_lost_data = user_data;
  _mitogen_route_table_set_parent (router->table, stream);
  _mitogen_stream_set_max_buffered (stream, mitogen_router_get_max_buffered (router));
  _mitogen_stream_set_handlers (stream, router_on_stream_message,
                                router_on_stream_closed, router);
  _mitogen_stream_start (stream);
}

