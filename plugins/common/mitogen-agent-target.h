/* mitogen-agent-target.h: what machine and C library an agent file needs.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

typedef struct
{
  char *machine;   /* as `uname -m` names it ("x86_64"); NULL: unknown */
  char *pattern;   /* a sh case pattern of the `uname -m` values it runs on */
  char *interp;    /* the dynamic loader it needs; NULL: linked statically */
  char *libc;      /* "glibc", "musl", "static" or "unknown", for messages */
  char *glibc;     /* the newest GLIBC_x.y symbol version it needs; NULL: none */
} AgentTarget;

char *agent_upload_path   (const char        *agent_path,
                           gboolean           prefer_static);
void  agent_target_read    (GBytes            *agent,
                            AgentTarget       *target);
void  agent_target_clear   (AgentTarget       *target);
char *agent_target_check   (const AgentTarget *target);

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (AgentTarget, agent_target_clear)
