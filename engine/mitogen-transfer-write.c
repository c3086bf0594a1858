/* mitogen-transfer-write.c: how either side of a transfer puts a file in
 * place: a hidden temporary file beside the destination, its sha256
 * checked, its attributes set, flushed to disk, renamed over the
 * destination. The destination is either the old file or the whole new
 * one, never a part.
 *
 * Small files come many at a time (transfer.write_many, and the master's
 * side of a pull); flushing each one costs a journal commit, which on
 * ext4 took longer than everything else a 10,000-file tree needs. A
 * MitogenWriteBatch writes its files first, then flushes them with one
 * syncfs() per filesystem, and only then renames them: every rename still
 * comes after its data is on disk, for one flush per batch.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1  /* syncfs */
#endif
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "mitogen-transfer-private.h"

/* A file written and checked, waiting for the batch's flush and rename. */
typedef struct
{
  char  *temp;     /* its temporary path, removed unless renamed */
  char  *dest;     /* where it goes */
  dev_t  dev;      /* its filesystem, flushed once per batch */
} Staged;

struct _MitogenWriteBatch
{
  GArray *staged;  /* of Staged, in arrival order */
  mode_t  umask;   /* read once per batch, for new files without a mode */
};

/* An errno as the G_IO_ERROR a local GIO call would give. */
gboolean
_mitogen_transfer_set_errno (GError     **error,
                             int          saved_errno,
                             const char  *what,
                             const char  *path)
{
  g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
               "%s %s: %s", what, path, g_strerror (saved_errno));
  return FALSE;
}

gboolean
_mitogen_transfer_write_at (int           fd,
                            const guint8 *data,
                            gsize         len,
                            guint64       offset,
                            const char   *path,
                            GError      **error)
{
  while (len > 0)
    {
      ssize_t n = pwrite (fd, data, len, offset);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        return _mitogen_transfer_set_errno (error, errno, "writing", path);
      data += n;
      len -= n;
      offset += n;
    }
  return TRUE;
}

/* Creates a temporary file beside @dest: hidden, O_EXCL, mode 0600. */
int
_mitogen_transfer_open_temp (const char  *dest,
                  char       **temp_out,
                  GError     **error)
{
  g_autofree char *dir = g_path_get_dirname (dest);
  g_autofree char *base = g_path_get_basename (dest);
  g_autofree char *tmpl = g_strdup_printf ("%s/.%s.mitogen-XXXXXX", dir, base);
  int fd = g_mkstemp_full (tmpl, O_RDWR | O_CLOEXEC, 0600);

  if (fd < 0)
    {
      _mitogen_transfer_set_errno (error, errno, "creating a file in", dir);
      return -1;
    }
  *temp_out = g_steal_pointer (&tmpl);
  return fd;
}

/* The process's umask, read without setting it: umask() would change it
 * for a moment under every other thread of a master that creates files. */
static mode_t
current_umask (void)
{
  g_autofree char *status = NULL;
  const char *line;

  if (g_file_get_contents ("/proc/self/status", &status, NULL, NULL) &&
      (line = strstr (status, "\nUmask:")) != NULL)
    return g_ascii_strtoull (line + strlen ("\nUmask:"), NULL, 8) & 0777;
  return 022;
}

/* The attributes of @attrs (a{sv}: "mode" u, "uid" u, "gid" u, "mtime" x,
 * "mtime_nsec" u) on the open file @fd. Without "mode", a file that
 * replaces another keeps its mode and a new one gets 0666 less the umask,
 * as cp and scp do. Owners are set only by root, as rsync does. */
static gboolean
apply_attributes (int          fd,
                  const char  *dest,
                  GVariant    *attrs,
                  mode_t       umask_now,
                  GError     **error)
{
  guint32 mode, uid, gid, nsec = 0;
  gint64 mtime;
  struct stat st;

  if (!g_variant_lookup (attrs, "mode", "u", &mode))
    mode = stat (dest, &st) == 0 ? st.st_mode : (0666 & ~umask_now);
  if (geteuid () == 0 && g_variant_lookup (attrs, "uid", "u", &uid) &&
      g_variant_lookup (attrs, "gid", "u", &gid) && fchown (fd, uid, gid) < 0)
    return _mitogen_transfer_set_errno (error, errno, "changing the owner of", dest);
  /* After fchown, which clears the set-id bits. */
  if (fchmod (fd, mode & 07777) < 0)
    return _mitogen_transfer_set_errno (error, errno, "changing the mode of", dest);
  if (g_variant_lookup (attrs, "mtime", "x", &mtime))
    {
      struct timespec times[2] = { { 0, UTIME_OMIT }, { mtime, 0 } };

      g_variant_lookup (attrs, "mtime_nsec", "u", &nsec);
      times[1].tv_nsec = nsec < 1000000000 ? nsec : 0;
      if (futimens (fd, times) < 0)
        return _mitogen_transfer_set_errno (error, errno, "setting the time of", dest);
    }
  return TRUE;
}

/* Checks @sha against @expected_sha and sets @attrs on @fd. */
static gboolean
check_and_set_attributes (int            fd,
                          const char    *dest,
                          MitogenSha256 *sha,
                          const char    *expected_sha,
                          GVariant      *attrs,
                          mode_t         umask_now,
                          GError       **error)
{
  const char *actual = _mitogen_sha256_get_string (sha);

  if (g_ascii_strcasecmp (actual, expected_sha) != 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   "%s: the sha256 of what arrived is %s, not %s; the destination "
                   "is left as it was", dest, actual, expected_sha);
      return FALSE;
    }
  return apply_attributes (fd, dest, attrs, umask_now, error);
}

/* Checks @sha, sets @attrs, flushes @fd to disk and renames @temp over
 * @dest. On failure @temp is left for the caller to remove. */
gboolean
_mitogen_transfer_finish_file (int            fd,
                               const char    *temp,
                               const char    *dest,
                               MitogenSha256 *sha,
                               const char    *expected_sha,
                               GVariant      *attrs,
                               GError       **error)
{
  if (!check_and_set_attributes (fd, dest, sha, expected_sha, attrs, current_umask (), error))
    return FALSE;
  if (fsync (fd) < 0)
    return _mitogen_transfer_set_errno (error, errno, "flushing", dest);
  if (rename (temp, dest) < 0)
    return _mitogen_transfer_set_errno (error, errno, "renaming into", dest);
  return TRUE;
}

gboolean
_mitogen_transfer_check_unchanged (int          fd,
                                   guint64      size,
                                   gint64       mtime,
                                   guint32      mtime_nsec,
                                   const char  *path,
                                   GError     **error)
{
  struct stat st;

  if (fstat (fd, &st) < 0)
    return _mitogen_transfer_set_errno (error, errno, "reading", path);
  if ((guint64) st.st_size == size && st.st_mtim.tv_sec == mtime &&
      (guint32) st.st_mtim.tv_nsec == mtime_nsec)
    return TRUE;
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
               "%s changed while it was being copied (its size or time is not what it was "
               "when the copy began); the destination is left as it was", path);
  return FALSE;
}

/* ---- batches ----------------------------------------------------------- */

static void
staged_clear (gpointer data)
{
  Staged *staged = data;

  if (staged->temp != NULL)
    g_unlink (staged->temp);
  g_free (staged->temp);
  g_free (staged->dest);
}

MitogenWriteBatch *
_mitogen_write_batch_new (void)
{
  MitogenWriteBatch *batch = g_new0 (MitogenWriteBatch, 1);

  batch->staged = g_array_new (FALSE, TRUE, sizeof (Staged));
  g_array_set_clear_func (batch->staged, staged_clear);
  batch->umask = current_umask ();
  return batch;
}

/* Removes the temporary files of whatever was staged and not committed. */
void
_mitogen_write_batch_free (MitogenWriteBatch *batch)
{
  if (batch == NULL)
    return;
  g_array_unref (batch->staged);
  g_free (batch);
}

/* Flushes @path's file to disk: through @path's whole filesystem when
 * @whole_fs (one flush for every staged file there), else just the file. */
static gboolean
flush_path (const char  *path,
            const char  *dest,
            gboolean     whole_fs,
            GError     **error)
{
  int fd = open (path, O_RDONLY | O_CLOEXEC);
  int ok;

  if (fd < 0)
    return _mitogen_transfer_set_errno (error, errno, "flushing", dest);
  ok = whole_fs ? syncfs (fd) : fsync (fd);
  if (ok < 0)
    {
      int saved = errno;

      close (fd);
      return _mitogen_transfer_set_errno (error, saved, "flushing", dest);
    }
  close (fd);
  return TRUE;
}

/* Flushes every staged file (one syncfs per filesystem; file by file
 * where syncfs fails) and renames each into place, in order. On failure
 * the files not yet renamed are removed. */
gboolean
_mitogen_write_batch_commit (MitogenWriteBatch  *batch,
                             GError            **error)
{
  g_autoptr(GArray) flushed = g_array_new (FALSE, FALSE, sizeof (dev_t));
  gboolean ok = TRUE;

  for (guint i = 0; i < batch->staged->len && ok; i++)
    {
      Staged *staged = &g_array_index (batch->staged, Staged, i);
      gboolean seen = FALSE;

      for (guint j = 0; j < flushed->len && !seen; j++)
        seen = g_array_index (flushed, dev_t, j) == staged->dev;
      if (seen)
        continue;
      if (flush_path (staged->temp, staged->dest, TRUE, NULL))
        g_array_append_val (flushed, staged->dev);
      else
        ok = flush_path (staged->temp, staged->dest, FALSE, error);
    }
  for (guint i = 0; i < batch->staged->len && ok; i++)
    {
      Staged *staged = &g_array_index (batch->staged, Staged, i);

      if (rename (staged->temp, staged->dest) < 0)
        ok = _mitogen_transfer_set_errno (error, errno, "renaming into", staged->dest);
      else
        g_clear_pointer (&staged->temp, g_free);
    }
  g_array_set_size (batch->staged, 0);
  return ok;
}

/* Writes one small file's temporary file, checked and with its
 * attributes, and stages it in @batch (or, without one, puts it in place
 * at once). */
static gboolean
write_small_file (MitogenWriteBatch  *batch,
                  const char         *path,
                  const guint8       *data,
                  gsize               len,
                  const char         *sha,
                  GVariant           *attrs,
                  GError            **error)
{
  g_autoptr(MitogenSha256) sum = _mitogen_sha256_new ();
  g_autofree char *temp = NULL;
  struct stat st;
  gboolean ok;
  int fd;

  fd = _mitogen_transfer_open_temp (path, &temp, error);
  if (fd < 0)
    return FALSE;
  _mitogen_sha256_update (sum, data, len);
  ok = _mitogen_transfer_write_at (fd, data, len, 0, path, error);
  if (ok && batch == NULL)
    ok = _mitogen_transfer_finish_file (fd, temp, path, sum, sha, attrs, error);
  else if (ok)
    ok = check_and_set_attributes (fd, path, sum, sha, attrs, batch->umask, error) &&
         (fstat (fd, &st) == 0 || _mitogen_transfer_set_errno (error, errno, "writing", path));
  close (fd);
  if (!ok)
    g_unlink (temp);
  else if (batch != NULL)
    {
      Staged staged = { g_steal_pointer (&temp), g_strdup (path), st.st_dev };

      g_array_append_val (batch->staged, staged);
    }
  return ok;
}

/* One entry of transfer.write_many: (s path, y kind, ay data, s sha256,
 * a{sv} attributes). 'f' a file (data, checked against sha256), 'd' a
 * directory (created with its parents), 'l' a symbolic link (data is its
 * target), 'a' attributes only ("mode", "mtime": a tree's directories get
 * their times last, once their files are in). */
gboolean
_mitogen_transfer_write_entry (MitogenWriteBatch  *batch,
                               GVariant           *entry,
                               GError            **error)
{
  const char *path, *sha;
  guint8 kind;
  g_autoptr(GVariant) bytes = NULL;
  g_autoptr(GVariant) attrs = NULL;
  const guint8 *p;
  gsize len;
  gboolean ok;
  int fd;

  g_variant_get (entry, "(&sy@ay&s@a{sv})", &path, &kind, &bytes, &sha, &attrs);
  p = g_variant_get_fixed_array (bytes, &len, 1);
  switch (kind)
    {
    case 'd':
      if (g_mkdir_with_parents (path, 0777) < 0)
        return _mitogen_transfer_set_errno (error, errno, "creating the directory", path);
      return TRUE;
    case 'l':
      {
        g_autofree char *target = g_strndup ((const char *) p, len);

        if (symlink (target, path) < 0 && !(errno == EEXIST && g_unlink (path) == 0 &&
                                            symlink (target, path) == 0))
          return _mitogen_transfer_set_errno (error, errno, "creating the link", path);
        return TRUE;
      }
    case 'a':
      /* A rename would change the directory's time after it was set. */
      if (batch != NULL && !_mitogen_write_batch_commit (batch, error))
        return FALSE;
      fd = open (path, O_RDONLY | O_CLOEXEC);
      if (fd < 0)
        return _mitogen_transfer_set_errno (error, errno, "opening", path);
      ok = apply_attributes (fd, path, attrs, batch != NULL ? batch->umask : current_umask (), error);
      close (fd);
      return ok;
    case 'f':
      return write_small_file (batch, path, p, len, sha, attrs, error);
    default:
      g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_CALL,
                   "transfer.write_many: %s: unknown kind '%c'", path, kind);
      return FALSE;
    }
}
