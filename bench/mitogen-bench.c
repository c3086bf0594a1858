/* mitogen-bench.c: libmitogen's figures on this machine, as one JSON object.
 *
 * Not a test: run it through bench/run-local.sh, which runs Python Mitogen's
 * figures in the same run and prints the ratios.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <mitogen/mitogen.h>

static gboolean opt_quick;
static char *opt_only;
static char *opt_ssh;
static GString *json;

static gboolean
want (const char *key)
{
  g_auto(GStrv) keys = NULL;

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

static int
compare_doubles (gconstpointer a,
                 gconstpointer b)
{
  double x = *(const double *) a, y = *(const double *) b;

  return x < y ? -1 : x > y;
}

static double
median (GArray *samples)
{
  g_array_sort (samples, compare_doubles);
  return g_array_index (samples, double, samples->len / 2);
}

static double
now_us (void)
{
  return g_get_monotonic_time ();
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

/* Round trip of 8 bytes between two processes over pipes: the floor. */
static double
pipe_pingpong_us (int rounds)
{
  int a[2], b[2];
  char buf[8] = { 0 };
  g_autoptr(GArray) samples = g_array_new (FALSE, FALSE, sizeof (double));
  pid_t pid;

  if (pipe (a) < 0 || pipe (b) < 0)
    return -1;
  pid = fork ();
  if (pid == 0)
    {
      for (int i = 0; i < rounds; i++)
        if (read (a[0], buf, 8) != 8 || write (b[1], buf, 8) != 8)
          _exit (1);
      _exit (0);
    }
  for (int i = 0; i < rounds; i++)
    {
      double t = now_us ();

      if (write (a[1], buf, 8) != 8 || read (b[0], buf, 8) != 8)
        break;
      g_array_append_val (samples, (double) { now_us () - t });
    }
  waitpid (pid, NULL, 0);
  close (a[0]), close (a[1]), close (b[0]), close (b[1]);
  return median (samples);
}

/* MB/s of @mib MiB through a socketpair from another process into fresh
 * 256 KiB buffers, each filled by the read and freed: the floor for bulk
 * that arrives in new memory, as a transfer's chunks do. */
static double
socketpair_fresh_mb_s (guint mib)
{
  const gsize chunk = 256 * 1024;
  gsize total = (gsize) mib * 1024 * 1024, got = 0;
  int sv[2];
  double start;
  pid_t pid;

  if (socketpair (AF_UNIX, SOCK_STREAM, 0, sv) < 0)
    return -1;
  pid = fork ();
  if (pid == 0)
    {
      g_autofree char *out = g_malloc (chunk);

      memset (out, 'x', chunk);
      close (sv[0]);
      for (gsize sent = 0; sent < total; )
        {
          ssize_t n = write (sv[1], out, MIN (chunk, total - sent));

          if (n <= 0)
            _exit (1);
          sent += n;
        }
      _exit (0);
    }
  close (sv[1]);
  start = now_us ();
  while (got < total)
    {
      char *in = g_malloc (chunk);
      gsize have = 0;
      ssize_t n = 1;

      while (have < chunk && got + have < total && (n = read (sv[0], in + have, chunk - have)) > 0)
        have += n;
      got += have;
      g_free (in);
      if (n <= 0)
        break;
    }
  start = now_us () - start;
  waitpid (pid, NULL, 0);
  close (sv[0]);
  return got == total ? total / start : -1;
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
      double t = now_us ();
      g_autoptr(MitogenContext) ctx = connect_or_die (router, transport, options, NULL);

      call_or_die (ctx, "core.ping", NULL);
      g_array_append_val (samples, (double) { (now_us () - t) / 1000.0 });
      mitogen_context_shutdown (ctx, 30000, NULL, NULL);
    }
  g_clear_pointer (&options, g_variant_unref);
  return median (samples);
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
      double t = now_us ();

      g_spawn_command_line_sync (command, NULL, NULL, NULL, NULL);
      g_array_append_val (samples, (double) { (now_us () - t) / 1000.0 });
    }
  return median (samples);
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
      double t = now_us ();

      call_or_die (ctx, "core.ping", NULL);
      g_array_append_val (samples, (double) { now_us () - t });
    }
  return median (samples);
}

static double
pipelined_per_s (MitogenContext *ctx,
                 int             n)
{
  MitogenReceiver **receivers = g_new (MitogenReceiver *, n);
  double t = now_us ();

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
  return n / ((now_us () - t) / 1e6);
}

static GVariant *
zeros_args (void)
{
  return g_variant_new ("(t)", (guint64) 8 << 20);
}

static double
bulk_mb_s (MitogenContext *ctx,
           gsize           total,
           gboolean        pipelined)
{
  int n = total / (8 << 20);
  MitogenReceiver **receivers = g_new (MitogenReceiver *, n);
  double t = now_us ();

  for (int i = 0; i < n; i++)
    {
      if (!pipelined)
        call_or_die (ctx, "core.zeros", zeros_args ());
      else
        receivers[i] = mitogen_context_begin_call (ctx, "core.zeros", zeros_args ());
    }
  for (int i = 0; pipelined && i < n; i++)
    {
      g_autoptr(MitogenMessage) msg = mitogen_receiver_get (receivers[i], -1, NULL, NULL);
      g_object_unref (receivers[i]);
    }
  g_free (receivers);
  return total / ((now_us () - t) / 1e6) / 1e6;
}

static void
rss_figures (MitogenRouter *router)
{
  g_autoptr(MitogenContext) ctx = connect_or_die (router, "local", NULL, NULL);
  int pid = context_pid (ctx);

  call_or_die (ctx, "core.ping", NULL);
  g_usleep (200000);
  emit ("rss_idle_kib", status_kib (pid, "VmRSS"));
  bulk_mb_s (ctx, 256 << 20, TRUE);
  emit ("peak_rss_kib_32x8mib", status_kib (pid, "VmHWM"));
  mitogen_context_shutdown (ctx, 30000, NULL, NULL);
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
  double t = now_us (), elapsed;

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
  elapsed = (now_us () - t) / 1e6;
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
  double t = now_us (), elapsed;

  for (int i = 0; i < 10; i++)
    {
      MitogenContext *top = connect_or_die (router, "local", NULL, NULL);

      g_ptr_array_add (contexts, top);
      for (int j = 0; j < 9; j++)
        g_ptr_array_add (contexts, connect_or_die (router, "local", NULL, top));
    }
  for (guint i = 0; i < contexts->len; i++)
    call_or_die (contexts->pdata[i], "core.ping", NULL);
  elapsed = (now_us () - t) / 1e6;
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
  t = now_us ();
  ctx = connect_or_die (router, "ssh", options, NULL);
  call_or_die (ctx, "core.ping", NULL);
  emit ("ssh_start_cold_ms", (now_us () - t) / 1000.0);
  mitogen_context_shutdown (ctx, 30000, NULL, NULL);
  g_clear_object (&ctx);
  emit ("ssh_start_warm_ms", start_ms (router, "ssh", g_variant_ref (options), q ? 3 : 10));
  ctx = connect_or_die (router, "ssh", options, NULL);
  emit ("ssh_ping_us", ping_us (ctx, q ? 300 : 2000));
  emit ("ssh_bulk_mb_s", bulk_mb_s (ctx, (q ? 64 : 256) << 20, FALSE));
  mitogen_context_shutdown (ctx, 30000, NULL, NULL);
}

static const GOptionEntry entries[] = {
  { "quick", 0, 0, G_OPTION_ARG_NONE, &opt_quick, "Fewer iterations", NULL },
  { "only", 0, 0, G_OPTION_ARG_STRING, &opt_only, "Comma-separated figures to measure", "KEYS" },
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
  router = mitogen_router_new (NULL);

  if (opt_ssh != NULL)
    {
      ssh_figures (router, opt_ssh, q);
      g_string_append (json, "}");
      printf ("%s\n", json->str);
      return 0;
    }

  if (want ("socketpair_fresh_mb_s"))
    emit ("socketpair_fresh_mb_s", socketpair_fresh_mb_s (q ? 64 : 256));
  if (want ("pipe_pingpong_us"))
    emit ("pipe_pingpong_us", pipe_pingpong_us (q ? 2000 : 20000));
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
  if (want ("pipelined_calls_per_s"))
    emit ("pipelined_calls_per_s", pipelined_per_s (ctx, q ? 2000 : 10000));
  if (want ("pipelined_calls_per_s_100k") && !q)
    emit ("pipelined_calls_per_s_100k", pipelined_per_s (ctx, 100000));
  if (want ("bulk_mb_s"))
    emit ("bulk_mb_s", bulk_mb_s (ctx, (q ? 64 : 256) << 20, FALSE));
  if (want ("bulk_pipelined_mb_s"))
    emit ("bulk_pipelined_mb_s", bulk_mb_s (ctx, (q ? 64 : 256) << 20, TRUE));
  mitogen_context_shutdown (ctx, 30000, NULL, NULL);

  if (want ("rss_idle_kib") || want ("peak_rss_kib_32x8mib"))
    rss_figures (router);
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
