/* mitogen-listener.h
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

#define MITOGEN_TYPE_LISTENER (mitogen_listener_get_type ())
MITOGEN_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (MitogenListener, mitogen_listener, MITOGEN, LISTENER, GObject)

MITOGEN_AVAILABLE_IN_ALL
MitogenListener *mitogen_router_listen               (MitogenRouter       *router,
                                                      const char          *path,
                                                      GCancellable        *cancellable,
                                                      GError             **error);
MITOGEN_AVAILABLE_IN_ALL
const char      *mitogen_listener_get_path           (MitogenListener     *listener);
MITOGEN_AVAILABLE_IN_ALL
guint            mitogen_listener_get_n_clients      (MitogenListener     *listener);
MITOGEN_AVAILABLE_IN_ALL
GArray          *mitogen_listener_list_clients       (MitogenListener     *listener);
MITOGEN_AVAILABLE_IN_ALL
guint            mitogen_listener_get_n_refused      (MitogenListener     *listener);
MITOGEN_AVAILABLE_IN_ALL
void             mitogen_listener_close              (MitogenListener     *listener);

MITOGEN_AVAILABLE_IN_ALL
MitogenContext  *mitogen_router_connect_server        (MitogenRouter       *router,
                                                      const char          *path,
                                                      GCancellable        *cancellable,
                                                      GError             **error);
MITOGEN_AVAILABLE_IN_ALL
void             mitogen_router_connect_server_async  (MitogenRouter       *router,
                                                      const char          *path,
                                                      GCancellable        *cancellable,
                                                      GAsyncReadyCallback  callback,
                                                      gpointer             user_data);
MITOGEN_AVAILABLE_IN_ALL
MitogenContext  *mitogen_router_connect_server_finish (MitogenRouter       *router,
                                                      GAsyncResult        *result,
                                                      GError             **error);

G_END_DECLS
