/* mitogen-handler-table.c: the handlers of one router, by handle.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "mitogen-handler-table-private.h"
#include "mitogen-message-private.h"

typedef struct
{
  gatomicrefcount     ref_count;
  MitogenHandlerFunc  func;           /* immutable */
  gpointer            user_data;      /* immutable */
  GDestroyNotify      notify;         /* immutable */
  gint64              respondent;     /* immutable; context id, or -1 */
  GArray             *path;           /* immutable, nullable; guint32 ids on the
                                       * way to @respondent, whose dead notices
                                       * (a bounce) are accepted too */
  gint                warned;         /* atomic: a stranger's message was logged */
} Handler;

struct _MitogenHandlerTable
{
  GMutex      lock;
  GHashTable *handlers;               /* lock; handle → Handler* (ref) */
};

static Handler *
handler_ref (Handler *h)
{
  g_atomic_ref_count_inc (&h->ref_count);
  return h;
}

static void
handler_unref (gpointer data)
{
  Handler *h = data;

  if (!g_atomic_ref_count_dec (&h->ref_count))
    return;
  if (h->notify != NULL)
    h->notify (h->user_data);
  g_clear_pointer (&h->path, g_array_unref);
  g_free (h);
}

MitogenHandlerTable *
_mitogen_handler_table_new (void)
{
  MitogenHandlerTable *table = g_new0 (MitogenHandlerTable, 1);

  g_mutex_init (&table->lock);
  table->handlers = g_hash_table_new_full (NULL, NULL, NULL, handler_unref);
  return table;
}

void
_mitogen_handler_table_free (MitogenHandlerTable *table)
{
  g_hash_table_unref (table->handlers);
  g_mutex_clear (&table->lock);
  g_free (table);
}

void
_mitogen_handler_table_add (MitogenHandlerTable *table,
                            guint32              handle,
                            gint64               respondent,
                            GArray              *path,
                            MitogenHandlerFunc   func,
                            gpointer             user_data,
                            GDestroyNotify       notify)
{
  Handler *h = g_new0 (Handler, 1);

  g_atomic_ref_count_init (&h->ref_count);
  h->func = func;
  h->user_data = user_data;
  h->notify = notify;
  h->respondent = respondent;
  h->path = path != NULL ? g_array_ref (path) : NULL;

  g_mutex_lock (&table->lock);
  g_hash_table_replace (table->handlers, GUINT_TO_POINTER (handle), h);
  g_mutex_unlock (&table->lock);
}

void
_mitogen_handler_table_remove (MitogenHandlerTable *table,
                               guint32              handle)
{
  Handler *h = NULL;

  g_mutex_lock (&table->lock);
  g_hash_table_steal_extended (table->handlers, GUINT_TO_POINTER (handle),
                               NULL, (gpointer *) &h);
  g_mutex_unlock (&table->lock);
  /* Outside the lock: the notify may remove handlers too. */
  if (h != NULL)
    handler_unref (h);
}

static gboolean
id_in (GArray *ids,
       gint64  id);

/* Replies only from the respondent: a handler that expects one takes
 * messages from it alone, and dead notices also from this router (a
 * local failure) and from the routers on the way to it (a bounce). */
static gboolean
sender_is_expected (Handler        *h,
                    MitogenMessage *msg,
                    guint32         own_id)
{
  if (h->respondent < 0 || msg->src_id == h->respondent)
    return TRUE;
  if (!mitogen_message_is_dead (msg))
    return FALSE;
  return msg->src_id == own_id || (h->path != NULL && id_in (h->path, msg->src_id));
}

gboolean
_mitogen_handler_table_dispatch (MitogenHandlerTable *table,
                                 MitogenMessage      *msg,
                                 guint32              own_id)
{
  Handler *h;

  g_mutex_lock (&table->lock);
  h = g_hash_table_lookup (table->handlers, GUINT_TO_POINTER (msg->handle));
  if (h != NULL)
    handler_ref (h);
  g_mutex_unlock (&table->lock);

  if (h == NULL)
    return FALSE;
  if (!sender_is_expected (h, msg, own_id))
    {
      if (g_atomic_int_compare_and_exchange (&h->warned, FALSE, TRUE))
        g_warning ("context %u: dropped a message for handle %u from context %u: it expects "
                   "context %u", own_id, msg->handle, msg->src_id, (guint32) h->respondent);
      else
        g_debug ("context %u: dropped another message for handle %u from context %u",
                 own_id, msg->handle, msg->src_id);
      handler_unref (h);
      return TRUE;
    }
  h->func (msg, h->user_data);
  handler_unref (h);
  return TRUE;
}

static gboolean
id_in (GArray *ids,
       gint64  id)
{
  for (guint i = 0; i < ids->len; i++)
    if (g_array_index (ids, guint32, i) == id)
      return TRUE;
  return FALSE;
}

void
_mitogen_handler_table_fail_respondents (MitogenHandlerTable *table,
                                         GArray              *ids,
                                         guint32              context_id)
{
  g_autoptr(GArray) handles = g_array_new (FALSE, FALSE, sizeof (guint32));
  g_autoptr(GPtrArray) victims = g_ptr_array_new ();
  GHashTableIter iter;
  gpointer key, value;

  g_mutex_lock (&table->lock);
  g_hash_table_iter_init (&iter, table->handlers);
  while (g_hash_table_iter_next (&iter, &key, &value))
    {
      Handler *h = value;

      if (h->respondent >= 0 && (ids == NULL || id_in (ids, h->respondent)))
        {
          guint32 handle = GPOINTER_TO_UINT (key);

          g_array_append_val (handles, handle);
          g_ptr_array_add (victims, h);
          g_hash_table_iter_steal (&iter);
        }
    }
  g_mutex_unlock (&table->lock);

  for (guint i = 0; i < victims->len; i++)
    {
      Handler *h = victims->pdata[i];
      g_autoptr(MitogenMessage) dead = mitogen_message_new_dead (context_id,
                                                                 g_array_index (handles, guint32, i),
                                                                 MITOGEN_MSG_CONTEXT_LOST);

      dead->src_id = dead->auth_id = (guint32) h->respondent;
      dead->src_fixed = TRUE;
      h->func (dead, h->user_data);
      handler_unref (h);
    }
}
