/* mitogen-cli-common.c: what the `mitogen` tool's commands share (declared
 * in mitogen-cli.h): the options every command that starts contexts takes,
 * and parsing them and a TARGET; errors and exit statuses; starting a chain
 * of hops and shutting a context down; --command-timeout.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mitogen/mitogen.h>

#include "mitogen-cli.h"
#include "mitogen-cli-target.h"

static char **opt_options;
static char *opt_agent;
static double opt_timeout;
static double opt_command_timeout;
static gboolean opt_debug;
static gboolean opt_verbose;
static gboolean opt_ask_pass;
static gboolean opt_ask_become_pass;
static char *opt_password_file;
static char *opt_become_password_file;

const GOptionEntry common_entries[] = {
  { "option", 'o', 0, G_OPTION_ARG_STRING_ARRAY, &opt_options,
    "Transport option for every hop (repeatable); VALUE is GVariant text or a string", "KEY=VALUE" },
  { "agent", 0, 0, G_OPTION_ARG_FILENAME, &opt_agent, "Agent program to start", "PATH" },
  { "timeout", 0, 0, G_OPTION_ARG_DOUBLE, &opt_timeout, "Seconds to wait for each context to start (default 30)", "SECONDS" },
  { "command-timeout", 0, 0, G_OPTION_ARG_DOUBLE, &opt_command_timeout,
    "Seconds the command or function may take; then it is stopped and the tool exits 124", "SECONDS" },
  { "debug", 0, 0, G_OPTION_ARG_NONE, &opt_debug, "Forward the contexts' debug log", NULL },
  { "verbose", 'v', 0, G_OPTION_ARG_NONE, &opt_verbose, "Show debug messages", NULL },
  { "ask-pass", 'k', 0, G_OPTION_ARG_NONE, &opt_ask_pass,
    "Ask for the password of each hop that logs in to a host (ssh)", NULL },
  { "ask-become-pass", 'K', 0, G_OPTION_ARG_NONE, &opt_ask_become_pass,
    "Ask for the password of each hop that changes user (sudo, su, doas)", NULL },
  { "password-file", 0, 0, G_OPTION_ARG_FILENAME, &opt_password_file,
    "Read the login hops' password from the first line of FILE", "FILE" },
  { "become-password-file", 0, 0, G_OPTION_ARG_FILENAME, &opt_become_password_file,
    "Read the become hops' password from the first line of FILE", "FILE" },
  { NULL }
};

void
fail (const char *format, ...) G_GNUC_PRINTF (1, 2) G_GNUC_NORETURN;

void
fail (const char *format,
      ...)
{
  va_list args;

  va_start (args, format);
  fprintf (stderr, "mitogen: ");
  vfprintf (stderr, format, args);
  fprintf (stderr, "\n");
  va_end (args);
  exit (1);
}

/* How long the tool waits for its contexts to stop before it disconnects
 * them and exits anyway: a healthy one stops at once, and one that is
 * stopped (SIGSTOP) or wedged must not keep the tool, or the user, waiting. */
#define SHUTDOWN_TIMEOUT_MSEC 10000

gboolean contexts_stuck;

void
shut_down (MitogenContext *context)
{
  g_autoptr(GError) error = NULL;

  if (cli_serve_is_kept (context))
    return;
  if (!mitogen_context_shutdown (context, SHUTDOWN_TIMEOUT_MSEC, NULL, &error))
    {
      g_debug ("shutting down %s: %s", mitogen_context_get_name (context), error->message);
      if (g_error_matches (error, MITOGEN_ERROR, MITOGEN_ERROR_TIMEOUT))
        contexts_stuck = TRUE;
    }
}

void
report (const GError *error)
{
  fprintf (stderr, "mitogen: %s\n", error->message);
}

/* Starts every hop of @hops in turn. On failure the error is printed, the
 * hops already up are stopped, and %NULL returned. */
MitogenContext *
connect_chain (MitogenRouter *router,
               GArray        *hops)
{
  g_autoptr(MitogenContext) via = NULL;

  for (guint i = 0; i < hops->len; i++)
    {
      CliHop *hop = &g_array_index (hops, CliHop, i);
      g_autoptr(GError) error = NULL;
      MitogenContext *ctx = mitogen_router_connect_context (router, hop->transport, hop->options,
                                                    via, interrupted, &error);

      if (ctx == NULL)
        {
          if (interrupted_status () < 0)
            report (error);
          /* Stop the hops already up: the last one takes its children along. */
          if (via != NULL)
            shut_down (via);
          return NULL;
        }
      g_clear_object (&via);
      via = ctx;
    }
  return g_steal_pointer (&via);
}

/* The status for a call that failed with @error. */
int
failure_status (const GError *error,
                gboolean      is_run)
{
  if (g_error_matches (error, MITOGEN_ERROR, MITOGEN_ERROR_TIMEOUT) ||
      (is_run && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT)))
    return EXIT_TIMED_OUT;
  if (is_run && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND))
    return EXIT_NOT_FOUND;
  if (is_run && (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED) ||
                 g_error_matches (error, G_IO_ERROR, G_IO_ERROR_NOT_DIRECTORY)))
    return EXIT_CANNOT_EXECUTE;
  if (g_error_matches (error, MITOGEN_ERROR, MITOGEN_ERROR_CHANNEL) ||
      g_error_matches (error, MITOGEN_ERROR, MITOGEN_ERROR_STREAM))
    return EXIT_CONNECTION;
  return EXIT_FAILED;
}

/* The call's deadline in milliseconds, or -1 for none. */
int
cli_call_deadline (gboolean is_run)
{
  double seconds = opt_command_timeout;

  if (seconds <= 0)
    return -1;
  if (is_run)
    seconds += COMMAND_TIMEOUT_GRACE_SEC;
  return (int) MIN (seconds * 1000, G_MAXINT);
}

double
cli_command_timeout (void)
{
  return opt_command_timeout;
}

GOptionContext *
new_option_context (const char *parameters,
                    const char *summary)
{
  GOptionContext *context = g_option_context_new (parameters);

  g_option_context_set_summary (context, summary);
  g_option_context_add_main_entries (context, common_entries, NULL);
  return context;
}

void
parse_options (GOptionContext *context,
               int            *argc,
               char         ***argv)
{
  g_autoptr(GError) error = NULL;

  if (!g_option_context_parse (context, argc, argv, &error))
    fail ("%s (put arguments that start with '-' after '--'; see --help)", error->message);
  if (opt_command_timeout < 0 || !isfinite (opt_command_timeout))
    fail ("--command-timeout takes a number of seconds above 0");

  /* GOption keeps the '--' separator when a later argument starts with '-'
   * and drops it otherwise. The first '--' left is always that separator
   * (GOption stops at it), so remove it to see the same argv either way. */
  for (int i = 1; i < *argc; i++)
    if (g_str_equal ((*argv)[i], "--"))
      {
        memmove (*argv + i, *argv + i + 1, (*argc - i) * sizeof (char *));
        (*argc)--;
        break;
      }
  if (opt_verbose)
    g_setenv ("G_MESSAGES_DEBUG", "all", TRUE);
}

GArray *
parse_target_or_fail (const char *target)
{
  CliTargetSettings settings = {
    .options = opt_options,
    .agent = opt_agent,
    .timeout = opt_timeout,
    .debug = opt_debug,
    .ask_pass = opt_ask_pass,
    .ask_become_pass = opt_ask_become_pass,
    .password_file = opt_password_file,
    .become_password_file = opt_become_password_file,
  };
  g_autoptr(GError) error = NULL;
  GArray *hops = cli_parse_target (target, &settings, &error);

  if (hops == NULL)
    fail ("%s", error->message);
  return hops;
}
