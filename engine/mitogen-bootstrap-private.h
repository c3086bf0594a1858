/* mitogen-bootstrap-private.h: the first frame each way on a new stream.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "mitogen-private.h"

G_BEGIN_DECLS

/* What a parent tells a new agent before anything else, on handle 0 as a
 * plain `a{sv}` in GVariant's binary form, so that the agent can read it
 * before it has loaded any serializer. */
typedef struct
{
  guint32  context_id;        /* the new context's id */
  guint32  parent_id;         /* the id of the context that starts it */
  GArray  *ancestors;         /* guint32: the parent, its parent, ..., the master */
  char    *transport;         /* the transport that started it, for names */
  char    *name;              /* nullable: the name asked for */
  char    *serializer;        /* the serializer of the stream */
  char    *plugin_path;       /* nullable: where it looks for plugins */
  guint64  max_message_size;  /* 0: the default */
  guint64  max_buffered;      /* the parent router's max-buffered (0: no
                               * limit); the default when absent */
  gboolean debug;             /* forward debug messages too */
  gboolean unidirectional;    /* children may not message each other */
} MitogenBootstrap;

MitogenBootstrap *_mitogen_bootstrap_new     (void);
void              _mitogen_bootstrap_free    (MitogenBootstrap  *boot);
GBytes           *_mitogen_bootstrap_encode  (const MitogenBootstrap *boot);
/* Fails with MITOGEN_ERROR_PROTOCOL on data that is not a bootstrap. */
MitogenBootstrap *_mitogen_bootstrap_decode  (GBytes            *data,
                                              GError           **error);

/* The agent's answer on handle 0: what it is, or why it could not start. */
GBytes           *_mitogen_ready_encode       (const char        *name);
GBytes           *_mitogen_ready_encode_error (const char        *why);
/* Returns the agent's description (an `a{sv}` with "name", "pid", "uid",
 * "hostname", "arch", "version"), or NULL with MITOGEN_ERROR_STREAM for a
 * refusal and MITOGEN_ERROR_PROTOCOL for a malformed frame. @what prefixes
 * error messages. */
GVariant         *_mitogen_ready_decode       (GBytes            *data,
                                               const char        *what,
                                               GError           **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MitogenBootstrap, _mitogen_bootstrap_free)

G_END_DECLS
