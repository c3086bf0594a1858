/* mitogen-context.h
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

#define MITOGEN_TYPE_CONTEXT (mitogen_context_get_type ())

/* MitogenContext itself is declared in mitogen-types.h. */

MITOGEN_AVAILABLE_IN_ALL
guint32          mitogen_context_get_id            (MitogenContext      *context);
MITOGEN_AVAILABLE_IN_ALL
const char      *mitogen_context_get_name          (MitogenContext      *context);
MITOGEN_AVAILABLE_IN_ALL
MitogenContext  *mitogen_context_get_via           (MitogenContext      *context);
MITOGEN_AVAILABLE_IN_ALL
MitogenRouter   *mitogen_context_dup_router        (MitogenContext      *context);
MITOGEN_AVAILABLE_IN_ALL
GVariant        *mitogen_context_get_remote_info   (MitogenContext      *context);
MITOGEN_AVAILABLE_IN_ALL
gboolean         mitogen_context_is_connected      (MitogenContext      *context);
MITOGEN_AVAILABLE_IN_ALL
GVariant        *mitogen_context_call              (MitogenContext      *context,
                                                    const char          *function,
                                                    GVariant            *args,
                                                    GCancellable        *cancellable,
                                                    GError             **error);
MITOGEN_AVAILABLE_IN_ALL
void             mitogen_context_call_async        (MitogenContext      *context,
                                                    const char          *function,
                                                    GVariant            *args,
                                                    GCancellable        *cancellable,
                                                    GAsyncReadyCallback  callback,
                                                    gpointer             user_data);
MITOGEN_AVAILABLE_IN_ALL
GVariant        *mitogen_context_call_finish       (MitogenContext      *context,
                                                    GAsyncResult        *result,
                                                    GError             **error);
MITOGEN_AVAILABLE_IN_ALL
GVariant        *mitogen_context_call_with_timeout (MitogenContext      *context,
                                                    const char          *function,
                                                    GVariant            *args,
                                                    int                  timeout_msec,
                                                    GCancellable        *cancellable,
                                                    GError             **error);
MITOGEN_AVAILABLE_IN_ALL
void             mitogen_context_call_with_timeout_async (MitogenContext      *context,
                                                          const char          *function,
                                                          GVariant            *args,
                                                          int                  timeout_msec,
                                                          GCancellable        *cancellable,
                                                          GAsyncReadyCallback  callback,
                                                          gpointer             user_data);
MITOGEN_AVAILABLE_IN_ALL
GVariant        *mitogen_context_call_with_timeout_finish (MitogenContext  *context,
                                                           GAsyncResult    *result,
                                                           GError         **error);
MITOGEN_AVAILABLE_IN_ALL
MitogenReceiver *mitogen_context_begin_call        (MitogenContext      *context,
                                                    const char          *function,
                                                    GVariant            *args);
MITOGEN_AVAILABLE_IN_ALL
void             mitogen_context_call_no_reply     (MitogenContext      *context,
                                                    const char          *function,
                                                    GVariant            *args);
MITOGEN_AVAILABLE_IN_ALL
gboolean         mitogen_context_send              (MitogenContext      *context,
                                                    MitogenMessage      *msg,
                                                    GError             **error);
MITOGEN_AVAILABLE_IN_ALL
MitogenReceiver *mitogen_context_begin_send        (MitogenContext      *context,
                                                    MitogenMessage      *msg);
MITOGEN_AVAILABLE_IN_ALL
gboolean         mitogen_context_shutdown          (MitogenContext      *context,
                                                    int                  timeout_msec,
                                                    GCancellable        *cancellable,
                                                    GError             **error);
MITOGEN_AVAILABLE_IN_ALL
void             mitogen_context_shutdown_async    (MitogenContext      *context,
                                                    GCancellable        *cancellable,
                                                    GAsyncReadyCallback  callback,
                                                    gpointer             user_data);
MITOGEN_AVAILABLE_IN_ALL
gboolean         mitogen_context_shutdown_finish   (MitogenContext      *context,
                                                    GAsyncResult        *result,
                                                    GError             **error);

G_END_DECLS
