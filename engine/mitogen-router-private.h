/* mitogen-router-private.h: router internals shared with the agent and the
 * other engine types.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "mitogen-private.h"
#include "mitogen-stream-private.h"

G_BEGIN_DECLS

/* Called on the broker thread when the stream to the parent closes. */
typedef void (*MitogenParentLostFunc) (MitogenRouter *router,
                                       const GError  *reason,
                                       gpointer       user_data);

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
gboolean        _mitogen_router_context_is_lost (MitogenRouter         *router,
                                                 guint32                context_id);
void            _mitogen_router_register_functions (void);
GVariant       *_mitogen_router_request         (MitogenRouter         *router,
                                                 guint32                dst,
                                                 guint32                handle,
                                                 GVariant              *value,
                                                 const GVariantType    *type,
                                                 int                    timeout_msec,
                                                 GCancellable          *cancellable,
                                                 GError               **error);
const char     *_mitogen_router_get_agent_path  (MitogenRouter         *router);
void            _mitogen_router_set_agent_path  (MitogenRouter         *router,
                                                 const char            *path);

/* mitogen-context.c */
MitogenContext *_mitogen_context_new            (MitogenRouter         *router,
                                                 guint32                id,
                                                 const char            *name,
                                                 MitogenContext        *via,
                                                 GVariant              *remote_info);
void            _mitogen_context_set_lost       (MitogenContext        *context);
void            _mitogen_context_emit_disconnected (MitogenContext     *context);
void            _mitogen_context_set_name       (MitogenContext        *context,
                                                 const char            *name);

/* mitogen-receiver.c: the latch behind a receiver, for selects. */
typedef struct _MitogenLatch MitogenLatch;
MitogenLatch   *_mitogen_receiver_get_latch     (MitogenReceiver       *recv);

/* mitogen-select.c */
MitogenLatch   *_mitogen_select_get_latch       (MitogenSelect         *sel);
MitogenMessage *_mitogen_select_try_get         (MitogenSelect         *sel,
                                                 GObject              **source,
                                                 GError               **error);

/* mitogen-call.c */
MitogenCall    *_mitogen_call_new               (MitogenRouter         *router,
                                                 MitogenContext        *caller,
                                                 MitogenMessage        *msg,
                                                 const char            *function);
/* Runs one CALL_FUNCTION message and sends its reply. */
void            _mitogen_call_run_message       (MitogenRouter         *router,
                                                 MitogenMessage        *msg,
                                                 const char            *context_name);

G_END_DECLS
