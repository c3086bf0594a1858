/* mitogen-route-table.c: who is reached through which stream.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "mitogen-route-table-private.h"

struct _MitogenRouteTable
{
  MitogenRefFunc  stream_ref;     /* immutable */
  GDestroyNotify  stream_unref;   /* immutable */

  GMutex          lock;           /* the one lock; taken by every function */
  guint32         context_id;     /* lock; set once */
  guint32         parent_id;      /* lock; set once */
  GArray         *ancestors;      /* lock; guint32: the parent, its parent, ..., the master */
  gpointer        parent;         /* lock; owned reference; NULL in the master */
  GHashTable     *routes;         /* lock; id → stream (borrowed: @children holds it) */
  GHashTable     *children;       /* lock; stream (owned reference) → direct child id */
  GHashTable     *lost;           /* lock; set of ids that were lost */
  GHashTable     *grants;         /* lock; id → the child stream it was given to,
                                   * or GRANTED_HERE, until it is used */
  GHashTable     *grant_counts;   /* lock; child stream → ids given, not yet used */
  guint32         next_id;        /* lock; the master's next context id */
};

/* The owner of an id this router asked for itself. */
#define GRANTED_HERE ((gpointer) &grant_here_marker)
static const char grant_here_marker = 0;

MitogenRouteTable *
_mitogen_route_table_new (MitogenRefFunc stream_ref,
                          GDestroyNotify stream_unref)
{
  MitogenRouteTable *table = g_new0 (MitogenRouteTable, 1);

  table->stream_ref = stream_ref;
  table->stream_unref = stream_unref;
  g_mutex_init (&table->lock);
  table->ancestors = g_array_new (FALSE, FALSE, sizeof (guint32));
  table->routes = g_hash_table_new (NULL, NULL);
  table->children = g_hash_table_new (NULL, NULL);
  table->lost = g_hash_table_new (NULL, NULL);
  table->grants = g_hash_table_new (NULL, NULL);
  table->grant_counts = g_hash_table_new (NULL, NULL);
  table->next_id = 1;
  return table;
}

static gpointer
ref_stream (MitogenRouteTable *table,
            gpointer           stream)
{
  if (stream != NULL && table->stream_ref != NULL)
    table->stream_ref (stream);
  return stream;
}

static void
unref_stream (MitogenRouteTable *table,
              gpointer           stream)
{
  if (stream != NULL && table->stream_unref != NULL)
    table->stream_unref (stream);
}

void
_mitogen_route_table_free (MitogenRouteTable *table)
{
  GHashTableIter iter;
  gpointer stream;

  if (table == NULL)
    return;
  g_hash_table_iter_init (&iter, table->children);
  while (g_hash_table_iter_next (&iter, &stream, NULL))
    unref_stream (table, stream);
  unref_stream (table, table->parent);
  g_hash_table_unref (table->routes);
  g_hash_table_unref (table->children);
  g_hash_table_unref (table->lost);
  g_hash_table_unref (table->grants);
  g_hash_table_unref (table->grant_counts);
  g_array_unref (table->ancestors);
  g_mutex_clear (&table->lock);
  g_free (table);
}

void
_mitogen_route_table_set_identity (MitogenRouteTable *table,
                                   guint32            context_id,
                                   guint32            parent_id,
                                   const GArray      *ancestors)
{
  g_mutex_lock (&table->lock);
  table->context_id = context_id;
  table->parent_id = parent_id;
  g_array_set_size (table->ancestors, 0);
  if (ancestors != NULL)
    g_array_append_vals (table->ancestors, ancestors->data, ancestors->len);
  g_mutex_unlock (&table->lock);
}

guint32
_mitogen_route_table_get_context_id (MitogenRouteTable *table)
{
  guint32 id;

  g_mutex_lock (&table->lock);
  id = table->context_id;
  g_mutex_unlock (&table->lock);
  return id;
}

guint32
_mitogen_route_table_get_parent_id (MitogenRouteTable *table)
{
  guint32 id;

  g_mutex_lock (&table->lock);
  id = table->parent_id;
  g_mutex_unlock (&table->lock);
  return id;
}

GArray *
_mitogen_route_table_dup_lineage (MitogenRouteTable *table)
{
  GArray *ids = g_array_new (FALSE, FALSE, sizeof (guint32));

  g_mutex_lock (&table->lock);
  g_array_append_val (ids, table->context_id);
  g_array_append_vals (ids, table->ancestors->data, table->ancestors->len);
  g_mutex_unlock (&table->lock);
  return ids;
}

static gboolean
is_ancestor_unlocked (MitogenRouteTable *table,
                      guint32            id)
{
  if (table->parent == NULL)
    return FALSE;
  if (id == table->parent_id)
    return TRUE;
  for (guint i = 0; i < table->ancestors->len; i++)
    if (g_array_index (table->ancestors, guint32, i) == id)
      return TRUE;
  return FALSE;
}

gboolean
_mitogen_route_table_is_ancestor (MitogenRouteTable *table,
                                  guint32            context_id)
{
  gboolean ok;

  g_mutex_lock (&table->lock);
  ok = is_ancestor_unlocked (table, context_id);
  g_mutex_unlock (&table->lock);
  return ok;
}

void
_mitogen_route_table_set_parent (MitogenRouteTable *table,
                                 gpointer           stream)
{
  gpointer old;

  ref_stream (table, stream);
  g_mutex_lock (&table->lock);
  old = table->parent;
  table->parent = stream;
  g_mutex_unlock (&table->lock);
  unref_stream (table, old);
}

gboolean
_mitogen_route_table_has_parent (MitogenRouteTable *table)
{
  gboolean has;

  g_mutex_lock (&table->lock);
  has = table->parent != NULL;
  g_mutex_unlock (&table->lock);
  return has;
}

gboolean
_mitogen_route_table_is_parent (MitogenRouteTable *table,
                                gpointer           stream)
{
  gboolean is;

  g_mutex_lock (&table->lock);
  is = stream != NULL && table->parent == stream;
  g_mutex_unlock (&table->lock);
  return is;
}

/* Uses up the grant of @id if it went to @owner. Lock held. */
static gboolean
take_grant_unlocked (MitogenRouteTable *table,
                     guint32            id,
                     gpointer           owner)
{
  gpointer key = GUINT_TO_POINTER (id);
  guint count;

  if (g_hash_table_lookup (table->grants, key) != owner || owner == NULL)
    return FALSE;
  g_hash_table_remove (table->grants, key);
  count = GPOINTER_TO_UINT (g_hash_table_lookup (table->grant_counts, owner));
  if (count > 1)
    g_hash_table_insert (table->grant_counts, owner, GUINT_TO_POINTER (count - 1));
  else
    g_hash_table_remove (table->grant_counts, owner);
  return TRUE;
}

/* An id nobody may take below us: ours, the parent's, an ancestor's. */
static gboolean
id_is_reserved_unlocked (MitogenRouteTable *table,
                         guint32            id)
{
  return id == table->context_id || is_ancestor_unlocked (table, id);
}

gboolean
_mitogen_route_table_add_child (MitogenRouteTable *table,
                                gpointer           stream,
                                guint32            id)
{
  gboolean ok;

  g_return_val_if_fail (stream != NULL, FALSE);

  g_mutex_lock (&table->lock);
  ok = !id_is_reserved_unlocked (table, id) &&
       !g_hash_table_contains (table->routes, GUINT_TO_POINTER (id)) &&
       !g_hash_table_contains (table->children, stream) &&
       take_grant_unlocked (table, id, GRANTED_HERE);
  if (ok)
    {
      g_hash_table_insert (table->children, stream, GUINT_TO_POINTER (id));
      g_hash_table_insert (table->routes, GUINT_TO_POINTER (id), stream);
    }
  g_mutex_unlock (&table->lock);
  if (ok)
    ref_stream (table, stream);
  return ok;
}

/* The stream of direct child @id, or NULL. Lock held. */
static gpointer
child_stream_unlocked (MitogenRouteTable *table,
                       guint32            id)
{
  gpointer stream = g_hash_table_lookup (table->routes, GUINT_TO_POINTER (id));

  if (stream == NULL ||
      GPOINTER_TO_UINT (g_hash_table_lookup (table->children, stream)) != id)
    return NULL;
  return stream;
}

gpointer
_mitogen_route_table_ref_child (MitogenRouteTable *table,
                                guint32            id)
{
  gpointer stream;

  g_mutex_lock (&table->lock);
  stream = ref_stream (table, child_stream_unlocked (table, id));
  g_mutex_unlock (&table->lock);
  return stream;
}

void
_mitogen_route_table_unref_stream (MitogenRouteTable *table,
                                   gpointer           stream)
{
  unref_stream (table, stream);
}

GPtrArray *
_mitogen_route_table_ref_streams (MitogenRouteTable *table,
                                  gboolean           with_parent)
{
  GPtrArray *streams = g_ptr_array_new ();
  GHashTableIter iter;
  gpointer stream;

  g_mutex_lock (&table->lock);
  g_hash_table_iter_init (&iter, table->children);
  while (g_hash_table_iter_next (&iter, &stream, NULL))
    g_ptr_array_add (streams, ref_stream (table, stream));
  if (with_parent && table->parent != NULL)
    g_ptr_array_add (streams, ref_stream (table, table->parent));
  g_mutex_unlock (&table->lock);
  return streams;
}

gpointer
_mitogen_route_table_ref_route (MitogenRouteTable *table,
                                guint32            dst_id)
{
  gpointer stream;

  g_mutex_lock (&table->lock);
  stream = g_hash_table_lookup (table->routes, GUINT_TO_POINTER (dst_id));
  if (stream == NULL && !g_hash_table_contains (table->lost, GUINT_TO_POINTER (dst_id)))
    stream = table->parent;
  ref_stream (table, stream);
  g_mutex_unlock (&table->lock);
  return stream;
}

gboolean
_mitogen_route_table_is_lost (MitogenRouteTable *table,
                              guint32            id)
{
  gboolean lost;

  g_mutex_lock (&table->lock);
  lost = g_hash_table_contains (table->lost, GUINT_TO_POINTER (id));
  g_mutex_unlock (&table->lock);
  return lost;
}

gboolean
_mitogen_route_table_source_is_plausible (MitogenRouteTable *table,
                                          gpointer           from,
                                          guint32            src_id,
                                          guint32            auth_id)
{
  gboolean ok;

  g_mutex_lock (&table->lock);
  if (from != NULL && from == table->parent)
    ok = src_id != table->context_id &&
         !g_hash_table_contains (table->routes, GUINT_TO_POINTER (src_id)) &&
         !g_hash_table_contains (table->routes, GUINT_TO_POINTER (auth_id));
  else
    ok = from != NULL &&
         g_hash_table_lookup (table->routes, GUINT_TO_POINTER (src_id)) == from &&
         g_hash_table_lookup (table->routes, GUINT_TO_POINTER (auth_id)) == from;
  g_mutex_unlock (&table->lock);
  return ok;
}

gboolean
_mitogen_route_table_is_direct_child (MitogenRouteTable *table,
                                      guint32            src_id)
{
  gboolean ok;

  g_mutex_lock (&table->lock);
  ok = child_stream_unlocked (table, src_id) != NULL;
  g_mutex_unlock (&table->lock);
  return ok;
}

gboolean
_mitogen_route_table_announce (MitogenRouteTable *table,
                               guint32            child_id,
                               guint32            id)
{
  gpointer stream, existing;
  gboolean ok;

  g_mutex_lock (&table->lock);
  stream = child_stream_unlocked (table, child_id);
  existing = g_hash_table_lookup (table->routes, GUINT_TO_POINTER (id));
  ok = stream != NULL && existing == NULL && !id_is_reserved_unlocked (table, id) &&
       take_grant_unlocked (table, id, stream);
  if (ok)
    g_hash_table_insert (table->routes, GUINT_TO_POINTER (id), stream);
  g_mutex_unlock (&table->lock);
  return ok;
}

gboolean
_mitogen_route_table_withdraw (MitogenRouteTable *table,
                               guint32            child_id,
                               guint32            id)
{
  gpointer stream;
  gboolean ok;

  g_mutex_lock (&table->lock);
  stream = child_stream_unlocked (table, child_id);
  ok = stream != NULL && id != child_id &&
       g_hash_table_lookup (table->routes, GUINT_TO_POINTER (id)) == stream;
  if (ok)
    {
      g_hash_table_remove (table->routes, GUINT_TO_POINTER (id));
      g_hash_table_add (table->lost, GUINT_TO_POINTER (id));
    }
  g_mutex_unlock (&table->lock);
  return ok;
}

gboolean
_mitogen_route_table_drop_stream (MitogenRouteTable *table,
                                  gpointer           stream,
                                  GArray            *lost_ids)
{
  GHashTableIter iter;
  gpointer key, value;
  gpointer dropped = NULL;
  gboolean was_parent;

  g_mutex_lock (&table->lock);
  g_hash_table_iter_init (&iter, table->routes);
  while (g_hash_table_iter_next (&iter, &key, &value))
    if (value == stream)
      {
        guint32 id = GPOINTER_TO_UINT (key);

        g_array_append_val (lost_ids, id);
        g_hash_table_add (table->lost, key);
        g_hash_table_iter_remove (&iter);
      }
  if (g_hash_table_steal (table->children, stream))
    dropped = stream;
  g_hash_table_iter_init (&iter, table->grants);
  while (g_hash_table_iter_next (&iter, &key, &value))
    if (value == stream)
      g_hash_table_iter_remove (&iter);
  g_hash_table_remove (table->grant_counts, stream);
  was_parent = stream != NULL && stream == table->parent;
  if (was_parent)
    {
      dropped = table->parent;
      table->parent = NULL;
    }
  g_mutex_unlock (&table->lock);
  unref_stream (table, dropped);
  return was_parent;
}

gboolean
_mitogen_route_table_grant (MitogenRouteTable *table,
                            guint32            id,
                            gpointer           child,
                            guint              quota)
{
  gpointer owner = child != NULL ? child : GRANTED_HERE;
  guint count;
  gboolean ok;

  g_mutex_lock (&table->lock);
  count = GPOINTER_TO_UINT (g_hash_table_lookup (table->grant_counts, owner));
  ok = id != 0 && !id_is_reserved_unlocked (table, id) &&
       !g_hash_table_contains (table->grants, GUINT_TO_POINTER (id)) &&
       !g_hash_table_contains (table->routes, GUINT_TO_POINTER (id)) &&
       !g_hash_table_contains (table->lost, GUINT_TO_POINTER (id)) &&
       (child == NULL || g_hash_table_contains (table->children, child)) &&
       (quota == 0 || count < quota);
  if (ok)
    {
      g_hash_table_insert (table->grants, GUINT_TO_POINTER (id), owner);
      g_hash_table_insert (table->grant_counts, owner, GUINT_TO_POINTER (count + 1));
    }
  g_mutex_unlock (&table->lock);
  return ok;
}

guint
_mitogen_route_table_count_grants (MitogenRouteTable *table,
                                   gpointer           child)
{
  guint count;

  g_mutex_lock (&table->lock);
  count = GPOINTER_TO_UINT (g_hash_table_lookup (table->grant_counts,
                                                 child != NULL ? child : GRANTED_HERE));
  g_mutex_unlock (&table->lock);
  return count;
}

guint32
_mitogen_route_table_next_id (MitogenRouteTable *table)
{
  guint32 id;

  g_mutex_lock (&table->lock);
  do
    id = table->next_id++;
  while (id == 0 || id_is_reserved_unlocked (table, id) ||
         g_hash_table_contains (table->routes, GUINT_TO_POINTER (id)) ||
         g_hash_table_contains (table->grants, GUINT_TO_POINTER (id)) ||
         g_hash_table_contains (table->lost, GUINT_TO_POINTER (id)));
  g_mutex_unlock (&table->lock);
  return id;
}
