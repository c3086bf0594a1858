/* mitogen.h: the umbrella header of libmitogen.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>
#include <gio/gio.h>

#define MITOGEN_INSIDE
# include "mitogen-version.h"
# include "mitogen-enums.h"
# include "mitogen-error.h"
# include "mitogen-message.h"
# include "mitogen-broker.h"
# include "mitogen-router.h"
# include "mitogen-context.h"
# include "mitogen-receiver.h"
# include "mitogen-sender.h"
# include "mitogen-channel.h"
# include "mitogen-select.h"
# include "mitogen-call.h"
# include "mitogen-transport.h"
# include "mitogen-serializer.h"
# include "mitogen-plugin.h"
# include "mitogen-utils.h"
# include "mitogen-process.h"
# include "mitogen-transfer.h"
# include "mitogen-fanout.h"
# include "mitogen-listener.h"
#undef MITOGEN_INSIDE
