/* mitogen-call-private.h: running one incoming call.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "mitogen-private.h"

G_BEGIN_DECLS

/* Runs one CALL_FUNCTION message: finds its function (fetching its module
 * if need be) and runs it with @cancellable (nullable) as the call's own.
 * The reply goes out when the function answers: when it returns, or later
 * if it deferred. @done_func (nullable) runs once the call is answered,
 * on whichever thread answered it. */
void _mitogen_call_run_message (MitogenRouter  *router,
                                MitogenMessage *msg,
                                const char     *context_name,
                                GCancellable   *cancellable,
                                GDestroyNotify  done_func,
                                gpointer        done_data);

G_END_DECLS
