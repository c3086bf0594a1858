/* mitogen-call-private.h: running an incoming call.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "mitogen-private.h"

G_BEGIN_DECLS

MitogenCall    *_mitogen_call_new               (MitogenRouter  *router,
                                                 MitogenContext *caller,
                                                 MitogenMessage *msg,
                                                 const char     *function);
/* Runs one CALL_FUNCTION message and sends its reply. */
void            _mitogen_call_run_message       (MitogenRouter  *router,
                                                 MitogenMessage *msg,
                                                 const char     *context_name);

G_END_DECLS
