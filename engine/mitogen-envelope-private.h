/* mitogen-envelope-private.h: the fixed part of a message in GVariant's
 * wire form, written and read by hand.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "mitogen-private.h"

G_BEGIN_DECLS

/* Every message body is the GVariant "(yv)" (a kind byte and one value),
 * boxed in a "v" by the GVariant serializer. A call's value is "(sv)": the
 * function's name and its argument tuple. Building and reading those
 * layers with GVariant's generic code cost more than the rest of a round
 * trip (type-info lookups under a global lock, a tree of small values), so
 * this file writes and reads exactly the bytes GLib would, and leaves the
 * user's values (the innermost ones) to GVariant. */

/* The bytes of the boxed "(yv)" holding @kind and @value. */
GBytes    *_mitogen_envelope_encode        (guint8       kind,
                                            GVariant    *value);
/* The same bytes in pieces, the value's own memory not copied: for large
 * values. */
GPtrArray *_mitogen_envelope_encode_chunks (guint8       kind,
                                            GVariant    *value);
/* The bytes of the boxed "(yv)" holding a value "(sv)" of @function and
 * @args (a tuple). */
GBytes    *_mitogen_envelope_encode_call   (const char  *function,
                                            GVariant    *args);
/* Reads a boxed "(yv)" from @data, which any peer may have sent: the kind
 * and the value (transfer full; its bytes are @data's, not copied). Fails
 * with MITOGEN_ERROR_PROTOCOL where GLib would substitute a default. */
gboolean   _mitogen_envelope_decode        (GBytes      *data,
                                            guint8      *kind,
                                            GVariant   **value,
                                            GError     **error);
/* Reads a call request "(sv)": the function's name (transfer full) and
 * the value in its "v" (transfer full; any type: the caller checks it is
 * a tuple). */
gboolean   _mitogen_envelope_split_call    (GVariant    *request,
                                            char       **function,
                                            GVariant   **args,
                                            GError     **error);
/* When @data is a boxed "(yv)" of kind 0 holding a "(sv)" (@is_call
 * TRUE), reads the call's function and arguments straight from it, as
 * _mitogen_envelope_split_call() would from the decoded value. */
gboolean   _mitogen_envelope_decode_call   (GBytes      *data,
                                            gboolean    *is_call,
                                            char       **function,
                                            GVariant   **args,
                                            GError     **error);

G_END_DECLS
