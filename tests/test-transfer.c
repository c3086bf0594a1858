/* test-transfer.c: push and pull of files and trees with real local
 * agents (mitogen_context_push/pull, transfer.*).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "mitogen-test-util.h"

typedef MitogenTestFixture Fixture;

#define TEST(path, func) \
  g_test_add ((path), Fixture, NULL, mitogen_test_fixture_setup, (func), \
              mitogen_test_fixture_teardown)

typedef struct
{
  guint64 last_done, total;
  guint   calls;
  gsize   peak_rss_kib;
  GCancellable *cancel_at_first;
} Progress;

static gsize
rss_kib (void)
{
  g_autofree char *status = NULL;
  const char *line;

  g_assert_true (g_file_get_contents ("/proc/self/status", &status, NULL, NULL));
  line = strstr (status, "VmRSS:");
  g_assert_nonnull (line);
  return g_ascii_strtoull (line + 6, NULL, 10);
}

static void
on_progress (guint64  done,
             guint64  total,
             gpointer data)
{
  Progress *p = data;

  g_assert_cmpuint (done, >=, p->last_done);
  g_assert_cmpuint (done, <=, total);
  p->last_done = done;
  p->total = total;
  p->calls++;
  if (p->calls % 16 == 1)
    p->peak_rss_kib = MAX (p->peak_rss_kib, rss_kib ());
  if (p->cancel_at_first != NULL)
    g_cancellable_cancel (p->cancel_at_first);
}

/* Pushes @size bytes to @ctx and pulls them back, through temporary names. */
static void
round_trip (MitogenContext *ctx,
            gsize           size)
{
  g_autofree char *dir = mitogen_test_make_dir ("mitogen-transfer");
  g_autofree char *src = g_build_filename (dir, "src", NULL);
  g_autofree char *there = g_build_filename (dir, "there", NULL);
  g_autofree char *back = g_build_filename (dir, "back", NULL);
  g_autoptr(GError) error = NULL;
  Progress p = { 0, };

  mitogen_test_write_pattern (src, size, 3);
  g_assert_true (mitogen_context_push (ctx, src, there, MITOGEN_TRANSFER_NONE,
                                       on_progress, &p, NULL, &error));
  g_assert_no_error (error);
  mitogen_test_assert_same_file (src, there);
  g_assert_cmpuint (p.last_done, ==, size);
  g_assert_true (mitogen_context_pull (ctx, there, back, MITOGEN_TRANSFER_NONE,
                                       NULL, NULL, NULL, &error));
  g_assert_no_error (error);
  mitogen_test_assert_same_file (src, back);
  mitogen_test_assert_no_temp (dir);
  mitogen_test_remove_tree (dir);
}

static void
test_file_round_trip (Fixture *fixture, gconstpointer data)
{
  g_autoptr(MitogenContext) ctx = mitogen_test_local (fixture->router);

  round_trip (ctx, 0);
  round_trip (ctx, 1);
  round_trip (ctx, 64 * 1024);          /* the largest batched file */
  round_trip (ctx, 3 * 1024 * 1024 + 17);  /* chunked, with a short last chunk */
}

static void
test_via_chain (Fixture *fixture, gconstpointer data)
{
  g_autoptr(MitogenContext) a = mitogen_test_local (fixture->router);
  g_autoptr(GError) error = NULL;
  g_autoptr(MitogenContext) b = mitogen_router_connect_context (fixture->router, "local", NULL,
                                                                a, NULL, &error);

  g_assert_no_error (error);
  round_trip (b, 5 * 1024 * 1024 + 1);
}

/* 200 MiB both ways: the master's memory grows by far less than that. */
static void
test_big_file_bounded_memory (Fixture *fixture, gconstpointer data)
{
  g_autoptr(MitogenContext) ctx = mitogen_test_local (fixture->router);
  g_autofree char *dir = mitogen_test_make_dir ("mitogen-transfer");
  g_autofree char *src = g_build_filename (dir, "src", NULL);
  g_autofree char *there = g_build_filename (dir, "there", NULL);
  g_autofree char *back = g_build_filename (dir, "back", NULL);
  g_autoptr(GError) error = NULL;
  gsize size = 200u * 1024 * 1024;
  Progress p = { 0, };
  gsize idle;

#if defined(__SANITIZE_ADDRESS__)
  /* ASan keeps freed memory in quarantine (256 MiB by default). */
  g_test_skip ("ASan's quarantine holds freed memory");
  mitogen_test_remove_tree (dir);
  return;
#endif
  if (strstr (g_getenv ("MITOGEN_AGENT_WRAPPER") ?: "", "valgrind") != NULL)
    {
      g_test_skip ("valgrind's RSS is its own, and 400 MiB through it takes minutes");
      mitogen_test_remove_tree (dir);
      return;
    }

  mitogen_test_write_pattern (src, size, 5);
  idle = rss_kib ();
  g_assert_true (mitogen_context_push (ctx, src, there, 0, on_progress, &p, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (mitogen_context_pull (ctx, there, back, 0, on_progress,
                                       &(Progress) { 0, }, NULL, &error));
  g_assert_no_error (error);
  g_test_message ("master RSS: %zu KiB idle, %zu KiB at most during the push",
                  idle, p.peak_rss_kib);
  g_assert_cmpuint (p.peak_rss_kib, <, idle + 48 * 1024);
  mitogen_test_assert_same_file (src, back);
  mitogen_test_remove_tree (dir);
}

static void
make_tree (const char *root,
           guint       files)
{
  g_assert_cmpint (g_mkdir_with_parents (root, 0755), ==, 0);
  for (guint i = 0; i < files; i++)
    {
      g_autofree char *sub = g_strdup_printf ("%s/d%02u", root, i % 20);
      g_autofree char *path = g_strdup_printf ("%s/f%05u", sub, i);

      g_mkdir_with_parents (sub, 0755);
      mitogen_test_write_pattern (path, 1 + (i * 37) % 16384, i);
    }
  {
    g_autofree char *big = g_build_filename (root, "big", NULL);
    g_autofree char *link = g_build_filename (root, "link", NULL);

    mitogen_test_write_pattern (big, 300 * 1024, 9);
    g_assert_cmpint (symlink ("big", link), ==, 0);
  }
}

static void
assert_same_tree (const char *a,
                  const char *b)
{
  g_autofree char *cmd = g_strdup_printf ("diff -r '%s' '%s' >/dev/null", a, b);

  g_assert_cmpint (system (cmd), ==, 0);
}

static void
test_tree (Fixture *fixture, gconstpointer data)
{
  g_autoptr(MitogenContext) ctx = mitogen_test_local (fixture->router);
  g_autofree char *dir = mitogen_test_make_dir ("mitogen-transfer");
  g_autofree char *src = g_build_filename (dir, "src", NULL);
  g_autofree char *there = g_build_filename (dir, "there", NULL);
  g_autofree char *back = g_build_filename (dir, "back", NULL);
  g_autofree char *link = g_build_filename (there, "link", NULL);
  g_autofree char *target = NULL;
  g_autoptr(GError) error = NULL;
  gint64 start;

  make_tree (src, 2000);
  g_assert_false (mitogen_context_push (ctx, src, there, 0, NULL, NULL, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_IS_DIRECTORY);
  g_clear_error (&error);

  start = g_get_monotonic_time ();
  g_assert_true (mitogen_context_push (ctx, src, there, MITOGEN_TRANSFER_RECURSIVE,
                                       NULL, NULL, NULL, &error));
  g_assert_no_error (error);
  g_test_message ("2000 files pushed in %.2f s", (g_get_monotonic_time () - start) / 1e6);
  assert_same_tree (src, there);
  target = g_file_read_link (link, NULL);
  g_assert_cmpstr (target, ==, "big");

  start = g_get_monotonic_time ();
  g_assert_true (mitogen_context_pull (ctx, there, back, MITOGEN_TRANSFER_RECURSIVE,
                                       NULL, NULL, NULL, &error));
  g_assert_no_error (error);
  g_test_message ("2000 files pulled in %.2f s", (g_get_monotonic_time () - start) / 1e6);
  assert_same_tree (src, back);
  mitogen_test_remove_tree (dir);
}

static void
test_preserve (Fixture *fixture, gconstpointer data)
{
  g_autoptr(MitogenContext) ctx = mitogen_test_local (fixture->router);
  g_autofree char *dir = mitogen_test_make_dir ("mitogen-transfer");
  g_autofree char *src = g_build_filename (dir, "src", NULL);
  g_autofree char *file = g_build_filename (src, "f", NULL);
  g_autofree char *big = g_build_filename (src, "big", NULL);
  const char *names[] = { "there", "there/f", "there/big", "back", "back/f", "back/big" };
  struct timespec times[2] = { { 0, UTIME_OMIT }, { 1000000000, 123456789 } };
  g_autofree char *there = g_build_filename (dir, "there", NULL);
  g_autofree char *back = g_build_filename (dir, "back", NULL);
  g_autoptr(GError) error = NULL;

  g_assert_cmpint (g_mkdir (src, 0750), ==, 0);
  mitogen_test_write_pattern (file, 10, 1);
  mitogen_test_write_pattern (big, 1024 * 1024, 1);
  g_assert_cmpint (chmod (file, 0604), ==, 0);
  g_assert_cmpint (chmod (big, 0741), ==, 0);
  g_assert_cmpint (utimensat (AT_FDCWD, file, times, 0), ==, 0);
  g_assert_cmpint (utimensat (AT_FDCWD, big, times, 0), ==, 0);
  g_assert_cmpint (utimensat (AT_FDCWD, src, times, 0), ==, 0);

  g_assert_true (mitogen_context_push (ctx, src, there,
                                       MITOGEN_TRANSFER_RECURSIVE | MITOGEN_TRANSFER_PRESERVE,
                                       NULL, NULL, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (mitogen_context_pull (ctx, there, back,
                                       MITOGEN_TRANSFER_RECURSIVE | MITOGEN_TRANSFER_PRESERVE,
                                       NULL, NULL, NULL, &error));
  g_assert_no_error (error);
  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    {
      g_autofree char *path = g_build_filename (dir, names[i], NULL);
      guint want = g_str_has_suffix (names[i], "/f") ? 0604 :
                   g_str_has_suffix (names[i], "/big") ? 0741 : 0750;
      struct stat st;

      g_assert_cmpint (stat (path, &st), ==, 0);
      g_assert_cmpuint (st.st_mode & 07777, ==, want);
      g_assert_cmpint (st.st_mtim.tv_sec, ==, 1000000000);
      g_assert_cmpint (st.st_mtim.tv_nsec, ==, 123456789);
    }
  mitogen_test_remove_tree (dir);
}

static void
on_done (GObject      *source,
         GAsyncResult *result,
         gpointer      data)
{
  *(GAsyncResult **) data = g_object_ref (result);
}

static GAsyncResult *
wait_result (GAsyncResult **slot)
{
  gint64 deadline = g_get_monotonic_time () + 120 * G_USEC_PER_SEC;

  while (*slot == NULL && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, TRUE);
  g_assert_nonnull (*slot);
  return *slot;
}

/* Cancelled mid-way, neither side keeps a file or a temporary file. */
static void
test_cancel (Fixture *fixture, gconstpointer data)
{
  g_autoptr(MitogenContext) ctx = mitogen_test_local (fixture->router);
  g_autofree char *dir = mitogen_test_make_dir ("mitogen-transfer");
  g_autofree char *src = g_build_filename (dir, "src", NULL);
  g_autofree char *there = g_build_filename (dir, "there", NULL);
  g_autofree char *back = g_build_filename (dir, "back", NULL);
  g_autoptr(GCancellable) cancel = g_cancellable_new ();
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  Progress p = { .cancel_at_first = cancel };

  mitogen_test_write_pattern (src, 64 * 1024 * 1024, 2);
  mitogen_context_push_async (ctx, src, there, 0, on_progress, &p, NULL, cancel,
                              on_done, &result);
  g_assert_false (mitogen_context_push_finish (ctx, wait_result (&result), &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_cmpuint (p.last_done, <, 64 * 1024 * 1024);
  g_assert_false (g_file_test (there, G_FILE_TEST_EXISTS));
  mitogen_test_assert_no_temp (dir);

  /* And a pull. */
  g_clear_error (&error);
  g_clear_object (&result);
  g_assert_true (g_rename (src, there) == 0);
  g_cancellable_reset (cancel);
  p = (Progress) { .cancel_at_first = cancel };
  mitogen_context_pull_async (ctx, there, back, 0, on_progress, &p, NULL, cancel,
                              on_done, &result);
  g_assert_false (mitogen_context_pull_finish (ctx, wait_result (&result), &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_false (g_file_test (back, G_FILE_TEST_EXISTS));
  mitogen_test_assert_no_temp (dir);
  mitogen_test_remove_tree (dir);
}

/* Bytes that do not match the sha256 given at commit never replace the
 * destination; the temporary file goes too. */
static void
test_bad_commit_keeps_old_file (Fixture *fixture, gconstpointer data)
{
  g_autoptr(MitogenContext) ctx = mitogen_test_local (fixture->router);
  g_autofree char *dir = mitogen_test_make_dir ("mitogen-transfer");
  g_autofree char *dest = g_build_filename (dir, "dest", NULL);
  g_autofree char *good = g_compute_checksum_for_string (G_CHECKSUM_SHA256, "good", -1);
  g_autofree char *content = NULL;
  g_autoptr(GVariant) id = NULL;
  g_autoptr(GVariant) r = NULL;
  g_autoptr(GError) error = NULL;

  g_assert_true (g_file_set_contents (dest, "old", -1, NULL));
  id = mitogen_context_call (ctx, "transfer.open_write",
                             g_variant_new ("(s@a{sv})", dest, g_variant_new ("a{sv}", NULL)),
                             NULL, &error);
  g_assert_no_error (error);
  r = mitogen_context_call (ctx, "transfer.write",
                            g_variant_new ("(ut@ay)", g_variant_get_uint32 (id), (guint64) 0,
                                           g_variant_new_bytestring ("evil")), NULL, &error);
  g_assert_no_error (error);
  g_clear_pointer (&r, g_variant_unref);
  r = mitogen_context_call (ctx, "transfer.commit",
                            g_variant_new ("(us@a{sv})", g_variant_get_uint32 (id), good,
                                           g_variant_new ("a{sv}", NULL)), NULL, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
  g_assert_true (g_file_get_contents (dest, &content, NULL, NULL));
  g_assert_cmpstr (content, ==, "old");
  mitogen_test_assert_no_temp (dir);
  mitogen_test_remove_tree (dir);
}

/* write_many stages its files and flushes them once: a bad entry in the
 * middle fails the call, the files before it are in place whole, the ones
 * from it on are not there, and no temporary file is left. */
static GVariant *
small_entry (const char *dir,
             const char *name,
             const char *content,
             const char *claimed)
{
  g_autofree char *path = g_build_filename (dir, name, NULL);
  g_autofree char *sha = g_compute_checksum_for_string (G_CHECKSUM_SHA256, claimed, -1);

  return g_variant_new ("(sy@ays@a{sv})", path, 'f',
                        g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, content, strlen (content), 1),
                        sha, g_variant_new ("a{sv}", NULL));
}

static void
test_write_many_stops_at_bad_entry (Fixture *fixture, gconstpointer data)
{
  g_autoptr(MitogenContext) ctx = mitogen_test_local (fixture->router);
  g_autofree char *dir = mitogen_test_make_dir ("mitogen-transfer");
  g_autoptr(GVariantBuilder) entries = g_variant_builder_new (G_VARIANT_TYPE ("a(syaysa{sv})"));
  g_autoptr(GVariant) r = NULL;
  g_autoptr(GError) error = NULL;
  const char *names[] = { "a", "b", "c", "d" };

  g_variant_builder_add_value (entries, small_entry (dir, "a", "alpha", "alpha"));
  g_variant_builder_add_value (entries, small_entry (dir, "b", "beta", "beta"));
  g_variant_builder_add_value (entries, small_entry (dir, "c", "evil", "gamma"));
  g_variant_builder_add_value (entries, small_entry (dir, "d", "delta", "delta"));
  r = mitogen_context_call (ctx, "transfer.write_many",
                            g_variant_new ("(@a(syaysa{sv}))", g_variant_builder_end (entries)),
                            NULL, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
  if (strstr (error->message, "/c: the sha256") == NULL)
    g_error ("unexpected message: %s", error->message);
  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    {
      g_autofree char *path = g_build_filename (dir, names[i], NULL);
      g_autofree char *content = NULL;

      if (i < 2)
        {
          g_assert_true (g_file_get_contents (path, &content, NULL, NULL));
          g_assert_cmpstr (content, ==, i == 0 ? "alpha" : "beta");
        }
      else
        g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));
    }
  mitogen_test_assert_no_temp (dir);
  mitogen_test_remove_tree (dir);
}

/* Two transfers at once, each with its own window, both complete. */
static void
test_two_at_once (Fixture *fixture, gconstpointer data)
{
  g_autoptr(MitogenContext) ctx = mitogen_test_local (fixture->router);
  g_autofree char *dir = mitogen_test_make_dir ("mitogen-transfer");
  g_autofree char *a = g_build_filename (dir, "a", NULL);
  g_autofree char *b = g_build_filename (dir, "b", NULL);
  g_autofree char *a2 = g_build_filename (dir, "a2", NULL);
  g_autofree char *b2 = g_build_filename (dir, "b2", NULL);
  g_autoptr(GAsyncResult) ra = NULL;
  g_autoptr(GAsyncResult) rb = NULL;
  g_autoptr(GError) error = NULL;
  Progress pa = { 0, }, pb = { 0, };

  mitogen_test_write_pattern (a, 20 * 1024 * 1024, 1);
  mitogen_test_write_pattern (b, 20 * 1024 * 1024, 2);
  mitogen_context_push_async (ctx, a, a2, 0, on_progress, &pa, NULL, NULL, on_done, &ra);
  mitogen_context_push_async (ctx, b, b2, 0, on_progress, &pb, NULL, NULL, on_done, &rb);
  /* Both advance before either ends: they share the stream. */
  while (ra == NULL && rb == NULL)
    g_main_context_iteration (NULL, TRUE);
  g_assert_cmpuint (pa.last_done, >, 0);
  g_assert_cmpuint (pb.last_done, >, 0);
  g_assert_true (mitogen_context_push_finish (ctx, wait_result (&ra), &error));
  g_assert_true (mitogen_context_push_finish (ctx, wait_result (&rb), &error));
  g_assert_no_error (error);
  mitogen_test_assert_same_file (a, a2);
  mitogen_test_assert_same_file (b, b2);
  mitogen_test_remove_tree (dir);
}

/* An agent that loses its parent mid-push removes the temporary file. */
static void
test_lost_parent_removes_temp (Fixture *fixture, gconstpointer data)
{
  g_autoptr(MitogenContext) ctx = mitogen_test_local (fixture->router);
  g_autofree char *dir = mitogen_test_make_dir ("mitogen-transfer");
  g_autofree char *dest = g_build_filename (dir, "dest", NULL);
  g_autoptr(GVariant) id = NULL;
  g_autoptr(GVariant) r = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GDir) d = NULL;
  int pid = mitogen_test_context_pid (ctx);

  id = mitogen_context_call (ctx, "transfer.open_write",
                             g_variant_new ("(s@a{sv})", dest, g_variant_new ("a{sv}", NULL)),
                             NULL, &error);
  g_assert_no_error (error);
  r = mitogen_context_call (ctx, "transfer.write",
                            g_variant_new ("(ut@ay)", g_variant_get_uint32 (id), (guint64) 0,
                                           g_variant_new_bytestring ("partial")), NULL, &error);
  g_assert_no_error (error);
  /* The temporary file is there while the push is open... */
  d = g_dir_open (dir, 0, NULL);
  g_assert_nonnull (strstr (g_dir_read_name (d), ".mitogen-"));

  /* ...and gone with the agent, which exits when its parent goes. */
  mitogen_router_disconnect_context (fixture->router, ctx);
  g_assert_true (mitogen_test_wait_pid_gone (pid, 30000));
  mitogen_test_assert_no_temp (dir);
  g_assert_false (g_file_test (dest, G_FILE_TEST_EXISTS));
  mitogen_test_drain_default_context ();
  mitogen_test_remove_tree (dir);
}

static void
truncate_on_progress (guint64  done,
                      guint64  total,
                      gpointer data)
{
  g_assert_cmpint (truncate (data, 1000), ==, 0);
}

/* A source that shrinks under a push or a pull fails it, and nothing is
 * left at the destination. */
static void
test_source_shrinks (Fixture *fixture, gconstpointer data)
{
  g_autoptr(MitogenContext) ctx = mitogen_test_local (fixture->router);
  g_autofree char *dir = mitogen_test_make_dir ("mitogen-transfer");
  g_autofree char *src = g_build_filename (dir, "src", NULL);
  g_autofree char *dest = g_build_filename (dir, "dest", NULL);
  g_autoptr(GError) error = NULL;

  mitogen_test_write_pattern (src, 32 * 1024 * 1024, 4);
  g_assert_false (mitogen_context_push (ctx, src, dest, 0, truncate_on_progress, src,
                                        NULL, &error));
  g_assert_nonnull (error);
  g_test_message ("push: %s", error->message);
  g_assert_nonnull (strstr (error->message, "shrank"));
  g_assert_false (g_file_test (dest, G_FILE_TEST_EXISTS));
  mitogen_test_assert_no_temp (dir);
  g_clear_error (&error);

  mitogen_test_write_pattern (src, 32 * 1024 * 1024, 4);
  g_assert_false (mitogen_context_pull (ctx, src, dest, 0, truncate_on_progress, src,
                                        NULL, &error));
  g_assert_nonnull (error);
  g_test_message ("pull: %s", error->message);
  g_assert_nonnull (strstr (error->message, "changed"));
  g_assert_false (g_file_test (dest, G_FILE_TEST_EXISTS));
  mitogen_test_assert_no_temp (dir);
  mitogen_test_remove_tree (dir);
}

static void
test_missing_source (Fixture *fixture, gconstpointer data)
{
  g_autoptr(MitogenContext) ctx = mitogen_test_local (fixture->router);
  g_autofree char *dir = mitogen_test_make_dir ("mitogen-transfer");
  g_autofree char *dest = g_build_filename (dir, "dest", NULL);
  g_autoptr(GError) error = NULL;

  g_assert_false (mitogen_context_pull (ctx, "/nonexistent/x", dest, 0, NULL, NULL, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  g_clear_error (&error);
  g_assert_false (mitogen_context_push (ctx, "/nonexistent/x", dest, 0, NULL, NULL, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  g_clear_error (&error);
  g_assert_false (g_file_test (dest, G_FILE_TEST_EXISTS));
  mitogen_test_remove_tree (dir);
}

/* Rewrites the last byte of the file, once: the size stays, the content
 * and mtime change, as when a log or database is written mid-copy. */
static void
rewrite_on_progress (guint64  done,
                     guint64  total,
                     gpointer data)
{
  const char **path = data;
  int fd;

  if (*path == NULL)
    return;
  fd = open (*path, O_WRONLY);
  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (pwrite (fd, "!", 1, 48 * 1024 * 1024 - 1), ==, 1);
  g_assert_cmpint (close (fd), ==, 0);
  *path = NULL;
}

/* A source rewritten in place (same size) under a push or a pull fails
 * it: what arrived could be half old, half new, although its sha256 is
 * that of what was read. Nothing is left at the destination. */
static void
test_source_changes (Fixture *fixture, gconstpointer data)
{
  g_autoptr(MitogenContext) ctx = mitogen_test_local (fixture->router);
  g_autofree char *dir = mitogen_test_make_dir ("mitogen-transfer");
  g_autofree char *src = g_build_filename (dir, "src", NULL);
  g_autofree char *dest = g_build_filename (dir, "dest", NULL);
  g_autoptr(GError) error = NULL;

  for (int push = 0; push < 2; push++)
    {
      const char *changing = src;

      mitogen_test_write_pattern (src, 48 * 1024 * 1024, 9);
      g_usleep (20000);   /* past the filesystem's time granularity */
      if (push)
        g_assert_false (mitogen_context_push (ctx, src, dest, 0, rewrite_on_progress, &changing,
                                              NULL, &error));
      else
        g_assert_false (mitogen_context_pull (ctx, src, dest, 0, rewrite_on_progress, &changing,
                                              NULL, &error));
      g_assert_null (changing);
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_FAILED);
      g_assert_nonnull (strstr (error->message, "src changed while it was being copied"));
      g_clear_error (&error);
      g_assert_false (g_file_test (dest, G_FILE_TEST_EXISTS));
      g_assert_cmpint (g_unlink (src), ==, 0);
      mitogen_test_assert_no_temp (dir);
    }
  mitogen_test_remove_tree (dir);
}

int
main (int    argc,
      char **argv)
{
  mitogen_test_init (&argc, &argv);

  TEST ("/transfer/file-round-trip", test_file_round_trip);
  TEST ("/transfer/via-chain", test_via_chain);
  TEST ("/transfer/big-file-bounded-memory", test_big_file_bounded_memory);
  TEST ("/transfer/tree", test_tree);
  TEST ("/transfer/preserve", test_preserve);
  TEST ("/transfer/cancel", test_cancel);
  TEST ("/transfer/bad-commit-keeps-old-file", test_bad_commit_keeps_old_file);
  TEST ("/transfer/write-many-stops-at-bad-entry", test_write_many_stops_at_bad_entry);
  TEST ("/transfer/two-at-once", test_two_at_once);
  TEST ("/transfer/missing-source", test_missing_source);
  TEST ("/transfer/lost-parent-removes-temp", test_lost_parent_removes_temp);
  TEST ("/transfer/source-shrinks", test_source_shrinks);
  TEST ("/transfer/source-changes", test_source_changes);

  return g_test_run ();
}
