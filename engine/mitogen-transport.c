/* mitogen-transport.c: the interface every transport implements.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "mitogen-private.h"

/**
 * MitogenTransport:
 *
 * Starts an agent somewhere (a local process, another user, another host)
 * and hands back a #GIOStream connected to its standard input and output.
 * Transports are plugins registered on the
 * %MITOGEN_TRANSPORT_EXTENSION_POINT_NAME extension point; the router does
 * the rest (bootstrap, routing).
 */
G_DEFINE_INTERFACE (MitogenTransport, mitogen_transport, G_TYPE_OBJECT)

static void
mitogen_transport_default_init (MitogenTransportInterface *iface)
{
}

/**
 * mitogen_transport_open_stream:
 * @self: a transport
 * @options: (nullable): the transport's options, an `a{sv}`
 * @agent_path: the agent program to start
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for an error
 *
 * Starts the agent and returns a stream to it. May block; the router calls
 * it from a worker thread.
 *
 * Returns: (transfer full): the stream, or %NULL with @error set
 */
GIOStream *
mitogen_transport_open_stream (MitogenTransport  *self,
                               GVariant          *options,
                               const char        *agent_path,
                               GCancellable      *cancellable,
                               GError           **error)
{
  MitogenTransportInterface *iface;

  g_return_val_if_fail (MITOGEN_IS_TRANSPORT (self), NULL);

  iface = MITOGEN_TRANSPORT_GET_IFACE (self);
  if (iface->open_stream == NULL)
    {
      g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_FAILED,
                   "transport %s does not implement open_stream", G_OBJECT_TYPE_NAME (self));
      return NULL;
    }
  return iface->open_stream (self, options, agent_path, cancellable, error);
}
