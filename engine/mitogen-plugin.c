/* mitogen-plugin.c: the plugin loader and the two extension points.
 *
 * A plugin is a shared module exporting mitogen_plugin_init(), which
 * registers its types with mitogen_register_transport() or
 * mitogen_register_serializer(), and mitogen_plugin_abi_version, which
 * must equal our MITOGEN_ABI_VERSION (MITOGEN_DEFINE_PLUGIN() defines
 * both). Plugins are looked for in $MITOGEN_PLUGIN_PATH (ignored in setuid
 * programs) and then in the installed plugin directory. Types registered
 * from Python or JavaScript through introspection use the same calls.
 *
 * The "gvariant" serializer and the "local" transport are compiled in and
 * registered on the same extension points when they are created, before
 * any directory is looked at (as GIO registers its own implementations
 * before it scans for modules): a process with no plugin directory can
 * still start local contexts and talk to them.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <gmodule.h>
#include <sys/auxv.h>

#include "mitogen-private.h"
#include "mitogen-plugin-private.h"

static GMutex plugin_lock;       /* held while a plugin loads */
static GPtrArray *search_dirs;    /* immutable once made; NULL-terminated */
static GHashTable *loaded_paths;  /* plugin_lock; file tried → NULL when it
                                   * loaded, else why it did not */
static const char *loading_path;  /* plugin_lock; the file whose init runs */
static GHashTable *plugin_files;  /* plugin_lock; "kind:name" → the file it came from */

/* The implementations compiled into the engine, at the priority a plugin
 * gets by default: a plugin may still replace one by registering the same
 * name with a higher priority. */
static void
register_builtins (void)
{
  g_io_extension_point_implement (MITOGEN_SERIALIZER_EXTENSION_POINT_NAME,
                                  MITOGEN_TYPE_SERIALIZER_GVARIANT, "gvariant", 0);
  g_io_extension_point_implement (MITOGEN_TRANSPORT_EXTENSION_POINT_NAME,
                                  MITOGEN_TYPE_TRANSPORT_LOCAL, "local", 0);
}

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
      register_builtins ();
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

MitogenEntryFunc
_mitogen_entry_point_lookup (GModule           *module,
                             MitogenEntryKind   kind,
                             const char        *file,
                             GError           **error)
{
  const char *what = kind == MITOGEN_ENTRY_PLUGIN ? "plugin" : "module";
  const char *init_name = kind == MITOGEN_ENTRY_PLUGIN ? "mitogen_plugin_init"
                                                       : "mitogen_module_init";
  const char *abi_name = kind == MITOGEN_ENTRY_PLUGIN ? "mitogen_plugin_abi_version"
                                                      : "mitogen_module_abi_version";
  const char *define = kind == MITOGEN_ENTRY_PLUGIN ? "MITOGEN_DEFINE_PLUGIN"
                                                    : "MITOGEN_DEFINE_MODULE";
  gpointer init = NULL;
  gpointer abi = NULL;
  guint32 version;

  if (!g_module_symbol (module, init_name, &init) || init == NULL)
    {
      g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_FAILED,
                   "%s %s has no %s(); ignoring it", what, file, init_name);
      return NULL;
    }
  if (!g_module_symbol (module, abi_name, &abi) || abi == NULL)
    {
      g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_FAILED,
                   "%s %s has no %s: it was built for a libmitogen without ABI "
                   "versions (this one has ABI %u); rebuild it with %s()",
                   what, file, abi_name, (guint) MITOGEN_ABI_VERSION, define);
      return NULL;
    }
  version = *(const guint32 *) abi;
  if (version != MITOGEN_ABI_VERSION)
    {
      g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_FAILED,
                   "%s %s was built for libmitogen ABI %u, but this process has ABI %u; "
                   "rebuild it against this libmitogen",
                   what, file, (guint) version, (guint) MITOGEN_ABI_VERSION);
      return NULL;
    }
  return (MitogenEntryFunc) init;
}

/* Opens @path and runs its mitogen_plugin_init(). Called with
 * plugin_lock held. */
static gboolean
open_plugin_file (const char  *path,
                  GError     **error)
{
  g_autofree char *what = NULL;
  GModule *module;
  MitogenEntryFunc init;

  what = g_strdup_printf ("plugin %s", path);
  if (!_mitogen_loader_check_glib_file (what, path, error))
    return FALSE;
  module = g_module_open (path, G_MODULE_BIND_LAZY | G_MODULE_BIND_LOCAL);
  if (module == NULL)
    {
      g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_FAILED,
                   "could not load plugin %s: %s", path, g_module_error ());
      return FALSE;
    }
  init = _mitogen_entry_point_lookup (module, MITOGEN_ENTRY_PLUGIN, path, error);
  if (init == NULL)
    {
      g_module_close (module);
      return FALSE;
    }
  /* Plugins register GTypes, which can never be unloaded. */
  g_module_make_resident (module);
  g_debug ("loading plugin %s", path);
  loading_path = path;
  init ();
  loading_path = NULL;
  return TRUE;
}

/* Loads @path once per process; a failure is logged the first time and
 * remembered, so that a lookup naming the file can say why every time.
 * Returns FALSE with @error set when the file did not load, now or
 * before. Called with plugin_lock held. */
static gboolean
load_plugin_file (const char  *path,
                  GError     **error)
{
  g_autoptr(GError) local_error = NULL;
  const char *failure;

  if (loaded_paths == NULL)
    loaded_paths = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  if (g_hash_table_lookup_extended (loaded_paths, path, NULL, (gpointer *) &failure))
    {
      if (failure == NULL)
        return TRUE;
      g_set_error_literal (error, MITOGEN_ERROR, MITOGEN_ERROR_FAILED, failure);
      return FALSE;
    }

  if (open_plugin_file (path, &local_error))
    {
      g_hash_table_insert (loaded_paths, g_strdup (path), NULL);
      return TRUE;
    }
  g_warning ("%s", local_error->message);
  g_hash_table_insert (loaded_paths, g_strdup (path), g_strdup (local_error->message));
  g_propagate_error (error, g_steal_pointer (&local_error));
  return FALSE;
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

      /* Logged by the loader; a broken file must not stop the others. */
      load_plugin_file (path, NULL);
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
 * not all of them. Returns FALSE with @error set when that file exists
 * but does not load; TRUE when it loaded or there is none. */
static gboolean
load_named_plugin (const char  *kind,
                   const char  *name,
                   GError     **error)
{
  const char * const *dirs = plugin_dirs ();
  g_autofree char *file = g_strdup_printf ("mitogen-%s-%s.so", kind, name);
  gboolean ok = TRUE;

  if (strchr (name, '/') != NULL)
    return TRUE;
  g_mutex_lock (&plugin_lock);
  for (guint i = 0; dirs[i] != NULL; i++)
    {
      g_autofree char *path = g_build_filename (dirs[i], file, NULL);

      if (g_file_test (path, G_FILE_TEST_EXISTS))
        {
          ok = load_plugin_file (path, error);
          break;
        }
    }
  g_mutex_unlock (&plugin_lock);
  return ok;
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
    {
      if (plugin_files == NULL)
        plugin_files = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
      g_hash_table_replace (plugin_files,
                            g_strdup_printf ("%s:%s", g_str_equal (point, MITOGEN_TRANSPORT_EXTENSION_POINT_NAME)
                                             ? "transport" : "serializer", name),
                            g_strdup (loading_path));
    }
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

void
_mitogen_plugin_ensure_named (const char *kind,
                              const char *name)
{
  const char *point_name = g_str_equal (kind, "transport") ? MITOGEN_TRANSPORT_EXTENSION_POINT_NAME
                                                           : MITOGEN_SERIALIZER_EXTENSION_POINT_NAME;

  ensure_extension_points ();
  if (find_extension (point_name, name) != NULL)
    return;
  /* A failure was logged by the loader; the caller finds no file. */
  load_named_plugin (kind, name, NULL);
  if (find_extension (point_name, name) == NULL)
    mitogen_plugins_ensure_loaded ();
}

char *
_mitogen_plugin_dup_file (const char *qualified_name)
{
  const char *colon = strchr (qualified_name, ':');
  g_autofree char *kind = NULL;
  char *path = NULL;

  if (colon == NULL)
    return NULL;
  kind = g_strndup (qualified_name, colon - qualified_name);
  if (!g_str_equal (kind, "transport") && !g_str_equal (kind, "serializer"))
    return NULL;
  /* A process notes a plugin's file only when it loads it, and it need
   * not have used a transport itself to pass it on. */
  _mitogen_plugin_ensure_named (kind, colon + 1);
  g_mutex_lock (&plugin_lock);
  if (plugin_files != NULL)
    path = g_strdup (g_hash_table_lookup (plugin_files, qualified_name));
  g_mutex_unlock (&plugin_lock);
  return path;
}

/* A new instance of the type registered as @name, or NULL with @error
 * set: every way to fail sets it, whatever was registered. */
static GObject *
lookup (const char  *point_name,
        const char  *kind,
        const char  *name,
        GError     **error)
{
  g_autoptr(GError) load_error = NULL;
  GIOExtension *best;
  GType type;

  ensure_extension_points ();
  best = find_extension (point_name, name);
  if (best == NULL)
    {
      load_named_plugin (kind, name, &load_error);
      best = find_extension (point_name, name);
    }
  if (best == NULL)
    {
      mitogen_plugins_ensure_loaded ();
      best = find_extension (point_name, name);
    }
  if (best == NULL && load_error != NULL)
    {
      /* The file meant to provide it is there: say why it did not. */
      g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_FAILED,
                   "no %s plugin named '%s': %s", kind, name, load_error->message);
      return NULL;
    }
  if (best == NULL)
    {
      g_autofree char *dirs = describe_search_path ();
      g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_FAILED,
                   "no %s plugin named '%s' (searched: %s; set %s to add a directory)",
                   kind, name, dirs, MITOGEN_PLUGIN_PATH_ENV);
      return NULL;
    }
  /* Registration checks the interface, not that the type can be made:
   * g_object_new() on an abstract type returns NULL with only a critical. */
  type = g_io_extension_get_type (best);
  if (G_TYPE_IS_ABSTRACT (type))
    {
      g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_FAILED,
                   "the %s '%s' is registered with the abstract type %s, which has "
                   "no instances", kind, name, g_type_name (type));
      return NULL;
    }
  g_debug ("%s '%s': %s", kind, name, g_type_name (type));
  return g_object_new (type, NULL);
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
 *   or %NULL with @error set (naming @name, and the plugin file when it
 *   exists but would not load) when none can be made
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
 *   or %NULL with @error set (naming @name, and the plugin file when it
 *   exists but would not load) when none can be made
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
