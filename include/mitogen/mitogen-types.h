/* mitogen-types.h: forward declarations shared by the public headers.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(MITOGEN_INSIDE) && !defined(MITOGEN_COMPILATION)
# error "Only <mitogen/mitogen.h> can be included directly."
#endif

#include <glib.h>

G_BEGIN_DECLS

typedef struct _MitogenBroker     MitogenBroker;
typedef struct _MitogenRouter     MitogenRouter;
typedef struct _MitogenContext    MitogenContext;
typedef struct _MitogenReceiver   MitogenReceiver;
typedef struct _MitogenSender     MitogenSender;
typedef struct _MitogenChannel    MitogenChannel;
typedef struct _MitogenSelect     MitogenSelect;
typedef struct _MitogenCall       MitogenCall;
typedef struct _MitogenMessage    MitogenMessage;

G_END_DECLS
