/* mitogen-cli-fanout.h: what the fan-out (mitogen-cli-fanout.c), one host's
 * run in it (mitogen-cli-fanout-host.c) and its output
 * (mitogen-cli-fanout-output.c) share.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <stdio.h>

#include "mitogen-cli.h"

G_BEGIN_DECLS

typedef struct _Fanout Fanout;
typedef struct _HostPipe HostPipe;
typedef struct _FanoutParent FanoutParent;

typedef struct
{
  Fanout         *fanout;     /* unowned: outlives every host */
  char           *label;      /* owned */
  char           *target;     /* owned */
  GArray         *hops;       /* owned, CliHop */
  guint           next_hop;   /* the hop to connect next */
  MitogenContext *first;      /* owned: the first hop; stopping it stops all */
  MitogenContext *last;       /* owned: where the call runs */
  GCancellable   *cancel;     /* owned: --host-timeout and signals */
  GSource        *timer;      /* owned: --host-timeout, or NULL */
  gint64          started;    /* monotonic µs */
  double          seconds;    /* how long it took */
  gboolean        timed_out;
  int             status;     /* as a single-host run would exit */
  int             exit_code;  /* the command's, or -1 */
  int             signal;     /* the signal that killed it, or 0 */
  GBytes         *out;        /* owned: stdout, or the call's result */
  GBytes         *err;        /* owned: stderr */
  char           *error;      /* owned: why it failed, or NULL */
  MitogenProcess *process;    /* owned: the command, when streamed */
  HostPipe       *pipes[2];   /* owned: its stdout and stderr, when streamed */
  int             pending;    /* streamed: the reads and the wait running */
  FanoutParent   *parent;     /* unowned: who starts it, the master or a gateway */
  FanoutParent   *serves;     /* unowned: as a gateway, the hosts it starts */
  char           *via;        /* owned: the gateway's label it went through */
  gboolean        held;       /* a gateway done with its own run, its
                               * contexts kept for the hosts it starts */
  gboolean        kept;       /* its context is `mitogen serve`'s, which
                               * keeps it: left running at the end */
} HostRun;

/* Who starts hosts: the master (no gateway), or a gateway's context with
 * --fanout-via. Each starts at most -f of its hosts at once. */
struct _FanoutParent
{
  HostRun  *gateway;  /* unowned: NULL for the master */
  GQueue    queue;    /* HostRun *, unowned: waiting to start */
  guint     running;  /* started through it and not done */
  gboolean  ready;    /* connected: it can start hosts */
  gboolean  call_waits;  /* the gateway's own call waits until it has
                          * started all its hosts: its agent runs calls
                          * one at a time, so a command would hold up
                          * their connects */
  gboolean  gone;     /* could not connect or was lost: its hosts went
                       * to the master */
};

/* One output of a streamed command, printed line by line. */
struct _HostPipe
{
  HostRun    *hr;        /* unowned: its host */
  FILE       *to;        /* stdout or stderr */
  GByteArray *partial;   /* owned: a line not yet ended */
  guint8      buf[8192];
};

struct _Fanout
{
  gboolean      is_run;
  gboolean      streamed;   /* run with proc.start, lines printed as they come */
  char        **argv;       /* unowned: the command */
  char         *function;   /* "proc.run" or the function called */
  GVariant     *args;       /* owned, not floating, or NULL */
  int           deadline;   /* the call's, in ms, or -1 */
  MitogenRouter *router;    /* unowned */
  MitogenContext *server;   /* owned: the running `mitogen serve`, or NULL */
  gboolean      attaching;  /* asking whether a server runs: nothing starts */
  GMainLoop    *loop;       /* owned */
  HostRun      *hosts;      /* owned, n_hosts of them */
  guint         n_hosts;
  FanoutParent *parents;    /* owned: the master first, then each gateway */
  guint         n_parents;
  guint         queued;     /* hosts not started yet */
  guint         running;    /* started and not done */
  guint         held;       /* gateways done, kept for their hosts */
  guint         releasing;  /* gateways being stopped */
  guint         done;
  guint         failed;
  gboolean      stopping;   /* a signal came: start nothing more */
  gboolean      progress;   /* a progress line on stderr (a terminal) */
  gboolean      gather;     /* -b */
  gboolean      json;       /* --json */
  double        host_timeout;  /* --host-timeout in seconds, or 0 */
};

/* mitogen-cli-fanout.c, the run as a whole. Starts the hosts waiting on
 * each parent that is ready, up to -f, then a gateway's own call once its
 * hosts have started, and releases the held gateways whose hosts are done;
 * quits the loop when nothing is left (nothing at all while it asks
 * whether `mitogen serve` runs). */
void fanout_start_more       (Fanout       *fo);
/* @hr is done (its contexts stopped, or held as a gateway): counted,
 * printed (unless -b gathers it, or a signal came), and more hosts started. */
void fanout_host_finish      (HostRun      *hr);
/* A held gateway's contexts have stopped. */
void fanout_gateway_released (HostRun      *gateway);

/* mitogen-cli-fanout-host.c, one host's run. */
void fanout_host_clear       (HostRun      *hr);
/* Starts @hr (counted as running, --host-timeout armed): its connect from
 * its parent or through `mitogen serve`, then its call; a gateway's call
 * waits for fanout_start_more(). */
void fanout_host_start       (HostRun      *hr);
/* @hr's call or command, on its last context. */
void fanout_host_call        (HostRun      *hr);
/* Asks @hr's first hop to stop (it takes the others along), cut off after
 * a while; then fanout_gateway_released() for a held gateway (@release)
 * or else fanout_host_finish(). */
void fanout_stop_contexts    (HostRun      *hr,
                              gboolean      release);

/* mitogen-cli-fanout-output.c. */
/* Clears the progress line before other output, and draws it again. */
void fanout_clear_progress (Fanout       *fo);
void fanout_show_progress  (Fanout       *fo);
/* Writes @size bytes at @data line by line, each after "LABEL: "; a last
 * line without its newline gets one. */
void fanout_print_prefixed (FILE         *to,
                            const char   *label,
                            const guint8 *data,
                            gsize         size);
/* As a host finishes: its output, unless -b gathers it for the end. */
void fanout_print_host     (HostRun      *hr);
/* -b, at the end: each distinct output once, under its hosts. */
void fanout_print_gathered (Fanout       *fo,
                            FILE         *to,
                            gboolean      errors);
/* At the end: the failed hosts, those with the same reason together. */
void fanout_print_summary  (Fanout       *fo);

G_END_DECLS
