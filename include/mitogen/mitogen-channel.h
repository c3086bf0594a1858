/* mitogen-channel.h
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

#define MITOGEN_TYPE_CHANNEL (mitogen_channel_get_type ())

/* MitogenChannel itself is declared in mitogen-types.h. */

MITOGEN_AVAILABLE_IN_ALL
MitogenChannel  *mitogen_channel_new          (MitogenRouter   *router,
                                               MitogenContext  *context,
                                               guint32          dst_handle,
                                               guint32          handle);
MITOGEN_AVAILABLE_IN_ALL
MitogenReceiver *mitogen_channel_get_receiver (MitogenChannel  *channel);
MITOGEN_AVAILABLE_IN_ALL
MitogenSender   *mitogen_channel_get_sender   (MitogenChannel  *channel);
MITOGEN_AVAILABLE_IN_ALL
guint32          mitogen_channel_get_handle   (MitogenChannel  *channel);
MITOGEN_AVAILABLE_IN_ALL
gboolean         mitogen_channel_send         (MitogenChannel  *channel,
                                               GVariant        *value,
                                               GError         **error);
MITOGEN_AVAILABLE_IN_ALL
GVariant        *mitogen_channel_get          (MitogenChannel  *channel,
                                               int              timeout_msec,
                                               GCancellable    *cancellable,
                                               GError         **error);
MITOGEN_AVAILABLE_IN_ALL
void             mitogen_channel_get_async    (MitogenChannel      *channel,
                                               int                  timeout_msec,
                                               GCancellable        *cancellable,
                                               GAsyncReadyCallback  callback,
                                               gpointer             user_data);
MITOGEN_AVAILABLE_IN_ALL
GVariant        *mitogen_channel_get_finish   (MitogenChannel  *channel,
                                               GAsyncResult    *result,
                                               GError         **error);
MITOGEN_AVAILABLE_IN_ALL
void             mitogen_channel_close        (MitogenChannel  *channel);

G_END_DECLS
