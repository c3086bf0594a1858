/* mitogen-plugin.h
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
 * MITOGEN_PLUGIN_PATH_ENV:
 *
 * The environment variable listing extra plugin directories, separated by
 * colons. It is ignored in setuid programs.
 */
#define MITOGEN_PLUGIN_PATH_ENV "MITOGEN_PLUGIN_PATH"

/**
 * MITOGEN_ABI_VERSION:
 *
 * The version of the binary interface between libmitogen and the shared
 * objects it loads: plugins and user modules. An object records the
 * version it was compiled against (MITOGEN_DEFINE_PLUGIN() and
 * MITOGEN_DEFINE_MODULE() do it), and the loader refuses one whose version
 * differs from its own, naming the file and both versions. It changes
 * whenever a release breaks objects built against an earlier one.
 */
#define MITOGEN_ABI_VERSION 1

/**
 * mitogen_plugin_init: (skip)
 *
 * The entry point of a plugin: a shared object in a plugin directory
 * (see %MITOGEN_PLUGIN_PATH_ENV) named `mitogen-transport-NAME.so` or
 * `mitogen-serializer-NAME.so`. It is called once, when the plugin loads,
 * and registers the plugin's types with mitogen_register_transport() or
 * mitogen_register_serializer(). It runs with the plugin loader's lock
 * held, so it must not look transports or serializers up.
 *
 * A plugin does not write this function itself: MITOGEN_DEFINE_PLUGIN()
 * defines it together with %mitogen_plugin_abi_version. It is declared
 * here so that the signature is checked where it is defined.
 */
G_MODULE_EXPORT void mitogen_plugin_init (void);

/**
 * mitogen_plugin_abi_version: (skip)
 *
 * The %MITOGEN_ABI_VERSION a plugin was compiled against, exported next to
 * mitogen_plugin_init(). Defined by MITOGEN_DEFINE_PLUGIN().
 */
G_MODULE_EXPORT extern const guint32 mitogen_plugin_abi_version;

/**
 * mitogen_module_init: (skip)
 *
 * The entry point of a user module, the shared object given to
 * mitogen_add_module(). It is called once in each process that loads the
 * module, and registers the module's functions with
 * mitogen_register_function() as "NAME.function". Defined, with
 * %mitogen_module_abi_version, by MITOGEN_DEFINE_MODULE().
 */
G_MODULE_EXPORT void mitogen_module_init (void);

/**
 * mitogen_module_abi_version: (skip)
 *
 * The %MITOGEN_ABI_VERSION a user module was compiled against, exported
 * next to mitogen_module_init(). Defined by MITOGEN_DEFINE_MODULE().
 */
G_MODULE_EXPORT extern const guint32 mitogen_module_abi_version;

/**
 * MITOGEN_DEFINE_PLUGIN:
 * @register_func: a `void (void)` function of the plugin that registers
 *   its types
 *
 * Defines a plugin's two exported symbols: mitogen_plugin_init(), which
 * calls @register_func, and %mitogen_plugin_abi_version. Use it once, at
 * file scope, without a semicolon:
 *
 * |[<!-- language="C" -->
 * static void
 * register_types (void)
 * {
 *   mitogen_register_transport (MY_TYPE_TRANSPORT, "mine", 0);
 * }
 *
 * MITOGEN_DEFINE_PLUGIN (register_types)
 * ]|
 *
 * Build plugins with `-fvisibility=hidden` so that these two symbols are
 * all they export.
 */
#define MITOGEN_DEFINE_PLUGIN(register_func) \
  const guint32 mitogen_plugin_abi_version = MITOGEN_ABI_VERSION; \
  void \
  mitogen_plugin_init (void) \
  { \
    register_func (); \
  }

/**
 * MITOGEN_DEFINE_MODULE:
 * @register_func: a `void (void)` function of the module that registers
 *   its functions
 *
 * Defines a user module's two exported symbols: mitogen_module_init(),
 * which calls @register_func, and %mitogen_module_abi_version. Use it
 * once, at file scope, without a semicolon, as MITOGEN_DEFINE_PLUGIN().
 */
#define MITOGEN_DEFINE_MODULE(register_func) \
  const guint32 mitogen_module_abi_version = MITOGEN_ABI_VERSION; \
  void \
  mitogen_module_init (void) \
  { \
    register_func (); \
  }

MITOGEN_AVAILABLE_IN_ALL
void               mitogen_plugins_ensure_loaded  (void);
MITOGEN_AVAILABLE_IN_ALL
void               mitogen_register_transport     (GType        type,
                                                   const char  *name,
                                                   gint         priority);
MITOGEN_AVAILABLE_IN_ALL
void               mitogen_register_serializer    (GType        type,
                                                   const char  *name,
                                                   gint         priority);
MITOGEN_AVAILABLE_IN_ALL
MitogenTransport  *mitogen_transport_lookup       (const char  *name,
                                                   GError     **error);
MITOGEN_AVAILABLE_IN_ALL
MitogenSerializer *mitogen_serializer_lookup      (const char  *name,
                                                   GError     **error);
MITOGEN_AVAILABLE_IN_ALL
char             **mitogen_list_transports        (void);
MITOGEN_AVAILABLE_IN_ALL
char             **mitogen_list_serializers       (void);

G_END_DECLS
