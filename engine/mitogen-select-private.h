/* mitogen-select-private.h: what a select needs of a nested select.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "mitogen-private.h"
#include "mitogen-latch-private.h"

G_BEGIN_DECLS

MitogenLatch   *_mitogen_select_get_latch       (MitogenSelect   *sel);
MitogenMessage *_mitogen_select_try_get         (MitogenSelect   *sel,
                                                 GObject        **source,
                                                 GError         **error);

G_END_DECLS
