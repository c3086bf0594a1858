/* mitogen-cli-run.c: `mitogen run` and `mitogen call` on one host, and the
 * choice between that and the fan-out (mitogen-cli-fanout.c).
 *
 *   mitogen run TARGET -- CMD [ARG...]    run a command in a fresh context
 *   mitogen call TARGET FUNCTION [ARG...] call a function, print the result
 *
 * run starts the command with proc.start and streams it both ways: its
 * output as it comes, our standard input to it, and with -t a raw
 * terminal and its window size.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <termios.h>

#include <glib-unix.h>
#include <mitogen/mitogen.h>

#include "mitogen-cli.h"
#include "mitogen-cli-target.h"

/* What one call needs on the router's side of mitogen_run_with_router(). */
typedef struct
{
  GArray     *hops;
  const char *function;
  GVariant   *args;       /* floating or NULL */
  gboolean    is_run;
  const char *target;     /* as written, for a kept connection; NULL: none */
} Job;

/* ---- run: a process streamed both ways -------------------------------- */

static gboolean opt_tty;

/* The terminal's settings before -t made it raw, restored at exit. */
static struct termios saved_termios;
static gboolean termios_saved;

static void
restore_terminal (void)
{
  if (termios_saved)
    tcsetattr (0, TCSADRAIN, &saved_termios);
}

/* With -t on a terminal, keys go to the remote pty as they are typed. */
static void
make_terminal_raw (void)
{
  struct termios raw;

  if (!isatty (0) || tcgetattr (0, &saved_termios) < 0)
    return;
  termios_saved = TRUE;
  atexit (restore_terminal);
  raw = saved_termios;
  cfmakeraw (&raw);
  tcsetattr (0, TCSADRAIN, &raw);
}

/* With -t, SIGWINCH carries this terminal's new size to the remote one:
 * the handler writes to a pipe, a thread reads it and sends the resize. */
static int winch_pipe[2] = { -1, -1 };

static void
on_winch (int sig)
{
  int saved_errno = errno;
  char byte = 0;

  if (write (winch_pipe[1], &byte, 1) < 0)
    {
      /* Full: a resize is pending anyway. */
    }
  errno = saved_errno;
}

static gpointer
forward_winch (gpointer data)
{
  g_autoptr(MitogenProcess) process = data;
  char byte;

  while (read (winch_pipe[0], &byte, 1) > 0)
    {
      struct winsize size;

      if (ioctl (isatty (0) ? 0 : 1, TIOCGWINSZ, &size) == 0 && size.ws_row > 0)
        mitogen_process_resize (process, size.ws_row, size.ws_col, NULL);
    }
  return NULL;
}

/* Starts forwarding SIGWINCH to @process's pty; stop_winch() ends it. */
static GThread *
start_winch (MitogenProcess *process)
{
  struct sigaction action = { .sa_handler = on_winch, .sa_flags = SA_RESTART };

  if (!isatty (0) && !isatty (1))
    return NULL;
  if (!g_unix_open_pipe (winch_pipe, FD_CLOEXEC, NULL))
    return NULL;
  g_unix_set_fd_nonblocking (winch_pipe[1], TRUE, NULL);
  sigemptyset (&action.sa_mask);
  sigaction (SIGWINCH, &action, NULL);
  return g_thread_new ("mitogen-winch", forward_winch, g_object_ref (process));
}

static void
stop_winch (GThread *thread)
{
  if (thread == NULL)
    return;
  signal (SIGWINCH, SIG_DFL);
  close (winch_pipe[1]);
  g_thread_join (thread);
  close (winch_pipe[0]);
}

/* One of the process's outputs copied to a descriptor of ours. */
typedef struct
{
  MitogenProcess *process;      /* owned */
  GInputStream   *from;         /* unowned: the process's */
  int             to;           /* 1 or 2 */
  GCancellable   *cancellable;  /* unowned: outlives the thread */
} Pump;

static gpointer
pump_output (gpointer data)
{
  Pump *pump = data;
  g_autofree guint8 *buf = g_malloc (65536);
  gssize n;

  while ((n = g_input_stream_read (pump->from, buf, 65536, pump->cancellable, NULL)) > 0)
    {
      for (gssize done = 0, w; done < n; done += w)
        {
          w = write (pump->to, buf + done, n - done);
          if (w < 0 && errno == EINTR)
            w = 0;
          else if (w < 0)
            {
              /* Our reader went away (`| head`): as a local pipe would,
               * SIGPIPE ends the writer. */
              mitogen_process_send_signal (pump->process, SIGPIPE, NULL);
              g_input_stream_close (pump->from, NULL, NULL);
              goto out;
            }
        }
    }
out:
  g_object_unref (pump->process);
  g_free (pump);
  return NULL;
}

static GThread *
start_pump (MitogenProcess *process,
            GInputStream   *from,
            int             to,
            GCancellable   *cancellable)
{
  Pump *pump = g_new0 (Pump, 1);

  pump->process = g_object_ref (process);
  pump->from = from;
  pump->to = to;
  pump->cancellable = cancellable;
  return g_thread_new ("mitogen-output", pump_output, pump);
}

/* Our stdin to the process's, then EOF. Not joined: it may sit in read()
 * after the process ended, and the tool exits without waiting for it. */
static gpointer
pump_stdin (gpointer data)
{
  g_autoptr(GOutputStream) to = data;
  g_autofree guint8 *buf = g_malloc (65536);
  ssize_t n;

  while ((n = read (0, buf, 65536)) != 0)
    {
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0 || !g_output_stream_write_all (to, buf, n, NULL, NULL, NULL))
        return NULL;
    }
  g_output_stream_close (to, NULL, NULL);
  return NULL;
}

/* --command-timeout, kept here too: an agent that is stopped cannot keep
 * it. Cancels @data at the deadline unless the process ended first. */
typedef struct
{
  GCancellable *stop;      /* owned */
  GCancellable *finished;  /* owned */
  gint64        usec;
} Deadline;

static gpointer
deadline_run (gpointer data)
{
  Deadline *dl = data;
  GPollFD pollfd;
  gint64 end = g_get_monotonic_time () + dl->usec;

  if (g_cancellable_make_pollfd (dl->finished, &pollfd))
    {
      while (!g_cancellable_is_cancelled (dl->finished) && g_get_monotonic_time () < end)
        g_poll (&pollfd, 1, (int) MAX (1, (end - g_get_monotonic_time ()) / 1000));
      g_cancellable_release_fd (dl->finished);
    }
  if (!g_cancellable_is_cancelled (dl->finished))
    g_cancellable_cancel (dl->stop);
  g_object_unref (dl->stop);
  g_object_unref (dl->finished);
  g_free (dl);
  return NULL;
}

static void
forward_cancel (GCancellable *cancellable,
                gpointer      data)
{
  g_cancellable_cancel (data);
}

/* The options of proc.start for this run. */
static GVariant *
process_options (void)
{
  GVariantDict dict;
  struct winsize size;

  g_variant_dict_init (&dict, NULL);
  if (cli_command_timeout () > 0)
    g_variant_dict_insert (&dict, "timeout", "d", cli_command_timeout ());
  if (opt_tty)
    {
      g_variant_dict_insert (&dict, "pty", "b", TRUE);
      if (ioctl (isatty (0) ? 0 : 1, TIOCGWINSZ, &size) == 0 && size.ws_row > 0)
        {
          g_variant_dict_insert (&dict, "rows", "q", (guint16) size.ws_row);
          g_variant_dict_insert (&dict, "cols", "q", (guint16) size.ws_col);
        }
    }
  /* A terminal is not read unless -t asks for it, as before. */
  if (isatty (0) && !opt_tty)
    g_variant_dict_insert (&dict, "stdin", "b", FALSE);
  return g_variant_dict_end (&dict);
}

/* Runs @argv in @ctx with its output live; returns the exit status. */
static int
run_streamed (MitogenContext     *ctx,
              const char * const *argv)
{
  g_autoptr(GCancellable) stop = g_cancellable_new ();
  g_autoptr(GCancellable) finished = g_cancellable_new ();
  g_autoptr(MitogenProcess) process = NULL;
  g_autoptr(GError) error = NULL;
  gboolean timed_out = FALSE;
  GThread *out, *err, *winch;
  gulong handler;
  int status;

  handler = g_cancellable_connect (interrupted, G_CALLBACK (forward_cancel), stop, NULL);
  /* From before the start: the agent may stop before it says "started". */
  if (cli_command_timeout () > 0)
    {
      Deadline *dl = g_new0 (Deadline, 1);

      dl->stop = g_object_ref (stop);
      dl->finished = g_object_ref (finished);
      dl->usec = (gint64) ((cli_command_timeout () + COMMAND_TIMEOUT_GRACE_SEC) * G_USEC_PER_SEC);
      g_thread_unref (g_thread_new ("mitogen-deadline", deadline_run, dl));
    }
  process = mitogen_context_spawn (ctx, argv, process_options (), stop, &error);
  timed_out = process == NULL && g_cancellable_is_cancelled (stop) && interrupted_status () < 0;
  if (process != NULL)
    {
      if (!isatty (0) || opt_tty)
        {
          if (opt_tty)
            make_terminal_raw ();
          g_thread_unref (g_thread_new ("mitogen-stdin", pump_stdin,
                                        g_object_ref (mitogen_process_get_stdin (process))));
        }
      winch = opt_tty ? start_winch (process) : NULL;
      out = start_pump (process, mitogen_process_get_stdout (process), 1, stop);
      err = start_pump (process, mitogen_process_get_stderr (process), 2, stop);
      g_thread_join (out);
      g_thread_join (err);
      mitogen_process_wait (process, stop, &error);
      stop_winch (winch);
      timed_out = g_cancellable_is_cancelled (stop) && interrupted_status () < 0;
      g_cancellable_cancel (finished);
      restore_terminal ();
    }
  g_cancellable_cancel (finished);
  g_cancellable_disconnect (interrupted, handler);

  if (interrupted_status () >= 0)
    return interrupted_status ();
  if (timed_out)
    {
      g_autoptr(MitogenRouter) owner = mitogen_context_dup_router (ctx);

      fprintf (stderr, "mitogen: the command in %s timed out after %g s, and its context "
               "does not answer\n", mitogen_context_get_name (ctx),
               cli_command_timeout () + COMMAND_TIMEOUT_GRACE_SEC);
      contexts_stuck = TRUE;
      mitogen_router_disconnect_context (owner, ctx);
      return EXIT_TIMED_OUT;
    }
  if (error != NULL)
    {
      report (error);
      return failure_status (error, TRUE);
    }
  status = mitogen_process_get_exit_status (process);
  /* Death by signal N: shells say 128+N. */
  return status >= 0 ? status : 128 + mitogen_process_get_term_sig (process);
}

static int
run_job (MitogenRouter *router,
         gpointer       user_data)
{
  Job *job = user_data;
  g_autoptr(MitogenContext) ctx = cli_connect_target (router, job->target, job->hops);
  g_autoptr(GVariant) result = NULL;
  g_autoptr(GError) error = NULL;
  int status = 0;

  /* The passwords have been used (or refused): clear the tool's copies. */
  cli_hops_wipe_secrets (job->hops);

  if (ctx == NULL)
    {
      if (job->args != NULL)
        g_variant_unref (g_variant_ref_sink (job->args));
      return interrupted_status () >= 0 ? interrupted_status () : EXIT_CONNECTION;
    }
  if (job->is_run)
    {
      g_autofree const char **argv = NULL;

      g_variant_get (g_variant_ref_sink (job->args), "(^a&s)", &argv);
      status = run_streamed (ctx, argv);
      g_variant_unref (job->args);
      if (!contexts_stuck)
        shut_down (ctx);
      return status;
    }
  result = mitogen_context_call_with_timeout (ctx, job->function, job->args, cli_call_deadline (job->is_run),
                                              interrupted, &error);
  if (result == NULL && interrupted_status () >= 0)
    status = interrupted_status ();
  else if (result == NULL)
    {
      report (error);
      status = failure_status (error, job->is_run);
    }
  else
    {
      g_autofree char *text = g_variant_print (result, FALSE);

      printf ("%s\n", text);
      fflush (stdout);
    }
  /* Interrupted, the command's own end does not count: it may have
   * finished because the signal's cancel killed its children under it. */
  if (interrupted_status () >= 0)
    status = interrupted_status ();

  /* Wait for the context to go, so that no agent outlives the command;
   * one that missed its deadline is not answering: cut it off. */
  if (g_error_matches (error, MITOGEN_ERROR, MITOGEN_ERROR_TIMEOUT))
    {
      g_autoptr(MitogenRouter) owner = mitogen_context_dup_router (ctx);

      contexts_stuck = TRUE;
      mitogen_router_disconnect_context (owner, ctx);
    }
  else
    shut_down (ctx);
  return status;
}

static int
run_and_wait (Job *job)
{
  int status;

  g_atomic_int_set (&forwarding_signals, TRUE);
  status = mitogen_run_with_router (run_job, job);
  wait_for_children ();
  return status;
}

static const GOptionEntry run_entries[] = {
  { "tty", 't', 0, G_OPTION_ARG_NONE, &opt_tty,
    "Run COMMAND on a pseudo-terminal (and, when standard input is a terminal, pass keys as typed)", NULL },
  G_OPTION_ENTRY_NULL
};

int
cmd_run (int    argc,
         char **argv)
{
  g_autoptr(GOptionContext) options = new_option_context ("TARGET... -- COMMAND [ARG...]",
      "Run COMMAND in a fresh context at TARGET and exit with its status (128+N if\n"
      "signal N killed it, 127 if it was not found, 126 if it could not be executed,\n"
      "124 if --command-timeout passed, 255 if the context could not be started or\n"
      "was lost). SIGINT, SIGTERM and\n"
      "SIGHUP kill COMMAND and exit 128+N. Its output is shown as it comes; standard\n"
      "input, unless it is a terminal (or with -t), is passed to COMMAND as it is read."
      CLI_FANOUT_HELP);
  const GOptionEntry *const tables[] = { common_entries, run_entries, cli_fanout_entries, NULL };
  int n_targets = cli_count_before_separator (argc, argv, tables);
  g_autoptr(GArray) hops = NULL;
  Job job = { NULL, "proc.start", NULL, TRUE };

  g_set_prgname ("mitogen run");
  g_option_context_add_main_entries (options, run_entries, NULL);
  g_option_context_add_main_entries (options, cli_fanout_entries, NULL);
  g_option_context_add_main_entries (options, cli_serve_entries, NULL);
  parse_options (options, &argc, &argv);
  if (cli_wants_fanout (argc, argv, n_targets))
    {
      if (opt_tty)
        fail ("-t takes one host");
      return cli_fanout_main (TRUE, argc - 1, argv + 1, n_targets);
    }
  if (argc < 2)
    fail ("run needs a TARGET and a COMMAND (see mitogen run --help)");
  if (argc < 3)
    fail ("run needs a COMMAND after the TARGET (see mitogen run --help)");
  hops = parse_target_or_fail (argv[1]);

  job.hops = hops;
  job.target = argv[1];
  job.args = g_variant_new ("(^as)", (const char * const *) argv + 2);
  return run_and_wait (&job);
}

int
cmd_call (int    argc,
          char **argv)
{
  g_autoptr(GOptionContext) options = new_option_context ("TARGET... [--] FUNCTION [ARG...]",
      "Call FUNCTION (\"module.name\") in a fresh context at TARGET and print its result.\n"
      "Each ARG is GVariant text (42, 'text', [1, 2], <'boxed'>) or else a plain string;\n"
      "put ARGs that start with '-' after '--'. Exits 1 if the function failed, 124 if\n"
      "--command-timeout passed, 255 if the context could not be started or was lost.\n"
      "Several TARGETs come before a '--': mitogen call t1 t2 -- core.ping."
      CLI_FANOUT_HELP);
  const GOptionEntry *const tables[] = { common_entries, cli_fanout_entries, NULL };
  int n_targets = cli_count_before_separator (argc, argv, tables);
  g_autoptr(GArray) hops = NULL;
  g_autoptr(GPtrArray) args = g_ptr_array_new_with_free_func ((GDestroyNotify) g_variant_unref);
  Job job = { NULL, NULL, NULL, FALSE };

  g_set_prgname ("mitogen call");
  g_option_context_add_main_entries (options, cli_fanout_entries, NULL);
  g_option_context_add_main_entries (options, cli_serve_entries, NULL);
  parse_options (options, &argc, &argv);
  /* One TARGET then '--' is today's "call TARGET -- FUNCTION -ARG": a
   * '--' after the function only guards its arguments. */
  if (n_targets >= 2 && !cli_fanout_requested () &&
      cli_looks_like_function (argv[2]) && !cli_target_is_many (argv[1]))
    n_targets = -1;
  if (cli_wants_fanout (argc, argv, n_targets))
    return cli_fanout_main (FALSE, argc - 1, argv + 1, n_targets);
  if (argc < 3)
    fail ("call needs a TARGET and a FUNCTION (see mitogen call --help)");
  hops = parse_target_or_fail (argv[1]);
  for (int i = 3; i < argc; i++)
    g_ptr_array_add (args, cli_parse_value (argv[i]));

  job.hops = hops;
  job.target = argv[1];
  job.function = argv[2];
  if (args->len > 0)
    job.args = g_variant_new_tuple ((GVariant **) args->pdata, args->len);
  return run_and_wait (&job);
}
