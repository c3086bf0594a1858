/* mitogen-broker.h
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

#define MITOGEN_TYPE_BROKER (mitogen_broker_get_type ())

/* MitogenBroker itself is declared in mitogen-types.h. */

MITOGEN_AVAILABLE_IN_ALL
MitogenBroker *mitogen_broker_new              (void);
MITOGEN_AVAILABLE_IN_ALL
void           mitogen_broker_shutdown         (MitogenBroker  *broker);
MITOGEN_AVAILABLE_IN_ALL
void           mitogen_broker_join             (MitogenBroker  *broker);
MITOGEN_AVAILABLE_IN_ALL
void           mitogen_broker_defer            (MitogenBroker  *broker,
                                                GSourceFunc     func,
                                                gpointer        user_data,
                                                GDestroyNotify  notify);
MITOGEN_AVAILABLE_IN_ALL
gboolean       mitogen_broker_is_broker_thread (MitogenBroker  *broker);
MITOGEN_AVAILABLE_IN_ALL
GMainContext  *mitogen_broker_get_main_context (MitogenBroker  *broker);
MITOGEN_AVAILABLE_IN_ALL
gboolean       mitogen_broker_is_running       (MitogenBroker  *broker);

G_END_DECLS
