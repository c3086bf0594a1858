/* mitogen-transfer-api.c: the public face of transfers (push, pull,
 * their async forms and blocking wrappers); the machinery is in
 * mitogen-transfer.c.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "mitogen-private.h"
#include "mitogen-transfer-private.h"

#include <unistd.h>

#include <glib/gstdio.h>

static void
transfer_free (gpointer data)
{
  Transfer *t = data;

  if (t->temp != NULL)
    g_unlink (t->temp);
  if (t->fd >= 0)
    close (t->fd);
  if (t->cancel_source != NULL)
    {
      g_source_destroy (t->cancel_source);
      g_source_unref (t->cancel_source);
    }
  if (t->progress_destroy != NULL)
    t->progress_destroy (t->progress_data);
  g_clear_object (&t->context);
  g_clear_pointer (&t->items, g_variant_unref);
  g_clear_pointer (&t->file, g_variant_unref);
  g_clear_pointer (&t->sha, _mitogen_sha256_free);
  g_clear_error (&t->error);
  g_free (t->temp);
  g_free (t->local_root);
  g_free (t->remote_root);
  g_free (t);
}

static gboolean
on_cancelled (GCancellable *cancellable,
              gpointer      data)
{
  _mitogen_transfer_pump (data);
  return G_SOURCE_REMOVE;
}

/* ---- starting --------------------------------------------------------- */

static void
on_walked (GTask    *task,
           GVariant *result,
           gpointer  data)
{
  Transfer *t = g_task_get_task_data (task);
  g_autoptr(GVariant) root = NULL;
  Item item;

  if (t->items == NULL)
    t->items = g_variant_ref (result);
  root = g_variant_get_child_value (t->items, 0);
  _mitogen_transfer_item_parse (root, &item);
  if (item.kind == 'd' && !(t->flags & MITOGEN_TRANSFER_RECURSIVE))
    {
      _mitogen_transfer_fail (t, g_error_new (G_IO_ERROR, G_IO_ERROR_IS_DIRECTORY,
                            "%s is a directory (copy it recursively)",
                            t->push ? t->local_root : t->remote_root));
      return;
    }
  for (gsize i = 0; i < g_variant_n_children (t->items); i++)
    {
      g_autoptr(GVariant) v = g_variant_get_child_value (t->items, i);

      _mitogen_transfer_item_parse (v, &item);
      if (item.kind == 'f')
        t->total += item.size;
    }
  t->state = STATE_ITEMS;
}

void
_mitogen_transfer_start (MitogenContext              *context,
       gboolean                     push,
       const char                  *local_path,
       const char                  *remote_path,
       MitogenTransferFlags         flags,
       MitogenTransferProgressFunc  progress,
       gpointer                     progress_data,
       GDestroyNotify               progress_destroy,
       GCancellable                *cancellable,
       GAsyncReadyCallback          callback,
       gpointer                     user_data,
       gpointer                     source_tag)
{
  g_autoptr(GTask) task = g_task_new (context, cancellable, callback, user_data);
  Transfer *t = g_new0 (Transfer, 1);
  GError *error = NULL;

  g_task_set_source_tag (task, source_tag);
  g_task_set_return_on_cancel (task, FALSE);
  t->context = g_object_ref (context);
  t->push = push;
  t->flags = flags;
  t->fd = -1;
  t->local_root = g_strdup (local_path);
  t->remote_root = g_strdup (remote_path);
  t->progress = progress;
  t->progress_data = progress_data;
  t->progress_destroy = progress_destroy;
  g_task_set_task_data (task, t, transfer_free);
  if (cancellable != NULL)
    {
      t->cancel_source = g_cancellable_source_new (cancellable);
      g_source_set_callback (t->cancel_source, G_SOURCE_FUNC (on_cancelled), task, NULL);
      g_source_attach (t->cancel_source, g_task_get_context (task));
    }

  if (push)
    {
      t->items = _mitogen_transfer_walk (local_path, &error);
      if (t->items != NULL)
        g_variant_ref_sink (t->items);
      else
        _mitogen_transfer_fail (t, error);
    }
  t->state = STATE_OPENING;
  if (t->items == NULL && t->error == NULL)
    _mitogen_transfer_call (task, "transfer.walk", g_variant_new ("(s)", remote_path), 0, on_walked, NULL, NULL);
  else if (t->items != NULL)
    on_walked (task, t->items, NULL);
  _mitogen_transfer_pump (task);
}

static void
on_sync_done (GObject      *source,
              GAsyncResult *result,
              gpointer      data)
{
  *(GAsyncResult **) data = g_object_ref (result);
}

/* Runs a transfer to its end in a main context of its own. */
static gboolean
run_sync (MitogenContext              *context,
          gboolean                     push,
          const char                  *local_path,
          const char                  *remote_path,
          MitogenTransferFlags         flags,
          MitogenTransferProgressFunc  progress,
          gpointer                     progress_data,
          GCancellable                *cancellable,
          GError                     **error)
{
  g_autoptr(MitogenRouter) router = mitogen_context_dup_router (context);
  g_autoptr(GMainContext) main_context = NULL;
  g_autoptr(GAsyncResult) result = NULL;

  if (!_mitogen_check_not_broker (mitogen_router_get_broker (router),
                                  push ? "mitogen_context_push" : "mitogen_context_pull", error))
    return FALSE;
  main_context = g_main_context_new ();
  g_main_context_push_thread_default (main_context);
  _mitogen_transfer_start (context, push, local_path, remote_path, flags, progress, progress_data, NULL,
         cancellable, on_sync_done, &result, run_sync);
  while (result == NULL)
    g_main_context_iteration (main_context, TRUE);
  g_main_context_pop_thread_default (main_context);
  return g_task_propagate_boolean (G_TASK (result), error);
}

/**
 * mitogen_context_push_async:
 * @context: a connected context
 * @local_path: (type filename): the file, or with %MITOGEN_TRANSFER_RECURSIVE
 *   the directory, to copy
 * @remote_path: (type filename): where it goes in @context: the new name of
 *   the file or directory (not a directory to put it in)
 * @flags: how to copy
 * @progress: (nullable) (scope notified) (closure progress_data) (destroy progress_destroy):
 *   told the bytes copied so far
 * @progress_data: data for @progress
 * @progress_destroy: (nullable): frees @progress_data
 * @cancellable: (nullable): stops the transfer
 * @callback: (scope async): called in the caller's thread-default main
 *   context when the transfer is over
 * @user_data: data for @callback
 *
 * Copies a file or a tree from this process to @context, through any
 * number of hops: in chunk calls with at most 4 MiB unanswered, small
 * files many to a call. Each file is written to a temporary file beside
 * its destination, checked against the sha256 of what was read here,
 * flushed to disk and renamed into place: a failed or cancelled transfer
 * never leaves a partial file, and leaves a file it did not reach as it
 * was.
 */
void
mitogen_context_push_async (MitogenContext              *context,
                            const char                  *local_path,
                            const char                  *remote_path,
                            MitogenTransferFlags         flags,
                            MitogenTransferProgressFunc  progress,
                            gpointer                     progress_data,
                            GDestroyNotify               progress_destroy,
                            GCancellable                *cancellable,
                            GAsyncReadyCallback          callback,
                            gpointer                     user_data)
{
  g_return_if_fail (MITOGEN_IS_CONTEXT (context));
  g_return_if_fail (local_path != NULL && remote_path != NULL);
  _mitogen_transfer_start (context, TRUE, local_path, remote_path, flags, progress, progress_data,
         progress_destroy, cancellable, callback, user_data, mitogen_context_push_async);
}

/**
 * mitogen_context_push_finish:
 * @context: a context
 * @result: the result given to the callback
 * @error: return location for an error
 *
 * Ends mitogen_context_push_async().
 *
 * Returns: %TRUE if everything was copied
 */
gboolean
mitogen_context_push_finish (MitogenContext  *context,
                             GAsyncResult    *result,
                             GError         **error)
{
  g_return_val_if_fail (g_task_is_valid (result, context), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

/**
 * mitogen_context_push:
 * @context: a connected context
 * @local_path: (type filename): the file or directory to copy
 * @remote_path: (type filename): its new name in @context
 * @flags: how to copy
 * @progress: (nullable) (scope call) (closure progress_data): told the bytes
 *   copied so far
 * @progress_data: data for @progress
 * @cancellable: (nullable): stops the transfer
 * @error: return location for an error
 *
 * Copies a file or a tree to @context and waits; see
 * mitogen_context_push_async(). Not on the broker's thread.
 *
 * Returns: %TRUE if everything was copied
 */
gboolean
mitogen_context_push (MitogenContext              *context,
                      const char                  *local_path,
                      const char                  *remote_path,
                      MitogenTransferFlags         flags,
                      MitogenTransferProgressFunc  progress,
                      gpointer                     progress_data,
                      GCancellable                *cancellable,
                      GError                     **error)
{
  g_return_val_if_fail (MITOGEN_IS_CONTEXT (context), FALSE);
  g_return_val_if_fail (local_path != NULL && remote_path != NULL, FALSE);
  return run_sync (context, TRUE, local_path, remote_path, flags, progress, progress_data,
                   cancellable, error);
}

/**
 * mitogen_context_pull_async:
 * @context: a connected context
 * @remote_path: (type filename): the file, or with %MITOGEN_TRANSFER_RECURSIVE
 *   the directory, to copy from @context
 * @local_path: (type filename): its new name here (not a directory to put
 *   it in)
 * @flags: how to copy
 * @progress: (nullable) (scope notified) (closure progress_data) (destroy progress_destroy):
 *   told the bytes copied so far
 * @progress_data: data for @progress
 * @progress_destroy: (nullable): frees @progress_data
 * @cancellable: (nullable): stops the transfer
 * @callback: (scope async): called in the caller's thread-default main
 *   context when the transfer is over
 * @user_data: data for @callback
 *
 * Copies a file or a tree from @context to this process, as
 * mitogen_context_push_async() does the other way: windowed, checked
 * against the sha256 of what @context read, through a temporary file that
 * is renamed into place only when complete.
 */
void
mitogen_context_pull_async (MitogenContext              *context,
                            const char                  *remote_path,
                            const char                  *local_path,
                            MitogenTransferFlags         flags,
                            MitogenTransferProgressFunc  progress,
                            gpointer                     progress_data,
                            GDestroyNotify               progress_destroy,
                            GCancellable                *cancellable,
                            GAsyncReadyCallback          callback,
                            gpointer                     user_data)
{
  g_return_if_fail (MITOGEN_IS_CONTEXT (context));
  g_return_if_fail (local_path != NULL && remote_path != NULL);
  _mitogen_transfer_start (context, FALSE, local_path, remote_path, flags, progress, progress_data,
         progress_destroy, cancellable, callback, user_data, mitogen_context_pull_async);
}

/**
 * mitogen_context_pull_finish:
 * @context: a context
 * @result: the result given to the callback
 * @error: return location for an error
 *
 * Ends mitogen_context_pull_async().
 *
 * Returns: %TRUE if everything was copied
 */
gboolean
mitogen_context_pull_finish (MitogenContext  *context,
                             GAsyncResult    *result,
                             GError         **error)
{
  g_return_val_if_fail (g_task_is_valid (result, context), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

/**
 * mitogen_context_pull:
 * @context: a connected context
 * @remote_path: (type filename): the file or directory to copy
 * @local_path: (type filename): its new name here
 * @flags: how to copy
 * @progress: (nullable) (scope call) (closure progress_data): told the bytes
 *   copied so far
 * @progress_data: data for @progress
 * @cancellable: (nullable): stops the transfer
 * @error: return location for an error
 *
 * Copies a file or a tree from @context and waits; see
 * mitogen_context_pull_async(). Not on the broker's thread.
 *
 * Returns: %TRUE if everything was copied
 */
gboolean
mitogen_context_pull (MitogenContext              *context,
                      const char                  *remote_path,
                      const char                  *local_path,
                      MitogenTransferFlags         flags,
                      MitogenTransferProgressFunc  progress,
                      gpointer                     progress_data,
                      GCancellable                *cancellable,
                      GError                     **error)
{
  g_return_val_if_fail (MITOGEN_IS_CONTEXT (context), FALSE);
  g_return_val_if_fail (local_path != NULL && remote_path != NULL, FALSE);
  return run_sync (context, FALSE, local_path, remote_path, flags, progress, progress_data,
                   cancellable, error);
}
