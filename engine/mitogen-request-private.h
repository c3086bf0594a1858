/* mitogen-request-private.h: the engine's own one-question requests.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "mitogen-private.h"

G_BEGIN_DECLS

/* Sends @value (floating or owned; may be NULL) to @handle in context @dst
 * and waits for the one reply, which must be of @type. For the engine's own
 * requests up the tree (module fetch, id allocation). Uses the public
 * router API only, so any layer may ask. */
GVariant *_mitogen_request        (MitogenRouter       *router,
                                   guint32              dst,
                                   guint32              handle,
                                   GVariant            *value,
                                   const GVariantType  *type,
                                   int                  timeout_msec,
                                   GCancellable        *cancellable,
                                   GError             **error);
void      _mitogen_request_async  (MitogenRouter       *router,
                                   guint32              dst,
                                   guint32              handle,
                                   GVariant            *value,
                                   const GVariantType  *type,
                                   int                  timeout_msec,
                                   GCancellable        *cancellable,
                                   GAsyncReadyCallback  callback,
                                   gpointer             user_data);
GVariant *_mitogen_request_finish (GAsyncResult        *result,
                                   GError             **error);

G_END_DECLS
