/* mitogen-plugin-private.h: the in-tree plugins and the entry-point check.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gmodule.h>

#include "mitogen-private.h"

G_BEGIN_DECLS

/* The default serializer and the local transport are compiled into the
 * engine; mitogen-plugin.c registers them on the extension points before
 * it looks at any plugin directory. */
#define MITOGEN_TYPE_SERIALIZER_GVARIANT (mitogen_serializer_gvariant_get_type ())
G_DECLARE_FINAL_TYPE (MitogenSerializerGVariant, mitogen_serializer_gvariant,
                      MITOGEN, SERIALIZER_GVARIANT, GObject)

#define MITOGEN_TYPE_TRANSPORT_LOCAL (mitogen_transport_local_get_type ())
G_DECLARE_FINAL_TYPE (MitogenTransportLocal, mitogen_transport_local,
                      MITOGEN, TRANSPORT_LOCAL, GObject)

/* What kind of loadable object an entry point belongs to: it decides the
 * symbols looked up ("mitogen_plugin_init" and
 * "mitogen_plugin_abi_version", or the "mitogen_module_" pair). */
typedef enum
{
  MITOGEN_ENTRY_PLUGIN,
  MITOGEN_ENTRY_MODULE,
} MitogenEntryKind;

typedef void (*MitogenEntryFunc) (void);

/* The init function of @module, after checking that it was built for this
 * engine's MITOGEN_ABI_VERSION. @file names the object in the error (a
 * path, or a module name when the bytes came from the parent). Returns
 * NULL with @error set (MITOGEN_ERROR_FAILED) when either symbol is
 * missing or the versions differ. */
MitogenEntryFunc _mitogen_entry_point_lookup (GModule           *module,
                                              MitogenEntryKind   kind,
                                              const char        *file,
                                              GError           **error);

/* Loads the plugin providing @name of @kind ("transport", "serializer")
 * unless something provides it already, so that the loader notes its file
 * (_mitogen_plugin_dup_file()) for contexts that ask for it. Blocks
 * briefly on the plugin lock; any thread. */
void _mitogen_plugin_ensure_named (const char *kind,
                                   const char *name);

/* The file the plugin "transport:NAME" or "serializer:NAME" was loaded
 * from, loading it first if need be; NULL when built in or not found. */
char *_mitogen_plugin_dup_file     (const char *qualified_name);

/* Makes _mitogen_loader_check_glib() refuse objects that bring their own
 * GLib: mitogen-agent-static calls it first thing, having GLib built in
 * (mitogen-loader-glib.c). */
void     _mitogen_loader_refuse_own_glib (void);

/* Unless _mitogen_loader_refuse_own_glib() was called, TRUE. Else FALSE
 * with @error set (MITOGEN_ERROR_FAILED, naming @what) when the shared
 * object @data, or a library it needs that is not loaded yet, names a GLib
 * library in its dynamic section. The _file variant reads @path. */
gboolean _mitogen_loader_check_glib      (const char    *what,
                                          const guint8  *data,
                                          gsize          len,
                                          GError       **error);
gboolean _mitogen_loader_check_glib_file (const char    *what,
                                          const char    *path,
                                          GError       **error);

G_END_DECLS
