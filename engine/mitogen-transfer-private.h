/* mitogen-transfer-private.h: what the master's and the agent's halves of
 * a transfer share (mitogen-builtins-transfer.c).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "mitogen-private.h"
#include "mitogen-sha256-private.h"

G_BEGIN_DECLS

/* A file and sizes no bigger than this travel many to a call. */
#define MITOGEN_TRANSFER_SMALL_FILE (64u * 1024)

/* A hidden temporary file beside @dest (O_EXCL, mode 0600): its fd, and
 * its path in @temp_out; -1 on failure. */
int       _mitogen_transfer_open_temp   (const char  *dest,
                                         char       **temp_out,
                                         GError     **error);
/* Checks @sha against @expected_sha, sets @attrs (a{sv}: mode, uid, gid,
 * mtime, mtime_nsec), fsyncs and renames @temp over @dest. */
gboolean  _mitogen_transfer_finish_file (int            fd,
                                         const char    *temp,
                                         const char    *dest,
                                         MitogenSha256 *sha,
                                         const char    *expected_sha,
                                         GVariant      *attrs,
                                         GError       **error);
/* ---- mitogen-transfer-write.c: putting files in place ----------------- */

/* Sets the G_IO_ERROR a local GIO call would give for @saved_errno:
 * "WHAT PATH: strerror"; returns FALSE. */
gboolean  _mitogen_transfer_set_errno   (GError     **error,
                                         int          saved_errno,
                                         const char  *what,
                                         const char  *path);
/* FALSE, with an error naming @path, when the file open as @fd is no
 * longer the size and mtime @size, @mtime and @mtime_nsec say: it changed
 * while it was read, and what was read may be half old, half new. */
gboolean  _mitogen_transfer_check_unchanged (int          fd,
                                             guint64      size,
                                             gint64       mtime,
                                             guint32      mtime_nsec,
                                             const char  *path,
                                             GError     **error);
/* pwrite()s all of @data at @offset; @path names the file in errors. */
gboolean  _mitogen_transfer_write_at    (int           fd,
                                         const guint8 *data,
                                         gsize         len,
                                         guint64       offset,
                                         const char   *path,
                                         GError      **error);

/* Small files written, checked and waiting for one flush and their
 * renames (see mitogen-transfer-write.c). Freeing a batch removes the
 * temporary files of what it did not commit. */
typedef struct _MitogenWriteBatch MitogenWriteBatch;

MitogenWriteBatch *_mitogen_write_batch_new    (void);
gboolean           _mitogen_write_batch_commit (MitogenWriteBatch  *batch,
                                                GError            **error);
void               _mitogen_write_batch_free   (MitogenWriteBatch  *batch);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MitogenWriteBatch, _mitogen_write_batch_free)

/* One entry of transfer.write_many, (syaysa{sv}), done here: a file is
 * staged in @batch (commit it after the last entry), or put in place at
 * once when @batch is NULL. */
gboolean  _mitogen_transfer_write_entry (MitogenWriteBatch  *batch,
                                         GVariant           *entry,
                                         GError            **error);
/* a(sy(tuxuuu)s): @path ("") and everything under it, parents first. */
GVariant *_mitogen_transfer_walk        (const char  *path,
                                         GError     **error);

/* Starts a push (@push) or pull as a GTask on @context whose source tag
 * is @source_tag; its result is a boolean. */
void      _mitogen_transfer_start       (MitogenContext              *context,
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
                                         gpointer                     source_tag);

typedef enum
{
  STATE_ITEMS,      /* walking the list: batches, or the next large file */
  STATE_OPENING,    /* waiting for a large file's id */
  STATE_CHUNKS,     /* sending or asking for a large file's chunks */
  STATE_CLOSING,    /* waiting for commit or close_read */
  STATE_DONE,
} State;

typedef struct
{
  MitogenContext *context;        /* owned */
  gboolean        push;
  MitogenTransferFlags flags;
  char           *local_root;
  char           *remote_root;
  GVariant       *items;          /* owned; a(sy(tuxuuu)s), see transfer.walk */
  gsize           next_item;      /* the first item not yet dealt with */
  State           state;

  /* The large file under way. */
  GVariant       *file;           /* owned item, or NULL */
  guint32         id;             /* its transfer id at the agent, or 0 */
  int             fd;             /* local file, or -1 */
  char           *temp;           /* pull: local temporary file, removed unless renamed */
  MitogenSha256  *sha;            /* of the bytes sent or received, in order */
  guint64         requested;      /* bytes sent or asked for */
  guint64         received;       /* pull: bytes received */

  guint           in_flight;      /* calls without a reply */
  guint64         window_used;    /* bytes in calls without a reply */
  guint64         done, total;    /* progress */
  GError         *error;          /* the first failure; stops the transfer */
  GSource        *cancel_source;  /* owned; wakes pump() on cancellation */
  gboolean        returned;       /* the task has its result */

  MitogenTransferProgressFunc progress;
  gpointer        progress_data;
  GDestroyNotify  progress_destroy;
} Transfer;

typedef struct
{
  const char *rel;
  guint8      kind;
  guint64     size;
  guint32     mode, nsec, uid, gid;
  gint64      mtime;
  const char *target;
} Item;

/* What a reply goes to: the transfer and what the call carried. */
typedef void (*ReplyFunc) (GTask *task, GVariant *result, gpointer data);

/* mitogen-transfer.c: sends what the window allows; ends the task when all
 * is answered. */
void      _mitogen_transfer_pump        (GTask          *task);
/* Calls @function; @func gets the reply (also after a failure). */
void      _mitogen_transfer_call        (GTask          *task,
                                         const char     *function,
                                         GVariant       *args,
                                         guint64         bytes,
                                         ReplyFunc       func,
                                         gpointer        data,
                                         GDestroyNotify  data_free);
/* Records the first failure (takes @error); later ones are dropped. */
void      _mitogen_transfer_fail        (Transfer       *t,
                                         GError         *error);
void      _mitogen_transfer_item_parse  (GVariant       *v,
                                         Item           *item);

G_END_DECLS
