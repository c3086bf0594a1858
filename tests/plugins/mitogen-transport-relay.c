/* mitogen-transport-relay.c: a transport plugin that only the tests have.
 * It starts agents the way the built-in "local" transport does, by asking
 * it to; being a plugin file, it is what a context lacking a plugin fetches
 * from the master (test-via). Its directory is in the tests'
 * MITOGEN_PLUGIN_PATH and nowhere else.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <mitogen/mitogen.h>

#define TEST_TYPE_TRANSPORT_RELAY (test_transport_relay_get_type ())
G_DECLARE_FINAL_TYPE (TestTransportRelay, test_transport_relay, TEST, TRANSPORT_RELAY, GObject)
struct _TestTransportRelay { GObject parent_instance; };

static void test_transport_relay_iface_init (MitogenTransportInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (TestTransportRelay, test_transport_relay, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (MITOGEN_TYPE_TRANSPORT,
                                                      test_transport_relay_iface_init))

static GIOStream *
relay_open_stream (MitogenTransport  *transport,
                   GVariant          *options,
                   const char        *agent_path,
                   GCancellable      *cancellable,
                   GError           **error)
{
  g_autoptr(MitogenTransport) local = mitogen_transport_lookup ("local", error);

  if (local == NULL)
    return NULL;
  return mitogen_transport_open_stream (local, options, agent_path, cancellable, error);
}

static void
test_transport_relay_iface_init (MitogenTransportInterface *iface)
{
  iface->open_stream = relay_open_stream;
}

static void test_transport_relay_class_init (TestTransportRelayClass *klass) { }
static void test_transport_relay_init (TestTransportRelay *self) { }

static void
register_types (void)
{
  mitogen_register_transport (TEST_TYPE_TRANSPORT_RELAY, "relay", 0);
}

MITOGEN_DEFINE_PLUGIN (register_types)
