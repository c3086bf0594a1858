/* mitogen-ssh-target.c: the machine and C library an agent file needs,
 * read from its ELF header, and the first-stage shell code that checks
 * them on the host before it runs the agent there.
 *
 * The file itself is the authority, not a constant of this build: the
 * agent that travels may be another build (agent_path), or the running
 * agent's own image when a context starts the next hop. Without the check
 * an agent for another machine dies on the host with "Exec format error"
 * or, lacking its loader, with "not found" for a file that is there.
 *
 * For tests, MITOGEN_SSH_TEST_AGENT_MACHINE and MITOGEN_SSH_TEST_AGENT_INTERP
 * stand in for what the file says (not in setuid programs).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <elf.h>
#include <string.h>
#include <sys/auxv.h>

#include "mitogen-ssh-target.h"

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

static void
apply_test_overrides (AgentTarget *t)
{
  const char *machine, *interp;

  if (getauxval (AT_SECURE))
    return;
  machine = g_getenv ("MITOGEN_SSH_TEST_AGENT_MACHINE");
  interp = g_getenv ("MITOGEN_SSH_TEST_AGENT_INTERP");
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
  return g_string_free (g_steal_pointer (&sh), FALSE);
}
