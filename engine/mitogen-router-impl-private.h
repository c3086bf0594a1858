/* mitogen-router-impl-private.h: the router's own state, shared by the
 * files that implement it (mitogen-router.c, mitogen-router-streams.c)
 * and by nothing else.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "mitogen-context-table-private.h"
#include "mitogen-handler-table-private.h"
#include "mitogen-route-table-private.h"
#include "mitogen-stream-private.h"

G_BEGIN_DECLS

struct _MitogenRouter
{
  GObject         parent_instance;

  MitogenBroker  *broker;           /* owned; immutable */
  GMainContext   *owner_context;    /* owned; immutable; where signals are emitted */
  MitogenRouteTable *table;         /* owned; immutable pointer; its own lock */
  guint32         context_id;       /* immutable once the agent set it, before routing */
  gint            next_handle;      /* atomic */
  gint            unidirectional;   /* atomic: children may not message each other */

  MitogenHandlerTable *handlers;    /* owned; immutable pointer; its own lock */
  MitogenContextTable *contexts;    /* owned; immutable pointer; its own lock */

  GMutex          lock;
  gsize           max_message_size; /* lock */
  guint64         max_buffered;     /* lock; 0: no limit */
  GHashTable     *pending;          /* lock; MitogenStream* → MitogenLatch* of a start */
  GHashTable     *peers;            /* lock; ids of a listener's clients, told of losses */
  char           *agent_path;       /* lock */

  MitogenParentLostFunc parent_lost_func;  /* set once before the parent stream starts */
  gpointer        parent_lost_data;        /* likewise */
};

/* Routes @msg that arrived on @from (NULL: sent here); when it cannot go,
 * its sender hears why with a dead message. */
gboolean _mitogen_router_route_or_bounce (MitogenRouter   *router,
                                          MitogenMessage  *msg,
                                          MitogenStream   *from,
                                          GError         **error);
/* Delivers @msg to a handler here from the broker thread, soon. */
void     _mitogen_router_deliver_later    (MitogenRouter   *router,
                                           MitogenMessage  *msg);
/* The contexts in @ids are gone: whoever waits on them fails, they leave
 * the context table, and the signals go out. Broker thread. */
void     _mitogen_router_routes_lost      (MitogenRouter   *router,
                                           GArray          *ids);

G_END_DECLS
