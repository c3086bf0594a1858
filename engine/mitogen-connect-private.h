/* mitogen-connect-private.h: starting contexts.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "mitogen-private.h"

G_BEGIN_DECLS

/* core.connect and core.disconnect, which a parent calls to have an agent
 * start or stop a child for it. The agent registers them at start-up. */
void _mitogen_connect_register_functions (void);

G_END_DECLS
