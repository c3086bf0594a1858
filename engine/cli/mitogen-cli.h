/* mitogen-cli.h: what the `mitogen` tool's commands share (mitogen.c).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <mitogen/mitogen.h>

G_BEGIN_DECLS

/* Cancelled by SIGINT, SIGTERM or SIGHUP once forwarding_signals is set. */
extern GCancellable *interrupted;
extern gint forwarding_signals;

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

/* mitogen-cli-serve.c */
/* --no-serve, for the commands that may use a running `mitogen serve`. */
extern const GOptionEntry cli_serve_entries[];
int             cmd_serve            (int             argc,
                                      char          **argv);
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
/* A context the server keeps: a command leaves it running. */
gboolean        cli_serve_is_kept    (MitogenContext *context);

/* mitogen-cli-cp.c */
int             cmd_cp               (int             argc,
                                      char          **argv);

G_END_DECLS
