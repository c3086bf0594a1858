/* fuzz-target.c: libFuzzer harness for the CLI's target parser, which
 * reads what users type (and what scripts build from inventories):
 * "ssh:user@[::1]:22,port=2222/sudo:pg,sudo_path='/x'". A parse either
 * gives hops, each with a transport name and an a{sv} of options, or an
 * error with a message; never both, never neither.
 *
 * Password files and prompts are left out: they read the file system and
 * the terminal, not the input.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "fuzz-common.h"

#include <string.h>

#include "../../engine/cli/mitogen-cli-password.c"
#include "../../engine/cli/mitogen-cli-target.c"

int
LLVMFuzzerTestOneInput (const guint8 *data,
                        size_t        size)
{
  g_autofree char *text = g_strndup ((const char *) data, size);
  char *global_options[] = { "port=2222", "login=yes", NULL };
  CliTargetSettings settings = { 0, };
  g_autoptr(GError) error = NULL;
  g_autoptr(GArray) hops = NULL;

  if (strlen (text) != size || strstr (text, "password_file") != NULL)
    return 0;
  /* The first byte says whether -o options come along. */
  if (size > 0 && (data[0] & 1))
    settings.options = global_options;
  hops = cli_parse_target (text, &settings, &error);
  g_assert_true ((hops == NULL) != (error == NULL));
  if (hops == NULL)
    {
      g_assert_nonnull (error->message);
      return 0;
    }
  g_assert_cmpuint (hops->len, >, 0);
  for (guint i = 0; i < hops->len; i++)
    {
      CliHop *hop = &g_array_index (hops, CliHop, i);

      g_assert_true (is_transport_name (hop->transport));
      g_assert_true (g_variant_is_of_type (hop->options, G_VARIANT_TYPE_VARDICT));
    }
  cli_hops_wipe_secrets (hops);
  return 0;
}
