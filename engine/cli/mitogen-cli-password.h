/* mitogen-cli-password.h: passwords for the `mitogen` tool, read from a
 * terminal, an askpass program or a file, never from a command line.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The environment variable naming a program that asks for a password:
 * it gets the prompt as its argument and prints the password. */
#define MITOGEN_ASKPASS_ENV "MITOGEN_ASKPASS"

/* Asks for a password with @prompt: through $MITOGEN_ASKPASS when set,
 * else on the controlling terminal with echo off. Free with
 * cli_password_free(). */
char *cli_password_ask        (const char  *prompt,
                               GError     **error);
/* The first line of @path, without its line end. */
char *cli_password_read_file  (const char  *path,
                               GError     **error);
/* Clears and frees a password from the functions above. */
void  cli_password_free       (char        *password);
/* Puts the terminal back as it was if a prompt is under way (echo off).
 * Async-signal-safe: for a signal that ends the tool mid-prompt. */
void  cli_password_restore_terminal (void);

G_END_DECLS
