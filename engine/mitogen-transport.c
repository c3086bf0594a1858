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

/**
 * mitogen_transport_crosses_host:
 * @self: a transport
 *
 * Tells whether the agents @self starts run on another host, where the
 * paths and settings of this machine mean nothing. A context started by
 * such a transport is not told this process's `MITOGEN_PLUGIN_PATH`
 * unless the "plugin_path" option is given.
 *
 * Returns: what the transport's `crosses_host` method says, or %FALSE for
 *   a transport without one
 */
gboolean
mitogen_transport_crosses_host (MitogenTransport *self)
{
  MitogenTransportInterface *iface;

  g_return_val_if_fail (MITOGEN_IS_TRANSPORT (self), FALSE);

  iface = MITOGEN_TRANSPORT_GET_IFACE (self);
  return iface->crosses_host != NULL && iface->crosses_host (self);
}

/**
 * mitogen_transport_options_get_timeout:
 * @options: (nullable): a transport's options, an `a{sv}`
 * @default_msec: what to use when "connect_timeout" is absent
 * @out_msec: (out): the timeout in milliseconds
 * @error: return location for an error
 *
 * Reads the "connect_timeout" option every transport shares: seconds, as a
 * double or an integer, more than 0 and at most a day. Transports use it to
 * bound their own work (a password prompt, an SSH handshake).
 *
 * Returns: %TRUE, or %FALSE with @error set for a bad value
 */
gboolean
mitogen_transport_options_get_timeout (GVariant  *options,
                                       int        default_msec,
                                       int       *out_msec,
                                       GError   **error)
{
  g_autoptr(GVariant) v = NULL;
  double seconds;

  *out_msec = default_msec;
  if (options == NULL || (v = g_variant_lookup_value (options, "connect_timeout", NULL)) == NULL)
    return TRUE;
  if (g_variant_is_of_type (v, G_VARIANT_TYPE_DOUBLE))
    seconds = g_variant_get_double (v);
  else if (g_variant_is_of_type (v, G_VARIANT_TYPE_INT32))
    seconds = g_variant_get_int32 (v);
  else if (g_variant_is_of_type (v, G_VARIANT_TYPE_UINT32))
    seconds = g_variant_get_uint32 (v);
  else if (g_variant_is_of_type (v, G_VARIANT_TYPE_INT64))
    seconds = g_variant_get_int64 (v);
  else
    {
      g_set_error_literal (error, MITOGEN_ERROR, MITOGEN_ERROR_FAILED,
                           "option “connect_timeout” must be a number of seconds");
      return FALSE;
    }
  if (!(seconds > 0) || seconds > 24 * 3600)
    {
      g_set_error_literal (error, MITOGEN_ERROR, MITOGEN_ERROR_FAILED,
                           "option “connect_timeout” must be between 0 and 86400 seconds");
      return FALSE;
    }
  *out_msec = (int) (seconds * 1000);
  return TRUE;
}
