/* mitogen-context-table.c: the contexts a router knows, by id.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "mitogen-context-table-private.h"

struct _MitogenContextTable
{
  GMutex      lock;
  GHashTable *contexts;   /* lock; id → MitogenContext* (ref) */
};

MitogenContextTable *
_mitogen_context_table_new (void)
{
  MitogenContextTable *table = g_new0 (MitogenContextTable, 1);

  g_mutex_init (&table->lock);
  table->contexts = g_hash_table_new_full (NULL, NULL, NULL, g_object_unref);
  return table;
}

void
_mitogen_context_table_free (MitogenContextTable *table)
{
  g_hash_table_unref (table->contexts);
  g_mutex_clear (&table->lock);
  g_free (table);
}

void
_mitogen_context_table_add (MitogenContextTable *table,
                            MitogenContext      *context)
{
  g_mutex_lock (&table->lock);
  g_hash_table_replace (table->contexts, GUINT_TO_POINTER (mitogen_context_get_id (context)),
                        g_object_ref (context));
  g_mutex_unlock (&table->lock);
}

MitogenContext *
_mitogen_context_table_lookup (MitogenContextTable *table,
                               guint32              id)
{
  MitogenContext *ctx;

  g_mutex_lock (&table->lock);
  ctx = g_hash_table_lookup (table->contexts, GUINT_TO_POINTER (id));
  if (ctx != NULL)
    g_object_ref (ctx);
  g_mutex_unlock (&table->lock);
  return ctx;
}

MitogenContext *
_mitogen_context_table_keep (MitogenContextTable *table,
                             MitogenContext      *context)
{
  gpointer key = GUINT_TO_POINTER (mitogen_context_get_id (context));
  MitogenContext *kept;

  g_mutex_lock (&table->lock);
  kept = g_hash_table_lookup (table->contexts, key);
  if (kept == NULL)
    {
      kept = context;
      g_hash_table_insert (table->contexts, key, g_object_ref (context));
    }
  g_object_ref (kept);
  g_mutex_unlock (&table->lock);
  return kept;
}

GPtrArray *
_mitogen_context_table_take (MitogenContextTable *table,
                             GArray              *ids)
{
  GPtrArray *taken = g_ptr_array_new_with_free_func (g_object_unref);

  g_mutex_lock (&table->lock);
  for (guint i = 0; i < ids->len; i++)
    {
      gpointer ctx = NULL;

      if (g_hash_table_steal_extended (table->contexts,
                                       GUINT_TO_POINTER (g_array_index (ids, guint32, i)),
                                       NULL, &ctx))
        g_ptr_array_add (taken, ctx);
    }
  g_mutex_unlock (&table->lock);
  return taken;
}

GPtrArray *
_mitogen_context_table_list (MitogenContextTable *table)
{
  GPtrArray *list = g_ptr_array_new_with_free_func (g_object_unref);
  GHashTableIter iter;
  gpointer value;

  g_mutex_lock (&table->lock);
  g_hash_table_iter_init (&iter, table->contexts);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    g_ptr_array_add (list, g_object_ref (value));
  g_mutex_unlock (&table->lock);
  return list;
}
