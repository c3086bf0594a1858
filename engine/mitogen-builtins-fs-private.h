/* mitogen-builtins-fs-private.h: the "fs" built-ins, shared between
 * mitogen-builtins-fs.c (stat, read, write, sha256 of single files) and
 * mitogen-builtins-fs-tree.c (directories, trees, names and owners).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <sys/stat.h>

#include "mitogen-private.h"
#include "mitogen-sha256-private.h"

G_BEGIN_DECLS

/* Registers every fs.* function; called by _mitogen_builtins_register(). */
void      _mitogen_builtins_fs_register (void);

/* ---- helpers both files use ------------------------------------------ */

/* One option an fs function accepts: its name and GVariant type. */
typedef struct
{
  const char *name;
  const char *type;
} MitogenFsOption;

/* Refuses an option of @options not in @known, or of the wrong type. */
gboolean  _mitogen_fs_check_options  (MitogenCall            *call,
                                      GVariant               *options,
                                      const MitogenFsOption  *known,
                                      gsize                   n_known,
                                      GError                **error);
/* Sets the G_IO_ERROR a local GIO call would give for @errsv:
 * "Error VERB “PATH”: strerror". */
void      _mitogen_fs_set_errno      (GError                **error,
                                      int                     errsv,
                                      const char             *verb,
                                      const char             *path);
/* FALSE, with G_IO_ERROR_INVALID_FILENAME, when @name (found under @path)
 * is not UTF-8: GVariant strings must be. */
gboolean  _mitogen_fs_check_utf8     (const char             *name,
                                      const char             *path,
                                      GError                **error);
/* The a{sv} describing @st: type, size, mode, uid, gid, mtime, plus
 * owner, group, atime, ctime, ino, dev and nlink when @full, plus
 * "target" when @target is not NULL. */
GVariant *_mitogen_fs_stat_variant   (const struct stat      *st,
                                      const char             *target,
                                      gboolean                full);
/* The target of the symbolic link @name in directory @dir_fd (AT_FDCWD
 * for a path), as UTF-8; @path names it in errors. */
char     *_mitogen_fs_readlinkat     (int                     dir_fd,
                                      const char             *name,
                                      const char             *path,
                                      GError                **error);

/* FALSE, with an error, unless @mode is permission bits (07777). */
gboolean  _mitogen_fs_check_mode     (MitogenCall            *call,
                                      guint32                 mode,
                                      GError                **error);
/* The uid and gid @options ask for ("uid"/"gid" u, "owner"/"group" s, one
 * of each pair); (uid_t) -1 and (gid_t) -1 for those not given. */
gboolean  _mitogen_fs_owner_from_options (MitogenCall        *call,
                                          GVariant           *options,
                                          uid_t              *uid,
                                          gid_t              *gid,
                                          GError            **error);

/* ---- mitogen-builtins-fs-tree.c --------------------------------------- */

GVariant *_mitogen_fs_list   (MitogenCall *call, GVariant *args, gpointer data, GError **error);
GVariant *_mitogen_fs_walk   (MitogenCall *call, GVariant *args, gpointer data, GError **error);
GVariant *_mitogen_fs_mkdir  (MitogenCall *call, GVariant *args, gpointer data, GError **error);
GVariant *_mitogen_fs_remove (MitogenCall *call, GVariant *args, gpointer data, GError **error);
GVariant *_mitogen_fs_rename (MitogenCall *call, GVariant *args, gpointer data, GError **error);
GVariant *_mitogen_fs_symlink (MitogenCall *call, GVariant *args, gpointer data, GError **error);
GVariant *_mitogen_fs_chmod  (MitogenCall *call, GVariant *args, gpointer data, GError **error);
GVariant *_mitogen_fs_chown  (MitogenCall *call, GVariant *args, gpointer data, GError **error);

G_END_DECLS
