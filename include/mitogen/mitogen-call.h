/* mitogen-call.h
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

#define MITOGEN_TYPE_CALL (mitogen_call_get_type ())

/* MitogenCall itself is declared in mitogen-types.h. */

/**
 * MitogenFunction:
 * @call: what the function may know of its caller
 * @args: (nullable): the argument tuple, or %NULL for none
 * @user_data: the data given to mitogen_register_function()
 * @error: return location for an error
 *
 * A function that contexts can call by its "module.name".
 *
 * Returns: (transfer full) (nullable): the result (a floating reference is
 *   sunk), or %NULL with @error set; %NULL without an error means "no value",
 *   or, after mitogen_call_return_later(), "the answer comes later"
 */
typedef GVariant *(*MitogenFunction) (MitogenCall  *call,
                                      GVariant     *args,
                                      gpointer      user_data,
                                      GError      **error);

MITOGEN_AVAILABLE_IN_ALL
MitogenRouter  *mitogen_call_get_router   (MitogenCall     *call);
MITOGEN_AVAILABLE_IN_ALL
MitogenContext *mitogen_call_get_caller   (MitogenCall     *call);
MITOGEN_AVAILABLE_IN_ALL
const char     *mitogen_call_get_function (MitogenCall     *call);
MITOGEN_AVAILABLE_IN_ALL
MitogenMessage *mitogen_call_get_message  (MitogenCall     *call);
MITOGEN_AVAILABLE_IN_ALL
GCancellable   *mitogen_call_get_cancellable (MitogenCall  *call);
MITOGEN_AVAILABLE_IN_ALL
void            mitogen_call_return_later (MitogenCall     *call);
MITOGEN_AVAILABLE_IN_ALL
void            mitogen_call_return_value (MitogenCall     *call,
                                           GVariant        *value);
MITOGEN_AVAILABLE_IN_ALL
void            mitogen_call_return_error (MitogenCall     *call,
                                           const GError    *error);

MITOGEN_AVAILABLE_IN_ALL
gboolean        mitogen_register_function (const char      *name,
                                           MitogenFunction  func,
                                           gpointer         user_data,
                                           GDestroyNotify   notify);
MITOGEN_AVAILABLE_IN_ALL
gboolean        mitogen_unregister_function (const char    *name);
MITOGEN_AVAILABLE_IN_ALL
gboolean        mitogen_has_function      (const char      *name);
MITOGEN_AVAILABLE_IN_ALL
gboolean        mitogen_add_module        (const char      *name,
                                           const char      *path,
                                           GError         **error);

G_END_DECLS
