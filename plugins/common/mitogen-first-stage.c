/* mitogen-first-stage.c: the first stage before the agent; see the header.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "mitogen-first-stage.h"

GBytes *
mitogen_first_stage_agent_bytes (const char  *path,
                                 char       **sha256,
                                 GError     **error)
{
  static GMutex lock;
  static GBytes *bytes;
  static char *digest;
  static char *bytes_path;
  GBytes *result = NULL;

  g_mutex_lock (&lock);
  if (bytes == NULL || g_strcmp0 (bytes_path, path) != 0)
    {
      g_autofree char *contents = NULL;
      gsize len;

      if (!g_file_get_contents (path, &contents, &len, error))
        goto out;
      g_clear_pointer (&bytes, g_bytes_unref);
      g_free (digest);
      g_free (bytes_path);
      digest = g_compute_checksum_for_data (G_CHECKSUM_SHA256, (guchar *) contents, len);
      bytes = g_bytes_new_take (g_steal_pointer (&contents), len);
      bytes_path = g_strdup (path);
    }
  result = g_bytes_ref (bytes);
  *sha256 = g_strdup (digest);
out:
  g_mutex_unlock (&lock);
  return result;
}

/* The script, in steps:
 *
 *  1. The master's own agent, when the target user can run it: nothing
 *     to copy (a sudo to root on the same host).
 *  2. The machine and C library check (mitogen-agent-target.c): an agent
 *     built for another machine, or one whose loader or glibc the host
 *     lacks, would fail with a message nobody can read.
 *  3. A cached agent whose hash matches, in a cache only this user can
 *     change: the directory and the file owned by the user and writable
 *     by neither group nor others (a symbolic link, which ls shows as
 *     writable by all, is refused too). Then the file checked is the file
 *     that runs, short of the user's own processes swapping it between
 *     the two; a POSIX shell cannot execute the descriptor it checked.
 *  4. Otherwise the bytes are asked for, written into a private directory
 *     (mktemp -d, mode 0700) and checked there; a copy is checked and
 *     renamed into a trusted cache and run from it. When the cache is
 *     untrusted, read-only or full, the private copy runs and the agent
 *     removes it (--unlink-self). Every failure names its cause. */
char *
mitogen_first_stage_script (const MitogenFirstStage *stage)
{
  g_autofree char *dir = stage->cache_dir != NULL
                         ? g_shell_quote (stage->cache_dir)
                         : g_strdup ("\"${XDG_CACHE_HOME:-$HOME/.cache}/mitogen\"");
  g_autofree char *direct = NULL;

  if (stage->direct_path != NULL)
    {
      g_autofree char *path = g_shell_quote (stage->direct_path);

      direct = g_strdup_printf ("[ -x %s ] && [ -r %s ] && exec %s --announce; ", path, path, path);
    }
  return g_strdup_printf (
    "%s%s"
    "H=%s; N=%" G_GSIZE_FORMAT "; D=%s; A=\"$D/agent-$H\"; "
    "ok() { [ \"$(sha256sum < \"$1\" 2>/dev/null | cut -c1-64)\" = \"$H\" ]; }; "
    "mine() { [ -O \"$1\" ] && case $(ls -ld \"$1\" 2>/dev/null) in "
    "?????w*|????????w*|'') return 1;; esac; }; "
    "if mine \"$D\" && mine \"$A\" && [ -x \"$A\" ] && ok \"$A\"; then exec \"$A\" --announce; fi; "
    "mkdir -p -m 700 \"$D\" 2>/dev/null; "
    "P=$(mktemp -d 2>&1) || { E=$P; mine \"$D\" && P=$(mktemp -d \"$D/.upload-XXXXXX\" 2>/dev/null); } || "
    "{ echo \"mitogen: cannot make a private directory for the agent: $E\" >&2; exit %d; }; "
    "T=\"$P/agent\"; printf '" MITOGEN_FIRST_STAGE_NEED_UPLOAD "'; "
    "E=$(head -c \"$N\" 2>&1 > \"$T\") || "
    "{ rm -rf \"$P\"; echo \"mitogen: cannot write the agent to $T: $E\" >&2; exit %d; }; "
    "ok \"$T\" || { rm -rf \"$P\"; echo 'mitogen: the uploaded agent is corrupt' >&2; exit %d; }; "
    "chmod 700 \"$T\"; "
    "if mine \"$D\" && C=$(mktemp \"$D/.agent-XXXXXX\" 2>/dev/null); then "
    "if cp \"$T\" \"$C\" 2>/dev/null && chmod 700 \"$C\" && ok \"$C\" && mv -f \"$C\" \"$A\"; then "
    "rm -rf \"$P\"; exec \"$A\" --announce; fi; rm -f \"$C\"; fi; "
    "exec \"$T\" --announce --unlink-self",
    direct != NULL ? direct : "",
    stage->target_check != NULL ? stage->target_check : "",
    stage->sha256, g_bytes_get_size (stage->bytes), dir,
    MITOGEN_FIRST_STAGE_EXIT_WRITE, MITOGEN_FIRST_STAGE_EXIT_WRITE,
    MITOGEN_FIRST_STAGE_EXIT_CORRUPT);
}
