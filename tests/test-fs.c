/* test-fs.c: the fs.* built-ins against the real file system, in real
 * local agents: each function's results, each error code (the G_IO_ERROR
 * a local GIO call would give), writes that are atomic (a failed write
 * leaves the old file and no temporary file), trees with symbolic links,
 * and the same calls through a context started via another.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gio/gio.h>

#include "mitogen-test-util.h"

/* A failing test must not hang the suite; valgrind makes agents slow. */
#define WAIT_MSEC 60000

typedef struct
{
  MitogenTestFixture  base;
  MitogenContext     *ctx;   /* a local agent */
  char               *dir;   /* a fresh temporary directory */
} Fixture;

static void
fixture_setup (Fixture       *fixture,
               gconstpointer  data)
{
  g_autoptr(GError) error = NULL;

  mitogen_test_fixture_setup (&fixture->base, data);
  fixture->ctx = mitogen_test_local (fixture->base.router);
  fixture->dir = g_dir_make_tmp ("mitogen-test-fs-XXXXXX", &error);
  g_assert_no_error (error);
}

static void
fixture_teardown (Fixture       *fixture,
                  gconstpointer  data)
{
  const char *argv[] = { "rm", "-rf", fixture->dir, NULL };

  g_assert_true (g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH,
                               NULL, NULL, NULL, NULL, NULL, NULL));
  g_free (fixture->dir);
  g_clear_object (&fixture->ctx);
  mitogen_test_fixture_teardown (&fixture->base, data);
}

#define TEST(path, func) \
  g_test_add ((path), Fixture, NULL, fixture_setup, (func), fixture_teardown)

/* Calls @function and waits at most WAIT_MSEC for the reply. */
static GVariant *
call (MitogenContext  *ctx,
      const char      *function,
      GVariant        *args,
      GError         **error)
{
  g_autoptr(MitogenReceiver) recv = mitogen_context_begin_call (ctx, function, args);
  g_autoptr(MitogenMessage) msg = mitogen_receiver_get (recv, WAIT_MSEC, NULL, error);

  if (msg == NULL)
    return NULL;
  return mitogen_message_unpack (msg, error);
}

static GVariant *
call_ok (MitogenContext *ctx,
         const char     *function,
         GVariant       *args)
{
  g_autoptr(GError) error = NULL;
  GVariant *result = call (ctx, function, args, &error);

  g_assert_no_error (error);
  return result;
}

/* Asserts that @function fails with @domain and @code, and that the
 * message mentions @mention (the path, usually). */
static void
call_fails (MitogenContext *ctx,
            const char     *function,
            GVariant       *args,
            GQuark          domain,
            int             code,
            const char     *mention)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) result = call (ctx, function, args, &error);

  g_test_message ("%s: %s", function, error != NULL ? error->message : "no error");
  g_assert_null (result);
  g_assert_error (error, domain, code);
  g_assert_nonnull (strstr (error->message, function));
  if (mention != NULL)
    g_assert_nonnull (strstr (error->message, mention));
}

static GVariant *
no_options (void)
{
  return g_variant_new_array (G_VARIANT_TYPE ("{sv}"), NULL, 0);
}

/* A dictionary from "name", value, ..., NULL (the values floating). */
static GVariant *
options (const char *name,
         ...)
{
  GVariantBuilder builder;
  va_list ap;

  g_variant_builder_init (&builder, G_VARIANT_TYPE_VARDICT);
  va_start (ap, name);
  for (; name != NULL; name = va_arg (ap, const char *))
    g_variant_builder_add (&builder, "{sv}", name, va_arg (ap, GVariant *));
  va_end (ap);
  return g_variant_builder_end (&builder);
}

static char *
in_dir (Fixture    *fixture,
        const char *name)
{
  return g_build_filename (fixture->dir, name, NULL);
}

static void
put_file (const char *path,
          const char *contents)
{
  g_autoptr(GError) error = NULL;

  g_file_set_contents (path, contents, -1, &error);
  g_assert_no_error (error);
}

static char *
get_file (const char *path)
{
  g_autoptr(GError) error = NULL;
  char *contents = NULL;

  g_file_get_contents (path, &contents, NULL, &error);
  g_assert_no_error (error);
  return contents;
}

static mode_t
current_umask (void)
{
  mode_t mask = umask (022);

  umask (mask);
  return mask;
}

static int
compare_names (gconstpointer a,
               gconstpointer b)
{
  return strcmp (*(const char * const *) a, *(const char * const *) b);
}

/* The names in @dir, sorted and joined with spaces. */
static char *
dir_names (const char *dir)
{
  g_autoptr(GDir) d = g_dir_open (dir, 0, NULL);
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  const char *name;

  g_assert_nonnull (d);
  while ((name = g_dir_read_name (d)) != NULL)
    g_ptr_array_add (names, g_strdup (name));
  g_ptr_array_sort (names, compare_names);
  g_ptr_array_add (names, NULL);
  return g_strjoinv (" ", (char **) names->pdata);
}

static const char *
lookup_s (GVariant   *dict,
          const char *key)
{
  const char *value = NULL;

  g_assert_true (g_variant_lookup (dict, key, "&s", &value));
  return value;
}

static guint64
lookup_t (GVariant   *dict,
          const char *key)
{
  guint64 value = 0;

  g_assert_true (g_variant_lookup (dict, key, "t", &value));
  return value;
}

static guint32
lookup_u (GVariant   *dict,
          const char *key)
{
  guint32 value = 0;

  g_assert_true (g_variant_lookup (dict, key, "u", &value));
  return value;
}

static gint64
lookup_x (GVariant   *dict,
          const char *key)
{
  gint64 value = 0;

  g_assert_true (g_variant_lookup (dict, key, "x", &value));
  return value;
}

/* ---- stat, lstat, readlink ---------------------------------------------- */

static void
test_stat (Fixture       *fixture,
           gconstpointer  data)
{
  g_autofree char *file = in_dir (fixture, "file");
  g_autofree char *link = in_dir (fixture, "link");
  g_autofree char *fifo = in_dir (fixture, "fifo");
  g_autofree char *missing = in_dir (fixture, "missing");
  g_autofree char *under_file = in_dir (fixture, "file/x");
  struct timespec times[2] = { { 1000, 5000 }, { 1234567890, 123456000 } };
  g_autoptr(GVariant) st = NULL, lst = NULL, followed = NULL, dir = NULL, pipe = NULL;
  g_autoptr(GVariant) target = NULL;
  struct stat local;

  put_file (file, "twelve bytes");
  g_assert_cmpint (chmod (file, 0640), ==, 0);
  g_assert_cmpint (utimensat (AT_FDCWD, file, times, 0), ==, 0);
  g_assert_cmpint (symlink ("file", link), ==, 0);
  g_assert_cmpint (mkfifo (fifo, 0600), ==, 0);
  g_assert_cmpint (stat (file, &local), ==, 0);

  st = call_ok (fixture->ctx, "fs.stat", g_variant_new ("(s)", file));
  g_assert_cmpstr (lookup_s (st, "type"), ==, "file");
  g_assert_cmpuint (lookup_t (st, "size"), ==, 12);
  g_assert_cmpuint (lookup_u (st, "mode"), ==, 0640);
  g_assert_cmpuint (lookup_u (st, "uid"), ==, getuid ());
  g_assert_cmpuint (lookup_u (st, "gid"), ==, getgid ());
  g_assert_cmpstr (lookup_s (st, "owner"), ==, g_get_user_name ());
  g_assert_cmpint (lookup_x (st, "mtime"), ==, G_GINT64_CONSTANT (1234567890123456));
  g_assert_cmpint (lookup_x (st, "atime"), ==, 1000 * G_USEC_PER_SEC + 5);
  g_assert_cmpint (lookup_x (st, "ctime"), >, 0);
  g_assert_cmpuint (lookup_t (st, "ino"), ==, local.st_ino);
  g_assert_cmpuint (lookup_t (st, "dev"), ==, local.st_dev);
  g_assert_cmpuint (lookup_t (st, "nlink"), ==, 1);
  g_assert_false (g_variant_lookup (st, "target", "s", NULL));

  /* stat follows the link; lstat describes it and says where it points. */
  followed = call_ok (fixture->ctx, "fs.stat", g_variant_new ("(s)", link));
  g_assert_cmpstr (lookup_s (followed, "type"), ==, "file");
  g_assert_cmpuint (lookup_t (followed, "ino"), ==, local.st_ino);
  lst = call_ok (fixture->ctx, "fs.lstat", g_variant_new ("(s)", link));
  g_assert_cmpstr (lookup_s (lst, "type"), ==, "symlink");
  g_assert_cmpstr (lookup_s (lst, "target"), ==, "file");
  target = call_ok (fixture->ctx, "fs.readlink", g_variant_new ("(s)", link));
  g_assert_cmpstr (g_variant_get_string (target, NULL), ==, "file");

  dir = call_ok (fixture->ctx, "fs.stat", g_variant_new ("(s)", fixture->dir));
  g_assert_cmpstr (lookup_s (dir, "type"), ==, "directory");
  g_assert_cmpuint (lookup_u (dir, "mode"), ==, 0700);
  pipe = call_ok (fixture->ctx, "fs.lstat", g_variant_new ("(s)", fifo));
  g_assert_cmpstr (lookup_s (pipe, "type"), ==, "fifo");

  call_fails (fixture->ctx, "fs.stat", g_variant_new ("(s)", missing),
              G_IO_ERROR, G_IO_ERROR_NOT_FOUND, missing);
  call_fails (fixture->ctx, "fs.lstat", g_variant_new ("(s)", missing),
              G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "No such file or directory");
  call_fails (fixture->ctx, "fs.stat", g_variant_new ("(s)", under_file),
              G_IO_ERROR, G_IO_ERROR_NOT_DIRECTORY, under_file);
  /* readlink of what is no link: EINVAL, as GIO maps it. */
  call_fails (fixture->ctx, "fs.readlink", g_variant_new ("(s)", file),
              G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, file);
}

/* ---- read --------------------------------------------------------------- */

static gsize
bytes_of (GVariant     *value,
          const guint8 **data)
{
  gsize n = 0;

  g_assert_true (g_variant_is_of_type (value, G_VARIANT_TYPE_BYTESTRING));
  *data = g_variant_get_fixed_array (value, &n, 1);
  return n;
}

static GVariant *
read_args (const char *path,
           gint64      offset,
           gint64      length)
{
  return g_variant_new ("(sxx)", path, offset, length);
}

#define MIB (G_GINT64_CONSTANT (1024) * 1024)

static void
test_read (Fixture       *fixture,
           gconstpointer  data)
{
  g_autofree char *file = in_dir (fixture, "file");
  g_autofree char *big = in_dir (fixture, "big");
  g_autofree char *missing = in_dir (fixture, "missing");
  char contents[1001];
  const guint8 *got;
  int fd;

  for (gsize i = 0; i < 1000; i++)
    contents[i] = 'a' + i % 26;
  contents[1000] = '\0';
  put_file (file, contents);

  {
    g_autoptr(GVariant) all = call_ok (fixture->ctx, "fs.read", read_args (file, 0, -1));
    g_autoptr(GVariant) range = call_ok (fixture->ctx, "fs.read", read_args (file, 10, 20));
    g_autoptr(GVariant) tail = call_ok (fixture->ctx, "fs.read", read_args (file, 990, 100));
    g_autoptr(GVariant) past = call_ok (fixture->ctx, "fs.read", read_args (file, 5000, 10));
    g_autoptr(GVariant) none = call_ok (fixture->ctx, "fs.read", read_args (file, 0, 0));

    g_assert_cmpuint (bytes_of (all, &got), ==, 1000);
    g_assert_cmpmem (got, 1000, contents, 1000);
    g_assert_cmpuint (bytes_of (range, &got), ==, 20);
    g_assert_cmpmem (got, 20, contents + 10, 20);
    g_assert_cmpuint (bytes_of (tail, &got), ==, 10);
    g_assert_cmpmem (got, 10, contents + 990, 10);
    g_assert_cmpuint (bytes_of (past, &got), ==, 0);
    g_assert_cmpuint (bytes_of (none, &got), ==, 0);
  }

  /* A sparse file past the cap: to the end is refused, ranges are not. */
  fd = open (big, O_WRONLY | O_CREAT, 0644);
  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (ftruncate (fd, 65 * MIB), ==, 0);
  close (fd);
  call_fails (fixture->ctx, "fs.read", read_args (big, 0, -1),
              G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE, "ranges");
  call_fails (fixture->ctx, "fs.read", read_args (big, 0, 64 * MIB + 1),
              G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE, big);
  {
    g_autoptr(GVariant) last = call_ok (fixture->ctx, "fs.read", read_args (big, 64 * MIB, -1));

    g_assert_cmpuint (bytes_of (last, &got), ==, MIB);
    g_assert_cmpuint (got[0], ==, 0);
  }

  /* A file stat calls empty that has bytes all the same. */
  {
    g_autoptr(GVariant) status = call_ok (fixture->ctx, "fs.read",
                                          read_args ("/proc/self/status", 0, -1));

    g_assert_cmpuint (bytes_of (status, &got), >, 100);
    g_assert_cmpmem (got, 5, "Name:", 5);
  }

  call_fails (fixture->ctx, "fs.read", read_args (missing, 0, -1),
              G_IO_ERROR, G_IO_ERROR_NOT_FOUND, missing);
  call_fails (fixture->ctx, "fs.read", read_args (fixture->dir, 0, -1),
              G_IO_ERROR, G_IO_ERROR_IS_DIRECTORY, fixture->dir);
  call_fails (fixture->ctx, "fs.read", read_args (file, -1, 10),
              MITOGEN_ERROR, MITOGEN_ERROR_CALL, "offset");
  call_fails (fixture->ctx, "fs.read", read_args (file, 0, -2),
              MITOGEN_ERROR, MITOGEN_ERROR_CALL, "length");
}

/* ---- write -------------------------------------------------------------- */

static GVariant *
write_args (const char *path,
            const char *contents,
            GVariant   *opts)
{
  GVariant *bytes = g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, contents,
                                               strlen (contents), 1);

  return g_variant_new ("(s@ay@a{sv})", path, bytes, opts != NULL ? opts : no_options ());
}

static void
test_write (Fixture       *fixture,
            gconstpointer  data)
{
  g_autofree char *file = in_dir (fixture, "file");
  g_autofree char *deep = in_dir (fixture, "a/b/c/file");
  g_autofree char *link = in_dir (fixture, "link");
  g_autofree char *linked = in_dir (fixture, "linked");
  g_autofree char *contents = NULL;
  g_autofree char *names = NULL;
  struct stat st;

  /* A new file: the default mode, no temporary file left. */
  {
    g_autoptr(GVariant) result = call_ok (fixture->ctx, "fs.write",
                                          write_args (file, "first", NULL));

    contents = get_file (file);
    g_assert_cmpstr (contents, ==, "first");
    g_assert_cmpint (stat (file, &st), ==, 0);
    g_assert_cmpuint (st.st_mode & 07777, ==, 0644 & ~current_umask ());
    g_assert_cmpuint (lookup_t (result, "size"), ==, 5);
    g_assert_cmpuint (lookup_t (result, "ino"), ==, st.st_ino);
    names = dir_names (fixture->dir);
    g_assert_cmpstr (names, ==, "file");
  }

  /* Replacing keeps the old file's mode; a new inode takes its place. */
  g_assert_cmpint (chmod (file, 0751), ==, 0);
  {
    g_autoptr(GVariant) result = call_ok (fixture->ctx, "fs.write",
                                          write_args (file, "second", NULL));
    struct stat now;

    g_assert_cmpuint (lookup_u (result, "mode"), ==, 0751);
    g_clear_pointer (&contents, g_free);
    contents = get_file (file);
    g_assert_cmpstr (contents, ==, "second");
    g_assert_cmpint (stat (file, &now), ==, 0);
    g_assert_cmpuint (now.st_mode & 07777, ==, 0751);
    g_assert_cmpuint (now.st_ino, !=, st.st_ino);
  }

  /* The mode and mtime asked for, exactly. */
  {
    g_autoptr(GVariant) result =
      call_ok (fixture->ctx, "fs.write",
               write_args (file, "third", options ("mode", g_variant_new_uint32 (0600),
                                                   "mtime", g_variant_new_int64 (G_GINT64_CONSTANT (1500000000654321)),
                                                   NULL)));

    g_assert_cmpint (stat (file, &st), ==, 0);
    g_assert_cmpuint (st.st_mode & 07777, ==, 0600);
    g_assert_cmpint (st.st_mtim.tv_sec, ==, 1500000000);
    g_assert_cmpint (st.st_mtim.tv_nsec, ==, 654321000);
    g_assert_cmpint (lookup_x (result, "mtime"), ==, G_GINT64_CONSTANT (1500000000654321));
  }

  /* Append: the old bytes, then the new ones. */
  g_variant_unref (call_ok (fixture->ctx, "fs.write",
                            write_args (file, "+more", options ("append", g_variant_new_boolean (TRUE), NULL))));
  g_clear_pointer (&contents, g_free);
  contents = get_file (file);
  g_assert_cmpstr (contents, ==, "third+more");

  /* Missing parents: refused, or made when asked. */
  call_fails (fixture->ctx, "fs.write", write_args (deep, "x", NULL),
              G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "a/b/c");
  g_variant_unref (call_ok (fixture->ctx, "fs.write",
                            write_args (deep, "deep", options ("create_parents", g_variant_new_boolean (TRUE), NULL))));
  g_clear_pointer (&contents, g_free);
  contents = get_file (deep);
  g_assert_cmpstr (contents, ==, "deep");

  /* A link at the path is replaced, not written through. */
  put_file (linked, "untouched");
  g_assert_cmpint (symlink ("linked", link), ==, 0);
  g_variant_unref (call_ok (fixture->ctx, "fs.write", write_args (link, "new", NULL)));
  g_assert_cmpint (lstat (link, &st), ==, 0);
  g_assert_true (S_ISREG (st.st_mode));
  g_clear_pointer (&contents, g_free);
  contents = get_file (linked);
  g_assert_cmpstr (contents, ==, "untouched");

  /* Owners, by id and by name, when this process may give them away. */
  if (geteuid () == 0)
    {
      g_variant_unref (call_ok (fixture->ctx, "fs.write",
                                write_args (file, "nobody's", options ("uid", g_variant_new_uint32 (65534),
                                                                       "gid", g_variant_new_uint32 (65534), NULL))));
      g_assert_cmpint (stat (file, &st), ==, 0);
      g_assert_cmpuint (st.st_uid, ==, 65534);
      g_assert_cmpuint (st.st_gid, ==, 65534);
      /* Rewritten by root, it stays nobody's. */
      g_variant_unref (call_ok (fixture->ctx, "fs.write", write_args (file, "still", NULL)));
      g_assert_cmpint (stat (file, &st), ==, 0);
      g_assert_cmpuint (st.st_uid, ==, 65534);
      g_variant_unref (call_ok (fixture->ctx, "fs.write",
                                write_args (file, "root's", options ("owner", g_variant_new_string ("root"),
                                                                     "group", g_variant_new_string ("root"), NULL))));
      g_assert_cmpint (stat (file, &st), ==, 0);
      g_assert_cmpuint (st.st_uid, ==, 0);
      g_assert_cmpuint (st.st_gid, ==, 0);
    }
  else
    g_test_message ("not root: owners other than this user are not tried");
}

/* Nothing a failed write did may show: the old contents are there and no
 * temporary file is left in the directory. */
static void
assert_untouched (Fixture    *fixture,
                  const char *file,
                  const char *old)
{
  g_autofree char *contents = get_file (file);
  g_autofree char *names = dir_names (fixture->dir);

  g_assert_cmpstr (contents, ==, old);
  g_assert_cmpstr (names, ==, "file");
}

static void
test_write_atomic (Fixture       *fixture,
                   gconstpointer  data)
{
  g_autofree char *file = in_dir (fixture, "file");
  g_autofree char *big = g_malloc (4 * MIB + 1);
  g_autoptr(MitogenContext) limited = NULL;
  struct rlimit saved, small;

  put_file (file, "old contents");

  /* Refused before any temporary file exists. */
  call_fails (fixture->ctx, "fs.write",
              write_args (file, "x", options ("owner", g_variant_new_string ("no-such-user-mitogen"), NULL)),
              G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "no-such-user-mitogen");
  assert_untouched (fixture, file, "old contents");
  call_fails (fixture->ctx, "fs.write", write_args (file, "x", options ("mode", g_variant_new_uint32 (010000), NULL)),
              MITOGEN_ERROR, MITOGEN_ERROR_CALL, "mode");
  assert_untouched (fixture, file, "old contents");
  call_fails (fixture->ctx, "fs.write", write_args (fixture->dir, "x", NULL),
              G_IO_ERROR, G_IO_ERROR_IS_DIRECTORY, fixture->dir);
  assert_untouched (fixture, file, "old contents");

  /* Failing half-way: an agent that may write files of 1 MiB at most
   * (RLIMIT_FSIZE; SIGXFSZ ignored, so write() says EFBIG) writes 4 MiB. */
  memset (big, 'n', 4 * MIB);
  big[4 * MIB] = '\0';
  g_assert_cmpint (getrlimit (RLIMIT_FSIZE, &saved), ==, 0);
  small = saved;
  small.rlim_cur = MIB;
  signal (SIGXFSZ, SIG_IGN);
  g_assert_cmpint (setrlimit (RLIMIT_FSIZE, &small), ==, 0);
  limited = mitogen_test_local (fixture->base.router);
  g_assert_cmpint (setrlimit (RLIMIT_FSIZE, &saved), ==, 0);
  signal (SIGXFSZ, SIG_DFL);
  call_fails (limited, "fs.write", write_args (file, big, NULL),
              G_IO_ERROR, g_io_error_from_errno (EFBIG), file);
  assert_untouched (fixture, file, "old contents");
  call_fails (limited, "fs.write", write_args (file, big, options ("append", g_variant_new_boolean (TRUE), NULL)),
              G_IO_ERROR, g_io_error_from_errno (EFBIG), file);
  assert_untouched (fixture, file, "old contents");

  /* A directory this process may not write to (root may write anywhere). */
  if (geteuid () != 0)
    {
      g_assert_cmpint (chmod (fixture->dir, 0500), ==, 0);
      call_fails (fixture->ctx, "fs.write", write_args (file, "x", NULL),
                  G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED, fixture->dir);
      g_assert_cmpint (chmod (fixture->dir, 0700), ==, 0);
      assert_untouched (fixture, file, "old contents");
    }
}

/* ---- list and walk ------------------------------------------------------ */

/* "name:type name:type ..." of an a(sa{sv}). */
static char *
describe_entries (GVariant *entries)
{
  g_autoptr(GString) out = g_string_new (NULL);
  GVariantIter iter;
  const char *name;
  GVariant *info;

  g_variant_iter_init (&iter, entries);
  while (g_variant_iter_loop (&iter, "(&s@a{sv})", &name, &info))
    g_string_append_printf (out, "%s%s:%s", out->len > 0 ? " " : "", name, lookup_s (info, "type"));
  return g_string_free (g_steal_pointer (&out), FALSE);
}

static void
make_dir (Fixture    *fixture,
          const char *name)
{
  g_autofree char *path = in_dir (fixture, name);

  g_assert_cmpint (g_mkdir_with_parents (path, 0755), ==, 0);
}

static void
make_file (Fixture    *fixture,
           const char *name,
           const char *contents)
{
  g_autofree char *path = in_dir (fixture, name);
  g_autofree char *parent = g_path_get_dirname (path);

  g_assert_cmpint (g_mkdir_with_parents (parent, 0755), ==, 0);
  put_file (path, contents);
}

static void
make_link (Fixture    *fixture,
           const char *target,
           const char *name)
{
  g_autofree char *path = in_dir (fixture, name);

  g_assert_cmpint (symlink (target, path), ==, 0);
}

static void
test_list (Fixture       *fixture,
           gconstpointer  data)
{
  g_autofree char *file = in_dir (fixture, "b");
  g_autofree char *missing = in_dir (fixture, "missing");
  g_autoptr(GVariant) entries = NULL;
  g_autoptr(GVariant) info = NULL;
  g_autofree char *described = NULL;
  const char *name;

  make_file (fixture, "b", "four");
  make_dir (fixture, "a");
  make_link (fixture, "b", "c");
  make_file (fixture, "B", "");
  entries = call_ok (fixture->ctx, "fs.list", g_variant_new ("(s)", fixture->dir));
  described = describe_entries (entries);
  g_assert_cmpstr (described, ==, "B:file a:directory b:file c:symlink");
  g_variant_get_child (entries, 2, "(&s@a{sv})", &name, &info);
  g_assert_cmpuint (lookup_t (info, "size"), ==, 4);
  g_assert_cmpuint (lookup_u (info, "mode"), ==, 0644 & ~current_umask ());
  g_assert_cmpint (lookup_x (info, "mtime"), >, 0);
  g_clear_pointer (&info, g_variant_unref);
  g_variant_get_child (entries, 3, "(&s@a{sv})", &name, &info);
  g_assert_cmpstr (lookup_s (info, "target"), ==, "b");

  call_fails (fixture->ctx, "fs.list", g_variant_new ("(s)", missing),
              G_IO_ERROR, G_IO_ERROR_NOT_FOUND, missing);
  /* A name GVariant cannot carry as a string is refused, not mangled. */
  make_file (fixture, "bad-\xff-name", "");
  call_fails (fixture->ctx, "fs.list", g_variant_new ("(s)", fixture->dir),
              G_IO_ERROR, G_IO_ERROR_INVALID_FILENAME, "UTF-8");
  call_fails (fixture->ctx, "fs.walk", g_variant_new ("(s@a{sv})", fixture->dir, no_options ()),
              G_IO_ERROR, G_IO_ERROR_INVALID_FILENAME, "UTF-8");
  call_fails (fixture->ctx, "fs.list", g_variant_new ("(s)", file),
              G_IO_ERROR, G_IO_ERROR_NOT_DIRECTORY, file);
}

static void
test_walk (Fixture       *fixture,
           gconstpointer  data)
{
  g_autofree char *tree = in_dir (fixture, "tree");
  g_autofree char *file = in_dir (fixture, "outside/f");
  g_autoptr(GVariant) plain = NULL, followed = NULL;
  g_autofree char *plain_s = NULL, *followed_s = NULL;

  make_dir (fixture, "tree/a/y");
  make_file (fixture, "tree/a/x", "x");
  make_file (fixture, "tree/a/y/z", "z");
  make_file (fixture, "tree/b", "b");
  make_link (fixture, "../..", "tree/a/y/up");        /* back to the root */
  make_link (fixture, "../outside", "tree/l");        /* out of the tree */
  make_link (fixture, "nowhere", "tree/dangling");
  make_file (fixture, "outside/f", "f");

  plain = call_ok (fixture->ctx, "fs.walk", g_variant_new ("(s@a{sv})", tree, no_options ()));
  plain_s = describe_entries (plain);
  g_assert_cmpstr (plain_s, ==,
                   "a:directory a/x:file a/y:directory a/y/up:symlink a/y/z:file "
                   "b:file dangling:symlink l:symlink");

  /* Following links: the one out of the tree is entered; the one back to
   * the root is listed as the directory it is, and not entered again. */
  followed = call_ok (fixture->ctx, "fs.walk",
                      g_variant_new ("(s@a{sv})", tree, options ("follow_symlinks", g_variant_new_boolean (TRUE), NULL)));
  followed_s = describe_entries (followed);
  g_assert_cmpstr (followed_s, ==,
                   "a:directory a/x:file a/y:directory a/y/up:directory a/y/z:file "
                   "b:file dangling:symlink l:directory l/f:file");

  call_fails (fixture->ctx, "fs.walk",
              g_variant_new ("(s@a{sv})", tree, options ("max_entries", g_variant_new_uint64 (3), NULL)),
              G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE, "max_entries");
  call_fails (fixture->ctx, "fs.walk",
              g_variant_new ("(s@a{sv})", tree, options ("follow", g_variant_new_boolean (TRUE), NULL)),
              MITOGEN_ERROR, MITOGEN_ERROR_CALL, "follow_symlinks");
  call_fails (fixture->ctx, "fs.walk",
              g_variant_new ("(s@a{sv})", tree, options ("max_entries", g_variant_new_int32 (3), NULL)),
              MITOGEN_ERROR, MITOGEN_ERROR_CALL, "max_entries");
  call_fails (fixture->ctx, "fs.walk", g_variant_new ("(s@a{sv})", file, no_options ()),
              G_IO_ERROR, G_IO_ERROR_NOT_DIRECTORY, file);
}

/* ---- mkdir and remove --------------------------------------------------- */

static void
test_mkdir (Fixture       *fixture,
            gconstpointer  data)
{
  g_autofree char *deep = in_dir (fixture, "a/b/c");
  g_autofree char *open = in_dir (fixture, "open");
  g_autofree char *file = in_dir (fixture, "file");
  g_autofree char *under_file = in_dir (fixture, "file/d");
  struct stat st;

  call_fails (fixture->ctx, "fs.mkdir", g_variant_new ("(s@a{sv})", deep, no_options ()),
              G_IO_ERROR, G_IO_ERROR_NOT_FOUND, deep);
  g_variant_unref (call_ok (fixture->ctx, "fs.mkdir",
                            g_variant_new ("(s@a{sv})", deep, options ("parents", g_variant_new_boolean (TRUE), NULL))));
  g_assert_cmpint (stat (deep, &st), ==, 0);
  g_assert_true (S_ISDIR (st.st_mode));
  /* mkdir -p of what exists is done; plain mkdir is EXISTS. */
  g_variant_unref (call_ok (fixture->ctx, "fs.mkdir",
                            g_variant_new ("(s@a{sv})", deep, options ("parents", g_variant_new_boolean (TRUE), NULL))));
  call_fails (fixture->ctx, "fs.mkdir", g_variant_new ("(s@a{sv})", deep, no_options ()),
              G_IO_ERROR, G_IO_ERROR_EXISTS, deep);

  /* The mode asked for, whatever the umask. */
  g_variant_unref (call_ok (fixture->ctx, "fs.mkdir",
                            g_variant_new ("(s@a{sv})", open, options ("mode", g_variant_new_uint32 (0777), NULL))));
  g_assert_cmpint (stat (open, &st), ==, 0);
  g_assert_cmpuint (st.st_mode & 07777, ==, 0777);

  put_file (file, "");
  call_fails (fixture->ctx, "fs.mkdir", g_variant_new ("(s@a{sv})", file, no_options ()),
              G_IO_ERROR, G_IO_ERROR_EXISTS, file);
  call_fails (fixture->ctx, "fs.mkdir",
              g_variant_new ("(s@a{sv})", under_file, options ("parents", g_variant_new_boolean (TRUE), NULL)),
              G_IO_ERROR, G_IO_ERROR_NOT_DIRECTORY, under_file);
}

static GVariant *
remove_args (const char *path,
             gboolean    recursive)
{
  return g_variant_new ("(s@a{sv})", path,
                        recursive ? options ("recursive", g_variant_new_boolean (TRUE), NULL)
                                  : no_options ());
}

static void
test_remove (Fixture       *fixture,
             gconstpointer  data)
{
  g_autofree char *file = in_dir (fixture, "file");
  g_autofree char *empty = in_dir (fixture, "empty");
  g_autofree char *tree = in_dir (fixture, "tree");
  g_autofree char *outside_file = in_dir (fixture, "outside/keep");
  g_autofree char *top_link = in_dir (fixture, "top-link");
  g_autofree char *top_link_slash = g_strconcat (top_link, "/", NULL);
  g_autofree char *names = NULL;

  make_file (fixture, "file", "x");
  make_dir (fixture, "empty");
  make_dir (fixture, "tree/a/b");
  make_file (fixture, "tree/a/b/c", "c");
  make_file (fixture, "tree/d", "d");
  make_file (fixture, "outside/keep", "keep");
  make_link (fixture, "../../outside", "tree/a/out");   /* to a directory outside */
  make_link (fixture, "../outside/keep", "tree/keep");  /* to a file outside */
  make_link (fixture, "outside", "top-link");

  g_variant_unref (call_ok (fixture->ctx, "fs.remove", remove_args (file, FALSE)));
  g_assert_false (g_file_test (file, G_FILE_TEST_EXISTS));
  call_fails (fixture->ctx, "fs.remove", remove_args (file, FALSE),
              G_IO_ERROR, G_IO_ERROR_NOT_FOUND, file);
  g_variant_unref (call_ok (fixture->ctx, "fs.remove",
                            g_variant_new ("(s@a{sv})", file, options ("missing_ok", g_variant_new_boolean (TRUE), NULL))));
  g_variant_unref (call_ok (fixture->ctx, "fs.remove", remove_args (empty, FALSE)));
  g_assert_false (g_file_test (empty, G_FILE_TEST_EXISTS));
  call_fails (fixture->ctx, "fs.remove", remove_args (tree, FALSE),
              G_IO_ERROR, G_IO_ERROR_NOT_EMPTY, tree);

  /* rm -r: the tree goes, the links in it go, what they point to stays. */
  g_variant_unref (call_ok (fixture->ctx, "fs.remove", remove_args (tree, TRUE)));
  g_assert_false (g_file_test (tree, G_FILE_TEST_EXISTS));
  g_assert_true (g_file_test (outside_file, G_FILE_TEST_IS_REGULAR));

  /* A link at the top is removed as a link, even recursively, even
   * named with a trailing slash. */
  g_variant_unref (call_ok (fixture->ctx, "fs.remove", remove_args (top_link_slash, TRUE)));
  g_assert_false (g_file_test (top_link, G_FILE_TEST_EXISTS));
  g_assert_true (g_file_test (outside_file, G_FILE_TEST_IS_REGULAR));
  names = dir_names (fixture->dir);
  g_assert_cmpstr (names, ==, "outside");

  call_fails (fixture->ctx, "fs.remove", remove_args ("/", TRUE),
              G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED, "“/”");
}

/* ---- names, modes, owners, sha256 -------------------------------------- */

static void
test_rename_symlink (Fixture       *fixture,
                     gconstpointer  data)
{
  g_autofree char *from = in_dir (fixture, "from");
  g_autofree char *to = in_dir (fixture, "to");
  g_autofree char *link = in_dir (fixture, "link");
  g_autofree char *contents = NULL;
  g_autoptr(GVariant) target = NULL;

  put_file (from, "moved");
  g_variant_unref (call_ok (fixture->ctx, "fs.rename", g_variant_new ("(ss)", from, to)));
  contents = get_file (to);
  g_assert_cmpstr (contents, ==, "moved");
  g_assert_false (g_file_test (from, G_FILE_TEST_EXISTS));
  call_fails (fixture->ctx, "fs.rename", g_variant_new ("(ss)", from, to),
              G_IO_ERROR, G_IO_ERROR_NOT_FOUND, from);

  g_variant_unref (call_ok (fixture->ctx, "fs.symlink", g_variant_new ("(ss)", "to", link)));
  target = call_ok (fixture->ctx, "fs.readlink", g_variant_new ("(s)", link));
  g_assert_cmpstr (g_variant_get_string (target, NULL), ==, "to");
  call_fails (fixture->ctx, "fs.symlink", g_variant_new ("(ss)", "elsewhere", link),
              G_IO_ERROR, G_IO_ERROR_EXISTS, link);
}

static GVariant *
chown_args (const char *path,
            GVariant   *opts)
{
  return g_variant_new ("(s@a{sv})", path, opts);
}

static void
test_chmod_chown (Fixture       *fixture,
                  gconstpointer  data)
{
  g_autofree char *file = in_dir (fixture, "file");
  g_autofree char *missing = in_dir (fixture, "missing");
  struct stat st;

  put_file (file, "");
  g_variant_unref (call_ok (fixture->ctx, "fs.chmod", g_variant_new ("(su)", file, 04705)));
  g_assert_cmpint (stat (file, &st), ==, 0);
  g_assert_cmpuint (st.st_mode & 07777, ==, 04705);
  call_fails (fixture->ctx, "fs.chmod", g_variant_new ("(su)", file, 010000),
              MITOGEN_ERROR, MITOGEN_ERROR_CALL, "mode");
  call_fails (fixture->ctx, "fs.chmod", g_variant_new ("(su)", missing, 0644),
              G_IO_ERROR, G_IO_ERROR_NOT_FOUND, missing);

  call_fails (fixture->ctx, "fs.chown",
              chown_args (file, options ("owner", g_variant_new_string ("no-such-user-mitogen"), NULL)),
              G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "no-such-user-mitogen");
  call_fails (fixture->ctx, "fs.chown",
              chown_args (file, options ("uid", g_variant_new_uint32 (0), "owner", g_variant_new_string ("root"), NULL)),
              MITOGEN_ERROR, MITOGEN_ERROR_CALL, "not both");
  call_fails (fixture->ctx, "fs.chown", chown_args (missing, options ("uid", g_variant_new_uint32 (getuid ()), NULL)),
              G_IO_ERROR, G_IO_ERROR_NOT_FOUND, missing);
  if (geteuid () != 0)
    {
      call_fails (fixture->ctx, "fs.chown", chown_args (file, options ("uid", g_variant_new_uint32 (0), NULL)),
                  G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED, file);
      return;
    }
  g_variant_unref (call_ok (fixture->ctx, "fs.chown",
                            chown_args (file, options ("uid", g_variant_new_uint32 (65534),
                                                       "gid", g_variant_new_uint32 (65534), NULL))));
  g_assert_cmpint (stat (file, &st), ==, 0);
  g_assert_cmpuint (st.st_uid, ==, 65534);
  g_assert_cmpuint (st.st_gid, ==, 65534);
  /* Only the group, by name: the owner stays. */
  g_variant_unref (call_ok (fixture->ctx, "fs.chown",
                            chown_args (file, options ("group", g_variant_new_string ("root"), NULL))));
  g_assert_cmpint (stat (file, &st), ==, 0);
  g_assert_cmpuint (st.st_uid, ==, 65534);
  g_assert_cmpuint (st.st_gid, ==, 0);
}

static void
test_sha256 (Fixture       *fixture,
             gconstpointer  data)
{
  g_autofree char *file = in_dir (fixture, "file");
  g_autofree char *missing = in_dir (fixture, "missing");
  gsize n = 3 * MIB + 17;
  g_autofree char *contents = g_malloc (n);
  g_autofree char *expected = NULL;
  g_autoptr(GVariant) sum = NULL;
  g_autoptr(GError) error = NULL;

  for (gsize i = 0; i < n; i++)
    contents[i] = i % 251;
  g_assert_true (g_file_set_contents (file, contents, n, &error));
  expected = g_compute_checksum_for_data (G_CHECKSUM_SHA256, (const guchar *) contents, n);
  sum = call_ok (fixture->ctx, "fs.sha256", g_variant_new ("(s)", file));
  g_assert_cmpstr (g_variant_get_string (sum, NULL), ==, expected);
  call_fails (fixture->ctx, "fs.sha256", g_variant_new ("(s)", missing),
              G_IO_ERROR, G_IO_ERROR_NOT_FOUND, missing);
  call_fails (fixture->ctx, "fs.sha256", g_variant_new ("(s)", fixture->dir),
              G_IO_ERROR, G_IO_ERROR_IS_DIRECTORY, fixture->dir);
}

/* ---- arguments ---------------------------------------------------------- */

static void
test_bad_arguments (Fixture       *fixture,
                    gconstpointer  data)
{
  struct {
    const char *function;
    GVariant   *args;
    const char *mention;
  } cases[] = {
    { "fs.stat", NULL, "(s)" },
    { "fs.stat", g_variant_new ("(i)", 1), "(s)" },
    { "fs.lstat", g_variant_new ("(ss)", "a", "b"), "(s)" },
    { "fs.read", g_variant_new ("(s)", "/"), "(sxx)" },
    { "fs.read", g_variant_new ("(stt)", "/", (guint64) 0, (guint64) 1), "(sxx)" },
    { "fs.write", g_variant_new ("(ss)", "/x", "data"), "(saya{sv})" },
    { "fs.write", write_args ("/x", "", options ("mode", g_variant_new_string ("0644"), NULL)), "mode" },
    { "fs.write", write_args ("/x", "", options ("fsync", g_variant_new_boolean (FALSE), NULL)), "fsync" },
    { "fs.list", g_variant_new ("(b)", TRUE), "(s)" },
    { "fs.walk", g_variant_new ("(s)", "/"), "(sa{sv})" },
    { "fs.mkdir", g_variant_new ("(s)", "/x"), "(sa{sv})" },
    { "fs.mkdir", g_variant_new ("(s@a{sv})", "/x", options ("mode", g_variant_new_uint32 (077777), NULL)), "mode" },
    { "fs.remove", g_variant_new ("(s)", "/x"), "(sa{sv})" },
    { "fs.remove", g_variant_new ("(s@a{sv})", "/x", options ("recursive", g_variant_new_int32 (1), NULL)), "recursive" },
    { "fs.rename", g_variant_new ("(s)", "/x"), "(ss)" },
    { "fs.symlink", g_variant_new ("(s)", "/x"), "(ss)" },
    { "fs.readlink", NULL, "(s)" },
    { "fs.chmod", g_variant_new ("(si)", "/x", 0644), "(su)" },
    { "fs.chown", g_variant_new ("(suu)", "/x", 0, 0), "(sa{sv})" },
    { "fs.chown", g_variant_new ("(s@a{sv})", "/x", options ("user", g_variant_new_string ("root"), NULL)), "user" },
    { "fs.sha256", g_variant_new ("(ay)", NULL), "(s)" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    call_fails (fixture->ctx, cases[i].function, cases[i].args,
                MITOGEN_ERROR, MITOGEN_ERROR_CALL, cases[i].mention);
}

/* ---- through another context -------------------------------------------- */

static void
test_via (Fixture       *fixture,
          gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MitogenContext) inner =
    mitogen_router_connect_context (fixture->base.router, "local", NULL, fixture->ctx, NULL, &error);
  g_autofree char *file = in_dir (fixture, "via");
  g_autofree char *missing = in_dir (fixture, "missing");
  g_autoptr(GVariant) st = NULL, back = NULL;
  const guint8 *got;

  g_assert_no_error (error);
  g_variant_unref (call_ok (inner, "fs.write", write_args (file, "two hops", options ("mode", g_variant_new_uint32 (0640), NULL))));
  st = call_ok (inner, "fs.stat", g_variant_new ("(s)", file));
  g_assert_cmpuint (lookup_u (st, "mode"), ==, 0640);
  back = call_ok (inner, "fs.read", read_args (file, 4, -1));
  g_assert_cmpuint (bytes_of (back, &got), ==, 4);
  g_assert_cmpmem (got, 4, "hops", 4);
  /* The error keeps its domain and code across both hops. */
  call_fails (inner, "fs.stat", g_variant_new ("(s)", missing),
              G_IO_ERROR, G_IO_ERROR_NOT_FOUND, missing);
}

int
main (int    argc,
      char **argv)
{
  mitogen_test_init (&argc, &argv);

  TEST ("/fs/stat", test_stat);
  TEST ("/fs/read", test_read);
  TEST ("/fs/write", test_write);
  TEST ("/fs/write-atomic", test_write_atomic);
  TEST ("/fs/list", test_list);
  TEST ("/fs/walk", test_walk);
  TEST ("/fs/mkdir", test_mkdir);
  TEST ("/fs/remove", test_remove);
  TEST ("/fs/rename-symlink", test_rename_symlink);
  TEST ("/fs/chmod-chown", test_chmod_chown);
  TEST ("/fs/sha256", test_sha256);
  TEST ("/fs/bad-arguments", test_bad_arguments);
  TEST ("/fs/via", test_via);
  return g_test_run ();
}
