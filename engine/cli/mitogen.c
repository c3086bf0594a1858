/* mitogen.c: the `mitogen` command-line tool: which command to run, the
 * list commands, and what the process does around every command (finding
 * the agent and plugins of a build tree, catching the signals that
 * interrupt a job, waiting for the agents before it exits).
 *
 *   mitogen run TARGET -- CMD [ARG...]    run a command in a fresh context
 *   mitogen call TARGET FUNCTION [ARG...] call a function, print the result
 *   mitogen cp | serve                    mitogen-cli-cp.c, mitogen-cli-serve.c
 *   mitogen list-transports | list-serializers
 *   mitogen list-options TRANSPORT        the -o options TRANSPORT accepts
 *
 * run and call are in mitogen-cli-run.c (one host) and
 * mitogen-cli-fanout.c (many), the options they share in
 * mitogen-cli-common.c.
 *
 * A TARGET is TRANSPORT[:ARG][,KEY=VALUE...], hops chained with '/':
 * "local", "sudo:postgres", "ssh:user@host:port,compression=yes",
 * "ssh:web1/sudo:postgres". -o KEY=VALUE gives an option to every hop that
 * declares KEY. Passwords come from a terminal, an askpass program or a
 * file (--ask-pass, --ask-become-pass, ...), each to its own hop; see
 * mitogen-cli-target.c and mitogen-cli-password.c.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

#include <glib-unix.h>
#include <mitogen/mitogen.h>

#include "mitogen-cli-password.h"
#include "mitogen-cli.h"

/* Whether this program is the one built in the build tree it was
 * configured in. Only then are the agent and plugins beside it ours: an
 * installed copy (in /usr/local/bin, say) must not take whatever lies in
 * a plugins directory near it for its own, and hand it on to agents that
 * may run as root. */
static gboolean
running_from_build_tree (const char *dir)
{
  g_autofree char *built_dir = g_build_filename (MITOGEN_BUILD_ROOT, "engine", "cli", NULL);
  g_autofree char *canonical_built = g_canonicalize_filename (built_dir, NULL);
  g_autofree char *real_built = realpath (canonical_built, NULL);

  return real_built != NULL && g_str_equal (real_built, dir);
}

/* A build tree runs without installing: find the agent and plugins next to
 * this program (build/engine/cli/mitogen → build/engine/agent, build/plugins). */
static void
locate_build_tree (void)
{
  g_autofree char *exe = g_file_read_link ("/proc/self/exe", NULL);
  g_autofree char *dir = exe ? g_path_get_dirname (exe) : NULL;
  g_autofree char *agent = NULL;
  g_autofree char *plugins = NULL;

  if (dir == NULL || !running_from_build_tree (dir))
    return;
  agent = g_canonicalize_filename ("../agent/mitogen-agent", dir);
  plugins = g_canonicalize_filename ("../../plugins", dir);
  if (g_getenv ("MITOGEN_AGENT_PATH") == NULL && g_file_test (agent, G_FILE_TEST_IS_EXECUTABLE))
    g_setenv ("MITOGEN_AGENT_PATH", agent, TRUE);
  if (g_getenv ("MITOGEN_PLUGIN_PATH") == NULL && g_file_test (plugins, G_FILE_TEST_IS_DIR))
    {
      g_autoptr(GDir) d = g_dir_open (plugins, 0, NULL);
      g_autoptr(GPtrArray) dirs = g_ptr_array_new_with_free_func (g_free);
      const char *name;

      while (d != NULL && (name = g_dir_read_name (d)) != NULL)
        {
          g_autofree char *sub = g_build_filename (plugins, name, NULL);
          if (g_file_test (sub, G_FILE_TEST_IS_DIR))
            g_ptr_array_add (dirs, g_steal_pointer (&sub));
        }
      g_ptr_array_add (dirs, NULL);
      if (dirs->len > 1)
        {
          g_autofree char *path = g_strjoinv (":", (char **) dirs->pdata);
          g_setenv ("MITOGEN_PLUGIN_PATH", path, TRUE);
        }
    }
}

/* SIGINT, SIGTERM and SIGHUP cancel what the tool is doing: the context
 * being started, or the call (whose command then dies, process group and
 * all, as the agent kills it). The tool then exits with 128+N. A second
 * signal, or one before any context is asked for, exits at once. */
GCancellable *interrupted;          /* cancelled by the signal thread */
static gint interrupt_signal;       /* atomic: the first signal, or 0 */
gint forwarding_signals;            /* atomic: TRUE once a job runs */

/* Carries signal numbers from on_signal() to wait_for_signals(). */
static int signal_pipe[2];

static void
on_signal (int sig)
{
  int saved_errno = errno;
  unsigned char byte = sig;

  if (write (signal_pipe[1], &byte, 1) < 0)
    _exit (128 + sig);
  errno = saved_errno;
}

static gpointer
wait_for_signals (gpointer data)
{
  for (;;)
    {
      unsigned char sig;
      ssize_t n = read (signal_pipe[0], &sig, 1);

      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return NULL;
      if (g_atomic_int_get (&forwarding_signals) &&
          g_atomic_int_compare_and_exchange (&interrupt_signal, 0, sig))
        g_cancellable_cancel (interrupted);
      else
        {
          /* Interrupted at a password prompt: give the echo back. */
          cli_password_restore_terminal ();
          _exit (128 + sig);
        }
    }
}

/* A handler, not a blocked mask and sigwait(): the mask would pass on to
 * the agents and the commands they run, and exec resets a handler. A
 * signal that was ignored when the tool started (nohup, a shell's
 * background job) stays ignored. */
static void
catch_signals (void)
{
  const int signals[] = { SIGINT, SIGTERM, SIGHUP };
  g_autoptr(GError) error = NULL;

  if (!g_unix_open_pipe (signal_pipe, FD_CLOEXEC, &error))
    fail ("%s", error->message);
  interrupted = g_cancellable_new ();
  g_thread_unref (g_thread_new ("mitogen-signals", wait_for_signals, NULL));
  for (guint i = 0; i < G_N_ELEMENTS (signals); i++)
    {
      struct sigaction old, action = { .sa_handler = on_signal, .sa_flags = SA_RESTART };

      sigemptyset (&action.sa_mask);
      if (sigaction (signals[i], NULL, &old) == 0 && old.sa_handler != SIG_IGN)
        sigaction (signals[i], &action, NULL);
    }
}

/* 128+N after signal N interrupted the job, else -1. */
int
interrupted_status (void)
{
  int sig = g_atomic_int_get (&interrupt_signal);

  return sig != 0 ? 128 + sig : -1;
}

static gboolean
have_children (void)
{
  siginfo_t info = { 0, };

  /* WNOWAIT: look, but leave any exit status to whoever waits for it. */
  return !(waitid (P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT) < 0 && errno == ECHILD);
}

/* Whether the process started with children: a shell's `exec mitogen` hands
 * over its background jobs, which are none of our business. */
static gboolean inherited_children;

/* GLib's worker thread reaps the agents some time after they exit. Wait for
 * it (without reaping anything ourselves, which would take the exit status
 * from GLib's child watch), so that when the tool exits its agents have
 * exited and been collected, not left for init. */
void
wait_for_children (void)
{
  gint64 deadline = g_get_monotonic_time () + 5 * G_TIME_SPAN_SECOND;

  if (inherited_children || contexts_stuck)
    return;
  while (have_children () && g_get_monotonic_time () < deadline)
    g_usleep (1000);
}

static int
compare_names (const void *a,
               const void *b)
{
  return strcmp (*(char * const *) a, *(char * const *) b);
}

static int
cmd_list (int          argc,
          char       **argv,
          const char  *summary,
          char      **(*list) (void))
{
  g_autoptr(GOptionContext) options = g_option_context_new (NULL);
  g_autoptr(GError) error = NULL;
  g_autofree char *prgname = g_strconcat ("mitogen ", argv[0], NULL);
  g_auto(GStrv) names = NULL;

  g_set_prgname (prgname);
  g_option_context_set_summary (options, summary);
  if (!g_option_context_parse (options, &argc, &argv, &error))
    fail ("%s (see --help)", error->message);
  if (argc > 1)
    fail ("%s takes no arguments", argv[0]);
  names = list ();

  /* The registry's order is a hash table's: sort for stable output. */
  qsort (names, g_strv_length (names), sizeof (char *), compare_names);
  for (guint i = 0; names[i] != NULL; i++)
    printf ("%s\n", names[i]);
  return 0;
}

static int
cmd_list_options (int    argc,
                  char **argv)
{
  g_autoptr(GOptionContext) options = g_option_context_new ("TRANSPORT");
  g_autoptr(GError) error = NULL;
  g_autoptr(MitogenTransport) transport = NULL;
  g_autoptr(GVariant) table = NULL;
  GVariantIter iter;
  const char *name, *type, *description;

  g_set_prgname ("mitogen list-options");
  g_option_context_set_summary (options, "List the options a transport accepts: "
                                "name, GVariant type ('|' between alternatives), what it does.");
  if (!g_option_context_parse (options, &argc, &argv, &error))
    fail ("%s (see --help)", error->message);
  if (argc != 2)
    fail ("list-options takes one TRANSPORT (see mitogen list-transports)");
  transport = mitogen_transport_lookup (argv[1], &error);
  if (transport == NULL)
    fail ("%s", error != NULL ? error->message : "no such transport");
  table = mitogen_transport_list_options (transport);
  if (table == NULL)
    fail ("%s declares no options: any are passed on unchecked", argv[1]);
  g_variant_iter_init (&iter, table);
  while (g_variant_iter_next (&iter, "(&s&s&s)", &name, &type, &description))
    printf ("%-20s %-8s %s\n", name, type, description);
  return 0;
}

static void
usage (FILE *out)
{
  fprintf (out,
           "Usage: mitogen COMMAND [OPTION...] ...\n\n"
           "Commands:\n"
           "  run TARGET... -- CMD [ARG...]  run a command in a fresh context\n"
           "  call TARGET FUNCTION [ARG...]  call a function and print its result\n"
           "  call TARGET... -- FUNCTION [ARG...]      (on each of several hosts)\n"
           "  cp [-r] [-p] SRC... DEST       copy files to or from TARGET:/PATH\n"
           "  serve [--stop|--status]        keep contexts for later commands\n"
           "  list-transports                list the transports that can be used\n"
           "  list-serializers               list the serializers that can be used\n"
           "  list-options TRANSPORT         list the -o options a transport accepts\n\n"
           "A TARGET is TRANSPORT[:ARG][,KEY=VALUE...], hops joined with '/': local,\n"
           "sudo:postgres, ssh:user@host:port,compression=yes, ssh:web1/sudo:postgres.\n"
           "Passwords: -k/--ask-pass (ssh hops), -K/--ask-become-pass (sudo, su, doas),\n"
           "their --*-password-file FILE, or HOP,password_file=FILE; $MITOGEN_ASKPASS asks\n"
           "instead of the terminal. Many hosts: -w 'web[01-20]', -g GROUP -i INVENTORY,\n"
           "-f N at a time, -b to group outputs, --json. `mitogen COMMAND --help` for more.\n");
}

int
main (int    argc,
      char **argv)
{
  /* For GOption's help text and GLib's messages in the user's charset. */
  setlocale (LC_ALL, "");
  g_set_prgname ("mitogen");
  inherited_children = have_children ();
  catch_signals ();
  locate_build_tree ();

  if (argc < 2 || g_str_equal (argv[1], "--help") || g_str_equal (argv[1], "-h"))
    {
      usage (argc < 2 ? stderr : stdout);
      return argc < 2 ? 2 : 0;
    }
  if (g_str_equal (argv[1], "--version"))
    {
      printf ("mitogen %s\n", PACKAGE_VERSION);
      return 0;
    }
  if (g_str_equal (argv[1], "run"))
    return cmd_run (argc - 1, argv + 1);
  if (g_str_equal (argv[1], "call"))
    return cmd_call (argc - 1, argv + 1);
  if (g_str_equal (argv[1], "cp"))
    return cmd_cp (argc - 1, argv + 1);
  if (g_str_equal (argv[1], "serve"))
    return cmd_serve (argc - 1, argv + 1);
  if (g_str_equal (argv[1], "list-transports"))
    return cmd_list (argc - 1, argv + 1, "List the transports that can start contexts, one a line.",
                     mitogen_list_transports);
  if (g_str_equal (argv[1], "list-options"))
    return cmd_list_options (argc - 1, argv + 1);
  if (g_str_equal (argv[1], "list-serializers"))
    return cmd_list (argc - 1, argv + 1, "List the serializers that can encode messages, one a line.",
                     mitogen_list_serializers);
  fprintf (stderr, "mitogen: unknown command “%s”\n\n", argv[1]);
  usage (stderr);
  return 2;
}
