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

  /*< private >*/
  gpointer padding[7];
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

G_END_DECLS
