/* test-options.c: connect options checked against the transport's table.
 *
 * The sudo tests point "sudo_path" at a script that leaves a mark and
 * fails: a mark means the transport ran a program, so its absence after a
 * refused option shows that nothing was started.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <glib/gstdio.h>

#include "mitogen-test-util.h"

typedef struct
{
  MitogenTestFixture base;
  char *dir;     /* a temporary directory, removed in teardown */
  char *script;  /* dir/fake-sudo: touches dir/ran, exits 1 */
  char *mark;    /* dir/ran */
} Fixture;

static void
fixture_setup (Fixture       *fixture,
               gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *text = NULL;

  mitogen_test_fixture_setup (&fixture->base, data);
  fixture->dir = g_dir_make_tmp ("mitogen-options-XXXXXX", &error);
  g_assert_no_error (error);
  fixture->script = g_build_filename (fixture->dir, "fake-sudo", NULL);
  fixture->mark = g_build_filename (fixture->dir, "ran", NULL);
  text = g_strdup_printf ("#!/bin/sh\ntouch '%s'\nexit 1\n", fixture->mark);
  g_assert_true (g_file_set_contents (fixture->script, text, -1, &error));
  g_assert_cmpint (g_chmod (fixture->script, 0755), ==, 0);
}

static void
fixture_teardown (Fixture       *fixture,
                  gconstpointer  data)
{
  g_unlink (fixture->mark);
  g_unlink (fixture->script);
  g_rmdir (fixture->dir);
  g_free (fixture->mark);
  g_free (fixture->script);
  g_free (fixture->dir);
  mitogen_test_fixture_teardown (&fixture->base, data);
}

/* Options for the fake sudo, plus @key set to @value (floating, or NULL). */
static GVariant *
sudo_options (Fixture    *fixture,
              const char *key,
              GVariant   *value)
{
  GVariantDict dict;

  g_variant_dict_init (&dict, NULL);
  g_variant_dict_insert (&dict, "sudo_path", "s", fixture->script);
  g_variant_dict_insert (&dict, "connect_timeout", "d", 20.0);
  if (key != NULL)
    g_variant_dict_insert_value (&dict, key, value);
  return g_variant_ref_sink (g_variant_dict_end (&dict));
}

static GError *
connect_fails (MitogenRouter  *router,
               const char     *transport,
               GVariant       *options,
               MitogenContext *via)
{
  GError *error = NULL;
  g_autoptr(MitogenContext) ctx = mitogen_router_connect_context (router, transport, options,
                                                                  via, NULL, &error);

  g_assert_null (ctx);
  g_assert_nonnull (error);
  return error;
}

/* The fake sudo runs when the options are right: the mark is a fair test. */
static void
test_control_runs (Fixture       *fixture,
                   gconstpointer  data)
{
  g_autoptr(GVariant) options = sudo_options (fixture, "username", g_variant_new_string ("nobody"));
  g_autoptr(GError) error = connect_fails (fixture->base.router, "sudo", options, NULL);

  g_assert_true (g_file_test (fixture->mark, G_FILE_TEST_EXISTS));
}

static void
test_typo_refused (Fixture       *fixture,
                   gconstpointer  data)
{
  g_autoptr(GVariant) options = sudo_options (fixture, "usernme", g_variant_new_string ("nobody"));
  g_autoptr(GError) error = connect_fails (fixture->base.router, "sudo", options, NULL);
  g_autoptr(GPtrArray) contexts = mitogen_router_list_contexts (fixture->base.router);

  g_assert_error (error, MITOGEN_ERROR, MITOGEN_ERROR_FAILED);
  g_assert_cmpstr (error->message, ==, "sudo: unknown option “usernme” (did you mean “username”?)");
  g_assert_false (g_file_test (fixture->mark, G_FILE_TEST_EXISTS));
  g_assert_cmpuint (contexts->len, ==, 0);
}

/* Far from every known name: no suggestion. */
static void
test_unknown_no_suggestion (Fixture       *fixture,
                            gconstpointer  data)
{
  g_autoptr(GVariant) options = sudo_options (fixture, "bogus", g_variant_new_int32 (1));
  g_autoptr(GError) error = connect_fails (fixture->base.router, "sudo", options, NULL);

  g_assert_error (error, MITOGEN_ERROR, MITOGEN_ERROR_FAILED);
  g_assert_cmpstr (error->message, ==, "sudo: unknown option “bogus”");
  g_assert_false (g_file_test (fixture->mark, G_FILE_TEST_EXISTS));
}

static void
test_wrong_type_refused (Fixture       *fixture,
                         gconstpointer  data)
{
  g_autoptr(GVariant) options = sudo_options (fixture, "login", g_variant_new_string ("yes"));
  g_autoptr(GError) error = connect_fails (fixture->base.router, "sudo", options, NULL);

  g_assert_error (error, MITOGEN_ERROR, MITOGEN_ERROR_FAILED);
  g_assert_cmpstr (error->message, ==, "sudo: option “login” must be of type 'b', not 's'");
  g_assert_false (g_file_test (fixture->mark, G_FILE_TEST_EXISTS));
}

/* ssh used to ignore values of the wrong type; nothing is dialled here. */
static void
test_ssh_wrong_types (Fixture       *fixture,
                      gconstpointer  data)
{
  g_autoptr(GVariant) compression = g_variant_ref_sink (
      g_variant_new_parsed ("{'hostname': <'192.0.2.1'>, 'compression': <'yes'>}"));
  g_autoptr(GVariant) keys = g_variant_ref_sink (
      g_variant_new_parsed ("{'hostname': <'192.0.2.1'>, 'check_host_keys': <42>}"));
  g_autoptr(GVariant) port = g_variant_ref_sink (
      g_variant_new_parsed ("{'hostname': <'192.0.2.1'>, 'port': <'22'>}"));
  g_autoptr(GError) e1 = connect_fails (fixture->base.router, "ssh", compression, NULL);
  g_autoptr(GError) e2 = connect_fails (fixture->base.router, "ssh", keys, NULL);
  g_autoptr(GError) e3 = connect_fails (fixture->base.router, "ssh", port, NULL);

  g_assert_cmpstr (e1->message, ==, "ssh: option “compression” must be of type 'b', not 's'");
  g_assert_cmpstr (e2->message, ==, "ssh: option “check_host_keys” must be of type 's', not 'i'");
  g_assert_cmpstr (e3->message, ==, "ssh: option “port” must be of type 'u' or 'i', not 's'");
}

/* The shared options are checked too, and suggested. */
static void
test_local_shared_and_own (Fixture       *fixture,
                           gconstpointer  data)
{
  g_autoptr(GVariant) timeout = g_variant_ref_sink (
      g_variant_new_parsed ("{'conect_timeout': <5.0>}"));
  g_autoptr(GVariant) env = g_variant_ref_sink (g_variant_new_parsed ("{'env': <['A=b']>}"));
  g_autoptr(GError) e1 = connect_fails (fixture->base.router, "local", timeout, NULL);
  g_autoptr(GError) e2 = connect_fails (fixture->base.router, "local", env, NULL);

  g_assert_cmpstr (e1->message, ==,
                   "local: unknown option “conect_timeout” (did you mean “connect_timeout”?)");
  g_assert_cmpstr (e2->message, ==, "local: option “env” must be of type 'a{ss}', not 'as'");
}

/* Good options of every declared kind still connect. */
static void
test_local_good_options (Fixture       *fixture,
                         gconstpointer  data)
{
  g_autoptr(GVariant) options = g_variant_ref_sink (g_variant_new_parsed (
      "{'cwd': <'/'>, 'env': <{'A': 'b'}>, 'name': <'opt'>, 'connect_timeout': <20>,"
      " 'debug': <false>, 'serializer': <'gvariant'>}"));
  g_autoptr(GError) error = NULL;
  g_autoptr(MitogenContext) ctx = mitogen_router_connect_context (fixture->base.router, "local",
                                                                  options, NULL, NULL, &error);

  g_assert_no_error (error);
  g_assert_nonnull (ctx);
  g_assert_cmpstr (mitogen_context_get_name (ctx), ==, "opt");
}

/* Checked in the context that runs the transport; the error names the hop. */
static void
test_via_typo (Fixture       *fixture,
               gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) hop = g_variant_ref_sink (g_variant_new_parsed ("{'name': <'hop'>}"));
  g_autoptr(MitogenContext) via = mitogen_router_connect_context (fixture->base.router, "local",
                                                                  hop, NULL, NULL, &error);
  g_autoptr(GVariant) options = sudo_options (fixture, "usernme", g_variant_new_string ("nobody"));
  g_autoptr(GError) refused = NULL;

  g_assert_no_error (error);
  refused = connect_fails (fixture->base.router, "sudo", options, via);
  /* Remote errors keep their code: the same refusal as one hop up. */
  g_assert_error (refused, MITOGEN_ERROR, MITOGEN_ERROR_FAILED);
  g_assert_nonnull (strstr (refused->message, "via hop"));
  g_assert_nonnull (strstr (refused->message,
                            "sudo: unknown option “usernme” (did you mean “username”?)"));
  g_assert_false (g_file_test (fixture->mark, G_FILE_TEST_EXISTS));
}

/* Each built-in transport declares what it reads; the shared ones follow. */
static void
test_tables (void)
{
  static const struct { const char *transport, *option, *type; } expected[] = {
    { "local", "env", "a{ss}" },
    { "local", "connect_timeout", "d|i|u|x" },
    { "sudo", "username", "s" },
    { "sudo", "sudo_args", "as" },
    { "su", "password_prompts", "as" },
    { "doas", "doas_path", "s" },
    { "ssh", "compression", "b" },
    { "ssh", "port", "u|i" },
    { "ssh", "identity_file", "s|as" },
    { "ssh", "plugin_path", "s" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (expected); i++)
    {
      g_autoptr(MitogenTransport) transport = mitogen_transport_lookup (expected[i].transport, NULL);
      g_autoptr(GVariant) table = NULL;
      g_autofree char *type = NULL;
      g_autofree char *description = NULL;
      gboolean found = FALSE;
      GVariantIter iter;
      const char *name, *t, *d;

      g_assert_nonnull (transport);
      table = mitogen_transport_list_options (transport);
      g_assert_nonnull (table);
      g_assert_cmpstr (g_variant_get_type_string (table), ==, "a(sss)");
      g_variant_iter_init (&iter, table);
      while (g_variant_iter_next (&iter, "(&s&s&s)", &name, &t, &d))
        if (g_str_equal (name, expected[i].option))
          {
            g_assert_cmpstr (t, ==, expected[i].type);
            g_assert_cmpstr (d, !=, "");
            found = TRUE;
          }
      g_assert_true (found);
    }
}

/* A transport without a table (as bindings write them) is not checked. */
#define TEST_TYPE_TABLELESS (test_tableless_get_type ())
G_DECLARE_FINAL_TYPE (TestTableless, test_tableless, TEST, TABLELESS, GObject)
struct _TestTableless { GObject parent_instance; };

static GIOStream *
tableless_open_stream (MitogenTransport  *transport,
                       GVariant          *options,
                       const char        *agent_path,
                       GCancellable      *cancellable,
                       GError           **error)
{
  g_set_error_literal (error, MITOGEN_ERROR, MITOGEN_ERROR_STREAM, "tableless ran");
  return NULL;
}

static void
tableless_iface_init (MitogenTransportInterface *iface)
{
  iface->open_stream = tableless_open_stream;
}

G_DEFINE_FINAL_TYPE_WITH_CODE (TestTableless, test_tableless, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (MITOGEN_TYPE_TRANSPORT, tableless_iface_init))
static void test_tableless_class_init (TestTablelessClass *klass) { }
static void test_tableless_init (TestTableless *self) { }

static void
test_tableless_unchecked (Fixture       *fixture,
                          gconstpointer  data)
{
  g_autoptr(MitogenTransport) transport = NULL;
  g_autoptr(GVariant) options = g_variant_ref_sink (g_variant_new_parsed ("{'anything': <1>}"));
  g_autoptr(GError) error = NULL;

  mitogen_register_transport (TEST_TYPE_TABLELESS, "tableless-test", 0);
  transport = mitogen_transport_lookup ("tableless-test", NULL);
  g_assert_null (mitogen_transport_list_options (transport));
  g_assert_true (mitogen_transport_check_options (transport, "tableless-test", options, NULL));
  error = connect_fails (fixture->base.router, "tableless-test", options, NULL);
  g_assert_error (error, MITOGEN_ERROR, MITOGEN_ERROR_STREAM);
  g_assert_cmpstr (error->message, ==, "tableless ran");
}

int
main (int    argc,
      char **argv)
{
  mitogen_test_init (&argc, &argv);

  g_test_add ("/options/control-runs", Fixture, NULL, fixture_setup, test_control_runs,
              fixture_teardown);
  g_test_add ("/options/typo", Fixture, NULL, fixture_setup, test_typo_refused, fixture_teardown);
  g_test_add ("/options/unknown", Fixture, NULL, fixture_setup, test_unknown_no_suggestion,
              fixture_teardown);
  g_test_add ("/options/wrong-type", Fixture, NULL, fixture_setup, test_wrong_type_refused,
              fixture_teardown);
  g_test_add ("/options/ssh-wrong-types", Fixture, NULL, fixture_setup, test_ssh_wrong_types,
              fixture_teardown);
  g_test_add ("/options/local", Fixture, NULL, fixture_setup, test_local_shared_and_own,
              fixture_teardown);
  g_test_add ("/options/local-good", Fixture, NULL, fixture_setup, test_local_good_options,
              fixture_teardown);
  g_test_add ("/options/via", Fixture, NULL, fixture_setup, test_via_typo, fixture_teardown);
  g_test_add_func ("/options/tables", test_tables);
  g_test_add ("/options/tableless", Fixture, NULL, fixture_setup, test_tableless_unchecked,
              fixture_teardown);

  return g_test_run ();
}
