/* mitogen-registry-private.h: the functions this process serves.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "mitogen-private.h"

G_BEGIN_DECLS

/* One registered function. A call holds it while the function runs, so
 * unregistering (or replacing) a function does not free its data under a
 * call still running it: the notify runs when the last holder lets go. */
typedef struct _MitogenRegistration MitogenRegistration;

/* The function registered as @name (a reference), or NULL. */
MitogenRegistration *_mitogen_registry_lookup      (const char          *name);
GVariant            *_mitogen_registration_invoke  (MitogenRegistration *reg,
                                                    MitogenCall         *call,
                                                    GVariant            *args,
                                                    GError             **error);
void                 _mitogen_registration_release (MitogenRegistration *reg);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MitogenRegistration, _mitogen_registration_release)

G_END_DECLS
