/* mitogen-latch-private.h: a thread-safe queue that wakes one waiter.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "mitogen-private.h"

G_BEGIN_DECLS

/* A latch is the meeting point of a producer (usually the broker thread)
 * and consumers that block (get) or wait asynchronously (get_async). Items
 * are owned pointers freed with the latch's free function. A put wakes at
 * most one blocked waiter, so a reply wakes only the thread that waits. */
typedef struct _MitogenLatch MitogenLatch;

/* Called after every successful put, outside the latch lock. */
typedef void (*MitogenLatchNotify) (gpointer notify_data,
                                    gpointer source);

MitogenLatch *_mitogen_latch_new        (GDestroyNotify      item_free);
MitogenLatch *_mitogen_latch_ref        (MitogenLatch       *latch);
void          _mitogen_latch_unref      (MitogenLatch       *latch);
gboolean      _mitogen_latch_put        (MitogenLatch       *latch,
                                         gpointer            item);
gpointer      _mitogen_latch_get        (MitogenLatch       *latch,
                                         int                 timeout_msec,
                                         GCancellable       *cancellable,
                                         GError            **error);
void          _mitogen_latch_get_async  (MitogenLatch       *latch,
                                         int                 timeout_msec,
                                         GTask              *task);
void          _mitogen_latch_close      (MitogenLatch       *latch);
gboolean      _mitogen_latch_is_closed  (MitogenLatch       *latch);
guint         _mitogen_latch_size       (MitogenLatch       *latch);
/* Sets the notify hook; fails if one is set already and @func is not NULL. */
gboolean      _mitogen_latch_set_notify (MitogenLatch       *latch,
                                         MitogenLatchNotify  func,
                                         gpointer            notify_data,
                                         gpointer            source);
gpointer      _mitogen_latch_get_notify_data (MitogenLatch  *latch);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MitogenLatch, _mitogen_latch_unref)

G_END_DECLS
