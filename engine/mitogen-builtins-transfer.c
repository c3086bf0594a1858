/* mitogen-builtins-transfer.c: the agent's half of file transfers
 * ("transfer.*"), driven by mitogen-transfer.c in the master.
 *
 * A push opens a temporary file beside its destination (O_EXCL, mode
 * 0600), takes pipelined transfer.write calls in order, and on
 * transfer.commit checks the sha256 of what it was given, sets the
 * attributes, fsyncs and renames the file into place: the destination is
 * either the old file or the whole new one, never a part. A pull opens the
 * source, hands out ranges in order, and says on transfer.close_read what
 * the sha256 of everything it sent was. Small files of a tree travel many
 * to a call (transfer.write_many, transfer.read_many), so that a tree of
 * 10,000 files costs a few dozen round trips, not 10,000.
 *
 * Calls run one at a time on the agent's main thread, in the order they
 * arrived; only the cleanup when the parent is lost comes from another
 * thread, hence the lock.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "mitogen-private.h"
#include "mitogen-transfer-private.h"

/* The most transfer.read and transfer.read_many hand back in one reply. */
#define MAX_READ_BYTES (16u * 1024 * 1024)

/* One file being written (a push). */
typedef struct
{
  int        fd;       /* the temporary file */
  char      *temp;     /* its path, removed unless committed */
  char      *dest;     /* where it goes on commit */
  MitogenSha256 *sha;  /* of the bytes written so far, in order */
  guint64    offset;   /* the next byte expected */
} Writer;

/* One file being read (a pull). */
typedef struct
{
  int        fd;
  char      *path;     /* for errors */
  struct stat opened;  /* its size and mtime when opened */
  MitogenSha256 *sha;  /* of the bytes sent so far, in order */
  guint64    offset;   /* the next byte expected */
} Reader;

static GMutex transfers_lock;
static GHashTable *writers;   /* guarded by @transfers_lock; id → Writer */
static GHashTable *readers;   /* guarded by @transfers_lock; id → Reader */
static guint32 last_id;       /* guarded by @transfers_lock */

static void
writer_free (gpointer data)
{
  Writer *w = data;

  /* Only a writer that never committed still has its temporary file. */
  if (w->temp != NULL)
    g_unlink (w->temp);
  if (w->fd >= 0)
    close (w->fd);
  g_free (w->temp);
  g_free (w->dest);
  _mitogen_sha256_free (w->sha);
  g_free (w);
}

static void
reader_free (gpointer data)
{
  Reader *r = data;

  close (r->fd);
  g_free (r->path);
  _mitogen_sha256_free (r->sha);
  g_free (r);
}

static guint32
transfers_add (GHashTable **table,
               GDestroyNotify free_func,
               gpointer    item)
{
  guint32 id;

  g_mutex_lock (&transfers_lock);
  if (*table == NULL)
    *table = g_hash_table_new_full (NULL, NULL, NULL, free_func);
  do
    id = ++last_id;
  while (id == 0);
  g_hash_table_insert (*table, GUINT_TO_POINTER (id), item);
  g_mutex_unlock (&transfers_lock);
  return id;
}

/* Looks up transfer @id; the item stays owned by the table. Only the main
 * thread, which runs the calls, removes items, so it may use it unlocked. */
static gpointer
transfers_lookup (GHashTable  *table,
                  MitogenCall *call,
                  guint32      id,
                  GError     **error)
{
  gpointer item;

  g_mutex_lock (&transfers_lock);
  item = table != NULL ? g_hash_table_lookup (table, GUINT_TO_POINTER (id)) : NULL;
  g_mutex_unlock (&transfers_lock);
  if (item == NULL)
    g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_CALL,
                 "%s: no transfer %u here", mitogen_call_get_function (call), id);
  return item;
}

static void
transfers_remove (GHashTable *table,
                  guint32     id)
{
  g_mutex_lock (&transfers_lock);
  if (table != NULL)
    g_hash_table_remove (table, GUINT_TO_POINTER (id));
  g_mutex_unlock (&transfers_lock);
}

/**
 * _mitogen_builtins_transfer_abandon_all:
 *
 * Removes the temporary files of every push still open and closes every
 * pull: the agent calls it when it loses its parent, so that no half
 * written file is left behind. Any thread.
 */
void
_mitogen_builtins_transfer_abandon_all (void)
{
  GHashTableIter iter;
  Writer *w;

  /* Only the files go: the main thread may still be in a call that uses
   * its writer, until the agent exits. */
  g_mutex_lock (&transfers_lock);
  if (writers != NULL)
    {
      g_hash_table_iter_init (&iter, writers);
      while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &w))
        if (w->temp != NULL)
          g_unlink (w->temp);
    }
  g_mutex_unlock (&transfers_lock);
}

static gboolean
check_type (MitogenCall  *call,
            GVariant     *args,
            const char   *type,
            GError      **error)
{
  if (args == NULL || !g_variant_is_of_type (args, G_VARIANT_TYPE (type)))
    {
      g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_CALL,
                   "%s takes arguments of type '%s', not '%s'",
                   mitogen_call_get_function (call), type,
                   args != NULL ? g_variant_get_type_string (args) : "()");
      return FALSE;
    }
  return TRUE;
}

/* transfer.open_write (s path, a{sv} options) → u id */
static GVariant *
transfer_open_write (MitogenCall *call, GVariant *args, gpointer data, GError **error)
{
  const char *path;
  g_autoptr(GVariant) options = NULL;
  Writer *w;
  int fd;
  char *temp = NULL;

  if (!check_type (call, args, "(sa{sv})", error))
    return NULL;
  g_variant_get (args, "(&s@a{sv})", &path, &options);
  if (g_file_test (path, G_FILE_TEST_IS_DIR))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_IS_DIRECTORY, "%s is a directory", path);
      return NULL;
    }
  fd = _mitogen_transfer_open_temp (path, &temp, error);
  if (fd < 0)
    return NULL;
  w = g_new0 (Writer, 1);
  w->fd = fd;
  w->temp = temp;
  w->dest = g_strdup (path);
  w->sha = _mitogen_sha256_new ();
  return g_variant_new_uint32 (transfers_add (&writers, writer_free, w));
}

/* transfer.write (u id, t offset, ay data): the bytes at @offset, which
 * must follow the previous write's (the sha256 is taken as they come). */
static GVariant *
transfer_write (MitogenCall *call, GVariant *args, gpointer data, GError **error)
{
  guint32 id;
  guint64 offset;
  g_autoptr(GVariant) bytes = NULL;
  const guint8 *p;
  gsize len;
  Writer *w;

  if (!check_type (call, args, "(utay)", error))
    return NULL;
  g_variant_get (args, "(ut@ay)", &id, &offset, &bytes);
  w = transfers_lookup (writers, call, id, error);
  if (w == NULL)
    return NULL;
  if (offset != w->offset)
    {
      g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_CALL,
                   "transfer.write: %s: bytes at %" G_GUINT64_FORMAT ", expected %"
                   G_GUINT64_FORMAT, w->dest, offset, w->offset);
      return NULL;
    }
  p = g_variant_get_fixed_array (bytes, &len, 1);
  if (!_mitogen_transfer_write_at (w->fd, p, len, offset, w->dest, error))
    return NULL;
  _mitogen_sha256_update (w->sha, p, len);
  w->offset += len;
  return NULL;
}

/* transfer.commit (u id, s sha256, a{sv} attributes) → t size. The
 * transfer is over either way: on failure its temporary file is gone and
 * the destination untouched. */
static GVariant *
transfer_commit (MitogenCall *call, GVariant *args, gpointer data, GError **error)
{
  guint32 id;
  const char *sha;
  g_autoptr(GVariant) attrs = NULL;
  Writer *w;
  guint64 size;
  gboolean ok;

  if (!check_type (call, args, "(usa{sv})", error))
    return NULL;
  g_variant_get (args, "(u&s@a{sv})", &id, &sha, &attrs);
  w = transfers_lookup (writers, call, id, error);
  if (w == NULL)
    return NULL;
  size = w->offset;
  ok = _mitogen_transfer_finish_file (w->fd, w->temp, w->dest, w->sha, sha, attrs, error);
  if (ok)
    g_clear_pointer (&w->temp, g_free);
  transfers_remove (writers, id);
  return ok ? g_variant_new_uint64 (size) : NULL;
}

/* transfer.abort (u id): forgets a push or a pull; a push's temporary file
 * is removed. An unknown id is not an error: the transfer may have ended. */
static GVariant *
transfer_abort (MitogenCall *call, GVariant *args, gpointer data, GError **error)
{
  guint32 id;

  if (!check_type (call, args, "(u)", error))
    return NULL;
  g_variant_get (args, "(u)", &id);
  transfers_remove (writers, id);
  transfers_remove (readers, id);
  return NULL;
}

/* The attributes of @st as transfer.walk and transfer.open_read give them. */
static GVariant *
stat_attributes (const struct stat *st)
{
  return g_variant_new ("(tuxuuu)", (guint64) st->st_size, (guint32) st->st_mode,
                        (gint64) st->st_mtim.tv_sec, (guint32) st->st_mtim.tv_nsec,
                        (guint32) st->st_uid, (guint32) st->st_gid);
}

/* transfer.open_read (s path) → (u id, (t size, u mode, x mtime,
 * u mtime_nsec, u uid, u gid)) */
static GVariant *
transfer_open_read (MitogenCall *call, GVariant *args, gpointer data, GError **error)
{
  const char *path;
  struct stat st;
  Reader *r;
  int fd;

  if (!check_type (call, args, "(s)", error))
    return NULL;
  g_variant_get (args, "(&s)", &path);
  fd = open (path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    {
      _mitogen_transfer_set_errno (error, errno, "opening", path);
      return NULL;
    }
  if (fstat (fd, &st) < 0 || !S_ISREG (st.st_mode))
    {
      int saved = S_ISDIR (st.st_mode) ? EISDIR : errno;

      close (fd);
      _mitogen_transfer_set_errno (error, saved ? saved : EINVAL, "reading", path);
      return NULL;
    }
  r = g_new0 (Reader, 1);
  r->fd = fd;
  r->path = g_strdup (path);
  r->opened = st;
  r->sha = _mitogen_sha256_new ();
  return g_variant_new ("(u@(tuxuuu))", transfers_add (&readers, reader_free, r),
                        stat_attributes (&st));
}

/* Reads up to @len bytes at @offset of @fd into a new bytestring; fewer
 * only at the end of the file. */
static GVariant *
read_range (int            fd,
            guint64        offset,
            gsize          len,
            MitogenSha256 *sha,
            const char    *path,
            GError       **error)
{
  guint8 *buf = g_malloc (MAX (len, 1));
  gsize got = 0;

  while (got < len)
    {
      ssize_t n = pread (fd, buf + got, len - got, offset + got);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          g_free (buf);
          _mitogen_transfer_set_errno (error, errno, "reading", path);
          return NULL;
        }
      if (n == 0)
        break;
      got += n;
    }
  if (sha != NULL)
    _mitogen_sha256_update (sha, buf, got);
  return g_variant_new_from_data (G_VARIANT_TYPE_BYTESTRING, buf, got, TRUE, g_free, buf);
}

/* transfer.read (u id, t offset, u length) → ay: fewer bytes only at the
 * end of the file. Offsets must follow each other. */
static GVariant *
transfer_read (MitogenCall *call, GVariant *args, gpointer data, GError **error)
{
  guint32 id, len;
  guint64 offset;
  Reader *r;
  GVariant *bytes;

  if (!check_type (call, args, "(utu)", error))
    return NULL;
  g_variant_get (args, "(utu)", &id, &offset, &len);
  r = transfers_lookup (readers, call, id, error);
  if (r == NULL)
    return NULL;
  if (offset != r->offset || len > MAX_READ_BYTES)
    {
      g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_CALL,
                   "transfer.read: %u bytes at %" G_GUINT64_FORMAT ", expected at most %u at %"
                   G_GUINT64_FORMAT, len, offset, MAX_READ_BYTES, r->offset);
      return NULL;
    }
  bytes = read_range (r->fd, offset, len, r->sha, "the source", error);
  if (bytes != NULL)
    r->offset += g_variant_get_size (bytes);
  return bytes;
}

/* transfer.close_read (u id) → (s sha256, t size) of everything sent. */
static GVariant *
transfer_close_read (MitogenCall *call, GVariant *args, gpointer data, GError **error)
{
  guint32 id;
  Reader *r;
  GVariant *result;

  if (!check_type (call, args, "(u)", error))
    return NULL;
  g_variant_get (args, "(u)", &id);
  r = transfers_lookup (readers, call, id, error);
  if (r == NULL)
    return NULL;
  if (!_mitogen_transfer_check_unchanged (r->fd, r->opened.st_size, r->opened.st_mtim.tv_sec,
                                          r->opened.st_mtim.tv_nsec, r->path, error))
    {
      transfers_remove (readers, id);
      return NULL;
    }
  result = g_variant_new ("(st)", _mitogen_sha256_get_string (r->sha), r->offset);
  transfers_remove (readers, id);
  return result;
}

/* transfer.write_many (a(syaysa{sv}) entries): in order; stops at the
 * first that fails, with the files before it in place. */
static GVariant *
transfer_write_many (MitogenCall *call, GVariant *args, gpointer data, GError **error)
{
  g_autoptr(MitogenWriteBatch) batch = _mitogen_write_batch_new ();
  g_autoptr(GVariant) entries = NULL;
  g_autoptr(GError) failed = NULL;
  GVariantIter iter;
  GVariant *entry;

  if (!check_type (call, args, "(a(syaysa{sv}))", error))
    return NULL;
  g_variant_get (args, "(@a(syaysa{sv}))", &entries);
  g_variant_iter_init (&iter, entries);
  while (failed == NULL && (entry = g_variant_iter_next_value (&iter)) != NULL)
    {
      _mitogen_transfer_write_entry (batch, entry, &failed);
      g_variant_unref (entry);
    }
  /* The files before a failure stay, as they would have one by one. */
  if (failed != NULL)
    {
      _mitogen_write_batch_commit (batch, NULL);
      g_propagate_error (error, g_steal_pointer (&failed));
    }
  else
    _mitogen_write_batch_commit (batch, error);
  return NULL;
}

/* transfer.read_many (as paths) → a(ays): each whole file with its
 * sha256, at most MAX_READ_BYTES in all. */
static GVariant *
transfer_read_many (MitogenCall *call, GVariant *args, gpointer data, GError **error)
{
  g_autofree const char **paths = NULL;
  g_autoptr(GVariantBuilder) out = g_variant_builder_new (G_VARIANT_TYPE ("a(ays)"));
  guint64 total = 0;

  if (!check_type (call, args, "(as)", error))
    return NULL;
  g_variant_get (args, "(^a&s)", &paths);
  for (guint i = 0; paths[i] != NULL; i++)
    {
      g_autoptr(MitogenSha256) sum = _mitogen_sha256_new ();
      GVariant *bytes;
      struct stat st;
      int fd = open (paths[i], O_RDONLY | O_CLOEXEC);

      if (fd < 0 || fstat (fd, &st) < 0)
        {
          _mitogen_transfer_set_errno (error, errno, "opening", paths[i]);
          if (fd >= 0)
            close (fd);
          return NULL;
        }
      bytes = read_range (fd, 0, MAX_READ_BYTES - total + 1, sum, paths[i], error);
      if (bytes != NULL &&
          !_mitogen_transfer_check_unchanged (fd, st.st_size, st.st_mtim.tv_sec,
                                              st.st_mtim.tv_nsec, paths[i], error))
        g_clear_pointer (&bytes, g_variant_unref);
      close (fd);
      if (bytes == NULL)
        return NULL;
      total += g_variant_get_size (bytes);
      if (total > MAX_READ_BYTES)
        {
          g_variant_unref (g_variant_ref_sink (bytes));
          g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_CALL,
                       "transfer.read_many: more than %u bytes asked for", MAX_READ_BYTES);
          return NULL;
        }
      g_variant_builder_add (out, "(@ays)", bytes, _mitogen_sha256_get_string (sum));
    }
  return g_variant_builder_end (out);
}

static int
compare_names (gconstpointer a,
               gconstpointer b)
{
  return strcmp (*(char * const *) a, *(char * const *) b);
}

/* Adds what lies under @dir (@rel from the root) to @out, parents first. */
static gboolean
walk_dir (const char       *dir,
          const char       *rel,
          GVariantBuilder  *out,
          GError          **error)
{
  g_autoptr(GDir) d = g_dir_open (dir, 0, error);
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  const char *name;

  if (d == NULL)
    return FALSE;
  while ((name = g_dir_read_name (d)) != NULL)
    g_ptr_array_add (names, g_strdup (name));
  g_ptr_array_sort (names, compare_names);
  for (guint i = 0; i < names->len; i++)
    {
      g_autofree char *path = g_build_filename (dir, names->pdata[i], NULL);
      g_autofree char *sub = *rel ? g_build_filename (rel, names->pdata[i], NULL)
                                  : g_strdup (names->pdata[i]);
      g_autofree char *target = NULL;
      struct stat st;
      guint8 kind;

      if (lstat (path, &st) < 0)
        return _mitogen_transfer_set_errno (error, errno, "reading", path);
      if (S_ISDIR (st.st_mode))
        kind = 'd';
      else if (S_ISREG (st.st_mode))
        kind = 'f';
      else if (S_ISLNK (st.st_mode))
        {
          kind = 'l';
          target = g_file_read_link (path, NULL);
        }
      else
        continue;  /* devices, sockets and fifos are not copied, as by scp */
      g_variant_builder_add (out, "(sy@(tuxuuu)s)", sub, kind, stat_attributes (&st),
                             target != NULL ? target : "");
      if (kind == 'd' && !walk_dir (path, sub, out, error))
        return FALSE;
    }
  return TRUE;
}

/* transfer.walk (s path) → a(sy(tuxuuu)s): @path itself first (as ""),
 * then everything under it, parents before children, names sorted: path
 * relative to @path, kind ('f', 'd', 'l'), size, mode, mtime, mtime_nsec,
 * uid, gid, and a link's target. */
GVariant *
_mitogen_transfer_walk (const char  *path,
                        GError     **error)
{
  g_autoptr(GVariantBuilder) out = g_variant_builder_new (G_VARIANT_TYPE ("a(sy(tuxuuu)s)"));
  struct stat st;

  if (stat (path, &st) < 0)
    {
      _mitogen_transfer_set_errno (error, errno, "reading", path);
      return NULL;
    }
  g_variant_builder_add (out, "(sy@(tuxuuu)s)", "", S_ISDIR (st.st_mode) ? 'd' : 'f',
                         stat_attributes (&st), "");
  if (S_ISDIR (st.st_mode) && !walk_dir (path, "", out, error))
    return NULL;
  return g_variant_builder_end (out);
}

static GVariant *
transfer_walk (MitogenCall *call, GVariant *args, gpointer data, GError **error)
{
  const char *path;

  if (!check_type (call, args, "(s)", error))
    return NULL;
  g_variant_get (args, "(&s)", &path);
  return _mitogen_transfer_walk (path, error);
}

/* transfer.stat (s path) → y kind: 'd', 'f', 'l' (dangling link), 'o' for
 * anything else, or 0 when nothing is there; the CLI asks it to tell a
 * destination directory from a file name, as scp does. */
static GVariant *
transfer_stat (MitogenCall *call, GVariant *args, gpointer data, GError **error)
{
  const char *path;
  struct stat st;

  if (!check_type (call, args, "(s)", error))
    return NULL;
  g_variant_get (args, "(&s)", &path);
  if (stat (path, &st) < 0)
    return g_variant_new_byte (lstat (path, &st) == 0 ? 'l' : 0);
  return g_variant_new_byte (S_ISDIR (st.st_mode) ? 'd' : S_ISREG (st.st_mode) ? 'f' : 'o');
}

/**
 * _mitogen_builtins_transfer_register:
 *
 * Registers the transfer.* functions.
 */
void
_mitogen_builtins_transfer_register (void)
{
  static const struct {
    const char      *name;
    MitogenFunction  func;
  } functions[] = {
    { "transfer.open_write", transfer_open_write },
    { "transfer.write", transfer_write },
    { "transfer.commit", transfer_commit },
    { "transfer.abort", transfer_abort },
    { "transfer.open_read", transfer_open_read },
    { "transfer.read", transfer_read },
    { "transfer.close_read", transfer_close_read },
    { "transfer.write_many", transfer_write_many },
    { "transfer.read_many", transfer_read_many },
    { "transfer.walk", transfer_walk },
    { "transfer.stat", transfer_stat },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (functions); i++)
    mitogen_register_function (functions[i].name, functions[i].func, NULL, NULL);
}
