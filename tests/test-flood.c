/* test-flood.c: a child that floods its master cannot grow the master's
 * memory past MitogenRouter:max-buffered, nor a middle context's; flow
 * control loses nothing, keeps order, lets other contexts answer, and
 * deadlocks nothing. The floods run inside real agents
 * (tests/modules/mitogen-flood-module.c, fetched from the master).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <stdio.h>
#include <string.h>

#include "mitogen-test-util.h"

#define MiB (1024u * 1024u)
/* What the master may hold beyond the bound: the read buffer, the frame
 * being read, allocator slack. */
#define SLACK (8 * MiB)

/* Under valgrind or ASan the process's memory says nothing about ours
 * (shadow memory, quarantine) and everything is slower: the floods are
 * smaller there and only order and completeness are checked. */
static gboolean
memory_is_measurable (void)
{
#if defined(__SANITIZE_ADDRESS__)
  return FALSE;
#else
  const char *preload = g_getenv ("LD_PRELOAD");

  return preload == NULL || strstr (preload, "vgpreload") == NULL;
#endif
}

/* A field of /proc/PID/status in KiB; @pid 0 is this process. */
static guint64
status_kib (int         pid,
            const char *field)
{
  g_autofree char *path = pid == 0 ? g_strdup ("/proc/self/status")
                                   : g_strdup_printf ("/proc/%d/status", pid);
  g_autofree char *contents = NULL;
  g_autofree char *key = g_strconcat ("\n", field, ":", NULL);
  const char *p;

  g_assert_true (g_file_get_contents (path, &contents, NULL, NULL));
  p = strstr (contents, key);
  g_assert_nonnull (p);
  return g_ascii_strtoull (p + strlen (key), NULL, 10);
}

/* Forgets this process's peak, so that VmHWM is the peak from now on. */
static void
reset_peak (void)
{
  FILE *f = fopen ("/proc/self/clear_refs", "w");

  g_assert_nonnull (f);
  g_assert_cmpint (fputs ("5", f), >=, 0);
  g_assert_cmpint (fclose (f), ==, 0);
}

/* A measured figure, in the test log; from a subprocess (whose stdout the
 * parent drops) on stderr too. */
static void G_GNUC_PRINTF (1, 2)
report (const char *format,
        ...)
{
  g_autofree char *text = NULL;
  va_list args;

  va_start (args, format);
  text = g_strdup_vprintf (format, args);
  va_end (args);
  g_test_message ("%s", text);
  if (g_test_subprocess ())
    g_printerr ("# %s\n", text);
}

typedef struct
{
  MitogenTestFixture  base;
  MitogenReceiver    *sink;    /* nobody reads it until the test drains it */
} Flood;

static void
flood_setup (Flood         *f,
             gconstpointer  data)
{
  g_autoptr(GError) error = NULL;

  mitogen_test_fixture_setup (&f->base, data);
  g_assert_true (mitogen_add_module ("floodmod", g_getenv ("MITOGEN_FLOOD_MODULE"), &error));
  g_assert_no_error (error);
  f->sink = mitogen_receiver_new (f->base.router);
}

static void
flood_teardown (Flood         *f,
                gconstpointer  data)
{
  g_clear_object (&f->sink);
  mitogen_test_fixture_teardown (&f->base, data);
}

/* Starts floodmod.send in @ctx towards the sink; returns the call's
 * reply receiver. */
static MitogenReceiver *
begin_flood (Flood          *f,
             MitogenContext *ctx,
             guint64         count,
             guint32         size)
{
  return mitogen_context_begin_call (ctx, "floodmod.send",
                                     g_variant_new ("(uutu)", 0,
                                                    mitogen_receiver_get_handle (f->sink),
                                                    count, size));
}

/* Makes sure the module is loaded in @ctx before anything is measured. */
static void
warm_up (Flood          *f,
         MitogenContext *ctx)
{
  g_autoptr(MitogenReceiver) reply = begin_flood (f, ctx, 1, 1);
  g_autoptr(MitogenMessage) msg = mitogen_receiver_get (f->sink, 30000, NULL, NULL);
  g_autoptr(MitogenMessage) done = mitogen_receiver_get (reply, 30000, NULL, NULL);

  g_assert_nonnull (msg);
  g_assert_nonnull (done);
}

/* Waits until the flood stalls: this process's memory stops growing for
 * a second. Where memory says nothing, waits two seconds. */
static void
wait_until_stalled (void)
{
  guint64 last = 0;
  int still = 0;

  if (!memory_is_measurable ())
    {
      g_usleep (2 * G_USEC_PER_SEC);
      return;
    }
  for (int i = 0; i < 600 && still < 20; i++)
    {
      guint64 rss = status_kib (0, "VmRSS");

      still = (rss <= last + 64 && rss + 64 >= last) ? still + 1 : 0;
      last = rss;
      g_usleep (50 * 1000);
    }
  g_assert_cmpint (still, >=, 20);
}

/* Takes @count messages from the sink and checks each is the next one,
 * whole. */
static void
drain_in_order (Flood   *f,
                guint64  count,
                guint32  size)
{
  for (guint64 i = 0; i < count; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(MitogenMessage) msg = mitogen_receiver_get (f->sink, 60000, NULL, &error);
      g_autoptr(GVariant) value = NULL;
      g_autoptr(GVariant) payload = NULL;
      const guint8 *bytes;
      guint64 seq;
      gsize n;

      g_assert_no_error (error);
      value = mitogen_message_unpack (msg, &error);
      g_assert_no_error (error);
      g_variant_get (value, "(t@ay)", &seq, &payload);
      if (seq != i)
        g_assert_cmpuint (seq, ==, i);
      bytes = g_variant_get_fixed_array (payload, &n, 1);
      if (n != size || (size > 0 && (bytes[0] != (i & 0xff) || bytes[size - 1] != (i & 0xff))))
        g_error ("message %" G_GUINT64_FORMAT " came damaged (%" G_GSIZE_FORMAT " bytes)", i, n);
    }
}

static void
assert_flood_done (MitogenReceiver *reply,
                   guint64          count)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MitogenMessage) msg = mitogen_receiver_get (reply, 60000, NULL, &error);
  g_autoptr(GVariant) sent = NULL;

  g_assert_no_error (error);
  sent = mitogen_message_unpack (msg, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_variant_get_uint64 (sent), ==, count);
}

typedef struct
{
  guint64 count;      /* messages */
  guint32 size;       /* payload bytes each */
  guint64 bound;      /* max-buffered */
} FloodCase;

/* The master's memory while a context floods a receiver nobody reads,
 * then every message, in order. */
static void
test_flood_master (Flood         *f,
                   gconstpointer  data)
{
  const FloodCase *fc = data;
  FloodCase c = *fc;
  g_autoptr(MitogenContext) ctx = NULL;
  g_autoptr(MitogenReceiver) reply = NULL;
  guint64 base_kib, peak_kib, drained_peak_kib;

  if (!memory_is_measurable ())
    {
      /* Still far past the bound, so the pause is exercised. */
      c.count = MAX (c.count / 100, 20);
      c.bound = c.bound / 16;
      c.size = MIN (c.size, 1 * MiB);
    }
  mitogen_router_set_max_buffered (f->base.router, c.bound);
  ctx = mitogen_test_local (f->base.router);
  warm_up (f, ctx);

  base_kib = status_kib (0, "VmRSS");
  reset_peak ();
  reply = begin_flood (f, ctx, c.count, c.size);
  wait_until_stalled ();
  peak_kib = status_kib (0, "VmHWM");

  /* Stalled, not finished: the flood is far larger than the bound. */
  g_assert_true (mitogen_receiver_is_empty (reply));

  drain_in_order (f, c.count, c.size);
  assert_flood_done (reply, c.count);
  drained_peak_kib = status_kib (0, "VmHWM");

  report ("%" G_GUINT64_FORMAT " x %u bytes, max-buffered %" G_GUINT64_FORMAT
                  " MiB: master RSS %" G_GUINT64_FORMAT " KiB before, peak %"
                  G_GUINT64_FORMAT " KiB stalled (+%" G_GUINT64_FORMAT " KiB), peak %"
                  G_GUINT64_FORMAT " KiB after draining", c.count, c.size, c.bound / MiB,
                  base_kib, peak_kib, peak_kib - MIN (base_kib, peak_kib), drained_peak_kib);
  if (memory_is_measurable ())
    {
      g_assert_cmpuint (peak_kib, <=, base_kib + (c.bound + SLACK) / 1024);
      g_assert_cmpuint (drained_peak_kib, <=, base_kib + (c.bound + SLACK) / 1024);
    }
}

/* A flood from a grandchild through a middle context: the middle context
 * stops reading its child, so its memory stays bounded too (it inherited
 * max-buffered), and still nothing is lost. */
static void
test_flood_relay (Flood         *f,
                  gconstpointer  data)
{
  guint64 bound = 16 * MiB, count = 40;
  guint32 size = 8 * MiB;
  g_autoptr(MitogenContext) middle = NULL;
  g_autoptr(MitogenContext) leaf = NULL;
  g_autoptr(MitogenReceiver) reply = NULL;
  g_autoptr(GError) error = NULL;
  guint64 base_kib, peak_kib, middle_base_kib, middle_peak_kib;
  int middle_pid;

  if (!memory_is_measurable ())
    {
      bound = 1 * MiB;
      count = 20;
      size = 256 * 1024;
    }
  mitogen_router_set_max_buffered (f->base.router, bound);
  middle = mitogen_test_local (f->base.router);
  leaf = mitogen_router_connect_context (f->base.router, "local", NULL, middle, NULL, &error);
  g_assert_no_error (error);
  warm_up (f, leaf);
  middle_pid = mitogen_test_context_pid (middle);

  base_kib = status_kib (0, "VmRSS");
  middle_base_kib = status_kib (middle_pid, "VmRSS");
  reset_peak ();
  reply = begin_flood (f, leaf, count, size);
  wait_until_stalled ();
  middle_peak_kib = status_kib (middle_pid, "VmHWM");
  peak_kib = status_kib (0, "VmHWM");
  g_assert_true (mitogen_receiver_is_empty (reply));

  drain_in_order (f, count, size);
  assert_flood_done (reply, count);
  /* Its peak over its whole life, draining included. */
  middle_peak_kib = MAX (middle_peak_kib, status_kib (middle_pid, "VmHWM"));
  peak_kib = MAX (peak_kib, status_kib (0, "VmHWM"));

  report ("relay of %" G_GUINT64_FORMAT " x %u bytes, max-buffered %" G_GUINT64_FORMAT
                  " MiB: master RSS %" G_GUINT64_FORMAT " KiB, peak %" G_GUINT64_FORMAT
                  " KiB; middle RSS %" G_GUINT64_FORMAT " KiB, peak %" G_GUINT64_FORMAT " KiB",
                  count, size, bound / MiB, base_kib, peak_kib, middle_base_kib, middle_peak_kib);
  if (memory_is_measurable ())
    {
      g_assert_cmpuint (peak_kib, <=, base_kib + (bound + SLACK) / 1024);
      g_assert_cmpuint (middle_peak_kib, <=, middle_base_kib + (bound + SLACK) / 1024);
    }
}

static double
ping_seconds (MitogenContext *ctx)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) result = NULL;
  gint64 start = g_get_monotonic_time ();

  result = mitogen_context_call (ctx, "core.ping", NULL, NULL, &error);
  g_assert_no_error (error);
  return (g_get_monotonic_time () - start) / (double) G_USEC_PER_SEC;
}

/* While one context's stream is paused, another answers as usual. */
static void
test_isolation (Flood         *f,
                gconstpointer  data)
{
  guint64 count = memory_is_measurable () ? 200000 : 20000;
  g_autoptr(MitogenContext) flooder = NULL;
  g_autoptr(MitogenContext) other = NULL;
  g_autoptr(MitogenReceiver) reply = NULL;
  double worst = 0;

  mitogen_router_set_max_buffered (f->base.router, 1 * MiB);
  flooder = mitogen_test_local (f->base.router);
  other = mitogen_test_local (f->base.router);
  warm_up (f, flooder);

  reply = begin_flood (f, flooder, count, 16);
  wait_until_stalled ();
  for (int i = 0; i < 100; i++)
    worst = MAX (worst, ping_seconds (other));
  report ("slowest of 100 pings while another context is paused: %.1f ms", worst * 1000);
  g_assert_cmpfloat (worst, <, 2.0);
  g_assert_true (mitogen_receiver_is_empty (reply));

  drain_in_order (f, count, 16);
  assert_flood_done (reply, count);
  ping_seconds (flooder);
}

static void
on_call_done (GObject      *source,
              GAsyncResult *result,
              gpointer      data)
{
  GError **error = data;
  g_autoptr(GVariant) value = mitogen_context_call_finish (MITOGEN_CONTEXT (source), result, error);

  g_assert_null (value);
  g_assert_nonnull (*error);
}

/* A paused flood can be cancelled: it stops once the master reads what
 * was sent, and whatever came is whole and in order. */
static void
test_cancel (Flood         *f,
             gconstpointer  data)
{
  guint64 count = 1000000;
  g_autoptr(MitogenContext) ctx = NULL;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GError) error = NULL;
  guint64 got = 0;

  mitogen_router_set_max_buffered (f->base.router, 1 * MiB);
  ctx = mitogen_test_local (f->base.router);
  warm_up (f, ctx);

  mitogen_context_call_async (ctx, "floodmod.send",
                              g_variant_new ("(uutu)", 0, mitogen_receiver_get_handle (f->sink),
                                             count, 16),
                              cancellable, on_call_done, &error);
  wait_until_stalled ();
  g_cancellable_cancel (cancellable);
  while (error == NULL)
    g_main_context_iteration (NULL, TRUE);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);

  /* Read until the flood is over: it ends early, in order. */
  for (;;)
    {
      g_autoptr(GError) get_error = NULL;
      g_autoptr(MitogenMessage) msg = mitogen_receiver_get (f->sink, 2000, NULL, &get_error);
      g_autoptr(GVariant) value = NULL;
      guint64 seq;

      if (msg == NULL)
        {
          g_assert_error (get_error, MITOGEN_ERROR, MITOGEN_ERROR_TIMEOUT);
          break;
        }
      value = mitogen_message_unpack (msg, NULL);
      g_variant_get (value, "(t@ay)", &seq, NULL);
      if (seq != got)
        g_assert_cmpuint (seq, ==, got);
      got++;
    }
  report ("cancelled after %" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT " messages",
                  got, count);
  g_assert_cmpuint (got, >, 0);
  g_assert_cmpuint (got, <, count);
  /* The agent is free again. */
  ping_seconds (ctx);
}

/* Replies count too, and pipelined bulk replies read in order still all
 * arrive, however far they exceed the bound. */
static void
test_bulk_replies (Flood         *f,
                   gconstpointer  data)
{
  guint n = memory_is_measurable () ? 32 : 8;
  guint64 size = memory_is_measurable () ? 8 * MiB : 1 * MiB;
  g_autoptr(MitogenContext) ctx = NULL;
  g_autoptr(GPtrArray) replies = g_ptr_array_new_with_free_func (g_object_unref);

  mitogen_router_set_max_buffered (f->base.router, 2 * size);
  ctx = mitogen_test_local (f->base.router);
  for (guint i = 0; i < n; i++)
    g_ptr_array_add (replies, mitogen_context_begin_call (ctx, "core.zeros",
                                                          g_variant_new ("(t)", size)));
  for (guint i = 0; i < n; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(MitogenMessage) msg = mitogen_receiver_get (replies->pdata[i], 60000, NULL, &error);
      g_autoptr(GVariant) value = NULL;

      g_assert_no_error (error);
      value = mitogen_message_unpack (msg, &error);
      g_assert_no_error (error);
      g_assert_cmpuint (g_variant_get_size (value), ==, size);
    }
}

/* The property: its default, and what contexts inherit. */
static void
test_property (Flood         *f,
               gconstpointer  data)
{
  guint64 value = 0;

  g_assert_cmpuint (mitogen_router_get_max_buffered (f->base.router), ==,
                    MITOGEN_DEFAULT_MAX_BUFFERED);
  g_object_set (f->base.router, "max-buffered", (guint64) 12345, NULL);
  g_object_get (f->base.router, "max-buffered", &value, NULL);
  g_assert_cmpuint (value, ==, 12345);
  g_assert_cmpuint (mitogen_router_get_max_buffered (f->base.router), ==, 12345);
  mitogen_router_set_max_buffered (f->base.router, 0);
  g_assert_cmpuint (mitogen_router_get_max_buffered (f->base.router), ==, 0);
}

/* The measuring tests run in a fresh process each, so that what one
 * leaves in the allocator neither hides nor inflates the next one's. */
static void
test_in_subprocess (Flood         *f,
                    gconstpointer  data)
{
  GTestFixtureFunc body = NULL;
  const char *path = g_test_get_path ();

  if (g_str_equal (path, "/flood/relay"))
    body = (GTestFixtureFunc) test_flood_relay;
  else
    body = (GTestFixtureFunc) test_flood_master;
  if (g_test_subprocess ())
    {
      body (f, data);
      return;
    }
  /* Its figures come on its stderr (see report()). */
  g_test_trap_subprocess (NULL, 300 * G_USEC_PER_SEC, G_TEST_SUBPROCESS_INHERIT_STDERR);
  g_test_trap_assert_passed ();
}

static const FloodCase small_frames = { 2000000, 0, 16 * MiB };
static const FloodCase large_frames = { 100, 8 * MiB, 16 * MiB };

int
main (int    argc,
      char **argv)
{
  mitogen_test_init (&argc, &argv);
  /* Not under valgrind's agent wrapper: these tests bound the agents' RSS,
   * which under valgrind is valgrind's own, and push gigabytes through them
   * (280 s instead of 40). ASan still checks their agents. */
  g_unsetenv ("MITOGEN_AGENT_WRAPPER");

#define ADD(path, data, func) \
  g_test_add (path, Flood, data, flood_setup, func, flood_teardown)
  ADD ("/flood/property", NULL, test_property);
  ADD ("/flood/small-frames", &small_frames, test_in_subprocess);
  ADD ("/flood/large-frames", &large_frames, test_in_subprocess);
  ADD ("/flood/relay", NULL, test_in_subprocess);
  ADD ("/flood/isolation", NULL, test_isolation);
  ADD ("/flood/cancel", NULL, test_cancel);
  ADD ("/flood/bulk-replies", NULL, test_bulk_replies);
#undef ADD
  return g_test_run ();
}
