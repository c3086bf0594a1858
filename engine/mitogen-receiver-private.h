/* mitogen-receiver-private.h: the latch behind a receiver, for selects.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "mitogen-private.h"
#include "mitogen-latch-private.h"

G_BEGIN_DECLS

MitogenLatch   *_mitogen_receiver_get_latch     (MitogenReceiver *recv);

G_END_DECLS
