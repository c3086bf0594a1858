/* test-ssh.c: the ssh transport against a real OpenSSH sshd that this test
 * starts on 127.0.0.1, on a free port, with throwaway keys and its own
 * configuration, and stops at the end.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "mitogen-test-util.h"

static char *tmpdir;        /* keys, config, known_hosts, remote cache */
static guint sshd_port;
static GPid sshd_pid;
static char *skip_reason;   /* set when no sshd can run here */

static char *
path (const char *name)
{
  return g_build_filename (tmpdir, name, NULL);
}

static guint
free_port (void)
{
  struct sockaddr_in addr = { .sin_family = AF_INET, .sin_addr.s_addr = htonl (INADDR_LOOPBACK) };
  socklen_t len = sizeof addr;
  int fd = socket (AF_INET, SOCK_STREAM, 0);

  g_assert_cmpint (bind (fd, (struct sockaddr *) &addr, sizeof addr), ==, 0);
  g_assert_cmpint (getsockname (fd, (struct sockaddr *) &addr, &len), ==, 0);
  close (fd);
  return ntohs (addr.sin_port);
}

static gboolean
run (const char *command)
{
  int status = -1;

  return g_spawn_command_line_sync (command, NULL, NULL, &status, NULL) &&
         g_spawn_check_wait_status (status, NULL);
}

static void
keygen (const char *name)
{
  g_autofree char *file = path (name);
  g_autofree char *command = g_strdup_printf ("ssh-keygen -q -t ed25519 -N '' -f %s", file);

  g_assert_true (run (command));
}

static gboolean
port_open_on (const char *address,
              guint       port)
{
  struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons (port) };
  int fd = socket (AF_INET, SOCK_STREAM, 0);
  gboolean ok = inet_pton (AF_INET, address, &addr.sin_addr) == 1 &&
                connect (fd, (struct sockaddr *) &addr, sizeof addr) == 0;

  close (fd);
  return ok;
}

static gboolean
port_open (guint port)
{
  return port_open_on ("127.0.0.1", port);
}

static void
start_sshd (void)
{
  g_autofree char *config = NULL;
  g_autofree char *config_path = NULL;
  g_autofree char *pub = NULL;
  g_autofree char *known = NULL;
  g_autofree char *host_pub = NULL;
  g_autofree char *host_key = NULL;
  g_autofree char *user_pub = NULL;
  g_autofree char *authorized = NULL;
  g_autofree char *pid_file = NULL;
  g_autofree char *known_hosts = NULL;
  g_auto(GStrv) fields = NULL;
  const char *argv[] = { "/usr/sbin/sshd", "-D", "-e", "-f", NULL, NULL };
  g_autoptr(GError) error = NULL;

  if (!g_file_test ("/usr/sbin/sshd", G_FILE_TEST_IS_EXECUTABLE))
    {
      skip_reason = g_strdup ("no /usr/sbin/sshd (install openssh-server)");
      return;
    }
  if (getuid () != 0)
    {
      skip_reason = g_strdup ("the test sshd logs in as root: run as root");
      return;
    }
  tmpdir = g_dir_make_tmp ("mitogen-ssh-XXXXXX", &error);
  g_assert_no_error (error);
  host_pub = path ("host_key.pub");
  host_key = path ("host_key");
  user_pub = path ("id_user.pub");
  authorized = path ("authorized_keys");
  pid_file = path ("sshd.pid");
  known_hosts = path ("known_hosts");
  keygen ("host_key");
  keygen ("id_user");
  g_assert_true (g_file_get_contents (user_pub, &pub, NULL, NULL));
  g_assert_true (g_file_set_contents (authorized, pub, -1, NULL));
  g_mkdir_with_parents ("/run/sshd", 0755);

  sshd_port = free_port ();
  /* ::1 too where there is IPv6 loopback; sshd starts without it if not. */
  config = g_strdup_printf ("Port %u\nListenAddress 127.0.0.1\nListenAddress ::1\n"
                            "HostKey %s\nPidFile %s\nAuthorizedKeysFile %s\nUsePAM no\nStrictModes no\n"
                            "PermitRootLogin yes\nPasswordAuthentication yes\n"
                            "KbdInteractiveAuthentication no\nMaxStartups 200\n"
                            "MaxSessions 200\nListenAddress 127.0.0.2\n"
                            /* Sessions through 127.0.0.2 have no temporary directory. */
                            "Match LocalAddress 127.0.0.2\n  SetEnv TMPDIR=/proc/mitogen-no-tmp\n",
                            sshd_port, host_key, pid_file, authorized);
  config_path = path ("sshd_config");
  g_assert_true (g_file_set_contents (config_path, config, -1, NULL));

  argv[4] = config_path;
  g_assert_true (g_spawn_async (NULL, (char **) argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD |
                                G_SPAWN_STDOUT_TO_DEV_NULL | G_SPAWN_STDERR_TO_DEV_NULL,
                                NULL, NULL, &sshd_pid, &error));
  g_assert_no_error (error);
  for (int i = 0; i < 200 && !port_open (sshd_port); i++)
    g_usleep (10000);
  g_assert_true (port_open (sshd_port));

  g_free (pub);
  g_assert_true (g_file_get_contents (host_pub, &pub, NULL, NULL));
  fields = g_strsplit (pub, " ", 3);
  known = g_strdup_printf ("[127.0.0.1]:%u %s %s\n[::1]:%u %s %s\n", sshd_port, fields[0],
                           fields[1], sshd_port, fields[0], fields[1]);
  g_assert_true (g_file_set_contents (known_hosts, known, -1, NULL));
}

static void
stop_sshd (void)
{
  if (sshd_pid > 0)
    {
      kill (sshd_pid, SIGTERM);
      waitpid (sshd_pid, NULL, 0);
    }
  if (tmpdir != NULL)
    {
      g_autofree char *command = g_strdup_printf ("rm -rf %s", tmpdir);
      run (command);
    }
}

/* Options for this sshd; @known_hosts names a file in tmpdir. */
static GVariant *
options_full (const char *known_hosts,
              const char *mode,
              const char *cache)
{
  g_autofree char *id = path ("id_user");
  g_autofree char *kh = path (known_hosts);
  g_autofree char *cache_dir = path (cache);
  GVariantDict dict;

  g_variant_dict_init (&dict, NULL);
  g_variant_dict_insert (&dict, "hostname", "s", "127.0.0.1");
  g_variant_dict_insert (&dict, "port", "u", sshd_port);
  g_variant_dict_insert (&dict, "username", "s", "root");
  g_variant_dict_insert (&dict, "identity_file", "s", id);
  g_variant_dict_insert (&dict, "known_hosts_file", "s", kh);
  g_variant_dict_insert (&dict, "check_host_keys", "s", mode);
  g_variant_dict_insert (&dict, "remote_cache_dir", "s", cache_dir);
  g_variant_dict_insert (&dict, "connect_timeout", "d", 20.0);
  return g_variant_dict_end (&dict);
}

static GVariant *
options (void)
{
  return options_full ("known_hosts", "enforce", "cache");
}

/* Starts @dict from a (floating) base set of options. */
static void
dict_from (GVariantDict *dict,
           GVariant     *base)
{
  g_variant_ref_sink (base);
  g_variant_dict_init (dict, base);
  g_variant_unref (base);
}

#define SKIP_WITHOUT_SSHD() \
  G_STMT_START { if (skip_reason != NULL) { g_test_skip (skip_reason); return; } } G_STMT_END

static char *
cached_agent (const char *cache)
{
  g_autofree char *dir = path (cache);
  g_autoptr(GDir) d = g_dir_open (dir, 0, NULL);
  const char *name;

  while (d != NULL && (name = g_dir_read_name (d)) != NULL)
    if (g_str_has_prefix (name, "agent-"))
      return g_build_filename (dir, name, NULL);
  return NULL;
}

static void
test_key_auth_and_cache (MitogenTestFixture *fixture,
                         gconstpointer       data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MitogenContext) ctx = NULL;
  g_autoptr(MitogenContext) again = NULL;
  g_autoptr(GVariant) pid = NULL;
  g_autofree char *cached = NULL;
  struct stat before, after;

  SKIP_WITHOUT_SSHD ();
  ctx = mitogen_router_connect_context (fixture->router, "ssh", options (), NULL, NULL, &error);
  g_assert_no_error (error);
  pid = mitogen_context_call (ctx, "core.getpid", NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_variant_get_int32 (pid), !=, getpid ());
  g_assert_cmpint (g_variant_get_int32 (pid), !=, sshd_pid);

  /* Cold: the agent was uploaded into the cache under its hash. */
  cached = cached_agent ("cache");
  g_assert_nonnull (cached);
  g_assert_cmpint (g_stat (cached, &before), ==, 0);
  g_assert_true (before.st_mode & S_IXUSR);

  /* Warm: the same file is used again, not rewritten. */
  g_usleep (20000);
  again = mitogen_router_connect_context (fixture->router, "ssh", options (), NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_stat (cached, &after), ==, 0);
  g_assert_cmpint (after.st_ino, ==, before.st_ino);
  g_assert_cmpint (after.st_mtime, ==, before.st_mtime);
}

static void
test_corrupt_cache_replaced (MitogenTestFixture *fixture,
                             gconstpointer       data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MitogenContext) ctx = NULL;
  g_autoptr(MitogenContext) again = NULL;
  g_autoptr(GVariant) v = NULL;
  g_autofree char *cached = NULL;
  g_autofree char *contents = NULL;

  SKIP_WITHOUT_SSHD ();
  ctx = mitogen_router_connect_context (fixture->router, "ssh", options_full ("known_hosts", "enforce", "cache2"),
                                NULL, NULL, &error);
  g_assert_no_error (error);
  cached = cached_agent ("cache2");
  g_assert_nonnull (cached);
  g_assert_true (g_file_set_contents (cached, "#!/bin/sh\necho corrupt\n", -1, NULL));
  g_assert_cmpint (g_chmod (cached, 0700), ==, 0);

  again = mitogen_router_connect_context (fixture->router, "ssh", options_full ("known_hosts", "enforce", "cache2"),
                                  NULL, NULL, &error);
  g_assert_no_error (error);
  v = mitogen_context_call (again, "core.ping", NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (g_file_get_contents (cached, &contents, NULL, NULL));
  g_assert_null (strstr (contents, "corrupt"));
}

/* An agent with no plugin directory in reach still answers over SSH: its
 * serializer and what it needs to start are built in. The session's
 * environment has no MITOGEN_PLUGIN_PATH (sshd passes none), the bootstrap
 * names an empty directory, the agent runs from the remote cache, not the
 * build tree; and it maps no plugin file. */
static void
test_no_plugin_dir (MitogenTestFixture *fixture,
                    gconstpointer       data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MitogenContext) ctx = NULL;
  g_autoptr(GVariant) pong = NULL;
  g_autoptr(GVariant) env = NULL;
  g_autoptr(GVariant) seen = NULL;
  g_autofree char *empty = NULL;
  g_autofree char *maps_file = NULL;
  g_autofree char *maps = NULL;
  GVariantDict dict;

  SKIP_WITHOUT_SSHD ();
  empty = path ("no-plugins");
  g_assert_cmpint (g_mkdir (empty, 0700), ==, 0);
  dict_from (&dict, options_full ("known_hosts", "enforce", "cache-no-plugins"));
  g_variant_dict_insert (&dict, "plugin_path", "s", empty);
  ctx = mitogen_router_connect_context (fixture->router, "ssh", g_variant_dict_end (&dict),
                                        NULL, NULL, &error);
  g_assert_no_error (error);
  pong = mitogen_context_call (ctx, "core.ping", NULL, NULL, &error);
  g_assert_no_error (error);

  env = mitogen_context_call (ctx, "core.getenv", g_variant_new ("(s)", "MITOGEN_PLUGIN_PATH"),
                              NULL, &error);
  g_assert_no_error (error);
  seen = g_variant_get_maybe (env);
  g_assert_nonnull (seen);
  g_assert_cmpstr (g_variant_get_string (seen, NULL), ==, empty);

  maps_file = g_strdup_printf ("/proc/%d/maps", mitogen_test_context_pid (ctx));
  g_assert_true (g_file_get_contents (maps_file, &maps, NULL, NULL));
  g_assert_null (strstr (maps, "/mitogen-serializer-"));
  g_assert_null (strstr (maps, "/mitogen-transport-"));
  g_assert_nonnull (strstr (maps, "/cache-no-plugins/agent-"));
}

/* The agent's MITOGEN_PLUGIN_PATH, or NULL. */
static char *
context_plugin_path (MitogenContext *ctx)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) env = mitogen_context_call (ctx, "core.getenv",
                                                  g_variant_new ("(s)", MITOGEN_PLUGIN_PATH_ENV),
                                                  NULL, &error);
  g_autoptr(GVariant) value = NULL;

  g_assert_no_error (error);
  value = g_variant_get_maybe (env);
  return value != NULL ? g_variant_dup_string (value, NULL) : NULL;
}

/* Has @ctx start a context with the "planted" transport; returns the error. */
static char *
connect_planted_via (MitogenRouter  *router,
                     MitogenContext *ctx)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MitogenContext) child = mitogen_router_connect_context (router, "planted", NULL, ctx,
                                                                    NULL, &error);

  g_assert_null (child);
  g_assert_nonnull (error);
  return g_strdup (error->message);
}

static gboolean
maps_contain (MitogenContext *ctx,
              const char     *needle)
{
  g_autofree char *maps_file = g_strdup_printf ("/proc/%d/maps", mitogen_test_context_pid (ctx));
  g_autofree char *maps = NULL;

  g_assert_true (g_file_get_contents (maps_file, &maps, NULL, NULL));
  return strstr (maps, needle) != NULL;
}

/* Paths of the master's machine mean nothing on another host, or worse:
 * whoever can write there decides what they hold. The master's
 * MITOGEN_PLUGIN_PATH goes to hops on this machine only. Here the other
 * host is this machine, so the plugin planted at the master's path is
 * there for an ssh agent to find, if it were told to look. */
static void
test_plugin_path_stays_home (MitogenTestFixture *fixture,
                             gconstpointer       data)
{
  g_autofree char *planted = NULL;
  g_autofree char *planted_file = NULL;
  g_autofree char *contents = NULL;
  g_autofree char *saved = g_strdup (g_getenv (MITOGEN_PLUGIN_PATH_ENV));
  g_autofree char *master_path = NULL;
  g_autofree char *seen = NULL;
  g_autofree char *why = NULL;
  g_autoptr(MitogenContext) local = NULL;
  g_autoptr(MitogenContext) remote = NULL;
  g_autoptr(MitogenContext) remote_local = NULL;
  g_autoptr(MitogenTransport) local_transport = mitogen_transport_lookup ("local", NULL);
  g_autoptr(MitogenTransport) ssh_transport = mitogen_transport_lookup ("ssh", NULL);
  g_autoptr(GError) error = NULL;
  gsize len;

  SKIP_WITHOUT_SSHD ();
  g_assert_nonnull (saved);
  planted = path ("planted");
  planted_file = g_build_filename (planted, "mitogen-transport-planted.so", NULL);
  g_assert_cmpint (g_mkdir (planted, 0700), ==, 0);
  g_assert_true (g_file_get_contents (g_getenv ("MITOGEN_TEST_PLANTED_PLUGIN"), &contents, &len, NULL));
  g_assert_true (g_file_set_contents (planted_file, contents, len, NULL));

  /* This process keeps the plugin directories it started with. */
  mitogen_plugins_ensure_loaded ();
  master_path = g_strjoin (":", planted, saved, NULL);
  g_setenv (MITOGEN_PLUGIN_PATH_ENV, master_path, TRUE);
  local = mitogen_router_connect_context (fixture->router, "local", NULL, NULL, NULL, &error);
  g_assert_no_error (error);
  remote = mitogen_router_connect_context (fixture->router, "ssh",
                                           options_full ("known_hosts", "enforce", "cache-planted"),
                                           NULL, NULL, &error);
  g_assert_no_error (error);
  g_setenv (MITOGEN_PLUGIN_PATH_ENV, saved, TRUE);

  g_assert_false (mitogen_transport_crosses_host (local_transport));
  g_assert_true (mitogen_transport_crosses_host (ssh_transport));

  /* A hop on this machine is told the path, and finds the plugin there:
   * the check below would see it loaded. */
  seen = context_plugin_path (local);
  g_assert_cmpstr (seen, ==, master_path);
  why = connect_planted_via (fixture->router, local);
  g_assert_nonnull (strstr (why, "the planted plugin ran"));
  g_assert_true (maps_contain (local, "/planted/mitogen-transport-planted.so"));
  g_clear_pointer (&seen, g_free);
  g_clear_pointer (&why, g_free);

  /* The ssh hop is told nothing, loads nothing from there, and the
   * transport it lacks comes from the master, which has none. */
  seen = context_plugin_path (remote);
  g_assert_null (seen);
  why = connect_planted_via (fixture->router, remote);
  g_assert_null (strstr (why, "the planted plugin ran"));
  g_assert_nonnull (strstr (why, "planted"));
  g_assert_false (maps_contain (remote, "/planted/"));

  /* Nor does the remote agent pass the master's path on to its own hops. */
  remote_local = mitogen_router_connect_context (fixture->router, "local", NULL, remote, NULL, &error);
  g_assert_no_error (error);
  seen = context_plugin_path (remote_local);
  g_assert_null (seen);
}

static void
expect_connect_error (MitogenRouter *router,
                      GVariant      *opts,
                      int            code,
                      const char    *needle)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MitogenContext) ctx = mitogen_router_connect_context (router, "ssh", opts, NULL, NULL, &error);

  g_assert_null (ctx);
  g_assert_error (error, MITOGEN_ERROR, code);
  g_assert_nonnull (strstr (error->message, needle));
  g_assert_nonnull (strstr (error->message, "127.0.0.1"));
}

static void
test_host_keys (MitogenTestFixture *fixture,
                gconstpointer       data)
{
  g_autofree char *empty = NULL;
  g_autofree char *wrong = NULL;
  g_autofree char *other_pub = NULL;
  g_autofree char *line = NULL;
  g_autofree char *learned = NULL;
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) fields = NULL;

  SKIP_WITHOUT_SSHD ();
  empty = path ("kh-empty");
  g_assert_true (g_file_set_contents (empty, "", -1, NULL));

  /* Unknown key: refused under enforce, naming the host. */
  expect_connect_error (fixture->router, options_full ("kh-empty", "enforce", "cache"),
                        MITOGEN_ERROR_AUTH, "unknown");

  /* accept-new learns it... */
  {
    g_autoptr(MitogenContext) ctx = mitogen_router_connect_context (fixture->router, "ssh",
        options_full ("kh-empty", "accept-new", "cache"), NULL, NULL, &error);
    g_assert_no_error (error);
  }
  g_assert_true (g_file_get_contents (empty, &learned, NULL, NULL));
  g_assert_nonnull (strstr (learned, "ssh-ed25519"));
  /* ...and then enforce accepts it. */
  {
    g_autoptr(MitogenContext) ctx = mitogen_router_connect_context (fixture->router, "ssh",
        options_full ("kh-empty", "enforce", "cache"), NULL, NULL, &error);
    g_assert_no_error (error);
  }

  /* A changed key is refused under enforce and accept-new alike. */
  keygen ("other_key");
  other_pub = path ("other_key.pub");
  g_assert_true (g_file_get_contents (other_pub, &line, NULL, NULL));
  fields = g_strsplit (line, " ", 3);
  g_free (line);
  line = g_strdup_printf ("[127.0.0.1]:%u %s %s\n", sshd_port, fields[0], fields[1]);
  wrong = path ("kh-wrong");
  g_assert_true (g_file_set_contents (wrong, line, -1, NULL));
  expect_connect_error (fixture->router, options_full ("kh-wrong", "enforce", "cache"),
                        MITOGEN_ERROR_AUTH, "CHANGED");
  expect_connect_error (fixture->router, options_full ("kh-wrong", "accept-new", "cache"),
                        MITOGEN_ERROR_AUTH, "CHANGED");

  /* ignore connects whatever the file says. */
  {
    g_autoptr(MitogenContext) ctx = mitogen_router_connect_context (fixture->router, "ssh",
        options_full ("kh-wrong", "ignore", "cache"), NULL, NULL, &error);
    g_assert_no_error (error);
  }
}

static void
test_connection_refused (MitogenTestFixture *fixture,
                         gconstpointer       data)
{
  GVariantDict dict;

  SKIP_WITHOUT_SSHD ();
  dict_from (&dict, options ());
  g_variant_dict_insert (&dict, "port", "u", free_port ());
  expect_connect_error (fixture->router, g_variant_dict_end (&dict), MITOGEN_ERROR_STREAM,
                        "connect");
}

/* A host that takes the TCP connection and never speaks SSH: the connect
 * runs out of time, and says so with MITOGEN_ERROR_TIMEOUT. */
static void
test_connect_timeout (MitogenTestFixture *fixture,
                      gconstpointer       data)
{
  struct sockaddr_in addr = { .sin_family = AF_INET, .sin_addr.s_addr = htonl (INADDR_LOOPBACK) };
  socklen_t len = sizeof addr;
  int listener = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  GVariantDict dict;
  gint64 start;

  SKIP_WITHOUT_SSHD ();
  g_assert_cmpint (bind (listener, (struct sockaddr *) &addr, sizeof addr), ==, 0);
  g_assert_cmpint (listen (listener, 8), ==, 0);
  g_assert_cmpint (getsockname (listener, (struct sockaddr *) &addr, &len), ==, 0);

  dict_from (&dict, options ());
  g_variant_dict_insert (&dict, "port", "u", (guint32) ntohs (addr.sin_port));
  g_variant_dict_insert (&dict, "connect_timeout", "d", 1.0);
  start = g_get_monotonic_time ();
  expect_connect_error (fixture->router, g_variant_dict_end (&dict), MITOGEN_ERROR_TIMEOUT,
                        "connect");
  g_assert_cmpint (g_get_monotonic_time () - start, <, 20 * G_USEC_PER_SEC);
  close (listener);
}

/* Writes an OpenSSH client config with the alias "mwalias" for this sshd,
 * and returns its path. */
static char *
write_alias_config (void)
{
  g_autofree char *id = path ("id_user");
  g_autofree char *config = g_strdup_printf ("Host mwalias\n  HostName 127.0.0.1\n  Port %u\n"
                                             "  User root\n  IdentityFile %s\n",
                                             sshd_port, id);
  char *file = path ("ssh_config");

  g_assert_true (g_file_set_contents (file, config, -1, NULL));
  return file;
}

/* An alias from the ssh config brings its HostName, Port, User and
 * IdentityFile (only that key is authorized here); an option given
 * explicitly still wins over the config. */
static void
test_ssh_config_alias (MitogenTestFixture *fixture,
                       gconstpointer       data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MitogenContext) ctx = NULL;
  g_autoptr(GVariant) pong = NULL;
  g_autofree char *config = NULL;
  g_autofree char *needle = NULL;
  g_autoptr(MitogenContext) refused = NULL;
  guint closed_port;
  GVariantDict dict;

  SKIP_WITHOUT_SSHD ();
  config = write_alias_config ();
  dict_from (&dict, options ());
  g_variant_dict_insert (&dict, "hostname", "s", "mwalias");
  g_variant_dict_insert (&dict, "ssh_config_file", "s", config);
  g_variant_dict_remove (&dict, "port");
  g_variant_dict_remove (&dict, "username");
  g_variant_dict_remove (&dict, "identity_file");
  ctx = mitogen_router_connect_context (fixture->router, "ssh", g_variant_dict_end (&dict),
                                        NULL, NULL, &error);
  g_assert_no_error (error);
  pong = mitogen_context_call (ctx, "core.ping", NULL, NULL, &error);
  g_assert_no_error (error);

  closed_port = free_port ();
  dict_from (&dict, options ());
  g_variant_dict_insert (&dict, "hostname", "s", "mwalias");
  g_variant_dict_insert (&dict, "ssh_config_file", "s", config);
  g_variant_dict_insert (&dict, "port", "u", closed_port);
  refused = mitogen_router_connect_context (fixture->router, "ssh", g_variant_dict_end (&dict),
                                            NULL, NULL, &error);
  g_assert_null (refused);
  g_assert_error (error, MITOGEN_ERROR, MITOGEN_ERROR_STREAM);
  needle = g_strdup_printf ("mwalias:%u", closed_port);
  g_assert_nonnull (strstr (error->message, needle));
}

static gboolean
ipv6_port_open (guint port)
{
  struct sockaddr_in6 addr = { .sin6_family = AF_INET6, .sin6_port = htons (port),
                               .sin6_addr = IN6ADDR_LOOPBACK_INIT };
  int fd = socket (AF_INET6, SOCK_STREAM, 0);
  gboolean ok = fd >= 0 && connect (fd, (struct sockaddr *) &addr, sizeof addr) == 0;

  if (fd >= 0)
    close (fd);
  return ok;
}

/* The sshd over IPv6 loopback, with the host key known as [::1]:port. */
static void
test_ipv6 (MitogenTestFixture *fixture,
           gconstpointer       data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MitogenContext) ctx = NULL;
  g_autoptr(GVariant) pong = NULL;
  GVariantDict dict;

  SKIP_WITHOUT_SSHD ();
  if (!ipv6_port_open (sshd_port))
    {
      g_test_skip ("the test sshd does not listen on [::1] (no IPv6 loopback here)");
      return;
    }
  dict_from (&dict, options ());
  g_variant_dict_insert (&dict, "hostname", "s", "::1");
  ctx = mitogen_router_connect_context (fixture->router, "ssh", g_variant_dict_end (&dict),
                                        NULL, NULL, &error);
  g_assert_no_error (error);
  pong = mitogen_context_call (ctx, "core.ping", NULL, NULL, &error);
  g_assert_no_error (error);
}

static int
parent_of (int pid)
{
  g_autofree char *file = g_strdup_printf ("/proc/%d/stat", pid);
  g_autofree char *contents = NULL;
  int ppid = -1;

  if (g_file_get_contents (file, &contents, NULL, NULL))
    sscanf (strrchr (contents, ')') + 2, "%*c %d", &ppid);
  return ppid;
}

static void
test_killed_session_fails_calls (MitogenTestFixture *fixture,
                                 gconstpointer       data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MitogenContext) ctx = NULL;
  g_autoptr(MitogenReceiver) pending = NULL;
  g_autoptr(MitogenMessage) msg = NULL;
  gint64 start;
  int agent, session;

  SKIP_WITHOUT_SSHD ();
  ctx = mitogen_router_connect_context (fixture->router, "ssh", options (), NULL, NULL, &error);
  g_assert_no_error (error);
  agent = mitogen_test_context_pid (ctx);
  session = parent_of (agent);
  g_assert_cmpint (session, >, 1);

  pending = mitogen_context_begin_call (ctx, "core.sleep", g_variant_new ("(d)", 30.0));
  g_usleep (50000);
  /* The sshd process serving this session dies: the channel is gone. */
  g_assert_cmpint (kill (session, SIGKILL), ==, 0);
  start = g_get_monotonic_time ();
  msg = mitogen_receiver_get (pending, 10000, NULL, &error);
  g_assert_null (msg);
  g_assert_error (error, MITOGEN_ERROR, MITOGEN_ERROR_CHANNEL);
  g_assert_cmpint (g_get_monotonic_time () - start, <, 5 * G_USEC_PER_SEC);
  /* And the agent on the host exits with its stream. */
  g_assert_true (mitogen_test_wait_pid_gone (agent, 5000));
}

/* A host that stops answering while the TCP connection stays up (here its
 * sshd session process is stopped) is noticed by the keepalives: the
 * stream closes and a pending call fails, long before TCP would give up. */
static void
test_hung_host_detected (MitogenTestFixture *fixture,
                         gconstpointer       data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MitogenContext) ctx = NULL;
  g_autoptr(MitogenReceiver) pending = NULL;
  g_autoptr(MitogenMessage) msg = NULL;
  GVariantDict dict;
  gint64 start;
  int agent, session;

  SKIP_WITHOUT_SSHD ();
  dict_from (&dict, options ());
  g_variant_dict_insert (&dict, "keepalive_interval", "u", 1);
  g_variant_dict_insert (&dict, "keepalive_count_max", "u", 2);
  ctx = mitogen_router_connect_context (fixture->router, "ssh", g_variant_dict_end (&dict),
                                        NULL, NULL, &error);
  g_assert_no_error (error);
  agent = mitogen_test_context_pid (ctx);
  session = parent_of (agent);
  g_assert_cmpint (session, >, 1);

  pending = mitogen_context_begin_call (ctx, "core.sleep", g_variant_new ("(d)", 60.0));
  g_assert_cmpint (kill (session, SIGSTOP), ==, 0);
  start = g_get_monotonic_time ();
  msg = mitogen_receiver_get (pending, 30000, NULL, &error);
  g_assert_null (msg);
  g_assert_error (error, MITOGEN_ERROR, MITOGEN_ERROR_CHANNEL);
  g_assert_cmpint (g_get_monotonic_time () - start, <, 20 * G_USEC_PER_SEC);

  kill (session, SIGKILL);
  kill (session, SIGCONT);
  g_assert_true (mitogen_test_wait_pid_gone (agent, 10000));
}

/* ---- a cut network (MITOGEN_TEST_SYSTEM=1) ------------------------------
 *
 * Packets to and from this sshd's port on lo vanish: a root htb qdisc
 * sends that port's packets (u32 filters on either port) to a class whose
 * pfifo holds none, and everything else straight through, so tests
 * running beside this one on lo are not touched. htb, pfifo and u32 are
 * what this needs of the kernel (no drop action: not every kernel has
 * act_gact). The qdisc is removed by a guard process, never by the test:
 * the guard waits for the end of a pipe whose other end only this process
 * holds, so it removes the qdisc however the test ends, by a failed
 * assertion, a crash or a SIGKILL from the test harness. */

typedef struct
{
  GPid guard;       /* removes the qdisc once @guard_pipe closes */
  int  guard_pipe;  /* owned; close-on-exec */
} NetworkCut;

/* Runs tc with @args (split on spaces); FALSE with tc's own words. */
static gboolean
tc (const char  *args,
    char       **why)
{
  g_autofree char *command = g_strdup_printf ("tc %s", args);
  g_autofree char *err = NULL;
  int status = -1;

  if (!g_spawn_command_line_sync (command, NULL, &err, &status, NULL) ||
      !g_spawn_check_wait_status (status, NULL))
    {
      *why = g_strdup_printf ("'%s' failed: %s", command,
                              err != NULL ? g_strstrip (err) : "could not run it");
      return FALSE;
    }
  return TRUE;
}

static void
guard_setup (gpointer data)
{
  /* Out of the test's process group: a harness that kills the group on
   * a timeout leaves the guard to clean up. */
  setsid ();
}

static void
heal_network (NetworkCut *cut)
{
  int status = 0;

  close (cut->guard_pipe);
  waitpid (cut->guard, &status, 0);
  g_free (cut);
}

/* Cuts @port on lo, or returns NULL with why it could not. */
static NetworkCut *
cut_network (guint    port,
             char   **why)
{
  const char *argv[] = { "/bin/sh", "-c", "read _; exec tc qdisc del dev lo root handle 1:", NULL };
  g_autoptr(GError) error = NULL;
  g_autofree char *tc_path = g_find_program_in_path ("tc");
  NetworkCut *cut;

  if (tc_path == NULL)
    {
      *why = g_strdup ("no tc in PATH (install iproute2)");
      return NULL;
    }
  /* Fails when lo has a root qdisc already: not ours to replace. */
  if (!tc ("qdisc add dev lo root handle 1: htb", why))
    return NULL;
  cut = g_new0 (NetworkCut, 1);
  if (!g_spawn_async_with_pipes (NULL, (char **) argv, NULL,
                                 G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_STDOUT_TO_DEV_NULL |
                                 G_SPAWN_STDERR_TO_DEV_NULL,
                                 guard_setup, NULL, &cut->guard, &cut->guard_pipe, NULL, NULL,
                                 &error))
    {
      *why = g_strdup_printf ("no guard process: %s", error->message);
      g_free (cut);
      tc ("qdisc del dev lo root handle 1:", why);
      return NULL;
    }
  g_assert_cmpint (fcntl (cut->guard_pipe, F_SETFD, FD_CLOEXEC), ==, 0);

  g_autofree char *to = g_strdup_printf ("filter add dev lo parent 1: protocol ip prio 1 u32 "
                                         "match ip dport %u 0xffff flowid 1:10", port);
  g_autofree char *from = g_strdup_printf ("filter add dev lo parent 1: protocol ip prio 1 u32 "
                                           "match ip sport %u 0xffff flowid 1:10", port);
  if (!tc ("class add dev lo parent 1: classid 1:10 htb rate 8bit quantum 1514", why) ||
      !tc ("qdisc add dev lo parent 1:10 handle 10: pfifo limit 0", why) ||
      !tc (to, why) || !tc (from, why))
    {
      heal_network (cut);
      return NULL;
    }
  return cut;
}

typedef struct
{
  gboolean  done;
  GVariant *result;   /* owned, nullable */
  GError   *error;    /* owned, nullable */
} CallDone;

static void
call_done (GObject      *source,
           GAsyncResult *result,
           gpointer      data)
{
  CallDone *done = data;

  done->result = mitogen_context_call_with_timeout_finish (MITOGEN_CONTEXT (source), result,
                                                           &done->error);
  done->done = TRUE;
}

/* A network cut while a call runs: the keepalives go unanswered and the
 * call fails with a clear error, long before TCP would give up (15 min).
 * With MITOGEN_TEST_NETCUT_DEFAULTS=1 the transport's default keepalives
 * (10 s, 3 missed: 40 s) are measured instead of 2 s. */
static void
test_network_cut (MitogenTestFixture *fixture,
                  gconstpointer       data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MitogenContext) ctx = NULL;
  g_autoptr(GVariant) pong = NULL;
  g_autofree char *why = NULL;
  g_autofree char *expected = NULL;
  CallDone done = { 0, };
  gboolean defaults = g_strcmp0 (g_getenv ("MITOGEN_TEST_NETCUT_DEFAULTS"), "1") == 0;
  guint interval = defaults ? 10 : 2;
  NetworkCut *cut;
  GVariantDict dict;
  gint64 start, took;
  int agent;

  SKIP_WITHOUT_SSHD ();
  if (g_strcmp0 (g_getenv ("MITOGEN_TEST_SYSTEM"), "1") != 0)
    {
      g_test_skip ("set MITOGEN_TEST_SYSTEM=1 to cut this sshd's port on lo with tc");
      return;
    }
  dict_from (&dict, options ());
  if (!defaults)
    g_variant_dict_insert (&dict, "keepalive_interval", "u", interval);
  ctx = mitogen_router_connect_context (fixture->router, "ssh", g_variant_dict_end (&dict),
                                        NULL, NULL, &error);
  g_assert_no_error (error);
  agent = mitogen_test_context_pid (ctx);
  pong = mitogen_context_call (ctx, "core.ping", NULL, NULL, &error);
  g_assert_no_error (error);

  /* The deadline only keeps a broken test from hanging: the keepalives
   * must end the call long before. */
  mitogen_context_call_with_timeout_async (ctx, "core.sleep", g_variant_new ("(d)", 300.0),
                                           150 * 1000, NULL, call_done, &done);
  cut = cut_network (sshd_port, &why);
  if (cut == NULL)
    {
      g_test_skip (why);
      kill (agent, SIGKILL);
      mitogen_test_iterate_until (&done.done, 10000);
      g_clear_error (&done.error);
      return;
    }
  start = g_get_monotonic_time ();
  mitogen_test_iterate_until (&done.done, 160 * 1000);
  took = g_get_monotonic_time () - start;
  heal_network (cut);
  /* The agent here sleeps on behind a session that may take a while to
   * hear of the close: it is this host's, so end it. */
  kill (agent, SIGKILL);

  g_test_message ("keepalive every %u s, 3 missed: the call failed %.1f s after the cut: %s",
                  interval, took / (double) G_USEC_PER_SEC,
                  done.error != NULL ? done.error->message : "-");
  g_assert_true (done.done);
  g_assert_null (done.result);
  g_assert_error (done.error, MITOGEN_ERROR, MITOGEN_ERROR_CHANNEL);
  expected = g_strdup_printf ("call to core.sleep in %s failed: the respondent context "
                              "has disconnected", mitogen_context_get_name (ctx));
  g_assert_cmpstr (done.error->message, ==, expected);
  g_clear_error (&done.error);
  g_assert_false (mitogen_context_is_connected (ctx));
  /* Three keepalives one interval apart, then the close: about four
   * intervals, and never past a minute and a bit. */
  g_assert_cmpint (took, >=, (gint64) 3 * interval * G_USEC_PER_SEC);
  g_assert_cmpint (took, <, (gint64) (4 * interval + 10) * G_USEC_PER_SEC);
}

static void
connected (GObject      *source,
           GAsyncResult *result,
           gpointer      data)
{
  GPtrArray *contexts = data;
  g_autoptr(GError) error = NULL;
  MitogenContext *ctx = mitogen_router_connect_context_finish (MITOGEN_ROUTER (source), result, &error);

  g_assert_no_error (error);
  g_ptr_array_add (contexts, ctx);
}

static void
test_ten_at_once (MitogenTestFixture *fixture,
                  gconstpointer       data)
{
  g_autoptr(GPtrArray) contexts = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GHashTable) pids = g_hash_table_new (NULL, NULL);
  gint64 deadline = g_get_monotonic_time () + 60 * G_USEC_PER_SEC;

  SKIP_WITHOUT_SSHD ();
  for (int i = 0; i < 10; i++)
    mitogen_router_connect_context_async (fixture->router, "ssh", options_full ("known_hosts", "enforce", "cache10"),
                                  NULL, NULL, connected, contexts);
  while (contexts->len < 10 && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, TRUE);
  g_assert_cmpuint (contexts->len, ==, 10);
  for (guint i = 0; i < contexts->len; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GVariant) v = mitogen_context_call (contexts->pdata[i], "core.getpid", NULL, NULL, &error);

      g_assert_no_error (error);
      g_hash_table_add (pids, GINT_TO_POINTER (g_variant_get_int32 (v)));
    }
  g_assert_cmpuint (g_hash_table_size (pids), ==, 10);
}

/* ---- one pump thread for every session ---------------------------------- */

/* Threads of this process, and how many of them are the ssh pump. */
static guint
count_threads (guint *pumps)
{
  g_autoptr(GDir) dir = g_dir_open ("/proc/self/task", 0, NULL);
  const char *name;
  guint n = 0;

  *pumps = 0;
  while ((name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *file = g_strdup_printf ("/proc/self/task/%s/comm", name);
      g_autofree char *comm = NULL;

      n++;
      if (g_file_get_contents (file, &comm, NULL, NULL) && g_str_has_prefix (comm, "mitogen-sshpump"))
        (*pumps)++;
    }
  return n;
}

/* The thread count once GLib's pool threads, started by the connects,
 * have ended: the same for 3 s running (or the last seen after 60 s). */
static guint
settled_threads (guint *pumps)
{
  gint64 deadline = g_get_monotonic_time () + 60 * G_USEC_PER_SEC;
  guint last = count_threads (pumps), same = 0;

  while (same < 30 && g_get_monotonic_time () < deadline)
    {
      guint now;

      g_usleep (100 * 1000);
      now = count_threads (pumps);
      same = now == last ? same + 1 : 0;
      last = now;
    }
  return last;
}

static guint
count_fds (void)
{
  g_autoptr(GDir) dir = g_dir_open ("/proc/self/fd", 0, NULL);
  guint n = 0;

  while (g_dir_read_name (dir) != NULL)
    n++;
  return n;
}

/* Connects @n more contexts to the test sshd at once into @contexts. */
static void
connect_many (MitogenRouter *router,
              GPtrArray     *contexts,
              guint          n)
{
  guint want = contexts->len + n;
  gint64 deadline = g_get_monotonic_time () + 180 * G_USEC_PER_SEC;

  for (guint i = 0; i < n; i++)
    mitogen_router_connect_context_async (router, "ssh", options_full ("known_hosts", "enforce", "cache-many"),
                                          NULL, NULL, connected, contexts);
  while (contexts->len < want && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, TRUE);
  g_assert_cmpuint (contexts->len, ==, want);
}

/* Forty SSH contexts cost the master no more threads than two: one pump
 * thread moves the bytes of every session. */
static void
test_forty_one_pump (MitogenTestFixture *fixture,
                     gconstpointer       data)
{
  g_autoptr(GPtrArray) contexts = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GHashTable) pids = g_hash_table_new (NULL, NULL);
  guint with_two, with_forty, pumps;

  SKIP_WITHOUT_SSHD ();
  connect_many (fixture->router, contexts, 2);
  with_two = settled_threads (&pumps);
  connect_many (fixture->router, contexts, 38);
  for (guint i = 0; i < contexts->len; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GVariant) v = mitogen_context_call (contexts->pdata[i], "core.getpid", NULL, NULL, &error);

      g_assert_no_error (error);
      g_hash_table_add (pids, GINT_TO_POINTER (g_variant_get_int32 (v)));
    }
  g_assert_cmpuint (g_hash_table_size (pids), ==, 40);
  with_forty = settled_threads (&pumps);
  g_test_message ("master threads: %u with 2 ssh contexts, %u with 40", with_two, with_forty);
  /* GLib keeps up to two idle pool threads around for a while. */
  g_assert_cmpuint (with_forty, <=, with_two + 2);
  g_assert_cmpuint (pumps, ==, 1);
}

/* Sends @data (a context) 16 MiB through core.echo and returns the echo's
 * length, or 0. A thread of its own: the engine holds a sender back while
 * the stream's queue is full, as it will be. */
static gpointer
push_sixteen_mib (gpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree guint8 *payload = g_malloc0 (16 << 20);
  g_autoptr(GVariant) echo = NULL;
  GVariant *arg = g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, payload, 16 << 20, 1);

  echo = mitogen_context_call (data, "core.echo", g_variant_new ("(@ay)", arg), NULL, &error);
  g_assert_no_error (error);
  return GSIZE_TO_POINTER (g_variant_get_size (echo));
}

/* A context whose agent stops while replies stream from it, and while the
 * master has more for it than the channel's window takes, holds up no
 * other context; once it goes on, its calls complete. */
static void
test_stopped_host_blocks_nobody (MitogenTestFixture *fixture,
                                 gconstpointer       data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MitogenContext) stuck = NULL;
  g_autoptr(MitogenContext) other = NULL;
  g_autoptr(MitogenReceiver) flood = NULL;
  g_autoptr(MitogenMessage) reply = NULL;
  GThread *push;
  gint64 start, slowest = 0;
  int agent;

  SKIP_WITHOUT_SSHD ();
  stuck = mitogen_router_connect_context (fixture->router, "ssh", options (), NULL, NULL, &error);
  g_assert_no_error (error);
  other = mitogen_router_connect_context (fixture->router, "ssh", options (), NULL, NULL, &error);
  g_assert_no_error (error);
  agent = mitogen_test_context_pid (stuck);

  flood = mitogen_context_begin_call (stuck, "core.zeros", g_variant_new ("(t)", (guint64) 64 << 20));
  g_usleep (100 * 1000);
  g_assert_cmpint (kill (agent, SIGSTOP), ==, 0);
  /* 16 MiB towards an agent that reads nothing: the window shuts. */
  push = g_thread_new ("push", push_sixteen_mib, stuck);
  g_usleep (500 * 1000);
  for (int i = 0; i < 20; i++)
    {
      g_autoptr(GVariant) pong = NULL;

      start = g_get_monotonic_time ();
      pong = mitogen_context_call (other, "core.ping", NULL, NULL, &error);
      g_assert_no_error (error);
      slowest = MAX (slowest, g_get_monotonic_time () - start);
    }
  g_test_message ("slowest of 20 calls beside a stopped host: %.1f ms", slowest / 1000.0);
  g_assert_cmpint (slowest, <, 2 * G_USEC_PER_SEC);

  g_assert_cmpint (kill (agent, SIGCONT), ==, 0);
  reply = mitogen_receiver_get (flood, 120000, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (GPOINTER_TO_SIZE (g_thread_join (push)), ==, 16 << 20);
}

/* Asks @ctx to exit and waits until its stream closes. Not with
 * mitogen_context_shutdown() and a timeout: its GMainContext (an eventfd)
 * lives as long as the context object, which the router keeps. */
static void
close_context (MitogenContext *ctx)
{
  g_autoptr(GError) error = NULL;

  mitogen_context_shutdown (ctx, 0, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (mitogen_test_wait_disconnected (ctx, 30000));
}

/* Contexts that come and go while others stream leave no fd and no
 * thread behind, and the pump thread ends with the last session. */
static void
test_churn_leaves_nothing (MitogenTestFixture *fixture,
                           gconstpointer       data)
{
  g_autoptr(GPtrArray) streaming = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GPtrArray) flows = g_ptr_array_new_with_free_func (g_object_unref);
  guint fds_before, threads_before, fds_after, threads_after, pumps;

  SKIP_WITHOUT_SSHD ();
  /* What the process makes once and keeps: the default main context and
   * GLib's worker thread, with their wake-up fds. */
  connect_many (fixture->router, streaming, 1);
  close_context (streaming->pdata[0]);
  g_ptr_array_set_size (streaming, 0);
  threads_before = settled_threads (&pumps);
  g_assert_cmpuint (pumps, ==, 0);
  fds_before = count_fds ();

  connect_many (fixture->router, streaming, 2);
  for (guint i = 0; i < streaming->len; i++)
    g_ptr_array_add (flows, mitogen_context_begin_call (streaming->pdata[i], "core.zeros",
                                                         g_variant_new ("(t)", (guint64) 4 << 20)));
  for (int round = 0; round < 8; round++)
    {
      g_autoptr(GPtrArray) passing = g_ptr_array_new_with_free_func (g_object_unref);

      connect_many (fixture->router, passing, 3);
      for (guint i = 0; i < passing->len; i++)
        {
          g_autoptr(GError) error = NULL;
          g_autoptr(GVariant) pong = mitogen_context_call (passing->pdata[i], "core.ping", NULL, NULL, &error);

          g_assert_no_error (error);
          close_context (passing->pdata[i]);
        }
      /* Keep the streams busy: a new reply for every one that came. */
      for (guint i = 0; i < flows->len; i++)
        {
          g_autoptr(GError) error = NULL;
          g_autoptr(MitogenMessage) reply = mitogen_receiver_get (flows->pdata[i], 60000, NULL, &error);

          g_assert_no_error (error);
          g_object_unref (flows->pdata[i]);
          flows->pdata[i] = mitogen_context_begin_call (streaming->pdata[i], "core.zeros",
                                                        g_variant_new ("(t)", (guint64) 4 << 20));
        }
    }
  for (guint i = 0; i < streaming->len; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(MitogenMessage) reply = mitogen_receiver_get (flows->pdata[i], 60000, NULL, &error);

      g_assert_no_error (error);
      close_context (streaming->pdata[i]);
    }
  g_ptr_array_set_size (flows, 0);
  g_ptr_array_set_size (streaming, 0);

  /* The pump closes the last sessions, then ends. */
  threads_after = settled_threads (&pumps);
  g_assert_cmpuint (pumps, ==, 0);
  fds_after = count_fds ();
  g_test_message ("fds %u -> %u, threads %u -> %u", fds_before, fds_after, threads_before, threads_after);
  g_assert_cmpuint (fds_after, ==, fds_before);
  g_assert_cmpuint (threads_after, <=, threads_before + 2);
}

/* The child of /ssh/exit-while-closing: connects, pings and exits at once,
 * with the session still closing in the pump, as the CLI does. */
static int
ping_and_exit (const char *spec)
{
  g_auto(GStrv) fields = g_strsplit (spec, " ", 2);
  g_autoptr(GError) error = NULL;
  MitogenRouter *router;
  MitogenContext *ctx;

  sshd_port = atoi (fields[0]);
  tmpdir = g_strdup (fields[1]);
  router = mitogen_router_new (mitogen_broker_new ());
  ctx = mitogen_router_connect_context (router, "ssh", options (), NULL, NULL, &error);
  if (ctx == NULL || mitogen_context_call (ctx, "core.ping", NULL, NULL, &error) == NULL)
    {
      g_printerr ("%s\n", error->message);
      return 2;
    }
  mitogen_context_shutdown (ctx, 0, NULL, NULL);
  return 0;
}

/* A process that exits while its ssh session closes in the pump thread:
 * the crypto library's exit handler must not pull its locks from under
 * the pump (about one exit in ten died of SIGSEGV before the pump stopped
 * its sessions first). */
static void
test_exit_while_closing (MitogenTestFixture *fixture,
                         gconstpointer       data)
{
  g_autofree char *spec = NULL;
  g_auto(GStrv) env = g_get_environ ();
  const char *argv[] = { "/proc/self/exe", NULL };
  int crashed = 0;

  SKIP_WITHOUT_SSHD ();
  argv[0] = g_file_read_link ("/proc/self/exe", NULL);
  spec = g_strdup_printf ("%u %s", sshd_port, tmpdir);
  env = g_environ_setenv (env, "MITOGEN_TEST_PING_AND_EXIT", spec, TRUE);
  /* The child leaks its router on purpose, as a program may at exit. */
  env = g_environ_setenv (env, "ASAN_OPTIONS", "detect_leaks=0:abort_on_error=1", TRUE);
  for (int i = 0; i < 30; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *err = NULL;
      int status = -1;

      g_assert_true (g_spawn_sync (NULL, (char **) argv, env, G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL,
                                   NULL, &err, &status, &error));
      g_assert_no_error (error);
      if (WIFSIGNALED (status))
        crashed++;
      else if (!g_spawn_check_wait_status (status, NULL))
        g_error ("the child failed: %s", err);
    }
  g_free ((char *) argv[0]);
  g_assert_cmpint (crashed, ==, 0);
}

/* The agent @ctx runs from, read from /proc on this (same) host. */
static char *
agent_exe (MitogenContext *ctx)
{
  g_autofree char *link = g_strdup_printf ("/proc/%d/exe", mitogen_test_context_pid (ctx));
  char *exe = g_file_read_link (link, NULL);

  g_assert_nonnull (exe);
  return exe;
}

/* Asserts that @ctx answers and runs a private copy of the agent that is
 * gone already, not the file planted in @cache. */
static void
assert_runs_private_copy (MitogenContext *ctx,
                          const char     *cache)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) pong = mitogen_context_call (ctx, "core.ping", NULL, NULL, &error);
  g_autofree char *exe = agent_exe (ctx);
  g_autofree char *dir = NULL;

  g_assert_no_error (error);
  g_assert_null (strstr (exe, cache));
  g_assert_true (g_str_has_suffix (exe, "/agent (deleted)"));
  *strrchr (exe, '/') = '\0';
  g_assert_false (g_file_test (exe, G_FILE_TEST_EXISTS));
}

/* A cache that someone else could change is not trusted, even when the
 * planted file has the right name and the right bytes: a private copy in
 * a fresh mode-0700 directory runs instead, and removes itself. A cached
 * file of another user in a directory of ours is replaced, not run. */
static void
test_untrusted_cache_bypassed (MitogenTestFixture *fixture,
                               gconstpointer       data)
{
  static const struct { const char *name; int dir_mode; gboolean dir_nobody, file_nobody; } cases[] = {
    { "cache-world-writable", 0777, FALSE, FALSE },
    { "cache-group-writable", 0770, FALSE, FALSE },
    { "cache-dir-of-nobody", 0755, TRUE, FALSE },
    { "cache-file-of-nobody", 0700, FALSE, TRUE },
  };
  g_autoptr(GError) error = NULL;
  g_autoptr(MitogenContext) trusted = NULL;
  g_autoptr(GVariant) pong = NULL;
  g_autofree char *source = NULL;
  g_autofree char *bytes = NULL;
  gsize len;

  SKIP_WITHOUT_SSHD ();
  /* A trusted cache: filled once, then run from. */
  trusted = mitogen_router_connect_context (fixture->router, "ssh",
                                            options_full ("known_hosts", "enforce", "cache-trusted"),
                                            NULL, NULL, &error);
  g_assert_no_error (error);
  pong = mitogen_context_call (trusted, "core.ping", NULL, NULL, &error);
  g_assert_no_error (error);
  source = cached_agent ("cache-trusted");
  g_assert_nonnull (source);
  {
    g_autofree char *exe = agent_exe (trusted);
    g_assert_cmpstr (exe, ==, source);
  }
  g_assert_true (g_file_get_contents (source, &bytes, &len, NULL));

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(MitogenContext) ctx = NULL;
      g_autofree char *dir = path (cases[i].name);
      g_autofree char *planted = g_build_filename (dir, strrchr (source, '/') + 1, NULL);
      g_autoptr(GDir) d = NULL;
      const char *name;

      g_test_message ("%s", cases[i].name);
      g_assert_cmpint (g_mkdir (dir, 0700), ==, 0);
      g_assert_true (g_file_set_contents (planted, bytes, len, NULL));
      g_assert_cmpint (g_chmod (planted, 0700), ==, 0);
      g_assert_cmpint (g_chmod (dir, cases[i].dir_mode), ==, 0);
      if (cases[i].dir_nobody)
        g_assert_cmpint (chown (dir, 65534, 65534), ==, 0);
      if (cases[i].file_nobody)
        g_assert_cmpint (chown (planted, 65534, 65534), ==, 0);

      ctx = mitogen_router_connect_context (fixture->router, "ssh",
                                            options_full ("known_hosts", "enforce", cases[i].name),
                                            NULL, NULL, &error);
      g_assert_no_error (error);
      if (cases[i].file_nobody)
        {
          /* A trusted directory: the untrusted file is replaced by one of ours. */
          g_autofree char *exe = agent_exe (ctx);
          struct stat st;

          g_assert_cmpstr (exe, ==, planted);
          g_assert_cmpint (g_stat (planted, &st), ==, 0);
          g_assert_cmpint (st.st_uid, ==, getuid ());
          continue;
        }
      assert_runs_private_copy (ctx, dir);

      /* Nothing was written into the untrusted directory either. */
      d = g_dir_open (dir, 0, NULL);
      while ((name = g_dir_read_name (d)) != NULL)
        g_assert_cmpstr (name, ==, strrchr (source, '/') + 1);
    }
}

/* A cache with no room for the agent (a 64 KiB tmpfs): the connection
 * still works through the private copy, and no half-written file is left
 * in the cache. Skipped where tmpfs cannot be mounted. */
static void
test_full_cache_bypassed (MitogenTestFixture *fixture,
                          gconstpointer       data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MitogenContext) ctx = NULL;
  g_autofree char *dir = path ("cache-full");
  g_autofree char *mount = g_strdup_printf ("mount -t tmpfs -o size=64k,mode=0700 tmpfs %s", dir);
  g_autofree char *umount = g_strdup_printf ("umount -l %s", dir);
  g_autoptr(GDir) d = NULL;

  SKIP_WITHOUT_SSHD ();
  g_assert_cmpint (g_mkdir (dir, 0700), ==, 0);
  if (!run (mount))
    {
      g_test_skip ("cannot mount a tmpfs here");
      return;
    }
  ctx = mitogen_router_connect_context (fixture->router, "ssh",
                                        options_full ("known_hosts", "enforce", "cache-full"),
                                        NULL, NULL, &error);
  g_assert_no_error (error);
  assert_runs_private_copy (ctx, dir);
  d = g_dir_open (dir, 0, NULL);
  g_assert_nonnull (d);
  g_assert_null (g_dir_read_name (d));
  g_assert_true (run (umount));
}

/* Where no private temporary directory can be made (TMPDIR is set to a
 * path under /proc for sessions through 127.0.0.2), a trusted cache still
 * takes the upload; with no cache either, the error quotes mktemp. */
static void
test_no_private_directory (MitogenTestFixture *fixture,
                           gconstpointer       data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MitogenContext) ctx = NULL;
  g_autoptr(MitogenContext) none = NULL;
  g_autoptr(GVariant) pong = NULL;
  g_autofree char *exe = NULL;
  GVariantDict dict;

  SKIP_WITHOUT_SSHD ();
  if (!port_open_on ("127.0.0.2", sshd_port))
    {
      g_test_skip ("sshd does not listen on 127.0.0.2 here");
      return;
    }
  dict_from (&dict, options_full ("known_hosts", "ignore", "cache-no-tmp"));
  g_variant_dict_insert (&dict, "hostname", "s", "127.0.0.2");
  ctx = mitogen_router_connect_context (fixture->router, "ssh", g_variant_dict_end (&dict),
                                        NULL, NULL, &error);
  g_assert_no_error (error);
  pong = mitogen_context_call (ctx, "core.ping", NULL, NULL, &error);
  g_assert_no_error (error);
  exe = agent_exe (ctx);
  g_assert_nonnull (strstr (exe, "/cache-no-tmp/agent-"));

  dict_from (&dict, options_full ("known_hosts", "ignore", "cache"));
  g_variant_dict_insert (&dict, "hostname", "s", "127.0.0.2");
  g_variant_dict_insert (&dict, "remote_cache_dir", "s", "/proc/mitogen-not-writable");
  none = mitogen_router_connect_context (fixture->router, "ssh", g_variant_dict_end (&dict),
                                         NULL, NULL, &error);
  g_assert_null (none);
  g_assert_error (error, MITOGEN_ERROR, MITOGEN_ERROR_STREAM);
  g_assert_nonnull (strstr (error->message, "cannot make a private directory"));
  g_assert_nonnull (strstr (error->message, "/proc/mitogen-no-tmp"));
}

/* What goes wrong on the host comes back with the host's own words. */
static void
test_host_side_failures (MitogenTestFixture *fixture,
                         gconstpointer       data)
{
  g_autoptr(GError) error = NULL;
  GVariantDict dict;

  SKIP_WITHOUT_SSHD ();

  /* An agent that cannot run there: the shell's complaint is quoted. */
  dict_from (&dict, options ());
  g_variant_dict_insert (&dict, "remote_agent_path", "s", "/nonexistent/mitogen-agent");
  expect_connect_error (fixture->router, g_variant_dict_end (&dict), MITOGEN_ERROR_STREAM,
                        "/nonexistent/mitogen-agent");

  /* A cache that cannot be written: a private temporary copy is used. */
  dict_from (&dict, options ());
  g_variant_dict_insert (&dict, "remote_cache_dir", "s", "/proc/mitogen-not-writable");
  {
    g_autoptr(MitogenContext) ctx = mitogen_router_connect_context (fixture->router, "ssh",
                                                            g_variant_dict_end (&dict), NULL, NULL, &error);
    g_autoptr(GVariant) v = NULL;

    g_assert_no_error (error);
    v = mitogen_context_call (ctx, "core.ping", NULL, NULL, &error);
    g_assert_no_error (error);
    assert_runs_private_copy (ctx, "/proc/mitogen-not-writable");
  }

  /* A name that does not resolve. */
  dict_from (&dict, options ());
  g_variant_dict_insert (&dict, "hostname", "s", "no-such-host.invalid");
  {
    g_autoptr(MitogenContext) ctx = mitogen_router_connect_context (fixture->router, "ssh",
                                                            g_variant_dict_end (&dict), NULL, NULL, &error);
    g_assert_null (ctx);
    g_assert_error (error, MITOGEN_ERROR, MITOGEN_ERROR_STREAM);
    g_assert_nonnull (strstr (error->message, "no-such-host.invalid"));
  }
}

/* With keepalives, an idle connection stays usable across intervals. */
static void
test_keepalive (MitogenTestFixture *fixture,
                gconstpointer       data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MitogenContext) ctx = NULL;
  g_autoptr(GVariant) v = NULL;
  GVariantDict dict;

  SKIP_WITHOUT_SSHD ();
  dict_from (&dict, options ());
  g_variant_dict_insert (&dict, "keepalive_interval", "u", 1);
  ctx = mitogen_router_connect_context (fixture->router, "ssh", g_variant_dict_end (&dict), NULL, NULL, &error);
  g_assert_no_error (error);
  g_usleep (2500 * 1000);
  v = mitogen_context_call (ctx, "core.ping", NULL, NULL, &error);
  g_assert_no_error (error);
}

static void
test_bulk (MitogenTestFixture *fixture,
           gconstpointer       data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MitogenContext) ctx = NULL;
  g_autoptr(GVariant) v = NULL;

  SKIP_WITHOUT_SSHD ();
  ctx = mitogen_router_connect_context (fixture->router, "ssh", options (), NULL, NULL, &error);
  g_assert_no_error (error);
  v = mitogen_context_call (ctx, "core.zeros", g_variant_new ("(t)", (guint64) 8 << 20), NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_variant_n_children (v), ==, 8 << 20);
}

/* Password authentication needs a user with a password: only when the
 * caller allows changing the system. */
static void
test_password (MitogenTestFixture *fixture,
               gconstpointer       data)
{
  const char *user = "mitogen-ssh-test";
  g_autoptr(GError) error = NULL;
  g_autofree char *command = NULL;
  GVariantDict dict;

  SKIP_WITHOUT_SSHD ();
  if (g_strcmp0 (g_getenv ("MITOGEN_TEST_SYSTEM"), "1") != 0)
    {
      g_test_skip ("set MITOGEN_TEST_SYSTEM=1 to create a user with a password");
      return;
    }
  command = g_strdup_printf ("sh -c 'userdel -r %s >/dev/null 2>&1; useradd -m %s && "
                             "echo %s:Secret-42 | chpasswd'", user, user, user);
  g_assert_true (run (command));

  dict_from (&dict, options ());
  g_variant_dict_insert (&dict, "username", "s", user);
  g_variant_dict_remove (&dict, "identity_file");
  g_variant_dict_remove (&dict, "remote_cache_dir");
  g_variant_dict_insert (&dict, "password", "s", "Secret-42");
  {
    g_autoptr(MitogenContext) ctx = mitogen_router_connect_context (fixture->router, "ssh",
                                                            g_variant_dict_end (&dict), NULL, NULL, &error);
    g_autoptr(GVariant) v = NULL;

    g_assert_no_error (error);
    v = mitogen_context_call (ctx, "core.getenv", g_variant_new ("(s)", "USER"), NULL, &error);
    g_assert_no_error (error);
  }

  dict_from (&dict, options ());
  g_variant_dict_insert (&dict, "username", "s", user);
  g_variant_dict_remove (&dict, "identity_file");
  g_variant_dict_insert (&dict, "password", "s", "wrong");
  {
    g_autoptr(MitogenContext) ctx = mitogen_router_connect_context (fixture->router, "ssh",
                                                            g_variant_dict_end (&dict), NULL, NULL, &error);
    g_assert_null (ctx);
    g_assert_error (error, MITOGEN_ERROR, MITOGEN_ERROR_AUTH);
    /* The password never appears in the message. */
    g_assert_null (strstr (error->message, "wrong"));
    g_clear_error (&error);
  }
  /* Keyboard-interactive: a second sshd that offers only that (through
   * PAM), answered with the same password. */
  {
    g_autofree char *host_key = path ("host_key");
    g_autofree char *pid_file = path ("sshd-kbd.pid");
    g_autofree char *config_path = path ("sshd_kbd_config");
    g_autofree char *config = NULL;
    g_autofree char *pid_text = NULL;
    guint port = free_port ();
    g_autofree char *log_path = path ("sshd-kbd.log");
    const char *argv[] = { "/usr/sbin/sshd", "-f", config_path, "-E", log_path, NULL };
    GVariantDict kbd;

    config = g_strdup_printf ("Port %u\nListenAddress 127.0.0.1\nHostKey %s\nPidFile %s\n"
                              "UsePAM yes\nPasswordAuthentication no\n"
                              "KbdInteractiveAuthentication yes\nPubkeyAuthentication no\n",
                              port, host_key, pid_file);
    g_assert_true (g_file_set_contents (config_path, config, -1, NULL));
    g_assert_true (g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_STDOUT_TO_DEV_NULL,
                                 NULL, NULL, NULL, NULL, NULL, NULL));
    for (int i = 0; i < 200 && !port_open (port); i++)
      g_usleep (10000);

    dict_from (&kbd, options_full ("known_hosts", "ignore", "cache"));
    g_variant_dict_insert (&kbd, "port", "u", port);
    g_variant_dict_insert (&kbd, "username", "s", user);
    g_variant_dict_remove (&kbd, "identity_file");
    g_variant_dict_remove (&kbd, "remote_cache_dir");
    g_variant_dict_insert (&kbd, "password", "s", "Secret-42");
    {
      g_autoptr(MitogenContext) ctx = mitogen_router_connect_context (fixture->router, "ssh",
                                                              g_variant_dict_end (&kbd), NULL, NULL, &error);
      g_assert_no_error (error);
    }
    if (g_file_get_contents (pid_file, &pid_text, NULL, NULL))
      kill (atoi (pid_text), SIGTERM);
  }

  g_free (command);
  command = g_strdup_printf ("userdel -r %s", user);
  run (command);
}

/* The agent that travels is the self-contained one, when it was built:
 * the context runs a copy of mitogen-agent-static, which maps no GLib. */
static void
test_static_agent_travels (MitogenTestFixture *fixture,
                           gconstpointer       data)
{
  g_autofree char *static_path = g_strconcat (g_getenv ("MITOGEN_AGENT_PATH"), "-static", NULL);
  g_autofree char *exe = NULL;
  g_autofree char *expected = NULL;
  g_autofree char *running = NULL;
  g_autoptr(MitogenContext) ctx = NULL;
  g_autoptr(GVariant) pong = NULL;
  g_autoptr(GError) error = NULL;
  gsize expected_len, running_len;

  SKIP_WITHOUT_SSHD ();
  if (!g_file_test (static_path, G_FILE_TEST_IS_EXECUTABLE))
    {
      g_test_skip ("mitogen-agent-static was not built (-Dstatic_agent)");
      return;
    }
  ctx = mitogen_router_connect_context (fixture->router, "ssh",
                                        options_full ("known_hosts", "enforce", "cache-static"),
                                        NULL, NULL, &error);
  g_assert_no_error (error);
  pong = mitogen_context_call (ctx, "core.ping", NULL, NULL, &error);
  g_assert_no_error (error);
  exe = g_strdup_printf ("/proc/%d/exe", mitogen_test_context_pid (ctx));
  g_assert_true (g_file_get_contents (static_path, &expected, &expected_len, NULL));
  g_assert_true (g_file_get_contents (exe, &running, &running_len, NULL));
  g_assert_true (expected_len == running_len && memcmp (expected, running, running_len) == 0);
  g_assert_false (maps_contain (ctx, "libglib-2.0"));
  g_assert_false (maps_contain (ctx, "libgio-2.0"));
  g_clear_object (&ctx);

  /* static_agent=false: agent_path itself travels, and loads GLib. */
  {
    GVariantDict dict;

    dict_from (&dict, options_full ("known_hosts", "enforce", "cache-static"));
    g_variant_dict_insert (&dict, "static_agent", "b", FALSE);
    ctx = mitogen_router_connect_context (fixture->router, "ssh", g_variant_dict_end (&dict),
                                          NULL, NULL, &error);
    g_assert_no_error (error);
    g_assert_true (maps_contain (ctx, "libglib-2.0"));
  }
}

/* The most common path: log in as an admin, become a service user. The
 * admin's agent is cached in a directory only the admin can enter (the
 * test's own is mode 0700), so the service user cannot run it: the sudo
 * hop's first stage gets the agent's bytes through the chain instead. */
static void
test_then_sudo_to_nobody (MitogenTestFixture *fixture,
                          gconstpointer       data)
{
  g_autoptr(MitogenContext) ssh = NULL;
  g_autoptr(MitogenContext) nobody = NULL;
  g_autoptr(GVariant) result = NULL;
  g_autoptr(GVariant) out = NULL;
  g_autoptr(GVariant) err = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *cached = NULL;
  const char *id_argv[] = { "id", "-u", NULL };
  int status = -1, code;

  SKIP_WITHOUT_SSHD ();
  if (getuid () != 0 ||
      !g_spawn_sync (NULL, (char **) (const char *[]) { "sudo", "-n", "-u", "nobody", "true", NULL },
                     NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL,
                     NULL, NULL, &status, NULL) || status != 0)
    {
      g_test_skip ("needs root and `sudo -n -u nobody`");
      return;
    }
  g_assert_cmpint (g_chmod (tmpdir, 0700), ==, 0);
  ssh = mitogen_router_connect_context (fixture->router, "ssh", options (), NULL, NULL, &error);
  g_assert_no_error (error);
  cached = cached_agent ("cache");
  g_assert_nonnull (cached);

  nobody = mitogen_router_connect_context (fixture->router, "sudo",
                                           g_variant_new_parsed ("{'username': <'nobody'>}"),
                                           ssh, NULL, &error);
  g_assert_no_error (error);
  result = mitogen_context_call (nobody, "proc.run",
                                 g_variant_new ("(^as@a{sv})", id_argv, g_variant_new ("a{sv}", NULL)),
                                 NULL, &error);
  g_assert_no_error (error);
  g_variant_get (result, "(i@ay@ay)", &code, &out, &err);
  g_assert_cmpint (code, ==, 0);
  g_assert_cmpint (g_variant_get_size (out), ==, 6);
  g_assert_cmpint (memcmp (g_variant_get_data (out), "65534\n", 6), ==, 0);
}

/* ---- agents over ssh are leak-checked ----------------------------------- */

/* As tests/modules/mitogen-test-module.c's testmod.leak loses. */
#define TEST_LEAK_REPORT "Direct leak of 4243 byte(s) in 1 object(s)"
#define TEST_LEAK_SUMMARY "SUMMARY: AddressSanitizer: 4243 byte(s) leaked in 1 allocation(s)."
/* The agent's leak check comes after its stream closes. */
#define AGENT_END_WAIT_MSEC 60000

static gboolean
can_sudo_to_nobody (void)
{
  int status = -1;

  return getuid () == 0 &&
         g_spawn_sync (NULL, (char **) (const char *[]) { "sudo", "-n", "-u", "nobody", "true", NULL },
                       NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL,
                       NULL, NULL, &status, NULL) && status == 0;
}

/* Makes @context lose a block and returns its process id (this sshd runs
 * its sessions on this machine). */
static int
leak_in (MitogenContext *context)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) pid = mitogen_context_call (context, "core.getpid", NULL, NULL, &error);
  g_autoptr(GVariant) none = NULL;

  g_assert_no_error (error);
  none = mitogen_context_call (context, "testmod.leak", NULL, NULL, &error);
  g_assert_no_error (error);
  return g_variant_get_int32 (pid);
}

/* Asserts that the agent @pid reported the deliberate leak in @dir, then
 * removes the report, which would otherwise fail the run that checks the
 * directory (quickstart.sh). */
static void
assert_leak_reported (const char *dir,
                      int         pid)
{
  g_autofree char *report = g_strdup_printf ("%s/asan.%d", dir, pid);
  g_autofree char *text = NULL;

  g_assert_true (mitogen_test_wait_pid_gone (pid, AGENT_END_WAIT_MSEC));
  if (!g_file_get_contents (report, &text, NULL, NULL))
    g_error ("agent %d left no report %s", pid, report);
  g_test_message ("%s:\n%s", report, text);
  g_assert_nonnull (strstr (text, TEST_LEAK_REPORT));
  /* And nothing else: the agent itself loses nothing. */
  g_assert_nonnull (strstr (text, TEST_LEAK_SUMMARY));
  g_assert_cmpint (g_unlink (report), ==, 0);
}

/* An agent that sshd starts has no ASAN_OPTIONS (sshd gives sessions an
 * environment of its own); a sanitizer build configured with
 * -Dagent_sanitizer_log has it report to that directory all the same. A
 * deliberate leak in the agent over ssh, and in one it starts through a
 * real sudo as nobody, each leaves its report there. */
static void
test_agent_leak_reported (MitogenTestFixture *fixture,
                          gconstpointer       data)
{
  const char *dir = g_getenv ("MITOGEN_TEST_AGENT_SANITIZER_LOG");
  g_autoptr(MitogenContext) ssh = NULL;
  g_autoptr(MitogenContext) nobody = NULL;
  g_autoptr(GError) error = NULL;
  int ssh_pid, nobody_pid = 0;

  SKIP_WITHOUT_SSHD ();
  if (dir == NULL)
    {
      g_test_skip ("the agents have no report directory of their own: build with "
                   "-Db_sanitize=address -Dagent_sanitizer_log=DIR");
      return;
    }
  /* quickstart.sh makes it fresh; a build tree used by hand may lack it. */
  if (!g_file_test (dir, G_FILE_TEST_IS_DIR))
    {
      g_assert_cmpint (g_mkdir_with_parents (dir, 0755), ==, 0);
      g_assert_cmpint (g_chmod (dir, 01777), ==, 0);
    }
  g_assert_true (mitogen_add_module ("testmod", g_getenv ("MITOGEN_TEST_MODULE"), &error));
  g_assert_no_error (error);

  ssh = mitogen_router_connect_context (fixture->router, "ssh", options (), NULL, NULL, &error);
  g_assert_no_error (error);
  ssh_pid = leak_in (ssh);
  if (can_sudo_to_nobody ())
    {
      nobody = mitogen_router_connect_context (fixture->router, "sudo",
                                               g_variant_new_parsed ("{'username': <'nobody'>}"),
                                               ssh, NULL, &error);
      g_assert_no_error (error);
      nobody_pid = leak_in (nobody);
    }
  else
    g_test_message ("no `sudo -n -u nobody` here: the sudo hop is left out");

  mitogen_router_disconnect_all (fixture->router);
  assert_leak_reported (dir, ssh_pid);
  if (nobody_pid != 0)
    assert_leak_reported (dir, nobody_pid);
}

/* The first stage refuses a host the agent was not built for, and says
 * what the agent is and what the host is. The agent's machine, loader and
 * glibc version are what its ELF file says; the test stands in others. */
static void
test_wrong_machine_refused (MitogenTestFixture *fixture,
                            gconstpointer       data)
{
  struct utsname host;
  g_autofree char *cache = NULL;

  SKIP_WITHOUT_SSHD ();
  g_assert_cmpint (uname (&host), ==, 0);
  g_setenv ("MITOGEN_TEST_AGENT_MACHINE", "sparc64", TRUE);
  expect_connect_error (fixture->router, options_full ("known_hosts", "enforce", "cache-arch"),
                        MITOGEN_ERROR_STREAM, "the agent is built for sparc64");
  {
    g_autoptr(GError) error = NULL;
    g_autoptr(MitogenContext) ctx = mitogen_router_connect_context (fixture->router, "ssh",
                                                                    options_full ("known_hosts", "enforce", "cache-arch"),
                                                                    NULL, NULL, &error);
    g_autofree char *host_part = g_strdup_printf ("but this host is %s", host.machine);

    g_assert_null (ctx);
    g_assert_nonnull (strstr (error->message, host_part));
  }
  g_unsetenv ("MITOGEN_TEST_AGENT_MACHINE");

  /* The machine matches, the loader is missing: a musl agent on glibc. */
  g_setenv ("MITOGEN_TEST_AGENT_INTERP", "/lib/ld-musl-nonexistent.so.1", TRUE);
  expect_connect_error (fixture->router, options_full ("known_hosts", "enforce", "cache-arch"),
                        MITOGEN_ERROR_STREAM, "with musl and needs its loader /lib/ld-musl-nonexistent.so.1");
  g_unsetenv ("MITOGEN_TEST_AGENT_INTERP");

  /* The loader is there, the glibc is older than the agent's symbols. */
  g_setenv ("MITOGEN_TEST_AGENT_GLIBC", "99.0", TRUE);
  expect_connect_error (fixture->router, options_full ("known_hosts", "enforce", "cache-arch"),
                        MITOGEN_ERROR_STREAM, "with glibc 99.0 or later, but this host");
  g_unsetenv ("MITOGEN_TEST_AGENT_GLIBC");

  /* Nothing was uploaded or cached for the refused agent. */
  cache = path ("cache-arch");
  g_assert_false (g_file_test (cache, G_FILE_TEST_EXISTS));
}

int
main (int    argc,
      char **argv)
{
  int status;

  if (g_getenv ("MITOGEN_TEST_PING_AND_EXIT") != NULL)
    return ping_and_exit (g_getenv ("MITOGEN_TEST_PING_AND_EXIT"));
  mitogen_test_init (&argc, &argv);
  start_sshd ();

#define ADD(p, func) \
  g_test_add (p, MitogenTestFixture, NULL, mitogen_test_fixture_setup, func, \
              mitogen_test_fixture_teardown)
  ADD ("/ssh/key-auth-and-cache", test_key_auth_and_cache);
  ADD ("/ssh/corrupt-cache-replaced", test_corrupt_cache_replaced);
  ADD ("/ssh/no-plugin-dir", test_no_plugin_dir);
  ADD ("/ssh/plugin-path-stays-home", test_plugin_path_stays_home);
  ADD ("/ssh/host-keys", test_host_keys);
  ADD ("/ssh/connection-refused", test_connection_refused);
  ADD ("/ssh/killed-session-fails-calls", test_killed_session_fails_calls);
  ADD ("/ssh/ten-at-once", test_ten_at_once);
  ADD ("/ssh/bulk", test_bulk);
  ADD ("/ssh/forty-one-pump", test_forty_one_pump);
  ADD ("/ssh/stopped-host-blocks-nobody", test_stopped_host_blocks_nobody);
  ADD ("/ssh/churn-leaves-nothing", test_churn_leaves_nothing);
  ADD ("/ssh/exit-while-closing", test_exit_while_closing);
  ADD ("/ssh/keepalive", test_keepalive);
  ADD ("/ssh/hung-host-detected", test_hung_host_detected);
  ADD ("/ssh/network-cut", test_network_cut);
  ADD ("/ssh/connect-timeout", test_connect_timeout);
  ADD ("/ssh/ssh-config-alias", test_ssh_config_alias);
  ADD ("/ssh/ipv6", test_ipv6);
  ADD ("/ssh/host-side-failures", test_host_side_failures);
  ADD ("/ssh/untrusted-cache-bypassed", test_untrusted_cache_bypassed);
  ADD ("/ssh/full-cache-bypassed", test_full_cache_bypassed);
  ADD ("/ssh/no-private-directory", test_no_private_directory);
  ADD ("/ssh/password", test_password);
  ADD ("/ssh/static-agent-travels", test_static_agent_travels);
  ADD ("/ssh/wrong-machine-refused", test_wrong_machine_refused);
  ADD ("/ssh/then-sudo-to-nobody", test_then_sudo_to_nobody);
  ADD ("/ssh/agent-leak-reported", test_agent_leak_reported);
#undef ADD
  status = g_test_run ();
  stop_sshd ();
  return status;
}
