/* mitogen-loader-glib.c: mitogen-agent-static refuses shared objects that
 * bring their own GLib.
 *
 * The static agent has GLib, GObject and GIO linked in and exports them, so
 * that a plugin or module built with GLib's headers only binds to that copy.
 * An object whose dynamic section names libglib-2.0.so.0 (or libgobject,
 * libgio, libgmodule), itself or through a library it needs (json-glib),
 * would load the host's GLib beside it: its constructors would initialise
 * GObject again through the agent's exported tables, and the object would
 * bind some calls to one copy and some to the other. So before dlopen()
 * the loader reads the object's DT_NEEDED entries, and those of the
 * libraries they name that are not loaded yet, and refuses with an error
 * that says how to rebuild it. The master and the dynamic agent link the
 * host's GLib and load such objects as before: only the static agent turns
 * the check on (_mitogen_loader_refuse_own_glib()).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#define _GNU_SOURCE
#include "config.h"

#include <dlfcn.h>
#include <elf.h>
#include <link.h>
#include <string.h>

#include "mitogen-plugin-private.h"

/* How deep the search follows libraries that need libraries. */
#define MAX_DEPTH 8

static gboolean refuse_own_glib;  /* set once, before any object loads */

static const char * const glib_libraries[] = {
  "libglib-2.0.so", "libgobject-2.0.so", "libgio-2.0.so", "libgmodule-2.0.so", NULL
};

void
_mitogen_loader_refuse_own_glib (void)
{
  refuse_own_glib = TRUE;
}

static gboolean
is_glib_library (const char *needed)
{
  const char *base = strrchr (needed, '/') != NULL ? strrchr (needed, '/') + 1 : needed;

  for (guint i = 0; glib_libraries[i] != NULL; i++)
    if (g_str_has_prefix (base, glib_libraries[i]))
      return TRUE;
  return FALSE;
}

/* The file offset of virtual address @vaddr, through the PT_LOAD
 * segments of the object whose program headers are @phdrs. */
static gboolean
vaddr_to_offset (const ElfW(Phdr) *phdrs,
                 guint             phnum,
                 ElfW(Addr)        vaddr,
                 gsize            *offset)
{
  for (guint i = 0; i < phnum; i++)
    if (phdrs[i].p_type == PT_LOAD && vaddr >= phdrs[i].p_vaddr &&
        vaddr - phdrs[i].p_vaddr < phdrs[i].p_filesz)
      {
        *offset = phdrs[i].p_offset + (vaddr - phdrs[i].p_vaddr);
        return TRUE;
      }
  return FALSE;
}

/* The NUL-terminated string at @offset of the string table at @strtab,
 * or NULL if it runs past the end of the file. */
static const char *
string_at (const guint8 *p,
           gsize         len,
           gsize         strtab,
           guint64       offset)
{
  if (strtab >= len || offset >= len - strtab ||
      memchr (p + strtab + offset, '\0', len - strtab - offset) == NULL)
    return NULL;
  return (const char *) p + strtab + offset;
}

/* Appends to @needed the DT_NEEDED names of the ELF image @p, and to
 * @search its DT_RUNPATH (or DT_RPATH) directories. Returns FALSE when
 * it is not an ELF object of our class that can be read this way; then
 * nothing is known, and dlopen() will say what is wrong with it. */
static gboolean
read_dynamic (const guint8 *p,
              gsize         len,
              GPtrArray    *needed,
              GPtrArray    *search)
{
  ElfW(Ehdr) ehdr;
  g_autofree ElfW(Phdr) *phdrs = NULL;
  g_autofree ElfW(Dyn) *dyn = NULL;
  gsize n_dyn = 0, strtab = 0;
  ElfW(Addr) strtab_vaddr = 0;

  if (len < sizeof ehdr || memcmp (p, ELFMAG, SELFMAG) != 0)
    return FALSE;
  memcpy (&ehdr, p, sizeof ehdr);
  if (ehdr.e_ident[EI_CLASS] != (sizeof (void *) == 8 ? ELFCLASS64 : ELFCLASS32) ||
      ehdr.e_phentsize != sizeof (ElfW(Phdr)) || ehdr.e_phoff > len ||
      (gsize) ehdr.e_phnum * sizeof (ElfW(Phdr)) > len - ehdr.e_phoff)
    return FALSE;
  /* Copied out: the bytes need not be aligned for these structures. */
  phdrs = g_memdup2 (p + ehdr.e_phoff, (gsize) ehdr.e_phnum * sizeof (ElfW(Phdr)));
  for (guint i = 0; i < ehdr.e_phnum && dyn == NULL; i++)
    if (phdrs[i].p_type == PT_DYNAMIC && phdrs[i].p_offset <= len &&
        phdrs[i].p_filesz <= len - phdrs[i].p_offset)
      {
        n_dyn = phdrs[i].p_filesz / sizeof (ElfW(Dyn));
        dyn = g_memdup2 (p + phdrs[i].p_offset, n_dyn * sizeof (ElfW(Dyn)));
      }
  if (dyn == NULL)
    return TRUE;   /* statically linked: it needs nothing */

  for (gsize i = 0; i < n_dyn && dyn[i].d_tag != DT_NULL; i++)
    if (dyn[i].d_tag == DT_STRTAB)
      strtab_vaddr = dyn[i].d_un.d_ptr;
  if (!vaddr_to_offset (phdrs, ehdr.e_phnum, strtab_vaddr, &strtab))
    return FALSE;

  for (gsize i = 0; i < n_dyn && dyn[i].d_tag != DT_NULL; i++)
    {
      const char *s;

      if (dyn[i].d_tag != DT_NEEDED && dyn[i].d_tag != DT_RUNPATH && dyn[i].d_tag != DT_RPATH)
        continue;
      if ((s = string_at (p, len, strtab, dyn[i].d_un.d_val)) == NULL)
        return FALSE;
      if (dyn[i].d_tag == DT_NEEDED)
        g_ptr_array_add (needed, g_strdup (s));
      else
        {
          g_auto(GStrv) dirs = g_strsplit (s, ":", 0);

          for (guint j = 0; dirs[j] != NULL; j++)
            g_ptr_array_add (search, g_steal_pointer (&dirs[j]));
        }
    }
  return TRUE;
}

/* dl_iterate_phdr() callback: the directory the C library came from,
 * where the system's libraries are. */
static int
find_libc_dir (struct dl_phdr_info *info,
               size_t               size,
               void                *data)
{
  char **dir = data;
  const char *base = strrchr (info->dlpi_name, '/');

  if (base != NULL && g_str_has_prefix (base + 1, "libc.so"))
    {
      *dir = g_path_get_dirname (info->dlpi_name);
      return 1;
    }
  return 0;
}

/* Where the dynamic loader would look for a library, roughly: the
 * object's run path (@object_search, $ORIGIN left out: the bytes may have
 * no file), $LD_LIBRARY_PATH, the C library's directory and the usual
 * ones. A library not found here is not checked; dlopen() finds it or
 * says that it is missing. */
static char *
locate_library (const char *name,
                GPtrArray  *object_search)
{
  g_autoptr(GPtrArray) dirs = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *libc_dir = NULL;
  const char *env = g_getenv ("LD_LIBRARY_PATH");

  if (strchr (name, '/') != NULL)
    return g_file_test (name, G_FILE_TEST_IS_REGULAR) ? g_strdup (name) : NULL;
  for (guint i = 0; i < object_search->len; i++)
    if (strstr (object_search->pdata[i], "$ORIGIN") == NULL)
      g_ptr_array_add (dirs, g_strdup (object_search->pdata[i]));
  if (env != NULL)
    {
      g_auto(GStrv) parts = g_strsplit (env, ":", 0);

      for (guint i = 0; parts[i] != NULL; i++)
        g_ptr_array_add (dirs, g_strdup (parts[i]));
    }
  dl_iterate_phdr (find_libc_dir, &libc_dir);
  if (libc_dir != NULL)
    {
      g_ptr_array_add (dirs, g_strdup (libc_dir));
      g_ptr_array_add (dirs, g_strconcat ("/usr", libc_dir, NULL));
    }
  for (guint i = 0; i < 4; i++)
    g_ptr_array_add (dirs, g_strdup ((const char *[]) { "/lib64", "/usr/lib64", "/lib", "/usr/lib" }[i]));

  for (guint i = 0; i < dirs->len; i++)
    {
      g_autofree char *path = g_build_filename (dirs->pdata[i], name, NULL);

      if (((char *) dirs->pdata[i])[0] != '\0' && g_file_test (path, G_FILE_TEST_IS_REGULAR))
        return g_steal_pointer (&path);
    }
  return NULL;
}

static gboolean
is_loaded (const char *name)
{
  void *handle = dlopen (name, RTLD_LAZY | RTLD_NOLOAD);

  if (handle == NULL)
    return FALSE;
  dlclose (handle);
  return TRUE;
}

static char *find_own_glib (const guint8 *p, gsize len, GHashTable *seen, guint depth);

/* The GLib library that the not yet loaded library @name brings, with
 * the chain that leads to it ("libglib-2.0.so.0, through libjson-glib-1.0.so.0"),
 * or NULL. */
static char *
find_own_glib_in_library (const char *name,
                          GPtrArray  *object_search,
                          GHashTable *seen,
                          guint       depth)
{
  g_autofree char *path = NULL;
  g_autofree char *contents = NULL;
  g_autofree char *found = NULL;
  gsize len;

  if (depth >= MAX_DEPTH || !g_hash_table_add (seen, g_strdup (name)) || is_loaded (name))
    return NULL;
  path = locate_library (name, object_search);
  /* Read, not mapped: valgrind takes a mapped ELF file for a loaded
   * object and aborts when dlopen() maps it again. */
  if (path == NULL || !g_file_get_contents (path, &contents, &len, NULL))
    return NULL;
  found = find_own_glib ((const guint8 *) contents, len, seen, depth + 1);
  return found != NULL ? g_strdup_printf ("%s, through %s", found, name) : NULL;
}

static char *
find_own_glib (const guint8 *p,
               gsize         len,
               GHashTable   *seen,
               guint         depth)
{
  g_autoptr(GPtrArray) needed = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GPtrArray) search = g_ptr_array_new_with_free_func (g_free);

  if (!read_dynamic (p, len, needed, search))
    return NULL;
  for (guint i = 0; i < needed->len; i++)
    if (is_glib_library (needed->pdata[i]))
      return g_strdup (needed->pdata[i]);
  for (guint i = 0; i < needed->len; i++)
    {
      char *found = find_own_glib_in_library (needed->pdata[i], search, seen, depth);

      if (found != NULL)
        return found;
    }
  return NULL;
}

gboolean
_mitogen_loader_check_glib (const char    *what,
                            const guint8  *data,
                            gsize          len,
                            GError       **error)
{
  g_autoptr(GHashTable) seen = NULL;
  g_autofree char *own = NULL;

  if (!refuse_own_glib)
    return TRUE;
  seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  own = find_own_glib (data, len, seen, 0);
  if (own == NULL)
    return TRUE;
  g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_FAILED,
               "%s links its own GLib (%s), which would run beside the GLib built "
               "into mitogen-agent-static; rebuild it without linking GLib "
               "(its headers only), see README", what, own);
  return FALSE;
}

gboolean
_mitogen_loader_check_glib_file (const char  *what,
                                 const char  *path,
                                 GError     **error)
{
  g_autofree char *contents = NULL;
  gsize len;

  if (!refuse_own_glib)
    return TRUE;
  /* Unreadable: dlopen() says why. (Read, not mapped: see above.) */
  if (!g_file_get_contents (path, &contents, &len, NULL))
    return TRUE;
  return _mitogen_loader_check_glib (what, (const guint8 *) contents, len, error);
}
