/* mitogen-types.h: the object types of the API, declared in one place.
 *
 * The headers name each other's types (a router makes contexts, a context
 * makes receivers, a receiver makes senders), so every type must exist
 * before any header uses it. G_DECLARE_FINAL_TYPE() is also the typedef,
 * and C99 forbids a second typedef of the same name: each type is declared
 * here once, and only here.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(MITOGEN_INSIDE) && !defined(MITOGEN_COMPILATION)
# error "Only <mitogen/mitogen.h> can be included directly."
#endif

#include <glib-object.h>
#include "mitogen-version.h"
#include "mitogen-message.h"

G_BEGIN_DECLS

MITOGEN_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (MitogenBroker, mitogen_broker, MITOGEN, BROKER, GObject)
MITOGEN_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (MitogenRouter, mitogen_router, MITOGEN, ROUTER, GObject)
MITOGEN_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (MitogenContext, mitogen_context, MITOGEN, CONTEXT, GObject)
MITOGEN_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (MitogenReceiver, mitogen_receiver, MITOGEN, RECEIVER, GObject)
MITOGEN_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (MitogenSender, mitogen_sender, MITOGEN, SENDER, GObject)
MITOGEN_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (MitogenChannel, mitogen_channel, MITOGEN, CHANNEL, GObject)
MITOGEN_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (MitogenSelect, mitogen_select, MITOGEN, SELECT, GObject)
MITOGEN_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (MitogenCall, mitogen_call, MITOGEN, CALL, GObject)

G_END_DECLS
