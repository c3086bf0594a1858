/* mitogen-plugin.h
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
 * MITOGEN_PLUGIN_PATH_ENV:
 *
 * The environment variable listing extra plugin directories, separated by
 * colons. It is ignored in setuid programs.
 */
#define MITOGEN_PLUGIN_PATH_ENV "MITOGEN_PLUGIN_PATH"

MITOGEN_AVAILABLE_IN_ALL
void               mitogen_plugins_ensure_loaded  (void);
MITOGEN_AVAILABLE_IN_ALL
void               mitogen_register_transport     (GType        type,
                                                   const char  *name,
                                                   gint         priority);
MITOGEN_AVAILABLE_IN_ALL
void               mitogen_register_serializer    (GType        type,
                                                   const char  *name,
                                                   gint         priority);
MITOGEN_AVAILABLE_IN_ALL
MitogenTransport  *mitogen_transport_lookup       (const char  *name,
                                                   GError     **error);
MITOGEN_AVAILABLE_IN_ALL
MitogenSerializer *mitogen_serializer_lookup      (const char  *name,
                                                   GError     **error);
MITOGEN_AVAILABLE_IN_ALL
char             **mitogen_list_transports        (void);
MITOGEN_AVAILABLE_IN_ALL
char             **mitogen_list_serializers       (void);

G_END_DECLS
