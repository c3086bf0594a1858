/* mitogen-hostile-module.c: a compromised context, for test-hostile.
 *
 * An agent that runs these functions plays a context an attacker owns:
 * it sends whatever its own router lets it send, through the public API,
 * to any context and handle, and may even write raw frames with a forged
 * source straight onto its parent's stream. The tests check that nothing
 * above or beside it believes what it says. Like the test module, it is
 * never installed where agents run: they fetch it from the master.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <errno.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mitogen/mitogen.h>

/* The frame header's magic, big-endian "MI", as on the wire. */
#define HOSTILE_FRAME_MAGIC 0x4d49
/* The body's kind byte of a plain value. */
#define HOSTILE_BODY_VALUE 0

static gboolean
check_args (GVariant    *args,
            const char  *type,
            const char  *function,
            GError     **error)
{
  if (args != NULL && g_variant_is_of_type (args, G_VARIANT_TYPE (type)))
    return TRUE;
  g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_CALL, "%s takes %s", function, type);
  return FALSE;
}

/* A message from this context to @dst's @handle: @body as a value, or a
 * dead message whose reason is the string @body when @dead. */
static MitogenMessage *
forge (guint32   dst,
       guint32   handle,
       GVariant *body,
       gboolean  dead)
{
  if (dead)
    return mitogen_message_new_dead (dst, handle,
                                     g_variant_is_of_type (body, G_VARIANT_TYPE_STRING)
                                       ? g_variant_get_string (body, NULL) : "forged");
  return mitogen_message_new (dst, handle, body);
}

/* hostile.send (u dst, u handle, v body, b dead) → (): one message, no
 * answer awaited. The reply to this call leaves after it on the same
 * stream, so when the caller has the reply, the parent has handled it. */
static GVariant *
hostile_send (MitogenCall *call, GVariant *args, gpointer data, GError **error)
{
  g_autoptr(GVariant) body = NULL;
  g_autoptr(MitogenMessage) msg = NULL;
  guint32 dst, handle;
  gboolean dead;

  if (!check_args (args, "(uuvb)", "hostile.send", error))
    return NULL;
  g_variant_get (args, "(uuvb)", &dst, &handle, &body, &dead);
  msg = forge (dst, handle, body, dead);
  mitogen_router_route (mitogen_call_get_router (call), msg, NULL);
  return NULL;
}

/* hostile.ask (u dst, u handle, v body, i timeout_msec) → (bsv): sends
 * @body with a reply handle of its own and returns the first answer: a
 * failure (dead or error, with its text) or the value. */
static GVariant *
hostile_ask (MitogenCall *call, GVariant *args, gpointer data, GError **error)
{
  MitogenRouter *router = mitogen_call_get_router (call);
  g_autoptr(MitogenReceiver) recv = mitogen_receiver_new (router);
  g_autoptr(GVariant) body = NULL;
  g_autoptr(MitogenMessage) msg = NULL;
  g_autoptr(MitogenMessage) reply = NULL;
  g_autoptr(GVariant) value = NULL;
  g_autoptr(GError) failure = NULL;
  guint32 dst, handle;
  gint32 timeout_msec;

  if (!check_args (args, "(uuvi)", "hostile.ask", error))
    return NULL;
  g_variant_get (args, "(uuvi)", &dst, &handle, &body, &timeout_msec);
  msg = mitogen_message_new (dst, handle, body);
  mitogen_message_set_reply_to (msg, mitogen_receiver_get_handle (recv));
  mitogen_router_route (router, msg, NULL);
  reply = mitogen_receiver_get (recv, timeout_msec, NULL, &failure);
  if (reply != NULL)
    value = mitogen_message_unpack (reply, &failure);
  mitogen_receiver_close (recv);
  if (value == NULL)
    return g_variant_new ("(bsv)", TRUE, failure->message, g_variant_new_tuple (NULL, 0));
  return g_variant_new ("(bsv)", FALSE, "", value);
}

/* hostile.spray (u dst, u first, u last, v body, b dead, u sweeps) → u:
 * sends @body (or a dead message) to every handle of @dst from @first to
 * @last, @sweeps times over, and returns how many went. It spares the
 * handle on which its own caller waits for it: an attacker would not
 * answer its own call with rubbish, and the caller's wait would end. */
static GVariant *
hostile_spray (MitogenCall *call, GVariant *args, gpointer data, GError **error)
{
  MitogenRouter *router = mitogen_call_get_router (call);
  MitogenMessage *request = mitogen_call_get_message (call);
  g_autoptr(GVariant) body = NULL;
  guint32 dst, first, last, sweeps, sent = 0;
  gboolean dead;

  if (!check_args (args, "(uuuvbu)", "hostile.spray", error))
    return NULL;
  g_variant_get (args, "(uuuvbu)", &dst, &first, &last, &body, &dead, &sweeps);
  for (guint32 sweep = 0; sweep < sweeps; sweep++)
    for (guint32 handle = first; handle <= last && handle >= first; handle++)
      {
        g_autoptr(MitogenMessage) msg = NULL;

        if (dst == mitogen_message_get_src_id (request) &&
            handle == mitogen_message_get_reply_to (request))
          continue;
        msg = forge (dst, handle, body, dead);
        if (mitogen_router_route (router, msg, NULL))
          sent++;
      }
  return g_variant_new_uint32 (sent);
}

/* hostile.allocate_ids (u count, i timeout_msec) → (uuuau): asks the
 * master for @count context ids at once, all answered on one handle of
 * ours, and counts the answers: ids granted, refusals (dead or error),
 * and answers that never came; then the ids granted. */
static GVariant *
hostile_allocate_ids (MitogenCall *call, GVariant *args, gpointer data, GError **error)
{
  MitogenRouter *router = mitogen_call_get_router (call);
  g_autoptr(MitogenReceiver) recv = mitogen_receiver_new (router);
  GVariantBuilder ids;
  guint32 count, granted = 0, refused = 0;
  gint32 timeout_msec;
  gint64 deadline;

  if (!check_args (args, "(ui)", "hostile.allocate_ids", error))
    return NULL;
  g_variant_get (args, "(ui)", &count, &timeout_msec);
  for (guint32 i = 0; i < count; i++)
    {
      g_autoptr(MitogenMessage) msg = mitogen_message_new (0, MITOGEN_HANDLE_ALLOCATE_ID, NULL);

      mitogen_message_set_reply_to (msg, mitogen_receiver_get_handle (recv));
      mitogen_router_route (router, msg, NULL);
    }

  g_variant_builder_init (&ids, G_VARIANT_TYPE ("au"));
  deadline = g_get_monotonic_time () + (gint64) timeout_msec * 1000;
  while (granted + refused < count)
    {
      int left = (int) ((deadline - g_get_monotonic_time ()) / 1000);
      g_autoptr(MitogenMessage) reply = NULL;
      g_autoptr(GVariant) value = NULL;
      g_autoptr(GError) failure = NULL;

      if (left <= 0)
        break;
      reply = mitogen_receiver_get (recv, left, NULL, &failure);
      if (reply == NULL && g_error_matches (failure, MITOGEN_ERROR, MITOGEN_ERROR_TIMEOUT))
        break;
      if (reply == NULL)
        {
          /* A dead answer fails this one get; the receiver stays open. */
          refused++;
          continue;
        }
      value = mitogen_message_unpack (reply, NULL);
      if (value != NULL && g_variant_is_of_type (value, G_VARIANT_TYPE ("(u)")))
        {
          guint32 id;

          g_variant_get (value, "(u)", &id);
          g_variant_builder_add (&ids, "u", id);
          granted++;
        }
      else
        refused++;
    }
  mitogen_receiver_close (recv);
  return g_variant_new ("(uuuau)", granted, refused, count - granted - refused, &ids);
}

/* The socket to our parent: a local agent has no other. -1 if none. */
static int
find_parent_socket (void)
{
  for (int fd = 3; fd < 1024; fd++)
    {
      struct stat st;
      int type = 0;
      socklen_t len = sizeof type;

      if (fstat (fd, &st) == 0 && S_ISSOCK (st.st_mode) &&
          getsockopt (fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0 && type == SOCK_STREAM)
        return fd;
    }
  return -1;
}

static void
put_u32 (guint8 *p, guint32 v)
{
  p[0] = v >> 24, p[1] = v >> 16, p[2] = v >> 8, p[3] = v;
}

/* Writes one frame, header and @body as they are, straight onto the
 * stream to the parent, in one write so that the broker's own frames
 * cannot land inside it. */
static gboolean
write_raw_frame (guint32   src,
                 guint32   auth,
                 guint32   dst,
                 guint32   handle,
                 guint32   reply_to,
                 GBytes   *body,
                 GError  **error)
{
  g_autoptr(GByteArray) frame = g_byte_array_new ();
  guint8 header[26];
  const guint8 *p;
  gsize len, done = 0;
  int fd = find_parent_socket ();

  if (fd < 0)
    {
      g_set_error_literal (error, MITOGEN_ERROR, MITOGEN_ERROR_FAILED,
                           "hostile: no socket to the parent");
      return FALSE;
    }

  header[0] = HOSTILE_FRAME_MAGIC >> 8, header[1] = HOSTILE_FRAME_MAGIC & 0xff;
  put_u32 (header + 2, dst);
  put_u32 (header + 6, src);
  put_u32 (header + 10, auth);
  put_u32 (header + 14, handle);
  put_u32 (header + 18, reply_to);
  put_u32 (header + 22, g_bytes_get_size (body));
  g_byte_array_append (frame, header, sizeof header);
  p = g_bytes_get_data (body, &len);
  g_byte_array_append (frame, p, len);

  while (done < frame->len)
    {
      ssize_t n = send (fd, frame->data + done, frame->len - done, MSG_NOSIGNAL);

      if (n < 0 && (errno == EINTR || errno == EAGAIN))
        continue;
      if (n <= 0)
        {
          g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_FAILED,
                       "hostile: %s", g_strerror (errno));
          return FALSE;
        }
      done += n;
    }
  return TRUE;
}

/* hostile.raw_frame (u src, u auth, u dst, u handle, u reply_to, v body)
 * → (): writes one frame straight onto the stream to the parent, with
 * whatever source and authority it likes: what a compromised process can
 * always do, whatever its router would have stamped. Only for a local
 * agent without children, idle but for this call. */
static GVariant *
hostile_raw_frame (MitogenCall *call, GVariant *args, gpointer data, GError **error)
{
  g_autoptr(MitogenSerializer) serializer = NULL;
  g_autoptr(GVariant) body = NULL;
  g_autoptr(GVariant) boxed = NULL;
  g_autoptr(GBytes) encoded = NULL;
  guint32 src, auth, dst, handle, reply_to;

  if (!check_args (args, "(uuuuuv)", "hostile.raw_frame", error))
    return NULL;
  g_variant_get (args, "(uuuuuv)", &src, &auth, &dst, &handle, &reply_to, &body);
  serializer = mitogen_serializer_lookup ("gvariant", error);
  if (serializer == NULL)
    return NULL;
  /* serialize() takes no reference: the floating box is ours to drop. */
  boxed = g_variant_ref_sink (g_variant_new ("(yv)", HOSTILE_BODY_VALUE, body));
  encoded = mitogen_serializer_serialize (serializer, boxed, error);
  if (encoded == NULL)
    return NULL;
  write_raw_frame (src, auth, dst, handle, reply_to, encoded, error);
  return NULL;
}

/* hostile.raw_body (u dst, u handle, ay body) → (): like raw_frame, from
 * context 0, but the body goes out as the bytes given, whatever the
 * stream's serializer makes of them. */
static GVariant *
hostile_raw_body (MitogenCall *call, GVariant *args, gpointer data, GError **error)
{
  g_autoptr(GVariant) body = NULL;
  g_autoptr(GBytes) bytes = NULL;
  guint32 dst, handle;

  if (!check_args (args, "(uuay)", "hostile.raw_body", error))
    return NULL;
  g_variant_get (args, "(uu@ay)", &dst, &handle, &body);
  bytes = g_variant_get_data_as_bytes (body);
  write_raw_frame (0, 0, dst, handle, 0, bytes, error);
  return NULL;
}

static void
register_functions (void)
{
  mitogen_register_function ("hostile.send", hostile_send, NULL, NULL);
  mitogen_register_function ("hostile.ask", hostile_ask, NULL, NULL);
  mitogen_register_function ("hostile.spray", hostile_spray, NULL, NULL);
  mitogen_register_function ("hostile.allocate_ids", hostile_allocate_ids, NULL, NULL);
  mitogen_register_function ("hostile.raw_frame", hostile_raw_frame, NULL, NULL);
  mitogen_register_function ("hostile.raw_body", hostile_raw_body, NULL, NULL);
}

MITOGEN_DEFINE_MODULE (register_functions)
