/* mitogen-builtins-fs-tree.c: the "fs" functions on directories, trees and
 * names: list, walk, mkdir, remove, rename, symlink, chmod, chown. See
 * mitogen-builtins-fs.c for the conventions (paths as given, G_IO_ERROR
 * codes as GIO gives them).
 *
 * Trees are read and removed through directory descriptors (openat,
 * unlinkat, O_NOFOLLOW), so that a symbolic link met on the way is never
 * followed out of the tree, even one planted while the walk runs.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mitogen-builtins-fs-private.h"

/* fs.walk's default bound on the entries of one reply: about 15 MB. */
#define DEFAULT_MAX_ENTRIES 100000
/* And the most a caller may ask for. */
#define MAX_MAX_ENTRIES 1000000

static int
compare_names (gconstpointer a,
               gconstpointer b)
{
  return strcmp (*(const char * const *) a, *(const char * const *) b);
}

/* The names in directory @fd (not "." or ".."), sorted bytewise. @fd
 * stays open and the caller's. */
static GPtrArray *
read_sorted_names (int          fd,
                   const char  *path,
                   GError     **error)
{
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  int own = fcntl (fd, F_DUPFD_CLOEXEC, 0);
  DIR *dir = own >= 0 ? fdopendir (own) : NULL;
  struct dirent *entry;

  if (dir == NULL)
    {
      int errsv = errno;

      if (own >= 0)
        close (own);
      _mitogen_fs_set_errno (error, errsv, "reading directory", path);
      return NULL;
    }
  /* The duplicate shares its offset with @fd: start from the top. */
  rewinddir (dir);
  errno = 0;
  while ((entry = readdir (dir)) != NULL)
    {
      if (!g_str_equal (entry->d_name, ".") && !g_str_equal (entry->d_name, ".."))
        g_ptr_array_add (names, g_strdup (entry->d_name));
      errno = 0;
    }
  if (errno != 0)
    {
      _mitogen_fs_set_errno (error, errno, "reading directory", path);
      closedir (dir);
      return NULL;
    }
  closedir (dir);
  g_ptr_array_sort (names, compare_names);
  return g_steal_pointer (&names);
}

/* ---- list and walk ----------------------------------------------------- */

/* The entry for @name in directory @fd, or NULL with @error; NULL without
 * one when the entry went away since it was listed. */
static GVariant *
describe_entry (int          fd,
                const char  *name,
                const char  *path,
                gboolean     follow,
                struct stat *st,
                GError     **error)
{
  g_autofree char *target = NULL;

  if (!_mitogen_fs_check_utf8 (name, path, error))
    return NULL;
  /* A dangling link, when following: described as the link it is. */
  if ((!follow || fstatat (fd, name, st, 0) < 0) &&
      fstatat (fd, name, st, AT_SYMLINK_NOFOLLOW) < 0)
    {
      if (errno != ENOENT)
        _mitogen_fs_set_errno (error, errno, "getting information about", path);
      return NULL;
    }
  if (S_ISLNK (st->st_mode))
    {
      target = _mitogen_fs_readlinkat (fd, name, path, error);
      if (target == NULL)
        return NULL;
    }
  return _mitogen_fs_stat_variant (st, target, FALSE);
}

static int
open_directory (const char *path)
{
  return open (path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

/* fs.list (path) → a(sa{sv}): the entries of a directory, sorted by name,
 * each with type, size, mode, uid, gid, mtime (and target, for links). */
GVariant *
_mitogen_fs_list (MitogenCall *call, GVariant *args, gpointer data, GError **error)
{
  g_autoptr(GPtrArray) names = NULL;
  GVariantBuilder out;
  const char *path;
  int fd;

  if (!_mitogen_builtin_check_args (call, args, "(s)", error))
    return NULL;
  g_variant_get (args, "(&s)", &path);
  fd = open_directory (path);
  if (fd < 0)
    {
      _mitogen_fs_set_errno (error, errno, "opening directory", path);
      return NULL;
    }
  names = read_sorted_names (fd, path, error);
  g_variant_builder_init (&out, G_VARIANT_TYPE ("a(sa{sv})"));
  for (guint i = 0; names != NULL && i < names->len; i++)
    {
      const char *name = names->pdata[i];
      g_autofree char *child = g_build_filename (path, name, NULL);
      GError *local = NULL;
      struct stat st;
      GVariant *info = describe_entry (fd, name, child, FALSE, &st, &local);

      if (local != NULL)
        {
          g_propagate_error (error, local);
          g_variant_builder_clear (&out);
          close (fd);
          return NULL;
        }
      if (info != NULL)
        g_variant_builder_add (&out, "(s@a{sv})", name, info);
    }
  close (fd);
  if (names == NULL)
    {
      g_variant_builder_clear (&out);
      return NULL;
    }
  return g_variant_builder_end (&out);
}

typedef struct
{
  GVariantBuilder out;
  const char     *root;       /* the path walked, for messages */
  gboolean        follow;     /* follow symbolic links */
  guint64         count;      /* entries so far */
  guint64         max;        /* the most allowed */
  GArray         *ancestors;  /* dev_t, ino_t pairs of the directories open */
} Walk;

typedef struct
{
  dev_t dev;
  ino_t ino;
} DirId;

static gboolean
walk_is_ancestor (Walk              *walk,
                  const struct stat *st)
{
  for (guint i = 0; i < walk->ancestors->len; i++)
    {
      DirId *id = &g_array_index (walk->ancestors, DirId, i);

      if (id->dev == st->st_dev && id->ino == st->st_ino)
        return TRUE;
    }
  return FALSE;
}

/* Adds what lies under directory @fd (@rel from the root: "" for it),
 * depth first, each directory's entries sorted by name. */
static gboolean
walk_directory (Walk        *walk,
                int          fd,
                const char  *rel,
                GError     **error)
{
  g_autofree char *path = *rel ? g_build_filename (walk->root, rel, NULL) : g_strdup (walk->root);
  g_autoptr(GPtrArray) names = read_sorted_names (fd, path, error);

  if (names == NULL)
    return FALSE;
  for (guint i = 0; i < names->len; i++)
    {
      const char *name = names->pdata[i];
      g_autofree char *child_rel = *rel ? g_strconcat (rel, "/", name, NULL) : g_strdup (name);
      g_autofree char *child = g_build_filename (walk->root, child_rel, NULL);
      struct stat st;
      GError *local = NULL;
      GVariant *info = describe_entry (fd, name, child, walk->follow, &st, &local);
      DirId id;
      gboolean ok;
      int child_fd;

      if (info == NULL && local == NULL)
        continue;
      if (info == NULL)
        {
          g_propagate_error (error, local);
          return FALSE;
        }
      if (++walk->count > walk->max)
        {
          g_autofree char *display = g_filename_display_name (walk->root);

          g_variant_unref (g_variant_ref_sink (info));
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE,
                       "Error walking “%s”: more than %" G_GUINT64_FORMAT " entries; "
                       "raise “max_entries” or walk its subdirectories one by one",
                       display, walk->max);
          return FALSE;
        }
      g_variant_builder_add (&walk->out, "(s@a{sv})", child_rel, info);
      /* A link followed back to a directory being walked: not again. */
      if (!S_ISDIR (st.st_mode) || walk_is_ancestor (walk, &st))
        continue;
      child_fd = openat (fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC |
                                   (walk->follow ? 0 : O_NOFOLLOW));
      if (child_fd < 0)
        {
          _mitogen_fs_set_errno (error, errno, "opening directory", child);
          return FALSE;
        }
      id = (DirId) { st.st_dev, st.st_ino };
      g_array_append_val (walk->ancestors, id);
      ok = walk_directory (walk, child_fd, child_rel, error);
      g_array_set_size (walk->ancestors, walk->ancestors->len - 1);
      close (child_fd);
      if (!ok)
        return FALSE;
    }
  return TRUE;
}

/* fs.walk (path, options) → a(sa{sv}): every entry under a directory, as
 * paths relative to it ("a", "a/b", ...), depth first and sorted by name
 * within each directory, described as by fs.list. Options:
 * "follow_symlinks" b (default FALSE: links are listed, not entered; when
 * TRUE, a link back to a directory being walked is listed once and not
 * entered again), "max_entries" t (default 100000, at most 1000000: past
 * it the walk fails with G_IO_ERROR_MESSAGE_TOO_LARGE). */
GVariant *
_mitogen_fs_walk (MitogenCall *call, GVariant *args, gpointer data, GError **error)
{
  static const MitogenFsOption known[] = {
    { "follow_symlinks", "b" }, { "max_entries", "t" },
  };
  g_autoptr(GVariant) options = NULL;
  g_autoptr(GArray) ancestors = g_array_new (FALSE, FALSE, sizeof (DirId));
  Walk walk = { .max = DEFAULT_MAX_ENTRIES, .ancestors = ancestors };
  const char *path;
  struct stat st;
  DirId id;
  gboolean ok;
  int fd;

  if (!_mitogen_builtin_check_args (call, args, "(sa{sv})", error))
    return NULL;
  g_variant_get (args, "(&s@a{sv})", &path, &options);
  if (!_mitogen_fs_check_options (call, options, known, G_N_ELEMENTS (known), error))
    return NULL;
  g_variant_lookup (options, "follow_symlinks", "b", &walk.follow);
  g_variant_lookup (options, "max_entries", "t", &walk.max);
  if (walk.max > MAX_MAX_ENTRIES)
    {
      g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_CALL,
                   "“max_entries” must be at most %d, not %" G_GUINT64_FORMAT,
                   MAX_MAX_ENTRIES, walk.max);
      return NULL;
    }
  walk.root = path;
  fd = open_directory (path);
  if (fd < 0 || fstat (fd, &st) < 0)
    {
      _mitogen_fs_set_errno (error, errno, "opening directory", path);
      if (fd >= 0)
        close (fd);
      return NULL;
    }
  id = (DirId) { st.st_dev, st.st_ino };
  g_array_append_val (ancestors, id);
  g_variant_builder_init (&walk.out, G_VARIANT_TYPE ("a(sa{sv})"));
  ok = walk_directory (&walk, fd, "", error);
  close (fd);
  if (!ok)
    {
      g_variant_builder_clear (&walk.out);
      return NULL;
    }
  return g_variant_builder_end (&walk.out);
}

/* ---- mkdir and remove -------------------------------------------------- */

/* fs.mkdir (path, options): "parents" b (make missing parents, and
 * succeed when @path is a directory already, as mkdir -p), "mode" u (the
 * exact mode of a directory it makes, umask or not; default 0777 less the
 * umask). */
GVariant *
_mitogen_fs_mkdir (MitogenCall *call, GVariant *args, gpointer data, GError **error)
{
  static const MitogenFsOption known[] = { { "parents", "b" }, { "mode", "u" } };
  g_autoptr(GVariant) options = NULL;
  const char *path;
  gboolean parents = FALSE, has_mode, existed;
  guint32 mode = 0777;
  struct stat st;

  if (!_mitogen_builtin_check_args (call, args, "(sa{sv})", error))
    return NULL;
  g_variant_get (args, "(&s@a{sv})", &path, &options);
  if (!_mitogen_fs_check_options (call, options, known, G_N_ELEMENTS (known), error))
    return NULL;
  g_variant_lookup (options, "parents", "b", &parents);
  has_mode = g_variant_lookup (options, "mode", "u", &mode);
  if (!_mitogen_fs_check_mode (call, mode, error))
    return NULL;
  existed = stat (path, &st) == 0 && S_ISDIR (st.st_mode);
  if (parents ? g_mkdir_with_parents (path, 0777) < 0 : mkdir (path, mode) < 0)
    {
      _mitogen_fs_set_errno (error, errno, "making directory", path);
      return NULL;
    }
  /* The umask took bits from the mode asked for: they are put back. */
  if (has_mode && !existed && chmod (path, mode) < 0)
    _mitogen_fs_set_errno (error, errno, "changing the mode of", path);
  return NULL;
}

/* Removes directory @name in @parent_fd and all it holds. Entries are
 * unlinked through the directory's descriptor, so a link is removed and
 * never followed; a directory is opened O_NOFOLLOW, so one swapped for a
 * link meanwhile is not entered. @path names it in errors. */
static gboolean
remove_tree (int          parent_fd,
             const char  *name,
             const char  *path,
             GError     **error)
{
  g_autoptr(GPtrArray) names = NULL;
  gboolean ok = TRUE;
  int fd = openat (parent_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

  if (fd < 0 && (errno == ENOTDIR || errno == ELOOP))
    /* No longer a directory: removed as what it is. */
    return unlinkat (parent_fd, name, 0) == 0 ||
           (_mitogen_fs_set_errno (error, errno, "removing", path), FALSE);
  if (fd < 0)
    {
      _mitogen_fs_set_errno (error, errno, "opening directory", path);
      return FALSE;
    }
  names = read_sorted_names (fd, path, error);
  ok = names != NULL;
  for (guint i = 0; ok && i < names->len; i++)
    {
      const char *child = names->pdata[i];
      g_autofree char *child_path = g_build_filename (path, child, NULL);

      if (unlinkat (fd, child, 0) == 0 || errno == ENOENT)
        continue;
      /* Linux says EISDIR for a directory, POSIX EPERM. */
      if (errno == EISDIR || errno == EPERM)
        ok = remove_tree (fd, child, child_path, error);
      else
        {
          _mitogen_fs_set_errno (error, errno, "removing", child_path);
          ok = FALSE;
        }
    }
  close (fd);
  if (!ok)
    return FALSE;
  if (unlinkat (parent_fd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
    {
      _mitogen_fs_set_errno (error, errno, "removing", path);
      return FALSE;
    }
  return TRUE;
}

/* fs.remove (path, options): removes a file, link or empty directory; with
 * "recursive" b, a directory and everything in it (rm -r). A symbolic link
 * is removed, never followed, at the top as inside. "missing_ok" b: no
 * error when @path does not exist (rm -f). The root directory is refused. */
GVariant *
_mitogen_fs_remove (MitogenCall *call, GVariant *args, gpointer data, GError **error)
{
  static const MitogenFsOption known[] = { { "recursive", "b" }, { "missing_ok", "b" } };
  g_autoptr(GVariant) options = NULL;
  g_autofree char *path = NULL;
  gboolean recursive = FALSE, missing_ok = FALSE;
  gsize len;
  struct stat st, root;

  if (!_mitogen_builtin_check_args (call, args, "(sa{sv})", error))
    return NULL;
  g_variant_get (args, "(s@a{sv})", &path, &options);
  /* "link/" would name the directory a link points to: the link it is. */
  for (len = strlen (path); len > 1 && path[len - 1] == '/'; len--)
    path[len - 1] = '\0';
  if (!_mitogen_fs_check_options (call, options, known, G_N_ELEMENTS (known), error))
    return NULL;
  g_variant_lookup (options, "recursive", "b", &recursive);
  g_variant_lookup (options, "missing_ok", "b", &missing_ok);
  if (lstat (path, &st) < 0)
    {
      if (errno != ENOENT || !missing_ok)
        _mitogen_fs_set_errno (error, errno, "removing", path);
      return NULL;
    }
  if (!S_ISDIR (st.st_mode))
    {
      if (unlink (path) < 0)
        _mitogen_fs_set_errno (error, errno, "removing", path);
      return NULL;
    }
  if (!recursive)
    {
      if (rmdir (path) < 0)
        _mitogen_fs_set_errno (error, errno, "removing", path);
      return NULL;
    }
  if (stat ("/", &root) == 0 && root.st_dev == st.st_dev && root.st_ino == st.st_ino)
    {
      _mitogen_fs_set_errno (error, EPERM, "removing", path);
      return NULL;
    }
  remove_tree (AT_FDCWD, path, path, error);
  return NULL;
}

/* ---- names, modes and owners ------------------------------------------- */

static const MitogenFsOption owner_options[] = {
  { "uid", "u" }, { "gid", "u" }, { "owner", "s" }, { "group", "s" },
};

/* fs.chown (path, {uid, gid, owner, group}): the link followed, as
 * chown(1) does; what is not given is left as it is. */
GVariant *
_mitogen_fs_chown (MitogenCall *call, GVariant *args, gpointer data, GError **error)
{
  g_autoptr(GVariant) options = NULL;
  const char *path;
  uid_t uid;
  gid_t gid;

  if (!_mitogen_builtin_check_args (call, args, "(sa{sv})", error))
    return NULL;
  g_variant_get (args, "(&s@a{sv})", &path, &options);
  if (!_mitogen_fs_check_options (call, options, owner_options,
                                  G_N_ELEMENTS (owner_options), error) ||
      !_mitogen_fs_owner_from_options (call, options, &uid, &gid, error))
    return NULL;
  if (chown (path, uid, gid) < 0)
    {
      _mitogen_fs_set_errno (error, errno, "changing the owner of", path);
      return NULL;
    }
  return NULL;
}

/* fs.chmod (path, mode) */
GVariant *
_mitogen_fs_chmod (MitogenCall *call, GVariant *args, gpointer data, GError **error)
{
  const char *path;
  guint32 mode;

  if (!_mitogen_builtin_check_args (call, args, "(su)", error))
    return NULL;
  g_variant_get (args, "(&su)", &path, &mode);
  if (!_mitogen_fs_check_mode (call, mode, error))
    return NULL;
  if (chmod (path, mode) < 0)
    _mitogen_fs_set_errno (error, errno, "changing the mode of", path);
  return NULL;
}

/* ---- rename, symlink ------------------------------------------------- */

/* fs.rename (from, to): rename(2), so within one file system. */
GVariant *
_mitogen_fs_rename (MitogenCall *call, GVariant *args, gpointer data, GError **error)
{
  const char *from, *to;

  if (!_mitogen_builtin_check_args (call, args, "(ss)", error))
    return NULL;
  g_variant_get (args, "(&s&s)", &from, &to);
  if (rename (from, to) < 0)
    {
      int errsv = errno;
      g_autofree char *display_from = g_filename_display_name (from);
      g_autofree char *display_to = g_filename_display_name (to);

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv),
                   "Error renaming “%s” to “%s”: %s", display_from, display_to,
                   g_strerror (errsv));
    }
  return NULL;
}

/* fs.symlink (target, path): makes @path a link to @target. */
GVariant *
_mitogen_fs_symlink (MitogenCall *call, GVariant *args, gpointer data, GError **error)
{
  const char *target, *path;

  if (!_mitogen_builtin_check_args (call, args, "(ss)", error))
    return NULL;
  g_variant_get (args, "(&s&s)", &target, &path);
  if (symlink (target, path) < 0)
    _mitogen_fs_set_errno (error, errno, "making symbolic link", path);
  return NULL;
}

