/* mitogen-call-result-private.h: making a MitogenCallResult.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "mitogen-private.h"

G_BEGIN_DECLS

/* Takes @value (a reply, or NULL) and @error (its failure, or NULL). */
MitogenCallResult *_mitogen_call_result_new (MitogenContext *context,
                                             const char     *function,
                                             guint           index,
                                             double          seconds,
                                             GVariant       *value,
                                             GError         *error);

G_END_DECLS
