/* mitogen-module-private.h: code that travels to contexts on demand.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "mitogen-private.h"

G_BEGIN_DECLS

/* Module names: "NAME" is a user module (a shared object whose
 * mitogen_module_init() registers functions "NAME.*"); "transport:NAME"
 * and "serializer:NAME" are the plugins providing that transport or
 * serializer. */

/* Makes @name available here, asking the parent for its bytes when this
 * process lacks it, then loads it. Blocks; not on the broker thread. */
gboolean _mitogen_module_ensure     (MitogenRouter *router,
                                     const char    *name,
                                     GCancellable  *cancellable,
                                     GError       **error);
/* The GET_MODULE handler every router installs. Broker thread. */
void     _mitogen_module_on_get     (MitogenMessage *msg,
                                     gpointer        router);
G_END_DECLS
