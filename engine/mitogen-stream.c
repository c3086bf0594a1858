/* mitogen-stream.c: a framed, non-blocking byte stream driven by the
 * broker thread.
 *
 * Reading happens only on the broker thread (mitogen-stream-read.c). Writing happens on whichever
 * thread sends, under @out_lock: a frame goes straight to the fd when the
 * output queue is empty (no thread handoff on the hot path); whatever the
 * kernel does not take is queued and the broker finishes it when the fd
 * is writable.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <glib-unix.h>
#include <gio/gunixinputstream.h>
#include <gio/gunixoutputstream.h>
#include <gio/gfiledescriptorbased.h>

#include "mitogen-stream.h"

/* Senders outside the broker wait while more than this is queued... */
#define HIGH_WATER_MARK     (4 * 1024 * 1024)
/* ...until the queue falls below this. */
#define LOW_WATER_MARK      (1 * 1024 * 1024)
#define MAX_IOV             64

typedef struct
{
  GBytes         *bytes;   /* owned */
  gsize           offset;  /* bytes of @bytes already written */
  MitogenMessage *msg;     /* owned, nullable: keeps the budget of the stream
                            * the message came in on charged while it waits */
} OutChunk;

static void
set_nonblocking (int fd)
{
  int flags = fcntl (fd, F_GETFL);

  if (flags >= 0 && !(flags & O_NONBLOCK))
    fcntl (fd, F_SETFL, flags | O_NONBLOCK);
}

MitogenStream *
_mitogen_stream_new (MitogenBroker *broker,
                     int            in_fd,
                     int            out_fd,
                     GIOStream     *owner,
                     const char    *name)
{
  MitogenStream *stream = g_new0 (MitogenStream, 1);

  g_atomic_ref_count_init (&stream->ref_count);
  stream->broker = g_object_ref (broker);
  stream->owner = owner != NULL ? g_object_ref (owner) : NULL;
  stream->in_fd = in_fd;
  stream->out_fd = out_fd;
  stream->name = g_strdup (name);
  stream->max_message_size = MITOGEN_DEFAULT_MAX_MESSAGE_SIZE;
  g_mutex_init (&stream->out_lock);
  g_cond_init (&stream->out_cond);
  g_queue_init (&stream->out_queue);
  stream->flow = _mitogen_flow_new (mitogen_broker_get_main_context (broker));
  _mitogen_flow_set_limit (stream->flow, MITOGEN_DEFAULT_MAX_BUFFERED);
  set_nonblocking (in_fd);
  set_nonblocking (out_fd);
  return stream;
}

static int
fd_of_stream (gpointer object)
{
  if (G_IS_SOCKET_CONNECTION (object))
    return g_socket_get_fd (g_socket_connection_get_socket (object));
  if (G_IS_FILE_DESCRIPTOR_BASED (object))
    return g_file_descriptor_based_get_fd (object);
  if (G_IS_UNIX_INPUT_STREAM (object))
    return g_unix_input_stream_get_fd (object);
  if (G_IS_UNIX_OUTPUT_STREAM (object))
    return g_unix_output_stream_get_fd (object);
  return -1;
}

MitogenStream *
_mitogen_stream_new_for_io_stream (MitogenBroker  *broker,
                                   GIOStream      *io_stream,
                                   const char     *name,
                                   GError        **error)
{
  int in_fd = fd_of_stream (io_stream);
  int out_fd = in_fd;

  if (in_fd < 0)
    {
      in_fd = fd_of_stream (g_io_stream_get_input_stream (io_stream));
      out_fd = fd_of_stream (g_io_stream_get_output_stream (io_stream));
    }
  if (in_fd < 0 || out_fd < 0)
    {
      g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_STREAM,
                   "the transport returned a %s whose streams are not file "
                   "descriptors; a socket or pipe stream is needed",
                   G_OBJECT_TYPE_NAME (io_stream));
      return NULL;
    }
  return _mitogen_stream_new (broker, in_fd, out_fd, io_stream, name);
}

MitogenStream *
_mitogen_stream_ref (MitogenStream *stream)
{
  g_atomic_ref_count_inc (&stream->ref_count);
  return stream;
}

static void
out_chunk_free (gpointer data)
{
  OutChunk *chunk = data;

  g_bytes_unref (chunk->bytes);
  g_clear_pointer (&chunk->msg, mitogen_message_unref);
  g_free (chunk);
}

void
_mitogen_stream_unref (MitogenStream *stream)
{
  if (!g_atomic_ref_count_dec (&stream->ref_count))
    return;

  g_assert (stream->source == NULL);
  g_queue_clear_full (&stream->out_queue, out_chunk_free);
  if (stream->owner == NULL)
    {
      /* We own raw fds (the agent's end of its parent stream). */
      if (stream->in_fd >= 0)
        close (stream->in_fd);
      if (stream->out_fd >= 0 && stream->out_fd != stream->in_fd)
        close (stream->out_fd);
    }
  g_clear_object (&stream->owner);
  g_clear_object (&stream->serializer);
  g_clear_object (&stream->broker);
  g_free (stream->rbuf);
  if (stream->big != NULL)
    {
      g_free (stream->big);
      _mitogen_flow_release (stream->flow, frame_charge (&stream->big_hdr));
    }
  _mitogen_flow_unref (stream->flow);
  g_free (stream->name);
  g_mutex_clear (&stream->out_lock);
  g_cond_clear (&stream->out_cond);
  g_free (stream);
}

void
_mitogen_stream_set_handlers (MitogenStream            *stream,
                              MitogenStreamMessageFunc  message_func,
                              MitogenStreamClosedFunc   closed_func,
                              gpointer                  user_data)
{
  stream->message_func = message_func;
  stream->closed_func = closed_func;
  stream->user_data = user_data;
}

void
_mitogen_stream_set_serializer (MitogenStream     *stream,
                                MitogenSerializer *serializer)
{
  g_set_object (&stream->serializer, serializer);
}

MitogenSerializer *
_mitogen_stream_get_serializer (MitogenStream *stream)
{
  return stream->serializer;
}

void
_mitogen_stream_set_max_message_size (MitogenStream *stream,
                                      gsize          size)
{
  stream->max_message_size = size;
}

void
_mitogen_stream_set_max_buffered (MitogenStream *stream,
                                  guint64        limit)
{
  _mitogen_flow_set_limit (stream->flow, limit);
}

gsize
_mitogen_stream_get_buffered (MitogenStream *stream)
{
  return _mitogen_flow_get_outstanding (stream->flow);
}

const char *
_mitogen_stream_get_name (MitogenStream *stream)
{
  return stream->name;
}

void
_mitogen_stream_set_remote_id (MitogenStream *stream,
                               guint32        remote_id)
{
  stream->remote_id = remote_id;
}

guint32
_mitogen_stream_get_remote_id (MitogenStream *stream)
{
  return stream->remote_id;
}

/* ---- writing (any thread, under out_lock) ------------------------------ */

/* Writes queued chunks until the queue is empty or the fd is full.
 * Returns FALSE on a write error (errno set). */
static gboolean
flush_queue_unlocked (MitogenStream *stream)
{
  while (!g_queue_is_empty (&stream->out_queue))
    {
      struct iovec iov[MAX_IOV];
      int n_iov = 0;
      ssize_t n;

      for (GList *l = stream->out_queue.head; l != NULL && n_iov < MAX_IOV; l = l->next)
        {
          OutChunk *chunk = l->data;
          gsize size;
          const guint8 *p = g_bytes_get_data (chunk->bytes, &size);

          iov[n_iov].iov_base = (void *) (p + chunk->offset);
          iov[n_iov].iov_len = size - chunk->offset;
          n_iov++;
        }

      n = writev (stream->out_fd, iov, n_iov);
      if (n < 0)
        {
          if (errno == EINTR)
            continue;
          return errno == EAGAIN;
        }

      stream->out_queued -= n;
      while (n > 0)
        {
          OutChunk *chunk = g_queue_peek_head (&stream->out_queue);
          gsize left = g_bytes_get_size (chunk->bytes) - chunk->offset;

          if ((gsize) n < left)
            {
              chunk->offset += n;
              break;
            }
          n -= left;
          out_chunk_free (g_queue_pop_head (&stream->out_queue));
        }
    }
  return TRUE;
}

static void
queue_bytes_unlocked (MitogenStream  *stream,
                      GBytes         *bytes,
                      gsize           offset,
                      MitogenMessage *charged)
{
  OutChunk *chunk = g_new (OutChunk, 1);

  chunk->bytes = g_bytes_ref (bytes);
  chunk->offset = offset;
  chunk->msg = charged != NULL ? mitogen_message_ref (charged) : NULL;
  stream->out_queued += g_bytes_get_size (bytes) - offset;
  g_queue_push_tail (&stream->out_queue, chunk);
}

static GPrivate thread_batching;

void
_mitogen_stream_set_thread_batching (gboolean batching)
{
  g_private_set (&thread_batching, GINT_TO_POINTER (batching));
}

/* Called with out_lock held after queueing. The broker clears want_out
 * under the same lock once the queue is empty, so when it is still set the
 * broker is sure to see what was just queued: no wakeup needed. */
static void
request_output (MitogenStream *stream)
{
  if (g_atomic_int_get (&stream->want_out))
    return;
  g_atomic_int_set (&stream->want_out, TRUE);
  g_main_context_wakeup (mitogen_broker_get_main_context (stream->broker));
}

/* A write failed: stop writing at once (under out_lock) and build the
 * reason. The caller closes the stream after dropping the lock, since
 * _mitogen_stream_close() runs at once when called on the broker thread. */
static GError *
fail_write_unlocked (MitogenStream *stream,
                     int            err)
{
  stream->closed = TRUE;
  g_cond_broadcast (&stream->out_cond);
  return g_error_new (MITOGEN_ERROR, MITOGEN_ERROR_STREAM, "writing stream %s failed: %s",
                      stream->name, g_strerror (err));
}

gboolean
_mitogen_stream_send (MitogenStream   *stream,
                      MitogenMessage  *msg,
                      GError         **error)
{
  g_autoptr(GPtrArray) chunks = NULL;
  g_autoptr(GBytes) head = NULL;
  MitogenFrameHeader hdr;
  guint8 header[MITOGEN_HEADER_SIZE];
  struct iovec iov[MAX_IOV];
  gsize size = 0;
  guint n_iov = 1;
  gboolean on_broker;

  chunks = _mitogen_message_encode_chunks (msg, stream->serializer, error);
  if (chunks == NULL)
    return FALSE;
  if (chunks->len >= MAX_IOV)
    {
      g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_FAILED,
                   "the serializer gave %u pieces; at most %d are allowed",
                   chunks->len, MAX_IOV - 1);
      return FALSE;
    }
  for (guint i = 0; i < chunks->len; i++)
    {
      gsize len;
      const guint8 *p = g_bytes_get_data (chunks->pdata[i], &len);

      if (len == 0)
        continue;
      iov[n_iov].iov_base = (void *) p;
      iov[n_iov].iov_len = len;
      n_iov++;
      size += len;
    }
  if (size > stream->max_message_size)
    {
      g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_FAILED,
                   "message of %" G_GSIZE_FORMAT " bytes exceeds the limit of %"
                   G_GSIZE_FORMAT " bytes", size, stream->max_message_size);
      return FALSE;
    }

  hdr.dst_id = msg->dst_id;
  hdr.src_id = msg->src_id;
  hdr.auth_id = msg->auth_id;
  hdr.handle = msg->handle;
  hdr.reply_to = msg->reply_to;
  hdr.length = size;
  _mitogen_frame_header_encode (header, &hdr);
  iov[0].iov_base = header;
  iov[0].iov_len = MITOGEN_HEADER_SIZE;

  on_broker = mitogen_broker_is_broker_thread (stream->broker);

  g_mutex_lock (&stream->out_lock);
  if (stream->closed)
    {
      g_mutex_unlock (&stream->out_lock);
      g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_STREAM,
                   "stream %s is closed", stream->name);
      return FALSE;
    }

  {
    gsize written = 0;

    if (g_queue_is_empty (&stream->out_queue) && !g_private_get (&thread_batching))
      {
        ssize_t n;

        do
          n = writev (stream->out_fd, iov, n_iov);
        while (n < 0 && errno == EINTR);

        if (n < 0 && errno != EAGAIN)
          {
            g_autoptr(GError) reason = fail_write_unlocked (stream, errno);

            g_mutex_unlock (&stream->out_lock);
            if (error != NULL)
              *error = g_error_copy (reason);
            _mitogen_stream_close (stream, reason);
            return FALSE;
          }
        written = n > 0 ? n : 0;
        if (written == MITOGEN_HEADER_SIZE + size)
          {
            g_mutex_unlock (&stream->out_lock);
            return TRUE;
          }
      }

    /* Queue what the kernel did not take, piece by piece, keeping the
     * pieces (no copy) and skipping what was written. */
    head = g_bytes_new (header, MITOGEN_HEADER_SIZE);
    for (guint i = 0; i < n_iov; i++)
      {
        GBytes *piece = i == 0 ? head : NULL;
        gsize len = iov[i].iov_len;

        if (written >= len)
          {
            written -= len;
            continue;
          }
        if (piece == NULL)
          {
            /* Find the chunk this iovec came from. */
            for (guint c = 0; c < chunks->len && piece == NULL; c++)
              if (g_bytes_get_data (chunks->pdata[c], NULL) == iov[i].iov_base)
                piece = chunks->pdata[c];
          }
        /* A relayed message keeps its own stream's budget charged
         * until it is written: a slow reader here slows that one. */
        queue_bytes_unlocked (stream, piece, written, msg->flow != NULL ? msg : NULL);
        written = 0;
      }
    request_output (stream);
  }

  /* Back-pressure: a sending thread waits for the broker to drain the
   * queue, so a fast producer cannot queue without bound. The broker
   * itself never waits. */
  if (!on_broker)
    while (!stream->closed && stream->out_queued > HIGH_WATER_MARK)
      g_cond_wait (&stream->out_cond, &stream->out_lock);

  g_mutex_unlock (&stream->out_lock);
  return TRUE;
}

void
_mitogen_stream_flush (MitogenStream *stream)
{
  g_mutex_lock (&stream->out_lock);
  while (!stream->closed && stream->out_queued > 0)
    g_cond_wait (&stream->out_cond, &stream->out_lock);
  g_mutex_unlock (&stream->out_lock);
}

static void
stream_on_writable (MitogenStream *stream)
{
  gboolean ok;
  int err = 0;

  g_mutex_lock (&stream->out_lock);
  ok = flush_queue_unlocked (stream);
  if (!ok)
    err = errno;
  if (stream->out_queued < LOW_WATER_MARK)
    g_cond_broadcast (&stream->out_cond);
  if (ok && g_queue_is_empty (&stream->out_queue))
    {
      g_atomic_int_set (&stream->want_out, FALSE);
      g_source_remove_unix_fd (&stream->source->source, stream->source->out_tag);
      stream->source->out_tag = NULL;
    }
  g_mutex_unlock (&stream->out_lock);

  if (!ok)
    {
      g_autoptr(GError) error = g_error_new (MITOGEN_ERROR, MITOGEN_ERROR_STREAM,
                                             "writing stream %s failed: %s",
                                             stream->name, g_strerror (err));
      _mitogen_stream_close_now (stream, error);
    }
}

/* ---- the broker-side source -------------------------------------------- */

static gboolean
stream_source_prepare (GSource *source,
                       gint    *timeout)
{
  StreamSource *ss = (StreamSource *) source;

  *timeout = -1;
  if (ss->out_tag == NULL && g_atomic_int_get (&ss->stream->want_out))
    ss->out_tag = g_source_add_unix_fd (source, ss->stream->out_fd, G_IO_OUT);
  return FALSE;
}

static gboolean
stream_source_dispatch (GSource     *source,
                        GSourceFunc  callback,
                        gpointer     user_data)
{
  StreamSource *ss = (StreamSource *) source;
  MitogenStream *stream = ss->stream;
  GIOCondition in_cond = ss->in_tag != NULL ? g_source_query_unix_fd (source, ss->in_tag) : 0;
  GIOCondition out_cond = ss->out_tag != NULL ? g_source_query_unix_fd (source, ss->out_tag) : 0;

  _mitogen_stream_ref (stream);
  if (out_cond & (G_IO_OUT | G_IO_ERR | G_IO_HUP))
    stream_on_writable (stream);
  if (stream->source != NULL && !stream->paused && (in_cond & (G_IO_IN | G_IO_HUP | G_IO_ERR)))
    _mitogen_stream_on_readable (stream);
  _mitogen_stream_unref (stream);
  return G_SOURCE_CONTINUE;
}

static void
stream_source_finalize (GSource *source)
{
  StreamSource *ss = (StreamSource *) source;

  _mitogen_stream_unref (ss->stream);
}

static GSourceFuncs stream_source_funcs = {
  .prepare = stream_source_prepare,
  .dispatch = stream_source_dispatch,
  .finalize = stream_source_finalize,
};

static gboolean
stream_attach_on_broker (gpointer data)
{
  MitogenStream *stream = data;
  StreamSource *ss;

  if (stream->close_called)
    return G_SOURCE_REMOVE;

  ss = (StreamSource *) g_source_new (&stream_source_funcs, sizeof (StreamSource));
  ss->stream = _mitogen_stream_ref (stream);
  ss->in_tag = g_source_add_unix_fd (&ss->source, stream->in_fd, G_IO_IN);
  g_source_set_static_name (&ss->source, "[mitogen] stream");
  /* GLib blocks a source that cannot recurse while it dispatches, taking
   * its fds out of the poll set and putting them back: two eventfd writes,
   * and a poll and a read more, for every message. The broker never
   * iterates its context from inside a dispatch, so nothing can recurse. */
  g_source_set_can_recurse (&ss->source, TRUE);
  stream->source = ss;
  _mitogen_flow_set_resume_func (stream->flow, _mitogen_stream_resume_reading, stream);
  g_source_attach (&ss->source, mitogen_broker_get_main_context (stream->broker));
  return G_SOURCE_REMOVE;
}

void
_mitogen_stream_start (MitogenStream *stream)
{
  mitogen_broker_defer (stream->broker, stream_attach_on_broker,
                        _mitogen_stream_ref (stream),
                        (GDestroyNotify) _mitogen_stream_unref);
}

/* ---- closing ----------------------------------------------------------- */

void
_mitogen_stream_close_now (MitogenStream *stream,
                           const GError  *reason)
{
  int in_fd, out_fd;

  if (stream->close_called)
    return;
  stream->close_called = TRUE;

  g_mutex_lock (&stream->out_lock);
  stream->closed = TRUE;
  g_cond_broadcast (&stream->out_cond);
  /* shutdown() wakes a peer blocked on the other end of a socket even
   * while a subprocess still holds a copy of the fd. */
  shutdown (stream->in_fd, SHUT_RDWR);
  if (stream->out_fd != stream->in_fd)
    shutdown (stream->out_fd, SHUT_RDWR);
  in_fd = stream->in_fd;
  out_fd = stream->out_fd;
  stream->in_fd = stream->out_fd = -1;
  g_mutex_unlock (&stream->out_lock);

  /* Outside the lock: a plugin's GIOStream may take its own locks, wait
   * for a pump thread or call back into the engine while it closes. No
   * writer touches the fds any more, since @closed is set. */
  if (stream->owner != NULL)
    g_io_stream_close (stream->owner, NULL, NULL);
  else
    {
      close (in_fd);
      if (out_fd != in_fd)
        close (out_fd);
    }

  _mitogen_flow_set_resume_func (stream->flow, NULL, NULL);
  if (stream->source != NULL)
    {
      GSource *source = &stream->source->source;

      stream->source = NULL;
      g_source_destroy (source);
      g_source_unref (source);
    }

  if (stream->closed_func != NULL)
    stream->closed_func (stream, reason, stream->user_data);
}

typedef struct
{
  MitogenStream *stream;
  GError        *reason;
} CloseRequest;

static gboolean
close_on_broker (gpointer data)
{
  CloseRequest *req = data;

  _mitogen_stream_close_now (req->stream, req->reason);
  return G_SOURCE_REMOVE;
}

static void
close_request_free (gpointer data)
{
  CloseRequest *req = data;

  _mitogen_stream_unref (req->stream);
  g_clear_error (&req->reason);
  g_free (req);
}

void
_mitogen_stream_close (MitogenStream *stream,
                       const GError  *reason)
{
  CloseRequest *req = g_new0 (CloseRequest, 1);

  req->stream = _mitogen_stream_ref (stream);
  req->reason = reason != NULL ? g_error_copy (reason) : NULL;
  mitogen_broker_defer (stream->broker, close_on_broker, req, close_request_free);
}

gboolean
_mitogen_stream_is_closed (MitogenStream *stream)
{
  gboolean closed;

  g_mutex_lock (&stream->out_lock);
  closed = stream->closed;
  g_mutex_unlock (&stream->out_lock);
  return closed;
}

void
_mitogen_stream_detach_and_close (MitogenStream *stream)
{
  stream->message_func = NULL;
  stream->closed_func = NULL;
  stream->user_data = NULL;
  _mitogen_stream_close_now (stream, NULL);
}
