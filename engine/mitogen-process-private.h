/* mitogen-process-private.h: what MitogenProcess (mitogen-process.c) and
 * its streams (mitogen-process-streams.c) share.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "mitogen-private.h"

G_BEGIN_DECLS

#define MITOGEN_PROCESS_DEFAULT_WINDOW ((guint64) 1024 * 1024)
/* The largest stdin message: a quarter of the default window. */
#define MITOGEN_PROCESS_STDIN_CHUNK ((gsize) 256 * 1024)

/* Which output stream; and the other things an asynchronous caller can
 * wait for (see ProcessWatch). */
enum { PROCESS_STDOUT, PROCESS_STDERR, PROCESS_STARTED, PROCESS_DONE };

/* One asynchronous operation waiting for the state to change: a read of
 * stdout or stderr, the start, or the end. The broker thread completes it
 * from on_event(), so that no thread waits for it. */
typedef struct _ProcessWatch ProcessWatch;

/* One output stream's end of the state. */
typedef struct
{
  GQueue  chunks;      /* GBytes not yet read */
  gsize   offset;      /* read from the head chunk */
  gboolean eof;        /* the agent sent the stream's end */
  gboolean discard;    /* the reader closed it: acknowledge and drop */
  guint64 consumed;    /* bytes taken by the reader (or dropped) */
  guint64 ack_sent;    /* the last acknowledgement sent */
} OutputState;

/* Shared by the process, its streams and the event handler. */
typedef struct
{
  MitogenContext *context;   /* owned; immutable */
  MitogenRouter  *router;    /* owned; immutable */
  guint32         events;    /* immutable: our handler, the call's reply */
  guint64         window;    /* immutable */

  GMutex          lock;
  GCond           cond;      /* broadcast on every change below */
  gboolean        started;   /* guarded by @lock */
  guint32         control;   /* guarded by @lock: the agent's handle */
  int             pid;       /* guarded by @lock */
  gboolean        done;      /* guarded by @lock: @status or @error is set */
  int             status;    /* guarded by @lock: code, or -signal */
  GError         *error;     /* guarded by @lock: why it failed */
  OutputState     out[2];    /* guarded by @lock */
  guint64         stdin_sent;    /* guarded by @lock */
  guint64         stdin_acked;   /* guarded by @lock */
  GList          *watches;   /* guarded by @lock: ProcessWatch, oldest first */
} ProcessState;

void           _mitogen_process_state_unref (gpointer       state);
/* Sends one control message (`(sv)`, floating) to the agent. */
gboolean       _mitogen_process_state_send  (ProcessState  *state,
                                             const char    *kind,
                                             GVariant      *value,
                                             GError       **error);
/* Under the lock: waits for a change; FALSE with @error when cancelled. */
gboolean       _mitogen_process_state_wait  (ProcessState  *state,
                                             GCancellable  *cancellable,
                                             GError       **error);
/* Makes @cancellable wake the waiters; 0 without one. */
gulong         _mitogen_process_state_watch (ProcessState  *state,
                                             GCancellable  *cancellable);
/* Waits for @kind without a thread: completes @task (taking it) when the
 * state allows, now or from on_event(). */
void           _mitogen_process_state_watch_async (ProcessState *state,
                                                   GTask        *task,
                                                   int           kind,
                                                   void         *buffer,
                                                   gsize         count);
/* From on_event(), not under the lock: completes the watches that can. */
void           _mitogen_process_state_run_watches (ProcessState *state);
/* mitogen-process.c: a process object over a started @state. */
MitogenProcess *_mitogen_process_new        (ProcessState  *state);
GInputStream  *_mitogen_process_input_new   (ProcessState  *state,
                                             int            stream);
GOutputStream *_mitogen_process_output_new  (ProcessState  *state);

G_END_DECLS
