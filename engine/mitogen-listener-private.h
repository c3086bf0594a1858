/* mitogen-listener-private.h: the checks a listener and its clients share.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <sys/types.h>

#include "mitogen-private.h"

G_BEGIN_DECLS

/* @dir must be a directory (not a link to one), owned by this process's
 * effective uid, with no access for group or others. */
gboolean _mitogen_listener_check_directory (const char  *dir,
                                            GError     **error);
/* The peer of @socket (SO_PEERCRED) runs as this process's effective uid
 * or as root; its uid goes to @uid either way when it is known. */
gboolean _mitogen_listener_peer_is_trusted (GSocket     *socket,
                                            uid_t       *uid,
                                            GError     **error);

G_END_DECLS
