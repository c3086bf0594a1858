/* mitogen-test-bad-abi.c: a plugin and a user module in one object, both
 * claiming an ABI version other than this libmitogen's, as an object built
 * against another release would. The loader must refuse it: had either
 * entry point run, "badabi" would be a transport and "badabi.loaded" a
 * function, and the tests check that neither exists.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <mitogen/mitogen.h>

#define TEST_TYPE_BAD_ABI_TRANSPORT (test_bad_abi_transport_get_type ())
G_DECLARE_FINAL_TYPE (TestBadAbiTransport, test_bad_abi_transport, TEST, BAD_ABI_TRANSPORT, GObject)
struct _TestBadAbiTransport { GObject parent_instance; };

static void test_bad_abi_transport_iface_init (MitogenTransportInterface *iface) { }

G_DEFINE_FINAL_TYPE_WITH_CODE (TestBadAbiTransport, test_bad_abi_transport, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (MITOGEN_TYPE_TRANSPORT,
                                                      test_bad_abi_transport_iface_init))
static void test_bad_abi_transport_class_init (TestBadAbiTransportClass *klass) { }
static void test_bad_abi_transport_init (TestBadAbiTransport *self) { }

static GVariant *
bad_abi_loaded (MitogenCall *call, GVariant *args, gpointer data, GError **error)
{
  return g_variant_new_boolean (TRUE);
}

/* Written out by hand rather than with MITOGEN_DEFINE_PLUGIN(), which
 * would record the right version. */
const guint32 mitogen_plugin_abi_version = MITOGEN_ABI_VERSION + 1;
const guint32 mitogen_module_abi_version = MITOGEN_ABI_VERSION + 1;

void
mitogen_plugin_init (void)
{
  mitogen_register_transport (TEST_TYPE_BAD_ABI_TRANSPORT, "badabi", 0);
}

void
mitogen_module_init (void)
{
  mitogen_register_function ("badabi.loaded", bad_abi_loaded, NULL, NULL);
}
