/* mitogen-first-stage.h: the one first stage every hop that changes host,
 * user or root runs before the agent (ssh, sudo, su, doas, containers).
 *
 * A POSIX shell script that runs an agent whose bytes match the master's
 * (a cached copy, or the master's own file where the new user can run
 * it), or asks for the bytes on its standard input, checks them, caches
 * them where the *target* user owns the cache, and runs them. Compiled
 * into each transport plugin that needs it (a static library).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Printed by the script when it wants the agent's bytes (exactly the
 * size it was given) on its standard input. */
#define MITOGEN_FIRST_STAGE_NEED_UPLOAD "MITOGEN-UPLOAD\n"

/* Exit statuses of the script, for messages. */
#define MITOGEN_FIRST_STAGE_EXIT_ARCH    96  /* the agent is for another machine */
#define MITOGEN_FIRST_STAGE_EXIT_WRITE   97  /* no place to put the agent */
#define MITOGEN_FIRST_STAGE_EXIT_CORRUPT 98  /* the bytes did not match */

typedef struct
{
  GBytes     *bytes;    /* the agent program */
  const char *sha256;   /* of @bytes, hex */
  /* Where the target caches agents; NULL: the target user's
   * ${XDG_CACHE_HOME:-$HOME/.cache}/mitogen. */
  const char *cache_dir;
  /* The master's own agent, run as it is when the target user can run
   * it (same host; sudo to root, say); NULL to always use the cache. */
  const char *direct_path;
  /* Shell code that checks the host can run the agent (its machine, C
   * library loader and version; see mitogen-agent-target.c), exiting 96
   * with a message naming both when it cannot; NULL: no check. */
  const char *target_check;
} MitogenFirstStage;

/* The agent at @path, read once per process (and again when the path
 * changes), with its sha256 in hex. */
GBytes *mitogen_first_stage_agent_bytes (const char   *path,
                                         char        **sha256,
                                         GError      **error);
/* The script for @stage, to be run by /bin/sh as the target user. */
char   *mitogen_first_stage_script      (const MitogenFirstStage *stage);

G_END_DECLS
