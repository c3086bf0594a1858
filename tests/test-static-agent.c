/* test-static-agent.c: mitogen-agent-static, the agent that travels, needs
 * nothing of GLib or libmitogen on the host: its ELF file names no such
 * library, and it starts and answers calls chrooted in a root that holds
 * only the agent, the C library and the loader.
 *
 * The root is entered with `unshare -rm` (a user and mount namespace, no
 * privilege needed) or, where user namespaces are off, as root with
 * `unshare -m`, which needs MITOGEN_TEST_SYSTEM=1.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "mitogen-test-util.h"

/* Built with AddressSanitizer (then so is the agent, needing libasan). */
#if defined(__SANITIZE_ADDRESS__)
# define SANITIZED 1
#elif defined(__has_feature)
# if __has_feature(address_sanitizer)
#  define SANITIZED 1
# endif
#endif
#ifndef SANITIZED
# define SANITIZED 0
#endif

/* Libraries the self-contained agent must not need. */
static const char * const linked_in[] = {
  "libglib-2.0", "libgobject-2.0", "libgio-2.0", "libgmodule-2.0", "libmitogen",
  "libffi", "libpcre2", "libmount", "libblkid", "libselinux", "libz.", NULL
};

static char *
static_agent_path (void)
{
  return g_strconcat (g_getenv ("MITOGEN_AGENT_PATH"), "-static", NULL);
}

static gboolean
skip_without_static_agent (const char *agent)
{
  if (g_file_test (agent, G_FILE_TEST_IS_EXECUTABLE))
    return FALSE;
  g_test_skip ("mitogen-agent-static was not built (-Dstatic_agent)");
  return TRUE;
}

/* Standard output of @argv, or NULL if it could not run or failed. */
static char *
output_of (const char * const *argv)
{
  g_autofree char *out = NULL;
  int status = -1;

  if (!g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDERR_TO_DEV_NULL,
                     NULL, NULL, &out, NULL, &status, NULL) ||
      !g_spawn_check_wait_status (status, NULL))
    return NULL;
  return g_steal_pointer (&out);
}

/* The dynamic section names the C library and nothing that is linked in;
 * and the file is stripped and within its size budget. */
static void
test_needs_no_glib (void)
{
  g_autofree char *agent = static_agent_path ();
  g_autofree char *dynamic = NULL;
  g_autofree char *sections = NULL;
  GStatBuf st;

  if (skip_without_static_agent (agent))
    return;
  dynamic = output_of ((const char *[]) { "readelf", "-d", agent, NULL });
  if (dynamic == NULL)
    {
      g_test_skip ("readelf (binutils) cannot be run");
      return;
    }
  g_assert_nonnull (strstr (dynamic, "Shared library: [libc.so.6]"));
  for (guint i = 0; linked_in[i] != NULL; i++)
    if (strstr (dynamic, linked_in[i]) != NULL)
      g_error ("mitogen-agent-static needs %s:\n%s", linked_in[i], dynamic);

  sections = output_of ((const char *[]) { "readelf", "-S", "-W", agent, NULL });
  g_assert_nonnull (sections);
  g_assert_nonnull (strstr (sections, ".dynsym"));   /* plugins bind to its API */
  g_assert_cmpint (g_stat (agent, &st), ==, 0);
  g_test_message ("mitogen-agent-static: %" G_GINT64_FORMAT " bytes", (gint64) st.st_size);
  /* At most 3 MiB, stripped and without unwind tables; the sanitizers'
   * instrumentation (and the symbols and tables their reports need) is
   * not part of that budget. */
  if (!SANITIZED)
    {
      g_assert_null (strstr (sections, ".symtab"));
      g_assert_null (strstr (sections, ".eh_frame"));
      g_assert_cmpint (st.st_size, <=, 3 * 1024 * 1024);
    }
}

/* Copies @from to @root/@to (following links), mode 0755. */
static void
copy_into (const char *root,
           const char *from,
           const char *to)
{
  g_autofree char *dest = g_build_filename (root, to, NULL);
  g_autofree char *dir = g_path_get_dirname (dest);
  g_autofree char *contents = NULL;
  g_autoptr(GError) error = NULL;
  gsize len;

  g_assert_cmpint (g_mkdir_with_parents (dir, 0755), ==, 0);
  g_file_get_contents (from, &contents, &len, &error);
  g_assert_no_error (error);
  g_file_set_contents_full (dest, contents, len, G_FILE_SET_CONTENTS_NONE, 0755, &error);
  g_assert_no_error (error);
}

/* The files `ldd` says @program loads, each as an absolute path. */
static GStrv
libraries_of (const char *program)
{
  g_autofree char *out = output_of ((const char *[]) { "ldd", program, NULL });
  g_auto(GStrv) lines = NULL;
  g_autoptr(GStrvBuilder) paths = g_strv_builder_new ();

  g_assert_nonnull (out);
  lines = g_strsplit (out, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      const char *p = strchr (lines[i], '/');

      if (p != NULL && strstr (lines[i], "linux-vdso") == NULL)
        {
          g_autofree char *path = g_strndup (p, strcspn (p, " \t("));

          g_strv_builder_add (paths, path);
        }
    }
  return g_strv_builder_end (paths);
}

/* A root holding the static agent at /static, the dynamic one at /dynamic,
 * the libraries the static one loads, and an empty /dev/null to bind the
 * real one onto. No GLib anywhere. */
static char *
make_root (const char *static_agent)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *root = g_dir_make_tmp ("mitogen-root-XXXXXX", &error);
  g_auto(GStrv) libs = libraries_of (static_agent);
  g_autofree char *devnull = NULL;

  g_assert_no_error (error);
  copy_into (root, static_agent, "static");
  copy_into (root, g_getenv ("MITOGEN_AGENT_PATH"), "dynamic");
  for (guint i = 0; libs[i] != NULL; i++)
    {
      g_assert_null (strstr (libs[i], "glib"));
      copy_into (root, libs[i], libs[i]);
    }
  devnull = g_build_filename (root, "dev", "null", NULL);
  g_assert_cmpint (g_mkdir_with_parents (devnull, 0755), ==, 0);
  g_assert_cmpint (g_rmdir (devnull), ==, 0);
  g_assert_true (g_file_set_contents (devnull, "", 0, NULL));
  return g_steal_pointer (&root);
}

static void
remove_tree (const char *path)
{
  const char *argv[] = { "rm", "-rf", path, NULL };
  g_autofree char *out = output_of (argv);

  g_assert_nonnull (out);
}

/* The `unshare` options that let us chroot here, or NULL (and a skip). */
static const char *
how_to_enter (void)
{
  g_autofree char *userns = output_of ((const char *[]) { "unshare", "-rm", "true", NULL });

  if (userns != NULL)
    return "-rm";
  if (getuid () == 0 && g_strcmp0 (g_getenv ("MITOGEN_TEST_SYSTEM"), "1") == 0)
    return "-m";
  g_test_skip ("no user namespaces here: run as root with MITOGEN_TEST_SYSTEM=1 to chroot");
  return NULL;
}

/* A program that runs @agent (a path inside @root) chrooted there, for the
 * local transport to start as its agent. */
static char *
write_launcher (const char *root,
                const char *agent,
                const char *unshare_opts)
{
  g_autofree char *launcher = g_strconcat (root, ".launch", NULL);
  g_autofree char *script = g_strdup_printf (
    "#!/bin/sh\n"
    "exec unshare %s sh -c 'mount --bind /dev/null \"$0/dev/null\" && exec chroot \"$0\" \"$1\"' '%s' '%s'\n",
    unshare_opts, root, agent);
  g_autoptr(GError) error = NULL;

  g_file_set_contents_full (launcher, script, -1, G_FILE_SET_CONTENTS_NONE, 0755, &error);
  g_assert_no_error (error);
  return g_steal_pointer (&launcher);
}

static MitogenContext *
connect_chrooted (MitogenRouter *router,
                  const char    *launcher,
                  GError       **error)
{
  GVariantDict dict;

  g_variant_dict_init (&dict, NULL);
  g_variant_dict_insert (&dict, "agent_path", "s", launcher);
  g_variant_dict_insert (&dict, "connect_timeout", "d", 60.0);
  return mitogen_router_connect_context (router, "local", g_variant_dict_end (&dict),
                                         NULL, NULL, error);
}

/* In a root with no GLib, the static agent starts and calls round-trip;
 * the dynamic agent, in the same root, cannot start. */
static void
test_runs_without_glib (MitogenTestFixture *fixture,
                        gconstpointer       data)
{
  g_autofree char *agent = static_agent_path ();
  g_autofree char *root = NULL;
  g_autofree char *launcher = NULL;
  g_autofree char *maps_file = NULL;
  g_autofree char *maps = NULL;
  g_autofree char *root_link = NULL;
  g_autofree char *seen_root = NULL;
  g_autoptr(MitogenContext) ctx = NULL;
  g_autoptr(MitogenContext) dynamic = NULL;
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GError) error = NULL;
  const char *opts;

  if (skip_without_static_agent (agent))
    return;
  if (SANITIZED)
    {
      g_test_skip ("the ASan runtime the agent is built with needs /proc, which the root lacks");
      return;
    }
  if ((opts = how_to_enter ()) == NULL)
    return;
  root = make_root (agent);

  launcher = write_launcher (root, "/static", opts);
  ctx = connect_chrooted (fixture->router, launcher, &error);
  g_assert_no_error (error);
  reply = mitogen_context_call (ctx, "core.echo", g_variant_new ("(s)", "from a root without GLib"),
                                NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (g_variant_get_string (reply, NULL), ==, "from a root without GLib");

  /* It runs in the root, and maps no GLib. */
  root_link = g_strdup_printf ("/proc/%d/root", mitogen_test_context_pid (ctx));
  seen_root = g_file_read_link (root_link, NULL);
  g_assert_cmpstr (seen_root, ==, root);
  maps_file = g_strdup_printf ("/proc/%d/maps", mitogen_test_context_pid (ctx));
  g_assert_true (g_file_get_contents (maps_file, &maps, NULL, NULL));
  g_assert_null (strstr (maps, "libglib"));
  g_assert_null (strstr (maps, "libgio"));
  mitogen_context_shutdown (ctx, 30000, NULL, &error);
  g_assert_no_error (error);

  /* The control: the dynamically linked agent needs what is not there. */
  g_free (launcher);
  launcher = write_launcher (root, "/dynamic", opts);
  dynamic = connect_chrooted (fixture->router, launcher, &error);
  g_assert_null (dynamic);
  g_assert_nonnull (error);

  g_unlink (launcher);
  remove_tree (root);
}

static gboolean
maps_contain_file (MitogenContext *ctx,
                   const char     *needle)
{
  g_autofree char *maps_file = g_strdup_printf ("/proc/%d/maps", mitogen_test_context_pid (ctx));
  g_autofree char *maps = NULL;

  g_assert_true (g_file_get_contents (maps_file, &maps, NULL, NULL));
  return strstr (maps, needle) != NULL;
}

/* The static agent started here, from the build tree, by the local
 * transport: as @agent, or with static_agent=true (from @agent's twin, or
 * the default agent's when @agent is NULL); with the serializer
 * @serializer unless NULL. */
static MitogenContext *
connect_local_agent (MitogenRouter *router,
                     const char    *agent,
                     gboolean       static_option,
                     const char    *serializer,
                     GError       **error)
{
  GVariantDict dict;

  g_variant_dict_init (&dict, NULL);
  if (agent != NULL)
    g_variant_dict_insert (&dict, "agent_path", "s", agent);
  if (static_option)
    g_variant_dict_insert (&dict, "static_agent", "b", TRUE);
  g_variant_dict_insert (&dict, "connect_timeout", "d", 60.0);
  if (serializer != NULL)
    g_variant_dict_insert (&dict, "serializer", "s", serializer);
  return mitogen_router_connect_context (router, "local", g_variant_dict_end (&dict),
                                         NULL, NULL, error);
}

static MitogenContext *
connect_static (MitogenRouter *router,
                const char    *agent,
                const char    *serializer,
                GError       **error)
{
  return connect_local_agent (router, agent, FALSE, serializer, error);
}

/* A module sent to the static agent on a host that has GLib binds to the
 * GLib inside the agent: no libglib, libgobject or libgio is mapped after
 * it loads, and it can still make a GObject with a property (one type
 * system, whose param-spec types nothing overwrote). */
static void
test_module_brings_no_glib (MitogenTestFixture *fixture,
                            gconstpointer       data)
{
  g_autofree char *agent = static_agent_path ();
  g_autofree char *maps_file = NULL;
  g_autofree char *maps = NULL;
  g_autoptr(MitogenContext) ctx = NULL;
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GError) error = NULL;

  if (skip_without_static_agent (agent))
    return;
  g_assert_true (mitogen_add_module ("testmod", g_getenv ("MITOGEN_TEST_MODULE"), &error));
  g_assert_no_error (error);
  ctx = connect_static (fixture->router, agent, NULL, &error);
  g_assert_no_error (error);

  reply = mitogen_context_call (ctx, "testmod.property", g_variant_new ("(s)", "one GLib"),
                                NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (g_variant_get_string (reply, NULL), ==, "one GLib");

  maps_file = g_strdup_printf ("/proc/%d/maps", mitogen_test_context_pid (ctx));
  g_assert_true (g_file_get_contents (maps_file, &maps, NULL, NULL));
  g_assert_nonnull (strstr (maps, "memfd:testmod"));
  g_assert_null (strstr (maps, "/libglib-2.0.so"));
  g_assert_null (strstr (maps, "/libgobject-2.0.so"));
  g_assert_null (strstr (maps, "/libgio-2.0.so"));

  /* And the agent's own GObject classes still work after the load. */
  g_clear_pointer (&reply, g_variant_unref);
  reply = mitogen_context_call (ctx, "testmod.property", g_variant_new ("(s)", "still one"),
                                NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (g_variant_get_string (reply, NULL), ==, "still one");
  mitogen_context_shutdown (ctx, 30000, NULL, &error);
  g_assert_no_error (error);
}

/* The local transport's static_agent option runs the "-static" twin of
 * the agent path: no shared GLib is mapped in the context it starts. */
static void
test_local_option (MitogenTestFixture *fixture,
                   gconstpointer       data)
{
  g_autofree char *agent = static_agent_path ();
  g_autoptr(MitogenContext) ctx = NULL;
  g_autoptr(MitogenContext) dynamic = NULL;
  g_autoptr(GError) error = NULL;

  if (skip_without_static_agent (agent))
    return;
  ctx = connect_local_agent (fixture->router, NULL, TRUE, NULL, &error);
  g_assert_no_error (error);
  g_assert_false (maps_contain_file (ctx, "/libglib-2.0.so"));

  /* The control: without the option, the dynamic agent and its GLib. */
  dynamic = mitogen_test_local (fixture->router);
  g_assert_true (maps_contain_file (dynamic, "/libglib-2.0.so"));
}

/* An agent path whose "-static" twin is missing is a clear error. */
static void
test_local_option_missing (MitogenTestFixture *fixture,
                           gconstpointer       data)
{
  g_autoptr(MitogenContext) ctx = NULL;
  g_autoptr(GError) error = NULL;

  ctx = connect_local_agent (fixture->router, "/bin/true", TRUE, NULL, &error);
  g_assert_null (ctx);
  g_assert_error (error, MITOGEN_ERROR, MITOGEN_ERROR_STREAM);
  g_assert_nonnull (strstr (error->message, "/bin/true-static is missing"));
}

/* A module linked with the shared GLib is refused by the static agent,
 * with an error that names it and says why, before it is loaded; the
 * dynamic agent, which links that GLib, runs it. */
static void
test_refuses_own_glib (MitogenTestFixture *fixture,
                       gconstpointer       data)
{
  g_autofree char *agent = static_agent_path ();
  g_autoptr(MitogenContext) ctx = NULL;
  g_autoptr(MitogenContext) dynamic = NULL;
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GError) error = NULL;

  if (skip_without_static_agent (agent))
    return;
  g_assert_true (mitogen_add_module ("ownglib", g_getenv ("MITOGEN_TEST_OWN_GLIB_MODULE"), &error));
  g_assert_no_error (error);
  ctx = connect_static (fixture->router, agent, NULL, &error);
  g_assert_no_error (error);

  reply = mitogen_context_call (ctx, "ownglib.type_name", NULL, NULL, &error);
  g_assert_null (reply);
  g_assert_nonnull (error);
  g_test_message ("static agent: %s", error->message);
  g_assert_nonnull (strstr (error->message, "module ownglib"));
  g_assert_nonnull (strstr (error->message, "links its own GLib (lib"));
  g_assert_nonnull (strstr (error->message, "see README"));
  g_clear_error (&error);
  /* The agent is still there, and did not map the module or a GLib. */
  g_assert_false (maps_contain_file (ctx, "memfd:ownglib"));
  g_assert_false (maps_contain_file (ctx, "/libgobject-2.0.so"));
  reply = mitogen_context_call (ctx, "core.echo", g_variant_new ("(s)", "alive"), NULL, &error);
  g_assert_no_error (error);
  g_clear_pointer (&reply, g_variant_unref);

  dynamic = mitogen_router_connect_context (fixture->router, "local", NULL, NULL, NULL, &error);
  g_assert_no_error (error);
  reply = mitogen_context_call (dynamic, "ownglib.type_name", NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (g_variant_get_string (reply, NULL), ==, "GObject");
}

/* The json serializer's json-glib links GLib: the static agent refuses
 * the plugin, naming the library that brings GLib, and so cannot start
 * with that serializer. */
static void
test_refuses_json_glib (MitogenTestFixture *fixture,
                        gconstpointer       data)
{
  g_autofree char *agent = static_agent_path ();
  g_autoptr(MitogenSerializer) json = NULL;
  g_autoptr(MitogenContext) ctx = NULL;
  g_autoptr(GError) error = NULL;

  if (skip_without_static_agent (agent))
    return;
  json = mitogen_serializer_lookup ("json", NULL);
  if (json == NULL)
    {
      g_test_skip ("the json serializer was not built (no json-glib)");
      return;
    }
  ctx = connect_static (fixture->router, agent, "json", &error);
  g_assert_null (ctx);
  g_assert_nonnull (error);
  g_test_message ("static agent: %s", error->message);
  g_assert_nonnull (strstr (error->message, "mitogen-serializer-json.so links its own GLib"));
  g_assert_nonnull (strstr (error->message, "through libjson-glib-1.0.so"));
}

int
main (int    argc,
      char **argv)
{
  mitogen_test_init (&argc, &argv);

  g_test_add_func ("/static-agent/needs-no-glib", test_needs_no_glib);
  g_test_add ("/static-agent/runs-without-glib", MitogenTestFixture, NULL,
              mitogen_test_fixture_setup, test_runs_without_glib,
              mitogen_test_fixture_teardown);
  g_test_add ("/static-agent/module-brings-no-glib", MitogenTestFixture, NULL,
              mitogen_test_fixture_setup, test_module_brings_no_glib,
              mitogen_test_fixture_teardown);
  g_test_add ("/static-agent/local-option", MitogenTestFixture, NULL,
              mitogen_test_fixture_setup, test_local_option, mitogen_test_fixture_teardown);
  g_test_add ("/static-agent/local-option-missing", MitogenTestFixture, NULL,
              mitogen_test_fixture_setup, test_local_option_missing, mitogen_test_fixture_teardown);
  g_test_add ("/static-agent/refuses-own-glib", MitogenTestFixture, NULL,
              mitogen_test_fixture_setup, test_refuses_own_glib,
              mitogen_test_fixture_teardown);
  g_test_add ("/static-agent/refuses-json-glib", MitogenTestFixture, NULL,
              mitogen_test_fixture_setup, test_refuses_json_glib,
              mitogen_test_fixture_teardown);
  return g_test_run ();
}
