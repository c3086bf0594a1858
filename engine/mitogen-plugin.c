/* mitogen-plugin.c: the plugin loader and the two extension points.
 *
 * A plugin is a shared module exporting mitogen_plugin_init(), which
 * registers its types with mitogen_register_transport() or
 * mitogen_register_serializer(). Plugins are looked for in
 * $MITOGEN_PLUGIN_PATH (ignored in setuid programs) and then in the
 * installed plugin directory. Types registered from Python or JavaScript
 * through introspection use the same calls.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <gmodule.h>
#include <sys/auxv.h>

#include "mitogen-private.h"
#include "mitogen-module-private.h"

typedef void (*MitogenPluginInitFunc) (void);

static GMutex plugin_lock;       /* held while a plugin loads */
static GPtrArray *search_dirs;    /* immutable once made; NULL-terminated */
static GHashTable *loaded_paths;  /* plugin_lock; files already loaded */
static const char *loading_path;  /* plugin_lock; the file whose init runs */

static void
ensure_extension_points (void)
{
  static gsize done = 0;

  if (g_once_init_enter (&done))
    {
      GIOExtensionPoint *ep;

      ep = g_io_extension_point_register (MITOGEN_TRANSPORT_EXTENSION_POINT_NAME);
      g_io_extension_point_set_required_type (ep, MITOGEN_TYPE_TRANSPORT);
      ep = g_io_extension_point_register (MITOGEN_SERIALIZER_EXTENSION_POINT_NAME);
      g_io_extension_point_set_required_type (ep, MITOGEN_TYPE_SERIALIZER);
      g_once_init_leave (&done, 1);
    }
}

/* The plugin directories: $MITOGEN_PLUGIN_PATH, then the installed one. */
static const char * const *
plugin_dirs (void)
{
  static gsize done = 0;

  if (g_once_init_enter (&done))
    {
      search_dirs = g_ptr_array_new ();
      /* Like GIO_MODULE_DIR, the variable is not trusted in setuid programs. */
      if (!getauxval (AT_SECURE) && g_getenv (MITOGEN_PLUGIN_PATH_ENV) != NULL)
        {
          g_auto(GStrv) dirs = g_strsplit (g_getenv (MITOGEN_PLUGIN_PATH_ENV),
                                           G_SEARCHPATH_SEPARATOR_S, 0);
          for (guint i = 0; dirs[i] != NULL; i++)
            if (dirs[i][0] != '\0')
              g_ptr_array_add (search_dirs, g_strdup (dirs[i]));
        }
      g_ptr_array_add (search_dirs, g_strdup (MITOGEN_PLUGIN_DIR));
      g_ptr_array_add (search_dirs, NULL);
      g_once_init_leave (&done, 1);
    }
  return (const char * const *) search_dirs->pdata;
}

/* Called with plugin_lock held. */
static void
load_plugin_file (const char *path)
{
  GModule *module;
  MitogenPluginInitFunc init = NULL;

  if (loaded_paths == NULL)
    loaded_paths = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  if (!g_hash_table_add (loaded_paths, g_strdup (path)))
    return;

  module = g_module_open (path, G_MODULE_BIND_LAZY | G_MODULE_BIND_LOCAL);
  if (module == NULL)
    {
      g_warning ("could not load plugin %s: %s", path, g_module_error ());
      return;
    }
  if (!g_module_symbol (module, "mitogen_plugin_init", (gpointer *) &init) || init == NULL)
    {
      g_warning ("plugin %s has no mitogen_plugin_init(); ignoring it", path);
      g_module_close (module);
      return;
    }
  /* Plugins register GTypes, which can never be unloaded. */
  g_module_make_resident (module);
  g_debug ("loading plugin %s", path);
  loading_path = path;
  init ();
  loading_path = NULL;
}

static gint
compare_names (gconstpointer a,
               gconstpointer b)
{
  return g_strcmp0 (*(char **) a, *(char **) b);
}

static void
load_plugin_dir (const char *dir_path)
{
  g_autoptr(GDir) dir = NULL;
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  const char *name;

  dir = g_dir_open (dir_path, 0, NULL);
  if (dir == NULL)
    return;
  while ((name = g_dir_read_name (dir)) != NULL)
    if (g_str_has_suffix (name, ".so"))
      g_ptr_array_add (names, g_strdup (name));
  /* Load in a stable order so that duplicate names resolve predictably. */
  g_ptr_array_sort (names, compare_names);
  for (guint i = 0; i < names->len; i++)
    {
      g_autofree char *path = g_build_filename (dir_path, names->pdata[i], NULL);
      load_plugin_file (path);
    }
}

/**
 * mitogen_plugins_ensure_loaded:
 *
 * Loads every plugin from `$MITOGEN_PLUGIN_PATH` and the installed plugin
 * directory, once per process. A plugin that fails to load is logged and
 * skipped. Called for you by the lookup functions.
 */
void
mitogen_plugins_ensure_loaded (void)
{
  static gsize done = 0;
  const char * const *dirs = plugin_dirs ();

  ensure_extension_points ();
  if (!g_once_init_enter (&done))
    return;

  g_mutex_lock (&plugin_lock);
  for (guint i = 0; dirs[i] != NULL; i++)
    load_plugin_dir (dirs[i]);
  g_mutex_unlock (&plugin_lock);

  g_once_init_leave (&done, 1);
}

/* Loads only the file that by convention provides @name of @kind
 * (mitogen-KIND-NAME.so), so that an agent starting up opens one plugin,
 * not all of them. */
static void
load_named_plugin (const char *kind,
                   const char *name)
{
  const char * const *dirs = plugin_dirs ();
  g_autofree char *file = g_strdup_printf ("mitogen-%s-%s.so", kind, name);

  if (strchr (name, '/') != NULL)
    return;
  g_mutex_lock (&plugin_lock);
  for (guint i = 0; dirs[i] != NULL; i++)
    {
      g_autofree char *path = g_build_filename (dirs[i], file, NULL);

      if (g_file_test (path, G_FILE_TEST_EXISTS))
        {
          load_plugin_file (path);
          break;
        }
    }
  g_mutex_unlock (&plugin_lock);
}

static void
register_on (const char *point,
             GType       type,
             const char *name,
             gint        priority)
{
  ensure_extension_points ();
  g_io_extension_point_implement (point, type, name, priority);
  /* Remember the file, to send it to contexts that lack the plugin. Only
   * the loader thread sets loading_path, under plugin_lock. */
  if (loading_path != NULL)
    _mitogen_module_note_plugin (g_str_equal (point, MITOGEN_TRANSPORT_EXTENSION_POINT_NAME)
                                 ? "transport" : "serializer", name, loading_path);
}

/**
 * mitogen_register_transport:
 * @type: a #GType implementing #MitogenTransport
 * @name: the name callers connect with ("local", "ssh")
 * @priority: the higher wins when two types claim @name
 *
 * Registers a transport. Plugins call this from mitogen_plugin_init();
 * programs and bindings may call it to add their own.
 */
void
mitogen_register_transport (GType       type,
                            const char *name,
                            gint        priority)
{
  g_return_if_fail (g_type_is_a (type, MITOGEN_TYPE_TRANSPORT));
  g_return_if_fail (name != NULL);

  register_on (MITOGEN_TRANSPORT_EXTENSION_POINT_NAME, type, name, priority);
}

/**
 * mitogen_register_serializer:
 * @type: a #GType implementing #MitogenSerializer
 * @name: the name streams select it by ("gvariant", "json")
 * @priority: the higher wins when two types claim @name
 *
 * Registers a serializer.
 */
void
mitogen_register_serializer (GType       type,
                             const char *name,
                             gint        priority)
{
  g_return_if_fail (g_type_is_a (type, MITOGEN_TYPE_SERIALIZER));
  g_return_if_fail (name != NULL);

  register_on (MITOGEN_SERIALIZER_EXTENSION_POINT_NAME, type, name, priority);
}

static char *
describe_search_path (void)
{
  return g_strjoinv (", ", (char **) plugin_dirs ());
}

/* The extension of @point registered as @name, or NULL. The list is sorted
 * by priority; g_io_extension_point_get_extension_by_name() would return
 * the first registered instead. */
static GIOExtension *
find_extension (const char *point_name,
                const char *name)
{
  GIOExtensionPoint *point = g_io_extension_point_lookup (point_name);

  for (GList *l = g_io_extension_point_get_extensions (point); l != NULL; l = l->next)
    if (g_strcmp0 (g_io_extension_get_name (l->data), name) == 0)
      return l->data;
  return NULL;
}

static GObject *
lookup (const char  *point_name,
        const char  *kind,
        const char  *name,
        GError     **error)
{
  GIOExtension *best;

  ensure_extension_points ();
  best = find_extension (point_name, name);
  if (best == NULL)
    {
      load_named_plugin (kind, name);
      best = find_extension (point_name, name);
    }
  if (best == NULL)
    {
      mitogen_plugins_ensure_loaded ();
      best = find_extension (point_name, name);
    }
  if (best == NULL)
    {
      g_autofree char *dirs = describe_search_path ();
      g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_FAILED,
                   "no %s plugin named '%s' (searched: %s; set %s to add a directory)",
                   kind, name, dirs, MITOGEN_PLUGIN_PATH_ENV);
      return NULL;
    }
  return g_object_new (g_io_extension_get_type (best), NULL);
}

/**
 * mitogen_transport_lookup:
 * @name: a transport name, such as "local"
 * @error: return location for an error
 *
 * Finds the transport plugin called @name, loading the plugins on first
 * use, and creates an instance of it.
 *
 * Returns: (transfer full): a new instance of the transport named @name,
 *   or %NULL with @error naming it when no plugin provides it
 */
MitogenTransport *
mitogen_transport_lookup (const char  *name,
                          GError     **error)
{
  g_return_val_if_fail (name != NULL, NULL);

  return (MitogenTransport *) lookup (MITOGEN_TRANSPORT_EXTENSION_POINT_NAME,
                                      "transport", name, error);
}

/**
 * mitogen_serializer_lookup:
 * @name: a serializer name, such as "gvariant"
 * @error: return location for an error
 *
 * Finds the serializer plugin called @name, loading the plugins on first
 * use, and creates an instance of it.
 *
 * Returns: (transfer full): a new instance of the serializer named @name,
 *   or %NULL with @error naming it when no plugin provides it
 */
MitogenSerializer *
mitogen_serializer_lookup (const char  *name,
                           GError     **error)
{
  g_return_val_if_fail (name != NULL, NULL);

  return (MitogenSerializer *) lookup (MITOGEN_SERIALIZER_EXTENSION_POINT_NAME,
                                       "serializer", name, error);
}

static char **
list_names (const char *point_name)
{
  GPtrArray *names = g_ptr_array_new ();

  mitogen_plugins_ensure_loaded ();
  for (GList *l = g_io_extension_point_get_extensions (g_io_extension_point_lookup (point_name));
       l != NULL; l = l->next)
    {
      const char *name = g_io_extension_get_name (l->data);
      gboolean seen = FALSE;

      for (guint i = 0; i < names->len && !seen; i++)
        seen = g_str_equal (names->pdata[i], name);
      if (!seen)
        g_ptr_array_add (names, g_strdup (name));
    }
  g_ptr_array_add (names, NULL);
  return (char **) g_ptr_array_free (names, FALSE);
}

/**
 * mitogen_list_transports:
 *
 * Lists the transports that can be used in this process: those found in
 * the plugin directories and those registered with
 * mitogen_register_transport().
 *
 * Returns: (transfer full) (array zero-terminated=1): the names of every
 *   transport registered
 */
char **
mitogen_list_transports (void)
{
  return list_names (MITOGEN_TRANSPORT_EXTENSION_POINT_NAME);
}

/**
 * mitogen_list_serializers:
 *
 * Lists the serializers that can be used in this process: those found in
 * the plugin directories and those registered with
 * mitogen_register_serializer().
 *
 * Returns: (transfer full) (array zero-terminated=1): the names of every
 *   serializer registered
 */
char **
mitogen_list_serializers (void)
{
  return list_names (MITOGEN_SERIALIZER_EXTENSION_POINT_NAME);
}
