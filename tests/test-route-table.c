/* test-route-table.c: the routing table on its own, with plain pointers
 * standing for streams.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "mitogen-route-table-private.h"
#include "mitogen-test-util.h"

/* Streams are opaque to the table: counted references on small structs
 * show that it keeps exactly what it holds. */
typedef struct
{
  int refs;
  const char *name;
} FakeStream;

static gpointer
fake_ref (gpointer p)
{
  ((FakeStream *) p)->refs++;
  return p;
}

static void
fake_unref (gpointer p)
{
  ((FakeStream *) p)->refs--;
}

static GArray *
ids (guint n, ...)
{
  GArray *a = g_array_new (FALSE, FALSE, sizeof (guint32));
  va_list ap;

  va_start (ap, n);
  for (guint i = 0; i < n; i++)
    {
      guint32 id = va_arg (ap, guint32);
      g_array_append_val (a, id);
    }
  va_end (ap);
  return a;
}

/* A master (id 0) with two children. */
static MitogenRouteTable *
master_with_children (FakeStream *a,
                      FakeStream *b)
{
  MitogenRouteTable *t = _mitogen_route_table_new (fake_ref, fake_unref);

  /* Ids this router asked for itself, as connecting does. */
  g_assert_true (_mitogen_route_table_grant (t, 1, NULL, 0));
  g_assert_true (_mitogen_route_table_grant (t, 2, NULL, 0));
  g_assert_true (_mitogen_route_table_add_child (t, a, 1));
  g_assert_true (_mitogen_route_table_add_child (t, b, 2));
  return t;
}

/* Grants @id to the direct child behind @stream. */
static void
grant_to (MitogenRouteTable *t,
          FakeStream        *stream,
          guint32            id)
{
  g_assert_true (_mitogen_route_table_grant (t, id, stream, 16));
}

static void
test_routes_and_refs (void)
{
  FakeStream a = { 0, "a" }, b = { 0, "b" };
  MitogenRouteTable *t = master_with_children (&a, &b);
  gpointer s;

  g_assert_cmpint (a.refs, ==, 1);
  s = _mitogen_route_table_ref_route (t, 1);
  g_assert_true (s == &a);
  g_assert_cmpint (a.refs, ==, 2);
  fake_unref (s);
  /* A master has no parent: unknown ids go nowhere. */
  g_assert_null (_mitogen_route_table_ref_route (t, 7));
  g_assert_false (_mitogen_route_table_has_parent (t));
  _mitogen_route_table_free (t);
  g_assert_cmpint (a.refs, ==, 0);
  g_assert_cmpint (b.refs, ==, 0);
}

static void
test_child_ids_are_unique (void)
{
  FakeStream a = { 0, "a" }, b = { 0, "b" }, c = { 0, "c" };
  MitogenRouteTable *t = master_with_children (&a, &b);

  /* Taken, ours, never granted, and the same stream twice are refused. */
  g_assert_false (_mitogen_route_table_add_child (t, &c, 1));
  g_assert_false (_mitogen_route_table_add_child (t, &c, 0));
  g_assert_false (_mitogen_route_table_add_child (t, &c, 7));
  g_assert_true (_mitogen_route_table_grant (t, 5, NULL, 0));
  g_assert_false (_mitogen_route_table_add_child (t, &a, 5));
  /* A grant is used once. */
  g_assert_true (_mitogen_route_table_add_child (t, &c, 5));
  g_assert_cmpint (c.refs, ==, 1);
  g_assert_false (_mitogen_route_table_grant (t, 5, NULL, 0));
  _mitogen_route_table_free (t);
}

static void
test_next_id_skips_used (void)
{
  FakeStream a = { 0, "a" }, b = { 0, "b" };
  MitogenRouteTable *t = master_with_children (&a, &b);

  /* 1 and 2 were given by hand; the counter does not hand them out. */
  g_assert_cmpuint (_mitogen_route_table_next_id (t), ==, 3);
  g_assert_cmpuint (_mitogen_route_table_next_id (t), ==, 4);
  _mitogen_route_table_free (t);
}

static void
test_announce_rules (void)
{
  FakeStream a = { 0, "a" }, b = { 0, "b" };
  MitogenRouteTable *t = master_with_children (&a, &b);
  gpointer s;

  /* Child 1 announces 10 below it, granted to it; 10 is then reached
   * through it. */
  g_assert_false (_mitogen_route_table_announce (t, 1, 10));
  grant_to (t, &a, 10);
  g_assert_true (_mitogen_route_table_announce (t, 1, 10));
  s = _mitogen_route_table_ref_route (t, 10);
  g_assert_true (s == &a);
  fake_unref (s);
  /* Child 2 may not claim 10, nor child 1's own id, nor the master's, nor
   * an id granted to child 1, nor 10 again. */
  g_assert_false (_mitogen_route_table_announce (t, 2, 10));
  grant_to (t, &a, 11);
  g_assert_false (_mitogen_route_table_announce (t, 2, 11));
  g_assert_false (_mitogen_route_table_announce (t, 1, 10));
  g_assert_false (_mitogen_route_table_announce (t, 2, 1));
  g_assert_false (_mitogen_route_table_announce (t, 2, 0));
  /* Something below a child is no direct child: it may not announce. */
  g_assert_false (_mitogen_route_table_is_direct_child (t, 10));
  g_assert_false (_mitogen_route_table_announce (t, 10, 11));
  /* Unknown senders may not announce. */
  g_assert_false (_mitogen_route_table_announce (t, 99, 12));
  _mitogen_route_table_free (t);
}

static void
test_withdraw_rules (void)
{
  FakeStream a = { 0, "a" }, b = { 0, "b" };
  MitogenRouteTable *t = master_with_children (&a, &b);

  grant_to (t, &a, 10);
  g_assert_true (_mitogen_route_table_announce (t, 1, 10));
  /* Only the child it is routed through may withdraw it, and a child may
   * not withdraw itself. */
  g_assert_false (_mitogen_route_table_withdraw (t, 2, 10));
  g_assert_false (_mitogen_route_table_withdraw (t, 1, 1));
  g_assert_true (_mitogen_route_table_withdraw (t, 1, 10));
  g_assert_true (_mitogen_route_table_is_lost (t, 10));
  g_assert_null (_mitogen_route_table_ref_route (t, 10));
  /* A lost id is never given again, nor announced again. */
  g_assert_false (_mitogen_route_table_grant (t, 10, &a, 16));
  g_assert_false (_mitogen_route_table_announce (t, 1, 10));
  g_assert_true (_mitogen_route_table_is_lost (t, 10));
  _mitogen_route_table_free (t);
}

static void
test_drop_stream (void)
{
  FakeStream a = { 0, "a" }, b = { 0, "b" };
  MitogenRouteTable *t = master_with_children (&a, &b);
  g_autoptr(GArray) lost = g_array_new (FALSE, FALSE, sizeof (guint32));
  g_autoptr(GPtrArray) left = NULL;

  grant_to (t, &a, 10);
  grant_to (t, &a, 11);
  grant_to (t, &a, 12);
  g_assert_true (_mitogen_route_table_announce (t, 1, 10));
  g_assert_true (_mitogen_route_table_announce (t, 1, 11));
  g_assert_false (_mitogen_route_table_drop_stream (t, &a, lost));
  /* Its unused grants go with it. */
  g_assert_cmpuint (_mitogen_route_table_count_grants (t, &a), ==, 0);
  g_assert_cmpuint (lost->len, ==, 3);
  g_assert_cmpint (a.refs, ==, 0);
  for (guint32 id = 10; id <= 11; id++)
    g_assert_true (_mitogen_route_table_is_lost (t, id));
  g_assert_true (_mitogen_route_table_is_lost (t, 1));
  g_assert_null (_mitogen_route_table_ref_child (t, 1));
  left = _mitogen_route_table_ref_streams (t, TRUE);
  g_assert_cmpuint (left->len, ==, 1);
  g_assert_true (left->pdata[0] == &b);
  fake_unref (&b);
  _mitogen_route_table_free (t);
}

/* An agent: id 5, parent 3, whose parent is the master. */
static MitogenRouteTable *
agent_table (FakeStream *parent,
             FakeStream *child)
{
  MitogenRouteTable *t = _mitogen_route_table_new (fake_ref, fake_unref);
  g_autoptr(GArray) ancestors = ids (2, 3, 0);

  _mitogen_route_table_set_identity (t, 5, 3, ancestors);
  _mitogen_route_table_set_parent (t, parent);
  g_assert_true (_mitogen_route_table_grant (t, 6, NULL, 0));
  g_assert_true (_mitogen_route_table_add_child (t, child, 6));
  return t;
}

static void
test_agent_ancestry (void)
{
  FakeStream up = { 0, "parent" }, down = { 0, "child" };
  MitogenRouteTable *t = agent_table (&up, &down);
  g_autoptr(GArray) lineage = _mitogen_route_table_dup_lineage (t);
  gpointer s;

  g_assert_true (_mitogen_route_table_is_ancestor (t, 3));
  g_assert_true (_mitogen_route_table_is_ancestor (t, 0));
  g_assert_false (_mitogen_route_table_is_ancestor (t, 6));
  g_assert_cmpuint (lineage->len, ==, 3);
  g_assert_cmpuint (g_array_index (lineage, guint32, 0), ==, 5);
  g_assert_cmpuint (g_array_index (lineage, guint32, 1), ==, 3);
  g_assert_cmpuint (g_array_index (lineage, guint32, 2), ==, 0);
  /* Anything not below us goes up. */
  s = _mitogen_route_table_ref_route (t, 42);
  g_assert_true (s == &up);
  fake_unref (s);
  /* A child may never claim an ancestor's id, the master's included; such
   * ids cannot even be granted. */
  g_assert_false (_mitogen_route_table_announce (t, 6, 0));
  g_assert_false (_mitogen_route_table_announce (t, 6, 3));
  g_assert_false (_mitogen_route_table_announce (t, 6, 5));
  g_assert_false (_mitogen_route_table_grant (t, 0, &down, 16));
  g_assert_false (_mitogen_route_table_grant (t, 3, &down, 16));
  g_assert_false (_mitogen_route_table_grant (t, 5, &down, 16));
  grant_to (t, &down, 7);
  g_assert_true (_mitogen_route_table_announce (t, 6, 7));
  _mitogen_route_table_free (t);
  g_assert_cmpint (up.refs, ==, 0);
}

static void
test_source_check (void)
{
  FakeStream up = { 0, "parent" }, down = { 0, "child" };
  MitogenRouteTable *t = agent_table (&up, &down);

  grant_to (t, &down, 7);
  g_assert_true (_mitogen_route_table_announce (t, 6, 7));
  /* From the child: itself or below it, source and authority alike. */
  g_assert_true (_mitogen_route_table_source_is_plausible (t, &down, 6, 6));
  g_assert_true (_mitogen_route_table_source_is_plausible (t, &down, 7, 6));
  g_assert_false (_mitogen_route_table_source_is_plausible (t, &down, 0, 0));
  g_assert_false (_mitogen_route_table_source_is_plausible (t, &down, 6, 0));
  g_assert_false (_mitogen_route_table_source_is_plausible (t, &down, 5, 5));
  /* From the parent: anything not below us and not us. */
  g_assert_true (_mitogen_route_table_source_is_plausible (t, &up, 0, 0));
  g_assert_true (_mitogen_route_table_source_is_plausible (t, &up, 3, 0));
  g_assert_false (_mitogen_route_table_source_is_plausible (t, &up, 5, 0));
  g_assert_false (_mitogen_route_table_source_is_plausible (t, &up, 7, 0));
  g_assert_false (_mitogen_route_table_source_is_plausible (t, &up, 0, 6));
  /* From nowhere known: nothing. */
  g_assert_false (_mitogen_route_table_source_is_plausible (t, NULL, 0, 0));
  _mitogen_route_table_free (t);
}

static void
test_parent_dropped (void)
{
  FakeStream up = { 0, "parent" }, down = { 0, "child" };
  MitogenRouteTable *t = agent_table (&up, &down);
  g_autoptr(GArray) lost = g_array_new (FALSE, FALSE, sizeof (guint32));

  g_assert_true (_mitogen_route_table_is_parent (t, &up));
  g_assert_true (_mitogen_route_table_drop_stream (t, &up, lost));
  g_assert_cmpuint (lost->len, ==, 0);
  g_assert_cmpint (up.refs, ==, 0);
  g_assert_false (_mitogen_route_table_has_parent (t));
  _mitogen_route_table_free (t);
}

static void
test_grant_quota (void)
{
  FakeStream a = { 0, "a" }, b = { 0, "b" };
  MitogenRouteTable *t = master_with_children (&a, &b);

  for (guint32 i = 0; i < 4; i++)
    g_assert_true (_mitogen_route_table_grant (t, 100 + i, &a, 4));
  /* A fifth unused id is one too many; another child is not affected. */
  g_assert_false (_mitogen_route_table_grant (t, 104, &a, 4));
  g_assert_true (_mitogen_route_table_grant (t, 104, &b, 4));
  /* Using one makes room for one. */
  g_assert_true (_mitogen_route_table_announce (t, 1, 100));
  g_assert_true (_mitogen_route_table_grant (t, 105, &a, 4));
  /* Grants only go to children this router has. */
  g_assert_false (_mitogen_route_table_grant (t, 106, (gpointer) "stranger", 4));
  _mitogen_route_table_free (t);
}

int
main (int    argc,
      char **argv)
{
  mitogen_test_init (&argc, &argv);
  g_test_add_func ("/route-table/routes-and-refs", test_routes_and_refs);
  g_test_add_func ("/route-table/child-ids-are-unique", test_child_ids_are_unique);
  g_test_add_func ("/route-table/next-id-skips-used", test_next_id_skips_used);
  g_test_add_func ("/route-table/announce", test_announce_rules);
  g_test_add_func ("/route-table/withdraw", test_withdraw_rules);
  g_test_add_func ("/route-table/drop-stream", test_drop_stream);
  g_test_add_func ("/route-table/agent-ancestry", test_agent_ancestry);
  g_test_add_func ("/route-table/source-check", test_source_check);
  g_test_add_func ("/route-table/parent-dropped", test_parent_dropped);
  g_test_add_func ("/route-table/grant-quota", test_grant_quota);
  return g_test_run ();
}
