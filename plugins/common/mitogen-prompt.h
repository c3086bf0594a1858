/* mitogen-prompt.h: what sudo, su and doas say on their terminal.
 *
 * A pure function, so that the tests can feed it text without any of the
 * programs installed.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum
{
  MITOGEN_PROMPT_MORE,      /* nothing decisive yet: read on */
  MITOGEN_PROMPT_PASSWORD,  /* the text ends with a password prompt */
  MITOGEN_PROMPT_SUCCESS,   /* the agent's announce marker is in the text */
  MITOGEN_PROMPT_FAILURE,   /* a refusal: the code and message say which */
} MitogenPromptState;

typedef struct
{
  /* The program's name for messages ("sudo"). */
  const char         *program;
  /* Extra prompts recognised anywhere in the last line, case-insensitively
   * (sudo's own -p string; su's configured prompts). Nullable. */
  const char * const *prompts;
  /* Extra lines meaning the password was wrong. Nullable. */
  const char * const *incorrect;
} MitogenPromptRules;

MitogenPromptState _mitogen_prompt_match (const MitogenPromptRules  *rules,
                                          const char                *text,
                                          gsize                      len,
                                          int                       *code,
                                          char                     **message);

G_END_DECLS
