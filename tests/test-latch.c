/* test-latch.c: the queue that hands messages from the broker to the
 * threads and tasks waiting for them (internal).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <string.h>

#include "mitogen-test-util.h"
#include "mitogen-latch-private.h"

#define WAIT_MSEC 10000

/* Items are heap integers, so that a latch has something to free. */
static gint items_freed;

static void
item_free (gpointer item)
{
  g_atomic_int_inc (&items_freed);
  g_free (item);
}

static gpointer
new_item (int value)
{
  int *item = g_new (int, 1);

  *item = value;
  return item;
}

static int
take_value (gpointer item)
{
  int value;

  g_assert_nonnull (item);
  value = *(int *) item;
  g_free (item);
  return value;
}

static MitogenLatch *
new_latch (void)
{
  g_atomic_int_set (&items_freed, 0);
  return _mitogen_latch_new (item_free);
}

/* ---- blocking gets in other threads ------------------------------------ */

typedef struct
{
  MitogenLatch *latch;
  GCancellable *cancellable;
  int           timeout_msec;
  gpointer      item;      /* set before done */
  GError       *error;     /* set before done */
  gint          done;      /* atomic */
  GThread      *thread;
} Getter;

static gpointer
getter_run (gpointer data)
{
  Getter *g = data;

  g->item = _mitogen_latch_get (g->latch, g->timeout_msec, g->cancellable, &g->error);
  g_atomic_int_set (&g->done, TRUE);
  return NULL;
}

static void
getter_start (Getter       *g,
              MitogenLatch *latch,
              GCancellable *cancellable)
{
  g->latch = latch;
  g->cancellable = cancellable;
  g->timeout_msec = -1;
  g->thread = g_thread_new ("getter", getter_run, g);
}

static void
getter_join (Getter *g)
{
  g_thread_join (g_steal_pointer (&g->thread));
}

static gboolean
wait_flag (gint *flag,
           int   timeout_msec)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_msec * 1000;

  while (!g_atomic_int_get (flag) && g_get_monotonic_time () < deadline)
    g_usleep (1000);
  return g_atomic_int_get (flag);
}

/* ---- asynchronous gets ------------------------------------------------- */

typedef struct
{
  gpointer  item;
  GError   *error;
  gboolean  done;
} AsyncResult;

static void
on_get_done (GObject      *source,
             GAsyncResult *result,
             gpointer      data)
{
  AsyncResult *r = data;

  g_assert_false (r->done);  /* each task completes once */
  r->item = g_task_propagate_pointer (G_TASK (result), &r->error);
  r->done = TRUE;
}

static void
get_async (MitogenLatch *latch,
           int           timeout_msec,
           GCancellable *cancellable,
           AsyncResult  *r)
{
  g_autoptr(GTask) task = g_task_new (NULL, cancellable, on_get_done, r);

  _mitogen_latch_get_async (latch, timeout_msec, task);
}

/* ---- tests ------------------------------------------------------------- */

static void
test_put_get_order (void)
{
  g_autoptr(MitogenLatch) latch = new_latch ();
  g_autoptr(GError) error = NULL;

  for (int i = 1; i <= 3; i++)
    g_assert_true (_mitogen_latch_put (latch, new_item (i)));
  g_assert_cmpuint (_mitogen_latch_size (latch), ==, 3);

  for (int i = 1; i <= 3; i++)
    {
      g_assert_cmpint (take_value (_mitogen_latch_get (latch, 0, NULL, &error)), ==, i);
      g_assert_no_error (error);
    }
  g_assert_cmpuint (_mitogen_latch_size (latch), ==, 0);

  /* Empty, and no waiting allowed: a timeout at once. */
  g_assert_null (_mitogen_latch_get (latch, 0, NULL, &error));
  g_assert_error (error, MITOGEN_ERROR, MITOGEN_ERROR_TIMEOUT);
}

/* Two threads wait; each put serves exactly one of them, and the other
 * keeps waiting rather than returning empty-handed. */
static void
test_put_wakes_one (void)
{
  g_autoptr(MitogenLatch) latch = new_latch ();
  Getter getters[2] = { { 0 } };
  Getter *first, *second;

  getter_start (&getters[0], latch, NULL);
  getter_start (&getters[1], latch, NULL);
  g_usleep (50 * 1000);
  g_assert_false (g_atomic_int_get (&getters[0].done));
  g_assert_false (g_atomic_int_get (&getters[1].done));

  g_assert_true (_mitogen_latch_put (latch, new_item (1)));
  while (!g_atomic_int_get (&getters[0].done) && !g_atomic_int_get (&getters[1].done))
    g_usleep (1000);
  first = g_atomic_int_get (&getters[0].done) ? &getters[0] : &getters[1];
  second = first == &getters[0] ? &getters[1] : &getters[0];
  g_usleep (50 * 1000);
  g_assert_false (g_atomic_int_get (&second->done));
  g_assert_no_error (first->error);
  g_assert_cmpint (take_value (first->item), ==, 1);

  g_assert_true (_mitogen_latch_put (latch, new_item (2)));
  g_assert_true (wait_flag (&second->done, WAIT_MSEC));
  g_assert_no_error (second->error);
  g_assert_cmpint (take_value (second->item), ==, 2);
  getter_join (&getters[0]);
  getter_join (&getters[1]);
}

static void
test_timeout (void)
{
  g_autoptr(MitogenLatch) latch = new_latch ();
  g_autoptr(GError) error = NULL;
  gint64 start = g_get_monotonic_time ();
  AsyncResult r = { 0 };

  g_assert_null (_mitogen_latch_get (latch, 50, NULL, &error));
  g_assert_error (error, MITOGEN_ERROR, MITOGEN_ERROR_TIMEOUT);
  g_assert_cmpint (g_get_monotonic_time () - start, >=, 50 * 1000);

  start = g_get_monotonic_time ();
  get_async (latch, 50, NULL, &r);
  g_assert_true (mitogen_test_iterate_until (&r.done, WAIT_MSEC));
  g_assert_null (r.item);
  g_assert_error (r.error, MITOGEN_ERROR, MITOGEN_ERROR_TIMEOUT);
  g_assert_cmpint (g_get_monotonic_time () - start, >=, 50 * 1000);
  g_clear_error (&r.error);

  /* A put after the timeout stays for the next get. */
  g_assert_true (_mitogen_latch_put (latch, new_item (7)));
  g_assert_cmpuint (_mitogen_latch_size (latch), ==, 1);
}

static void
test_cancellation (void)
{
  g_autoptr(MitogenLatch) latch = new_latch ();
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GCancellable) cancelled = g_cancellable_new ();
  g_autoptr(GError) error = NULL;
  Getter getter = { 0 };
  AsyncResult r = { 0 };

  /* A thread blocked without a timeout wakes when cancelled. */
  getter_start (&getter, latch, cancellable);
  g_usleep (20 * 1000);
  g_assert_false (g_atomic_int_get (&getter.done));
  g_cancellable_cancel (cancellable);
  g_assert_true (wait_flag (&getter.done, WAIT_MSEC));
  getter_join (&getter);
  g_assert_null (getter.item);
  g_assert_error (getter.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&getter.error);

  /* Already cancelled, nothing queued: fails at once. */
  g_cancellable_cancel (cancelled);
  g_assert_null (_mitogen_latch_get (latch, -1, cancelled, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);

  /* A pending asynchronous get fails when cancelled, and a later put is
   * kept for the next get instead of going to the cancelled one. */
  g_cancellable_reset (cancellable);
  get_async (latch, -1, cancellable, &r);
  mitogen_test_drain_default_context ();
  g_assert_false (r.done);
  g_cancellable_cancel (cancellable);
  g_assert_true (mitogen_test_iterate_until (&r.done, WAIT_MSEC));
  g_assert_null (r.item);
  g_assert_error (r.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&r.error);

  g_assert_true (_mitogen_latch_put (latch, new_item (3)));
  g_assert_cmpuint (_mitogen_latch_size (latch), ==, 1);
  g_assert_cmpint (take_value (_mitogen_latch_get (latch, 0, NULL, &error)), ==, 3);
  g_assert_no_error (error);
}

static void
test_get_async (void)
{
  g_autoptr(MitogenLatch) latch = new_latch ();
  AsyncResult ready = { 0 };
  AsyncResult a = { 0 };
  AsyncResult b = { 0 };

  /* An item already there: completes with it. */
  g_assert_true (_mitogen_latch_put (latch, new_item (1)));
  get_async (latch, -1, NULL, &ready);
  g_assert_true (mitogen_test_iterate_until (&ready.done, WAIT_MSEC));
  g_assert_no_error (ready.error);
  g_assert_cmpint (take_value (ready.item), ==, 1);

  /* Two waiting: puts serve them first come, first served, and go to
   * them rather than into the queue. */
  get_async (latch, WAIT_MSEC, NULL, &a);
  get_async (latch, -1, NULL, &b);
  mitogen_test_drain_default_context ();
  g_assert_false (a.done);
  g_assert_false (b.done);
  g_assert_true (_mitogen_latch_put (latch, new_item (2)));
  g_assert_true (_mitogen_latch_put (latch, new_item (3)));
  g_assert_cmpuint (_mitogen_latch_size (latch), ==, 0);
  g_assert_true (mitogen_test_iterate_until (&a.done, WAIT_MSEC));
  g_assert_true (mitogen_test_iterate_until (&b.done, WAIT_MSEC));
  g_assert_no_error (a.error);
  g_assert_no_error (b.error);
  g_assert_cmpint (take_value (a.item), ==, 2);
  g_assert_cmpint (take_value (b.item), ==, 3);
}

typedef struct
{
  MitogenLatch *latch;
  gint          go;        /* atomic: round number to put in */
  gint          stop;      /* atomic */
  gboolean      polite;    /* yield while waiting (valgrind) */
} RacingPutter;

static gpointer
put_when_told (gpointer data)
{
  RacingPutter *p = data;
  int round = 0;

  while (!g_atomic_int_get (&p->stop))
    {
      if (g_atomic_int_get (&p->go) <= round)
        {
          /* Spinning keeps the put close to the get; yielding keeps a
           * serialising scheduler (valgrind) from starving the getter. */
          if (p->polite)
            g_thread_yield ();
          continue;
        }
      round++;
      _mitogen_latch_put (p->latch, new_item (round));
    }
  return NULL;
}

/* A put that lands while get_async is deciding whether to wait: the item
 * must reach the waiter, not sit in the queue until its timeout. Each
 * round the other thread puts at the moment this one asks. */
static void
test_get_async_races_put (void)
{
  g_autoptr(MitogenLatch) latch = new_latch ();
  const char *preload = g_getenv ("LD_PRELOAD");
  /* Under valgrind, threads take turns: fewer rounds, same check. */
  gboolean valgrind = preload != NULL && strstr (preload, "vgpreload") != NULL;
  RacingPutter putter = { latch, 0, 0, valgrind };
  GThread *thread = g_thread_new ("putter", put_when_told, &putter);
  int rounds = valgrind ? 500 : 20000;

  for (int round = 1; round <= rounds; round++)
    {
      AsyncResult r = { 0 };

      g_atomic_int_set (&putter.go, round);
      /* A lost item would show as this timeout, not as a slow round. */
      get_async (latch, WAIT_MSEC, NULL, &r);
      g_assert_true (mitogen_test_iterate_until (&r.done, 2 * WAIT_MSEC));
      g_assert_no_error (r.error);
      g_assert_cmpint (take_value (r.item), ==, round);
    }
  g_atomic_int_set (&putter.stop, TRUE);
  g_thread_join (thread);
}

static void
test_close_wakes_waiters (void)
{
  g_autoptr(MitogenLatch) latch = new_latch ();
  g_autoptr(GError) error = NULL;
  Getter getter = { 0 };
  AsyncResult r = { 0 };

  getter_start (&getter, latch, NULL);
  get_async (latch, -1, NULL, &r);
  g_usleep (20 * 1000);
  g_assert_false (g_atomic_int_get (&getter.done));

  _mitogen_latch_close (latch);
  g_assert_true (_mitogen_latch_is_closed (latch));
  g_assert_true (wait_flag (&getter.done, WAIT_MSEC));
  getter_join (&getter);
  g_assert_null (getter.item);
  g_assert_error (getter.error, MITOGEN_ERROR, MITOGEN_ERROR_CHANNEL);
  g_clear_error (&getter.error);
  g_assert_true (mitogen_test_iterate_until (&r.done, WAIT_MSEC));
  g_assert_null (r.item);
  g_assert_error (r.error, MITOGEN_ERROR, MITOGEN_ERROR_CHANNEL);
  g_clear_error (&r.error);

  /* A put after close is refused, and its item freed. */
  g_assert_false (_mitogen_latch_put (latch, new_item (1)));
  g_assert_cmpint (g_atomic_int_get (&items_freed), ==, 1);
  g_assert_null (_mitogen_latch_get (latch, -1, NULL, &error));
  g_assert_error (error, MITOGEN_ERROR, MITOGEN_ERROR_CHANNEL);
}

/* What was put before close is still handed out; then the error. */
static void
test_close_keeps_queued_items (void)
{
  g_autoptr(MitogenLatch) latch = new_latch ();
  g_autoptr(GError) error = NULL;
  AsyncResult r = { 0 };

  g_assert_true (_mitogen_latch_put (latch, new_item (1)));
  g_assert_true (_mitogen_latch_put (latch, new_item (2)));
  _mitogen_latch_close (latch);
  g_assert_cmpint (take_value (_mitogen_latch_get (latch, -1, NULL, &error)), ==, 1);
  get_async (latch, -1, NULL, &r);
  g_assert_true (mitogen_test_iterate_until (&r.done, WAIT_MSEC));
  g_assert_cmpint (take_value (r.item), ==, 2);
  g_assert_null (_mitogen_latch_get (latch, -1, NULL, &error));
  g_assert_error (error, MITOGEN_ERROR, MITOGEN_ERROR_CHANNEL);
}

static void
test_unref_frees_items (void)
{
  MitogenLatch *latch = new_latch ();

  for (int i = 0; i < 3; i++)
    g_assert_true (_mitogen_latch_put (latch, new_item (i)));
  _mitogen_latch_unref (latch);
  g_assert_cmpint (g_atomic_int_get (&items_freed), ==, 3);
}

/* ---- the notify hook --------------------------------------------------- */

typedef struct
{
  gint      calls;   /* atomic */
  gpointer  data;
  gpointer  source;
} NotifyLog;

static NotifyLog notified;

static void
on_notify (gpointer notify_data,
           gpointer source)
{
  notified.data = notify_data;
  notified.source = source;
  g_atomic_int_inc (&notified.calls);
}

static void
other_notify (gpointer notify_data,
              gpointer source)
{
  g_assert_not_reached ();
}

static void
test_notify (void)
{
  g_autoptr(MitogenLatch) latch = new_latch ();
  GObject *select = g_object_new (G_TYPE_OBJECT, NULL);
  int source_tag = 0;
  AsyncResult r = { 0 };
  g_autoptr(GError) error = NULL;

  notified = (NotifyLog) { 0 };
  g_assert_true (_mitogen_latch_set_notify (latch, on_notify, select, &source_tag));
  g_assert_true (_mitogen_latch_get_notify_data (latch) == select);
  /* Only one hook at a time. */
  g_assert_false (_mitogen_latch_set_notify (latch, other_notify, select, NULL));

  /* Each put that queues an item notifies, with the data and source. */
  g_assert_true (_mitogen_latch_put (latch, new_item (1)));
  g_assert_cmpint (g_atomic_int_get (&notified.calls), ==, 1);
  g_assert_true (notified.data == select);
  g_assert_true (notified.source == &source_tag);

  /* A put that goes straight to a waiter does not. */
  g_assert_cmpint (take_value (_mitogen_latch_get (latch, 0, NULL, &error)), ==, 1);
  get_async (latch, -1, NULL, &r);
  g_assert_true (_mitogen_latch_put (latch, new_item (2)));
  g_assert_cmpint (g_atomic_int_get (&notified.calls), ==, 1);
  g_assert_true (mitogen_test_iterate_until (&r.done, WAIT_MSEC));
  g_assert_cmpint (take_value (r.item), ==, 2);

  /* The data is held weakly: once it is gone, nobody is notified, and
   * another hook may be set. */
  g_object_unref (select);
  g_assert_null (_mitogen_latch_get_notify_data (latch));
  g_assert_true (_mitogen_latch_put (latch, new_item (3)));
  g_assert_cmpint (g_atomic_int_get (&notified.calls), ==, 1);

  select = g_object_new (G_TYPE_OBJECT, NULL);
  g_assert_true (_mitogen_latch_set_notify (latch, on_notify, select, NULL));
  /* Removing it stops the calls. */
  g_assert_true (_mitogen_latch_set_notify (latch, NULL, NULL, NULL));
  g_assert_null (_mitogen_latch_get_notify_data (latch));
  g_assert_true (_mitogen_latch_put (latch, new_item (4)));
  g_assert_cmpint (g_atomic_int_get (&notified.calls), ==, 1);
  g_object_unref (select);
}

/* ---- many producers ---------------------------------------------------- */

#define PRODUCERS 8
#define ITEMS_EACH 2000

typedef struct
{
  MitogenLatch *latch;
  int           producer;
} Producer;

static gpointer
producer_run (gpointer data)
{
  Producer *p = data;

  for (int i = 0; i < ITEMS_EACH; i++)
    g_assert_true (_mitogen_latch_put (p->latch, new_item (p->producer * ITEMS_EACH + i)));
  return NULL;
}

/* Every item arrives once, and each producer's in the order it put them. */
static void
test_many_producers (void)
{
  g_autoptr(MitogenLatch) latch = new_latch ();
  Producer producers[PRODUCERS];
  GThread *threads[PRODUCERS];
  int next[PRODUCERS] = { 0 };

  for (int p = 0; p < PRODUCERS; p++)
    {
      producers[p].latch = latch;
      producers[p].producer = p;
      threads[p] = g_thread_new ("producer", producer_run, &producers[p]);
    }

  for (int n = 0; n < PRODUCERS * ITEMS_EACH; n++)
    {
      g_autoptr(GError) error = NULL;
      int value = take_value (_mitogen_latch_get (latch, WAIT_MSEC, NULL, &error));
      int p = value / ITEMS_EACH;

      g_assert_no_error (error);
      g_assert_cmpint (p, >=, 0);
      g_assert_cmpint (p, <, PRODUCERS);
      g_assert_cmpint (value % ITEMS_EACH, ==, next[p]);
      next[p]++;
    }

  for (int p = 0; p < PRODUCERS; p++)
    {
      g_thread_join (threads[p]);
      g_assert_cmpint (next[p], ==, ITEMS_EACH);
    }
  g_assert_cmpuint (_mitogen_latch_size (latch), ==, 0);
}

int
main (int    argc,
      char **argv)
{
  mitogen_test_init (&argc, &argv);

  g_test_add_func ("/latch/put-get-order", test_put_get_order);
  g_test_add_func ("/latch/put-wakes-one", test_put_wakes_one);
  g_test_add_func ("/latch/timeout", test_timeout);
  g_test_add_func ("/latch/cancellation", test_cancellation);
  g_test_add_func ("/latch/get-async", test_get_async);
  g_test_add_func ("/latch/get-async-races-put", test_get_async_races_put);
  g_test_add_func ("/latch/close-wakes-waiters", test_close_wakes_waiters);
  g_test_add_func ("/latch/close-keeps-queued-items", test_close_keeps_queued_items);
  g_test_add_func ("/latch/unref-frees-items", test_unref_frees_items);
  g_test_add_func ("/latch/notify", test_notify);
  g_test_add_func ("/latch/many-producers", test_many_producers);

  return g_test_run ();
}
