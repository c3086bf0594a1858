/* mitogen-agent-target.c: the machine and C library an agent file needs,
 * read from its ELF header, and the first-stage shell code that checks
 * them on the host before it runs the agent there.
 *
 * The file itself is the authority, not a constant of this build: the
 * agent that travels may be another build (agent_path), or the running
 * agent's own image when a context starts the next hop. Without the check
 * an agent for another machine dies on the host with "Exec format error"
 * or, lacking its loader, with "not found" for a file that is there.
 *
 * A glibc program also needs a glibc at least as new as the newest
 * GLIBC_x.y version among its symbols (2.34 for one built on Debian 12);
 * an older one fails with "version `GLIBC_2.34' not found".
 *
 * For tests, MITOGEN_TEST_AGENT_MACHINE, MITOGEN_TEST_AGENT_INTERP
 * and MITOGEN_TEST_AGENT_GLIBC stand in for what the file says (not in
 * setuid programs).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <elf.h>
#include <string.h>
#include <sys/auxv.h>

#include "mitogen-agent-target.h"

#ifndef EM_LOONGARCH
#define EM_LOONGARCH 258
#endif

typedef struct
{
  guint16     machine;     /* e_machine */
  guint8      elf_class;   /* ELFCLASS32 or ELFCLASS64; 0: either */
  guint8      data;        /* ELFDATA2LSB or ELFDATA2MSB; 0: either */
  const char *name;        /* `uname -m` on a host it was built for */
  const char *pattern;     /* every `uname -m` it runs on */
} MachineName;

static const MachineName machines[] = {
  { EM_X86_64,    ELFCLASS64, 0,           "x86_64",      "x86_64" },
  { EM_386,       ELFCLASS32, 0,           "i686",        "i?86|x86_64" },
  { EM_AARCH64,   ELFCLASS64, ELFDATA2LSB, "aarch64",     "aarch64|arm64" },
  { EM_AARCH64,   ELFCLASS64, ELFDATA2MSB, "aarch64_be",  "aarch64_be" },
  { EM_ARM,       ELFCLASS32, 0,           "armv7l",      "arm*|aarch64" },
  { EM_PPC64,     ELFCLASS64, ELFDATA2LSB, "ppc64le",     "ppc64le" },
  { EM_PPC64,     ELFCLASS64, ELFDATA2MSB, "ppc64",       "ppc64" },
  { EM_PPC,       ELFCLASS32, 0,           "ppc",         "ppc|ppc64" },
  { EM_RISCV,     ELFCLASS64, 0,           "riscv64",     "riscv64" },
  { EM_S390,      ELFCLASS64, 0,           "s390x",       "s390x" },
  { EM_MIPS,      ELFCLASS64, 0,           "mips64",      "mips64" },
  { EM_MIPS,      ELFCLASS32, 0,           "mips",        "mips|mips64" },
  { EM_LOONGARCH, ELFCLASS64, 0,           "loongarch64", "loongarch64" },
};

/* An integer of @size bytes at @off, in the file's byte order. */
static gboolean
read_uint (const guint8 *p,
           gsize         len,
           gsize         off,
           guint         size,
           gboolean      big_endian,
           guint64      *out)
{
  guint64 v = 0;

  if (off > len || size > len - off)
    return FALSE;
  for (guint i = 0; i < size; i++)
    v |= (guint64) p[off + i] << (8 * (big_endian ? size - 1 - i : i));
  *out = v;
  return TRUE;
}

/* PT_INTERP's path, or NULL when there is none (a static program). */
static char *
find_interp (const guint8 *p,
             gsize         len,
             gboolean      is64,
             gboolean      big_endian)
{
  guint64 phoff, phentsize, phnum;

  if (!read_uint (p, len, is64 ? 32 : 28, is64 ? 8 : 4, big_endian, &phoff) ||
      !read_uint (p, len, is64 ? 54 : 42, 2, big_endian, &phentsize) ||
      !read_uint (p, len, is64 ? 56 : 44, 2, big_endian, &phnum))
    return NULL;
  for (guint64 i = 0; i < phnum; i++)
    {
      gsize ph = phoff + i * phentsize;
      guint64 type, offset, size;

      if (!read_uint (p, len, ph, 4, big_endian, &type))
        return NULL;
      if (type != PT_INTERP)
        continue;
      if (!read_uint (p, len, ph + (is64 ? 8 : 4), is64 ? 8 : 4, big_endian, &offset) ||
          !read_uint (p, len, ph + (is64 ? 32 : 16), is64 ? 8 : 4, big_endian, &size) ||
          offset > len || size > len - offset || size == 0)
        return NULL;
      return g_strndup ((const char *) p + offset, size);
    }
  return NULL;
}

/* "GLIBC_2.34" → 2, 34; FALSE for GLIBC_PRIVATE and the like. */
static gboolean
parse_glibc_version (const char *name,
                     guint      *major,
                     guint      *minor)
{
  char *end;

  if (!g_str_has_prefix (name, "GLIBC_") || !g_ascii_isdigit (name[6]))
    return FALSE;
  *major = strtoul (name + 6, &end, 10);
  *minor = *end == '.' ? strtoul (end + 1, NULL, 10) : 0;
  return TRUE;
}

/* The newest GLIBC_x.y in the version needs (SHT_GNU_verneed, whose
 * strings are in the section it links to), as "x.y"; NULL if none. */
static char *
find_glibc_needed (const guint8 *p,
                   gsize         len,
                   gboolean      is64,
                   gboolean      big_endian)
{
  guint w = is64 ? 8 : 4;
  guint64 shoff, shentsize, shnum;
  guint best_major = 0, best_minor = 0;

  if (!read_uint (p, len, is64 ? 40 : 32, w, big_endian, &shoff) ||
      !read_uint (p, len, is64 ? 58 : 46, 2, big_endian, &shentsize) ||
      !read_uint (p, len, is64 ? 60 : 48, 2, big_endian, &shnum))
    return NULL;
  for (guint64 i = 0; i < shnum; i++)
    {
      gsize sh = shoff + i * shentsize;
      guint64 type, offset, link, str_sh, strtab, vn, count;

      if (!read_uint (p, len, sh + 4, 4, big_endian, &type) || type != SHT_GNU_verneed ||
          !read_uint (p, len, sh + (is64 ? 24 : 16), w, big_endian, &offset) ||
          !read_uint (p, len, sh + (is64 ? 40 : 24), 4, big_endian, &link) ||
          !read_uint (p, len, sh + (is64 ? 44 : 28), 4, big_endian, &count))
        continue;
      str_sh = shoff + link * shentsize;
      if (!read_uint (p, len, str_sh + (is64 ? 24 : 16), w, big_endian, &strtab))
        return NULL;
      vn = offset;
      for (guint64 n = 0; n < count; n++)
        {
          guint64 aux_count, aux, next, vna, name;

          if (!read_uint (p, len, vn + 2, 2, big_endian, &aux_count) ||
              !read_uint (p, len, vn + 8, 4, big_endian, &aux) ||
              !read_uint (p, len, vn + 12, 4, big_endian, &next))
            return NULL;
          vna = vn + aux;
          for (guint64 a = 0; a < aux_count; a++)
            {
              guint major, minor;

              if (!read_uint (p, len, vna + 8, 4, big_endian, &name) ||
                  strtab + name >= len || !read_uint (p, len, vna + 12, 4, big_endian, &aux))
                return NULL;
              if (memchr (p + strtab + name, '\0', len - strtab - name) != NULL &&
                  parse_glibc_version ((const char *) p + strtab + name, &major, &minor) &&
                  (major > best_major || (major == best_major && minor > best_minor)))
                best_major = major, best_minor = minor;
              vna += aux;
            }
          if (next == 0)
            break;
          vn += next;
        }
    }
  return best_major > 0 ? g_strdup_printf ("%u.%u", best_major, best_minor) : NULL;
}

static const char *
libc_of (const char *interp)
{
  if (interp == NULL)
    return "static";
  if (strstr (interp, "ld-musl") != NULL)
    return "musl";
  if (strstr (interp, "ld-linux") != NULL || strstr (interp, "/ld64.so") != NULL ||
      strstr (interp, "/ld.so") != NULL)
    return "glibc";
  return "unknown";
}

/* A test's stand-in pattern goes into the command unquoted (a case pattern
 * must): letters, digits and glob characters only. */
static gboolean
is_plain_pattern (const char *s)
{
  for (; *s != '\0'; s++)
    if (!g_ascii_isalnum (*s) && strchr ("_-?*|", *s) == NULL)
      return FALSE;
  return TRUE;
}

/* "2.34": digits, one dot, digits. */
static gboolean
is_version (const char *s)
{
  guint dots = 0;

  if (!g_ascii_isdigit (*s))
    return FALSE;
  for (; *s != '\0'; s++)
    if (*s == '.' ? (++dots > 1 || !g_ascii_isdigit (s[1])) : !g_ascii_isdigit (*s))
      return FALSE;
  return dots == 1;
}

static void
apply_test_overrides (AgentTarget *t)
{
  const char *machine, *interp, *glibc;

  if (getauxval (AT_SECURE))
    return;
  machine = g_getenv ("MITOGEN_TEST_AGENT_MACHINE");
  interp = g_getenv ("MITOGEN_TEST_AGENT_INTERP");
  glibc = g_getenv ("MITOGEN_TEST_AGENT_GLIBC");
  if (machine != NULL && is_plain_pattern (machine))
    {
      g_free (t->machine);
      g_free (t->pattern);
      t->machine = g_strdup (machine);
      t->pattern = g_strdup (machine);
    }
  if (interp != NULL)
    {
      g_free (t->interp);
      t->interp = g_strdup (interp);
    }
  if (glibc != NULL && is_version (glibc))
    {
      g_free (t->glibc);
      t->glibc = g_strdup (glibc);
    }
}

/* The file to upload: the self-contained twin of @agent_path (GLib linked
 * in, so that it runs on hosts without GLib) when there is one and
 * @prefer_static, else @agent_path itself. An agent starting the next hop
 * passes its own image, which has no twin. */
char *
agent_upload_path (const char *agent_path,
                   gboolean    prefer_static)
{
  g_autofree char *twin = g_strconcat (agent_path, "-static", NULL);

  if (prefer_static && g_file_test (twin, G_FILE_TEST_IS_EXECUTABLE))
    return g_steal_pointer (&twin);
  return g_strdup (agent_path);
}

/* Fills @target from the ELF header of @agent. What cannot be read stays
 * NULL and goes unchecked: the host's own error is then all there is. */
void
agent_target_read (GBytes      *agent,
                   AgentTarget *target)
{
  gsize len;
  const guint8 *p = g_bytes_get_data (agent, &len);
  guint64 machine;

  memset (target, 0, sizeof *target);
  if (len >= EI_NIDENT && memcmp (p, ELFMAG, SELFMAG) == 0)
    {
      gboolean is64 = p[EI_CLASS] == ELFCLASS64;
      gboolean big_endian = p[EI_DATA] == ELFDATA2MSB;

      if (read_uint (p, len, 18, 2, big_endian, &machine))
        for (gsize i = 0; i < G_N_ELEMENTS (machines); i++)
          if (machines[i].machine == machine &&
              (machines[i].elf_class == 0 || machines[i].elf_class == p[EI_CLASS]) &&
              (machines[i].data == 0 || machines[i].data == p[EI_DATA]))
            {
              target->machine = g_strdup (machines[i].name);
              target->pattern = g_strdup (machines[i].pattern);
              break;
            }
      target->interp = find_interp (p, len, is64, big_endian);
      target->glibc = find_glibc_needed (p, len, is64, big_endian);
    }
  apply_test_overrides (target);
  target->libc = g_strdup (libc_of (target->interp));
}

void
agent_target_clear (AgentTarget *target)
{
  g_clear_pointer (&target->machine, g_free);
  g_clear_pointer (&target->pattern, g_free);
  g_clear_pointer (&target->interp, g_free);
  g_clear_pointer (&target->libc, g_free);
  g_clear_pointer (&target->glibc, g_free);
}

/* Shell code that exits 96 with a message naming both sides when the
 * host is not a machine @target runs on, or lacks the loader it needs. */
char *
agent_target_check (const AgentTarget *target)
{
  g_autoptr(GString) sh = g_string_new (NULL);

  if (target->pattern != NULL)
    g_string_append_printf (sh,
      "M=$(uname -m); case \"$M\" in %s) ;; *) "
      "echo \"mitogen: the agent is built for %s (%s) but this host is $M\" >&2; exit 96;; esac; ",
      target->pattern, target->machine, target->libc);
  if (target->interp != NULL)
    {
      g_autofree char *interp = g_shell_quote (target->interp);

      g_string_append_printf (sh,
        "[ -e %s ] || { case $(ldd --version 2>&1) in *musl*) L=musl;; "
        "*GLIBC*|*'GNU libc'*|*'GNU C Library'*) L=glibc;; *) L=unknown;; esac; "
        "echo \"mitogen: the agent is built for %s with %s and needs its loader \"%s\", "
        "which this host ($(uname -m), C library: $L) lacks\" >&2; exit 96; }; ",
        interp, target->machine != NULL ? target->machine : "an unknown machine",
        target->libc, interp);
    }
  if (target->glibc != NULL)
    {
      g_auto(GStrv) parts = g_strsplit (target->glibc, ".", 2);

      /* getconf says "glibc 2.36"; a host without it is not glibc, which
       * the loader check above has dealt with. */
      g_string_append_printf (sh,
        "V=$(getconf GNU_LIBC_VERSION 2>/dev/null) && V=${V#glibc } && "
        "J=${V%%%%.*} && N=${V#*.} && N=${N%%%%.*} && "
        "{ [ \"$J\" -lt %s ] 2>/dev/null || { [ \"$J\" -eq %s ] && [ \"$N\" -lt %s ]; } 2>/dev/null; } && "
        "{ echo \"mitogen: the agent is built for %s with glibc %s or later, "
        "but this host ($(uname -m)) has glibc $V\" >&2; exit 96; }; ",
        parts[0], parts[0], parts[1] != NULL ? parts[1] : "0",
        target->machine != NULL ? target->machine : "an unknown machine", target->glibc);
    }
  return g_string_free (g_steal_pointer (&sh), FALSE);
}
