/* test-registry.c: the function registry on its own.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "mitogen-test-util.h"
#include "mitogen-registry-private.h"

static GVariant *
answer_42 (MitogenCall *call,
           GVariant    *args,
           gpointer     user_data,
           GError     **error)
{
  return g_variant_new_int32 (42);
}

static void
count_notify (gpointer data)
{
  (*(int *) data)++;
}

/* A call holds its function: unregistering it meanwhile does not free its
 * data under the call; the notify runs when the call lets go. */
static void
test_unregister_while_running (void)
{
  int notified = 0;
  g_autoptr(GVariant) result = NULL;
  MitogenRegistration *reg;

  g_assert_true (mitogen_register_function ("reg.answer", answer_42, &notified, count_notify));
  g_assert_true (mitogen_has_function ("reg.answer"));
  reg = _mitogen_registry_lookup ("reg.answer");
  g_assert_nonnull (reg);

  g_assert_true (mitogen_unregister_function ("reg.answer"));
  g_assert_false (mitogen_has_function ("reg.answer"));
  g_assert_null (_mitogen_registry_lookup ("reg.answer"));
  g_assert_cmpint (notified, ==, 0);

  result = _mitogen_registration_invoke (reg, NULL, NULL, NULL);
  g_assert_cmpint (g_variant_get_int32 (result), ==, 42);
  _mitogen_registration_release (reg);
  g_assert_cmpint (notified, ==, 1);
}

/* Replacing a function frees the old one's data at once when nothing
 * runs it; names must be "module.name". */
static void
test_replace_and_names (void)
{
  int first = 0, second = 0;

  g_assert_true (mitogen_register_function ("reg.twice", answer_42, &first, count_notify));
  g_assert_true (mitogen_register_function ("reg.twice", answer_42, &second, count_notify));
  g_assert_cmpint (first, ==, 1);
  g_assert_cmpint (second, ==, 0);
  g_assert_true (mitogen_unregister_function ("reg.twice"));
  g_assert_cmpint (second, ==, 1);
  g_assert_false (mitogen_unregister_function ("reg.twice"));

  mitogen_test_expect_log ("mitogen", G_LOG_LEVEL_CRITICAL, "*not of the form module.name*");
  g_assert_false (mitogen_register_function ("nodot", answer_42, NULL, NULL));
  mitogen_test_assert_expected_logs ();
}

/* Nothing is registered until someone registers it. */
static void
test_starts_empty (void)
{
  g_assert_false (mitogen_has_function ("core.ping"));
  g_assert_null (_mitogen_registry_lookup ("core.ping"));
}

int
main (int    argc,
      char **argv)
{
  mitogen_test_init (&argc, &argv);
  g_test_add_func ("/registry/starts-empty", test_starts_empty);
  g_test_add_func ("/registry/unregister-while-running", test_unregister_while_running);
  g_test_add_func ("/registry/replace-and-names", test_replace_and_names);
  return g_test_run ();
}
