/* mitogen.c: the `mitogen` command-line tool.
 *
 *   mitogen run TARGET -- CMD [ARG...]    run a command in a fresh context
 *   mitogen call TARGET FUNCTION [ARG...] call a function, print the result
 *   mitogen list-transports | list-serializers
 *   mitogen list-options TRANSPORT        the -o options TRANSPORT accepts
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
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>

#include <glib-unix.h>
#include <mitogen/mitogen.h>

#include "mitogen-cli-password.h"
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

/* How long the tool waits for its contexts to stop before it disconnects
 * them and exits anyway: a healthy one stops at once, and one that is
 * stopped (SIGSTOP) or wedged must not keep the tool, or the user, waiting. */
#define SHUTDOWN_TIMEOUT_MSEC 10000

/* Set when a context did not stop in time: its agent may never exit, so
 * there is no waiting for it either. */
static gboolean contexts_stuck;

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

/* What one call needs on the router's side of mitogen_run_with_router(). */
typedef struct
{
  GArray     *hops;
  const char *function;
  GVariant   *args;       /* floating or NULL */
  gboolean    is_run;
  const char *target;     /* as written, for a kept connection; NULL: none */
} Job;

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

/* What the tool adds to --command-timeout before it stops waiting for
 * proc.run, which enforces the timeout itself: time for the agent to kill
 * the command and reply. Past it, the agent is taken to be stuck. */
#define COMMAND_TIMEOUT_GRACE_SEC 5

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
  if (opt_command_timeout > 0)
    g_variant_dict_insert (&dict, "timeout", "d", opt_command_timeout);
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
  if (opt_command_timeout > 0)
    {
      Deadline *dl = g_new0 (Deadline, 1);

      dl->stop = g_object_ref (stop);
      dl->finished = g_object_ref (finished);
      dl->usec = (gint64) ((opt_command_timeout + COMMAND_TIMEOUT_GRACE_SEC) * G_USEC_PER_SEC);
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
               opt_command_timeout + COMMAND_TIMEOUT_GRACE_SEC);
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
run_and_wait (Job *job)
{
  int status;

  g_atomic_int_set (&forwarding_signals, TRUE);
  status = mitogen_run_with_router (run_job, job);
  wait_for_children ();
  return status;
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

static const GOptionEntry run_entries[] = {
  { "tty", 't', 0, G_OPTION_ARG_NONE, &opt_tty,
    "Run COMMAND on a pseudo-terminal (and, when standard input is a terminal, pass keys as typed)", NULL },
  G_OPTION_ENTRY_NULL
};

static int
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

static int
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
