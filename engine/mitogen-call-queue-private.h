/* mitogen-call-queue-private.h: the calls a context accepted and has not
 * answered yet, and the cancel messages that reach into them.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "mitogen-private.h"

G_BEGIN_DECLS

/* In arrival order. The broker thread pushes; one thread (the agent's
 * main thread) takes and runs them. While a call waits, runs, or waits
 * for its deferred answer, its caller may cancel it with a message to
 * MITOGEN_HANDLE_CANCEL_CALL, which the queue handles on the broker
 * thread. */
typedef struct _MitogenCallQueue MitogenCallQueue;

/* Registers the MITOGEN_HANDLE_CANCEL_CALL handler on @router. */
MitogenCallQueue *_mitogen_call_queue_new      (MitogenRouter    *router,
                                                const char       *context_name);
void              _mitogen_call_queue_free     (MitogenCallQueue *queue);
/* Broker thread: queues a CALL_FUNCTION message. */
void              _mitogen_call_queue_push     (MitogenCallQueue *queue,
                                                MitogenMessage   *msg);
/* Takes the next call and runs it; FALSE once the queue is closed and
 * empty. Calls cancelled while they waited are skipped. */
gboolean          _mitogen_call_queue_run_next (MitogenCallQueue *queue);
guint             _mitogen_call_queue_size     (MitogenCallQueue *queue);
/* No more calls are accepted; those queued still run. */
void              _mitogen_call_queue_close    (MitogenCallQueue *queue);

/* Caller side: asks @context to cancel the call whose reply goes to
 * @reply_to here, with a MITOGEN_HANDLE_CANCEL_CALL message. Best-effort:
 * a call already answered, or a lost context, ignores it. */
void              _mitogen_call_send_cancel    (MitogenContext   *context,
                                                guint32           reply_to);

G_END_DECLS
