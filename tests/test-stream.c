/* test-stream.c: what a router does with the bytes a child sends.
 *
 * The test registers a "fake" transport whose stream is one end of a
 * socketpair; the test itself plays the agent on the other end. So frames
 * reach the router exactly as a child's would, and the test can send what
 * no real agent sends: bad magic, over-long frames, undecodable data,
 * forged sources, frames cut in pieces. A real local context on the same
 * router must carry on through all of it.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <errno.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mitogen-test-util.h"
#include "mitogen-message-private.h"
#include "mitogen-router-private.h"
#include "mitogen-stream-private.h"

#define WAIT_MSEC 10000

/* ---- the fake transport ------------------------------------------------ */

#define TEST_TYPE_FAKE_TRANSPORT (test_fake_transport_get_type ())
G_DECLARE_FINAL_TYPE (TestFakeTransport, test_fake_transport, TEST, FAKE_TRANSPORT, GObject)

struct _TestFakeTransport
{
  GObject parent_instance;
};

/* The test's end of the last stream the fake transport opened. Connects
 * happen on the test's thread, one at a time. */
static int fake_peer_fd = -1;

static gboolean
write_all (int         fd,
           const void *data,
           gsize       size)
{
  const guint8 *p = data;

  while (size > 0)
    {
      ssize_t n = write (fd, p, size);

      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return FALSE;
      p += n;
      size -= n;
    }
  return TRUE;
}

/* The agent's ready frame: a raw a{sv} on the bootstrap handle. */
static void
write_ready_frame (int fd)
{
  g_autoptr(GVariant) info = NULL;
  g_autoptr(GBytes) data = NULL;
  MitogenFrameHeader hdr = { 0, };
  guint8 header[MITOGEN_HEADER_SIZE];
  GVariantDict dict;

  g_variant_dict_init (&dict, NULL);
  g_variant_dict_insert (&dict, "name", "s", "fake");
  g_variant_dict_insert (&dict, "pid", "i", (gint32) getpid ());
  info = g_variant_ref_sink (g_variant_dict_end (&dict));
  data = g_variant_get_data_as_bytes (info);
  hdr.handle = MITOGEN_HANDLE_BOOTSTRAP;
  hdr.length = g_bytes_get_size (data);
  _mitogen_frame_header_encode (header, &hdr);
  g_assert_true (write_all (fd, header, sizeof header));
  g_assert_true (write_all (fd, g_bytes_get_data (data, NULL), hdr.length));
}

static GIOStream *
fake_open_stream (MitogenTransport  *transport,
                  GVariant          *options,
                  const char        *agent_path,
                  GCancellable      *cancellable,
                  GError           **error)
{
  g_autoptr(GSocket) socket = NULL;
  int sv[2];

  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), ==, 0);
  /* Answer before being asked: the router reads it once it is ready. */
  write_ready_frame (sv[1]);
  fake_peer_fd = sv[1];
  socket = g_socket_new_from_fd (sv[0], error);
  g_assert_nonnull (socket);
  return G_IO_STREAM (g_socket_connection_factory_create_connection (socket));
}

static void
test_fake_transport_iface_init (MitogenTransportInterface *iface)
{
  iface->open_stream = fake_open_stream;
}

G_DEFINE_FINAL_TYPE_WITH_CODE (TestFakeTransport, test_fake_transport, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (MITOGEN_TYPE_TRANSPORT,
                                                      test_fake_transport_iface_init))

static void
test_fake_transport_class_init (TestFakeTransportClass *klass)
{
}

static void
test_fake_transport_init (TestFakeTransport *self)
{
}

/* ---- fixture ----------------------------------------------------------- */

typedef struct
{
  MitogenTestFixture  base;
  MitogenSerializer  *serializer;
  MitogenContext     *fake;       /* the context the test plays */
  int                 peer;       /* the test's end of its stream */
  MitogenContext     *real;       /* a real local context beside it */
} Fixture;

static void
fixture_setup (Fixture       *fixture,
               gconstpointer  data)
{
  g_autoptr(GError) error = NULL;

  mitogen_test_fixture_setup (&fixture->base, data);
  fixture->serializer = mitogen_serializer_lookup ("gvariant", &error);
  g_assert_no_error (error);

  fake_peer_fd = -1;
  fixture->fake = mitogen_router_connect_context (fixture->base.router, "fake", NULL, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (fixture->fake);
  g_assert_cmpstr (mitogen_context_get_name (fixture->fake), ==, "fake");
  fixture->peer = fake_peer_fd;
  g_assert_cmpint (fixture->peer, >=, 0);

  fixture->real = mitogen_test_local (fixture->base.router);
}

static void
fixture_teardown (Fixture       *fixture,
                  gconstpointer  data)
{
  mitogen_router_disconnect_all (fixture->base.router);
  g_assert_true (mitogen_test_wait_disconnected (fixture->fake, WAIT_MSEC));
  g_assert_true (mitogen_test_wait_disconnected (fixture->real, WAIT_MSEC));
  mitogen_test_sync_with_broker (fixture->base.broker);
  while (g_main_context_iteration (NULL, FALSE))
    ;
  g_clear_object (&fixture->fake);
  g_clear_object (&fixture->real);
  g_clear_object (&fixture->serializer);
  close (fixture->peer);
  mitogen_test_fixture_teardown (&fixture->base, data);
}

#define TEST(path, func) \
  g_test_add ((path), Fixture, NULL, fixture_setup, (func), fixture_teardown)

/* ---- frames ------------------------------------------------------------ */

static guint32
fake_id (Fixture *fixture)
{
  return mitogen_context_get_id (fixture->fake);
}

/* The bytes of a frame carrying @value, as an agent would write them. */
static GBytes *
encode_frame (Fixture  *fixture,
              guint32   dst_id,
              guint32   src_id,
              guint32   auth_id,
              guint32   handle,
              guint32   reply_to,
              GVariant *value)
{
  g_autoptr(MitogenMessage) msg = mitogen_message_new (dst_id, handle, value);
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) data = _mitogen_message_encode (msg, fixture->serializer, &error);
  MitogenFrameHeader hdr = { dst_id, src_id, auth_id, handle, reply_to, 0 };
  guint8 header[MITOGEN_HEADER_SIZE];
  GByteArray *frame = g_byte_array_new ();

  g_assert_no_error (error);
  hdr.length = g_bytes_get_size (data);
  _mitogen_frame_header_encode (header, &hdr);
  g_byte_array_append (frame, header, sizeof header);
  g_byte_array_append (frame, g_bytes_get_data (data, NULL), hdr.length);
  return g_byte_array_free_to_bytes (frame);
}

static void
send_value (Fixture  *fixture,
            guint32   src_id,
            guint32   auth_id,
            guint32   handle,
            GVariant *value)
{
  g_autoptr(GBytes) frame = encode_frame (fixture, 0, src_id, auth_id, handle, 0, value);

  g_assert_true (write_all (fixture->peer, g_bytes_get_data (frame, NULL), g_bytes_get_size (frame)));
}

static gboolean
read_exactly (int     fd,
              guint8 *buf,
              gsize   size,
              int     timeout_msec)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_msec * 1000;
  gsize have = 0;

  while (have < size)
    {
      struct pollfd pfd = { fd, POLLIN, 0 };
      int left = (int) ((deadline - g_get_monotonic_time ()) / 1000);
      ssize_t n;

      if (left <= 0 || poll (&pfd, 1, left) <= 0)
        return FALSE;
      n = read (fd, buf + have, size - have);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return FALSE;
      have += n;
    }
  return TRUE;
}

/* Reads the next frame the router sent to the fake agent, skipping the
 * bootstrap frame. */
static MitogenMessage *
read_frame (Fixture *fixture)
{
  for (;;)
    {
      guint8 header[MITOGEN_HEADER_SIZE];
      MitogenFrameHeader hdr;
      g_autoptr(GError) error = NULL;
      g_autofree guint8 *data = NULL;
      g_autoptr(GBytes) bytes = NULL;

      g_assert_true (read_exactly (fixture->peer, header, sizeof header, WAIT_MSEC));
      g_assert_true (_mitogen_frame_header_decode (header, MITOGEN_DEFAULT_MAX_MESSAGE_SIZE, &hdr, &error));
      g_assert_no_error (error);
      data = g_malloc (MAX (hdr.length, 1));
      g_assert_true (read_exactly (fixture->peer, data, hdr.length, WAIT_MSEC));
      if (hdr.handle == MITOGEN_HANDLE_BOOTSTRAP)
        continue;
      bytes = g_bytes_new_take (g_steal_pointer (&data), hdr.length);
      return _mitogen_message_new_from_frame (&hdr, bytes, fixture->serializer);
    }
}

/* TRUE when the router closed the fake agent's stream: EOF, after
 * whatever it had already sent. */
static gboolean
peer_sees_eof (Fixture *fixture)
{
  gint64 deadline = g_get_monotonic_time () + WAIT_MSEC * 1000;
  guint8 buf[4096];

  while (g_get_monotonic_time () < deadline)
    {
      struct pollfd pfd = { fixture->peer, POLLIN, 0 };
      ssize_t n;

      if (poll (&pfd, 1, 100) <= 0)
        continue;
      n = read (fixture->peer, buf, sizeof buf);
      if (n == 0 || (n < 0 && errno == ECONNRESET))
        return TRUE;
    }
  return FALSE;
}

/* The real context still answers: one bad stream disturbs nothing else. */
static void
assert_real_context_works (Fixture *fixture)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) pid = mitogen_context_call (fixture->real, "core.getpid", NULL, NULL, &error);

  g_assert_no_error (error);
  g_assert_cmpint (g_variant_get_int32 (pid), ==, mitogen_test_context_pid (fixture->real));
  g_assert_true (mitogen_context_is_connected (fixture->real));
}

/* ---- well-formed traffic ----------------------------------------------- */

static void
test_valid_frame_delivered (Fixture       *fixture,
                            gconstpointer  data)
{
  g_autoptr(MitogenReceiver) recv = mitogen_receiver_new (fixture->base.router);
  g_autoptr(MitogenMessage) msg = NULL;
  g_autoptr(GVariant) value = NULL;
  g_autoptr(GError) error = NULL;

  send_value (fixture, fake_id (fixture), fake_id (fixture), mitogen_receiver_get_handle (recv),
              g_variant_new_string ("from the fake agent"));
  msg = mitogen_receiver_get (recv, WAIT_MSEC, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (mitogen_message_get_src_id (msg), ==, fake_id (fixture));
  g_assert_cmpuint (mitogen_message_get_auth_id (msg), ==, fake_id (fixture));
  value = mitogen_message_unpack (msg, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (g_variant_get_string (value, NULL), ==, "from the fake agent");
  g_assert_true (mitogen_context_is_connected (fixture->fake));
}

/* The whole call path at the wire: the router's CALL_FUNCTION frame as the
 * agent sees it, and the agent's reply completing the call. */
static void
test_fake_agent_answers_call (Fixture       *fixture,
                              gconstpointer  data)
{
  g_autoptr(MitogenReceiver) recv = NULL;
  g_autoptr(MitogenMessage) request = NULL;
  g_autoptr(MitogenMessage) reply = NULL;
  g_autoptr(GVariant) body = NULL;
  g_autoptr(GVariant) args = NULL;
  g_autoptr(GVariant) value = NULL;
  g_autoptr(GError) error = NULL;
  const char *function;

  recv = mitogen_context_begin_call (fixture->fake, "core.echo", g_variant_new ("(s)", "ping"));
  request = read_frame (fixture);
  g_assert_cmpuint (mitogen_message_get_dst_id (request), ==, fake_id (fixture));
  g_assert_cmpuint (mitogen_message_get_src_id (request), ==, 0);
  g_assert_cmpuint (mitogen_message_get_handle (request), ==, MITOGEN_HANDLE_CALL_FUNCTION);
  g_assert_cmpuint (mitogen_message_get_reply_to (request), ==, mitogen_receiver_get_handle (recv));
  body = mitogen_message_unpack (request, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (g_variant_get_type_string (body), ==, "(sv)");
  g_variant_get (body, "(&sv)", &function, &args);
  g_assert_cmpstr (function, ==, "core.echo");
  g_assert_cmpstr (g_variant_get_type_string (args), ==, "(s)");

  send_value (fixture, fake_id (fixture), fake_id (fixture),
              mitogen_message_get_reply_to (request), g_variant_new_string ("pong"));
  reply = mitogen_receiver_get (recv, WAIT_MSEC, NULL, &error);
  g_assert_no_error (error);
  value = mitogen_message_unpack (reply, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (g_variant_get_string (value, NULL), ==, "pong");
}

/* Frames cut anywhere, and many in one write, come out whole and in order. */
static void
test_frames_split_and_batched (Fixture       *fixture,
                               gconstpointer  data)
{
  g_autoptr(MitogenReceiver) recv = mitogen_receiver_new (fixture->base.router);
  guint32 handle = mitogen_receiver_get_handle (recv);
  g_autoptr(GByteArray) batch = g_byte_array_new ();
  g_autoptr(GBytes) slow = NULL;
  const guint8 *p;
  gsize size;

  /* One frame, a byte at a time. */
  slow = encode_frame (fixture, 0, fake_id (fixture), fake_id (fixture), handle, 0,
                       g_variant_new_int32 (-1));
  p = g_bytes_get_data (slow, &size);
  for (gsize i = 0; i < size; i++)
    {
      g_assert_true (write_all (fixture->peer, p + i, 1));
      if (i % 5 == 0)
        g_usleep (500);
    }

  /* Fifty frames in one write. */
  for (int i = 0; i < 50; i++)
    {
      g_autoptr(GBytes) frame = encode_frame (fixture, 0, fake_id (fixture), fake_id (fixture),
                                              handle, 0, g_variant_new_int32 (i));

      g_byte_array_append (batch, g_bytes_get_data (frame, NULL), g_bytes_get_size (frame));
    }
  g_assert_true (write_all (fixture->peer, batch->data, batch->len));

  for (int i = -1; i < 50; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(MitogenMessage) msg = mitogen_receiver_get (recv, WAIT_MSEC, NULL, &error);
      g_autoptr(GVariant) value = NULL;

      g_assert_no_error (error);
      value = mitogen_message_unpack (msg, &error);
      g_assert_no_error (error);
      g_assert_cmpint (g_variant_get_int32 (value), ==, i);
    }
}

/* A frame larger than the read buffer, written in uneven pieces. */
static void
test_large_frame_in_pieces (Fixture       *fixture,
                            gconstpointer  data)
{
  g_autoptr(MitogenReceiver) recv = mitogen_receiver_new (fixture->base.router);
  g_autoptr(GBytes) frame = NULL;
  g_autoptr(MitogenMessage) msg = NULL;
  g_autoptr(GVariant) value = NULL;
  g_autoptr(GError) error = NULL;
  gsize big_size = 700 * 1000 + 13;
  guint8 *big = g_malloc (big_size);
  const guint8 *p, *got;
  gsize size, off = 0, piece = 1, len;

  for (gsize i = 0; i < big_size; i++)
    big[i] = (guint8) (i % 251);
  frame = encode_frame (fixture, 0, fake_id (fixture), fake_id (fixture),
                        mitogen_receiver_get_handle (recv), 0,
                        g_variant_new_from_data (G_VARIANT_TYPE_BYTESTRING, big, big_size,
                                                 TRUE, g_free, big));
  p = g_bytes_get_data (frame, &size);
  while (off < size)
    {
      gsize n = MIN (piece, size - off);

      g_assert_true (write_all (fixture->peer, p + off, n));
      off += n;
      piece = piece * 3 + 7;
    }

  msg = mitogen_receiver_get (recv, WAIT_MSEC, NULL, &error);
  g_assert_no_error (error);
  value = mitogen_message_unpack (msg, &error);
  g_assert_no_error (error);
  got = g_variant_get_fixed_array (value, &len, 1);
  g_assert_cmpuint (len, ==, big_size);
  for (gsize i = 0; i < len; i++)
    if (got[i] != (guint8) (i % 251))
      g_error ("byte %" G_GSIZE_FORMAT " differs", i);
  g_assert_true (mitogen_context_is_connected (fixture->fake));
}

/* ---- frames that break the rules --------------------------------------- */

/* Writes @frame, expecting the router to close the fake stream with a
 * warning matching @pattern; checks a pending call to the fake context
 * fails and that the real context is undisturbed. */
static void
expect_stream_closed (Fixture    *fixture,
                      const void *frame,
                      gsize       size,
                      const char *pattern)
{
  g_autoptr(MitogenReceiver) pending = mitogen_context_begin_call (fixture->fake, "core.ping", NULL);
  g_autoptr(MitogenMessage) msg = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) later = NULL;

  mitogen_test_expect_log ("mitogen", G_LOG_LEVEL_WARNING, pattern);
  g_assert_true (write_all (fixture->peer, frame, size));

  g_assert_true (mitogen_test_wait_disconnected (fixture->fake, WAIT_MSEC));
  mitogen_test_assert_expected_logs ();

  /* The call that was waiting on it fails, promptly. */
  msg = mitogen_receiver_get (pending, 2000, NULL, &error);
  g_assert_null (msg);
  g_assert_error (error, MITOGEN_ERROR, MITOGEN_ERROR_CHANNEL);
  g_clear_error (&error);

  /* The fake agent sees its stream closed... */
  g_assert_true (peer_sees_eof (fixture));
  /* ...later calls fail at once... */
  later = mitogen_context_call (fixture->fake, "core.ping", NULL, NULL, &error);
  g_assert_null (later);
  g_assert_error (error, MITOGEN_ERROR, MITOGEN_ERROR_CHANNEL);
  /* ...and the real context never noticed. */
  assert_real_context_works (fixture);
}

static void
test_bad_magic (Fixture       *fixture,
                gconstpointer  data)
{
  MitogenFrameHeader hdr = { 0, fake_id (fixture), fake_id (fixture), 1000, 0, 4 };
  guint8 frame[MITOGEN_HEADER_SIZE + 4] = { 0, };

  _mitogen_frame_header_encode (frame, &hdr);
  frame[0] = 'G';
  frame[1] = 'E';
  expect_stream_closed (fixture, frame, sizeof frame, "*bad frame magic*");
}

static void
test_over_long_frame (Fixture       *fixture,
                      gconstpointer  data)
{
  /* A length over the default limit is refused from the header alone,
   * without waiting for (or allocating) the data. */
  MitogenFrameHeader hdr = { 0, fake_id (fixture), fake_id (fixture), 1000, 0,
                             MITOGEN_DEFAULT_MAX_MESSAGE_SIZE + 1 };
  guint8 header[MITOGEN_HEADER_SIZE];

  _mitogen_frame_header_encode (header, &hdr);
  expect_stream_closed (fixture, header, sizeof header, "*exceeds the limit*");
}

/* The limit in force when a context started is its stream's limit. */
static void
test_over_limit_frame (Fixture       *fixture,
                       gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MitogenContext) small = NULL;
  g_autoptr(GBytes) frame = NULL;
  guint8 payload[5000];
  int small_peer;

  mitogen_router_set_max_message_size (fixture->base.router, 4096);
  small = mitogen_router_connect_context (fixture->base.router, "fake", NULL, NULL, NULL, &error);
  g_assert_no_error (error);
  small_peer = fake_peer_fd;

  /* The first fake context was started with the default limit. */
  memset (payload, 'x', sizeof payload);
  {
    g_autoptr(MitogenReceiver) recv = mitogen_receiver_new (fixture->base.router);
    g_autoptr(MitogenMessage) msg = NULL;

    send_value (fixture, fake_id (fixture), fake_id (fixture), mitogen_receiver_get_handle (recv),
                g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, payload, sizeof payload, 1));
    msg = mitogen_receiver_get (recv, WAIT_MSEC, NULL, &error);
    g_assert_no_error (error);
  }

  /* The second one has 4096. */
  frame = encode_frame (fixture, 0, mitogen_context_get_id (small), mitogen_context_get_id (small),
                        2000, 0, g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, payload, sizeof payload, 1));
  mitogen_test_expect_log ("mitogen", G_LOG_LEVEL_WARNING, "*exceeds the limit of 4096*");
  g_assert_true (write_all (small_peer, g_bytes_get_data (frame, NULL), g_bytes_get_size (frame)));
  g_assert_true (mitogen_test_wait_disconnected (small, WAIT_MSEC));
  mitogen_test_assert_expected_logs ();

  g_assert_true (mitogen_context_is_connected (fixture->fake));
  assert_real_context_works (fixture);
  close (small_peer);
}

static void
test_undecodable_data (Fixture       *fixture,
                       gconstpointer  data)
{
  static const guint8 junk[] = { 0xff, 0x00, 0x13, 0x37, 0xfe, 0xed, 0xfa, 0xce, 0x01 };
  MitogenFrameHeader hdr = { 0, fake_id (fixture), fake_id (fixture), 1000, 0, sizeof junk };
  guint8 frame[MITOGEN_HEADER_SIZE + sizeof junk];

  _mitogen_frame_header_encode (frame, &hdr);
  memcpy (frame + MITOGEN_HEADER_SIZE, junk, sizeof junk);
  expect_stream_closed (fixture, frame, sizeof frame, "*undecodable*");
}

static void
test_empty_data (Fixture       *fixture,
                 gconstpointer  data)
{
  MitogenFrameHeader hdr = { 0, fake_id (fixture), fake_id (fixture), 1000, 0, 0 };
  guint8 frame[MITOGEN_HEADER_SIZE];

  _mitogen_frame_header_encode (frame, &hdr);
  expect_stream_closed (fixture, frame, sizeof frame, "*empty*");
}

/* Valid GVariant data that is not a message body. */
static void
test_body_of_wrong_type (Fixture       *fixture,
                         gconstpointer  data)
{
  g_autoptr(GVariant) not_a_body = g_variant_ref_sink (g_variant_new_string ("a string"));
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) bytes = mitogen_serializer_serialize (fixture->serializer, not_a_body, &error);
  MitogenFrameHeader hdr = { 0, fake_id (fixture), fake_id (fixture), 1000, 0, 0 };
  g_autoptr(GByteArray) frame = g_byte_array_new ();
  guint8 header[MITOGEN_HEADER_SIZE];

  g_assert_no_error (error);
  hdr.length = g_bytes_get_size (bytes);
  _mitogen_frame_header_encode (header, &hdr);
  g_byte_array_append (frame, header, sizeof header);
  g_byte_array_append (frame, g_bytes_get_data (bytes, NULL), hdr.length);
  expect_stream_closed (fixture, frame->data, frame->len, "*expected '(yv)'*");
}

/* A good frame followed by a bad one in the same write: the good one is
 * delivered before the stream closes. */
static void
test_good_then_bad_in_one_write (Fixture       *fixture,
                                 gconstpointer  data)
{
  g_autoptr(MitogenReceiver) recv = mitogen_receiver_new (fixture->base.router);
  g_autoptr(GBytes) good = encode_frame (fixture, 0, fake_id (fixture), fake_id (fixture),
                                         mitogen_receiver_get_handle (recv), 0,
                                         g_variant_new_string ("before"));
  g_autoptr(GByteArray) both = g_byte_array_new ();
  g_autoptr(MitogenMessage) msg = NULL;
  g_autoptr(GError) error = NULL;
  guint8 bad[MITOGEN_HEADER_SIZE] = { 0x12, 0x34, };

  g_byte_array_append (both, g_bytes_get_data (good, NULL), g_bytes_get_size (good));
  g_byte_array_append (both, bad, sizeof bad);
  expect_stream_closed (fixture, both->data, both->len, "*bad frame magic*");

  msg = mitogen_receiver_get (recv, 0, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (msg);
}

/* A frame cut short by the peer going away: the context is lost, without
 * taking anything else with it. */
static void
test_truncated_frame (Fixture       *fixture,
                      gconstpointer  data)
{
  g_autoptr(MitogenReceiver) pending = mitogen_context_begin_call (fixture->fake, "core.ping", NULL);
  g_autoptr(GBytes) frame = encode_frame (fixture, 0, fake_id (fixture), fake_id (fixture), 1000, 0,
                                          g_variant_new_string ("cut short"));
  g_autoptr(MitogenMessage) msg = NULL;
  g_autoptr(GError) error = NULL;

  g_assert_true (write_all (fixture->peer, g_bytes_get_data (frame, NULL), g_bytes_get_size (frame) - 3));
  shutdown (fixture->peer, SHUT_WR);
  g_assert_true (mitogen_test_wait_disconnected (fixture->fake, WAIT_MSEC));
  msg = mitogen_receiver_get (pending, 2000, NULL, &error);
  g_assert_error (error, MITOGEN_ERROR, MITOGEN_ERROR_CHANNEL);
  assert_real_context_works (fixture);
}

/* ---- forged sources ---------------------------------------------------- */

/* SourceVerifyTest: a child may speak only for itself (and what it
 * started). A frame claiming another source is dropped and logged; the
 * stream stays open. */
static void
expect_forged_dropped (Fixture *fixture,
                       guint32  src_id,
                       guint32  auth_id)
{
  g_autoptr(MitogenReceiver) recv = mitogen_receiver_new (fixture->base.router);
  g_autoptr(MitogenMessage) msg = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *pattern = g_strdup_printf ("*claiming to come from context %u*forged*", src_id);

  mitogen_test_expect_log ("mitogen", G_LOG_LEVEL_WARNING, pattern);
  send_value (fixture, src_id, auth_id, mitogen_receiver_get_handle (recv),
              g_variant_new_string ("forged"));
  /* A genuine frame behind it proves the forged one was read (and so
   * dropped, not delayed) and that the stream is still open. */
  send_value (fixture, fake_id (fixture), fake_id (fixture), mitogen_receiver_get_handle (recv),
              g_variant_new_string ("genuine"));

  msg = mitogen_receiver_get (recv, WAIT_MSEC, NULL, &error);
  g_assert_no_error (error);
  mitogen_test_assert_expected_logs ();
  {
    g_autoptr(GVariant) value = mitogen_message_unpack (msg, &error);

    g_assert_cmpstr (g_variant_get_string (value, NULL), ==, "genuine");
  }
  g_assert_true (mitogen_receiver_is_empty (recv));
  g_assert_true (mitogen_context_is_connected (fixture->fake));
}

static void
test_forged_src_id (Fixture       *fixture,
                    gconstpointer  data)
{
  guint32 real_id = mitogen_context_get_id (fixture->real);

  /* Pretending to be its sibling, the master, or a stranger. */
  expect_forged_dropped (fixture, real_id, fake_id (fixture));
  expect_forged_dropped (fixture, 0, fake_id (fixture));
  expect_forged_dropped (fixture, 4242, fake_id (fixture));
  assert_real_context_works (fixture);
}

static void
test_forged_auth_id (Fixture       *fixture,
                     gconstpointer  data)
{
  guint32 real_id = mitogen_context_get_id (fixture->real);

  /* Its own source, someone else's authority. */
  expect_forged_dropped (fixture, fake_id (fixture), 0);
  expect_forged_dropped (fixture, fake_id (fixture), real_id);
}

/* A child may route to a sibling, but may not call functions there: the
 * sibling refuses, and the refusal comes back to the child as a dead
 * message. */
static void
test_sibling_call_refused (Fixture       *fixture,
                           gconstpointer  data)
{
  g_autoptr(GBytes) call = NULL;
  g_autoptr(MitogenMessage) reply = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) value = NULL;
  g_autofree char *pattern = NULL;
  guint32 real_id = mitogen_context_get_id (fixture->real);

  call = encode_frame (fixture, real_id, fake_id (fixture), fake_id (fixture),
                       MITOGEN_HANDLE_CALL_FUNCTION, 3003,
                       g_variant_new ("(sv)", "proc.run",
                                      g_variant_new ("(^as)", (const char *[]) { "true", NULL })));
  /* The sibling says so in its log, which reaches us with its name. */
  pattern = g_strdup_printf ("[%s] WARNING: refused a call from context %u*",
                             mitogen_context_get_name (fixture->real), fake_id (fixture));
  mitogen_test_expect_forwarded_log (mitogen_context_get_name (fixture->real), "mitogen",
                                     G_LOG_LEVEL_WARNING, pattern);
  g_assert_true (write_all (fixture->peer, g_bytes_get_data (call, NULL), g_bytes_get_size (call)));

  reply = read_frame (fixture);
  g_assert_true (mitogen_message_is_dead (reply));
  g_assert_cmpuint (mitogen_message_get_dst_id (reply), ==, fake_id (fixture));
  g_assert_cmpuint (mitogen_message_get_src_id (reply), ==, real_id);
  g_assert_cmpuint (mitogen_message_get_handle (reply), ==, 3003);
  value = mitogen_message_unpack (reply, &error);
  g_assert_error (error, MITOGEN_ERROR, MITOGEN_ERROR_CHANNEL);
  g_assert_nonnull (strstr (error->message, "refused"));
  mitogen_test_assert_expected_logs ();
  assert_real_context_works (fixture);
}

/* Asks the master for a context id, as the fake agent. */
static guint32
allocate_id (Fixture *fixture)
{
  guint32 me = fake_id (fixture);
  g_autoptr(GBytes) ask = encode_frame (fixture, 0, me, me, MITOGEN_HANDLE_ALLOCATE_ID, 6006, NULL);
  g_autoptr(MitogenMessage) reply = NULL;
  g_autoptr(GVariant) value = NULL;
  g_autoptr(GError) error = NULL;
  guint32 id;

  g_assert_true (write_all (fixture->peer, g_bytes_get_data (ask, NULL), g_bytes_get_size (ask)));
  reply = read_frame (fixture);
  g_assert_cmpuint (mitogen_message_get_handle (reply), ==, 6006);
  value = mitogen_message_unpack (reply, &error);
  g_assert_no_error (error);
  g_variant_get (value, "(u)", &id);
  return id;
}

/* Route changes come only from a direct child, about its own subtree. */
static void
test_route_announcements (Fixture       *fixture,
                          gconstpointer  data)
{
  guint32 real_id = mitogen_context_get_id (fixture->real);
  guint32 me = fake_id (fixture);
  g_autoptr(MitogenMessage) routed = NULL;
  g_autoptr(MitogenMessage) msg = NULL;
  g_autoptr(GBytes) get_module = NULL;
  g_autoptr(MitogenMessage) reply = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) value = NULL;
  guint32 grandchild;

  /* Claiming a context that lives elsewhere (the real one) is refused,
   * and so is withdrawing it: the real context carries on. */
  mitogen_test_expect_log ("mitogen", G_LOG_LEVEL_WARNING, "*refused ADD_ROUTE*");
  send_value (fixture, me, me, MITOGEN_HANDLE_ADD_ROUTE, g_variant_new ("(us)", real_id, "hijack"));
  mitogen_test_expect_log ("mitogen", G_LOG_LEVEL_WARNING, "*refused DEL_ROUTE*");
  send_value (fixture, me, me, MITOGEN_HANDLE_DEL_ROUTE, g_variant_new ("(u)", real_id));
  mitogen_test_assert_expected_logs ();
  assert_real_context_works (fixture);

  /* An id nobody gave it is refused, even one nobody uses. */
  mitogen_test_expect_log ("mitogen", G_LOG_LEVEL_WARNING, "*refused ADD_ROUTE for context 777*");
  send_value (fixture, me, me, MITOGEN_HANDLE_ADD_ROUTE, g_variant_new ("(us)", 777, "grandchild"));
  mitogen_test_assert_expected_logs ();

  /* A context below the fake one, with an id the master gave it, is
   * accepted: messages for it now go down the fake's stream. */
  grandchild = allocate_id (fixture);
  send_value (fixture, me, me, MITOGEN_HANDLE_ADD_ROUTE, g_variant_new ("(us)", grandchild, "grandchild"));
  msg = mitogen_message_new (grandchild, 5555, g_variant_new_int32 (1));
  for (int i = 0; i < 100 && !mitogen_router_route (fixture->base.router, msg, NULL); i++)
    g_usleep (10000);
  routed = read_frame (fixture);
  g_assert_cmpuint (mitogen_message_get_dst_id (routed), ==, grandchild);
  g_assert_cmpuint (mitogen_message_get_handle (routed), ==, 5555);

  /* But that grandchild may not ask for modules itself: it must go
   * through its parent, which keeps what it passes on. */
  get_module = encode_frame (fixture, 0, grandchild, grandchild, MITOGEN_HANDLE_GET_MODULE, 4004,
                             g_variant_new ("(s)", "anything"));
  mitogen_test_expect_log ("mitogen", G_LOG_LEVEL_WARNING, "*refused GET_MODULE*");
  g_assert_true (write_all (fixture->peer, g_bytes_get_data (get_module, NULL),
                            g_bytes_get_size (get_module)));
  reply = read_frame (fixture);
  g_assert_true (mitogen_message_is_dead (reply));
  g_assert_cmpuint (mitogen_message_get_handle (reply), ==, 4004);
  value = mitogen_message_unpack (reply, &error);
  g_assert_error (error, MITOGEN_ERROR, MITOGEN_ERROR_CHANNEL);
  g_assert_nonnull (strstr (error->message, "direct children"));
  mitogen_test_assert_expected_logs ();
}

int
main (int    argc,
      char **argv)
{
  mitogen_test_init (&argc, &argv);

  mitogen_register_transport (TEST_TYPE_FAKE_TRANSPORT, "fake", 0);

  TEST ("/stream/valid/delivered", test_valid_frame_delivered);
  TEST ("/stream/valid/fake-agent-answers-call", test_fake_agent_answers_call);
  TEST ("/stream/valid/split-and-batched", test_frames_split_and_batched);
  TEST ("/stream/valid/large-frame-in-pieces", test_large_frame_in_pieces);
  TEST ("/stream/bad/magic", test_bad_magic);
  TEST ("/stream/bad/over-long", test_over_long_frame);
  TEST ("/stream/bad/over-limit", test_over_limit_frame);
  TEST ("/stream/bad/undecodable", test_undecodable_data);
  TEST ("/stream/bad/empty-data", test_empty_data);
  TEST ("/stream/bad/wrong-body-type", test_body_of_wrong_type);
  TEST ("/stream/bad/good-then-bad", test_good_then_bad_in_one_write);
  TEST ("/stream/bad/truncated", test_truncated_frame);
  TEST ("/stream/forged/src-id", test_forged_src_id);
  TEST ("/stream/forged/auth-id", test_forged_auth_id);
  TEST ("/stream/forged/sibling-call-refused", test_sibling_call_refused);
  TEST ("/stream/forged/route-announcements", test_route_announcements);

  return g_test_run ();
}
