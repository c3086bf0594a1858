/* mitogen-broker-private.h: what the router asks of its broker.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "mitogen-private.h"

G_BEGIN_DECLS

/* @func runs on the broker thread when the broker shuts down, before the
 * thread exits. The owner removes its hook before it goes. */
void _mitogen_broker_add_shutdown_hook    (MitogenBroker *broker,
                                           gpointer       owner,
                                           void         (*func) (gpointer owner));
void _mitogen_broker_remove_shutdown_hook (MitogenBroker *broker,
                                           gpointer       owner);
/* Runs @func on the broker thread and waits for it (at most 5 s); runs it
 * here when this is the broker thread or the broker no longer runs. */
void _mitogen_broker_run_and_wait         (MitogenBroker *broker,
                                           void         (*func) (gpointer data),
                                           gpointer       data);

G_END_DECLS
