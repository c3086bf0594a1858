/* mitogen-handler-table-private.h: the handlers of one router, by handle.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "mitogen-private.h"

G_BEGIN_DECLS

/* Handle → handler, with the context expected to answer on it. Handlers
 * are called outside the table's lock (a handler may add or remove
 * handlers), and stay alive while they run even if removed meanwhile. */
typedef struct _MitogenHandlerTable MitogenHandlerTable;

MitogenHandlerTable *_mitogen_handler_table_new    (void);
void                 _mitogen_handler_table_free   (MitogenHandlerTable *table);
/* Replaces any handler of @handle. @respondent < 0: none; else only
 * messages from @respondent reach the handler, and dead notices also from
 * the ids in @path (nullable: the routers on the way to it). */
void                 _mitogen_handler_table_add    (MitogenHandlerTable *table,
                                                    guint32              handle,
                                                    gint64               respondent,
                                                    GArray              *path,
                                                    MitogenHandlerFunc   func,
                                                    gpointer             user_data,
                                                    GDestroyNotify       notify);
void                 _mitogen_handler_table_remove (MitogenHandlerTable *table,
                                                    guint32              handle);
/* Runs the handler of @msg's handle; FALSE when there is none. A message
 * from a context the handler does not expect is dropped (logged once per
 * handler); @own_id is this router's context id. */
gboolean             _mitogen_handler_table_dispatch (MitogenHandlerTable *table,
                                                      MitogenMessage      *msg,
                                                      guint32              own_id);
/* Every handler waiting on a context in @ids (NULL: on any context) gets
 * one dead message, addressed to @context_id, and is removed. */
void                 _mitogen_handler_table_fail_respondents (MitogenHandlerTable *table,
                                                              GArray              *ids,
                                                              guint32              context_id);

G_END_DECLS
