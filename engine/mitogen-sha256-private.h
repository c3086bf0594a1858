/* mitogen-sha256-private.h: SHA-256 for transfers and fs.sha256
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The same shape as GChecksum (new, update, get_string, free), so that a
 * caller reads the same; it uses the CPU's SHA instructions where there
 * are some (x86-64 SHA-NI: 3-4 times GLib's portable code) and GChecksum
 * otherwise. Every transferred byte is hashed on both sides, so this is
 * on the bulk path. */
typedef struct _MitogenSha256 MitogenSha256;

MitogenSha256 *_mitogen_sha256_new        (void);
void           _mitogen_sha256_update     (MitogenSha256 *sha,
                                           const guint8  *data,
                                           gsize          len);
const char    *_mitogen_sha256_get_string (MitogenSha256 *sha);
void           _mitogen_sha256_free       (MitogenSha256 *sha);
char          *_mitogen_sha256_compute    (const guint8  *data,
                                           gsize          len);
gboolean       _mitogen_sha256_accelerated (void);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MitogenSha256, _mitogen_sha256_free)

G_END_DECLS
