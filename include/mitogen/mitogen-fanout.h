/* mitogen-fanout.h
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(MITOGEN_INSIDE) && !defined(MITOGEN_COMPILATION)
# error "Only <mitogen/mitogen.h> can be included directly."
#endif

#include <gio/gio.h>
#include "mitogen-version.h"
#include "mitogen-types.h"

G_BEGIN_DECLS

#define MITOGEN_TYPE_CALL_RESULT (mitogen_call_result_get_type ())
MITOGEN_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (MitogenCallResult, mitogen_call_result, MITOGEN, CALL_RESULT, GObject)

#define MITOGEN_TYPE_FANOUT (mitogen_fanout_get_type ())
MITOGEN_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (MitogenFanout, mitogen_fanout, MITOGEN, FANOUT, GObject)

MITOGEN_AVAILABLE_IN_ALL
MitogenFanout     *mitogen_fanout_new          (guint                max_in_flight);
MITOGEN_AVAILABLE_IN_ALL
guint              mitogen_fanout_add_call     (MitogenFanout       *fanout,
                                                MitogenContext      *context,
                                                const char          *function,
                                                GVariant            *args);
MITOGEN_AVAILABLE_IN_ALL
guint              mitogen_fanout_get_max_in_flight (MitogenFanout  *fanout);
MITOGEN_AVAILABLE_IN_ALL
guint              mitogen_fanout_get_in_flight (MitogenFanout      *fanout);
MITOGEN_AVAILABLE_IN_ALL
guint              mitogen_fanout_get_remaining (MitogenFanout      *fanout);
MITOGEN_AVAILABLE_IN_ALL
MitogenCallResult *mitogen_fanout_next         (MitogenFanout       *fanout,
                                                GCancellable        *cancellable,
                                                GError             **error);
MITOGEN_AVAILABLE_IN_ALL
void               mitogen_fanout_next_async   (MitogenFanout       *fanout,
                                                GCancellable        *cancellable,
                                                GAsyncReadyCallback  callback,
                                                gpointer             user_data);
MITOGEN_AVAILABLE_IN_ALL
MitogenCallResult *mitogen_fanout_next_finish  (MitogenFanout       *fanout,
                                                GAsyncResult        *result,
                                                GError             **error);

MITOGEN_AVAILABLE_IN_ALL
MitogenContext    *mitogen_call_result_get_context  (MitogenCallResult *result);
MITOGEN_AVAILABLE_IN_ALL
const char        *mitogen_call_result_get_function (MitogenCallResult *result);
MITOGEN_AVAILABLE_IN_ALL
guint              mitogen_call_result_get_index    (MitogenCallResult *result);
MITOGEN_AVAILABLE_IN_ALL
double             mitogen_call_result_get_seconds  (MitogenCallResult *result);
MITOGEN_AVAILABLE_IN_ALL
gboolean           mitogen_call_result_is_ok        (MitogenCallResult *result);
MITOGEN_AVAILABLE_IN_ALL
GVariant          *mitogen_call_result_get_value    (MitogenCallResult *result,
                                                     GError           **error);
MITOGEN_AVAILABLE_IN_ALL
const GError      *mitogen_call_result_get_error    (MitogenCallResult *result);

G_END_DECLS
