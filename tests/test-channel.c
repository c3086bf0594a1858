/* test-channel.c: channels, after Python Mitogen's channel_test: two ends
 * pointing at each other's handles talk both ways, and closing one end
 * ends the conversation for the other.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "mitogen-test-util.h"

typedef struct
{
  MitogenChannel *left;
  MitogenChannel *right;
} Pair;

/* Two channels in this context, each sending to the other's handle. */
static void
make_pair (MitogenRouter *router,
           Pair          *pair)
{
  g_autoptr(MitogenContext) self = mitogen_router_context_by_id (router,
                                                                mitogen_router_get_context_id (router));
  guint32 left_handle = mitogen_router_allocate_handle (router);
  guint32 right_handle = mitogen_router_allocate_handle (router);

  pair->left = mitogen_channel_new (router, self, right_handle, left_handle);
  pair->right = mitogen_channel_new (router, self, left_handle, right_handle);
  g_assert_cmpuint (mitogen_channel_get_handle (pair->left), ==, left_handle);
  g_assert_cmpuint (mitogen_sender_get_handle (mitogen_channel_get_sender (pair->left)), ==,
                    right_handle);
}

static void
clear_pair (Pair *pair)
{
  g_clear_object (&pair->left);
  g_clear_object (&pair->right);
}

static void
test_both_ways (MitogenTestFixture *fixture,
                gconstpointer       data)
{
  g_autoptr(GError) error = NULL;
  Pair pair;

  make_pair (fixture->router, &pair);
  for (int i = 0; i < 10; i++)
    {
      g_autoptr(GVariant) there = NULL;
      g_autoptr(GVariant) back = NULL;

      g_assert_true (mitogen_channel_send (pair.left, g_variant_new_int32 (i), &error));
      there = mitogen_channel_get (pair.right, 5000, NULL, &error);
      g_assert_no_error (error);
      g_assert_cmpint (g_variant_get_int32 (there), ==, i);

      g_assert_true (mitogen_channel_send (pair.right, g_variant_new_string ("ack"), &error));
      back = mitogen_channel_get (pair.left, 5000, NULL, &error);
      g_assert_no_error (error);
      g_assert_cmpstr (g_variant_get_string (back, NULL), ==, "ack");
    }
  clear_pair (&pair);
}

static void
test_close_ends_other_side (MitogenTestFixture *fixture,
                            gconstpointer       data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) last = NULL;
  g_autoptr(GVariant) none = NULL;
  Pair pair;

  make_pair (fixture->router, &pair);
  mitogen_channel_send (pair.left, g_variant_new_int32 (1), NULL);
  mitogen_channel_close (pair.left);

  /* What was sent before the close still arrives, then the end. */
  last = mitogen_channel_get (pair.right, 5000, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_variant_get_int32 (last), ==, 1);
  none = mitogen_channel_get (pair.right, 5000, NULL, &error);
  g_assert_null (none);
  g_assert_error (error, MITOGEN_ERROR, MITOGEN_ERROR_CHANNEL);
  g_clear_error (&error);

  /* The closed side stops listening. */
  g_assert_true (mitogen_receiver_is_closed (mitogen_channel_get_receiver (pair.left)));
  none = mitogen_channel_get (pair.left, 0, NULL, &error);
  g_assert_error (error, MITOGEN_ERROR, MITOGEN_ERROR_CHANNEL);
  clear_pair (&pair);
}

typedef struct
{
  GMainLoop *loop;
  GVariant  *value;
  GError    *error;
} AsyncResult;

static void
got_async (GObject      *source,
           GAsyncResult *result,
           gpointer      data)
{
  AsyncResult *r = data;

  r->value = mitogen_channel_get_finish (MITOGEN_CHANNEL (source), result, &r->error);
  g_main_loop_quit (r->loop);
}

static void
test_get_async (MitogenTestFixture *fixture,
                gconstpointer       data)
{
  AsyncResult r = { g_main_loop_new (NULL, FALSE), NULL, NULL };
  Pair pair;

  make_pair (fixture->router, &pair);
  mitogen_channel_get_async (pair.right, 5000, NULL, got_async, &r);
  mitogen_channel_send (pair.left, g_variant_new ("(sb)", "hello", TRUE), NULL);
  g_main_loop_run (r.loop);
  g_assert_no_error (r.error);
  g_assert_cmpstr (g_variant_get_type_string (r.value), ==, "(sb)");
  g_clear_pointer (&r.value, g_variant_unref);
  g_main_loop_unref (r.loop);
  clear_pair (&pair);
}

static void
test_channel_to_lost_context (MitogenTestFixture *fixture,
                              gconstpointer       data)
{
  g_autoptr(MitogenContext) ctx = mitogen_test_local (fixture->router);
  g_autoptr(MitogenChannel) channel = mitogen_channel_new (fixture->router, ctx, 5000, 0);
  g_autoptr(GVariant) v = NULL;
  g_autoptr(GError) error = NULL;

  /* The channel's receiver waits on ctx: losing ctx ends it at once. */
  mitogen_router_disconnect_context (fixture->router, ctx);
  v = mitogen_channel_get (channel, 5000, NULL, &error);
  g_assert_null (v);
  g_assert_error (error, MITOGEN_ERROR, MITOGEN_ERROR_CHANNEL);
}

int
main (int    argc,
      char **argv)
{
  mitogen_test_init (&argc, &argv);

#define ADD(path, func) \
  g_test_add (path, MitogenTestFixture, NULL, mitogen_test_fixture_setup, func, \
              mitogen_test_fixture_teardown)
  ADD ("/channel/both-ways", test_both_ways);
  ADD ("/channel/close-ends-other-side", test_close_ends_other_side);
  ADD ("/channel/get-async", test_get_async);
  ADD ("/channel/lost-context", test_channel_to_lost_context);
#undef ADD
  return g_test_run ();
}
