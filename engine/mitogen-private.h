/* mitogen-private.h: what every engine source file includes.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#ifndef MITOGEN_COMPILATION
# define MITOGEN_COMPILATION
#endif

#include <mitogen/mitogen.h>

G_BEGIN_DECLS

/* The message used in dead replies when a context goes away. */
#define MITOGEN_MSG_CONTEXT_LOST "the respondent context has disconnected"

/* Process-wide identity, set once by the agent before anything runs. */
void     _mitogen_set_identity          (guint32 context_id,
                                         guint32 parent_id);

/* Prefix for log lines that carry a context name (forwarded logs). */
void     _mitogen_log_forwarded         (const char    *context_name,
                                         const char    *domain,
                                         GLogLevelFlags level,
                                         const char    *message);

/* Returns the agent program this process starts for local hops. */
char    *_mitogen_default_agent_path    (void);

/* Fails with MITOGEN_ERROR_FAILED when called on @broker's thread. */
gboolean _mitogen_check_not_broker      (MitogenBroker *broker,
                                         const char    *what,
                                         GError       **error);

/* The built-in modules ("core", "proc"). */
void     _mitogen_builtins_register     (void);

/* Called on the broker thread when the stream to an agent's parent
 * closes (mitogen-router-private.h). */
typedef void (*MitogenParentLostFunc) (MitogenRouter *router,
                                       const GError  *reason,
                                       gpointer       user_data);

G_END_DECLS
