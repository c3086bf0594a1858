/* mitogen-cli.h: what the `mitogen` tool's commands share (mitogen.c,
 * mitogen-cli-common.c), and each command's entry point.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <mitogen/mitogen.h>

G_BEGIN_DECLS

/* Cancelled by SIGINT, SIGTERM or SIGHUP once forwarding_signals is set. */
extern GCancellable *interrupted;
extern gint forwarding_signals;

/* Set when a context did not stop in time: its agent may never exit, so
 * there is no waiting for it either. */
extern gboolean contexts_stuck;

/* Exit statuses as ssh and the shells have them. */
enum
{
  EXIT_FAILED = 1,          /* the function failed */
  EXIT_CANNOT_EXECUTE = 126,
  EXIT_NOT_FOUND = 127,
  EXIT_TIMED_OUT = 124,     /* --command-timeout passed, as timeout(1) says */
  EXIT_CONNECTION = 255,    /* no context, or it was lost */
};

/* The options every command that starts contexts takes. */
extern const GOptionEntry common_entries[];

/* Prints "mitogen: MESSAGE" and exits 1. */
void            fail                 (const char     *format,
                                      ...) G_GNUC_PRINTF (1, 2) G_GNUC_NORETURN;
void            report               (const GError   *error);
/* 128+N after signal N interrupted the job, else -1. */
int             interrupted_status   (void);
GOptionContext *new_option_context   (const char     *parameters,
                                      const char     *summary);
void            parse_options        (GOptionContext *context,
                                      int            *argc,
                                      char         ***argv);
GArray         *parse_target_or_fail (const char     *target);
/* Starts every hop; NULL (reported) on failure. */
MitogenContext *connect_chain        (MitogenRouter  *router,
                                      GArray         *hops);
void            shut_down            (MitogenContext *context);
void            wait_for_children    (void);
/* The status for a call that failed with @error. */
int             failure_status       (const GError   *error,
                                      gboolean        is_run);
/* What the tool adds to --command-timeout before it stops waiting for
 * proc.run, which enforces the timeout itself: time for the agent to kill
 * the command and reply. Past it, the agent is taken to be stuck. */
#define COMMAND_TIMEOUT_GRACE_SEC 5

/* --command-timeout as a call's deadline in ms (-1 for none), and as is. */
int             cli_call_deadline    (gboolean        is_run);
double          cli_command_timeout  (void);

/* mitogen-cli-run.c */
int             cmd_run              (int             argc,
                                      char          **argv);
int             cmd_call             (int             argc,
                                      char          **argv);

/* mitogen-cli-fanout.c: run and call on many hosts */
#define CLI_FANOUT_HELP \
  "\n\nSeveral hosts: every TARGET before '--' (ranges such as ssh:web[01-20] expand),\n" \
  "-w HOSTS (a plain name is ssh:NAME), -g GROUP of the -i inventory, less -x HOSTS;\n" \
  "with -w or -g and no '--', every argument belongs to the command. -f hosts at a\n" \
  "time; output lines as \"HOST: line\" as they come, -b grouped, --json one\n" \
  "object a host; --fanout-via K starts the others through the first K hosts.\n" \
  "Exits with the largest of the hosts' statuses (255: a host was\n" \
  "not reached or was lost; 124: timed out), 128+N after signal N."

extern const GOptionEntry cli_fanout_entries[];
int             cli_count_before_separator  (int                        argc,
                                             char                     **argv,
                                             const GOptionEntry *const *tables);
gboolean        cli_fanout_requested        (void);
/* Whether run or call goes to several hosts (or asked for a fan-out's
 * options): otherwise it takes the single-host path, live and streamed. */
gboolean        cli_wants_fanout            (int             argc,
                                             char          **argv,
                                             int             n_targets);
gboolean        cli_fanout_has_host_options (void);
gboolean        cli_target_is_many          (const char     *target);
gboolean        cli_looks_like_function     (const char     *arg);
int             cli_fanout_main             (gboolean        is_run,
                                             int             argc,
                                             char          **argv,
                                             int             n_targets);

/* mitogen-cli-serve.c */
int             cmd_serve            (int             argc,
                                      char          **argv);

/* mitogen-cli-serve-client.c */
/* --no-serve, for the commands that may use a running `mitogen serve`. */
extern const GOptionEntry cli_serve_entries[];
/* The server's socket; @create makes its directory (mode 0700). */
char           *cli_serve_socket_path (gboolean       create);
/* The server's context, or NULL: with no error when none runs. A router
 * attaches once; later calls with it get the same context. */
MitogenContext *cli_serve_attach     (MitogenRouter  *client,
                                      GError        **error);
/* The context at the end of @hops (@target as written) from the running
 * `mitogen serve`, @client attaching to it (a fresh router). NULL without
 * an error when no server can be used (none runs, or its socket fails the
 * checks: said on stderr), and @client is still fresh; NULL with one when
 * the server failed to connect the target. Any thread; one router attaches
 * once, so a fan-out asks for all its targets through one connection. */
MitogenContext *cli_serve_connect    (MitogenRouter  *client,
                                      const char     *target,
                                      GArray         *hops,
                                      GError        **error);
/* cli_serve_connect() unless @target is NULL, --no-serve was given, a hop
 * holds a password or no server runs; else connect_chain(). NULL
 * (reported) on failure. */
MitogenContext *cli_connect_target   (MitogenRouter  *router,
                                      const char     *target,
                                      GArray         *hops);
/* For a fan-out, one thread and no blocking call: attaches @client (a
 * fresh router) to the running server in a worker thread. The context is
 * NULL when none can be used (--no-serve, none runs, or its socket fails
 * the checks: said on stderr); @client is then still fresh. */
void            cli_serve_attach_async  (MitogenRouter       *client,
                                         GCancellable        *cancellable,
                                         GAsyncReadyCallback  callback,
                                         gpointer             user_data);
MitogenContext *cli_serve_attach_finish (MitogenRouter       *client,
                                         GAsyncResult        *result);
/* Asks the server for the context at the end of @via_hops (NULL: none)
 * then @hops, as cli_serve_connect() does, without blocking. */
void            cli_serve_connect_async (MitogenContext      *server_ctx,
                                         const char          *target,
                                         GArray              *via_hops,
                                         GArray              *hops,
                                         GCancellable        *cancellable,
                                         GAsyncReadyCallback  callback,
                                         gpointer             user_data);
MitogenContext *cli_serve_connect_finish (MitogenContext     *server_ctx,
                                          GAsyncResult       *result,
                                          GError            **error);
/* Whether @hops may go through the server: not with --no-serve, nor with
 * a password (the server would keep it). */
gboolean        cli_serve_may_carry  (GArray         *hops);
/* A context the server keeps: a command leaves it running. */
gboolean        cli_serve_is_kept    (MitogenContext *context);

/* mitogen-cli-cp.c */
int             cmd_cp               (int             argc,
                                      char          **argv);

G_END_DECLS
