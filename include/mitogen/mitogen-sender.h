/* mitogen-sender.h
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

#define MITOGEN_TYPE_SENDER (mitogen_sender_get_type ())

/* MitogenSender itself is declared in mitogen-types.h. */

MITOGEN_AVAILABLE_IN_ALL
MitogenSender  *mitogen_sender_new          (MitogenContext  *context,
                                             guint32          handle);
MITOGEN_AVAILABLE_IN_ALL
MitogenContext *mitogen_sender_get_context  (MitogenSender   *sender);
MITOGEN_AVAILABLE_IN_ALL
guint32         mitogen_sender_get_handle   (MitogenSender   *sender);
MITOGEN_AVAILABLE_IN_ALL
gboolean        mitogen_sender_send         (MitogenSender   *sender,
                                             GVariant        *value,
                                             GError         **error);
MITOGEN_AVAILABLE_IN_ALL
void            mitogen_sender_close        (MitogenSender   *sender);

G_END_DECLS
