/* mitogen-transfer.c: push and pull of files and trees with flow control.
 *
 * A transfer is a sequence of ordinary calls to the transfer.* functions
 * (mitogen-builtins-transfer.c), pipelined: a large file goes as chunk
 * calls of CHUNK_SIZE bytes with at most WINDOW_SIZE bytes unanswered, so
 * memory stays bounded whatever the file's size, and a slow hop anywhere on
 * the route slows the sender (every stream pushes back) instead of filling
 * memory in the middle. Small files of a tree go many to a call. Each
 * transfer has its own window; several share the streams.
 *
 * Everything runs in the caller's thread-default main context, driven by
 * the replies: pump() sends what the window allows, each reply frees room
 * and calls it again. A failure or cancellation stops new calls, waits for
 * those in flight, removes the temporary file on the side that writes and
 * then reports.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "mitogen-private.h"
#include "mitogen-transfer-private.h"

/* A chunk call's bytes, and the most bytes a transfer leaves unanswered. */
#define CHUNK_SIZE (256u * 1024)
#define WINDOW_SIZE (4u * 1024 * 1024)
/* The most bytes and entries one write_many or read_many carries. */
#define BATCH_BYTES (1024u * 1024)
#define BATCH_ENTRIES 512u

void
_mitogen_transfer_fail (Transfer *t,
      GError   *error)
{
  if (t->error == NULL)
    t->error = error;
  else
    g_error_free (error);
}

static void
fail_errno (Transfer   *t,
            const char *what,
            const char *path)
{
  int saved = errno;

  _mitogen_transfer_fail (t, g_error_new (G_IO_ERROR, g_io_error_from_errno (saved), "%s %s: %s",
                        what, path, g_strerror (saved)));
}

static void
add_progress (Transfer *t,
              guint64   n)
{
  t->done += n;
  if (t->progress != NULL && n > 0)
    t->progress (t->done, t->total, t->progress_data);
}

typedef struct
{
  GTask         *task;       /* owned */
  ReplyFunc      func;
  gpointer       data;       /* owned through @data_free */
  GDestroyNotify data_free;
  guint64        bytes;      /* counted in the window */
} Pending;

static void
on_reply (GObject      *source,
          GAsyncResult *result,
          gpointer      user_data)
{
  Pending *p = user_data;
  Transfer *t = g_task_get_task_data (p->task);
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) value = mitogen_context_call_finish (MITOGEN_CONTEXT (source), result,
                                                          &error);

  t->in_flight--;
  t->window_used -= p->bytes;
  /* Handlers run after a failure too: a late id must still be aborted. */
  if (error != NULL)
    _mitogen_transfer_fail (t, g_steal_pointer (&error));
  else
    p->func (p->task, value, p->data);
  _mitogen_transfer_pump (p->task);
  if (p->data_free != NULL)
    p->data_free (p->data);
  g_object_unref (p->task);
  g_free (p);
}

/* Calls @function; @func gets the reply unless the transfer failed. */
void
_mitogen_transfer_call (GTask          *task,
      const char     *function,
      GVariant       *args,
      guint64         bytes,
      ReplyFunc       func,
      gpointer        data,
      GDestroyNotify  data_free)
{
  Transfer *t = g_task_get_task_data (task);
  Pending *p = g_new0 (Pending, 1);

  p->task = g_object_ref (task);
  p->func = func;
  p->data = data;
  p->data_free = data_free;
  p->bytes = bytes;
  t->in_flight++;
  t->window_used += bytes;
  mitogen_context_call_async (t->context, function, args, NULL, on_reply, p);
}

/* ---- items ------------------------------------------------------------ */

void
_mitogen_transfer_item_parse (GVariant *v,
            Item     *item)
{
  g_variant_get (v, "(&sy(tuxuuu)&s)", &item->rel, &item->kind, &item->size, &item->mode,
                 &item->mtime, &item->nsec, &item->uid, &item->gid, &item->target);
}

static char *
item_path (const char *root,
           const Item *item)
{
  return *item->rel ? g_build_filename (root, item->rel, NULL) : g_strdup (root);
}

static gboolean
item_is_large (const Item *item)
{
  return item->kind == 'f' && item->size > MITOGEN_TRANSFER_SMALL_FILE;
}

/* The attributes to set: all of them when preserving, else none (the
 * receiving side gives new files its default mode, as cp does). */
static GVariant *
item_attributes (Transfer   *t,
                 const Item *item)
{
  GVariantDict dict;

  g_variant_dict_init (&dict, NULL);
  if (t->flags & MITOGEN_TRANSFER_PRESERVE)
    {
      g_variant_dict_insert (&dict, "mode", "u", item->mode & 07777);
      g_variant_dict_insert (&dict, "mtime", "x", item->mtime);
      g_variant_dict_insert (&dict, "mtime_nsec", "u", item->nsec);
      g_variant_dict_insert (&dict, "uid", "u", item->uid);
      g_variant_dict_insert (&dict, "gid", "u", item->gid);
    }
  return g_variant_dict_end (&dict);
}

/* ---- a large file, pushed --------------------------------------------- */

static void
on_committed (GTask    *task,
              GVariant *result,
              gpointer  data)
{
  Transfer *t = g_task_get_task_data (task);

  t->id = 0;
  close (t->fd);
  t->fd = -1;
  g_clear_pointer (&t->file, g_variant_unref);
  t->state = STATE_ITEMS;
}

static void
on_chunk_written (GTask    *task,
                  GVariant *result,
                  gpointer  data)
{
  add_progress (g_task_get_task_data (task), GPOINTER_TO_UINT (data));
}

/* Reads the next chunk of the file and sends it. */
static void
push_next_chunk (GTask *task,
                 Item  *item)
{
  Transfer *t = g_task_get_task_data (task);
  gsize len = MIN (CHUNK_SIZE, item->size - t->requested);
  guint8 *buf = g_malloc (len);
  gsize got = 0;

  while (got < len)
    {
      ssize_t n = pread (t->fd, buf + got, len - got, t->requested + got);

      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        {
          g_free (buf);
          if (n == 0)
            _mitogen_transfer_fail (t, g_error_new (G_IO_ERROR, G_IO_ERROR_FAILED,
                                  "%s shrank while it was being copied", t->local_root));
          else
            fail_errno (t, "reading", t->local_root);
          return;
        }
      got += n;
    }
  _mitogen_sha256_update (t->sha, buf, len);
  _mitogen_transfer_call (task, "transfer.write",
        g_variant_new ("(ut@ay)", t->id, t->requested,
                       g_variant_new_from_data (G_VARIANT_TYPE_BYTESTRING, buf, len, TRUE,
                                                g_free, buf)),
        len, on_chunk_written, GUINT_TO_POINTER (len), NULL);
  t->requested += len;
}

static void
push_chunks (GTask *task)
{
  Transfer *t = g_task_get_task_data (task);
  Item item;

  _mitogen_transfer_item_parse (t->file, &item);
  while (t->error == NULL && t->requested < item.size && t->window_used < WINDOW_SIZE)
    push_next_chunk (task, &item);
  if (t->error == NULL && t->requested == item.size && t->in_flight == 0)
    {
      g_autofree char *local = item_path (t->local_root, &item);
      GError *error = NULL;

      if (!_mitogen_transfer_check_unchanged (t->fd, item.size, item.mtime, item.nsec,
                                              local, &error))
        {
          _mitogen_transfer_fail (t, error);
          return;
        }
      t->state = STATE_CLOSING;
      _mitogen_transfer_call (task, "transfer.commit",
            g_variant_new ("(us@a{sv})", t->id, _mitogen_sha256_get_string (t->sha),
                           item_attributes (t, &item)),
            0, on_committed, NULL, NULL);
    }
}

/* ---- a large file, pulled --------------------------------------------- */

static void
on_closed_read (GTask    *task,
                GVariant *result,
                gpointer  data)
{
  Transfer *t = g_task_get_task_data (task);
  g_autofree char *dest = NULL;
  const char *sha;
  guint64 size;
  Item item;

  t->id = 0;
  if (t->error != NULL)
    return;
  g_variant_get (result, "(&st)", &sha, &size);
  _mitogen_transfer_item_parse (t->file, &item);
  dest = item_path (t->local_root, &item);
  if (size != t->received)
    _mitogen_transfer_fail (t, g_error_new (G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                          "%s: %" G_GUINT64_FORMAT " bytes sent, %" G_GUINT64_FORMAT " received",
                          dest, size, t->received));
  else
    {
      g_autoptr(GVariant) attrs = g_variant_ref_sink (item_attributes (t, &item));
      GError *error = NULL;

      if (!_mitogen_transfer_finish_file (t->fd, t->temp, dest, t->sha, sha, attrs, &error))
        _mitogen_transfer_fail (t, error);
      else
        g_clear_pointer (&t->temp, g_free);
    }
  close (t->fd);
  t->fd = -1;
  g_clear_pointer (&t->file, g_variant_unref);
  t->state = STATE_ITEMS;
}

static void
on_chunk_read (GTask    *task,
               GVariant *result,
               gpointer  data)
{
  Transfer *t = g_task_get_task_data (task);
  guint64 offset = *(guint64 *) data;
  gsize len;
  const guint8 *p = g_variant_get_fixed_array (result, &len, 1);

  if (t->error != NULL)
    return;
  /* Replies come in the order of the calls: one route, one agent thread. */
  if (offset != t->received || (len < CHUNK_SIZE && t->received + len < t->requested))
    {
      _mitogen_transfer_fail (t, g_error_new (G_IO_ERROR, G_IO_ERROR_FAILED,
                            "%s changed while it was being copied", t->remote_root));
      return;
    }
  for (gsize off = 0; off < len; )
    {
      ssize_t n = pwrite (t->fd, p + off, len - off, offset + off);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          /* Named as asked for: the temporary file goes on failure. */
          int saved = errno;
          g_autofree char *dest = NULL;
          Item item;

          _mitogen_transfer_item_parse (t->file, &item);
          dest = item_path (t->local_root, &item);
          _mitogen_transfer_fail (t, g_error_new (G_IO_ERROR, g_io_error_from_errno (saved),
                                                  "writing %s: %s", dest, g_strerror (saved)));
          return;
        }
      off += n;
    }
  _mitogen_sha256_update (t->sha, p, len);
  t->received += len;
  add_progress (t, len);
}

static void
pull_chunks (GTask *task)
{
  Transfer *t = g_task_get_task_data (task);
  Item item;

  _mitogen_transfer_item_parse (t->file, &item);
  while (t->requested < item.size && t->window_used < WINDOW_SIZE)
    {
      guint64 *offset = g_new (guint64, 1);
      guint32 len = MIN (CHUNK_SIZE, item.size - t->requested);

      *offset = t->requested;
      _mitogen_transfer_call (task, "transfer.read", g_variant_new ("(utu)", t->id, t->requested, len),
            len, on_chunk_read, offset, g_free);
      t->requested += len;
    }
  if (t->requested == item.size && t->in_flight == 0)
    {
      t->state = STATE_CLOSING;
      _mitogen_transfer_call (task, "transfer.close_read", g_variant_new ("(u)", t->id), 0,
            on_closed_read, NULL, NULL);
    }
}

/* ---- a large file, either way ----------------------------------------- */

static void
on_opened (GTask    *task,
           GVariant *result,
           gpointer  data)
{
  Transfer *t = g_task_get_task_data (task);

  if (t->push)
    t->id = g_variant_get_uint32 (result);
  else
    g_variant_get_child (result, 0, "u", &t->id);
  t->state = STATE_CHUNKS;
}

static void
start_large_file (GTask    *task,
                  GVariant *file)
{
  Transfer *t = g_task_get_task_data (task);
  g_autofree char *local = NULL;
  g_autofree char *remote = NULL;
  Item item;

  _mitogen_transfer_item_parse (file, &item);
  local = item_path (t->local_root, &item);
  remote = item_path (t->remote_root, &item);
  if (t->push)
    t->fd = open (local, O_RDONLY | O_CLOEXEC);
  else
    t->fd = _mitogen_transfer_open_temp (local, &t->temp, &t->error);
  if (t->fd < 0)
    {
      if (t->push)
        fail_errno (t, "opening", local);
      return;
    }
  t->file = g_variant_ref (file);
  t->requested = t->received = 0;
  g_clear_pointer (&t->sha, _mitogen_sha256_free);
  t->sha = _mitogen_sha256_new ();
  t->state = STATE_OPENING;
  if (t->push)
    _mitogen_transfer_call (task, "transfer.open_write", g_variant_new ("(s@a{sv})", remote,
                                                      g_variant_new ("a{sv}", NULL)),
          0, on_opened, NULL, NULL);
  else
    _mitogen_transfer_call (task, "transfer.open_read", g_variant_new ("(s)", remote), 0, on_opened, NULL, NULL);
}

/* ---- batches of small items ------------------------------------------- */

static void
on_batch_written (GTask    *task,
                  GVariant *result,
                  gpointer  data)
{
  add_progress (g_task_get_task_data (task), *(guint64 *) data);
}

/* The entry of transfer.write_many that makes @path here or there. */
static GVariant *
make_entry (const char *path,
            guint8      kind,
            const void *data,
            gsize       len,
            const char *sha,
            GVariant   *attrs)
{
  return g_variant_new ("(sy@ays@a{sv})", path, kind,
                        g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, data, len, 1), sha,
                        attrs != NULL ? attrs : g_variant_new ("a{sv}", NULL));
}

/* Adds @item to a write_many batch; the size of the file it read. */
static gsize
push_batch_add (Transfer        *t,
                const Item      *item,
                GVariantBuilder *batch)
{
  g_autofree char *local = item_path (t->local_root, item);
  g_autofree char *remote = item_path (t->remote_root, item);
  g_autofree char *contents = NULL;
  g_autofree char *sha = NULL;
  g_autoptr(GError) error = NULL;
  gsize len = 0;
  const char *data = "";

  if (item->kind == 'f')
    {
      int fd = open (local, O_RDONLY | O_CLOEXEC);
      gboolean ok = fd >= 0;

      if (!ok)
        _mitogen_transfer_set_errno (&error, errno, "opening", local);
      /* What the walk saw, still: the same size, and no write since. */
      ok = ok && _mitogen_transfer_check_unchanged (fd, item->size, item->mtime, item->nsec,
                                                    local, &error) &&
           g_file_get_contents (local, &contents, &len, &error) &&
           _mitogen_transfer_check_unchanged (fd, item->size, item->mtime, item->nsec,
                                              local, &error);
      if (fd >= 0)
        close (fd);
      if (!ok)
        {
          _mitogen_transfer_fail (t, g_steal_pointer (&error));
          return 0;
        }
      data = contents;
    }
  else if (item->kind == 'l')
    {
      data = item->target;
      len = strlen (data);
    }
  sha = _mitogen_sha256_compute ((const guint8 *) data, len);
  g_variant_builder_add_value (batch, make_entry (remote, item->kind, data, len, sha,
                                                  item_attributes (t, item)));
  return len;
}

typedef struct
{
  char      **paths;  /* local destinations, in the order asked */
  GPtrArray  *items;  /* their items, GVariant (sy(tuxuuu)s) */
} PullBatch;

static void
pull_batch_free (gpointer data)
{
  PullBatch *b = data;

  g_strfreev (b->paths);
  g_ptr_array_unref (b->items);
  g_free (b);
}

/* Does @entry on this side, as the agent would; a file goes in @batch
 * when there is one. */
static void
write_local (Transfer          *t,
             MitogenWriteBatch *batch,
             GVariant          *entry)
{
  GError *error = NULL;

  g_variant_ref_sink (entry);
  if (!_mitogen_transfer_write_entry (batch, entry, &error))
    _mitogen_transfer_fail (t, error);
  g_variant_unref (entry);
}

static void
on_batch_read (GTask    *task,
               GVariant *result,
               gpointer  data)
{
  Transfer *t = g_task_get_task_data (task);
  g_autoptr(MitogenWriteBatch) batch = _mitogen_write_batch_new ();
  PullBatch *b = data;
  GError *error = NULL;

  for (guint i = 0; b->paths[i] != NULL && t->error == NULL; i++)
    {
      g_autoptr(GVariant) bytes = NULL;
      const char *sha;
      const guint8 *p;
      gsize len;
      Item item;

      _mitogen_transfer_item_parse (b->items->pdata[i], &item);
      g_variant_get_child (result, i, "(@ay&s)", &bytes, &sha);
      p = g_variant_get_fixed_array (bytes, &len, 1);
      write_local (t, batch, make_entry (b->paths[i], 'f', p, len, sha, item_attributes (t, &item)));
      add_progress (t, len);
    }
  if (t->error == NULL && !_mitogen_write_batch_commit (batch, &error))
    _mitogen_transfer_fail (t, error);
}

/* Creates a directory or a link of a pull on this side. */
static void
pull_make_local (Transfer   *t,
                 const Item *item)
{
  g_autofree char *local = item_path (t->local_root, item);

  write_local (t, NULL, make_entry (local, item->kind, item->target, strlen (item->target), "", NULL));
}

/* Sends the small items from next_item on, as many as one batch takes. */
static void
send_batch (GTask *task)
{
  Transfer *t = g_task_get_task_data (task);
  g_autoptr(GVariantBuilder) writes = g_variant_builder_new (G_VARIANT_TYPE ("a(syaysa{sv})"));
  g_autoptr(GPtrArray) reads = g_ptr_array_new ();
  g_autoptr(GPtrArray) locals = g_ptr_array_new ();
  GPtrArray *items = g_ptr_array_new_with_free_func ((GDestroyNotify) g_variant_unref);
  guint64 bytes = 0, *counted;
  guint n = 0;

  while (t->next_item < g_variant_n_children (t->items) && n < BATCH_ENTRIES &&
         bytes < BATCH_BYTES && t->error == NULL)
    {
      GVariant *v = g_variant_get_child_value (t->items, t->next_item);
      Item item;

      _mitogen_transfer_item_parse (v, &item);
      if (item_is_large (&item))
        {
          g_variant_unref (v);
          break;
        }
      t->next_item++;
      n++;
      if (t->push)
        bytes += push_batch_add (t, &item, writes);
      else if (item.kind == 'f')
        {
          g_ptr_array_add (reads, item_path (t->remote_root, &item));
          g_ptr_array_add (locals, item_path (t->local_root, &item));
          g_ptr_array_add (items, g_variant_ref (v));
          bytes += item.size;
        }
      else
        pull_make_local (t, &item);
      g_variant_unref (v);
    }
  counted = g_new (guint64, 1);
  *counted = bytes;
  if (t->push && n > 0)
    {
      g_ptr_array_unref (items);
      _mitogen_transfer_call (task, "transfer.write_many", g_variant_new ("(@a(syaysa{sv}))",
                                                        g_variant_builder_end (writes)),
            bytes, on_batch_written, counted, g_free);
    }
  else if (!t->push && reads->len > 0)
    {
      PullBatch *b = g_new0 (PullBatch, 1);

      g_ptr_array_add (reads, NULL);
      g_ptr_array_add (locals, NULL);
      b->paths = (char **) g_ptr_array_steal (locals, NULL);
      b->items = items;
      _mitogen_transfer_call (task, "transfer.read_many", g_variant_new ("(^as)", (char **) reads->pdata),
            bytes, on_batch_read, b, pull_batch_free);
      g_ptr_array_set_free_func (reads, g_free);
      g_free (counted);
    }
  else
    {
      g_ptr_array_unref (items);
      g_free (counted);
    }
}

/* ---- directories' attributes, last ------------------------------------ */

/* With PRESERVE, directories get their mode and time once everything in
 * them is written (writing a file changes its directory's time), deepest
 * first; a push does it in one more write_many. */
static void
finish_directories (GTask *task)
{
  Transfer *t = g_task_get_task_data (task);
  g_autoptr(GVariantBuilder) batch = g_variant_builder_new (G_VARIANT_TYPE ("a(syaysa{sv})"));
  gsize n = g_variant_n_children (t->items);
  guint count = 0;

  for (gsize i = n; i-- > 0 && t->error == NULL; )
    {
      g_autoptr(GVariant) v = g_variant_get_child_value (t->items, i);
      g_autofree char *path = NULL;
      GVariant *entry;
      Item item;

      _mitogen_transfer_item_parse (v, &item);
      if (item.kind != 'd')
        continue;
      count++;
      path = item_path (t->push ? t->remote_root : t->local_root, &item);
      entry = make_entry (path, 'a', NULL, 0, "", item_attributes (t, &item));
      if (t->push)
        g_variant_builder_add_value (batch, entry);
      else
        write_local (t, NULL, entry);
    }
  if (t->push && count > 0 && t->error == NULL)
    _mitogen_transfer_call (task, "transfer.write_many", g_variant_new ("(@a(syaysa{sv}))",
                                                      g_variant_builder_end (batch)),
          0, on_batch_written, g_new0 (guint64, 1), g_free);
}

/* ---- the pump --------------------------------------------------------- */

static void
on_aborted (GTask    *task,
            GVariant *result,
            gpointer  data)
{
}

/* After a failure, once nothing is in flight: the agent forgets the file
 * (and removes a push's temporary file), then the task fails. */
static void
finish_failed (GTask *task)
{
  Transfer *t = g_task_get_task_data (task);

  if (t->id != 0)
    {
      GError *error = g_steal_pointer (&t->error);
      guint32 id = t->id;

      /* on_reply() skips the handler of a failed transfer: keep the
       * error aside while the abort is under way. */
      t->id = 0;
      _mitogen_transfer_call (task, "transfer.abort", g_variant_new ("(u)", id), 0, on_aborted, NULL, NULL);
      t->error = error;
      return;
    }
  /* Now, not when the task goes: the caller may keep the result. */
  if (t->temp != NULL)
    g_unlink (t->temp);
  g_clear_pointer (&t->temp, g_free);
  t->returned = TRUE;
  g_task_return_error (task, g_steal_pointer (&t->error));
}

static void
pump_items (GTask *task)
{
  Transfer *t = g_task_get_task_data (task);
  gsize n = g_variant_n_children (t->items);

  while (t->error == NULL && t->state == STATE_ITEMS && t->next_item < n &&
         t->window_used < WINDOW_SIZE)
    {
      g_autoptr(GVariant) v = g_variant_get_child_value (t->items, t->next_item);
      Item item;

      _mitogen_transfer_item_parse (v, &item);
      if (!item_is_large (&item))
        send_batch (task);
      else if (t->in_flight > 0)
        return;  /* one large file at a time, after what came before it */
      else
        {
          t->next_item++;
          start_large_file (task, v);
        }
    }
  if (t->error == NULL && t->state == STATE_ITEMS && t->next_item == n && t->in_flight == 0)
    {
      t->state = STATE_DONE;
      if (t->flags & MITOGEN_TRANSFER_PRESERVE)
        finish_directories (task);
    }
}

/* Sends what the window allows, and ends the task when all is answered. */
void
_mitogen_transfer_pump (GTask *task)
{
  Transfer *t = g_task_get_task_data (task);

  if (t->returned)
    return;
  if (t->error == NULL && g_cancellable_is_cancelled (g_task_get_cancellable (task)))
    _mitogen_transfer_fail (t, g_error_new (G_IO_ERROR, G_IO_ERROR_CANCELLED, "the transfer was cancelled"));
  if (t->error != NULL)
    {
      if (t->in_flight == 0)
        finish_failed (task);
      return;
    }
  if (t->state == STATE_ITEMS)
    pump_items (task);
  if (t->state == STATE_CHUNKS)
    {
      if (t->push)
        push_chunks (task);
      else
        pull_chunks (task);
    }
  if (t->error != NULL && t->in_flight == 0)
    finish_failed (task);
  else if (t->state == STATE_DONE && t->in_flight == 0 && t->error == NULL)
    {
      t->returned = TRUE;
      g_task_return_boolean (task, TRUE);
    }
}
