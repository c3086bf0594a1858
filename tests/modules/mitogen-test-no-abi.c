/* mitogen-test-no-abi.c: a user module as written before ABI versions:
 * an entry point and no mitogen_module_abi_version. The loader must refuse
 * it and say how to fix it; had it run, "noabi.loaded" would exist.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <mitogen/mitogen.h>

static GVariant *
no_abi_loaded (MitogenCall *call, GVariant *args, gpointer data, GError **error)
{
  return g_variant_new_boolean (TRUE);
}

void
mitogen_module_init (void)
{
  mitogen_register_function ("noabi.loaded", no_abi_loaded, NULL, NULL);
}
