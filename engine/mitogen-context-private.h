/* mitogen-context-private.h: what the router does to its contexts.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "mitogen-private.h"

G_BEGIN_DECLS

MitogenContext *_mitogen_context_new            (MitogenRouter  *router,
                                                 guint32         id,
                                                 const char     *name,
                                                 MitogenContext *via,
                                                 GVariant       *remote_info);
/* Marks the context gone and completes every shutdown wait. Any thread. */
void            _mitogen_context_set_lost       (MitogenContext *context);
/* Emits MitogenContext::disconnected; the router's main context. */
void            _mitogen_context_emit_disconnected (MitogenContext *context);
/* mitogen_context_begin_call(), with the call's encoded form cleared
 * when freed when @sensitive (its arguments hold a secret). */
MitogenReceiver *_mitogen_context_begin_call_full (MitogenContext *context,
                                                   const char     *function,
                                                   GVariant       *args,
                                                   gboolean        sensitive);

G_END_DECLS
