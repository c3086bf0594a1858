/* mitogen-stream-read.c: the reading side of a stream, on the broker
 * thread: frames in, and flow control.
 *
 * Each frame is charged to the stream's budget (its MitogenFlow) before it
 * is read, and its message holds the charge until its reader takes it.
 * When a frame does not fit, the stream stops polling its input and leaves
 * the frame in the kernel's buffers and its own, so the peer's writes
 * block: back-pressure instead of memory. The flow resumes it.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "mitogen-stream.h"

/* Broker thread: no room for the next frame. Stop polling the input, so
 * the peer's writes block once the kernel's buffers are full. */
static void
stream_pause_reading (MitogenStream *stream)
{
  stream->paused = TRUE;
  if (stream->source != NULL && stream->source->in_tag != NULL)
    {
      g_source_remove_unix_fd (&stream->source->source, stream->source->in_tag);
      stream->source->in_tag = NULL;
    }
  g_debug ("stream %s: %" G_GSIZE_FORMAT " bytes unread; reading paused",
           stream->name, _mitogen_flow_get_outstanding (stream->flow));
}

static gboolean parse_frames (MitogenStream *stream);

/* The flow's resume function, on the broker thread: room came back. The
 * frames already buffered go first, then the fd is polled again. */
void
_mitogen_stream_resume_reading (gpointer data)
{
  MitogenStream *stream = data;

  if (stream->source == NULL || !stream->paused)
    return;
  stream->paused = FALSE;
  g_debug ("stream %s: reading resumed", stream->name);
  if (!parse_frames (stream) || stream->paused)
    return;
  stream->source->in_tag = g_source_add_unix_fd (&stream->source->source, stream->in_fd, G_IO_IN);
}

/* Charges the frame about to be read to the stream's budget, or pauses
 * reading when it does not fit. */
static gboolean
admit_frame (MitogenStream            *stream,
             const MitogenFrameHeader *hdr)
{
  if (_mitogen_flow_try_charge (stream->flow, frame_charge (hdr)))
    return TRUE;
  stream_pause_reading (stream);
  return FALSE;
}

/* Delivers a frame whose charge was taken; the message holds it now. */
static void
deliver (MitogenStream            *stream,
         const MitogenFrameHeader *hdr,
         GBytes                   *data)
{
  MitogenMessage *msg = _mitogen_message_new_from_frame (hdr, data, stream->serializer);

  _mitogen_message_hold_charge (msg, stream->flow, frame_charge (hdr));

  if (stream->message_func != NULL)
    stream->message_func (stream, msg, stream->user_data);
  mitogen_message_unref (msg);
}

static void
close_with_protocol_error (MitogenStream *stream,
                           GError        *error)
{
  g_warning ("stream %s: %s; closing it", stream->name, error->message);
  _mitogen_stream_close_now (stream, error);
}

/* The body of the whole frame at rstart, which is then consumed. A call
 * may carry a secret (core.connect's password): its bytes are cleared
 * from the read buffer at once and from their copy when it is freed.
 * Calls are small and few next to the data they move, so this costs a
 * memset of a few hundred bytes per call; frames too large for the read
 * buffer (bulk) are not cleared. */
static GBytes *
take_small_frame (MitogenStream            *stream,
                  const MitogenFrameHeader *hdr)
{
  guint8 *p = stream->rbuf + stream->rstart;
  gsize size = MITOGEN_HEADER_SIZE + hdr->length;
  GBytes *data;

  stream->rstart += size;
  if (hdr->handle != MITOGEN_HANDLE_CALL_FUNCTION)
    return g_bytes_new (p + MITOGEN_HEADER_SIZE, hdr->length);
  data = _mitogen_bytes_new_wiped_copy (p + MITOGEN_HEADER_SIZE, hdr->length);
  explicit_bzero (p, size);
  return data;
}

/* Moves the unparsed bytes to the front of rbuf. The bytes left behind
 * past the new end are cleared: they are a copy of a frame not yet
 * whole, which may be a call (see take_small_frame()). */
static void
compact_read_buffer (MitogenStream *stream)
{
  gsize kept = stream->rend - stream->rstart;
  gsize stale_from = MAX (kept, stream->rstart);

  memmove (stream->rbuf, stream->rbuf + stream->rstart, kept);
  if (stream->rend > stale_from)
    explicit_bzero (stream->rbuf + stale_from, stream->rend - stale_from);
  stream->rend = kept;
  stream->rstart = 0;
}

/* Parses every whole frame in rbuf. Returns FALSE if the stream closed. */
static gboolean
parse_frames (MitogenStream *stream)
{
  while (stream->source != NULL && !stream->paused &&
         stream->rend - stream->rstart >= MITOGEN_HEADER_SIZE)
    {
      const guint8 *p = stream->rbuf + stream->rstart;
      gsize avail = stream->rend - stream->rstart - MITOGEN_HEADER_SIZE;
      MitogenFrameHeader hdr;
      GError *error = NULL;

      if (!_mitogen_frame_header_decode (p, stream->max_message_size, &hdr, &error))
        {
          close_with_protocol_error (stream, error);
          g_error_free (error);
          return FALSE;
        }

      /* Left in the buffer when it does not fit; parsed again on resume. */
      if (!admit_frame (stream, &hdr))
        break;

      if (hdr.length <= avail)
        {
          g_autoptr(GBytes) data = take_small_frame (stream, &hdr);

          deliver (stream, &hdr, data);
          continue;
        }

      if (hdr.length >= DIRECT_READ_MIN)
        {
          /* Read the rest straight into the frame's own buffer. */
          stream->big = g_malloc (hdr.length);
          stream->big_hdr = hdr;
          memcpy (stream->big, p + MITOGEN_HEADER_SIZE, avail);
          stream->big_have = avail;
          stream->rstart = stream->rend = 0;
          break;
        }
      /* Charged, but not all here yet: parsed again after the next read.
       * Give the charge back until then. */
      _mitogen_flow_release (stream->flow, frame_charge (&hdr));
      break;
    }

  if (stream->rstart == stream->rend)
    stream->rstart = stream->rend = 0;
  else if (stream->rstart > 0 && stream->rend > READ_BUFFER_SIZE / 2)
    compact_read_buffer (stream);
  return stream->source != NULL;
}

static void
close_on_read_error (MitogenStream *stream,
                     ssize_t        n)
{
  g_autoptr(GError) error = NULL;

  if (n == 0)
    {
      if (stream->big != NULL || stream->rend > stream->rstart)
        g_set_error (&error, MITOGEN_ERROR, MITOGEN_ERROR_STREAM,
                     "stream %s ended in the middle of a frame", stream->name);
      _mitogen_stream_close_now (stream, error);
      return;
    }
  g_set_error (&error, MITOGEN_ERROR, MITOGEN_ERROR_STREAM,
               "reading stream %s failed: %s", stream->name, g_strerror (errno));
  _mitogen_stream_close_now (stream, error);
}

/* Reads what is available, a bounded number of times so that other
 * streams get their turn. */
void
_mitogen_stream_on_readable (MitogenStream *stream)
{
  for (int round = 0; round < 8 && stream->source != NULL && !stream->paused; round++)
    {
      ssize_t n;
      gsize want;

      if (stream->big != NULL)
        {
          want = stream->big_hdr.length - stream->big_have;
          n = read (stream->in_fd, stream->big + stream->big_have, want);
          if (n <= 0)
            {
              if (n < 0 && (errno == EAGAIN || errno == EINTR))
                return;
              close_on_read_error (stream, n);
              return;
            }
          stream->big_have += n;
          if (stream->big_have == stream->big_hdr.length)
            {
              g_autoptr(GBytes) data = g_bytes_new_take (g_steal_pointer (&stream->big),
                                                         stream->big_hdr.length);
              deliver (stream, &stream->big_hdr, data);
            }
          if ((gsize) n < want)
            return;
          continue;
        }

      if (stream->rbuf == NULL)
        stream->rbuf = g_malloc (READ_BUFFER_SIZE);
      if (stream->rend == READ_BUFFER_SIZE)
        compact_read_buffer (stream);
      want = READ_BUFFER_SIZE - stream->rend;
      n = read (stream->in_fd, stream->rbuf + stream->rend, want);
      if (n <= 0)
        {
          if (n < 0 && (errno == EAGAIN || errno == EINTR))
            return;
          close_on_read_error (stream, n);
          return;
        }
      stream->rend += n;
      if (!parse_frames (stream))
        return;
      /* A short read emptied the pipe or socket: another read would only
       * say EAGAIN. Whatever comes next, the poll reports. */
      if ((gsize) n < want)
        return;
    }
}
