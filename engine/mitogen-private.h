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

/* The longest log message a context forwards or the master prints. */
#define MITOGEN_LOG_MAX_RECORD 4096

/* Logs, escaped, rate-limited and at a level that cannot abort this
 * process, a record context @context_id forwarded to @router; the strings
 * are the peer's, unchecked (mitogen-log-forward.c). */
void     _mitogen_log_forwarded         (MitogenRouter *router,
                                         guint32        context_id,
                                         const char    *context_name,
                                         const char    *domain,
                                         gint32         level,
                                         const char    *message);
/* @text as one printable line of valid UTF-8, at most @max_bytes plus a
 * marker when cut: control characters become escapes such as \n, \x1b. */
char    *_mitogen_log_escape            (const char    *text,
                                         gsize          max_bytes);
/* What an agent forwards of @text: valid UTF-8, at most about
 * MITOGEN_LOG_MAX_RECORD bytes. */
char    *_mitogen_log_record_clamp      (const char    *text);
/* Writes @message to the file of mitogen_log_to_file(), if @filter_level
 * passes its level, shown as @shown_level (mitogen-utils.c). */
void     _mitogen_log_file_write        (const char    *domain,
                                         GLogLevelFlags filter_level,
                                         GLogLevelFlags shown_level,
                                         const char    *message);

/* Returns the agent program this process starts for local hops. */
char    *_mitogen_default_agent_path    (void);

/* Secrets in flight: bytes that are cleared when their last reference
 * goes (mitogen-utils.c). The first takes @bytes over and wraps it, with
 * no copy; the second copies @size bytes from @data. */
GBytes  *_mitogen_bytes_wipe_on_free    (GBytes        *bytes);
/* The unit tuple "()", one shared instance (transfer full). */
GVariant *_mitogen_unit                 (void);
GBytes  *_mitogen_bytes_new_wiped_copy  (gconstpointer  data,
                                         gsize          size);

/* Fails with MITOGEN_ERROR_FAILED when called on @broker's thread. */
gboolean _mitogen_check_not_broker      (MitogenBroker *broker,
                                         const char    *what,
                                         GError       **error);

/* The built-in modules ("core", "proc"). */
void     _mitogen_builtins_register     (void);
/* The built-ins' checks of their arguments (mitogen-builtins.c): the
 * tuple's type, and a number of seconds (finite, 0 to @max). */
gboolean _mitogen_builtin_check_args    (MitogenCall   *call,
                                         GVariant      *args,
                                         const char    *type,
                                         GError       **error);
gboolean _mitogen_builtin_check_seconds (MitogenCall   *call,
                                         const char    *argument,
                                         double         seconds,
                                         double         max,
                                         GError       **error);
void     _mitogen_builtins_kill_children (void);
void     _mitogen_builtins_proc_register (void);
void     _mitogen_builtins_transfer_register (void);
void     _mitogen_builtins_transfer_abandon_all (void);

/* Called on the broker thread when the stream to an agent's parent
 * closes (mitogen-router-private.h). */
typedef void (*MitogenParentLostFunc) (MitogenRouter *router,
                                       const GError  *reason,
                                       gpointer       user_data);

G_END_DECLS
