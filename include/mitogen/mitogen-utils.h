/* mitogen-utils.h
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

/**
 * MitogenRouterFunc:
 * @router: a router on a running broker
 * @user_data: data given to mitogen_run_with_router()
 *
 * The body of a program run by mitogen_run_with_router().
 *
 * Returns: the exit status
 */
typedef int (*MitogenRouterFunc) (MitogenRouter *router,
                                  gpointer       user_data);

MITOGEN_AVAILABLE_IN_ALL
gboolean mitogen_is_master          (void);
MITOGEN_AVAILABLE_IN_ALL
guint32  mitogen_get_context_id     (void);
MITOGEN_AVAILABLE_IN_ALL
guint32  mitogen_get_parent_id      (void);
MITOGEN_AVAILABLE_IN_ALL
gboolean mitogen_log_to_file        (const char        *path,
                                     GLogLevelFlags     level,
                                     GError           **error);
MITOGEN_AVAILABLE_IN_ALL
int      mitogen_run_with_router    (MitogenRouterFunc  func,
                                     gpointer           user_data);

G_END_DECLS
