/* mitogen-control-private.h: the messages routers send each other on the
 * reserved handles.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "mitogen-private.h"
#include "mitogen-route-table-private.h"

G_BEGIN_DECLS

/* Called on the broker thread when a direct child withdraws the routes of
 * contexts below it (DEL_ROUTE): the router fails whoever waits on them. */
typedef void (*MitogenRoutesLostFunc) (MitogenRouter *router,
                                       GArray        *ids);

/* Installs the handlers of FORWARD_LOG, ADD_ROUTE, DEL_ROUTE, ALLOCATE_ID,
 * GET_MODULE and the refusal of calls from below. @table must outlive the
 * router's handlers. */
void     _mitogen_control_install        (MitogenRouter         *router,
                                      MitogenRouteTable     *table,
                                      MitogenRoutesLostFunc  routes_lost);
/* Tells the parent, if any, that context @id below us is now reachable
 * (ADD_ROUTE) or gone (DEL_ROUTE). */
void _mitogen_control_announce_added (MitogenRouter         *router,
                                      MitogenRouteTable     *table,
                                      guint32                id,
                                      const char            *name);
void _mitogen_control_announce_lost  (MitogenRouter         *router,
                                      MitogenRouteTable     *table,
                                      guint32                id);

/* A context id for a child this router starts itself: the master's next
 * one, or one asked of the parent (which grants it to us). The id is
 * granted here, so adopting the child succeeds. 0 with @error on failure. */
void     _mitogen_control_allocate_id_async  (MitogenRouter        *router,
                                              MitogenRouteTable    *table,
                                              GCancellable         *cancellable,
                                              GAsyncReadyCallback   callback,
                                              gpointer              user_data);
guint32  _mitogen_control_allocate_id_finish (GAsyncResult         *result,
                                              GError              **error);

G_END_DECLS
