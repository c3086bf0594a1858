/* test-plugin.c: the plugin loader and the transport/serializer registry.
 *
 * Plugins load once per process, so the tests that need a plugin path of
 * their own run in a subprocess (g_test_trap_subprocess()).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <unistd.h>

#include <glib/gstdio.h>

#include "mitogen-test-util.h"

#define WAIT_MSEC 10000

static gboolean
strv_has (char       **strv,
          const char  *name)
{
  return strv != NULL && g_strv_contains ((const char * const *) strv, name);
}

/* ---- what the build tree provides -------------------------------------- */

static void
test_list_transports (void)
{
  g_auto(GStrv) names = mitogen_list_transports ();

  g_assert_true (strv_has (names, "local"));
  /* Each name once, however many types claim it. */
  for (guint i = 0; names[i] != NULL; i++)
    for (guint j = i + 1; names[j] != NULL; j++)
      g_assert_cmpstr (names[i], !=, names[j]);
}

static void
test_list_serializers (void)
{
  g_auto(GStrv) names = mitogen_list_serializers ();

  g_assert_true (strv_has (names, "gvariant"));
}

static void
test_lookup (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MitogenTransport) transport = mitogen_transport_lookup ("local", &error);
  g_autoptr(MitogenSerializer) serializer = NULL;
  g_autoptr(MitogenSerializer) other = NULL;
  g_autoptr(GVariant) value = g_variant_ref_sink (g_variant_new ("(sx)", "round", (gint64) 42));
  g_autoptr(GVariant) back = NULL;
  g_autoptr(GBytes) bytes = NULL;

  g_assert_no_error (error);
  g_assert_true (MITOGEN_IS_TRANSPORT (transport));

  serializer = mitogen_serializer_lookup ("gvariant", &error);
  g_assert_no_error (error);
  g_assert_true (MITOGEN_IS_SERIALIZER (serializer));
  /* Each lookup makes an instance of its own. */
  other = mitogen_serializer_lookup ("gvariant", &error);
  g_assert_true (other != serializer);

  bytes = mitogen_serializer_serialize (serializer, value, &error);
  g_assert_no_error (error);
  back = mitogen_serializer_deserialize (other, bytes, &error);
  g_assert_no_error (error);
  g_assert_true (g_variant_equal (back, value));
}

static void
test_lookup_unknown (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MitogenTransport) transport = mitogen_transport_lookup ("nonexistent", &error);
  g_autoptr(MitogenSerializer) serializer = NULL;

  g_assert_null (transport);
  g_assert_error (error, MITOGEN_ERROR, MITOGEN_ERROR_FAILED);
  g_assert_nonnull (strstr (error->message, "nonexistent"));
  /* It says where it looked and how to look elsewhere. */
  g_assert_nonnull (strstr (error->message, MITOGEN_PLUGIN_PATH_ENV));
  g_clear_error (&error);

  serializer = mitogen_serializer_lookup ("nope", &error);
  g_assert_null (serializer);
  g_assert_error (error, MITOGEN_ERROR, MITOGEN_ERROR_FAILED);
  g_assert_nonnull (strstr (error->message, "nope"));
}

/* ---- registering from the program ------------------------------------- */

#define TEST_TYPE_LOW_TRANSPORT (test_low_transport_get_type ())
G_DECLARE_FINAL_TYPE (TestLowTransport, test_low_transport, TEST, LOW_TRANSPORT, GObject)
struct _TestLowTransport { GObject parent_instance; };

#define TEST_TYPE_HIGH_TRANSPORT (test_high_transport_get_type ())
G_DECLARE_FINAL_TYPE (TestHighTransport, test_high_transport, TEST, HIGH_TRANSPORT, GObject)
struct _TestHighTransport { GObject parent_instance; };

static GIOStream *
refusing_open_stream (MitogenTransport  *transport,
                      GVariant          *options,
                      const char        *agent_path,
                      GCancellable      *cancellable,
                      GError           **error)
{
  g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_STREAM, "%s refuses to connect",
               G_OBJECT_TYPE_NAME (transport));
  return NULL;
}

static void
refusing_iface_init (MitogenTransportInterface *iface)
{
  iface->open_stream = refusing_open_stream;
}

G_DEFINE_FINAL_TYPE_WITH_CODE (TestLowTransport, test_low_transport, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (MITOGEN_TYPE_TRANSPORT, refusing_iface_init))
static void test_low_transport_class_init (TestLowTransportClass *klass) { }
static void test_low_transport_init (TestLowTransport *self) { }

G_DEFINE_FINAL_TYPE_WITH_CODE (TestHighTransport, test_high_transport, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (MITOGEN_TYPE_TRANSPORT, refusing_iface_init))
static void test_high_transport_class_init (TestHighTransportClass *klass) { }
static void test_high_transport_init (TestHighTransport *self) { }

/* Two types for one name: the higher priority wins, whatever the order. */
static void
test_register_priority (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MitogenTransport) transport = NULL;
  g_auto(GStrv) names = NULL;

  mitogen_register_transport (TEST_TYPE_HIGH_TRANSPORT, "prio-test", 10);
  mitogen_register_transport (TEST_TYPE_LOW_TRANSPORT, "prio-test", 0);

  transport = mitogen_transport_lookup ("prio-test", &error);
  g_assert_no_error (error);
  g_assert_true (G_TYPE_CHECK_INSTANCE_TYPE (transport, TEST_TYPE_HIGH_TRANSPORT));

  names = mitogen_list_transports ();
  g_assert_true (strv_has (names, "prio-test"));
  g_assert_true (strv_has (names, "local"));
}

/* A transport's failure reaches the caller of connect as it is. */
static void
test_connect_with_registered_transport (void)
{
  g_autoptr(MitogenBroker) broker = mitogen_broker_new ();
  g_autoptr(MitogenRouter) router = mitogen_router_new (broker);
  g_autoptr(MitogenContext) ctx = NULL;
  g_autoptr(GError) error = NULL;

  mitogen_register_transport (TEST_TYPE_HIGH_TRANSPORT, "prio-test", 10);
  ctx = mitogen_router_connect_context (router, "prio-test", NULL, NULL, NULL, &error);
  g_assert_null (ctx);
  g_assert_error (error, MITOGEN_ERROR, MITOGEN_ERROR_STREAM);
  g_assert_nonnull (strstr (error->message, "TestHighTransport refuses"));

  mitogen_broker_shutdown (broker);
  mitogen_broker_join (broker);
}

/* ---- connect options naming what does not exist ----------------------- */

typedef MitogenTestFixture Fixture;

static void
test_connect_unknown_transport (Fixture       *fixture,
                                gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MitogenContext) ctx = NULL;
  g_autoptr(GPtrArray) contexts = NULL;

  ctx = mitogen_router_connect_context (fixture->router, "nonexistent", NULL, NULL, NULL, &error);
  g_assert_null (ctx);
  g_assert_error (error, MITOGEN_ERROR, MITOGEN_ERROR_FAILED);
  g_assert_nonnull (strstr (error->message, "'nonexistent'"));
  g_assert_nonnull (strstr (error->message, "transport"));

  /* Nothing was half-started. */
  contexts = mitogen_router_list_contexts (fixture->router);
  g_assert_cmpuint (contexts->len, ==, 0);
}

static void
test_connect_unknown_serializer (Fixture       *fixture,
                                 gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MitogenContext) ctx = NULL;
  GVariantDict options;

  g_variant_dict_init (&options, NULL);
  g_variant_dict_insert (&options, "serializer", "s", "nope");
  ctx = mitogen_router_connect_context (fixture->router, "local", g_variant_dict_end (&options),
                                NULL, NULL, &error);
  g_assert_null (ctx);
  g_assert_error (error, MITOGEN_ERROR, MITOGEN_ERROR_FAILED);
  g_assert_nonnull (strstr (error->message, "'nope'"));
  g_assert_nonnull (strstr (error->message, "serializer"));
  g_clear_error (&error);

  /* A serializer option of the wrong type is refused as clearly. */
  g_variant_dict_init (&options, NULL);
  g_variant_dict_insert (&options, "serializer", "i", 3);
  ctx = mitogen_router_connect_context (fixture->router, "local", g_variant_dict_end (&options),
                                NULL, NULL, &error);
  g_assert_null (ctx);
  g_assert_error (error, MITOGEN_ERROR, MITOGEN_ERROR_FAILED);
  g_assert_nonnull (strstr (error->message, "serializer"));
  g_clear_error (&error);

  /* Naming the default explicitly works. */
  g_variant_dict_init (&options, NULL);
  g_variant_dict_insert (&options, "serializer", "s", "gvariant");
  ctx = mitogen_router_connect_context (fixture->router, "local", g_variant_dict_end (&options),
                                NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (ctx);
  {
    g_autoptr(GVariant) pong = mitogen_context_call (ctx, "core.ping", NULL, NULL, &error);

    g_assert_no_error (error);
  }
  mitogen_context_shutdown (ctx, 30000, NULL, NULL);
  while (g_main_context_iteration (NULL, FALSE))
    ;
}

/* ---- broken plugins ---------------------------------------------------- */

/* The path of a shared library this process has loaded, to pose as a
 * plugin without mitogen_plugin_init(). */
static char *
find_loaded_library (const char *name)
{
  g_autofree char *maps = NULL;
  g_auto(GStrv) lines = NULL;

  if (!g_file_get_contents ("/proc/self/maps", &maps, NULL, NULL))
    return NULL;
  lines = g_strsplit (maps, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      const char *path = strchr (lines[i], '/');

      if (path != NULL && strstr (path, name) != NULL)
        return g_strdup (path);
    }
  return NULL;
}

/* Runs in the subprocess, before any thread exists (so setenv is safe):
 * a plugin directory with garbage in it goes first in the search path. */
static void
broken_plugin_child (void)
{
  static const guint8 garbage[] = "\x7f" "ELF but not really, just garbage bytes \x01\x02\x03";
  g_autoptr(MitogenBroker) broker = NULL;
  g_autoptr(MitogenRouter) router = NULL;
  g_autoptr(MitogenContext) ctx = NULL;
  g_autoptr(GVariant) pid = NULL;
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) transports = NULL;
  g_auto(GStrv) serializers = NULL;
  g_autofree char *dir = NULL;
  g_autofree char *broken = NULL;
  g_autofree char *empty = NULL;
  g_autofree char *noinit = NULL;
  g_autofree char *ignored = NULL;
  g_autofree char *library = NULL;
  g_autofree char *path = NULL;

  dir = g_dir_make_tmp ("mitogen-plugins-XXXXXX", &error);
  g_assert_no_error (error);
  broken = g_build_filename (dir, "broken.so", NULL);
  empty = g_build_filename (dir, "empty.so", NULL);
  ignored = g_build_filename (dir, "README.txt", NULL);
  g_assert_true (g_file_set_contents (broken, (const char *) garbage, sizeof garbage, &error));
  g_assert_true (g_file_set_contents (empty, "", 0, &error));
  /* Files without the .so suffix are not even tried. */
  g_assert_true (g_file_set_contents (ignored, "not a plugin", -1, &error));
  /* A real library that is no plugin (optional: only if one is found). */
  library = find_loaded_library ("libm.so");
  if (library != NULL)
    {
      noinit = g_build_filename (dir, "noinit.so", NULL);
      g_assert_cmpint (symlink (library, noinit), ==, 0);
      mitogen_test_expect_log ("mitogen", G_LOG_LEVEL_WARNING, "*noinit.so has no mitogen_plugin_init*");
    }
  /* Each bad plugin is reported; README.txt is not tried, so not either. */
  mitogen_test_expect_log ("mitogen", G_LOG_LEVEL_WARNING, "*could not load plugin*broken.so*");
  mitogen_test_expect_log ("mitogen", G_LOG_LEVEL_WARNING, "*could not load plugin*empty.so*");

  /* The broken directory first, a missing one, then the real plugins. */
  g_assert_nonnull (g_getenv (MITOGEN_PLUGIN_PATH_ENV));
  path = g_strdup_printf ("%s:/nonexistent/mitogen-plugins::%s", dir,
                          g_getenv (MITOGEN_PLUGIN_PATH_ENV));
  g_setenv (MITOGEN_PLUGIN_PATH_ENV, path, TRUE);

  /* Loading happens here: the garbage is skipped, the rest loads. */
  transports = mitogen_list_transports ();
  serializers = mitogen_list_serializers ();
  g_assert_true (strv_has (transports, "local"));
  g_assert_true (strv_has (serializers, "gvariant"));

  /* And the process works: it can start a context and call it. */
  broker = mitogen_broker_new ();
  router = mitogen_router_new (broker);
  ctx = mitogen_router_local (router, NULL, NULL, &error);
  g_assert_no_error (error);
  pid = mitogen_context_call (ctx, "core.getpid", NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_variant_get_int32 (pid), !=, getpid ());
  mitogen_context_shutdown (ctx, 30000, NULL, NULL);

  g_unlink (broken);
  g_unlink (empty);
  g_unlink (ignored);
  if (noinit != NULL)
    g_unlink (noinit);
  g_rmdir (dir);
  g_print ("child done\n");
}

static void
test_broken_plugin_skipped (void)
{
  if (g_test_subprocess ())
    {
      broken_plugin_child ();
      return;
    }

  g_test_trap_subprocess (NULL, 30 * G_USEC_PER_SEC, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed ();
  g_test_trap_assert_stdout ("*child done*");
}

/* True when process @pid has mapped a file whose name starts with
 * "mitogen-" and ends in ".so": a plugin (or a module) it loaded. */
static gboolean
maps_a_mitogen_object (int pid)
{
  g_autofree char *file = g_strdup_printf ("/proc/%d/maps", pid);
  g_autofree char *maps = NULL;
  g_auto(GStrv) lines = NULL;

  g_assert_true (g_file_get_contents (file, &maps, NULL, NULL));
  lines = g_strsplit (maps, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      const char *path = strchr (lines[i], '/');
      g_autofree char *base = path != NULL ? g_path_get_basename (path) : NULL;

      if (base != NULL && g_str_has_prefix (base, "mitogen-") && g_str_has_suffix (base, ".so"))
        return TRUE;
    }
  return FALSE;
}

/* A copy of the build tree's agent in @dir, so that nothing about where it
 * runs from points at the build tree's plugins. */
static char *
copy_agent (const char *dir)
{
  g_autofree char *contents = NULL;
  char *copy = g_build_filename (dir, "mitogen-agent", NULL);
  gsize len;

  g_assert_nonnull (g_getenv ("MITOGEN_AGENT_PATH"));
  g_assert_true (g_file_get_contents (g_getenv ("MITOGEN_AGENT_PATH"), &contents, &len, NULL));
  g_assert_true (g_file_set_contents (copy, contents, len, NULL));
  g_assert_cmpint (g_chmod (copy, 0755), ==, 0);
  return copy;
}

/* With no plugin directory anywhere, the built-in "local" and "gvariant"
 * are there, in the master and in an agent, which starts and answers
 * without loading a single plugin file. The agent finds plugins in the
 * bootstrap's plugin_path (here an empty directory), in
 * MITOGEN_PLUGIN_PATH (unset here, before the agent inherits the
 * environment) and in the installed directory; it loads none because it
 * looks only for what it lacks, which its maps show. */
static void
test_no_plugins (void)
{
  if (g_test_subprocess ())
    {
      g_autoptr(MitogenBroker) broker = NULL;
      g_autoptr(MitogenRouter) router = NULL;
      g_autoptr(MitogenContext) ctx = NULL;
      g_autoptr(MitogenSerializer) serializer = NULL;
      g_autoptr(GVariant) pong = NULL;
      g_autoptr(GVariant) env = NULL;
      g_autoptr(GError) error = NULL;
      g_auto(GStrv) transports = NULL;
      g_auto(GStrv) serializers = NULL;
      g_autofree char *agent_dir = NULL;
      g_autofree char *plugin_dir = NULL;
      g_autofree char *agent = NULL;
      GVariantDict options;
      int pid;

      /* Before any thread exists, so setenv-family calls are safe. */
      g_unsetenv (MITOGEN_PLUGIN_PATH_ENV);
      agent_dir = g_dir_make_tmp ("mitogen-agent-XXXXXX", &error);
      g_assert_no_error (error);
      plugin_dir = g_dir_make_tmp ("mitogen-no-plugins-XXXXXX", &error);
      g_assert_no_error (error);
      agent = copy_agent (agent_dir);

      transports = mitogen_list_transports ();
      serializers = mitogen_list_serializers ();
      g_assert_true (strv_has (transports, "local"));
      g_assert_true (strv_has (serializers, "gvariant"));
      serializer = mitogen_serializer_lookup ("gvariant", &error);
      g_assert_no_error (error);

      broker = mitogen_broker_new ();
      router = mitogen_router_new (broker);
      g_variant_dict_init (&options, NULL);
      g_variant_dict_insert (&options, "agent_path", "s", agent);
      g_variant_dict_insert (&options, "plugin_path", "s", plugin_dir);
      ctx = mitogen_router_connect_context (router, "local", g_variant_dict_end (&options),
                                            NULL, NULL, &error);
      g_assert_no_error (error);
      pong = mitogen_context_call (ctx, "core.ping", NULL, NULL, &error);
      g_assert_no_error (error);
      g_assert_true (g_variant_is_of_type (pong, G_VARIANT_TYPE_UNIT));

      /* The agent saw no plugin directory but the empty one... */
      env = mitogen_context_call (ctx, "core.getenv", g_variant_new ("(s)", MITOGEN_PLUGIN_PATH_ENV),
                                  NULL, &error);
      g_assert_no_error (error);
      g_assert_true (g_variant_is_of_type (env, G_VARIANT_TYPE ("ms")));
      {
        g_autoptr(GVariant) seen = g_variant_get_maybe (env);

        g_assert_nonnull (seen);
        g_assert_cmpstr (g_variant_get_string (seen, NULL), ==, plugin_dir);
      }
      /* ...and loaded no plugin file at all. */
      pid = mitogen_test_context_pid (ctx);
      g_assert_cmpint (pid, >, 0);
      g_assert_false (maps_a_mitogen_object (pid));

      mitogen_context_shutdown (ctx, 30000, NULL, NULL);
      g_unlink (agent);
      g_rmdir (agent_dir);
      g_rmdir (plugin_dir);
      g_print ("child done\n");
      return;
    }

  g_test_trap_subprocess (NULL, 30 * G_USEC_PER_SEC, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed ();
  g_test_trap_assert_stdout ("*child done*");
}

/* ---- lookups that fail ------------------------------------------------- */

#define TEST_TYPE_ABSTRACT_TRANSPORT (test_abstract_transport_get_type ())
G_DECLARE_DERIVABLE_TYPE (TestAbstractTransport, test_abstract_transport, TEST, ABSTRACT_TRANSPORT, GObject)
struct _TestAbstractTransportClass { GObjectClass parent_class; };

G_DEFINE_ABSTRACT_TYPE_WITH_CODE (TestAbstractTransport, test_abstract_transport, G_TYPE_OBJECT,
                                  G_IMPLEMENT_INTERFACE (MITOGEN_TYPE_TRANSPORT, refusing_iface_init))
static void test_abstract_transport_class_init (TestAbstractTransportClass *klass) { }
static void test_abstract_transport_init (TestAbstractTransport *self) { }

/* An abstract type implements the interface, so registering it works; a
 * lookup must then fail with an error, not return NULL silently. */
static void
test_lookup_abstract (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MitogenTransport) transport = NULL;

  mitogen_register_transport (TEST_TYPE_ABSTRACT_TRANSPORT, "abstract-test", 0);
  transport = mitogen_transport_lookup ("abstract-test", &error);
  g_assert_null (transport);
  g_assert_error (error, MITOGEN_ERROR, MITOGEN_ERROR_FAILED);
  g_assert_nonnull (strstr (error->message, "'abstract-test'"));
  g_assert_nonnull (strstr (error->message, "TestAbstractTransport"));
}

/* Links @target as @name in @dir; returns the link's path. */
static char *
link_as (const char *dir,
         const char *name,
         const char *target)
{
  char *link = g_build_filename (dir, name, NULL);

  g_assert_nonnull (target);
  g_assert_cmpint (symlink (target, link), ==, 0);
  return link;
}

/* Runs in the subprocess: a plugin directory whose files exist under the
 * names lookups load, but do not load. */
static void
failed_lookup_child (void)
{
  static const char garbage[] = "\x7f" "ELF, or so it says";
  g_autoptr(GError) error = NULL;
  g_autoptr(GError) again = NULL;
  g_autoptr(MitogenTransport) transport = NULL;
  g_autoptr(MitogenSerializer) serializer = NULL;
  g_auto(GStrv) transports = NULL;
  g_autofree char *dir = NULL;
  g_autofree char *garbage_transport = NULL;
  g_autofree char *garbage_serializer = NULL;
  g_autofree char *bad_abi = NULL;
  g_autofree char *versions = g_strdup_printf ("ABI %u, but this process has ABI %u",
                                               MITOGEN_ABI_VERSION + 1, MITOGEN_ABI_VERSION);

  dir = g_dir_make_tmp ("mitogen-plugins-XXXXXX", &error);
  g_assert_no_error (error);
  garbage_transport = g_build_filename (dir, "mitogen-transport-garbage.so", NULL);
  garbage_serializer = g_build_filename (dir, "mitogen-serializer-garbage.so", NULL);
  g_assert_true (g_file_set_contents (garbage_transport, garbage, sizeof garbage, NULL));
  g_assert_true (g_file_set_contents (garbage_serializer, garbage, sizeof garbage, NULL));
  bad_abi = link_as (dir, "mitogen-transport-badabi.so", g_getenv ("MITOGEN_TEST_BAD_ABI"));
  g_setenv (MITOGEN_PLUGIN_PATH_ENV, dir, TRUE);

  /* A file that is no shared object: the error names it and says why.
   * Not found by name, the loader then tries every file there once, so
   * each bad one is logged now, and only now. */
  mitogen_test_expect_log ("mitogen", G_LOG_LEVEL_WARNING, "*could not load plugin*mitogen-transport-garbage.so*");
  mitogen_test_expect_log ("mitogen", G_LOG_LEVEL_WARNING, "*could not load plugin*mitogen-serializer-garbage.so*");
  mitogen_test_expect_log ("mitogen", G_LOG_LEVEL_WARNING, "*mitogen-transport-badabi.so*was built for libmitogen ABI*");
  transport = mitogen_transport_lookup ("garbage", &error);
  g_assert_null (transport);
  g_assert_error (error, MITOGEN_ERROR, MITOGEN_ERROR_FAILED);
  g_assert_nonnull (strstr (error->message, "'garbage'"));
  g_assert_nonnull (strstr (error->message, garbage_transport));
  mitogen_test_assert_expected_logs ();
  /* Asked again, it says the same, without loading the file again. */
  mitogen_test_expect_no_log ("mitogen", G_LOG_LEVEL_WARNING, "*");
  transport = mitogen_transport_lookup ("garbage", &again);
  g_assert_null (transport);
  g_assert_error (again, MITOGEN_ERROR, MITOGEN_ERROR_FAILED);
  g_assert_cmpstr (again->message, ==, error->message);
  mitogen_test_assert_expected_logs ();
  g_clear_error (&error);

  serializer = mitogen_serializer_lookup ("garbage", &error);
  g_assert_null (serializer);
  g_assert_error (error, MITOGEN_ERROR, MITOGEN_ERROR_FAILED);
  g_assert_nonnull (strstr (error->message, garbage_serializer));
  g_clear_error (&error);

  /* A plugin built for another ABI: refused, naming the file and both
   * versions, and logged (above); its init never ran. */
  transport = mitogen_transport_lookup ("badabi", &error);
  g_assert_null (transport);
  g_assert_error (error, MITOGEN_ERROR, MITOGEN_ERROR_FAILED);
  g_assert_nonnull (strstr (error->message, bad_abi));
  g_assert_nonnull (strstr (error->message, versions));
  mitogen_test_assert_expected_logs ();
  transports = mitogen_list_transports ();
  g_assert_false (strv_has (transports, "badabi"));
  g_assert_true (strv_has (transports, "local"));
  g_clear_error (&error);

  /* No file at all: the search path and the variable are named. */
  transport = mitogen_transport_lookup ("absent", &error);
  g_assert_null (transport);
  g_assert_error (error, MITOGEN_ERROR, MITOGEN_ERROR_FAILED);
  g_assert_nonnull (strstr (error->message, dir));
  g_assert_nonnull (strstr (error->message, MITOGEN_PLUGIN_PATH_ENV));

  g_unlink (garbage_transport);
  g_unlink (garbage_serializer);
  g_unlink (bad_abi);
  g_rmdir (dir);
  g_print ("child done\n");
}

static void
test_lookup_load_failures (void)
{
  if (g_test_subprocess ())
    {
      failed_lookup_child ();
      return;
    }
  g_test_trap_subprocess (NULL, 30 * G_USEC_PER_SEC, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed ();
  g_test_trap_assert_stdout ("*child done*");
}

/* ---- user modules and the ABI check ------------------------------------ */

/* Runs in the subprocess: modules built for another ABI, or before ABI
 * versions, are refused here and, when a context fetches them, there. */
static void
module_abi_child (void)
{
  const char *bad_abi = g_getenv ("MITOGEN_TEST_BAD_ABI");
  const char *no_abi = g_getenv ("MITOGEN_TEST_NO_ABI");
  g_autoptr(MitogenBroker) broker = NULL;
  g_autoptr(MitogenRouter) router = NULL;
  g_autoptr(MitogenContext) ctx = NULL;
  g_autoptr(GVariant) result = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *versions = g_strdup_printf ("ABI %u, but this process has ABI %u",
                                               MITOGEN_ABI_VERSION + 1, MITOGEN_ABI_VERSION);

  g_assert_nonnull (bad_abi);
  g_assert_nonnull (no_abi);

  mitogen_test_expect_log ("mitogen", G_LOG_LEVEL_WARNING, "*badabi*was built for libmitogen ABI*");
  g_assert_false (mitogen_add_module ("badabi", bad_abi, &error));
  g_assert_error (error, MITOGEN_ERROR, MITOGEN_ERROR_FAILED);
  g_assert_nonnull (strstr (error->message, bad_abi));
  g_assert_nonnull (strstr (error->message, versions));
  mitogen_test_assert_expected_logs ();
  g_clear_error (&error);

  mitogen_test_expect_log ("mitogen", G_LOG_LEVEL_WARNING, "*noabi*has no mitogen_module_abi_version*");
  g_assert_false (mitogen_add_module ("noabi", no_abi, &error));
  g_assert_error (error, MITOGEN_ERROR, MITOGEN_ERROR_FAILED);
  g_assert_nonnull (strstr (error->message, no_abi));
  g_assert_nonnull (strstr (error->message, "no mitogen_module_abi_version"));
  g_assert_nonnull (strstr (error->message, "MITOGEN_DEFINE_MODULE"));
  mitogen_test_assert_expected_logs ();
  g_clear_error (&error);

  /* The master still offers the bytes (they may be meant for another
   * machine); an agent fetching them refuses them the same way, and the
   * call fails instead of running the module's code. */
  broker = mitogen_broker_new ();
  router = mitogen_router_new (broker);
  ctx = mitogen_router_local (router, NULL, NULL, &error);
  g_assert_no_error (error);
  mitogen_test_expect_forwarded_log (mitogen_context_get_name (ctx), "mitogen", G_LOG_LEVEL_WARNING,
                                     "*badabi (from the parent context)*was built for*");
  result = mitogen_context_call (ctx, "badabi.loaded", NULL, NULL, &error);
  g_assert_null (result);
  g_assert_error (error, MITOGEN_ERROR, MITOGEN_ERROR_CALL);
  g_assert_nonnull (strstr (error->message, versions));
  mitogen_test_assert_expected_logs ();

  mitogen_context_shutdown (ctx, 30000, NULL, NULL);
  g_print ("child done\n");
}

static void
test_module_abi_refused (void)
{
  if (g_test_subprocess ())
    {
      module_abi_child ();
      return;
    }
  g_test_trap_subprocess (NULL, 30 * G_USEC_PER_SEC, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed ();
  g_test_trap_assert_stdout ("*child done*");
}

int
main (int    argc,
      char **argv)
{
  mitogen_test_init (&argc, &argv);

  g_test_add_func ("/plugin/list-transports", test_list_transports);
  g_test_add_func ("/plugin/list-serializers", test_list_serializers);
  g_test_add_func ("/plugin/lookup", test_lookup);
  g_test_add_func ("/plugin/lookup-unknown", test_lookup_unknown);
  g_test_add_func ("/plugin/register/priority", test_register_priority);
  g_test_add_func ("/plugin/register/connect", test_connect_with_registered_transport);
  g_test_add ("/plugin/connect/unknown-transport", Fixture, NULL, mitogen_test_fixture_setup,
              test_connect_unknown_transport, mitogen_test_fixture_teardown);
  g_test_add ("/plugin/connect/unknown-serializer", Fixture, NULL, mitogen_test_fixture_setup,
              test_connect_unknown_serializer, mitogen_test_fixture_teardown);
  g_test_add_func ("/plugin/load/broken-plugin-skipped", test_broken_plugin_skipped);
  g_test_add_func ("/plugin/load/no-plugins", test_no_plugins);
  g_test_add_func ("/plugin/lookup/abstract", test_lookup_abstract);
  g_test_add_func ("/plugin/lookup/load-failures", test_lookup_load_failures);
  g_test_add_func ("/plugin/module/abi-refused", test_module_abi_refused);

  return g_test_run ();
}
