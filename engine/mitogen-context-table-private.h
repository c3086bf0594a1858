/* mitogen-context-table-private.h: the contexts a router knows, by id.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "mitogen-private.h"

G_BEGIN_DECLS

/* Id → MitogenContext for the contexts a router started (and an agent's
 * parent), each held until it is lost. Handles for any other id are made
 * on demand and not kept, so a peer naming ids costs nothing that stays.
 * One lock, never held while calling out. */
typedef struct _MitogenContextTable MitogenContextTable;

MitogenContextTable *_mitogen_context_table_new    (void);
void                 _mitogen_context_table_free   (MitogenContextTable *table);
/* Keeps @context (a reference) under its id, replacing any other. */
void                 _mitogen_context_table_add    (MitogenContextTable *table,
                                                    MitogenContext      *context);
/* The kept context with @id (a reference), or NULL. */
MitogenContext      *_mitogen_context_table_lookup (MitogenContextTable *table,
                                                    guint32              id);
/* Keeps @context unless one with its id is kept already; returns the one
 * kept (a reference). */
MitogenContext      *_mitogen_context_table_keep   (MitogenContextTable *table,
                                                    MitogenContext      *context);
/* Forgets the contexts in @ids and returns them (references). */
GPtrArray           *_mitogen_context_table_take   (MitogenContextTable *table,
                                                    GArray              *ids);
/* Every kept context (references). */
GPtrArray           *_mitogen_context_table_list   (MitogenContextTable *table);

G_END_DECLS
