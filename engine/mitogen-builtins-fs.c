/* mitogen-builtins-fs.c: the "fs" functions every agent carries, for single
 * files (stat, read, atomic write, links, modes, owners, sha256). Trees and
 * directories are in mitogen-builtins-fs-tree.c.
 *
 * Paths are taken as given: absolute, or relative to the agent's working
 * directory; no shell ever sees them. Failures of the file system are the
 * G_IO_ERROR a local GIO call would give (g_io_error_from_errno()), with a
 * message naming the path; bad arguments are MITOGEN_ERROR_CALL.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mitogen-builtins-fs-private.h"

/* The most fs.read returns in one reply: half the default message size,
 * so that a reply always fits. Larger files are read in ranges. */
#define MAX_READ_BYTES ((guint64) 64 * 1024 * 1024)
/* What fs.sha256 and an appending fs.write read at a time. */
#define CHUNK_BYTES (256 * 1024)

/* The agent's umask, read once at registration (before any other thread
 * runs): umask() can only be read by setting it, which is not thread-safe. */
static mode_t agent_umask = 022;

gboolean
_mitogen_fs_check_options (MitogenCall            *call,
                           GVariant               *options,
                           const MitogenFsOption  *known,
                           gsize                   n_known,
                           GError                **error)
{
  GVariantIter iter;
  const char *name;
  GVariant *value;

  g_variant_iter_init (&iter, options);
  /* iter_loop frees each value but the one the loop is left with. */
  while (g_variant_iter_loop (&iter, "{&sv}", &name, &value))
    {
      const char *type = NULL;

      for (gsize i = 0; i < n_known; i++)
        if (g_str_equal (name, known[i].name))
          type = known[i].type;
      if (type == NULL)
        {
          g_autoptr(GString) names = g_string_new (NULL);

          for (gsize i = 0; i < n_known; i++)
            g_string_append_printf (names, "%s%s", i > 0 ? ", " : "", known[i].name);
          g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_CALL,
                       "unknown option “%s” (known: %s)", name, names->str);
          g_variant_unref (value);
          return FALSE;
        }
      if (!g_variant_is_of_type (value, G_VARIANT_TYPE (type)))
        {
          g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_CALL,
                       "option “%s” must be of type '%s', not '%s'",
                       name, type, g_variant_get_type_string (value));
          g_variant_unref (value);
          return FALSE;
        }
    }
  return TRUE;
}

void
_mitogen_fs_set_errno (GError     **error,
                       int          errsv,
                       const char  *verb,
                       const char  *path)
{
  g_autofree char *display = g_filename_display_name (path);

  g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv),
               "Error %s “%s”: %s", verb, display, g_strerror (errsv));
}

gboolean
_mitogen_fs_check_utf8 (const char  *name,
                        const char  *path,
                        GError     **error)
{
  g_autofree char *display = NULL;

  if (g_utf8_validate (name, -1, NULL))
    return TRUE;
  display = g_filename_display_name (path);
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_FILENAME,
               "Error reading “%s”: not valid UTF-8, which names and link "
               "targets sent over the wire must be", display);
  return FALSE;
}

static const char *
type_name (mode_t mode)
{
  switch (mode & S_IFMT)
    {
    case S_IFREG: return "file";
    case S_IFDIR: return "directory";
    case S_IFLNK: return "symlink";
    case S_IFIFO: return "fifo";
    case S_IFSOCK: return "socket";
    case S_IFCHR: return "char";
    case S_IFBLK: return "block";
    default: return "unknown";
    }
}

static gint64
timespec_usec (const struct timespec *ts)
{
  return (gint64) ts->tv_sec * G_USEC_PER_SEC + ts->tv_nsec / 1000;
}

/* The name of user @uid, or NULL when it has none (or none in UTF-8). */
static char *
user_name (uid_t uid)
{
  struct passwd pw, *found = NULL;
  char buf[4096];

  if (getpwuid_r (uid, &pw, buf, sizeof buf, &found) != 0 || found == NULL ||
      !g_utf8_validate (found->pw_name, -1, NULL))
    return NULL;
  return g_strdup (found->pw_name);
}

static char *
group_name (gid_t gid)
{
  struct group gr, *found = NULL;
  char buf[4096];

  if (getgrgid_r (gid, &gr, buf, sizeof buf, &found) != 0 || found == NULL ||
      !g_utf8_validate (found->gr_name, -1, NULL))
    return NULL;
  return g_strdup (found->gr_name);
}

GVariant *
_mitogen_fs_stat_variant (const struct stat *st,
                          const char        *target,
                          gboolean           full)
{
  GVariantDict dict;

  g_variant_dict_init (&dict, NULL);
  g_variant_dict_insert (&dict, "type", "s", type_name (st->st_mode));
  g_variant_dict_insert (&dict, "size", "t", (guint64) st->st_size);
  g_variant_dict_insert (&dict, "mode", "u", (guint32) (st->st_mode & 07777));
  g_variant_dict_insert (&dict, "uid", "u", (guint32) st->st_uid);
  g_variant_dict_insert (&dict, "gid", "u", (guint32) st->st_gid);
  g_variant_dict_insert (&dict, "mtime", "x", timespec_usec (&st->st_mtim));
  if (full)
    {
      g_autofree char *owner = user_name (st->st_uid);
      g_autofree char *group = group_name (st->st_gid);

      if (owner != NULL)
        g_variant_dict_insert (&dict, "owner", "s", owner);
      if (group != NULL)
        g_variant_dict_insert (&dict, "group", "s", group);
      g_variant_dict_insert (&dict, "atime", "x", timespec_usec (&st->st_atim));
      g_variant_dict_insert (&dict, "ctime", "x", timespec_usec (&st->st_ctim));
      g_variant_dict_insert (&dict, "ino", "t", (guint64) st->st_ino);
      g_variant_dict_insert (&dict, "dev", "t", (guint64) st->st_dev);
      g_variant_dict_insert (&dict, "nlink", "t", (guint64) st->st_nlink);
    }
  if (target != NULL)
    g_variant_dict_insert (&dict, "target", "s", target);
  return g_variant_dict_end (&dict);
}

char *
_mitogen_fs_readlinkat (int          dir_fd,
                        const char  *name,
                        const char  *path,
                        GError     **error)
{
  gsize size = 256;

  for (;;)
    {
      g_autofree char *buf = g_malloc (size);
      ssize_t n = readlinkat (dir_fd, name, buf, size);

      if (n < 0)
        {
          _mitogen_fs_set_errno (error, errno, "reading the link", path);
          return NULL;
        }
      if ((gsize) n < size)
        {
          buf[n] = '\0';
          if (!_mitogen_fs_check_utf8 (buf, path, error))
            return NULL;
          return g_steal_pointer (&buf);
        }
      size *= 2;
    }
}

/* ---- stat, lstat, readlink ---------------------------------------------- */

/* fs.stat (path) → a{sv}: what stat(2) says, the link followed. */
static GVariant *
fs_stat (MitogenCall *call, GVariant *args, gpointer data, GError **error)
{
  const char *path;
  struct stat st;

  if (!_mitogen_builtin_check_args (call, args, "(s)", error))
    return NULL;
  g_variant_get (args, "(&s)", &path);
  if (stat (path, &st) < 0)
    {
      _mitogen_fs_set_errno (error, errno, "getting information about", path);
      return NULL;
    }
  return _mitogen_fs_stat_variant (&st, NULL, TRUE);
}

/* fs.lstat (path) → a{sv}: the link itself, with its "target". */
static GVariant *
fs_lstat (MitogenCall *call, GVariant *args, gpointer data, GError **error)
{
  g_autofree char *target = NULL;
  const char *path;
  struct stat st;

  if (!_mitogen_builtin_check_args (call, args, "(s)", error))
    return NULL;
  g_variant_get (args, "(&s)", &path);
  if (lstat (path, &st) < 0)
    {
      _mitogen_fs_set_errno (error, errno, "getting information about", path);
      return NULL;
    }
  if (S_ISLNK (st.st_mode))
    {
      target = _mitogen_fs_readlinkat (AT_FDCWD, path, path, error);
      if (target == NULL)
        return NULL;
    }
  return _mitogen_fs_stat_variant (&st, target, TRUE);
}

/* fs.readlink (path) → s */
static GVariant *
fs_readlink (MitogenCall *call, GVariant *args, gpointer data, GError **error)
{
  const char *path;
  char *target;

  if (!_mitogen_builtin_check_args (call, args, "(s)", error))
    return NULL;
  g_variant_get (args, "(&s)", &path);
  target = _mitogen_fs_readlinkat (AT_FDCWD, path, path, error);
  return target != NULL ? g_variant_new_take_string (target) : NULL;
}

/* ---- read and sha256 ------------------------------------------------- */

/* Reads up to @want bytes from @fd into a buffer of *@len bytes. The
 * buffer starts at @guess bytes (the file's size, when stat knows it) and
 * grows only when a probe finds more past it: a read costs about the
 * bytes it returns, not the next power of two. */
static guint8 *
read_up_to (int          fd,
            guint64      want,
            guint64      guess,
            gsize       *len,
            const char  *path,
            GError     **error)
{
  gsize alloc = MIN (want, guess), done = 0;
  g_autofree guint8 *buf = g_malloc (MAX (alloc, 1));

  for (;;)
    {
      ssize_t n;

      if (done == alloc)
        {
          guint8 probe;

          if (alloc == want)
            break;
          n = read (fd, &probe, 1);
          if (n == 1)
            {
              alloc = MIN (want, MAX ((guint64) alloc * 2, (guint64) CHUNK_BYTES));
              buf = g_realloc (buf, alloc);
              buf[done++] = probe;
              continue;
            }
        }
      else
        n = read (fd, buf + done, alloc - done);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          _mitogen_fs_set_errno (error, errno, "reading", path);
          return NULL;
        }
      if (n == 0)
        break;
      done += n;
    }
  if (done < alloc)
    buf = g_realloc (buf, MAX (done, 1));
  *len = done;
  return g_steal_pointer (&buf);
}

static gboolean
read_too_large (GError      **error,
                const char   *path,
                guint64       length)
{
  g_autofree char *display = g_filename_display_name (path);

  g_set_error (error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE,
               "Error reading “%s”: %" G_GUINT64_FORMAT " bytes are more than the %"
               G_GUINT64_FORMAT " one reply may carry; read it in ranges (offset, length)",
               display, length, MAX_READ_BYTES);
  return FALSE;
}

/* fs.read (path, offset, length) → ay: @length bytes from @offset, fewer at
 * the end of the file; a @length of -1 reads to the end. At most 64 MiB:
 * more fails with G_IO_ERROR_MESSAGE_TOO_LARGE, and the caller reads in
 * ranges. Works on pipes and devices too (from offset 0). */
static GVariant *
fs_read (MitogenCall *call, GVariant *args, gpointer data, GError **error)
{
  g_autoptr(GBytes) bytes = NULL;
  guint8 *buf;
  gsize len;
  const char *path;
  gint64 offset, length;
  guint64 want, guess;
  struct stat st;
  int fd;

  if (!_mitogen_builtin_check_args (call, args, "(sxx)", error))
    return NULL;
  g_variant_get (args, "(&sxx)", &path, &offset, &length);
  if (offset < 0 || length < -1)
    {
      g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_CALL,
                   "the offset must be ≥ 0 and the length ≥ -1, not %" G_GINT64_FORMAT
                   " and %" G_GINT64_FORMAT, offset, length);
      return NULL;
    }
  if (length > (gint64) MAX_READ_BYTES)
    {
      read_too_large (error, path, length);
      return NULL;
    }
  fd = open (path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0)
    {
      _mitogen_fs_set_errno (error, errno, "opening", path);
      return NULL;
    }
  if (fstat (fd, &st) < 0 || S_ISDIR (st.st_mode))
    {
      _mitogen_fs_set_errno (error, S_ISDIR (st.st_mode) ? EISDIR : errno, "reading", path);
      close (fd);
      return NULL;
    }
  if (offset > 0 && lseek (fd, offset, SEEK_SET) < 0)
    {
      _mitogen_fs_set_errno (error, errno, "seeking in", path);
      close (fd);
      return NULL;
    }
  /* To the end: one byte past the cap tells a file that is too large. */
  want = length >= 0 ? (guint64) length : MAX_READ_BYTES + 1;
  if (length < 0 && S_ISREG (st.st_mode) && st.st_size > offset &&
      (guint64) (st.st_size - offset) > MAX_READ_BYTES)
    {
      close (fd);
      read_too_large (error, path, st.st_size - offset);
      return NULL;
    }
  /* A file stat calls empty may still have bytes (/proc): read to see. */
  guess = S_ISREG (st.st_mode) && st.st_size > offset ? (guint64) (st.st_size - offset) : 0;
  buf = read_up_to (fd, want, guess > 0 ? guess : CHUNK_BYTES, &len, path, error);
  close (fd);
  if (buf == NULL)
    return NULL;
  if (len > MAX_READ_BYTES)
    {
      g_free (buf);
      read_too_large (error, path, len);
      return NULL;
    }
  /* The variant takes a reference of its own to the bytes. */
  bytes = g_bytes_new_take (buf, len);
  return g_variant_new_from_bytes (G_VARIANT_TYPE_BYTESTRING, bytes, TRUE);
}

/* fs.sha256 (path) → s: the file's SHA-256 in hex, read in chunks (never
 * held whole); a cancelled call stops between chunks. */
static GVariant *
fs_sha256 (MitogenCall *call, GVariant *args, gpointer data, GError **error)
{
  g_autoptr(MitogenSha256) sum = _mitogen_sha256_new ();
  g_autofree guint8 *buf = NULL;
  const char *path;
  struct stat st;
  int fd;
  ssize_t n;

  if (!_mitogen_builtin_check_args (call, args, "(s)", error))
    return NULL;
  g_variant_get (args, "(&s)", &path);
  fd = open (path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0)
    {
      _mitogen_fs_set_errno (error, errno, "opening", path);
      return NULL;
    }
  if (fstat (fd, &st) == 0 && S_ISDIR (st.st_mode))
    errno = EISDIR, n = -1;
  else
    {
      buf = g_malloc (CHUNK_BYTES);
      while ((n = read (fd, buf, CHUNK_BYTES)) != 0)
        {
          if (n < 0 && errno == EINTR)
            continue;
          if (n < 0)
            break;
          _mitogen_sha256_update (sum, buf, n);
          if (g_cancellable_set_error_if_cancelled (mitogen_call_get_cancellable (call), error))
            {
              close (fd);
              return NULL;
            }
        }
    }
  if (n < 0)
    {
      _mitogen_fs_set_errno (error, errno, "reading", path);
      close (fd);
      return NULL;
    }
  close (fd);
  return g_variant_new_string (_mitogen_sha256_get_string (sum));
}

/* ---- owners ------------------------------------------------------------ */

gboolean
_mitogen_fs_owner_from_options (MitogenCall  *call,
                                GVariant     *options,
                                uid_t        *uid,
                                gid_t        *gid,
                                GError      **error)
{
  const char *owner = NULL, *group = NULL;
  guint32 id;

  *uid = (uid_t) -1;
  *gid = (gid_t) -1;
  g_variant_lookup (options, "owner", "&s", &owner);
  g_variant_lookup (options, "group", "&s", &group);
  if ((owner != NULL && g_variant_lookup (options, "uid", "u", &id)) ||
      (group != NULL && g_variant_lookup (options, "gid", "u", &id)))
    {
      g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_CALL,
                   "give “uid” or “owner”, “gid” or “group”, not both");
      return FALSE;
    }
  if (g_variant_lookup (options, "uid", "u", &id))
    *uid = id;
  if (g_variant_lookup (options, "gid", "u", &id))
    *gid = id;
  if (owner != NULL)
    {
      struct passwd pw, *found = NULL;
      char buf[4096];

      if (getpwnam_r (owner, &pw, buf, sizeof buf, &found) != 0 || found == NULL)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                       "there is no user named “%s”", owner);
          return FALSE;
        }
      *uid = found->pw_uid;
    }
  if (group != NULL)
    {
      struct group gr, *found = NULL;
      char buf[4096];

      if (getgrnam_r (group, &gr, buf, sizeof buf, &found) != 0 || found == NULL)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                       "there is no group named “%s”", group);
          return FALSE;
        }
      *gid = found->gr_gid;
    }
  return TRUE;
}

gboolean
_mitogen_fs_check_mode (MitogenCall  *call,
                        guint32       mode,
                        GError      **error)
{
  if (mode <= 07777)
    return TRUE;
  g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_CALL,
               "the mode must be permission bits (at most 07777), not 0%o", mode);
  return FALSE;
}

/* ---- write ------------------------------------------------------------- */

static const MitogenFsOption write_options[] = {
  { "mode", "u" }, { "uid", "u" }, { "gid", "u" }, { "owner", "s" }, { "group", "s" },
  { "mtime", "x" }, { "append", "b" }, { "create_parents", "b" },
};

static gboolean
write_all (int           fd,
           const guint8 *data,
           gsize         n,
           const char   *path,
           GError      **error)
{
  while (n > 0)
    {
      ssize_t done = write (fd, data, MIN (n, (gsize) G_MAXSSIZE));

      if (done < 0 && errno == EINTR)
        continue;
      if (done < 0)
        {
          _mitogen_fs_set_errno (error, errno, "writing", path);
          return FALSE;
        }
      data += done;
      n -= done;
    }
  return TRUE;
}

/* Copies what @path holds now to @fd, for an append. */
static gboolean
copy_existing (int          fd,
               const char  *path,
               GError     **error)
{
  g_autofree guint8 *buf = g_malloc (CHUNK_BYTES);
  int in = open (path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
  ssize_t n;

  if (in < 0)
    {
      _mitogen_fs_set_errno (error, errno, "opening", path);
      return FALSE;
    }
  while ((n = read (in, buf, CHUNK_BYTES)) != 0)
    {
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          _mitogen_fs_set_errno (error, errno, "reading", path);
          break;
        }
      if (!write_all (fd, buf, n, path, error))
        break;
    }
  close (in);
  return n == 0;
}

/* Everything about the new file but its bytes: owner, then mode (a chown
 * clears set-id bits), then times, then the data on disk. */
static gboolean
finish_temp (int           fd,
             const char   *path,
             uid_t         uid,
             gid_t         gid,
             gboolean      owner_asked,
             mode_t        mode,
             const gint64 *mtime,
             GError      **error)
{
  if ((uid != (uid_t) -1 || gid != (gid_t) -1) && fchown (fd, uid, gid) < 0 && owner_asked)
    {
      _mitogen_fs_set_errno (error, errno, "changing the owner of", path);
      return FALSE;
    }
  if (fchmod (fd, mode) < 0)
    {
      _mitogen_fs_set_errno (error, errno, "changing the mode of", path);
      return FALSE;
    }
  if (mtime != NULL)
    {
      struct timespec times[2] = {
        { .tv_nsec = UTIME_OMIT },
        { .tv_sec = *mtime / G_USEC_PER_SEC, .tv_nsec = (*mtime % G_USEC_PER_SEC) * 1000 },
      };

      if (times[1].tv_nsec < 0)
        times[1].tv_sec -= 1, times[1].tv_nsec += 1000000000;
      if (futimens (fd, times) < 0)
        {
          _mitogen_fs_set_errno (error, errno, "setting the times of", path);
          return FALSE;
        }
    }
  if (fsync (fd) < 0)
    {
      _mitogen_fs_set_errno (error, errno, "syncing", path);
      return FALSE;
    }
  return TRUE;
}

/* Makes @dir and its missing parents (mode 0777 less the umask). */
static gboolean
make_parents (const char  *dir,
              GError     **error)
{
  if (g_mkdir_with_parents (dir, 0777) < 0)
    {
      _mitogen_fs_set_errno (error, errno, "making directory", dir);
      return FALSE;
    }
  return TRUE;
}

/* Flushes the rename in @dir to disk. Some file systems cannot sync a
 * directory (EINVAL): the file is written all the same. */
static gboolean
sync_directory (const char  *dir,
                GError     **error)
{
  int fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

  if (fd < 0 || (fsync (fd) < 0 && errno != EINVAL && errno != EROFS))
    {
      _mitogen_fs_set_errno (error, errno, "syncing directory", dir);
      if (fd >= 0)
        close (fd);
      return FALSE;
    }
  close (fd);
  return TRUE;
}

/* fs.write (path, data, options) → a{sv} (fs.stat of the new file).
 *
 * Atomic: the bytes go to a temporary file in the same directory (created
 * O_EXCL, mode 0600), which gets its owner, mode and mtime, is synced and
 * renamed over @path; then the directory is synced. Readers see the old
 * file or the new one, never a part; on any failure the temporary file is
 * removed and @path is left as it was. A symbolic link at @path is
 * replaced, not followed (as install(1) does).
 *
 * Options: "mode" u (default: the existing file's, else 0644 less the
 * umask), "uid"/"gid" u or "owner"/"group" s (default: the existing
 * file's when this process may keep them), "mtime" x µs, "append" b
 * (the old contents, then @data, still atomically), "create_parents" b. */
static GVariant *
fs_write (MitogenCall *call, GVariant *args, gpointer data, GError **error)
{
  g_autoptr(GVariant) bytes = NULL, options = NULL;
  g_autofree char *dir = NULL, *base = NULL, *temp = NULL;
  const char *path;
  gboolean append = FALSE, parents = FALSE, exists, owner_asked;
  guint32 mode_option;
  mode_t mode = 0644 & ~agent_umask;
  gint64 mtime, *mtime_p = NULL;
  uid_t uid;
  gid_t gid;
  struct stat old, st;
  int fd;

  if (!_mitogen_builtin_check_args (call, args, "(saya{sv})", error))
    return NULL;
  g_variant_get (args, "(&s@ay@a{sv})", &path, &bytes, &options);
  if (!_mitogen_fs_check_options (call, options, write_options,
                                  G_N_ELEMENTS (write_options), error) ||
      !_mitogen_fs_owner_from_options (call, options, &uid, &gid, error))
    return NULL;
  owner_asked = uid != (uid_t) -1 || gid != (gid_t) -1;
  g_variant_lookup (options, "append", "b", &append);
  g_variant_lookup (options, "create_parents", "b", &parents);
  if (g_variant_lookup (options, "mtime", "x", &mtime))
    mtime_p = &mtime;

  dir = g_path_get_dirname (path);
  base = g_path_get_basename (path);
  if (parents && !make_parents (dir, error))
    return NULL;
  exists = lstat (path, &old) == 0;
  if (exists && S_ISDIR (old.st_mode))
    {
      _mitogen_fs_set_errno (error, EISDIR, "writing", path);
      return NULL;
    }
  if (exists && S_ISREG (old.st_mode))
    {
      mode = old.st_mode & 07777;
      if (uid == (uid_t) -1 && old.st_uid != geteuid ())
        uid = old.st_uid;
      if (gid == (gid_t) -1 && old.st_gid != getegid ())
        gid = old.st_gid;
    }
  if (g_variant_lookup (options, "mode", "u", &mode_option))
    {
      if (!_mitogen_fs_check_mode (call, mode_option, error))
        return NULL;
      mode = mode_option;
    }

  /* The name stays well under NAME_MAX however long @path's is. */
  temp = g_strdup_printf ("%s/.%.200s.mitogen-XXXXXX", dir, base);
  fd = g_mkstemp_full (temp, O_WRONLY | O_CLOEXEC, 0600);
  if (fd < 0)
    {
      _mitogen_fs_set_errno (error, errno, "creating a temporary file in", dir);
      return NULL;
    }
  if ((append && exists && S_ISREG (old.st_mode) && !copy_existing (fd, path, error)) ||
      !write_all (fd, g_variant_get_data (bytes), g_variant_get_size (bytes), path, error) ||
      !finish_temp (fd, path, uid, gid, owner_asked, mode, mtime_p, error) ||
      fstat (fd, &st) < 0)
    {
      close (fd);
      unlink (temp);
      return NULL;
    }
  if (close (fd) < 0)
    {
      _mitogen_fs_set_errno (error, errno, "writing", path);
      unlink (temp);
      return NULL;
    }
  if (rename (temp, path) < 0)
    {
      _mitogen_fs_set_errno (error, errno, "replacing", path);
      unlink (temp);
      return NULL;
    }
  if (!sync_directory (dir, error))
    return NULL;
  return _mitogen_fs_stat_variant (&st, NULL, TRUE);
}

void
_mitogen_builtins_fs_register (void)
{
  static const struct {
    const char      *name;
    MitogenFunction  func;
  } functions[] = {
    { "fs.stat", fs_stat },
    { "fs.lstat", fs_lstat },
    { "fs.read", fs_read },
    { "fs.write", fs_write },
    { "fs.list", _mitogen_fs_list },
    { "fs.walk", _mitogen_fs_walk },
    { "fs.mkdir", _mitogen_fs_mkdir },
    { "fs.remove", _mitogen_fs_remove },
    { "fs.rename", _mitogen_fs_rename },
    { "fs.symlink", _mitogen_fs_symlink },
    { "fs.readlink", fs_readlink },
    { "fs.chmod", _mitogen_fs_chmod },
    { "fs.chown", _mitogen_fs_chown },
    { "fs.sha256", fs_sha256 },
  };

  agent_umask = umask (022);
  umask (agent_umask);
  for (gsize i = 0; i < G_N_ELEMENTS (functions); i++)
    mitogen_register_function (functions[i].name, functions[i].func, NULL, NULL);
}
