/* mitogen-become.h: what the sudo, su and doas transports share: start a
 * program that becomes another user and runs the agent, answer its
 * password prompt, and wait for the agent to announce itself.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <mitogen/mitogen.h>

#include "mitogen-first-stage.h"
#include "mitogen-prompt.h"

G_BEGIN_DECLS

#define MITOGEN_BECOME_DEFAULT_TIMEOUT_MSEC 30000

typedef struct
{
  /* The program's name for messages: "sudo". */
  const char          *program;
  /* What to run; argv[0] is looked up in PATH. */
  const char * const  *argv;
  /* Nullable. Answered to the first prompt only. With a password the
   * program gets a pseudo-terminal to ask on; without one it gets none,
   * so it can never wait on a prompt nobody will answer. */
  const char          *password;
  /* The program reads the password from its standard input rather than
   * from /dev/tty (su, through PAM's conversation function). */
  gboolean             pty_stdin;
  MitogenPromptRules   rules;
  /* The whole exchange, from spawning to the announce marker. */
  int                  timeout_msec;
  /* Nullable: the program runs this first stage, which may ask for the
   * agent's bytes on the stream before the agent announces itself. */
  const MitogenFirstStage *first_stage;
} MitogenBecomeSpec;

/* The agent a become transport starts, and the first stage that runs it. */
typedef struct
{
  MitogenFirstStage stage;
  GBytes *bytes;        /* owned */
  char   *sha256;       /* owned */
  char   *target_check; /* owned: the host checks of mitogen-agent-target.c */
  char   *script;       /* owned: for /bin/sh -c, as the new user */
} MitogenBecomeAgent;

gboolean   _mitogen_become_agent_prepare  (const char               *program,
                                           const char               *agent_path,
                                           gboolean                  same_root,
                                           MitogenBecomeAgent       *agent,
                                           GError                  **error);
void       _mitogen_become_agent_clear    (MitogenBecomeAgent       *agent);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (MitogenBecomeAgent, _mitogen_become_agent_clear)

GIOStream *_mitogen_become_spawn          (const MitogenBecomeSpec  *spec,
                                           GCancellable             *cancellable,
                                           GError                  **error);

gboolean   _mitogen_become_check_agent    (const char               *program,
                                           const char               *agent_path,
                                           GError                  **error);

gboolean   _mitogen_become_check_username (const char               *program,
                                           const char               *username,
                                           GError                  **error);

/* Option readers: a missing option leaves *out alone and succeeds; one of
 * the wrong type is an error naming it. */
gboolean   _mitogen_become_option_string  (GVariant                 *options,
                                           const char               *program,
                                           const char               *key,
                                           const char              **out,
                                           GError                  **error);
gboolean   _mitogen_become_option_bool    (GVariant                 *options,
                                           const char               *program,
                                           const char               *key,
                                           gboolean                 *out,
                                           GError                  **error);
gboolean   _mitogen_become_option_strv    (GVariant                 *options,
                                           const char               *program,
                                           const char               *key,
                                           const char             ***out,
                                           GError                  **error);
gboolean   _mitogen_become_option_timeout (GVariant                 *options,
                                           const char               *program,
                                           int                      *out_msec,
                                           GError                  **error);

G_END_DECLS
