/* mitogen-cli-target.h: the `mitogen` tool's targets, hop by hop.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* One hop of a target, ready for mitogen_router_connect_context(). */
typedef struct
{
  char     *transport;
  char     *text;      /* the hop as written, for prompts and messages */
  GVariant *options;   /* a{sv}; may hold a password (see cli_hops_wipe_secrets()) */
} CliHop;

/* What the command line says about every hop. */
typedef struct
{
  char       **options;              /* -o KEY=VALUE, for the hops that take KEY */
  const char  *agent;                /* the first hop's agent_path, or NULL */
  double       timeout;              /* connect_timeout when > 0 */
  gboolean     debug;
  gboolean     ask_pass;             /* ask each login hop's password */
  gboolean     ask_become_pass;      /* ask each become hop's password */
  const char  *password_file;        /* login hops' password, or NULL */
  const char  *become_password_file; /* become hops' password, or NULL */
} CliTargetSettings;

/* Text to a value: GVariant text if it parses, otherwise a string. */
GVariant *cli_parse_value       (const char              *text);
/* "TRANSPORT[:ARG][,KEY=VALUE...][/...]" to an array of CliHop. */
GArray   *cli_parse_target      (const char              *target,
                                 const CliTargetSettings *settings,
                                 GError                 **error);
/* Clears every hop's secrets once the hops are connected (or failed). */
void      cli_hops_wipe_secrets (GArray                  *hops);

G_END_DECLS
