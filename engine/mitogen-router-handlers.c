/* mitogen-router-handlers.c: the router's handlers: who listens on which
 * handle, and from whom they take messages.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "mitogen-message-private.h"
#include "mitogen-router-impl-private.h"
#include "mitogen-router-private.h"

/**
 * mitogen_router_allocate_handle:
 * @router: a router
 *
 * Allocates a handle for a receiver of this router.
 *
 * Returns: a handle no other receiver of this router uses
 */
guint32
mitogen_router_allocate_handle (MitogenRouter *router)
{
  g_return_val_if_fail (MITOGEN_IS_ROUTER (router), 0);
  return (guint32) g_atomic_int_add (&router->next_handle, 1);
}

/* The routers that may bounce a message on its way to @respondent: our
 * ancestors (anything that goes up passes them, and they are trusted
 * anyway) and the contexts @respondent was started through. */
static GArray *
path_to (MitogenRouter  *router,
         MitogenContext *respondent)
{
  GArray *path = _mitogen_route_table_dup_lineage (router->table);

  g_array_remove_index (path, 0);
  for (MitogenContext *via = mitogen_context_get_via (respondent); via != NULL;
       via = mitogen_context_get_via (via))
    {
      guint32 via_id = mitogen_context_get_id (via);

      g_array_append_val (path, via_id);
    }
  return path;
}

/**
 * mitogen_router_add_handler:
 * @router: a router
 * @handle: the handle to serve, or 0 to allocate one
 * @respondent: (nullable): the context expected to answer: only its
 *   messages reach @func (and dead notices from the routers on the way to
 *   it); anything else is dropped and logged. When it is lost, @func
 *   receives one dead message and the handler is removed
 * @func: (scope notified) (closure user_data) (destroy notify): called on
 *   the broker thread for each message
 * @user_data: data for @func
 * @notify: (nullable): frees @user_data when the handler is removed
 *
 * Registers a handler; a handle already served is replaced.
 *
 * Returns: the handle
 */
guint32
mitogen_router_add_handler (MitogenRouter      *router,
                            guint32             handle,
                            MitogenContext     *respondent,
                            MitogenHandlerFunc  func,
                            gpointer            user_data,
                            GDestroyNotify      notify)
{
  gint64 expected = respondent != NULL ? (gint64) mitogen_context_get_id (respondent) : -1;
  g_autoptr(GArray) path = NULL;

  g_return_val_if_fail (MITOGEN_IS_ROUTER (router), 0);
  g_return_val_if_fail (func != NULL, 0);

  if (handle == 0)
    handle = mitogen_router_allocate_handle (router);
  path = respondent != NULL ? path_to (router, respondent) : NULL;
  _mitogen_handler_table_add (router->handlers, handle, expected, path, func, user_data, notify);

  /* Waiting on a context that is already gone: say so at once. */
  if (expected >= 0 && _mitogen_route_table_is_lost (router->table, expected))
    {
      g_autoptr(MitogenMessage) dead = mitogen_message_new_dead (router->context_id, handle,
                                                                 MITOGEN_MSG_CONTEXT_LOST);
      dead->src_id = expected;
      /* Handlers run on the broker thread, this one too. */
      if (mitogen_broker_is_broker_thread (router->broker))
        _mitogen_router_dispatch_local (router, dead);
      else
        _mitogen_router_deliver_later (router, dead);
    }
  return handle;
}

/**
 * mitogen_router_del_handler:
 * @router: a router
 * @handle: a handle given to mitogen_router_add_handler()
 *
 * Removes a handler. Messages that arrive for @handle afterwards are
 * answered with a dead message.
 */
void
mitogen_router_del_handler (MitogenRouter *router,
                            guint32        handle)
{
  g_return_if_fail (MITOGEN_IS_ROUTER (router));

  _mitogen_handler_table_remove (router->handlers, handle);
}

void
_mitogen_router_dispatch_local (MitogenRouter  *router,
                                MitogenMessage *msg)
{
  g_autoptr(MitogenMessage) dead = NULL;

  if (_mitogen_handler_table_dispatch (router->handlers, msg, router->context_id) ||
      mitogen_message_is_dead (msg))
    return;
  g_debug ("context %u: no handler for handle %u (from context %u)",
           router->context_id, msg->handle, msg->src_id);
  dead = _mitogen_message_make_dead_reply (msg, "invalid handle: no receiver is listening");
  if (dead != NULL)
    _mitogen_router_send (router, dead, NULL);
}

