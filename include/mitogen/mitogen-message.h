/* mitogen-message.h: one frame of the wire protocol.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(MITOGEN_INSIDE) && !defined(MITOGEN_COMPILATION)
# error "Only <mitogen/mitogen.h> can be included directly."
#endif

#include <gio/gio.h>
#include "mitogen-version.h"

G_BEGIN_DECLS

/**
 * MITOGEN_HANDLE_GET_MODULE:
 *
 * Reserved handle: a child asks its parent for a module.
 */
#define MITOGEN_HANDLE_GET_MODULE      100
/**
 * MITOGEN_HANDLE_CALL_FUNCTION:
 *
 * Reserved handle: run a function; the reply goes to `reply_to`.
 */
#define MITOGEN_HANDLE_CALL_FUNCTION   101
/**
 * MITOGEN_HANDLE_FORWARD_LOG:
 *
 * Reserved handle: a log record travelling towards the master, as the
 * fields `(sis)`: domain, #GLogLevelFlags, message.
 *
 * The master treats the record as data from a peer it need not trust. It
 * logs it with g_log_structured() in the "mitogen" domain as one line,
 * `[NAME] LEVEL: MESSAGE` (`[NAME] DOMAIN-LEVEL: MESSAGE` for another
 * domain than "mitogen"), in which control characters, newlines and
 * backslashes are escaped (`\n`, `\x1b`, `\\`), bytes that are not UTF-8
 * are replaced and a message longer than 4 KiB is cut with a marker. A
 * child's error, critical or warning is logged at %G_LOG_LEVEL_MESSAGE,
 * never as a warning of the master (which `G_DEBUG=fatal-warnings` would
 * make fatal); info and debug stay info and debug. The fields
 * `MITOGEN_CONTEXT` (the context's name), `MITOGEN_CONTEXT_ID`,
 * `MITOGEN_REMOTE_DOMAIN` and `MITOGEN_REMOTE_LEVEL` (`ERROR`, `CRITICAL`,
 * `WARNING`, `MESSAGE`, `INFO` or `DEBUG`) tell a program's log writer
 * where the record came from. Each context may send a burst of 200
 * records, then 50 a second; the master drops the rest and, about a second
 * later, logs how many it dropped for which context.
 */
#define MITOGEN_HANDLE_FORWARD_LOG     102
/**
 * MITOGEN_HANDLE_ADD_ROUTE:
 *
 * Reserved handle: a context was born below the sender.
 */
#define MITOGEN_HANDLE_ADD_ROUTE       103
/**
 * MITOGEN_HANDLE_DEL_ROUTE:
 *
 * Reserved handle: a context was lost.
 */
#define MITOGEN_HANDLE_DEL_ROUTE       104
/**
 * MITOGEN_HANDLE_ALLOCATE_ID:
 *
 * Reserved handle: ask the master for a block of context ids.
 */
#define MITOGEN_HANDLE_ALLOCATE_ID     105
/**
 * MITOGEN_HANDLE_SHUTDOWN:
 *
 * Reserved handle: ask a context to exit.
 */
#define MITOGEN_HANDLE_SHUTDOWN        106
/**
 * MITOGEN_HANDLE_LOAD_MODULE:
 *
 * Reserved handle: the bytes of a module travelling down.
 */
#define MITOGEN_HANDLE_LOAD_MODULE     107
/**
 * MITOGEN_HANDLE_FORWARD_MODULE:
 *
 * Reserved handle: pass a module further down a chain.
 */
#define MITOGEN_HANDLE_FORWARD_MODULE  108
/**
 * MITOGEN_HANDLE_DETACHING:
 *
 * Reserved handle: a context is about to detach from its parent.
 */
#define MITOGEN_HANDLE_DETACHING       109
/**
 * MITOGEN_HANDLE_CALL_SERVICE:
 *
 * Reserved handle: call a service.
 */
#define MITOGEN_HANDLE_CALL_SERVICE    110
/**
 * MITOGEN_HANDLE_CANCEL_CALL:
 *
 * Reserved handle: cancel a call. The body is a `u`, the `reply_to` handle
 * of the call to cancel; only the context that made the call (the same
 * source and authority) may cancel it. A call still queued is answered
 * with %G_IO_ERROR_CANCELLED at once; a running call's
 * mitogen_call_get_cancellable() fires.
 */
#define MITOGEN_HANDLE_CANCEL_CALL     111
/**
 * MITOGEN_IS_DEAD:
 *
 * The `reply_to` value of a dead message: the handle it was sent to is gone
 * and nobody may answer it.
 */
#define MITOGEN_IS_DEAD                999
/**
 * MITOGEN_FIRST_USER_HANDLE:
 *
 * Handles from here up are allocated by each router.
 */
#define MITOGEN_FIRST_USER_HANDLE      1000
/**
 * MITOGEN_HEADER_SIZE:
 *
 * The size of a frame header in bytes.
 */
#define MITOGEN_HEADER_SIZE            26
/**
 * MITOGEN_DEFAULT_MAX_MESSAGE_SIZE:
 *
 * The default limit on a frame's data: 128 MiB.
 */
#define MITOGEN_DEFAULT_MAX_MESSAGE_SIZE (128u * 1024u * 1024u)
/**
 * MITOGEN_DEFAULT_MAX_BUFFERED:
 *
 * The default of #MitogenRouter:max-buffered: 256 MiB, twice
 * %MITOGEN_DEFAULT_MAX_MESSAGE_SIZE, so that a message of the largest size
 * left unread never stops the next one of that size from being read.
 */
#define MITOGEN_DEFAULT_MAX_BUFFERED ((guint64) 2 * MITOGEN_DEFAULT_MAX_MESSAGE_SIZE)

#define MITOGEN_TYPE_MESSAGE (mitogen_message_get_type ())

/**
 * MitogenMessage:
 *
 * One frame: the header fields of the wire protocol and a body holding one
 * #GVariant, an error raised by a remote function, or the reason a message
 * is dead. Messages are reference counted and immutable once sent.
 */
typedef struct _MitogenMessage MitogenMessage;

MITOGEN_AVAILABLE_IN_ALL
GType           mitogen_message_get_type     (void) G_GNUC_CONST;
MITOGEN_AVAILABLE_IN_ALL
MitogenMessage *mitogen_message_new          (guint32         dst_id,
                                              guint32         handle,
                                              GVariant       *value);
MITOGEN_AVAILABLE_IN_ALL
MitogenMessage *mitogen_message_new_dead     (guint32         dst_id,
                                              guint32         handle,
                                              const char     *reason);
MITOGEN_AVAILABLE_IN_ALL
MitogenMessage *mitogen_message_new_error    (guint32         dst_id,
                                              guint32         handle,
                                              const GError   *error);
MITOGEN_AVAILABLE_IN_ALL
MitogenMessage *mitogen_message_ref          (MitogenMessage *msg);
MITOGEN_AVAILABLE_IN_ALL
void            mitogen_message_unref        (MitogenMessage *msg);
MITOGEN_AVAILABLE_IN_ALL
guint32         mitogen_message_get_dst_id   (MitogenMessage *msg);
MITOGEN_AVAILABLE_IN_ALL
guint32         mitogen_message_get_src_id   (MitogenMessage *msg);
MITOGEN_AVAILABLE_IN_ALL
guint32         mitogen_message_get_auth_id  (MitogenMessage *msg);
MITOGEN_AVAILABLE_IN_ALL
guint32         mitogen_message_get_handle   (MitogenMessage *msg);
MITOGEN_AVAILABLE_IN_ALL
guint32         mitogen_message_get_reply_to (MitogenMessage *msg);
MITOGEN_AVAILABLE_IN_ALL
void            mitogen_message_set_reply_to (MitogenMessage *msg,
                                              guint32         reply_to);
MITOGEN_AVAILABLE_IN_ALL
gboolean        mitogen_message_is_dead      (MitogenMessage *msg);
MITOGEN_AVAILABLE_IN_ALL
gsize           mitogen_message_get_size     (MitogenMessage *msg);
MITOGEN_AVAILABLE_IN_ALL
GVariant       *mitogen_message_unpack       (MitogenMessage *msg,
                                              GError        **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MitogenMessage, mitogen_message_unref)

G_END_DECLS
