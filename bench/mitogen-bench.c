/* mitogen-bench.c: libmitogen's figures on this machine, and the floors
 * they are measured against (bench-floors.c), as one JSON object.
 *
 * Not a test: run it through bench/run-local.sh, which runs Python Mitogen's
 * and execnet's figures in the same run and prints the ratios.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <mitogen/mitogen.h>

#include "bench-floors.h"

static gboolean opt_quick;
static char *opt_only;
static char *opt_skip;
static char *opt_ssh;
static GString *json;

static gboolean
want (const char *key)
{
  g_auto(GStrv) keys = NULL;
  g_auto(GStrv) skipped = NULL;

  if (opt_skip != NULL && *opt_skip != '\0')
    {
      skipped = g_strsplit (opt_skip, ",", -1);
      if (g_strv_contains ((const char * const *) skipped, key))
        return FALSE;
    }
  if (opt_only == NULL || *opt_only == '\0')
    return TRUE;
  keys = g_strsplit (opt_only, ",", -1);
  return g_strv_contains ((const char * const *) keys, key);
}

static void
emit (const char *key,
      double      value)
{
  g_string_append_printf (json, "%s\"%s\": %.6g", json->len > 1 ? ", " : "", key, value);
  fprintf (stderr, "mitogen-bench: %s = %.6g\n", key, value);
}

static MitogenContext *
connect_or_die (MitogenRouter  *router,
                const char     *transport,
                GVariant       *options,
                MitogenContext *via)
{
  g_autoptr(GError) error = NULL;
  MitogenContext *ctx = mitogen_router_connect_context (router, transport, options, via, NULL, &error);

  if (ctx == NULL)
    {
      fprintf (stderr, "mitogen-bench: %s\n", error->message);
      exit (1);
    }
  return ctx;
}

static void
call_or_die (MitogenContext *ctx,
             const char     *function,
             GVariant       *args)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) v = mitogen_context_call (ctx, function, args, NULL, &error);

  if (v == NULL)
    {
      fprintf (stderr, "mitogen-bench: %s: %s\n", function, error->message);
      exit (1);
    }
}

static int
context_pid (MitogenContext *ctx)
{
  gint32 pid = 0;

  g_variant_lookup (mitogen_context_get_remote_info (ctx), "pid", "i", &pid);
  return pid;
}

static long
status_kib (int         pid,
            const char *field)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/status", pid);
  g_autofree char *contents = NULL;
  const char *p;

  if (!g_file_get_contents (path, &contents, NULL, NULL) || (p = strstr (contents, field)) == NULL)
    return -1;
  return strtol (p + strlen (field) + 1, NULL, 10);
}

static double
start_ms (MitogenRouter *router,
          const char    *transport,
          GVariant      *options,
          int            runs)
{
  g_autoptr(GArray) samples = g_array_new (FALSE, FALSE, sizeof (double));

  if (options != NULL)
    g_variant_ref_sink (options);
  for (int i = 0; i < runs; i++)
    {
      double t = bench_now_us ();
      g_autoptr(MitogenContext) ctx = connect_or_die (router, transport, options, NULL);

      call_or_die (ctx, "core.ping", NULL);
      g_array_append_val (samples, (double) { (bench_now_us () - t) / 1000.0 });
      mitogen_context_shutdown (ctx, 30000, NULL, NULL);
    }
  g_clear_pointer (&options, g_variant_unref);
  return bench_median (samples);
}

/* start_ms for mitogen-agent-static, GLib linked in (the agent the ssh
 * transport uploads), when it sits beside $MITOGEN_AGENT_PATH. */
static void
static_start (MitogenRouter *router,
              gboolean       q)
{
  g_autofree char *path = g_strconcat (g_getenv ("MITOGEN_AGENT_PATH"), "-static", NULL);
  GVariantDict dict;

  if (g_getenv ("MITOGEN_AGENT_PATH") == NULL || !g_file_test (path, G_FILE_TEST_IS_EXECUTABLE))
    return;
  g_variant_dict_init (&dict, NULL);
  g_variant_dict_insert (&dict, "agent_path", "s", path);
  emit ("static_start_ms", start_ms (router, "local", g_variant_dict_end (&dict), q ? 5 : 20));
}

/* The floor for a transport that runs a program: the program alone. */
static double
command_ms (const char *command,
            int         runs)
{
  g_autoptr(GArray) samples = g_array_new (FALSE, FALSE, sizeof (double));

  for (int i = 0; i < runs; i++)
    {
      double t = bench_now_us ();

      g_spawn_command_line_sync (command, NULL, NULL, NULL, NULL);
      g_array_append_val (samples, (double) { (bench_now_us () - t) / 1000.0 });
    }
  return bench_median (samples);
}

static double
ping_us (MitogenContext *ctx,
         int             n)
{
  g_autoptr(GArray) samples = g_array_new (FALSE, FALSE, sizeof (double));

  for (int i = 0; i < n / 10; i++)
    call_or_die (ctx, "core.ping", NULL);
  for (int i = 0; i < n; i++)
    {
      double t = bench_now_us ();

      call_or_die (ctx, "core.ping", NULL);
      g_array_append_val (samples, (double) { bench_now_us () - t });
    }
  return bench_median (samples);
}

/* Context switches, voluntary or not, of all @pid's threads so far. */
static long
context_switches (int pid)
{
  g_autofree char *dir_path = g_strdup_printf ("/proc/%d/task", pid);
  g_autoptr(GDir) dir = g_dir_open (dir_path, 0, NULL);
  const char *tid;
  long total = 0;

  while (dir != NULL && (tid = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = g_strdup_printf ("%s/%s/status", dir_path, tid);
      g_autofree char *contents = NULL;
      const char *p;

      if (!g_file_get_contents (path, &contents, NULL, NULL))
        continue;
      if ((p = strstr (contents, "\nvoluntary_ctxt_switches:")) != NULL)
        total += strtol (p + strlen ("\nvoluntary_ctxt_switches:"), NULL, 10);
      if ((p = strstr (contents, "nonvoluntary_ctxt_switches:")) != NULL)
        total += strtol (p + strlen ("nonvoluntary_ctxt_switches:"), NULL, 10);
    }
  return total;
}

/* Thread hand-offs per ping on each side: the context switches of all of
 * its threads over @n pings, per ping. Two processes that answer each
 * other over a pipe switch once each per round trip. */
static void
switch_figures (MitogenContext *ctx,
                int             n)
{
  int pid = context_pid (ctx), self = getpid ();
  long master = context_switches (self), agent = context_switches (pid);

  for (int i = 0; i < n; i++)
    call_or_die (ctx, "core.ping", NULL);
  emit ("master_switches_per_ping", (double) (context_switches (self) - master) / n);
  emit ("agent_switches_per_ping", (double) (context_switches (pid) - agent) / n);
}

static double
pipelined_per_s (MitogenContext *ctx,
                 int             n)
{
  MitogenReceiver **receivers = g_new (MitogenReceiver *, n);
  double t = bench_now_us ();

  for (int i = 0; i < n; i++)
    receivers[i] = mitogen_context_begin_call (ctx, "core.ping", NULL);
  for (int i = 0; i < n; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(MitogenMessage) msg = mitogen_receiver_get (receivers[i], -1, NULL, &error);

      if (msg == NULL)
        {
          fprintf (stderr, "mitogen-bench: pipelined: %s\n", error->message);
          exit (1);
        }
      g_object_unref (receivers[i]);
    }
  g_free (receivers);
  return n / ((bench_now_us () - t) / 1e6);
}

/* MB/s of core.zeros replies of 8 MiB, one call at a time: synthetic, since
 * the agent hands out calloc pages it never touched (see bulk_real). */
static double
zeros_mb_s (MitogenContext *ctx,
            gsize           total)
{
  double t = bench_now_us ();

  for (gsize done = 0; done < total; done += 8 << 20)
    call_or_die (ctx, "core.zeros", g_variant_new ("(t)", (guint64) 8 << 20));
  return total / ((bench_now_us () - t) / 1e6) / 1e6;
}

#define BULK_FILE_SIZE ((gsize) 8 << 20)

/* An 8 MiB file of varied bytes in a new temporary directory, written
 * 64 KiB at a time so that this process's peak RSS does not grow by the
 * file; freshly written, it sits in the page cache. */
static char *
make_bulk_file (void)
{
  g_autofree char *dir = g_dir_make_tmp ("mitogen-bench-XXXXXX", NULL);
  char *path = dir != NULL ? g_build_filename (dir, "8mib", NULL) : NULL;
  guint32 block[16384];
  FILE *f;

  if (path == NULL || (f = fopen (path, "wb")) == NULL)
    {
      fprintf (stderr, "mitogen-bench: cannot write a file to read in %s\n", g_get_tmp_dir ());
      exit (1);
    }
  for (gsize done = 0; done < BULK_FILE_SIZE; done += sizeof block)
    {
      for (guint i = 0; i < G_N_ELEMENTS (block); i++)
        block[i] = g_random_int ();
      fwrite (block, sizeof block, 1, f);
    }
  if (fclose (f) != 0)
    exit (1);
  return path;
}

static void
remove_bulk_file (const char *path)
{
  g_autofree char *dir = g_path_get_dirname (path);

  unlink (path);
  rmdir (dir);
}

/* Resets @pid's VmHWM to its VmRSS (Linux ≥ 4.0), so that the peak read
 * later is this figure's own; a fresh process (--only) also makes sure. */
static void
reset_peak_rss (int pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/clear_refs", pid);

  g_file_set_contents (path, "5", 1, NULL);
}

static void
read_file_or_die (MitogenContext *ctx,
                  const char     *path)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) v = mitogen_context_call (ctx, "fs.read",
                                                g_variant_new ("(sxx)", path, (gint64) 0, (gint64) -1),
                                                NULL, &error);

  if (v == NULL || g_variant_get_size (v) != BULK_FILE_SIZE)
    {
      fprintf (stderr, "mitogen-bench: fs.read: %s\n", v == NULL ? error->message : "short read");
      exit (1);
    }
}

/* Bulk of real bytes: an 8 MiB file read again and again with fs.read,
 * one call at a time, and the peak RSS each side reaches above its idle
 * RSS while doing it. */
static void
bulk_real_figures (MitogenRouter *router,
                   gsize          total)
{
  g_autoptr(MitogenContext) ctx = connect_or_die (router, "local", NULL, NULL);
  g_autofree char *path = make_bulk_file ();
  int pid = context_pid (ctx), self = getpid ();
  long agent_idle, master_idle;
  double t;

  call_or_die (ctx, "core.ping", NULL);
  g_usleep (200000);
  agent_idle = status_kib (pid, "VmRSS");
  master_idle = status_kib (self, "VmRSS");
  reset_peak_rss (pid);
  reset_peak_rss (self);
  t = bench_now_us ();
  for (gsize done = 0; done < total; done += BULK_FILE_SIZE)
    read_file_or_die (ctx, path);
  emit ("bulk_real_mb_s", total / ((bench_now_us () - t) / 1e6) / 1e6);
  emit ("rss_idle_kib", agent_idle);
  emit ("agent_peak_above_idle_kib", status_kib (pid, "VmHWM") - agent_idle);
  emit ("master_peak_above_idle_kib", status_kib (self, "VmHWM") - master_idle);
  mitogen_context_shutdown (ctx, 30000, NULL, NULL);
  remove_bulk_file (path);
}

static void
connected (GObject      *source,
           GAsyncResult *result,
           gpointer      data)
{
  GPtrArray *contexts = data;
  g_autoptr(GError) error = NULL;
  MitogenContext *ctx = mitogen_router_connect_context_finish (MITOGEN_ROUTER (source), result, &error);

  if (ctx == NULL)
    {
      fprintf (stderr, "mitogen-bench: %s\n", error->message);
      exit (1);
    }
  g_ptr_array_add (contexts, ctx);
}

static double
contexts_s (MitogenRouter *router,
            int            n,
            gboolean       parallel)
{
  g_autoptr(GPtrArray) contexts = g_ptr_array_new_with_free_func (g_object_unref);
  double t = bench_now_us (), elapsed;

  for (int i = 0; i < n; i++)
    {
      if (parallel)
        mitogen_router_connect_context_async (router, "local", NULL, NULL, NULL, connected, contexts);
      else
        g_ptr_array_add (contexts, connect_or_die (router, "local", NULL, NULL));
    }
  while (contexts->len < (guint) n)
    g_main_context_iteration (NULL, TRUE);
  for (guint i = 0; i < contexts->len; i++)
    call_or_die (contexts->pdata[i], "core.ping", NULL);
  elapsed = (bench_now_us () - t) / 1e6;
  for (guint i = 0; i < contexts->len; i++)
    mitogen_context_shutdown (contexts->pdata[i], 0, NULL, NULL);
  mitogen_router_disconnect_all (router);
  return elapsed;
}

/* 10 contexts, each starting 9 more through via: 100 in all. */
static double
tree_s (MitogenRouter *router)
{
  g_autoptr(GPtrArray) contexts = g_ptr_array_new_with_free_func (g_object_unref);
  double t = bench_now_us (), elapsed;

  for (int i = 0; i < 10; i++)
    {
      MitogenContext *top = connect_or_die (router, "local", NULL, NULL);

      g_ptr_array_add (contexts, top);
      for (int j = 0; j < 9; j++)
        g_ptr_array_add (contexts, connect_or_die (router, "local", NULL, top));
    }
  for (guint i = 0; i < contexts->len; i++)
    call_or_die (contexts->pdata[i], "core.ping", NULL);
  elapsed = (bench_now_us () - t) / 1e6;
  mitogen_router_disconnect_all (router);
  return elapsed;
}

/* Ping at depth 1, 2 and 3: what each hop adds. */
static void
hop_figures (MitogenRouter *router,
             int            n)
{
  g_autoptr(MitogenContext) a = connect_or_die (router, "local", NULL, NULL);
  g_autoptr(MitogenContext) b = connect_or_die (router, "local", NULL, a);
  g_autoptr(MitogenContext) c = connect_or_die (router, "local", NULL, b);
  double p1 = ping_us (a, n), p2 = ping_us (b, n), p3 = ping_us (c, n);

  emit ("ping_depth1_us", p1);
  emit ("ping_depth2_us", p2);
  emit ("ping_depth3_us", p3);
  emit ("per_hop_us", (p3 - p1) / 2);
  mitogen_router_disconnect_all (router);
}

/* What the ssh ping is measured against, in the same run: the local
 * ping and a loopback TCP round trip. */
static void
local_ping_floor (MitogenRouter *router,
                  gboolean       q)
{
  g_autoptr(MitogenContext) ctx = connect_or_die (router, "local", NULL, NULL);

  emit ("ping_us", ping_us (ctx, q ? 300 : 2000));
  mitogen_context_shutdown (ctx, 30000, NULL, NULL);
  emit ("tcp_pingpong_us", floor_tcp_pingpong_us (q ? 2000 : 20000));
}

/* Over ssh: start with a cold cache (remote_cache_dir emptied by the
 * caller first) and a warm one, ping, and bulk. */
static void
ssh_figures (MitogenRouter *router,
             const char    *options_text,
             gboolean       q)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) options = g_variant_parse (G_VARIANT_TYPE_VARDICT, options_text, NULL, NULL, &error);
  g_autoptr(MitogenContext) ctx = NULL;
  double t;

  if (options == NULL)
    {
      fprintf (stderr, "mitogen-bench: --ssh: %s\n", error->message);
      exit (2);
    }
  t = bench_now_us ();
  ctx = connect_or_die (router, "ssh", options, NULL);
  call_or_die (ctx, "core.ping", NULL);
  emit ("ssh_start_cold_ms", (bench_now_us () - t) / 1000.0);
  mitogen_context_shutdown (ctx, 30000, NULL, NULL);
  g_clear_object (&ctx);
  emit ("ssh_start_warm_ms", start_ms (router, "ssh", g_variant_ref (options), q ? 3 : 10));
  ctx = connect_or_die (router, "ssh", options, NULL);
  emit ("ssh_ping_us", ping_us (ctx, q ? 300 : 2000));
  local_ping_floor (router, q);
  emit ("ssh_bulk_mb_s", zeros_mb_s (ctx, (gsize) (q ? 64 : 256) << 20));
  mitogen_context_shutdown (ctx, 30000, NULL, NULL);
}

/* The floors, first, while this process is small and nothing runs. */
static void
floor_figures (gboolean q)
{
  const char *agent = g_getenv ("MITOGEN_AGENT_PATH");

  if (want ("true_fork_exec_ms"))
    emit ("true_fork_exec_ms", floor_true_fork_exec_ms (q ? 20 : 100));
  if (want ("true_fork_exec50_s"))
    emit ("true_fork_exec50_s", floor_true_fork_exec_serial_s (q ? 10 : 50));
  if (want ("agent_first_frame_ms") && agent != NULL)
    emit ("agent_first_frame_ms", floor_agent_first_frame_ms (agent, q ? 10 : 50));
  if (want ("static_agent_first_frame_ms") && agent != NULL)
    {
      g_autofree char *path = g_strconcat (agent, "-static", NULL);

      if (g_file_test (path, G_FILE_TEST_IS_EXECUTABLE))
        emit ("static_agent_first_frame_ms", floor_agent_first_frame_ms (path, q ? 10 : 50));
    }
  if (want ("pipe_pingpong_us"))
    emit ("pipe_pingpong_us", floor_pipe_pingpong_us (q ? 2000 : 20000));
  if (want ("pipe_pingpong_cross_us"))
    emit ("pipe_pingpong_cross_us", floor_pipe_pingpong_cross_us (q ? 2000 : 20000));
  if (want ("pipe_switches_per_round"))
    emit ("pipe_switches_per_round", floor_pipe_switches_per_round (q ? 2000 : 20000));
  if (want ("socketpair_pingpong_us"))
    emit ("socketpair_pingpong_us", floor_socketpair_pingpong_us (q ? 2000 : 20000));
  if (want ("tcp_pingpong_us"))
    emit ("tcp_pingpong_us", floor_tcp_pingpong_us (q ? 2000 : 20000));
  if (want ("socketpair_fresh_mb_s"))
    emit ("socketpair_fresh_mb_s", floor_socketpair_fresh_mb_s (q ? 64 : 256));
  if (want ("socketpair_reused_mb_s"))
    emit ("socketpair_reused_mb_s", floor_socketpair_reused_mb_s (q ? 64 : 256));
  if (want ("socketpair_chunks_mb_s"))
    emit ("socketpair_chunks_mb_s", floor_socketpair_chunks_mb_s (q ? 64 : 256));
  if (want ("socketpair_echo_per_s"))
    emit ("socketpair_echo_per_s", floor_socketpair_echo_per_s (q ? 2000 : 10000, 64));
}

static const GOptionEntry entries[] = {
  { "quick", 0, 0, G_OPTION_ARG_NONE, &opt_quick, "Fewer iterations", NULL },
  { "only", 0, 0, G_OPTION_ARG_STRING, &opt_only, "Comma-separated figures to measure", "KEYS" },
  { "skip", 0, 0, G_OPTION_ARG_STRING, &opt_skip, "Comma-separated figures not to measure", "KEYS" },
  { "ssh", 0, 0, G_OPTION_ARG_STRING, &opt_ssh, "Measure the ssh transport instead, with these options", "A{SV}-TEXT" },
  { NULL }
};

int
main (int    argc,
      char **argv)
{
  g_autoptr(GOptionContext) options = g_option_context_new ("- libmitogen benchmarks");
  g_autoptr(GError) error = NULL;
  g_autoptr(MitogenRouter) router = NULL;
  g_autoptr(MitogenContext) ctx = NULL;
  gboolean q;

  g_option_context_add_main_entries (options, entries, NULL);
  if (!g_option_context_parse (options, &argc, &argv, &error))
    {
      fprintf (stderr, "mitogen-bench: %s\n", error->message);
      return 2;
    }
  q = opt_quick;
  json = g_string_new ("{");
  /* The floors come first, before the router's thread exists: each forks,
   * and a fork of a process with one thread is the floor's own case. */
  if (opt_ssh == NULL)
    floor_figures (q);
  router = mitogen_router_new (NULL);

  if (opt_ssh != NULL)
    {
      ssh_figures (router, opt_ssh, q);
      g_string_append (json, "}");
      printf ("%s\n", json->str);
      return 0;
    }

  if (want ("start_ms"))
    emit ("start_ms", start_ms (router, "local", NULL, q ? 5 : 20));
  if (want ("static_start_ms"))
    static_start (router, q);
  if (want ("sudo_start_ms") && getuid () == 0 &&
      g_spawn_command_line_sync ("sudo -n -u nobody true", NULL, NULL, NULL, NULL))
    {
      GVariantDict dict;

      g_variant_dict_init (&dict, NULL);
      g_variant_dict_insert (&dict, "username", "s", "nobody");
      emit ("sudo_start_ms", start_ms (router, "sudo", g_variant_dict_end (&dict), q ? 5 : 20));
      emit ("sudo_true_ms", command_ms ("sudo -n -u nobody true", q ? 5 : 20));
    }

  ctx = connect_or_die (router, "local", NULL, NULL);
  if (want ("ping_us"))
    emit ("ping_us", ping_us (ctx, q ? 500 : 5000));
  if (want ("switches_per_ping"))
    switch_figures (ctx, q ? 500 : 5000);
  if (want ("pipelined_calls_per_s"))
    emit ("pipelined_calls_per_s", pipelined_per_s (ctx, q ? 2000 : 10000));
  if (want ("pipelined_calls_per_s_100k") && !q)
    emit ("pipelined_calls_per_s_100k", pipelined_per_s (ctx, 100000));
  if (want ("zeros_mb_s"))
    emit ("zeros_mb_s", zeros_mb_s (ctx, (gsize) (q ? 64 : 256) << 20));
  mitogen_context_shutdown (ctx, 30000, NULL, NULL);

  if (want ("bulk_real_mb_s"))
    bulk_real_figures (router, (gsize) (q ? 64 : 256) << 20);
  if (want ("contexts50_s"))
    emit ("contexts50_s", contexts_s (router, q ? 10 : 50, FALSE));
  if (want ("contexts50_parallel_s"))
    emit ("contexts50_parallel_s", contexts_s (router, q ? 10 : 50, TRUE));
  if (want ("tree100_s") && !q)
    emit ("tree100_s", tree_s (router));
  if (want ("per_hop_us"))
    hop_figures (router, q ? 300 : 2000);

  g_string_append (json, q ? ", \"quick\": true}" : "}");
  printf ("%s\n", json->str);
  return 0;
}
