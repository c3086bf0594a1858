/* mitogen-router.h
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(MITOGEN_INSIDE) && !defined(MITOGEN_COMPILATION)
# error "Only <mitogen/mitogen.h> can be included directly."
#endif

#include <gio/gio.h>
#include "mitogen-version.h"
#include "mitogen-types.h"

G_BEGIN_DECLS

#define MITOGEN_TYPE_ROUTER (mitogen_router_get_type ())

/* MitogenRouter itself is declared in mitogen-types.h. */

/**
 * MitogenHandlerFunc:
 * @msg: the message that arrived for the handle
 * @user_data: the data given to mitogen_router_add_handler()
 *
 * Called on the broker thread for every message that reaches a handle, and
 * once with a dead message when the handle's respondent context is lost.
 * It must not block.
 */
typedef void (*MitogenHandlerFunc) (MitogenMessage *msg,
                                    gpointer        user_data);

MITOGEN_AVAILABLE_IN_ALL
MitogenRouter  *mitogen_router_new                (MitogenBroker       *broker);
MITOGEN_AVAILABLE_IN_ALL
MitogenBroker  *mitogen_router_get_broker         (MitogenRouter       *router);
MITOGEN_AVAILABLE_IN_ALL
guint32         mitogen_router_get_context_id     (MitogenRouter       *router);
MITOGEN_AVAILABLE_IN_ALL
gsize           mitogen_router_get_max_message_size (MitogenRouter     *router);
MITOGEN_AVAILABLE_IN_ALL
void            mitogen_router_set_max_message_size (MitogenRouter     *router,
                                                   gsize                size);
MITOGEN_AVAILABLE_IN_ALL
guint64         mitogen_router_get_max_buffered   (MitogenRouter       *router);
MITOGEN_AVAILABLE_IN_ALL
void            mitogen_router_set_max_buffered   (MitogenRouter       *router,
                                                   guint64              max_buffered);
MITOGEN_AVAILABLE_IN_ALL
MitogenContext *mitogen_router_connect_context            (MitogenRouter       *router,
                                                   const char          *transport,
                                                   GVariant            *options,
                                                   MitogenContext      *via,
                                                   GCancellable        *cancellable,
                                                   GError             **error);
MITOGEN_AVAILABLE_IN_ALL
void            mitogen_router_connect_context_async      (MitogenRouter       *router,
                                                   const char          *transport,
                                                   GVariant            *options,
                                                   MitogenContext      *via,
                                                   GCancellable        *cancellable,
                                                   GAsyncReadyCallback  callback,
                                                   gpointer             user_data);
MITOGEN_AVAILABLE_IN_ALL
MitogenContext *mitogen_router_connect_context_finish     (MitogenRouter       *router,
                                                   GAsyncResult        *result,
                                                   GError             **error);
MITOGEN_AVAILABLE_IN_ALL
MitogenContext *mitogen_router_local              (MitogenRouter       *router,
                                                   GVariant            *options,
                                                   GCancellable        *cancellable,
                                                   GError             **error);
MITOGEN_AVAILABLE_IN_ALL
guint32         mitogen_router_add_handler        (MitogenRouter       *router,
                                                   guint32              handle,
                                                   MitogenContext      *respondent,
                                                   MitogenHandlerFunc   func,
                                                   gpointer             user_data,
                                                   GDestroyNotify       notify);
MITOGEN_AVAILABLE_IN_ALL
void            mitogen_router_del_handler        (MitogenRouter       *router,
                                                   guint32              handle);
MITOGEN_AVAILABLE_IN_ALL
guint32         mitogen_router_allocate_handle    (MitogenRouter       *router);
MITOGEN_AVAILABLE_IN_ALL
gboolean        mitogen_router_route              (MitogenRouter       *router,
                                                   MitogenMessage      *msg,
                                                   GError             **error);
MITOGEN_AVAILABLE_IN_ALL
MitogenContext *mitogen_router_context_by_id      (MitogenRouter       *router,
                                                   guint32              context_id);
MITOGEN_AVAILABLE_IN_ALL
GPtrArray      *mitogen_router_list_contexts      (MitogenRouter       *router);
MITOGEN_AVAILABLE_IN_ALL
void            mitogen_router_disconnect_context         (MitogenRouter       *router,
                                                   MitogenContext      *context);
MITOGEN_AVAILABLE_IN_ALL
void            mitogen_router_disconnect_all     (MitogenRouter       *router);

G_END_DECLS
