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

  /*< private >*/
  gpointer padding[8];
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

G_END_DECLS
