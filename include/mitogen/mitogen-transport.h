/* mitogen-transport.h
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
 * MITOGEN_TRANSPORT_EXTENSION_POINT_NAME:
 *
 * The GIO extension point transports implement.
 */
#define MITOGEN_TRANSPORT_EXTENSION_POINT_NAME "mitogen-transport"

/**
 * MITOGEN_AGENT_ANNOUNCE:
 *
 * What the agent writes on its standard output, before anything else, when
 * started with the `--announce` argument. Transports that talk to a
 * password prompt first (sudo, su, ssh) wait for it to know the agent is
 * running, consume it, and only then return the stream.
 */
#define MITOGEN_AGENT_ANNOUNCE "MITO000\n"

/**
 * MitogenTransportOption:
 * @name: the option's key in the options `a{sv}`
 * @type: the GVariant type string its value must have, or several joined
 *   with `|` when more than one is accepted (`"u|i"`)
 * @description: one short line saying what the option does
 *
 * One option a transport reads, as listed by its `get_options` method.
 * Bindings read the same table with mitogen_transport_list_options().
 */
typedef struct
{
  const char *name;
  const char *type;
  const char *description;
} MitogenTransportOption;

#define MITOGEN_TYPE_TRANSPORT (mitogen_transport_get_type ())

MITOGEN_AVAILABLE_IN_ALL
G_DECLARE_INTERFACE (MitogenTransport, mitogen_transport, MITOGEN, TRANSPORT, GObject)

/**
 * MitogenTransportInterface:
 * @g_iface: the parent interface
 * @open_stream: start the agent program at @agent_path (or an equivalent
 *   the transport knows) and return a stream connected to its standard input
 *   and output. Runs in a worker thread and may block; it must honour
 *   @cancellable.
 * @crosses_host: optional: whether the agents this transport starts run on
 *   another host than the process that starts them (%TRUE for ssh). Left
 *   %NULL, the transport is taken to stay on this machine. Nothing that
 *   describes this machine (its paths, such as `MITOGEN_PLUGIN_PATH`) is
 *   sent to an agent on another host unless the caller asks for it with
 *   an option. It takes the first of what were eight padding slots: the
 *   structure keeps its size.
 * @get_options: optional: the options the transport reads, an array ended
 *   by an entry whose @name is %NULL, owned by the transport and valid as
 *   long as it is. With a table, the options given to
 *   mitogen_router_connect_context() are checked against it (and against
 *   the options every transport shares) before anything starts: an
 *   unknown name or a wrongly typed value fails the start. Left %NULL
 *   (as for transports written in Python or JavaScript), the options are
 *   not checked. It takes the second padding slot.
 *
 * The virtual methods of a transport.
 */
struct _MitogenTransportInterface
{
  GTypeInterface g_iface;

  GIOStream *(*open_stream) (MitogenTransport  *self,
                             GVariant          *options,
                             const char        *agent_path,
                             GCancellable      *cancellable,
                             GError           **error);
  gboolean   (*crosses_host) (MitogenTransport *self);
  const MitogenTransportOption *(*get_options) (MitogenTransport *self);

  /*< private >*/
  gpointer padding[6];
};

MITOGEN_AVAILABLE_IN_ALL
gboolean   mitogen_transport_options_get_timeout (GVariant  *options,
                                                  int        default_msec,
                                                  int       *out_msec,
                                                  GError   **error);
MITOGEN_AVAILABLE_IN_ALL
GIOStream *mitogen_transport_open_stream (MitogenTransport  *self,
                                          GVariant          *options,
                                          const char        *agent_path,
                                          GCancellable      *cancellable,
                                          GError           **error);
MITOGEN_AVAILABLE_IN_ALL
gboolean   mitogen_transport_crosses_host (MitogenTransport *self);
MITOGEN_AVAILABLE_IN_ALL
const MitogenTransportOption *mitogen_transport_get_options (MitogenTransport *self);
MITOGEN_AVAILABLE_IN_ALL
GVariant  *mitogen_transport_list_options (MitogenTransport *self);
MITOGEN_AVAILABLE_IN_ALL
gboolean   mitogen_transport_check_options (MitogenTransport  *self,
                                            const char        *transport_name,
                                            GVariant          *options,
                                            GError           **error);
MITOGEN_AVAILABLE_IN_ALL
gboolean   mitogen_transport_option_is_secret (const char *name);
MITOGEN_AVAILABLE_IN_ALL
void       mitogen_transport_options_wipe_secrets (GVariant *options);

G_END_DECLS
