/* mitogen-process.h
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

#define MITOGEN_TYPE_PROCESS (mitogen_process_get_type ())
MITOGEN_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (MitogenProcess, mitogen_process, MITOGEN, PROCESS, GObject)

MITOGEN_AVAILABLE_IN_ALL
MitogenProcess *mitogen_context_spawn          (MitogenContext       *context,
                                                const char * const   *argv,
                                                GVariant             *options,
                                                GCancellable         *cancellable,
                                                GError              **error);
MITOGEN_AVAILABLE_IN_ALL
void            mitogen_context_spawn_async    (MitogenContext       *context,
                                                const char * const   *argv,
                                                GVariant             *options,
                                                GCancellable         *cancellable,
                                                GAsyncReadyCallback   callback,
                                                gpointer              user_data);
MITOGEN_AVAILABLE_IN_ALL
MitogenProcess *mitogen_context_spawn_finish   (MitogenContext       *context,
                                                GAsyncResult         *result,
                                                GError              **error);

MITOGEN_AVAILABLE_IN_ALL
GOutputStream  *mitogen_process_get_stdin      (MitogenProcess       *process);
MITOGEN_AVAILABLE_IN_ALL
GInputStream   *mitogen_process_get_stdout     (MitogenProcess       *process);
MITOGEN_AVAILABLE_IN_ALL
GInputStream   *mitogen_process_get_stderr     (MitogenProcess       *process);
MITOGEN_AVAILABLE_IN_ALL
int             mitogen_process_get_pid        (MitogenProcess       *process);

MITOGEN_AVAILABLE_IN_ALL
gboolean        mitogen_process_wait           (MitogenProcess       *process,
                                                GCancellable         *cancellable,
                                                GError              **error);
MITOGEN_AVAILABLE_IN_ALL
void            mitogen_process_wait_async     (MitogenProcess       *process,
                                                GCancellable         *cancellable,
                                                GAsyncReadyCallback   callback,
                                                gpointer              user_data);
MITOGEN_AVAILABLE_IN_ALL
gboolean        mitogen_process_wait_finish    (MitogenProcess       *process,
                                                GAsyncResult         *result,
                                                GError              **error);

MITOGEN_AVAILABLE_IN_ALL
gboolean        mitogen_process_get_if_exited  (MitogenProcess       *process);
MITOGEN_AVAILABLE_IN_ALL
int             mitogen_process_get_exit_status (MitogenProcess      *process);
MITOGEN_AVAILABLE_IN_ALL
gboolean        mitogen_process_get_if_signaled (MitogenProcess      *process);
MITOGEN_AVAILABLE_IN_ALL
int             mitogen_process_get_term_sig   (MitogenProcess       *process);

MITOGEN_AVAILABLE_IN_ALL
gboolean        mitogen_process_send_signal    (MitogenProcess       *process,
                                                int                   signum,
                                                GError              **error);
MITOGEN_AVAILABLE_IN_ALL
gboolean        mitogen_process_resize         (MitogenProcess       *process,
                                                guint                 rows,
                                                guint                 cols,
                                                GError              **error);

G_END_DECLS
