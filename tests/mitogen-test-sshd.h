/* mitogen-test-sshd.h: a private OpenSSH sshd for a test program, on a free
 * port of 127.0.0.1, with throwaway host and user keys, logging in as root.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _MitogenTestSshd MitogenTestSshd;

/* Starts the sshd; NULL with *@skip_reason set when none can run here
 * (no /usr/sbin/sshd, not root). */
MitogenTestSshd *mitogen_test_sshd_start   (char           **skip_reason);
/* Stops it and removes its keys and files. */
void             mitogen_test_sshd_stop    (MitogenTestSshd *sshd);
/* Floating a{sv} for the ssh transport: this sshd, root, the user key,
 * its host key enforced, an agent cache of its own. */
GVariant        *mitogen_test_sshd_options (MitogenTestSshd *sshd);

G_END_DECLS
