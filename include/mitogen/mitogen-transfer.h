/* mitogen-transfer.h
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
 * MitogenTransferFlags:
 * @MITOGEN_TRANSFER_NONE: a single file, attributes as cp gives them
 * @MITOGEN_TRANSFER_RECURSIVE: the source may be a directory, copied with
 *   everything under it (regular files, directories and symbolic links)
 * @MITOGEN_TRANSFER_PRESERVE: keep mode and modification time, and the
 *   owner when the receiving side runs as root
 *
 * How mitogen_context_push() and mitogen_context_pull() copy.
 */
typedef enum /*< flags >*/
{
  MITOGEN_TRANSFER_NONE = 0,
  MITOGEN_TRANSFER_RECURSIVE = 1 << 0,
  MITOGEN_TRANSFER_PRESERVE = 1 << 1,
} MitogenTransferFlags;

/**
 * MitogenTransferProgressFunc:
 * @done: bytes of file contents copied so far
 * @total: bytes of file contents in the whole transfer
 * @user_data: the data given with the function
 *
 * Told how a transfer advances, in the caller's thread-default main
 * context; @done only grows, and ends at @total when the transfer succeeds.
 */
typedef void (*MitogenTransferProgressFunc) (guint64  done,
                                             guint64  total,
                                             gpointer user_data);

MITOGEN_AVAILABLE_IN_ALL
void     mitogen_context_push_async  (MitogenContext              *context,
                                      const char                  *local_path,
                                      const char                  *remote_path,
                                      MitogenTransferFlags         flags,
                                      MitogenTransferProgressFunc  progress,
                                      gpointer                     progress_data,
                                      GDestroyNotify               progress_destroy,
                                      GCancellable                *cancellable,
                                      GAsyncReadyCallback          callback,
                                      gpointer                     user_data);
MITOGEN_AVAILABLE_IN_ALL
gboolean mitogen_context_push_finish (MitogenContext              *context,
                                      GAsyncResult                *result,
                                      GError                     **error);
MITOGEN_AVAILABLE_IN_ALL
gboolean mitogen_context_push        (MitogenContext              *context,
                                      const char                  *local_path,
                                      const char                  *remote_path,
                                      MitogenTransferFlags         flags,
                                      MitogenTransferProgressFunc  progress,
                                      gpointer                     progress_data,
                                      GCancellable                *cancellable,
                                      GError                     **error);
MITOGEN_AVAILABLE_IN_ALL
void     mitogen_context_pull_async  (MitogenContext              *context,
                                      const char                  *remote_path,
                                      const char                  *local_path,
                                      MitogenTransferFlags         flags,
                                      MitogenTransferProgressFunc  progress,
                                      gpointer                     progress_data,
                                      GDestroyNotify               progress_destroy,
                                      GCancellable                *cancellable,
                                      GAsyncReadyCallback          callback,
                                      gpointer                     user_data);
MITOGEN_AVAILABLE_IN_ALL
gboolean mitogen_context_pull_finish (MitogenContext              *context,
                                      GAsyncResult                *result,
                                      GError                     **error);
MITOGEN_AVAILABLE_IN_ALL
gboolean mitogen_context_pull        (MitogenContext              *context,
                                      const char                  *remote_path,
                                      const char                  *local_path,
                                      MitogenTransferFlags         flags,
                                      MitogenTransferProgressFunc  progress,
                                      gpointer                     progress_data,
                                      GCancellable                *cancellable,
                                      GError                     **error);

G_END_DECLS
