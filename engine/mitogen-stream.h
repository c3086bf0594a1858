/* mitogen-stream.h: the insides of a stream, for the two files that
 * implement it: mitogen-stream.c (life, writing, the broker's source,
 * closing) and mitogen-stream-read.c (reading frames, flow control).
 * Everyone else uses mitogen-stream-private.h.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "mitogen-flow-private.h"
#include "mitogen-message-private.h"
#include "mitogen-stream-private.h"

G_BEGIN_DECLS

#define READ_BUFFER_SIZE    (256 * 1024)
/* Frames larger than this are read straight into their own buffer. */
#define DIRECT_READ_MIN     (64 * 1024)

/* Neither fd is polled while it has nothing to do: with no interest a
 * hung-up peer would still report G_IO_HUP and spin the loop. */
typedef struct
{
  GSource        source;
  MitogenStream *stream;   /* owned; immutable */
  gpointer       in_tag;   /* broker only: polls for G_IO_IN; NULL while paused */
  gpointer       out_tag;  /* broker only: polls for G_IO_OUT; NULL unless armed */
} StreamSource;

struct _MitogenStream
{
  gatomicrefcount           ref_count;     /* atomic */
  MitogenBroker            *broker;        /* owned; immutable */
  GIOStream                *owner;         /* owned, nullable: holds the fds */
  int                       in_fd;         /* broker only after start */
  int                       out_fd;        /* guarded by @out_lock */
  char                     *name;          /* immutable; for logs */
  guint32                   remote_id;     /* context id of the peer; set once */
  gsize                     max_message_size; /* atomic enough: set before start */
  MitogenSerializer        *serializer;    /* set before start; owned */

  MitogenStreamMessageFunc  message_func;  /* immutable after start */
  MitogenStreamClosedFunc   closed_func;   /* immutable after start */
  gpointer                  user_data;     /* immutable after start */

  /* Broker thread only. */
  StreamSource             *source;        /* owned; NULL once closed */
  guint8                   *rbuf;          /* READ_BUFFER_SIZE bytes */
  gsize                     rstart;        /* first unparsed byte */
  gsize                     rend;          /* end of valid data */
  guint8                   *big;           /* frame being read directly */
  gsize                     big_have;      /* bytes of @big read so far */
  MitogenFrameHeader        big_hdr;       /* the header of @big */
  gboolean                  paused;        /* reading stopped: @flow is full */

  /* What this stream's messages hold until their readers take them;
   * reading stops while it is full (back-pressure on the peer). */
  MitogenFlow              *flow;          /* owned; immutable pointer */

  /* Output side. @out_lock is a leaf: nothing else is locked while it is
   * held, and no callback runs under it. */
  GMutex                    out_lock;
  GCond                     out_cond;      /* signalled on drain and close */
  GQueue                    out_queue;     /* guarded by @out_lock; OutChunk* */
  gsize                     out_queued;    /* guarded by @out_lock; bytes */
  gint                      want_out;      /* atomic: broker should poll G_IO_OUT */
  gboolean                  closed;        /* guarded by @out_lock */
  gboolean                  close_called;  /* broker only: closed_func ran */
};

/* What a frame costs its stream's budget while its message is unread. */
static inline gsize
frame_charge (const MitogenFrameHeader *hdr)
{
  return (gsize) hdr->length + MITOGEN_FLOW_MESSAGE_OVERHEAD;
}

/* Broker thread: reads what is available and delivers whole frames. */
void _mitogen_stream_on_readable     (MitogenStream *stream);
/* The flow's resume function (broker thread): room came back. */
void _mitogen_stream_resume_reading  (gpointer       stream);
/* Broker thread: closes now; the closed callback runs once. */
void _mitogen_stream_close_now       (MitogenStream *stream,
                                      const GError  *reason);

G_END_DECLS
