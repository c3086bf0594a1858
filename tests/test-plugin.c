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
  mitogen_context_shutdown (ctx, TRUE);
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
  mitogen_context_shutdown (ctx, TRUE);

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

/* Without the build tree's plugins, "local" is missing, and connecting
 * says so instead of crashing. */
static void
test_no_plugins (void)
{
  if (g_test_subprocess ())
    {
      g_autoptr(MitogenBroker) broker = NULL;
      g_autoptr(MitogenRouter) router = NULL;
      g_autoptr(MitogenContext) ctx = NULL;
      g_autoptr(GError) error = NULL;

      g_setenv (MITOGEN_PLUGIN_PATH_ENV, "/nonexistent/only-this", TRUE);
      broker = mitogen_broker_new ();
      router = mitogen_router_new (broker);
      ctx = mitogen_router_local (router, NULL, NULL, &error);
      g_assert_null (ctx);
      g_assert_error (error, MITOGEN_ERROR, MITOGEN_ERROR_FAILED);
      g_assert_nonnull (strstr (error->message, "'local'"));
      g_assert_nonnull (strstr (error->message, "/nonexistent/only-this"));
      g_print ("child done\n");
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

  return g_test_run ();
}
