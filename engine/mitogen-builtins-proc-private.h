/* mitogen-builtins-proc-private.h: what proc.run and proc.start share.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <sys/types.h>

#include "mitogen-private.h"

G_BEGIN_DECLS

/* A week: a longer timeout is a mistake. */
#define MITOGEN_PROC_MAX_TIMEOUT_SECONDS (7.0 * 24 * 3600)

typedef struct
{
  pid_t    agent;     /* getpid() of the agent */
  int      pid_pipe;  /* the write end of a pipe on which the child gives
                       * its pid, or -1 */
  gboolean pty;       /* stdin is a pty's follower: make it the controlling
                       * terminal of a new session */
} ChildSetup;

/* Runs in the child between fork and exec (async-signal-safe): a process
 * group of its own, killed with SIGKILL when the forking thread dies. */
void     _mitogen_proc_child_setup     (gpointer      data);
/* A program that cannot be started as the G_IO_ERROR a file would give. */
void     _mitogen_proc_set_spawn_error (GError      **error,
                                        GError       *spawn_error);
/* The groups _mitogen_builtins_kill_children() kills. Any thread. */
void     _mitogen_proc_children_add    (pid_t         pgid);
void     _mitogen_proc_children_remove (pid_t         pgid);
/* proc.start: mitogen-builtins-proc-start.c. */
GVariant *_mitogen_proc_start          (MitogenCall  *call,
                                        GVariant     *args,
                                        gpointer      data,
                                        GError      **error);

G_END_DECLS
