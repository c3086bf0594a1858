/* mitogen-cli-fanout.c: `mitogen run` and `mitogen call` on many hosts.
 *
 *   mitogen run [-w HOSTS] [-g GROUP] [TARGET...] -- COMMAND [ARG...]
 *   mitogen call [-w HOSTS] [-g GROUP] [TARGET...] -- FUNCTION [ARG...]
 *
 * Every host is driven from this one thread by the engine's asynchronous
 * calls (connect hop by hop, then one call, then shutdown), at most -f at
 * a time, so the tool's threads do not grow with the hosts. By default a
 * command runs with proc.start, its output read asynchronously (no thread
 * per host: MitogenProcess's async reads wait on the broker's events) and
 * printed a line at a time, each after "LABEL: ". For -b and --json it
 * runs with proc.run, its whole output in one reply.
 *
 * A tree (--fanout-via K, --gateway HOSTS), as Mitogen's via= and clush's
 * gateways: the master connects to K gateway hosts, and every other host's
 * first hop is started by a gateway's context (round-robin over them), so
 * the gateways do the SSH handshakes and first stages of the rest. Each
 * gateway runs the command too, and is kept until its hosts are done; -f
 * applies to each parent (the master, each gateway) on its own. A gateway
 * that cannot be reached hands its hosts, those not started yet, back to
 * the master, which connects them directly.
 *
 * While `mitogen serve` runs (and without --no-serve), each host's context
 * comes from it, as for a single host: serve.connect, asked without
 * blocking, gives a context it keeps (started now, or reused), and the
 * run leaves it running at the end. In a tree, a host's chain is its
 * gateway's then its own, so the server starts it through the kept
 * gateway. A host with a password goes without the server.
 *
 * The tool's status is the largest of the hosts' statuses, each as a
 * single-host run would give it: 0, the command's status, 128+N for
 * signal N, 124 for a timeout, 1 for a failed call, 255 for a host that
 * could not be reached or was lost; 128+N when signal N interrupted it.
 *
 * Here: the fan-out's options, choosing the hosts, and the run as a
 * whole (the parents and their queues, the gateways, the status). One
 * host's run is in mitogen-cli-fanout-host.c, the output in
 * mitogen-cli-fanout-output.c.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "mitogen-cli.h"
#include "mitogen-cli-fanout.h"
#include "mitogen-cli-hosts.h"
#include "mitogen-cli-target.h"

#define DEFAULT_PARALLEL 32

static char **opt_include;
static char **opt_exclude;
static char **opt_groups;
static char *opt_inventory;
static int opt_parallel = DEFAULT_PARALLEL;
static double opt_host_timeout;
static gboolean opt_gather;
static gboolean opt_json;
static int opt_via_count;
static char **opt_gateways;

const GOptionEntry cli_fanout_entries[] = {
  { "hosts", 'w', 0, G_OPTION_ARG_STRING_ARRAY, &opt_include,
    "Run on these hosts too (repeatable): web[01-20,30],db1 (ssh), @GROUP, full targets", "HOSTS" },
  { "exclude", 'x', 0, G_OPTION_ARG_STRING_ARRAY, &opt_exclude,
    "Leave out these hosts or @GROUPs (repeatable)", "HOSTS" },
  { "group", 'g', 0, G_OPTION_ARG_STRING_ARRAY, &opt_groups,
    "Run on the hosts of an inventory group (repeatable; \"all\" for all)", "GROUP" },
  { "inventory", 'i', 0, G_OPTION_ARG_FILENAME, &opt_inventory,
    "An Ansible INI inventory for -g and @GROUP", "FILE" },
  { "fanout", 'f', 0, G_OPTION_ARG_INT, &opt_parallel,
    "Hosts worked on at once (default 32)", "N" },
  { "host-timeout", 0, 0, G_OPTION_ARG_DOUBLE, &opt_host_timeout,
    "Seconds each host may take, connecting included; then it fails as timed out", "SECONDS" },
  { "gather", 'b', 0, G_OPTION_ARG_NONE, &opt_gather,
    "Print each distinct output once, under the hosts that gave it", NULL },
  { "json", 0, 0, G_OPTION_ARG_NONE, &opt_json,
    "Print one JSON object per host, a line each, as hosts finish", NULL },
  { "fanout-via", 0, 0, G_OPTION_ARG_INT, &opt_via_count,
    "Tree: connect to the first K hosts, then start the others through them", "K" },
  { "gateway", 0, 0, G_OPTION_ARG_STRING_ARRAY, &opt_gateways,
    "Tree: these hosts (added to the run) start the others (repeatable)", "HOSTS" },
  G_OPTION_ENTRY_NULL
};

/* ---- choosing the hosts ------------------------------------------------ */

static const GOptionEntry *
find_entry (const GOptionEntry *const *tables,
            const char               *long_name,
            gsize                     long_len,
            char                      short_name)
{
  for (guint t = 0; tables[t] != NULL; t++)
    for (const GOptionEntry *e = tables[t]; e->long_name != NULL; e++)
      if (long_name != NULL ? strlen (e->long_name) == long_len &&
                              strncmp (e->long_name, long_name, long_len) == 0
                            : e->short_name == short_name)
        return e;
  return NULL;
}

static gboolean
takes_value (const GOptionEntry *entry)
{
  return entry != NULL && entry->arg != G_OPTION_ARG_NONE;
}

/* GOption drops the '--' separator (and parse_options() the one it
 * keeps), so where it was is read from the raw arguments: the number of
 * positional arguments before the first '--' that is not an option's
 * value, or -1 without one. */
int
cli_count_before_separator (int                        argc,
                            char                     **argv,
                            const GOptionEntry *const *tables)
{
  int count = 0;

  for (int i = 1; i < argc; i++)
    {
      const char *arg = argv[i];

      if (g_str_equal (arg, "--"))
        return count;
      if (g_str_has_prefix (arg, "--"))
        {
          if (strchr (arg, '=') == NULL &&
              takes_value (find_entry (tables, arg + 2, strlen (arg + 2), 0)))
            i++;
        }
      else if (arg[0] == '-' && arg[1] != '\0')
        {
          for (const char *c = arg + 1; *c != '\0'; c++)
            if (takes_value (find_entry (tables, NULL, 0, *c)))
              {
                if (c[1] == '\0')
                  i++;
                break;
              }
        }
      else
        count++;
    }
  return -1;
}

/* Whether an option asked for a fan-out. */
gboolean
cli_fanout_requested (void)
{
  return opt_include != NULL || opt_exclude != NULL || opt_groups != NULL ||
         opt_inventory != NULL || opt_parallel != DEFAULT_PARALLEL ||
         opt_host_timeout != 0 || opt_gather || opt_json ||
         opt_via_count != 0 || opt_gateways != NULL;
}

/* Whether the hosts are named by -w or -g rather than TARGET arguments. */
gboolean
cli_fanout_has_host_options (void)
{
  return opt_include != NULL || opt_groups != NULL || opt_gateways != NULL;
}

/* Whether @target names more than one host ("ssh:web[1-3]", "a,b"). */
gboolean
cli_target_is_many (const char *target)
{
  g_autoptr(GPtrArray) names = cli_hostlist_expand (target, TRUE, NULL);

  return names != NULL && names->len > 1;
}

/* Whether @arg reads as "module.name" rather than a target: targets
 * start with a transport, which has no '.', and a function has no ':',
 * ',' or '/'. */
gboolean
cli_looks_like_function (const char *arg)
{
  const char *dot = strchr (arg, '.');

  return dot != NULL && dot > arg && dot[1] != '\0' && strpbrk (arg, ":,/[") == NULL;
}

gboolean
cli_wants_fanout (int    argc,
                  char **argv,
                  int    n_targets)
{
  return cli_fanout_requested () || n_targets > 1 ||
         (argc > 1 && n_targets != 0 && cli_target_is_many (argv[1]));
}

/* ---- the run as a whole ------------------------------------------------- */

/* A held gateway whose hosts are all done is stopped. */
static void
gateway_maybe_release (Fanout       *fo,
                       FanoutParent *parent)
{
  HostRun *gateway = parent->gateway;

  if (gateway == NULL || !gateway->held || parent->running > 0 ||
      (!g_queue_is_empty (&parent->queue) && !fo->stopping))
    return;
  gateway->held = FALSE;
  fo->held--;
  if (gateway->kept)
    {
      /* The server keeps it: let it go here only. */
      g_clear_object (&gateway->first);
      g_clear_object (&gateway->last);
      return;
    }
  fo->releasing++;
  fanout_stop_contexts (gateway, TRUE);
}

void
fanout_gateway_released (HostRun *gateway)
{
  Fanout *fo = gateway->fanout;

  g_clear_object (&gateway->first);
  g_clear_object (&gateway->last);
  fo->releasing--;
  fanout_start_more (fo);
}

/* A gateway that could not be reached, or was lost: the master connects
 * its hosts not started yet itself. */
static void
gateway_abandon (Fanout       *fo,
                 FanoutParent *parent)
{
  FanoutParent *master = &fo->parents[0];
  guint n = g_queue_get_length (&parent->queue);
  HostRun *hr;

  parent->ready = FALSE;
  parent->gone = TRUE;
  if (n > 0 && !fo->stopping && interrupted_status () < 0)
    fprintf (stderr, "mitogen: %s: not a gateway (%s); its %u hosts connect directly\n",
             parent->gateway->label, parent->gateway->error, n);
  while ((hr = g_queue_pop_head (&parent->queue)) != NULL)
    {
      hr->parent = master;
      g_queue_push_tail (&master->queue, hr);
    }
}

void
fanout_start_more (Fanout *fo)
{
  if (fo->attaching)
    return;
  for (guint i = 0; i < fo->n_parents; i++)
    {
      FanoutParent *parent = &fo->parents[i];

      while (!fo->stopping && parent->ready && parent->running < (guint) opt_parallel &&
             !g_queue_is_empty (&parent->queue))
        fanout_host_start (g_queue_pop_head (&parent->queue));
      if (parent->call_waits && (g_queue_is_empty (&parent->queue) || fo->stopping))
        {
          parent->call_waits = FALSE;
          fanout_host_call (parent->gateway);
        }
      gateway_maybe_release (fo, parent);
    }
  if (fo->running == 0 && fo->held == 0 && fo->releasing == 0 &&
      (fo->stopping || fo->queued == 0))
    g_main_loop_quit (fo->loop);
}

void
fanout_host_finish (HostRun *hr)
{
  Fanout *fo = hr->fanout;

  hr->seconds = (g_get_monotonic_time () - hr->started) / (double) G_USEC_PER_SEC;
  if (hr->timer != NULL)
    g_source_destroy (hr->timer);
  g_clear_pointer (&hr->timer, g_source_unref);
  /* The contexts are gone: let them go here too, so that memory does not
   * grow with the hosts already done. A held gateway keeps its own. */
  if (!hr->held)
    {
      g_clear_object (&hr->first);
      g_clear_object (&hr->last);
      if (hr->serves != NULL)
        gateway_abandon (fo, hr->serves);
    }
  fo->running--;
  hr->parent->running--;
  fo->done++;
  if (hr->status != 0)
    fo->failed++;
  fanout_clear_progress (fo);
  if (interrupted_status () < 0)
    fanout_print_host (hr);
  fanout_show_progress (fo);
  fanout_start_more (fo);
}

/* A signal: every host's connect or call is cancelled (the agent kills a
 * cancelled call's process group), their contexts stopped, and nothing
 * more started. */
static gboolean
on_interrupted (GCancellable *cancellable,
                gpointer      data)
{
  Fanout *fo = data;

  fo->stopping = TRUE;
  for (guint i = 0; i < fo->n_hosts; i++)
    if (fo->hosts[i].cancel != NULL)
      g_cancellable_cancel (fo->hosts[i].cancel);
  fanout_start_more (fo);
  return G_SOURCE_REMOVE;
}

static int
overall_status (Fanout *fo)
{
  int status = 0;

  if (interrupted_status () >= 0)
    return interrupted_status ();
  for (guint i = 0; i < fo->n_hosts; i++)
    status = MAX (status, fo->hosts[i].status);
  return status;
}

static void
fanout_attached (GObject      *source,
                 GAsyncResult *result,
                 gpointer      data)
{
  Fanout *fo = data;

  fo->server = cli_serve_attach_finish (MITOGEN_ROUTER (source), result);
  fo->attaching = FALSE;
  fanout_start_more (fo);
}

/* Whether a host may take its context from `mitogen serve`: then the run
 * first asks whether one runs. */
static gboolean
any_host_may_be_served (Fanout *fo)
{
  for (guint i = 0; i < fo->n_hosts; i++)
    if (cli_serve_may_carry (fo->hosts[i].hops))
      return TRUE;
  return FALSE;
}

static int
fanout_job (MitogenRouter *router,
            gpointer       data)
{
  Fanout *fo = data;
  g_autoptr(GMainContext) context = g_main_context_new ();
  g_autoptr(GSource) signals = g_cancellable_source_new (interrupted);

  g_main_context_push_thread_default (context);
  fo->router = router;
  fo->loop = g_main_loop_new (context, FALSE);
  g_source_set_callback (signals, (GSourceFunc) (void (*) (void)) on_interrupted, fo, NULL);
  g_source_attach (signals, context);
  if (any_host_may_be_served (fo))
    {
      fo->attaching = TRUE;
      cli_serve_attach_async (router, interrupted, fanout_attached, fo);
    }
  fanout_start_more (fo);
  if (fo->running > 0 || fo->attaching)
    g_main_loop_run (fo->loop);
  g_source_destroy (signals);
  fanout_clear_progress (fo);
  if (opt_gather && interrupted_status () < 0)
    {
      fanout_print_gathered (fo, stdout, FALSE);
      fanout_print_gathered (fo, stderr, TRUE);
    }
  if (interrupted_status () < 0)
    fanout_print_summary (fo);
  /* Let the callbacks still queued (shutdowns cut short) run out. */
  while (g_main_context_iteration (context, FALSE))
    ;
  g_main_loop_unref (fo->loop);
  g_clear_object (&fo->server);
  g_main_context_pop_thread_default (context);
  return overall_status (fo);
}

/* With --gateway, the hosts it names (added to -w's) come first, in its
 * order; returns how many (as --fanout-via's K). */
static guint
put_gateways_first (GArray                 *hosts,
                    const CliHostSelection *selection)
{
  CliHostSelection named = { .include = (const char *const *) opt_gateways,
                             .inventory = selection->inventory };
  g_autoptr(GError) error = NULL;
  g_autoptr(GArray) gateways = cli_hosts_resolve (&named, &error);
  guint n = 0;

  if (gateways == NULL)
    fail ("--gateway: %s", error->message);
  for (guint g = 0; g < gateways->len; g++)
    {
      const char *target = g_array_index (gateways, CliHost, g).target;
      guint i = n;

      while (i < hosts->len && !g_str_equal (g_array_index (hosts, CliHost, i).target, target))
        i++;
      if (i == hosts->len)
        fail ("--gateway %s: -x leaves it out", g_array_index (gateways, CliHost, g).label);
      if (i != n)
        {
          /* Moved by hand: removing would clear it. */
          CliHost *all = (CliHost *) (gpointer) hosts->data;
          CliHost host = all[i];

          memmove (&all[n + 1], &all[n], (i - n) * sizeof *all);
          all[n] = host;
        }
      n++;
    }
  return n;
}

/* The first @n_gateways hosts are gateways, started by the master; the
 * others are spread round-robin over them. */
static void
plan_tree (Fanout *fo,
           guint   n_gateways)
{
  fo->n_parents = 1 + n_gateways;
  fo->parents = g_new0 (FanoutParent, fo->n_parents);
  fo->parents[0].ready = TRUE;
  for (guint i = 0; i < fo->n_hosts; i++)
    {
      HostRun *hr = &fo->hosts[i];

      if (i < n_gateways)
        {
          hr->serves = &fo->parents[1 + i];
          hr->serves->gateway = hr;
          hr->parent = &fo->parents[0];
        }
      else
        hr->parent = &fo->parents[n_gateways == 0 ? 0 : 1 + (i - n_gateways) % n_gateways];
      g_queue_push_tail (&hr->parent->queue, hr);
    }
  fo->queued = fo->n_hosts;
}

/* Runs a command (@is_run) or calls a function on every host that the
 * targets and the options name. @argv holds the positional arguments:
 * @n_targets targets (-1: none after -w or -g, else the first), then the
 * command, or the function and its arguments. */
int
cli_fanout_main (gboolean  is_run,
                 int       argc,
                 char    **argv,
                 int       n_targets)
{
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) targets = NULL;
  g_autoptr(GArray) hosts = NULL;
  g_autoptr(GPtrArray) args = g_ptr_array_new_with_free_func ((GDestroyNotify) g_variant_unref);
  CliHostSelection selection = { NULL, };
  Fanout fo = { .is_run = is_run, .deadline = cli_call_deadline (is_run) };
  g_autoptr(GPtrArray) include = g_ptr_array_new ();
  guint n_gateways = opt_via_count;
  int status;

  if (n_targets < 0)
    n_targets = cli_fanout_has_host_options () ? 0 : 1;
  if (n_targets > argc)
    n_targets = argc;
  if (opt_parallel < 1)
    fail ("-f takes a number of hosts above 0");
  if (opt_host_timeout < 0)
    fail ("--host-timeout takes a number of seconds above 0");
  if (opt_gather && opt_json)
    fail ("-b and --json do not go together");
  if (opt_via_count < 0)
    fail ("--fanout-via takes a number of gateways, 0 or more");
  if (opt_via_count > 0 && opt_gateways != NULL)
    fail ("--fanout-via and --gateway do not go together (--gateway names the gateways)");
  if (argc - n_targets < 1)
    fail (is_run ? "run needs a COMMAND after the hosts (see mitogen run --help)"
                 : "call needs a FUNCTION after the hosts (see mitogen call --help)");
  targets = g_new0 (char *, n_targets + 1);
  for (int i = 0; i < n_targets; i++)
    targets[i] = g_strdup (argv[i]);
  selection.targets = (const char *const *) targets;
  for (char **h = opt_include; h != NULL && *h != NULL; h++)
    g_ptr_array_add (include, *h);
  for (char **h = opt_gateways; h != NULL && *h != NULL; h++)
    g_ptr_array_add (include, *h);
  g_ptr_array_add (include, NULL);
  selection.include = include->len > 1 ? (const char *const *) include->pdata : NULL;
  selection.exclude = (const char *const *) opt_exclude;
  selection.groups = (const char *const *) opt_groups;
  selection.inventory = opt_inventory;
  hosts = cli_hosts_resolve (&selection, &error);
  if (hosts == NULL)
    fail ("%s", error->message);
  if (opt_gateways != NULL)
    n_gateways = put_gateways_first (hosts, &selection);

  if (is_run)
    {
      GVariantDict options;

      g_variant_dict_init (&options, NULL);
      if (cli_command_timeout () > 0)
        g_variant_dict_insert (&options, "timeout", "d", cli_command_timeout ());
      fo.function = g_strdup ("proc.run");
      fo.streamed = !opt_gather && !opt_json;
      fo.argv = argv + n_targets;
      fo.args = g_variant_ref_sink (g_variant_new ("(^as@a{sv})", argv + n_targets,
                                                   g_variant_dict_end (&options)));
    }
  else
    {
      fo.function = g_strdup (argv[n_targets]);
      for (int i = n_targets + 1; i < argc; i++)
        g_ptr_array_add (args, cli_parse_value (argv[i]));
      if (args->len > 0)
        fo.args = g_variant_ref_sink (g_variant_new_tuple ((GVariant **) args->pdata, args->len));
    }

  fo.n_hosts = hosts->len;
  fo.hosts = g_new0 (HostRun, fo.n_hosts);
  fo.progress = isatty (2) && !opt_json;
  fo.gather = opt_gather;
  fo.json = opt_json;
  fo.host_timeout = opt_host_timeout;
  for (guint i = 0; i < hosts->len; i++)
    {
      CliHost *host = &g_array_index (hosts, CliHost, i);
      HostRun *hr = &fo.hosts[i];

      hr->fanout = &fo;
      hr->label = g_strdup (host->label);
      hr->target = g_strdup (host->target);
      hr->hops = parse_target_or_fail (host->target);
      hr->exit_code = -1;
    }
  plan_tree (&fo, MIN (n_gateways, fo.n_hosts));

  g_atomic_int_set (&forwarding_signals, TRUE);
  status = mitogen_run_with_router (fanout_job, &fo);
  wait_for_children ();

  for (guint i = 0; i < fo.n_hosts; i++)
    fanout_host_clear (&fo.hosts[i]);
  g_free (fo.hosts);
  for (guint i = 0; i < fo.n_parents; i++)
    g_queue_clear (&fo.parents[i].queue);
  g_free (fo.parents);
  g_free (fo.function);
  g_clear_pointer (&fo.args, g_variant_unref);
  return status;
}
