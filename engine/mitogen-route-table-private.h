/* mitogen-route-table-private.h: who is reached through which stream.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The routing state of one context, as plain data: the stream to the
 * parent, the streams to direct children, which context ids are reached
 * through which stream, and which ids were lost. It also owns the checks
 * that keep one subtree from speaking for another (the source check and
 * the rules for route announcements).
 *
 * Streams are opaque here: the table only compares them and keeps them
 * alive with the ref/unref functions it was given. Every function takes
 * the table's one lock, which is never held while calling out (not even
 * the unref function, which runs after the lock is dropped), so the table
 * can be used from any thread and nests inside no other lock. */
typedef struct _MitogenRouteTable MitogenRouteTable;
typedef gpointer (*MitogenRefFunc) (gpointer object);

MitogenRouteTable *_mitogen_route_table_new          (MitogenRefFunc      stream_ref,
                                                      GDestroyNotify      stream_unref);
void               _mitogen_route_table_free         (MitogenRouteTable  *table);

/* Who we are: set once, before any stream is added. @ancestors lists the
 * parent, its parent and so on up to the master, and may be NULL. */
void               _mitogen_route_table_set_identity (MitogenRouteTable  *table,
                                                      guint32             context_id,
                                                      guint32             parent_id,
                                                      const GArray       *ancestors);
guint32            _mitogen_route_table_get_context_id (MitogenRouteTable *table);
guint32            _mitogen_route_table_get_parent_id (MitogenRouteTable *table);
/* This context and every ancestor, nearest first: what a new child is
 * told in its bootstrap. */
GArray            *_mitogen_route_table_dup_lineage  (MitogenRouteTable  *table);
/* Is @context_id this context's parent or one of its ancestors? */
gboolean           _mitogen_route_table_is_ancestor  (MitogenRouteTable  *table,
                                                      guint32             context_id);

void               _mitogen_route_table_set_parent   (MitogenRouteTable  *table,
                                                      gpointer            stream);
gboolean           _mitogen_route_table_has_parent   (MitogenRouteTable  *table);
gboolean           _mitogen_route_table_is_parent    (MitogenRouteTable  *table,
                                                      gpointer            stream);

/* A new direct child with id @id behind @stream. FALSE (nothing changed)
 * when @id was not granted here (_mitogen_route_table_grant() with no
 * child), is taken, is ours, or is an ancestor's. Uses up the grant. */
gboolean           _mitogen_route_table_add_child    (MitogenRouteTable  *table,
                                                      gpointer            stream,
                                                      guint32             id);
/* The stream to direct child @id (a reference), or NULL. */
gpointer           _mitogen_route_table_ref_child    (MitogenRouteTable  *table,
                                                      guint32             id);
/* Drops a reference handed out by the ref functions below. */
void               _mitogen_route_table_unref_stream (MitogenRouteTable  *table,
                                                      gpointer            stream);
/* Every stream: children and the parent, each with a reference. */
GPtrArray         *_mitogen_route_table_ref_streams  (MitogenRouteTable  *table,
                                                      gboolean            with_parent);

/* The stream towards @dst_id (a reference): its route, else the parent's
 * unless @dst_id was lost; NULL when there is none. */
gpointer           _mitogen_route_table_ref_route    (MitogenRouteTable  *table,
                                                      guint32             dst_id);
gboolean           _mitogen_route_table_is_lost      (MitogenRouteTable  *table,
                                                      guint32             id);

/* May a message that arrived on @from claim to come from @src_id with the
 * authority of @auth_id? From a child: only ids routed through that child.
 * From the parent: nothing routed below us, and not us. */
gboolean           _mitogen_route_table_source_is_plausible (MitogenRouteTable *table,
                                                             gpointer           from,
                                                             guint32            src_id,
                                                             guint32            auth_id);
/* Is @src_id a direct child of ours (not something below one)? */
gboolean           _mitogen_route_table_is_direct_child (MitogenRouteTable *table,
                                                         guint32            src_id);

/* Direct child @child_id says @id was started below it. Refused (FALSE)
 * unless @child_id is a direct child, @id was granted to it and is not
 * routed yet, and is neither ours nor an ancestor's. Uses up the grant. */
gboolean           _mitogen_route_table_announce     (MitogenRouteTable  *table,
                                                      guint32             child_id,
                                                      guint32             id);
/* Direct child @child_id says @id below it is gone. Refused (FALSE)
 * unless @id is routed through that child and is not the child itself. */
gboolean           _mitogen_route_table_withdraw     (MitogenRouteTable  *table,
                                                      guint32             child_id,
                                                      guint32             id);
/* @stream closed: forgets it and every route through it, marks those ids
 * lost and appends them to @lost_ids. Returns TRUE when it was the parent. */
gboolean           _mitogen_route_table_drop_stream  (MitogenRouteTable  *table,
                                                      gpointer            stream,
                                                      GArray             *lost_ids);

/* Ids have owners: a context id is granted, by the master and then by
 * each router on the way down, to the router that asked for it (@child
 * NULL) or to the direct child @child whose subtree asked; only its owner
 * may then start (add_child) or announce (announce) a context with it.
 * FALSE when @id is ours, an ancestor's, in use, lost or granted already,
 * or @child already holds @quota unused grants (0: no quota). */
gboolean           _mitogen_route_table_grant        (MitogenRouteTable  *table,
                                                      guint32             id,
                                                      gpointer            child,
                                                      guint               quota);
/* How many granted ids @child (NULL: this router) has not used yet. */
guint              _mitogen_route_table_count_grants (MitogenRouteTable  *table,
                                                      gpointer            child);

/* The master's counter of context ids; never returns 0 or an id that is
 * in use, granted or was lost. */
guint32            _mitogen_route_table_next_id      (MitogenRouteTable  *table);

G_END_DECLS
