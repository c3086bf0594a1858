/* fuzz-prompt.c: libFuzzer harness for the sudo/su/doas prompt matcher,
 * which reads whatever the program (or whoever controls its terminal)
 * prints. The first byte picks the rules; a failure always comes with a
 * code and a message, and nothing else does.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#define _GNU_SOURCE  /* memmem(), as the plugin builds it */
#include "fuzz-common.h"

#include <mitogen/mitogen.h>

#include "../../plugins/common/mitogen-prompt.c"

static const char * const extra_prompts[] = { "[mitogen-sudo-password]", "Passwort:", NULL };
static const char * const extra_incorrect[] = { "Authentication failure", NULL };
static const MitogenPromptRules rules[] = {
  { "sudo", extra_prompts, NULL },
  { "su", extra_prompts, extra_incorrect },
  { "doas", NULL, NULL },
};

int
LLVMFuzzerTestOneInput (const guint8 *data,
                        size_t        size)
{
  g_autofree char *message = NULL;
  MitogenPromptState state;
  int code = -1;

  if (size < 1)
    return 0;
  state = _mitogen_prompt_match (&rules[data[0] % G_N_ELEMENTS (rules)],
                                 (const char *) data + 1, size - 1, &code, &message);
  if (state == MITOGEN_PROMPT_FAILURE)
    {
      g_assert_nonnull (message);
      g_assert_cmpint (code, !=, 0);
    }
  else
    {
      g_assert_null (message);
      g_assert_cmpint (code, ==, 0);
    }
  return 0;
}
