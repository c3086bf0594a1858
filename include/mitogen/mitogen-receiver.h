/* mitogen-receiver.h
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

#define MITOGEN_TYPE_RECEIVER (mitogen_receiver_get_type ())

/* MitogenReceiver itself is declared in mitogen-types.h. */

MITOGEN_AVAILABLE_IN_ALL
MitogenReceiver *mitogen_receiver_new          (MitogenRouter        *router);
MITOGEN_AVAILABLE_IN_ALL
MitogenReceiver *mitogen_receiver_new_full     (MitogenRouter        *router,
                                                guint32               handle,
                                                MitogenContext       *respondent);
MITOGEN_AVAILABLE_IN_ALL
guint32          mitogen_receiver_get_handle   (MitogenReceiver      *recv);
MITOGEN_AVAILABLE_IN_ALL
MitogenRouter   *mitogen_receiver_get_router   (MitogenReceiver      *recv);
MITOGEN_AVAILABLE_IN_ALL
MitogenMessage  *mitogen_receiver_get          (MitogenReceiver      *recv,
                                                int                   timeout_msec,
                                                GCancellable         *cancellable,
                                                GError              **error);
MITOGEN_AVAILABLE_IN_ALL
void             mitogen_receiver_get_async    (MitogenReceiver      *recv,
                                                int                   timeout_msec,
                                                GCancellable         *cancellable,
                                                GAsyncReadyCallback   callback,
                                                gpointer              user_data);
MITOGEN_AVAILABLE_IN_ALL
MitogenMessage  *mitogen_receiver_get_finish   (MitogenReceiver      *recv,
                                                GAsyncResult         *result,
                                                GError              **error);
MITOGEN_AVAILABLE_IN_ALL
void             mitogen_receiver_close        (MitogenReceiver      *recv);
MITOGEN_AVAILABLE_IN_ALL
gboolean         mitogen_receiver_is_closed    (MitogenReceiver      *recv);
MITOGEN_AVAILABLE_IN_ALL
gboolean         mitogen_receiver_is_empty     (MitogenReceiver      *recv);
MITOGEN_AVAILABLE_IN_ALL
MitogenSender   *mitogen_receiver_to_sender    (MitogenReceiver      *recv);

G_END_DECLS
