/* mitogen-connect-options-private.h: the connect options every transport
 * shares.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "mitogen-private.h"

G_BEGIN_DECLS

typedef struct
{
  char     *serializer;    /* "serializer"; "gvariant" when absent */
  char     *agent_path;    /* "agent_path"; NULL: the router's default */
  char     *name;          /* "name"; NULL: the agent picks one */
  char     *plugin_path;   /* "plugin_path"; NULL: see _mitogen_connect_options_plugin_path() */
  gboolean  debug;         /* "debug": forward debug messages too */
  int       timeout_msec;  /* "connect_timeout", in seconds on the wire */
} MitogenConnectOptions;

/* Reads them from @options (an a{sv}, may be NULL); a value of the wrong
 * type fails with MITOGEN_ERROR_FAILED naming the option. */
gboolean _mitogen_connect_options_read  (MitogenConnectOptions *opts,
                                         GVariant              *options,
                                         int                    default_timeout_msec,
                                         GError               **error);
/* Where a context started by @transport looks for plugins: the option,
 * else, on a hop that stays on this machine, this process's
 * MITOGEN_PLUGIN_PATH; NULL for none (and for an unknown @transport). */
char    *_mitogen_connect_options_plugin_path (const MitogenConnectOptions *opts,
                                               MitogenTransport            *transport);
void     _mitogen_connect_options_clear (MitogenConnectOptions *opts);

/* The options every transport shares, in the form of a transport's table
 * (ended by a NULL name); _mitogen_connect_options_read() reads them. */
const MitogenTransportOption *_mitogen_connect_options_shared (void);

G_END_DECLS
