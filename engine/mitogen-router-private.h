/* mitogen-router-private.h: router internals for the layers above it
 * (connecting) and for the agent.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "mitogen-private.h"
#include "mitogen-latch-private.h"
#include "mitogen-route-table-private.h"
#include "mitogen-stream-private.h"

G_BEGIN_DECLS

/* The routing table; the pointer is valid for the router's lifetime. */
MitogenRouteTable *_mitogen_router_get_route_table (MitogenRouter *router);

/* The agent sets who it is once, before its broker routes anything. */
void            _mitogen_router_set_identity    (MitogenRouter         *router,
                                                 guint32                context_id,
                                                 guint32                parent_id,
                                                 GArray                *ancestors);
gboolean        _mitogen_router_is_ancestor     (MitogenRouter         *router,
                                                 guint32                context_id);
void            _mitogen_router_attach_parent   (MitogenRouter         *router,
                                                 MitogenStream         *stream,
                                                 MitogenParentLostFunc  func,
                                                 gpointer               user_data);

/* Stamps the source with this context's id (unless already set) and
 * routes. On failure a dead reply goes to the message's reply_to here. */
gboolean        _mitogen_router_send            (MitogenRouter         *router,
                                                 MitogenMessage        *msg,
                                                 GError               **error);
/* Delivers @msg to a handler of this context; broker thread. */
void            _mitogen_router_dispatch_local  (MitogenRouter         *router,
                                                 MitogenMessage        *msg);

/* Takes @stream to a new direct child @id: routes it, reads it, and
 * returns a latch that receives the child's ready frame, or a dead
 * message if the stream closes first. NULL with @error if @id is taken. */
MitogenLatch   *_mitogen_router_adopt_child     (MitogenRouter         *router,
                                                 MitogenStream         *stream,
                                                 guint32                id,
                                                 GError               **error);
/* Takes @stream to a listener's client @id: routed like a direct child,
 * but its messages may claim only its own id as their source and carry
 * this router's authority. The caller starts it. FALSE if @id is taken. */
gboolean        _mitogen_router_adopt_peer      (MitogenRouter         *router,
                                                 MitogenStream         *stream,
                                                 guint32                id,
                                                 GError               **error);
/* A child that never became ready: stop waiting for it and close it. */
void            _mitogen_router_abandon_child   (MitogenRouter         *router,
                                                 MitogenStream         *stream,
                                                 const GError          *reason);
/* A context finished starting: keep it in the table. */
void            _mitogen_router_add_context     (MitogenRouter         *router,
                                                 MitogenContext        *context);
/* Emits MitogenRouter::context-added in the router's main context: at
 * once when this thread may run it, else from that context's loop. */
void            _mitogen_router_emit_context_added (MitogenRouter      *router,
                                                    MitogenContext     *context);

/* The agent program this router starts for local hops. */
char           *_mitogen_router_dup_agent_path  (MitogenRouter         *router);

G_END_DECLS
