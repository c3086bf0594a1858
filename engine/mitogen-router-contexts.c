/* mitogen-router-contexts.c: the contexts a router knows: those it
 * started, its parent, and handles for any other id.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "mitogen-context-private.h"
#include "mitogen-router-impl-private.h"
#include "mitogen-router-private.h"

void
_mitogen_router_add_context (MitogenRouter  *router,
                             MitogenContext *context)
{
  g_autoptr(GArray) ids = g_array_new (FALSE, FALSE, sizeof (guint32));
  guint32 id = mitogen_context_get_id (context);

  _mitogen_context_table_add (router->contexts, context);
  /* It may have gone already, before anyone could see it. */
  if (_mitogen_route_table_is_lost (router->table, id))
    {
      g_array_append_val (ids, id);
      g_ptr_array_unref (_mitogen_context_table_take (router->contexts, ids));
      _mitogen_context_set_lost (context);
    }
}

/**
 * mitogen_router_context_by_id:
 * @router: a router
 * @context_id: a context id
 *
 * Returns the context with @context_id: the one this router started or
 * its parent, or a new handle for any other id (as for a context started
 * by another one).
 *
 * Returns: (transfer full): the context
 */
MitogenContext *
mitogen_router_context_by_id (MitogenRouter *router,
                              guint32        context_id)
{
  g_autofree char *name = NULL;
  g_autoptr(MitogenContext) made = NULL;
  MitogenContext *ctx;

  g_return_val_if_fail (MITOGEN_IS_ROUTER (router), NULL);

  ctx = _mitogen_context_table_lookup (router->contexts, context_id);
  if (ctx != NULL)
    return ctx;

  name = context_id == 0 ? g_strdup ("master") : g_strdup_printf ("context%u", context_id);
  made = _mitogen_context_new (router, context_id, name, NULL, NULL);
  if (_mitogen_route_table_is_lost (router->table, context_id))
    _mitogen_context_set_lost (made);
  /* Only the parent is kept, so that it stays one object; handles for
   * other ids cost nothing once dropped, whatever ids a peer names. */
  else if (_mitogen_route_table_has_parent (router->table) &&
           context_id == _mitogen_route_table_get_parent_id (router->table))
    return _mitogen_context_table_keep (router->contexts, made);
  return g_steal_pointer (&made);
}

/**
 * mitogen_router_list_contexts:
 * @router: a router
 *
 * Lists the contexts this router knows of and that have not gone away.
 *
 * Returns: (transfer container) (element-type MitogenContext): the
 *   contexts this router started that are still connected (and, in an
 *   agent, its parent)
 */
GPtrArray *
mitogen_router_list_contexts (MitogenRouter *router)
{
  g_return_val_if_fail (MITOGEN_IS_ROUTER (router), NULL);

  return _mitogen_context_table_list (router->contexts);
}

/**
 * mitogen_router_disconnect_context:
 * @router: a router
 * @context: a context this router started
 *
 * Closes the stream to @context, which then exits with everything it
 * started (Mitogen's `Router.disconnect()`). Pending calls to it fail with
 * %MITOGEN_ERROR_CHANNEL.
 */
void
mitogen_router_disconnect_context (MitogenRouter  *router,
                                   MitogenContext *context)
{
  g_autoptr(MitogenStream) stream = NULL;
  MitogenContext *via;

  g_return_if_fail (MITOGEN_IS_ROUTER (router));
  g_return_if_fail (MITOGEN_IS_CONTEXT (context));

  stream = _mitogen_route_table_ref_child (router->table, mitogen_context_get_id (context));
  via = mitogen_context_get_via (context);
  if (stream != NULL)
    _mitogen_stream_close (stream, NULL);
  else if (via != NULL)
    mitogen_context_call_no_reply (via, "core.disconnect",
                                   g_variant_new ("(u)", mitogen_context_get_id (context)));
}

/**
 * mitogen_router_disconnect_all:
 * @router: a router
 *
 * Closes the streams to every context this router started.
 */
void
mitogen_router_disconnect_all (MitogenRouter *router)
{
  g_autoptr(GPtrArray) streams = NULL;

  g_return_if_fail (MITOGEN_IS_ROUTER (router));

  streams = _mitogen_route_table_ref_streams (router->table, FALSE);
  g_ptr_array_set_free_func (streams, (GDestroyNotify) _mitogen_stream_unref);
  for (guint i = 0; i < streams->len; i++)
    _mitogen_stream_close (streams->pdata[i], NULL);
}
