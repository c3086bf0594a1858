/* mitogen-module.c: code that travels to contexts on demand.
 *
 * A context asked to run "mod.func" that it lacks, or to start a context
 * with a transport it lacks, asks its parent for the shared object
 * (GET_MODULE). The master answers from the files it knows; every hop
 * keeps what it passed on, so each object crosses each stream once. The
 * agent loads the bytes from a memfd, so nothing is written to the target's
 * disk, after checking they were built for its machine.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#define _GNU_SOURCE
#include "config.h"

#include <elf.h>
#include <errno.h>
#include <gmodule.h>
#include <sys/mman.h>
#include <unistd.h>

#include "mitogen-message-private.h"
#include "mitogen-module-private.h"
#include "mitogen-plugin-private.h"
#include "mitogen-request-private.h"

#define FETCH_TIMEOUT_MSEC 60000

static GMutex module_lock;
static GHashTable *module_files;   /* module_lock; name → path of a local file */
static GHashTable *module_bytes;   /* module_lock; name → GBytes fetched or read */
static GHashTable *module_loaded;  /* module_lock; set of names loaded here */

static void
ensure_tables_unlocked (void)
{
  if (module_files == NULL)
    {
      module_files = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
      module_bytes = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                            (GDestroyNotify) g_bytes_unref);
      module_loaded = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
    }
}

/**
 * mitogen_add_module:
 * @name: the module's name: its functions are called "NAME.function"
 * @path: a shared object defining its entry point with
 *   MITOGEN_DEFINE_MODULE(), built against this version of mitogen-1.0
 *   (see %MITOGEN_ABI_VERSION) for the machines it will run on
 * @error: return location for an error
 *
 * Offers a module to the contexts this process starts: a context asked to
 * run "NAME.function" that lacks it fetches the object through its parents
 * and loads it. The module is also loaded here, so this process can run
 * its functions too.
 *
 * Returns: %TRUE when the file exists and loaded here; %FALSE with @error
 *   set otherwise, for instance when it was built for another
 *   %MITOGEN_ABI_VERSION
 */
gboolean
mitogen_add_module (const char  *name,
                    const char  *path,
                    GError     **error)
{
  g_autoptr(GBytes) bytes = NULL;
  g_autofree char *contents = NULL;
  gsize len = 0;

  g_return_val_if_fail (name != NULL && strchr (name, '.') == NULL, FALSE);
  g_return_val_if_fail (path != NULL, FALSE);

  if (!g_file_get_contents (path, &contents, &len, error))
    return FALSE;
  bytes = g_bytes_new_take (g_steal_pointer (&contents), len);

  g_mutex_lock (&module_lock);
  ensure_tables_unlocked ();
  g_hash_table_replace (module_files, g_strdup (name), g_strdup (path));
  g_hash_table_replace (module_bytes, g_strdup (name), g_bytes_ref (bytes));
  g_mutex_unlock (&module_lock);

  return _mitogen_module_ensure (NULL, name, NULL, error);
}

/* The bytes of @name if this process has them (or has the file). */
static GBytes *
lookup_bytes (const char *name)
{
  GBytes *bytes;
  g_autofree char *path = NULL;

  g_mutex_lock (&module_lock);
  ensure_tables_unlocked ();
  bytes = g_hash_table_lookup (module_bytes, name);
  if (bytes != NULL)
    bytes = g_bytes_ref (bytes);
  path = g_strdup (g_hash_table_lookup (module_files, name));
  g_mutex_unlock (&module_lock);
  /* A plugin's file is known to the loader, which loads it if need be. */
  if (bytes == NULL && path == NULL)
    path = _mitogen_plugin_dup_file (name);

  if (bytes == NULL && path != NULL)
    {
      g_autofree char *contents = NULL;
      gsize len;

      if (g_file_get_contents (path, &contents, &len, NULL))
        {
          bytes = g_bytes_new_take (g_steal_pointer (&contents), len);
          g_mutex_lock (&module_lock);
          g_hash_table_replace (module_bytes, g_strdup (name), g_bytes_ref (bytes));
          g_mutex_unlock (&module_lock);
        }
    }
  return bytes;
}

static void
remember_bytes (const char *name,
                GBytes     *bytes)
{
  g_mutex_lock (&module_lock);
  ensure_tables_unlocked ();
  g_hash_table_replace (module_bytes, g_strdup (name), g_bytes_ref (bytes));
  g_mutex_unlock (&module_lock);
}

static const char *
machine_name (guint16 machine)
{
  switch (machine)
    {
    case EM_X86_64: return "x86_64";
    case EM_386: return "i386";
    case EM_AARCH64: return "aarch64";
    case EM_ARM: return "arm";
    case EM_PPC64: return "ppc64";
    case EM_S390: return "s390x";
    case EM_RISCV: return "riscv";
    default: return "another machine";
    }
}

/* Refuses bytes that are not a shared object for this machine. */
static gboolean
check_elf (const char  *name,
           GBytes      *bytes,
           GError     **error)
{
  gsize len;
  const guint8 *p = g_bytes_get_data (bytes, &len);
  guint16 machine;
  guint16 own = 0;
  guint8 own_class = 0;

#if defined(__x86_64__)
  own = EM_X86_64, own_class = ELFCLASS64;
#elif defined(__i386__)
  own = EM_386, own_class = ELFCLASS32;
#elif defined(__aarch64__)
  own = EM_AARCH64, own_class = ELFCLASS64;
#elif defined(__arm__)
  own = EM_ARM, own_class = ELFCLASS32;
#endif

  if (len < sizeof (Elf32_Ehdr) || memcmp (p, ELFMAG, SELFMAG) != 0)
    {
      g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_FAILED,
                   "module %s is not a shared object (no ELF header)", name);
      return FALSE;
    }
  /* e_machine sits at the same offset in 32- and 64-bit headers. */
  machine = p[EI_DATA] == ELFDATA2MSB ? (p[18] << 8 | p[19]) : (p[19] << 8 | p[18]);
  if (own != 0 && (machine != own || p[EI_CLASS] != own_class))
    {
      g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_FAILED,
                   "module %s is built for %s (%d-bit), but this context runs on %s",
                   name, machine_name (machine), p[EI_CLASS] == ELFCLASS64 ? 64 : 32,
                   machine_name (own));
      return FALSE;
    }
  return TRUE;
}

/* How errors name the object @name: its file when this process has one,
 * else where its bytes came from. */
static char *
describe_origin (const char *name)
{
  const char *file;
  char *description;

  g_mutex_lock (&module_lock);
  ensure_tables_unlocked ();
  file = g_hash_table_lookup (module_files, name);
  description = file != NULL ? g_strdup_printf ("%s (%s)", name, file)
                             : g_strdup_printf ("%s (from the parent context)", name);
  g_mutex_unlock (&module_lock);
  return description;
}

/* Loads @bytes from a memfd and runs its init function. */
static gboolean
load_bytes (const char  *name,
            GBytes      *bytes,
            GError     **error)
{
  MitogenEntryKind kind = strchr (name, ':') != NULL ? MITOGEN_ENTRY_PLUGIN : MITOGEN_ENTRY_MODULE;
  g_autofree char *path = NULL;
  g_autofree char *origin = NULL;
  g_autofree char *what = NULL;
  g_autoptr(GError) local_error = NULL;
  MitogenEntryFunc init;
  GModule *module;
  gsize len;
  const guint8 *p = g_bytes_get_data (bytes, &len);
  int fd;

  if (!check_elf (name, bytes, error))
    return FALSE;
  origin = describe_origin (name);
  what = g_strdup_printf ("%s %s", kind == MITOGEN_ENTRY_PLUGIN ? "plugin" : "module", origin);
  if (!_mitogen_loader_check_glib (what, p, len, error))
    return FALSE;

  fd = memfd_create (name, MFD_CLOEXEC);
  if (fd < 0)
    {
      g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_FAILED,
                   "module %s: memfd_create: %s", name, g_strerror (errno));
      return FALSE;
    }
  for (gsize done = 0; done < len;)
    {
      ssize_t n = write (fd, p + done, len - done);

      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        {
          g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_FAILED,
                       "module %s: writing its memfd: %s", name, g_strerror (errno));
          close (fd);
          return FALSE;
        }
      done += n;
    }

  path = g_strdup_printf ("/proc/self/fd/%d", fd);
  module = g_module_open (path, G_MODULE_BIND_LAZY | G_MODULE_BIND_LOCAL);
  /* The mapping keeps the code; the fd is no longer needed. */
  close (fd);
  if (module == NULL)
    {
      g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_FAILED,
                   "module %s could not be loaded: %s", name, g_module_error ());
      return FALSE;
    }
  init = _mitogen_entry_point_lookup (module, kind, origin, &local_error);
  if (init == NULL)
    {
      g_warning ("%s", local_error->message);
      g_propagate_error (error, g_steal_pointer (&local_error));
      g_module_close (module);
      return FALSE;
    }
  g_module_make_resident (module);
  init ();
  g_debug ("loaded module %s (%" G_GSIZE_FORMAT " bytes)", name, len);
  return TRUE;
}

/* Asks the parent for @name; blocks. */
static GBytes *
fetch_from_parent (MitogenRouter  *router,
                   const char     *name,
                   GCancellable   *cancellable,
                   GError        **error)
{
  g_autoptr(GVariant) value = NULL;

  if (mitogen_is_master () || router == NULL)
    {
      g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_FAILED,
                   "no module named “%s” is known here", name);
      return NULL;
    }
  value = _mitogen_request (router, mitogen_get_parent_id (), MITOGEN_HANDLE_GET_MODULE,
                                   g_variant_new ("(s)", name), G_VARIANT_TYPE_BYTESTRING,
                                   FETCH_TIMEOUT_MSEC, cancellable, error);
  return value != NULL ? g_variant_get_data_as_bytes (value) : NULL;
}

gboolean
_mitogen_module_ensure (MitogenRouter  *router,
                        const char     *name,
                        GCancellable   *cancellable,
                        GError        **error)
{
  /* One fetch and load at a time: connects from core.connect's pool each
   * needing the ssh plugin fetched their own copies at once, and GLib,
   * asked to register its type twice, left it half-registered and every
   * later lookup waiting in g_once_init_enter(). */
  static GMutex ensure_lock;
  g_autoptr(GMutexLocker) serial = NULL;
  g_autoptr(GBytes) bytes = NULL;
  gboolean loaded;

  g_mutex_lock (&module_lock);
  ensure_tables_unlocked ();
  loaded = g_hash_table_contains (module_loaded, name);
  g_mutex_unlock (&module_lock);
  if (loaded)
    return TRUE;
  serial = g_mutex_locker_new (&ensure_lock);
  g_mutex_lock (&module_lock);
  loaded = g_hash_table_contains (module_loaded, name);
  g_mutex_unlock (&module_lock);
  if (loaded)
    return TRUE;

  bytes = lookup_bytes (name);
  if (bytes == NULL)
    {
      bytes = fetch_from_parent (router, name, cancellable, error);
      if (bytes == NULL)
        return FALSE;
      remember_bytes (name, bytes);
    }
  if (!load_bytes (name, bytes, error))
    return FALSE;

  g_mutex_lock (&module_lock);
  g_hash_table_add (module_loaded, g_strdup (name));
  g_mutex_unlock (&module_lock);
  return TRUE;
}

/* ---- serving children (broker thread) ---------------------------------- */

typedef struct
{
  MitogenRouter  *router;   /* owned */
  MitogenMessage *request;  /* owned: the child's GET_MODULE */
  char           *name;     /* owned: the module asked for */
  guint32         handle;   /* our one-shot handle for the parent's answer */
} Forward;

static void
forward_free (gpointer data)
{
  Forward *f = data;

  g_object_unref (f->router);
  mitogen_message_unref (f->request);
  g_free (f->name);
  g_free (f);
}

static void
answer (MitogenRouter  *router,
        MitogenMessage *request,
        GBytes         *bytes,
        const char     *failure)
{
  g_autoptr(MitogenMessage) reply = NULL;

  if (bytes != NULL)
    reply = mitogen_message_new (mitogen_message_get_src_id (request),
                                 mitogen_message_get_reply_to (request),
                                 g_variant_new_from_bytes (G_VARIANT_TYPE_BYTESTRING, bytes, TRUE));
  else
    reply = mitogen_message_new_dead (mitogen_message_get_src_id (request),
                                      mitogen_message_get_reply_to (request), failure);
  mitogen_router_route (router, reply, NULL);
}

/* The parent's answer to a request we passed on: keep it, pass it down. */
static void
on_forwarded_answer (MitogenMessage *msg,
                     gpointer        data)
{
  Forward *f = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) value = mitogen_message_unpack (msg, &error);

  if (value != NULL && g_variant_is_of_type (value, G_VARIANT_TYPE_BYTESTRING))
    {
      g_autoptr(GBytes) bytes = g_variant_get_data_as_bytes (value);

      remember_bytes (f->name, bytes);
      answer (f->router, f->request, bytes, NULL);
    }
  else
    answer (f->router, f->request, NULL,
            error != NULL ? error->message : "malformed module answer");
  mitogen_router_del_handler (f->router, f->handle);
}

void
_mitogen_module_on_get (MitogenMessage *msg,
                        gpointer        data)
{
  MitogenRouter *router = data;
  g_autoptr(GVariant) value = NULL;
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(MitogenContext) parent = NULL;
  g_autoptr(MitogenMessage) up = NULL;
  const char *name;
  Forward *f;

  if (mitogen_message_is_dead (msg) || mitogen_message_get_reply_to (msg) == 0)
    return;
  value = mitogen_message_unpack (msg, NULL);
  if (value == NULL || !g_variant_is_of_type (value, G_VARIANT_TYPE ("(s)")))
    {
      answer (router, msg, NULL, "malformed GET_MODULE request");
      return;
    }
  g_variant_get (value, "(&s)", &name);

  bytes = lookup_bytes (name);
  if (bytes != NULL)
    {
      g_debug ("sending module %s to context %u", name, mitogen_message_get_src_id (msg));
      answer (router, msg, bytes, NULL);
      return;
    }
  if (mitogen_is_master ())
    {
      g_autofree char *why = g_strdup_printf ("no module named “%s” is known to the master "
                                              "(see mitogen_add_module())", name);
      answer (router, msg, NULL, why);
      return;
    }

  /* Ask our own parent; answer the child when the bytes come. */
  f = g_new0 (Forward, 1);
  f->router = g_object_ref (router);
  f->request = mitogen_message_ref (msg);
  f->name = g_strdup (name);
  parent = mitogen_router_context_by_id (router, mitogen_get_parent_id ());
  f->handle = mitogen_router_add_handler (router, 0, parent, on_forwarded_answer, f, forward_free);
  up = mitogen_message_new (mitogen_get_parent_id (), MITOGEN_HANDLE_GET_MODULE,
                            g_variant_new ("(s)", name));
  mitogen_message_set_reply_to (up, f->handle);
  mitogen_router_route (router, up, NULL);
}
