/* mitogen-select.h
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

#define MITOGEN_TYPE_SELECT (mitogen_select_get_type ())

/* MitogenSelect itself is declared in mitogen-types.h. */

MITOGEN_AVAILABLE_IN_ALL
MitogenSelect  *mitogen_select_new         (gboolean          oneshot);
MITOGEN_AVAILABLE_IN_ALL
gboolean        mitogen_select_add         (MitogenSelect    *sel,
                                            GObject          *source,
                                            GError          **error);
MITOGEN_AVAILABLE_IN_ALL
gboolean        mitogen_select_remove      (MitogenSelect    *sel,
                                            GObject          *source,
                                            GError          **error);
MITOGEN_AVAILABLE_IN_ALL
MitogenMessage *mitogen_select_get         (MitogenSelect    *sel,
                                            int               timeout_msec,
                                            GObject         **source,
                                            GCancellable     *cancellable,
                                            GError          **error);
MITOGEN_AVAILABLE_IN_ALL
void            mitogen_select_get_async   (MitogenSelect       *sel,
                                            int                  timeout_msec,
                                            GCancellable        *cancellable,
                                            GAsyncReadyCallback  callback,
                                            gpointer             user_data);
MITOGEN_AVAILABLE_IN_ALL
MitogenMessage *mitogen_select_get_finish  (MitogenSelect    *sel,
                                            GAsyncResult     *result,
                                            GObject         **source,
                                            GError          **error);
MITOGEN_AVAILABLE_IN_ALL
gboolean        mitogen_select_next        (MitogenSelect    *sel,
                                            int               timeout_msec,
                                            MitogenMessage  **msg,
                                            GObject         **source,
                                            GCancellable     *cancellable,
                                            GError          **error);
MITOGEN_AVAILABLE_IN_ALL
gboolean        mitogen_select_is_empty    (MitogenSelect    *sel);
MITOGEN_AVAILABLE_IN_ALL
gboolean        mitogen_select_has_sources (MitogenSelect    *sel);
MITOGEN_AVAILABLE_IN_ALL
gboolean        mitogen_select_is_oneshot  (MitogenSelect    *sel);
MITOGEN_AVAILABLE_IN_ALL
void            mitogen_select_close       (MitogenSelect    *sel);

G_END_DECLS
