/* mitogen-test-own-glib.c: a user module linked with the shared GLib,
 * GObject and GIO, as modules were built before plugins took GLib's
 * headers only. The master and the dynamic agent load it; the static
 * agent, which has GLib built in, must refuse it (test-static-agent).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <mitogen/mitogen.h>

/* ownglib.type_name () → s: a GType's name, so that the module needs
 * libgobject (and --as-needed keeps it in its dynamic section). */
static GVariant *
own_glib_type_name (MitogenCall *call, GVariant *args, gpointer data, GError **error)
{
  return g_variant_new_string (g_type_name (G_TYPE_OBJECT));
}

static void
register_functions (void)
{
  mitogen_register_function ("ownglib.type_name", own_glib_type_name, NULL, NULL);
}

MITOGEN_DEFINE_MODULE (register_functions)
