/* mitogen-error.h: the MITOGEN_ERROR domain.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(MITOGEN_INSIDE) && !defined(MITOGEN_COMPILATION)
# error "Only <mitogen/mitogen.h> can be included directly."
#endif

#include <glib.h>
#include "mitogen-version.h"

G_BEGIN_DECLS

/**
 * MITOGEN_ERROR:
 *
 * The error domain of libmitogen. Codes are #MitogenError values.
 */
#define MITOGEN_ERROR (mitogen_error_quark ())

/**
 * MitogenError:
 * @MITOGEN_ERROR_FAILED: a generic failure, such as a blocking call made
 *   on the broker thread or a missing plugin
 * @MITOGEN_ERROR_CALL: a call failed in the remote context without an error
 *   domain of its own (no such function, bad arguments, an error from an
 *   older peer). An error a function raises keeps its own domain and code
 *   in the caller (a %G_IO_ERROR_NOT_FOUND stays one); either way the
 *   message reads "context NAME: FUNCTION: TEXT"
 * @MITOGEN_ERROR_CHANNEL: the other end went away: a dead message, a context
 *   lost, a closed receiver
 * @MITOGEN_ERROR_STREAM: a stream could not be set up or broke
 * @MITOGEN_ERROR_TIMEOUT: a get or a connection timed out
 * @MITOGEN_ERROR_AUTH: a password or a host key was refused
 * @MITOGEN_ERROR_PROTOCOL: a peer broke the wire protocol
 *
 * Error codes of the #MITOGEN_ERROR domain.
 */
typedef enum {
  MITOGEN_ERROR_FAILED,
  MITOGEN_ERROR_CALL,
  MITOGEN_ERROR_CHANNEL,
  MITOGEN_ERROR_STREAM,
  MITOGEN_ERROR_TIMEOUT,
  MITOGEN_ERROR_AUTH,
  MITOGEN_ERROR_PROTOCOL,
} MitogenError;

/**
 * mitogen_error_quark:
 *
 * Gets the quark of the %MITOGEN_ERROR domain; use the macro instead.
 *
 * Returns: the error domain's quark
 */
MITOGEN_AVAILABLE_IN_ALL
GQuark mitogen_error_quark (void);

G_END_DECLS
