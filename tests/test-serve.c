/* test-serve.c: MitogenListener and mitogen_router_connect_server(), with
 * the listener and its clients in different processes (serve-helper).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <errno.h>
#include <pwd.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "mitogen-test-util.h"
#include "serve-helper.h"

typedef struct
{
  MitogenTestFixture base;
  char              *dir;     /* a fresh mode-0700 directory */
  char              *path;    /* the socket in it */
} Fixture;

static void
setup (Fixture       *f,
       gconstpointer  data)
{
  mitogen_test_fixture_setup (&f->base, data);
  f->dir = g_dir_make_tmp ("mitogen-serve-XXXXXX", NULL);
  g_assert_nonnull (f->dir);
  g_assert_no_errno (chmod (f->dir, 0700));
  f->path = g_build_filename (f->dir, "serve.sock", NULL);
}

static void
teardown (Fixture       *f,
          gconstpointer  data)
{
  g_autoptr(MitogenContext) kept = serve_helper_steal_kept ();

  if (kept != NULL)
    mitogen_context_shutdown (kept, 10000, NULL, NULL);
  mitogen_test_fixture_teardown (&f->base, data);
  g_unlink (f->path);
  g_rmdir (f->dir);
  g_free (f->path);
  g_free (f->dir);
}

#define TEST(path, func) \
  g_test_add ((path), Fixture, NULL, setup, (func), teardown)

static char *
helper_path (void)
{
  return g_test_build_filename (G_TEST_BUILT, "serve-helper", NULL);
}

/* Runs `serve-helper keep PATH`: the kept context's id and agent pid. */
static void
run_keep_client (const char *path,
                 guint32    *id,
                 int        *pid)
{
  g_autofree char *helper = helper_path ();
  const char *argv[] = { helper, "keep", path, NULL };
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autoptr(GError) error = NULL;
  int status;

  g_assert_true (g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_DEFAULT, NULL, NULL,
                               &out, &err, &status, &error));
  g_assert_no_error (error);
  if (!g_spawn_check_wait_status (status, NULL))
    g_error ("serve-helper keep failed: %s", err);
  g_assert_cmpint (sscanf (out, "%u %d", id, pid), ==, 2);
}

static MitogenListener *
listen_ok (Fixture *f)
{
  g_autoptr(GError) error = NULL;
  MitogenListener *listener;

  serve_helper_register_keep ();
  listener = mitogen_router_listen (f->base.router, f->path, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (listener);
  return listener;
}

/* The socket is 0600; a directory others may enter, that is not a
 * directory, or that another user owns is refused, at both ends. */
static void
test_modes (Fixture       *f,
            gconstpointer  data)
{
  g_autoptr(MitogenListener) listener = listen_ok (f);
  g_autofree char *link = g_build_filename (f->dir, "link", NULL);
  g_autofree char *via_link = g_build_filename (link, "serve.sock", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(MitogenRouter) client = mitogen_router_new (f->base.broker);
  struct stat st;

  g_assert_no_errno (lstat (f->path, &st));
  g_assert_true (S_ISSOCK (st.st_mode));
  g_assert_cmpuint (st.st_mode & 07777, ==, 0600);
  g_assert_cmpstr (mitogen_listener_get_path (listener), ==, f->path);

  /* A second listener on a live socket. */
  g_assert_null (mitogen_router_listen (f->base.router, f->path, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE);
  g_clear_error (&error);

  /* Group or others in the directory: neither end uses it. */
  g_assert_no_errno (chmod (f->dir, 0755));
  g_assert_null (mitogen_router_connect_server (client, f->path, NULL, &error));
  g_assert_error (error, MITOGEN_ERROR, MITOGEN_ERROR_FAILED);
  g_assert_nonnull (strstr (error->message, "0700 needed"));
  g_clear_error (&error);
  mitogen_listener_close (listener);
  g_assert_false (g_file_test (f->path, G_FILE_TEST_EXISTS));
  g_assert_null (mitogen_router_listen (f->base.router, f->path, NULL, &error));
  g_assert_error (error, MITOGEN_ERROR, MITOGEN_ERROR_FAILED);
  g_clear_error (&error);
  g_assert_no_errno (chmod (f->dir, 0700));

  /* A symbolic link to a good directory is not the directory. */
  g_assert_no_errno (symlink (f->dir, link));
  g_assert_null (mitogen_router_listen (f->base.router, via_link, NULL, &error));
  g_assert_nonnull (error);
  g_assert_nonnull (strstr (error->message, "not a directory"));
  g_clear_error (&error);
  g_unlink (link);

  /* Another user's directory (as root only: chown). */
  if (geteuid () == 0)
    {
      g_assert_no_errno (chown (f->dir, 65534, 65534));
      g_assert_null (mitogen_router_listen (f->base.router, f->path, NULL, &error));
      g_assert_nonnull (strstr (error->message, "belongs to uid 65534"));
      g_clear_error (&error);
      g_assert_no_errno (chown (f->dir, 0, 0));
    }
}

/* Clients in other processes get the same kept context: one agent, one
 * id, and calls through it answered by that agent. */
static void
test_kept (Fixture       *f,
           gconstpointer  data)
{
  g_autoptr(MitogenListener) listener = listen_ok (f);
  g_autoptr(GPtrArray) contexts = NULL;
  guint32 id1, id2;
  int pid1, pid2;

  run_keep_client (f->path, &id1, &pid1);
  run_keep_client (f->path, &id2, &pid2);
  g_assert_cmpuint (id1, ==, id2);
  g_assert_cmpint (pid1, ==, pid2);
  g_assert_true (mitogen_test_pid_alive (pid1));
  /* One agent started for the two clients: the listener's one context. */
  contexts = mitogen_router_list_contexts (f->base.router);
  g_assert_cmpuint (contexts->len, ==, 1);
  g_assert_cmpint (mitogen_test_context_pid (contexts->pdata[0]), ==, pid1);
  /* Both clients have gone: the listener forgets them. */
  for (int i = 0; i < 500 && mitogen_listener_get_n_clients (listener) > 0; i++)
    g_usleep (10000);
  g_assert_cmpuint (mitogen_listener_get_n_clients (listener), ==, 0);
}

/* Reads until EOF or @timeout_sec passes; TRUE at EOF (or a reset). */
static gboolean
read_until_closed (int fd,
                   int timeout_sec)
{
  struct timeval tv = { timeout_sec, 0 };
  char buf[4096];

  setsockopt (fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  for (;;)
    {
      ssize_t n = read (fd, buf, sizeof buf);

      if (n == 0 || (n < 0 && errno == ECONNRESET))
        return TRUE;
      if (n < 0 && errno != EINTR)
        return FALSE;
    }
}

static int
raw_connect (const char *path)
{
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  int fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

  g_strlcpy (addr.sun_path, path, sizeof addr.sun_path);
  if (fd < 0 || connect (fd, (struct sockaddr *) &addr, sizeof addr) != 0)
    {
      int saved = errno;

      if (fd >= 0)
        close (fd);
      errno = saved;
      return -1;
    }
  return fd;
}

static void
put_u32 (guint8 *p, guint32 v)
{
  p[0] = v >> 24; p[1] = v >> 16; p[2] = v >> 8; p[3] = v;
}

/* A frame to @dst on @handle claiming @src and @auth, carrying @value. */
static GBytes *
raw_frame (guint32   dst,
           guint32   src,
           guint32   auth,
           guint32   handle,
           GVariant *value)
{
  g_autoptr(MitogenSerializer) s = mitogen_serializer_lookup ("gvariant", NULL);
  g_autoptr(GVariant) body = g_variant_ref_sink (g_variant_new ("(yv)", 0, value));
  g_autoptr(GBytes) data = mitogen_serializer_serialize (s, body, NULL);
  GByteArray *frame = g_byte_array_new ();
  guint8 hdr[MITOGEN_HEADER_SIZE];

  hdr[0] = 0x4d; hdr[1] = 0x49;
  put_u32 (hdr + 2, dst);
  put_u32 (hdr + 6, src);
  put_u32 (hdr + 10, auth);
  put_u32 (hdr + 14, handle);
  put_u32 (hdr + 18, 0);
  put_u32 (hdr + 22, g_bytes_get_size (data));
  g_byte_array_append (frame, hdr, sizeof hdr);
  g_byte_array_append (frame, g_bytes_get_data (data, NULL), g_bytes_get_size (data));
  return g_byte_array_free_to_bytes (frame);
}

static void
write_all (int     fd,
           GBytes *bytes)
{
  g_assert_cmpint (write (fd, g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes)), ==,
                   (gssize) g_bytes_get_size (bytes));
}

/* A hostile client: a frame claiming another context's id is dropped and
 * logged, so is a route it has no right to, and garbage cuts it off, while
 * a good client carries on. */
static void
test_hostile (Fixture       *f,
              gconstpointer  data)
{
  g_autoptr(MitogenListener) listener = listen_ok (f);
  g_autoptr(GBytes) forged = NULL;
  guint8 boot[MITOGEN_HEADER_SIZE];
  static const char garbage[] = "GET / HTTP/1.0\r\n\r\n0123456789abcdefghijklmnop";
  guint32 id1, id2, own_id;
  int pid1, pid2, fd;

  run_keep_client (f->path, &id1, &pid1);
  fd = raw_connect (f->path);
  g_assert_cmpint (fd, >=, 0);
  /* The listener speaks first: its bootstrap frame, to our new id. */
  g_assert_cmpint (read (fd, boot, sizeof boot), ==, sizeof boot);
  g_assert_cmpuint (boot[0], ==, 0x4d);
  own_id = (guint32) boot[2] << 24 | boot[3] << 16 | boot[4] << 8 | boot[5];
  g_assert_cmpuint (own_id, !=, 0);
  g_assert_cmpuint (own_id, !=, id1);

  /* Claims to be the kept context itself calling its parent. */
  mitogen_test_expect_log ("mitogen", G_LOG_LEVEL_WARNING, "*forged source*");
  forged = raw_frame (0, id1, id1, MITOGEN_HANDLE_CALL_FUNCTION,
                      g_variant_new ("(sv)", "core.getpid", g_variant_new ("()")));
  write_all (fd, forged);
  g_assert_true (mitogen_test_wait_expected_logs (30000));

  /* Under its own id, announces a context it never started. */
  mitogen_test_expect_log ("mitogen", G_LOG_LEVEL_WARNING, "*refused ADD_ROUTE for context 999*");
  g_clear_pointer (&forged, g_bytes_unref);
  forged = raw_frame (0, own_id, own_id, MITOGEN_HANDLE_ADD_ROUTE, g_variant_new ("(us)", 999, "fake"));
  write_all (fd, forged);
  g_assert_true (mitogen_test_wait_expected_logs (30000));

  mitogen_test_expect_log ("mitogen", G_LOG_LEVEL_WARNING, "*bad frame magic*");
  g_assert_cmpint (write (fd, garbage, sizeof garbage), ==, sizeof garbage);
  g_assert_true (read_until_closed (fd, 30));
  g_assert_true (mitogen_test_wait_expected_logs (30000));
  close (fd);

  run_keep_client (f->path, &id2, &pid2);
  g_assert_cmpuint (id2, ==, id1);
  g_assert_cmpint (pid2, ==, pid1);
}

/* Another uid is refused by its peer credentials even when the file
 * system lets it reach the socket. */
static void
test_other_uid (Fixture       *f,
                gconstpointer  data)
{
  g_autoptr(MitogenListener) listener = NULL;
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  struct timeval tv = { 30, 0 };
  int verdict[2];
  char said = 0;
  pid_t child;
  int status;

  if (geteuid () != 0)
    {
      g_test_skip ("needs root: the client must run as another user (nobody)");
      return;
    }
  listener = listen_ok (f);
  /* Open the way, as a careless chmod would. */
  g_assert_no_errno (chmod (f->dir, 0711));
  g_assert_no_errno (chmod (f->path, 0666));
  g_strlcpy (addr.sun_path, f->path, sizeof addr.sun_path);
  g_assert_no_errno (pipe (verdict));
  mitogen_test_expect_log ("mitogen", G_LOG_LEVEL_WARNING, "*refused a connection*uid 65534*");

  /* The client is this process's fork as nobody, making plain system
   * calls (async-signal-safe: this process has threads): no program to
   * exec, which nobody could not reach in a build tree under a private
   * home (CI's clone is in root's 0700 home). It connects, and must see
   * the listener close the connection without a word. It says what it
   * saw through a pipe: under valgrind its exit status is valgrind's,
   * which judges the forked copy of this process's heap. */
  child = fork ();
  g_assert_cmpint (child, >=, 0);
  if (child == 0)
    {
      char buf[64];
      ssize_t n;
      int fd;

      char saw = '?';

      if (setgid (65534) != 0 || setuid (65534) != 0)
        saw = 'u';
      else if ((fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
               connect (fd, (struct sockaddr *) &addr, sizeof addr) != 0)
        saw = 'c';
      else
        {
          setsockopt (fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
          n = read (fd, buf, sizeof buf);
          saw = n == 0 || (n < 0 && errno == ECONNRESET) ? 'k' : 'd';
        }
      if (write (verdict[1], &saw, 1) != 1)
        _exit (2);
      _exit (0);
    }
  close (verdict[1]);
  g_assert_cmpint (waitpid (child, &status, 0), ==, child);
  g_assert_true (WIFEXITED (status));
  /* 'k': connected, then closed without a word. */
  g_assert_cmpint (read (verdict[0], &said, 1), ==, 1);
  g_assert_cmpint (said, ==, 'k');
  close (verdict[0]);
  g_assert_true (mitogen_test_wait_expected_logs (30000));
  g_assert_cmpuint (mitogen_listener_get_n_refused (listener), ==, 1);
  g_assert_cmpuint (mitogen_listener_get_n_clients (listener), ==, 0);
  g_assert_no_errno (chmod (f->dir, 0700));
}

/* The listener in another process dies: a client's pending call fails
 * as a lost context, promptly, and the kept agent goes with its master. */
static void
test_server_killed (Fixture       *f,
                    gconstpointer  data)
{
  g_autofree char *helper = helper_path ();
  const char *argv[] = { helper, "serve", f->path, NULL };
  g_autoptr(GSubprocess) server = NULL;
  g_autoptr(MitogenContext) server_ctx = NULL;
  g_autoptr(MitogenContext) kept = NULL;
  g_autoptr(MitogenReceiver) sleeping = NULL;
  g_autoptr(MitogenMessage) reply = NULL;
  g_autoptr(GVariant) id = NULL;
  g_autoptr(GVariant) pid = NULL;
  g_autoptr(GError) error = NULL;
  gint64 start;

  server = g_subprocess_newv (argv, G_SUBPROCESS_FLAGS_NONE, &error);
  g_assert_no_error (error);
  for (int i = 0; i < 3000 && !g_file_test (f->path, G_FILE_TEST_EXISTS); i++)
    g_usleep (10000);

  /* The fixture's router is fresh: it attaches below the helper. */
  server_ctx = mitogen_router_connect_server (f->base.router, f->path, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (mitogen_router_get_context_id (f->base.router), !=, 0);
  id = mitogen_test_call_ok (server_ctx, "test.keep", NULL);
  kept = mitogen_router_context_by_id (f->base.router, g_variant_get_uint32 (id));
  pid = mitogen_test_call_ok (kept, "core.getpid", NULL);
  sleeping = mitogen_context_begin_call (kept, "core.sleep", g_variant_new ("(d)", 60.0));

  start = g_get_monotonic_time ();
  g_subprocess_force_exit (server);
  /* The receiver hears of the loss as a disconnected respondent. */
  reply = mitogen_receiver_get (sleeping, 30000, NULL, &error);
  g_assert_null (reply);
  g_assert_error (error, MITOGEN_ERROR, MITOGEN_ERROR_CHANNEL);
  g_assert_nonnull (strstr (error->message, "disconnected"));
  g_assert_cmpint (g_get_monotonic_time () - start, <, 20 * G_USEC_PER_SEC);
  g_assert_true (mitogen_test_wait_pid_gone (g_variant_get_int32 (pid), 30000));
  g_assert_true (g_subprocess_wait (server, NULL, NULL));
}

/* A context the listener keeps dies while a client waits on it: the
 * client hears of it (DEL_ROUTE from the listener) and its wait fails,
 * instead of waiting for ever. */
static void
test_kept_context_lost (Fixture       *f,
                        gconstpointer  data)
{
  g_autoptr(MitogenListener) listener = listen_ok (f);
  g_autoptr(MitogenBroker) broker = mitogen_broker_new ();
  g_autoptr(MitogenRouter) client = mitogen_router_new (broker);
  g_autoptr(MitogenContext) server_ctx = NULL;
  g_autoptr(MitogenContext) kept = NULL;
  g_autoptr(MitogenReceiver) sleeping = NULL;
  g_autoptr(MitogenMessage) reply = NULL;
  g_autoptr(GVariant) id = NULL;
  g_autoptr(GVariant) pid = NULL;
  g_autoptr(GError) error = NULL;

  server_ctx = mitogen_router_connect_server (client, f->path, NULL, &error);
  g_assert_no_error (error);
  id = mitogen_test_call_ok (server_ctx, "test.keep", NULL);
  kept = mitogen_router_context_by_id (client, g_variant_get_uint32 (id));
  pid = mitogen_test_call_ok (kept, "core.getpid", NULL);
  sleeping = mitogen_context_begin_call (kept, "core.sleep", g_variant_new ("(d)", 60.0));
  /* Asleep there, not merely sent: a ping queued behind it would wait. */
  g_usleep (G_USEC_PER_SEC / 10);
  g_assert_no_errno (kill (g_variant_get_int32 (pid), SIGKILL));

  reply = mitogen_receiver_get (sleeping, 30000, NULL, &error);
  g_assert_null (reply);
  g_assert_error (error, MITOGEN_ERROR, MITOGEN_ERROR_CHANNEL);
  /* The client's own link to the listener is untouched. */
  g_assert_cmpuint (mitogen_listener_get_n_clients (listener), ==, 1);
  mitogen_broker_shutdown (broker);
  mitogen_broker_join (broker);
  g_clear_object (&kept);
  g_clear_object (&serve_helper_kept);
}

/* A client router must be fresh: one that started contexts is refused. */
static void
test_client_not_fresh (Fixture       *f,
                       gconstpointer  data)
{
  g_autoptr(MitogenListener) listener = listen_ok (f);
  g_autoptr(MitogenContext) local = mitogen_test_local (f->base.router);
  g_autoptr(MitogenBroker) broker = mitogen_broker_new ();
  g_autoptr(MitogenRouter) client = mitogen_router_new (broker);
  g_autoptr(GError) error = NULL;
  g_autoptr(MitogenContext) server_ctx = NULL;

  g_assert_null (mitogen_router_connect_server (f->base.router, f->path, NULL, &error));
  g_assert_error (error, MITOGEN_ERROR, MITOGEN_ERROR_FAILED);
  g_clear_error (&error);
  server_ctx = mitogen_router_connect_server (client, f->path, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (mitogen_router_get_context_id (client), !=, 0);
  mitogen_broker_shutdown (broker);
  mitogen_broker_join (broker);
  mitogen_context_shutdown (local, 10000, NULL, NULL);
}

int
main (int    argc,
      char **argv)
{
  mitogen_test_init (&argc, &argv);
  TEST ("/serve/modes", test_modes);
  TEST ("/serve/kept", test_kept);
  TEST ("/serve/hostile", test_hostile);
  TEST ("/serve/other-uid", test_other_uid);
  TEST ("/serve/server-killed", test_server_killed);
  TEST ("/serve/kept-context-lost", test_kept_context_lost);
  TEST ("/serve/client-not-fresh", test_client_not_fresh);
  return g_test_run ();
}
