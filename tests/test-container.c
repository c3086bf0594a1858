/* test-container.c: the container and namespace transports (chroot,
 * setns; docker, podman and the others share their code and differ only
 * in the program they run), with the same first stage as ssh and sudo.
 *
 * As root only (chroot(2) and setns(2) need it); they change nothing
 * outside their temporary directories and the processes they start.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <signal.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <glib/gstdio.h>

#include "mitogen-test-util.h"

#define WAIT_MSEC 30000

static gboolean
skip_unless_root (void)
{
  if (getuid () == 0)
    return FALSE;
  g_test_skip ("needs root: chroot and setns are for root");
  return TRUE;
}

/* What @argv prints in @ctx (proc.run), which must exit 0. */
static char *
remote_output (MitogenContext     *ctx,
               const char * const *argv)
{
  g_autoptr(GVariant) result = mitogen_test_call_ok (ctx, "proc.run",
                                        g_variant_new ("(^as@a{sv})", argv,
                                                       g_variant_new ("a{sv}", NULL)));
  g_autoptr(GVariant) out = NULL;
  g_autoptr(GVariant) err = NULL;
  int code;

  g_variant_get (result, "(i@ay@ay)", &code, &out, &err);
  g_assert_cmpint (code, ==, 0);
  return g_strndup (g_variant_get_data (out), g_variant_get_size (out));
}

/* ---- chroot -------------------------------------------------------------- */

/* Copies @path, and the libraries ldd names for it, into @root at the
 * same paths. */
static void
copy_with_libraries (const char *root,
                     const char *path)
{
  const char *argv[] = { "ldd", path, NULL };
  g_autofree char *out = NULL;
  g_auto(GStrv) lines = NULL;
  g_autoptr(GPtrArray) files = g_ptr_array_new ();

  g_ptr_array_add (files, (char *) path);
  /* ldd fails for a static program: then there is nothing more to copy. */
  g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDERR_TO_DEV_NULL,
                NULL, NULL, &out, NULL, NULL, NULL);
  lines = g_strsplit (out != NULL ? out : "", "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      char *p = strchr (lines[i], '/');

      if (p == NULL)
        continue;
      p[strcspn (p, " (")] = '\0';
      g_ptr_array_add (files, p);
    }
  for (guint i = 0; i < files->len; i++)
    {
      g_autofree char *real = realpath (files->pdata[i], NULL);
      g_autofree char *target = g_build_filename (root, files->pdata[i], NULL);
      g_autofree char *dir = g_path_get_dirname (target);
      g_autofree char *contents = NULL;
      gsize len;

      g_assert_nonnull (real);
      g_assert_cmpint (g_mkdir_with_parents (dir, 0755), ==, 0);
      g_assert_true (g_file_get_contents (real, &contents, &len, NULL));
      g_assert_true (g_file_set_contents (target, contents, len, NULL));
      g_assert_cmpint (g_chmod (target, 0755), ==, 0);
    }
}

/* A root with a shell, the tools the first stage uses, and what the
 * agent links to, but no copy of the agent: it has to travel. */
static char *
make_root (void)
{
  static const char * const tools[] = {
    "sh", "uname", "sha256sum", "cut", "ls", "mkdir", "mktemp", "head", "chmod", "cp", "mv",
    "rm", "cat",
  };
  g_autoptr(GError) error = NULL;
  char *root = g_dir_make_tmp ("mitogen-test-root-XXXXXX", &error);
  g_autofree char *tmp = g_build_filename (root, "tmp", NULL);
  g_autofree char *mark = g_build_filename (root, "inside-the-root", NULL);
  g_autofree char *agent_bin = g_build_filename (root, "bin", NULL);

  g_assert_no_error (error);
  g_assert_cmpint (g_chmod (root, 0755), ==, 0);
  for (guint i = 0; i < G_N_ELEMENTS (tools); i++)
    {
      g_autofree char *path = g_find_program_in_path (tools[i]);

      g_assert_nonnull (path);
      copy_with_libraries (root, path);
      /* The first stage runs /bin/sh, and the tools by name. */
      if (!g_str_has_prefix (path, "/bin/"))
        {
          g_autofree char *base = g_path_get_basename (path);
          g_autofree char *link = g_build_filename (agent_bin, base, NULL);
          g_autofree char *inside = g_build_filename (root, path, NULL);
          g_autofree char *contents = NULL;
          gsize len;

          g_assert_cmpint (g_mkdir_with_parents (agent_bin, 0755), ==, 0);
          g_assert_true (g_file_get_contents (inside, &contents, &len, NULL));
          g_assert_true (g_file_set_contents (link, contents, len, NULL));
          g_assert_cmpint (g_chmod (link, 0755), ==, 0);
        }
    }
  /* The libraries of the agent that travels (the self-contained one: the
   * C library, no GLib), but not the agent. */
  {
    g_autofree char *travels = g_strconcat (g_getenv ("MITOGEN_AGENT_PATH"), "-static", NULL);
    g_autofree char *agent = g_build_filename (root, travels, NULL);

    copy_with_libraries (root, travels);
    g_assert_cmpint (g_unlink (agent), ==, 0);
  }
  /* A chroot normally has a /dev; the first stage needs its null. */
  {
    g_autofree char *dev = g_build_filename (root, "dev", NULL);
    g_autofree char *null = g_build_filename (root, "dev", "null", NULL);

    g_assert_cmpint (g_mkdir (dev, 0755), ==, 0);
    g_assert_cmpint (mknod (null, S_IFCHR | 0666, makedev (1, 3)), ==, 0);
    g_assert_cmpint (g_chmod (null, 0666), ==, 0);
  }
  g_assert_cmpint (g_mkdir (tmp, 01777), ==, 0);
  g_assert_cmpint (g_chmod (tmp, 01777), ==, 0);
  g_assert_true (g_file_set_contents (mark, "", 0, NULL));
  return root;
}

/* Whether any libglib lies under @root. */
static gboolean
root_has_glib (const char *root)
{
  const char *argv[] = { "find", root, "-name", "libglib*", NULL };
  g_autofree char *out = NULL;

  g_assert_true (g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH,
                               NULL, NULL, &out, NULL, NULL, NULL));
  return out[0] != '\0';
}

static void
remove_tree (const char *path)
{
  const char *argv[] = { "rm", "-rf", path, NULL };

  g_assert_true (g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH,
                               NULL, NULL, NULL, NULL, NULL, NULL));
}

static void
test_chroot (MitogenTestFixture *fixture,
             gconstpointer       data)
{
  g_autofree char *root = NULL;
  g_autofree char *listing = NULL;
  g_autofree char *listing_again = NULL;
  g_autoptr(MitogenContext) ctx = NULL;
  g_autoptr(MitogenContext) again = NULL;
  GVariantDict dict;

  if (skip_unless_root ())
    return;
  root = make_root ();
  g_variant_dict_init (&dict, NULL);
  g_variant_dict_insert (&dict, "path", "s", root);
  g_variant_dict_insert (&dict, "connect_timeout", "d", (double) WAIT_MSEC / 1000);
  ctx = mitogen_test_connect_ok (fixture->router, "chroot", g_variant_dict_end (&dict), NULL);

  /* Its / is the new root: the mark is there, this machine's /etc not;
   * and the root has no GLib: the agent that travelled needs none. */
  listing = remote_output (ctx, (const char *[]) { "ls", "/", NULL });
  g_assert_nonnull (strstr (listing, "inside-the-root"));
  g_assert_null (strstr (listing, "etc"));
  g_assert_false (root_has_glib (root));

  /* The agent was sent and cached in the root (HOME is this process's,
   * which the root lacks: the private copy ran and removed itself). A
   * second context starts the same way. */
  g_variant_dict_init (&dict, NULL);
  g_variant_dict_insert (&dict, "path", "s", root);
  again = mitogen_test_connect_ok (fixture->router, "chroot", g_variant_dict_end (&dict), NULL);
  listing_again = remote_output (again, (const char *[]) { "ls", "/", NULL });
  g_assert_cmpstr (listing, ==, listing_again);

  mitogen_router_disconnect_context (fixture->router, ctx);
  mitogen_router_disconnect_context (fixture->router, again);
  remove_tree (root);
}

static void
test_chroot_errors (MitogenTestFixture *fixture,
                    gconstpointer       data)
{
  g_autoptr(GError) relative = NULL;
  g_autoptr(GError) missing_root = NULL;
  g_autoptr(GError) no_program = NULL;
  g_autoptr(GError) no_path = NULL;

  relative = mitogen_test_connect_fails (fixture->router, "chroot",
                                         g_variant_new_parsed ("{'path': <'relative/root'>}"), NULL);
  g_assert_error (relative, MITOGEN_ERROR, MITOGEN_ERROR_FAILED);
  g_assert_nonnull (strstr (relative->message, "absolute path"));

  no_path = mitogen_test_connect_fails (fixture->router, "chroot", NULL, NULL);
  g_assert_nonnull (strstr (no_path->message, "chroot: the “path” option is required"));

  no_program = mitogen_test_connect_fails (fixture->router, "docker",
                                           g_variant_new_parsed ("{'container': <'box'>, "
                                                                 "'docker_path': <'/nonexistent/docker'>}"),
                                           NULL);
  g_assert_error (no_program, MITOGEN_ERROR, MITOGEN_ERROR_STREAM);
  g_assert_nonnull (strstr (no_program->message, "/nonexistent/docker"));

  if (skip_unless_root ())
    return;
  missing_root = mitogen_test_connect_fails (fixture->router, "chroot",
                                             g_variant_new_parsed ("{'path': <'/nonexistent-root'>}"),
                                             NULL);
  g_assert_error (missing_root, MITOGEN_ERROR, MITOGEN_ERROR_STREAM);
  g_assert_nonnull (strstr (missing_root->message, "chroot exited before the agent started"));
  g_assert_nonnull (strstr (missing_root->message, "/nonexistent-root"));
}

/* ---- setns ---------------------------------------------------------------- */

static void
test_setns (MitogenTestFixture *fixture,
            gconstpointer       data)
{
  const char *argv[] = { "unshare", "--uts", "sh", "-c",
                         "hostname mitogen-setns-test && exec sleep 300", NULL };
  g_autoptr(GError) error = NULL;
  g_autoptr(MitogenContext) ctx = NULL;
  g_autofree char *hostname = NULL;
  g_autofree char *ours = NULL;
  GPid pid;
  GVariantDict dict;

  if (skip_unless_root ())
    return;
  g_assert_true (g_spawn_async (NULL, (char **) argv, NULL,
                                G_SPAWN_SEARCH_PATH | G_SPAWN_DO_NOT_REAP_CHILD,
                                NULL, NULL, &pid, &error));
  g_assert_no_error (error);

  /* unshare execs sh, which sets the name and execs sleep: wait for it. */
  for (int i = 0; i < 500; i++)
    {
      g_autofree char *path = g_strdup_printf ("/proc/%d/comm", pid);
      g_autofree char *comm = NULL;

      if (g_file_get_contents (path, &comm, NULL, NULL) && g_str_has_prefix (comm, "sleep"))
        break;
      g_usleep (10 * 1000);
    }

  g_variant_dict_init (&dict, NULL);
  g_variant_dict_insert (&dict, "pid", "u", (guint32) pid);
  ctx = mitogen_test_connect_ok (fixture->router, "setns", g_variant_dict_end (&dict), NULL);
  hostname = remote_output (ctx, (const char *[]) { "hostname", NULL });
  g_assert_cmpstr (hostname, ==, "mitogen-setns-test\n");
  ours = g_strdup (g_get_host_name ());
  g_assert_cmpstr (ours, !=, "mitogen-setns-test");

  mitogen_router_disconnect_context (fixture->router, ctx);
  kill (pid, SIGKILL);
  waitpid (pid, NULL, 0);
  g_spawn_close_pid (pid);
}

static void
test_setns_errors (MitogenTestFixture *fixture,
                   gconstpointer       data)
{
  g_autoptr(GError) no_pid = NULL;
  g_autoptr(GError) bad_namespace = NULL;

  no_pid = mitogen_test_connect_fails (fixture->router, "setns", NULL, NULL);
  g_assert_nonnull (strstr (no_pid->message, "setns: the “pid” option is required"));
  bad_namespace = mitogen_test_connect_fails (fixture->router, "setns",
                                              g_variant_new_parsed ("{'pid': <uint32 1>, "
                                                                    "'namespaces': <['mnt']>}"),
                                              NULL);
  g_assert_nonnull (strstr (bad_namespace->message, "setns: unknown namespace “mnt”"));
}

#define TEST(path, func) \
  g_test_add (path, MitogenTestFixture, NULL, mitogen_test_fixture_setup, func, \
              mitogen_test_fixture_teardown)

int
main (int    argc,
      char **argv)
{
  mitogen_test_init (&argc, &argv);

  TEST ("/container/chroot", test_chroot);
  TEST ("/container/chroot-errors", test_chroot_errors);
  TEST ("/container/setns", test_setns);
  TEST ("/container/setns-errors", test_setns_errors);
  return g_test_run ();
}
