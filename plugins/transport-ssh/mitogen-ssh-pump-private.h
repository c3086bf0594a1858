/* mitogen-ssh-pump-private.h: one thread that moves the bytes of every SSH
 * session of the process, once its handshake is done.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>
#include <libssh/libssh.h>

G_BEGIN_DECLS

/* The name of the pump's thread in /proc/<pid>/task/<tid>/comm: no longer
 * than the 15 bytes the kernel keeps, or it would not be set at all. */
#define MITOGEN_SSH_PUMP_THREAD_NAME "mitogen-sshpump"

gboolean mitogen_ssh_pump_adopt (ssh_session   session,
                                 ssh_channel   channel,
                                 int           fd,
                                 const char   *host,
                                 guint         keepalive_interval,
                                 guint         keepalive_count_max,
                                 GError      **error);

G_END_DECLS
