/* mitogen-test-sshd.c: a private sshd for the tests (see the header). The
 * same recipe as test-ssh.c's, for test programs that only need a host to
 * reach.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "mitogen-test-sshd.h"

struct _MitogenTestSshd
{
  char  *dir;     /* keys, config, known_hosts, the agent cache */
  guint  port;
  GPid   pid;
};

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
port_open (guint port)
{
  struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons (port),
                              .sin_addr.s_addr = htonl (INADDR_LOOPBACK) };
  int fd = socket (AF_INET, SOCK_STREAM, 0);
  gboolean ok = connect (fd, (struct sockaddr *) &addr, sizeof addr) == 0;

  close (fd);
  return ok;
}

static void
run_ok (const char *command)
{
  g_autoptr(GError) error = NULL;
  int status = -1;

  g_assert_true (g_spawn_command_line_sync (command, NULL, NULL, &status, &error));
  g_assert_no_error (error);
  g_assert_true (g_spawn_check_wait_status (status, NULL));
}

static char *
sshd_path (MitogenTestSshd *sshd,
           const char      *name)
{
  return g_build_filename (sshd->dir, name, NULL);
}

static void
keygen (MitogenTestSshd *sshd,
        const char      *name)
{
  g_autofree char *file = sshd_path (sshd, name);
  g_autofree char *command = g_strdup_printf ("ssh-keygen -q -t ed25519 -N '' -f %s", file);

  run_ok (command);
}

/* known_hosts holding this sshd's host key for 127.0.0.1:port. */
static void
write_known_hosts (MitogenTestSshd *sshd)
{
  g_autofree char *host_pub = sshd_path (sshd, "host_key.pub");
  g_autofree char *known_hosts = sshd_path (sshd, "known_hosts");
  g_autofree char *pub = NULL;
  g_autofree char *line = NULL;
  g_auto(GStrv) fields = NULL;

  g_assert_true (g_file_get_contents (host_pub, &pub, NULL, NULL));
  fields = g_strsplit (pub, " ", 3);
  line = g_strdup_printf ("[127.0.0.1]:%u %s %s\n", sshd->port, fields[0], fields[1]);
  g_assert_true (g_file_set_contents (known_hosts, line, -1, NULL));
}

MitogenTestSshd *
mitogen_test_sshd_start (char **skip_reason)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *user_pub = NULL;
  g_autofree char *pub = NULL;
  g_autofree char *authorized = NULL;
  g_autofree char *host_key = NULL;
  g_autofree char *config_path = NULL;
  g_autofree char *config = NULL;
  const char *argv[] = { "/usr/sbin/sshd", "-D", "-e", "-f", NULL, NULL };
  MitogenTestSshd *sshd;

  if (!g_file_test (argv[0], G_FILE_TEST_IS_EXECUTABLE))
    {
      *skip_reason = g_strdup ("no /usr/sbin/sshd (install openssh-server)");
      return NULL;
    }
  if (getuid () != 0)
    {
      *skip_reason = g_strdup ("the test sshd logs in as root: run as root");
      return NULL;
    }
  sshd = g_new0 (MitogenTestSshd, 1);
  sshd->dir = g_dir_make_tmp ("mitogen-sshd-XXXXXX", &error);
  g_assert_no_error (error);
  keygen (sshd, "host_key");
  keygen (sshd, "id_user");
  user_pub = sshd_path (sshd, "id_user.pub");
  authorized = sshd_path (sshd, "authorized_keys");
  g_assert_true (g_file_get_contents (user_pub, &pub, NULL, NULL));
  g_assert_true (g_file_set_contents (authorized, pub, -1, NULL));
  g_mkdir_with_parents ("/run/sshd", 0755);

  sshd->port = free_port ();
  host_key = sshd_path (sshd, "host_key");
  config = g_strdup_printf ("Port %u\nListenAddress 127.0.0.1\nHostKey %s\n"
                            "PidFile %s/sshd.pid\nAuthorizedKeysFile %s\nUsePAM no\n"
                            "StrictModes no\nPermitRootLogin yes\nMaxStartups 50\n"
                            "MaxSessions 50\n",
                            sshd->port, host_key, sshd->dir, authorized);
  config_path = sshd_path (sshd, "sshd_config");
  g_assert_true (g_file_set_contents (config_path, config, -1, NULL));
  argv[4] = config_path;
  g_assert_true (g_spawn_async (NULL, (char **) argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD |
                                G_SPAWN_STDOUT_TO_DEV_NULL | G_SPAWN_STDERR_TO_DEV_NULL,
                                NULL, NULL, &sshd->pid, &error));
  g_assert_no_error (error);
  for (int i = 0; i < 1000 && !port_open (sshd->port); i++)
    g_usleep (10000);
  g_assert_true (port_open (sshd->port));
  write_known_hosts (sshd);
  return sshd;
}

void
mitogen_test_sshd_stop (MitogenTestSshd *sshd)
{
  g_autofree char *command = NULL;

  if (sshd == NULL)
    return;
  kill (sshd->pid, SIGTERM);
  waitpid (sshd->pid, NULL, 0);
  command = g_strdup_printf ("rm -rf %s", sshd->dir);
  run_ok (command);
  g_free (sshd->dir);
  g_free (sshd);
}

GVariant *
mitogen_test_sshd_options (MitogenTestSshd *sshd)
{
  g_autofree char *id = sshd_path (sshd, "id_user");
  g_autofree char *known_hosts = sshd_path (sshd, "known_hosts");
  g_autofree char *cache = sshd_path (sshd, "cache");
  GVariantDict dict;

  g_variant_dict_init (&dict, NULL);
  g_variant_dict_insert (&dict, "hostname", "s", "127.0.0.1");
  g_variant_dict_insert (&dict, "port", "u", sshd->port);
  g_variant_dict_insert (&dict, "username", "s", "root");
  g_variant_dict_insert (&dict, "identity_file", "s", id);
  g_variant_dict_insert (&dict, "known_hosts_file", "s", known_hosts);
  g_variant_dict_insert (&dict, "check_host_keys", "s", "enforce");
  g_variant_dict_insert (&dict, "remote_cache_dir", "s", cache);
  g_variant_dict_insert (&dict, "connect_timeout", "d", 30.0);
  return g_variant_dict_end (&dict);
}
