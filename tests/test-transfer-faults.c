/* test-transfer-faults.c: push and pull when things go wrong, with real
 * agents, real files and a real sshd: a full destination filesystem, a
 * stopped agent at the end of a via chain, an agent killed mid-transfer,
 * and transfers through an ssh context.
 *
 * The program runs in a mount namespace of its own (when root), where a
 * 1 MiB tmpfs stands for the full disk; the agents it starts inherit it.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "mitogen-test-sshd.h"
#include "mitogen-test-util.h"

typedef MitogenTestFixture Fixture;

#define TEST(path, func) \
  g_test_add ((path), Fixture, NULL, mitogen_test_fixture_setup, (func), \
              mitogen_test_fixture_teardown)

#define MIB (1024u * 1024)

/* How much an RSS may grow while a transfer is stalled: a few windows
 * (4 MiB each). ASan keeps freed blocks in quarantine, and each chunk is
 * copied on its way to the stream. */
#if defined(__SANITIZE_ADDRESS__)
# define STALLED_GROWTH_KIB (64u * 1024)
#else
# define STALLED_GROWTH_KIB (32u * 1024)
#endif

static char *small_fs;          /* a 1 MiB tmpfs, or NULL */
static char *small_fs_skip;     /* why there is none */
static MitogenTestSshd *sshd;   /* or NULL */
static char *sshd_skip;         /* why there is none */

/* ---- helpers ---------------------------------------------------------- */

/* Empties @dir, keeping it. */
static void
empty_dir (const char *dir)
{
  g_autofree char *cmd = g_strdup_printf ("find '%s' -mindepth 1 -delete", dir);

  g_assert_cmpint (system (cmd), ==, 0);
}

static void
assert_contents (const char *path,
                 const char *expected)
{
  g_autofree char *contents = NULL;

  g_assert_true (g_file_get_contents (path, &contents, NULL, NULL));
  g_assert_cmpstr (contents, ==, expected);
}

static void
on_done (GObject      *source,
         GAsyncResult *result,
         gpointer      data)
{
  *(GAsyncResult **) data = g_object_ref (result);
}

static gboolean
wake (gpointer data)
{
  return G_SOURCE_CONTINUE;
}

/* Runs the main context until *@slot is set; fails the test after 120 s
 * rather than hang. */
static GAsyncResult *
wait_result (GAsyncResult **slot)
{
  gint64 deadline = g_get_monotonic_time () + 120 * G_USEC_PER_SEC;
  guint ticker = g_timeout_add (100, wake, NULL);

  while (*slot == NULL && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, TRUE);
  g_source_remove (ticker);
  g_assert_nonnull (*slot);
  return *slot;
}

/* Runs the main context for @msec. */
static void
spin_for (guint msec)
{
  gint64 until = g_get_monotonic_time () + (gint64) msec * 1000;
  guint ticker = g_timeout_add (20, wake, NULL);

  while (g_get_monotonic_time () < until)
    g_main_context_iteration (NULL, TRUE);
  g_source_remove (ticker);
}

static gsize
rss_kib_of (int pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/status", pid);
  g_autofree char *status = NULL;
  const char *line;

  g_assert_true (g_file_get_contents (path, &status, NULL, NULL));
  line = strstr (status, "VmRSS:");
  g_assert_nonnull (line);
  return g_ascii_strtoull (line + strlen ("VmRSS:"), NULL, 10);
}

/* Pushes @size bytes made in @src_dir to @ctx, into @dest_dir, and pulls
 * them back into @dest_dir, each copy checked and removed after. */
static void
round_trip (MitogenContext *ctx,
            const char     *src_dir,
            const char     *dest_dir,
            gsize           size)
{
  g_autofree char *src = g_build_filename (src_dir, "rt-src", NULL);
  g_autofree char *copy = g_build_filename (dest_dir, "rt-copy", NULL);
  g_autoptr(GError) error = NULL;

  mitogen_test_write_pattern (src, size, 11);
  g_assert_true (mitogen_context_push (ctx, src, copy, 0, NULL, NULL, NULL, &error));
  g_assert_no_error (error);
  mitogen_test_assert_same_file (src, copy);
  g_assert_cmpint (g_unlink (copy), ==, 0);
  g_assert_true (mitogen_context_pull (ctx, src, copy, 0, NULL, NULL, NULL, &error));
  g_assert_no_error (error);
  mitogen_test_assert_same_file (src, copy);
  g_assert_cmpint (g_unlink (copy), ==, 0);
  g_assert_cmpint (g_unlink (src), ==, 0);
}

/* ---- a full destination ----------------------------------------------- */

/* Puts this process, before it has threads, in a mount namespace of its
 * own with a 1 MiB tmpfs; the agents it starts inherit the namespace. */
static void
mount_small_fs (void)
{
  g_autoptr(GError) error = NULL;

  if (getuid () != 0)
    {
      small_fs_skip = g_strdup ("a tmpfs in a private mount namespace needs root");
      return;
    }
  if (unshare (CLONE_NEWNS) < 0 || mount ("none", "/", "none", MS_REC | MS_PRIVATE, NULL) < 0)
    {
      small_fs_skip = g_strdup_printf ("no private mount namespace here: %s", g_strerror (errno));
      return;
    }
  small_fs = g_dir_make_tmp ("mitogen-full-XXXXXX", &error);
  g_assert_no_error (error);
  if (mount ("mitogen-test", small_fs, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=0755") < 0)
    {
      small_fs_skip = g_strdup_printf ("cannot mount a tmpfs: %s", g_strerror (errno));
      g_rmdir (small_fs);
      g_clear_pointer (&small_fs, g_free);
    }
}

static void
unmount_small_fs (void)
{
  if (small_fs == NULL)
    return;
  g_assert_cmpint (umount (small_fs), ==, 0);
  g_rmdir (small_fs);
  g_clear_pointer (&small_fs, g_free);
}

#define SKIP_WITHOUT_SMALL_FS() \
  G_STMT_START { if (small_fs == NULL) { g_test_skip (small_fs_skip); return; } } G_STMT_END

static void
assert_no_space (GError *error)
{
  g_assert_nonnull (error);
  g_test_message ("%s", error->message);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NO_SPACE);
}

/* A file bigger than the filesystem, pushed and pulled onto it, fails with
 * NO_SPACE and leaves nothing: no temporary file, no part of the file, the
 * older file whole, and the space free again for the next transfer. */
static void
test_disk_full_file (Fixture *fixture, gconstpointer data)
{
  g_autoptr(MitogenContext) ctx = NULL;
  g_autofree char *dir = NULL;
  g_autofree char *src = NULL;
  g_autofree char *dest = NULL;
  g_autoptr(GError) error = NULL;

  SKIP_WITHOUT_SMALL_FS ();
  ctx = mitogen_test_local (fixture->router);
  dir = mitogen_test_make_dir ("mitogen-faults");
  src = g_build_filename (dir, "src", NULL);
  dest = g_build_filename (small_fs, "dest", NULL);
  mitogen_test_write_pattern (src, 4 * MIB + 17, 1);
  g_assert_true (g_file_set_contents (dest, "old", -1, NULL));

  g_assert_false (mitogen_context_push (ctx, src, dest, 0, NULL, NULL, NULL, &error));
  assert_no_space (error);
  assert_contents (dest, "old");
  mitogen_test_assert_no_temp (small_fs);
  g_clear_error (&error);

  g_assert_false (mitogen_context_pull (ctx, src, dest, 0, NULL, NULL, NULL, &error));
  assert_no_space (error);
  /* It names the file asked for, not a temporary file that is gone. */
  g_assert_nonnull (strstr (error->message, dest));
  g_assert_null (strstr (error->message, ".mitogen-"));
  assert_contents (dest, "old");
  mitogen_test_assert_no_temp (small_fs);

  /* The context answers, and the space of the failed files is free: most
   * of the filesystem fits, both ways. */
  g_variant_unref (mitogen_test_call_ok (ctx, "core.getpid", NULL));
  g_unlink (dest);
  round_trip (ctx, dir, small_fs, 700 * 1024);
  mitogen_test_remove_tree (dir);
  empty_dir (small_fs);
}

/* A tree of small files, which travel many to a call, fails the same way
 * when the filesystem fills up in the middle of a batch: the files before
 * are written, the one that did not fit leaves no temporary file, those
 * after are left as they were. */
static void
test_disk_full_tree (Fixture *fixture, gconstpointer data)
{
  g_autoptr(MitogenContext) ctx = NULL;
  g_autofree char *dir = NULL;
  g_autofree char *tree = NULL;
  g_autofree char *pushed = NULL;
  g_autofree char *pulled = NULL;
  g_autofree char *old = NULL;
  g_autoptr(GError) error = NULL;

  SKIP_WITHOUT_SMALL_FS ();
  ctx = mitogen_test_local (fixture->router);
  dir = mitogen_test_make_dir ("mitogen-faults");
  tree = g_build_filename (dir, "tree", NULL);
  pushed = g_build_filename (small_fs, "pushed", NULL);
  pulled = g_build_filename (small_fs, "pulled", NULL);
  old = g_build_filename (pushed, "f23", NULL);   /* past where the space ends */
  g_assert_cmpint (g_mkdir (tree, 0755), ==, 0);
  for (guint i = 0; i < 24; i++)
    {
      g_autofree char *name = g_strdup_printf ("%s/f%02u", tree, i);

      mitogen_test_write_pattern (name, 60 * 1024, i);
    }
  g_assert_cmpint (g_mkdir (pushed, 0755), ==, 0);
  g_assert_true (g_file_set_contents (old, "old", -1, NULL));

  g_assert_false (mitogen_context_push (ctx, tree, pushed, MITOGEN_TRANSFER_RECURSIVE,
                                        NULL, NULL, NULL, &error));
  assert_no_space (error);
  assert_contents (old, "old");
  mitogen_test_assert_no_temp (small_fs);
  g_clear_error (&error);
  empty_dir (small_fs);

  g_assert_false (mitogen_context_pull (ctx, tree, pulled, MITOGEN_TRANSFER_RECURSIVE,
                                        NULL, NULL, NULL, &error));
  assert_no_space (error);
  mitogen_test_assert_no_temp (small_fs);
  g_variant_unref (mitogen_test_call_ok (ctx, "core.getpid", NULL));
  mitogen_test_remove_tree (dir);
  empty_dir (small_fs);
}

/* ---- a stopped agent at the end of a via chain ------------------------ */

typedef struct
{
  guint64 done;
  int     stop_pid;     /* SIGSTOPped at the first progress, if not 0 */
  guint64 done_at_stop;
} Progress;

static void
on_progress (guint64  done,
             guint64  total,
             gpointer data)
{
  Progress *p = data;

  if (p->stop_pid != 0 && p->done == 0)
    {
      g_assert_cmpint (kill (p->stop_pid, SIGSTOP), ==, 0);
      p->done_at_stop = done;
    }
  p->done = done;
}

typedef struct
{
  int   pid;
  gsize start_kib;  /* VmRSS before the transfer */
  gsize peak_kib;   /* the most VmRSS seen while the last agent was stopped */
} Rss;

static void
rss_sample (Rss *rss)
{
  rss->peak_kib = MAX (rss->peak_kib, rss_kib_of (rss->pid));
}

/* While the last agent of master → a → b is stopped, a push to b stalls
 * and neither the master nor a, in the middle, holds more than a few
 * windows of it: the master stops reading the file instead of queueing it,
 * and a holds what is in flight only. Once b goes on, the file arrives
 * whole. */
static void
test_slow_reader_via (Fixture *fixture, gconstpointer data)
{
  g_autoptr(MitogenContext) a = mitogen_test_local (fixture->router);
  g_autoptr(MitogenContext) b = mitogen_test_connect_ok (fixture->router, "local", NULL, a);
  g_autofree char *dir = mitogen_test_make_dir ("mitogen-faults");
  g_autofree char *src = g_build_filename (dir, "src", NULL);
  g_autofree char *dest = g_build_filename (dir, "dest", NULL);
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  gsize size = 64 * MIB;
  Rss master = { getpid (), 0, 0 }, middle = { mitogen_test_context_pid (a), 0, 0 };
  Progress p = { .stop_pid = mitogen_test_context_pid (b) };

  mitogen_test_write_pattern (src, size, 7);
  g_variant_unref (mitogen_test_call_ok (b, "core.getpid", NULL));
  master.start_kib = rss_kib_of (master.pid);
  middle.start_kib = rss_kib_of (middle.pid);

  /* b stops at the first reply, with the window full of chunks. */
  mitogen_context_push_async (b, src, dest, 0, on_progress, &p, NULL, NULL, on_done, &result);
  while (p.done == 0 && result == NULL)
    g_main_context_iteration (NULL, TRUE);
  g_assert_null (result);

  /* Long enough for the whole file to reach a, were nothing holding it. */
  for (guint i = 0; i < 40; i++)
    {
      spin_for (50);
      rss_sample (&master);
      rss_sample (&middle);
    }
  g_assert_cmpint (kill (p.stop_pid, SIGCONT), ==, 0);
  g_test_message ("RSS while the last agent was stopped: master %zu -> %zu KiB, middle agent "
                  "%zu -> %zu KiB; %" G_GUINT64_FORMAT " KiB done at the stop, %"
                  G_GUINT64_FORMAT " KiB after", master.start_kib, master.peak_kib,
                  middle.start_kib, middle.peak_kib, p.done_at_stop / 1024, p.done / 1024);
  g_assert_null (result);
  g_assert_cmpuint (p.done, <, p.done_at_stop + 16 * MIB);
  g_assert_cmpuint (master.peak_kib, <, master.start_kib + STALLED_GROWTH_KIB);
  g_assert_cmpuint (middle.peak_kib, <, middle.start_kib + STALLED_GROWTH_KIB);

  g_assert_true (mitogen_context_push_finish (b, wait_result (&result), &error));
  g_assert_no_error (error);
  g_assert_cmpuint (p.done, ==, size);
  mitogen_test_assert_same_file (src, dest);
  mitogen_test_remove_tree (dir);
}

/* ---- an agent killed mid-transfer ------------------------------------- */

typedef struct
{
  int      pid;
  gboolean killed;
} Killer;

static void
kill_on_progress (guint64  done,
                  guint64  total,
                  gpointer data)
{
  Killer *k = data;

  if (!k->killed && done >= 2 * MIB)
    {
      g_assert_cmpint (kill (k->pid, SIGKILL), ==, 0);
      k->killed = TRUE;
    }
}

/* Starts a push (@push) or pull of @src to @dest with @ctx, kills the
 * agent @victim once 2 MiB are through and returns the error, which says
 * that @ctx was lost. */
static GError *
transfer_killed_midway (MitogenContext *ctx,
                        int             victim,
                        gboolean        push,
                        const char     *src,
                        const char     *dest)
{
  g_autoptr(GAsyncResult) result = NULL;
  GError *error = NULL;
  Killer k = { victim, FALSE };
  gboolean ok;

  if (push)
    mitogen_context_push_async (ctx, src, dest, 0, kill_on_progress, &k, NULL, NULL,
                                on_done, &result);
  else
    mitogen_context_pull_async (ctx, src, dest, 0, kill_on_progress, &k, NULL, NULL,
                                on_done, &result);
  if (push)
    ok = mitogen_context_push_finish (ctx, wait_result (&result), &error);
  else
    ok = mitogen_context_pull_finish (ctx, wait_result (&result), &error);
  g_assert_true (k.killed);
  g_assert_false (ok);
  g_assert_nonnull (error);
  g_test_message ("%s: %s", push ? "push" : "pull", error->message);
  g_assert_error (error, MITOGEN_ERROR, MITOGEN_ERROR_CHANNEL);
  g_assert_nonnull (strstr (error->message, "disconnected"));
  g_assert_true (mitogen_test_wait_disconnected (ctx, 30000));
  return error;
}

typedef struct
{
  char *dir;
  char *src;        /* 64 MiB */
  char *pushed;     /* a directory for pushes */
  char *pulled;     /* a directory for pulls */
  char *push_dest;  /* in @pushed, "old" at first */
  char *pull_dest;  /* in @pulled, "old" at first */
} KillFiles;

static void
kill_files_init (KillFiles *f)
{
  f->dir = mitogen_test_make_dir ("mitogen-faults");
  f->src = g_build_filename (f->dir, "src", NULL);
  f->pushed = g_build_filename (f->dir, "pushed", NULL);
  f->pulled = g_build_filename (f->dir, "pulled", NULL);
  f->push_dest = g_build_filename (f->pushed, "dest", NULL);
  f->pull_dest = g_build_filename (f->pulled, "dest", NULL);
  mitogen_test_write_pattern (f->src, 64 * MIB, 5);
  g_assert_cmpint (g_mkdir (f->pushed, 0700), ==, 0);
  g_assert_cmpint (g_mkdir (f->pulled, 0700), ==, 0);
  g_assert_true (g_file_set_contents (f->push_dest, "old", -1, NULL));
  g_assert_true (g_file_set_contents (f->pull_dest, "old", -1, NULL));
}

static void
kill_files_clear (KillFiles *f)
{
  mitogen_test_remove_tree (f->dir);
  g_free (f->dir);
  g_free (f->src);
  g_free (f->pushed);
  g_free (f->pulled);
  g_free (f->push_dest);
  g_free (f->pull_dest);
}

/* An agent killed in the middle of a push or a pull fails it at once with
 * the loss of the context; the master's half written pull is removed and
 * the router goes on serving other contexts. */
static void
test_killed_mid_transfer (Fixture *fixture, gconstpointer data)
{
  g_autoptr(MitogenContext) pusher = mitogen_test_local (fixture->router);
  g_autoptr(MitogenContext) puller = mitogen_test_local (fixture->router);
  g_autoptr(MitogenContext) other = NULL;
  g_autoptr(GError) error = NULL;
  KillFiles f;

  kill_files_init (&f);
  /* The killed agent cannot remove its temporary file: that one stays. */
  error = transfer_killed_midway (pusher, mitogen_test_context_pid (pusher), TRUE,
                                  f.src, f.push_dest);
  assert_contents (f.push_dest, "old");
  g_clear_error (&error);

  error = transfer_killed_midway (puller, mitogen_test_context_pid (puller), FALSE,
                                  f.src, f.pull_dest);
  assert_contents (f.pull_dest, "old");
  mitogen_test_assert_no_temp (f.pulled);

  other = mitogen_test_local (fixture->router);
  round_trip (other, f.dir, f.pulled, 3 * MIB + 5);
  kill_files_clear (&f);
}

/* The middle agent of master → a → b killed mid-transfer to or from b:
 * the transfer fails the same way, b exits with its parent and takes its
 * temporary file with it, the master removes a pull's. */
static void
test_killed_middle_of_chain (Fixture *fixture, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  KillFiles f;

  kill_files_init (&f);
  for (guint push = 0; push <= 1; push++)
    {
      g_autoptr(MitogenContext) a = mitogen_test_local (fixture->router);
      g_autoptr(MitogenContext) b = mitogen_test_connect_ok (fixture->router, "local", NULL, a);
      int pid_b = mitogen_test_context_pid (b);
      const char *dest = push ? f.push_dest : f.pull_dest;

      error = transfer_killed_midway (b, mitogen_test_context_pid (a), push, f.src, dest);
      g_clear_error (&error);
      g_assert_true (mitogen_test_wait_pid_gone (pid_b, 30000));
      assert_contents (dest, "old");
      mitogen_test_assert_no_temp (push ? f.pushed : f.pulled);
    }
  kill_files_clear (&f);
}

/* ---- through the real sshd -------------------------------------------- */

#define SKIP_WITHOUT_SSHD() \
  G_STMT_START { if (sshd == NULL) { g_test_skip (sshd_skip); return; } } G_STMT_END

static void
test_ssh_file (Fixture *fixture, gconstpointer data)
{
  g_autoptr(MitogenContext) ctx = NULL;
  g_autofree char *dir = NULL;

  SKIP_WITHOUT_SSHD ();
  ctx = mitogen_test_connect_ok (fixture->router, "ssh", mitogen_test_sshd_options (sshd), NULL);
  dir = mitogen_test_make_dir ("mitogen-faults");
  round_trip (ctx, dir, dir, 5 * MIB + 3);
  round_trip (ctx, dir, dir, 1000);
  mitogen_test_remove_tree (dir);
}

typedef struct
{
  const char *rel;
  guint       mode;
  gsize       size;
  gboolean    is_dir;
} TreeEntry;

static const TreeEntry tree_entries[] = {
  { "", 0750, 0, TRUE },
  { "bin", 0711, 0, TRUE },
  { "bin/tool", 0755, 200 * 1024, FALSE },   /* large: chunked */
  { "bin/script", 0700, 300, FALSE },
  { "etc", 0755, 0, TRUE },
  { "etc/secret", 0600, 42, FALSE },
  { "etc/shared", 0644, 70 * 1024, FALSE },
  { "etc/empty", 0640, 0, FALSE },
};

static void
make_preserved_tree (const char *root)
{
  for (gsize i = 0; i < G_N_ELEMENTS (tree_entries); i++)
    {
      g_autofree char *path = g_build_filename (root, tree_entries[i].rel, NULL);

      if (tree_entries[i].is_dir)
        g_assert_cmpint (g_mkdir (path, 0755), ==, 0);
      else
        mitogen_test_write_pattern (path, tree_entries[i].size, i);
      g_assert_cmpint (chmod (path, tree_entries[i].mode), ==, 0);
    }
  /* Times last, deepest first: writing a file changes its directory's. */
  for (gsize i = G_N_ELEMENTS (tree_entries); i-- > 0; )
    {
      g_autofree char *path = g_build_filename (root, tree_entries[i].rel, NULL);
      struct timespec times[2] = { { 0, UTIME_OMIT }, { 1500000000 + i * 1000, 1000 * i + 7 } };

      g_assert_cmpint (utimensat (AT_FDCWD, path, times, 0), ==, 0);
    }
}

static void
assert_preserved_tree (const char *src,
                       const char *copy)
{
  g_autofree char *cmd = g_strdup_printf ("diff -r '%s' '%s' >/dev/null", src, copy);

  g_assert_cmpint (system (cmd), ==, 0);
  for (gsize i = 0; i < G_N_ELEMENTS (tree_entries); i++)
    {
      g_autofree char *path = g_build_filename (copy, tree_entries[i].rel, NULL);
      struct stat st;

      g_assert_cmpint (stat (path, &st), ==, 0);
      g_assert_cmpuint (st.st_mode & 07777, ==, tree_entries[i].mode);
      g_assert_cmpint (st.st_mtim.tv_sec, ==, 1500000000 + i * 1000);
      g_assert_cmpint (st.st_mtim.tv_nsec, ==, 1000 * i + 7);
    }
}

static void
test_ssh_tree_preserved (Fixture *fixture, gconstpointer data)
{
  g_autoptr(MitogenContext) ctx = NULL;
  g_autofree char *dir = NULL;
  g_autofree char *src = NULL;
  g_autofree char *there = NULL;
  g_autofree char *back = NULL;
  g_autoptr(GError) error = NULL;
  MitogenTransferFlags flags = MITOGEN_TRANSFER_RECURSIVE | MITOGEN_TRANSFER_PRESERVE;

  SKIP_WITHOUT_SSHD ();
  ctx = mitogen_test_connect_ok (fixture->router, "ssh", mitogen_test_sshd_options (sshd), NULL);
  dir = mitogen_test_make_dir ("mitogen-faults");
  src = g_build_filename (dir, "src", NULL);
  there = g_build_filename (dir, "there", NULL);
  back = g_build_filename (dir, "back", NULL);
  make_preserved_tree (src);

  g_assert_true (mitogen_context_push (ctx, src, there, flags, NULL, NULL, NULL, &error));
  g_assert_no_error (error);
  assert_preserved_tree (src, there);
  g_assert_true (mitogen_context_pull (ctx, there, back, flags, NULL, NULL, NULL, &error));
  g_assert_no_error (error);
  assert_preserved_tree (src, back);
  mitogen_test_assert_no_temp (dir);
  mitogen_test_remove_tree (dir);
}

int
main (int    argc,
      char **argv)
{
  int status;

  /* First, while this process has one thread: unshare() moves only the
   * calling thread into the new namespace. */
  mount_small_fs ();
  mitogen_test_init (&argc, &argv);
  sshd = mitogen_test_sshd_start (&sshd_skip);

  TEST ("/transfer-faults/disk-full-file", test_disk_full_file);
  TEST ("/transfer-faults/disk-full-tree", test_disk_full_tree);
  TEST ("/transfer-faults/slow-reader-via", test_slow_reader_via);
  TEST ("/transfer-faults/killed-mid-transfer", test_killed_mid_transfer);
  TEST ("/transfer-faults/killed-middle-of-chain", test_killed_middle_of_chain);
  TEST ("/transfer-faults/ssh-file", test_ssh_file);
  TEST ("/transfer-faults/ssh-tree-preserved", test_ssh_tree_preserved);

  status = g_test_run ();
  mitogen_test_sshd_stop (sshd);
  unmount_small_fs ();
  g_free (small_fs_skip);
  g_free (sshd_skip);
  return status;
}
