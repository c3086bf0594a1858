/* mitogen-call-private.h: running one incoming call.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "mitogen-private.h"

G_BEGIN_DECLS

/* The cancellation of one call, which costs nothing until someone asks
 * for its GCancellable or cancels it: most calls do neither. */
typedef struct _MitogenCallCancel MitogenCallCancel;

MitogenCallCancel *_mitogen_call_cancel_new     (void);
MitogenCallCancel *_mitogen_call_cancel_ref     (MitogenCallCancel *cancel);
void               _mitogen_call_cancel_unref   (MitogenCallCancel *cancel);
/* Cancels; the GCancellable fires now if it exists, else when made. Any
 * thread. */
void               _mitogen_call_cancel_fire    (MitogenCallCancel *cancel);
/* The GCancellable, made on first use. Any thread. */
GCancellable      *_mitogen_call_cancel_get     (MitogenCallCancel *cancel);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MitogenCallCancel, _mitogen_call_cancel_unref)

/* Runs one CALL_FUNCTION message: finds its function (fetching its module
 * if need be) and runs it with @cancel (nullable) as the call's own.
 * The reply goes out when the function answers: when it returns, or later
 * if it deferred. @done_func (nullable) runs once the call is answered,
 * on whichever thread answered it. */
void _mitogen_call_run_message (MitogenRouter  *router,
                                MitogenMessage *msg,
                                const char     *context_name,
                                MitogenCallCancel *cancel,
                                GDestroyNotify  done_func,
                                gpointer        done_data);

G_END_DECLS
