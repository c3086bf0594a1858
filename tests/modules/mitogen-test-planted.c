/* mitogen-test-planted.c: a transport plugin as someone could plant it
 * in a directory of the same name on another host (test-ssh). It starts
 * nothing: asked for a stream, it fails saying where it ran, so that a
 * test knows which process loaded it.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <unistd.h>

#include <mitogen/mitogen.h>

#define TEST_TYPE_TRANSPORT_PLANTED (test_transport_planted_get_type ())
G_DECLARE_FINAL_TYPE (TestTransportPlanted, test_transport_planted, TEST, TRANSPORT_PLANTED, GObject)
struct _TestTransportPlanted { GObject parent_instance; };

static void test_transport_planted_iface_init (MitogenTransportInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (TestTransportPlanted, test_transport_planted, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (MITOGEN_TYPE_TRANSPORT,
                                                      test_transport_planted_iface_init))

static GIOStream *
planted_open_stream (MitogenTransport  *transport,
                     GVariant          *options,
                     const char        *agent_path,
                     GCancellable      *cancellable,
                     GError           **error)
{
  g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_FAILED,
               "the planted plugin ran in process %d", (int) getpid ());
  return NULL;
}

static void
test_transport_planted_iface_init (MitogenTransportInterface *iface)
{
  iface->open_stream = planted_open_stream;
}

static void test_transport_planted_class_init (TestTransportPlantedClass *klass) { }
static void test_transport_planted_init (TestTransportPlanted *self) { }

static void
register_types (void)
{
  mitogen_register_transport (TEST_TYPE_TRANSPORT_PLANTED, "planted", 0);
}

MITOGEN_DEFINE_PLUGIN (register_types)
