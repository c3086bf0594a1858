/* mitogen-stream-private.h: a framed, non-blocking byte stream driven by
 * the broker thread.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "mitogen-private.h"

G_BEGIN_DECLS

typedef struct _MitogenStream MitogenStream;

/* Both run on the broker thread. @msg is borrowed. */
typedef void (*MitogenStreamMessageFunc) (MitogenStream  *stream,
                                          MitogenMessage *msg,
                                          gpointer        user_data);
typedef void (*MitogenStreamClosedFunc)  (MitogenStream  *stream,
                                          const GError   *reason,
                                          gpointer        user_data);

MitogenStream *_mitogen_stream_new            (MitogenBroker           *broker,
                                               int                      in_fd,
                                               int                      out_fd,
                                               GIOStream               *owner,
                                               const char              *name);
MitogenStream *_mitogen_stream_new_for_io_stream (MitogenBroker        *broker,
                                                  GIOStream            *io_stream,
                                                  const char           *name,
                                                  GError              **error);
MitogenStream *_mitogen_stream_ref            (MitogenStream           *stream);
void           _mitogen_stream_unref          (MitogenStream           *stream);
void           _mitogen_stream_set_handlers   (MitogenStream           *stream,
                                               MitogenStreamMessageFunc message_func,
                                               MitogenStreamClosedFunc  closed_func,
                                               gpointer                 user_data);
void           _mitogen_stream_set_serializer (MitogenStream           *stream,
                                               MitogenSerializer       *serializer);
MitogenSerializer *_mitogen_stream_get_serializer (MitogenStream       *stream);
void           _mitogen_stream_set_max_message_size (MitogenStream     *stream,
                                                     gsize              size);
/* The bytes this stream's delivered but unread messages may hold before
 * it stops reading (0: no limit); MITOGEN_DEFAULT_MAX_BUFFERED unless set.
 * Any thread; applies from the next frame. */
void           _mitogen_stream_set_max_buffered (MitogenStream         *stream,
                                                 guint64                limit);
/* What they hold now, overhead included (a snapshot, for tests). */
gsize          _mitogen_stream_get_buffered   (MitogenStream           *stream);
/* Immutable: set when the stream is made. */
const char    *_mitogen_stream_get_name       (MitogenStream           *stream);
void           _mitogen_stream_set_remote_id  (MitogenStream           *stream,
                                               guint32                  remote_id);
guint32        _mitogen_stream_get_remote_id  (MitogenStream           *stream);
/* Starts reading on the broker thread. Any thread. */
void           _mitogen_stream_start          (MitogenStream           *stream);
/* Writes a whole frame straight away when nothing is queued ahead of it,
 * else queues it for the broker. Outside the broker thread it waits while
 * more than the high-water mark is queued (back-pressure). Any thread. */
gboolean       _mitogen_stream_send           (MitogenStream           *stream,
                                               MitogenMessage          *msg,
                                               GError                 **error);
/* Closes the stream on the broker thread; @reason may be NULL (clean).
 * The closed callback runs once. Any thread. */
void           _mitogen_stream_close          (MitogenStream           *stream,
                                               const GError            *reason);
/* Broker thread (or no broker running): forget the handlers and close now. */
void           _mitogen_stream_detach_and_close (MitogenStream        *stream);
gboolean       _mitogen_stream_is_closed      (MitogenStream           *stream);
/* While TRUE on a thread, its sends are queued for the broker to write
 * in one go instead of written at once: the agent sets it while more calls
 * wait, so a burst of replies costs one write, not one each. */
void           _mitogen_stream_set_thread_batching (gboolean         batching);
/* Blocks until everything queued is written or the stream closes. */
void           _mitogen_stream_flush          (MitogenStream           *stream);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MitogenStream, _mitogen_stream_unref)

G_END_DECLS
