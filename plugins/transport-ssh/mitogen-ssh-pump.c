/* mitogen-ssh-pump.c: one thread and one libssh event loop move the bytes
 * of every SSH session of the process, whatever the number of hosts.
 *
 * A session joins after its handshake, made in the thread that opened it:
 * mitogen_ssh_pump_adopt() puts it on a locked queue and wakes the pump
 * through an eventfd that sits in the same ssh_event as the sessions. From
 * then on only the pump thread touches the session (libssh wants one
 * thread per session at a time), down to ssh_free(). The thread starts
 * with the first session and ends with the last.
 *
 * Each session pairs an SSH channel with our end of a socketpair whose
 * other end the engine reads as the context's stream. Nothing may block
 * the loop, so both fds are non-blocking and each direction has a buffer
 * and back-pressure:
 *
 *  - host → engine: the channel's data callback takes what fits in the
 *    session's buffer (TO_ENGINE_MAX) and returns less than it was offered
 *    when it is full; libssh keeps the rest and, since what it keeps counts
 *    against the channel's window, the host soon stops sending. Once the
 *    engine has taken the buffer, the rest is pulled with
 *    ssh_channel_read_nonblocking(), which also opens the window again.
 *  - engine → host: the socketpair is read only while the channel's window
 *    has room, at most what it has room for; a session whose window is shut
 *    stops being polled for input until the host opens it.
 *
 * libssh may poll the whole event from inside its calls (a write that
 * flushes, a keepalive), and so run any session's callbacks: they only
 * record what happened and queue the session; the loop acts on the queue
 * after each poll.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <libssh/callbacks.h>
#include <libssh/server.h>  /* ssh_send_keepalive(), which clients may use too */

#include <mitogen/mitogen.h>

#include "mitogen-ssh-pump-private.h"

/* The most of the hosts' data gathered from what libssh has already read
 * before writing it on: one write and one wake-up of the engine per batch,
 * not per SSH packet. */
#define PUMP_BATCH (256 * 1024)
/* The most a session holds for the engine before leaving the rest to
 * libssh, whose buffer shuts the channel's window. */
#define TO_ENGINE_MAX (1024 * 1024)
/* The most one read takes: from the socketpair, or from libssh's buffer. */
#define READ_CHUNK (64 * 1024)
/* How long a closing session may take to send its last bytes. */
#define CLOSE_GRACE (5 * G_USEC_PER_SEC)

typedef struct _Loop Loop;

typedef struct
{
  Loop        *loop;         /* the pump's, once the session is in it */
  ssh_session  session;
  ssh_channel  channel;
  int          fd;           /* our end of the socketpair, non-blocking; -1 once closed */
  char        *host;         /* "host:port", for messages */
  GByteArray  *to_engine;    /* the host's data not yet written to @fd */
  GByteArray  *to_host;      /* the engine's data the channel did not take yet */
  short        fd_events;    /* what @fd is in the event for; 0: not in it */
  short        fd_revents;   /* what the last poll saw on @fd, not yet handled */
  gboolean     libssh_holds; /* libssh may keep channel data we left it */
  gboolean     host_ended;   /* the channel saw EOF or close */
  gboolean     queued;       /* on Loop.ready */
  gboolean     stalled;      /* on Loop.stalled */
  gboolean     closing;      /* on Loop.closing: the engine's side is gone */
  gint64       close_deadline;
  guint        keepalive;    /* seconds of silence before a keepalive; 0: none */
  guint        keepalive_count_max;  /* 0: no limit */
  guint        unanswered;   /* keepalives sent since the host last spoke */
  guint64      packets_seen; /* received.in_packets when last looked at */
  gint64       last_activity;        /* monotonic: the host spoke or we asked */
  struct ssh_counter_struct sent;    /* libssh counts the packets here */
  struct ssh_counter_struct received;
  struct ssh_channel_callbacks_struct callbacks;
} Session;

/* The pump thread's own state; nothing here is shared. */
struct _Loop
{
  ssh_event  event;
  int        wake_fd;    /* eventfd: sessions are waiting in `arrivals` */
  GPtrArray *sessions;   /* Session*, owned: every live one */
  GPtrArray *ready;      /* Session*: something to act on since the last poll */
  GPtrArray *stalled;    /* Session*: waiting for the host's window or our buffer */
  GPtrArray *closing;    /* Session*: the engine's side closed, flushing to the host */
  gsize      gathered;   /* host bytes the callbacks took in this poll */
  gint64     next_sweep; /* monotonic: when the next keepalive is due */
};

/* Shared with the threads that hand sessions over, under `lock`. */
static GMutex lock;
static GPtrArray *arrivals;  /* Session*: handed over, not yet in the loop */
static int running_wake_fd = -1;  /* the running pump's eventfd; -1: no pump runs */
static guint pumps_alive;    /* pump threads not yet at their very end */
static GCond pump_ended;     /* signalled as one gets there */
static gboolean exiting;     /* exit() runs: pumps drop their sessions now */

static void
queue (Session *s,
       Loop    *loop)
{
  if (!s->queued)
    {
      s->queued = TRUE;
      g_ptr_array_add (loop->ready, s);
    }
}

/* ---- callbacks: record, queue, call nothing of libssh ------------------ */

static int
on_channel_data (ssh_session  session,
                 ssh_channel  channel,
                 void        *data,
                 uint32_t     len,
                 int          is_stderr,
                 void        *userdata)
{
  Session *s = userdata;
  guint room;

  if (is_stderr)
    {
      /* The agent's stderr, as ours: a few lines, written as they come. */
      for (gsize done = 0; done < len;)
        {
          ssize_t n = write (2, (const char *) data + done, len - done);

          if (n < 0 && errno == EINTR)
            continue;
          if (n <= 0)
            break;
          done += n;
        }
      return len;
    }
  room = s->to_engine->len < TO_ENGINE_MAX ? TO_ENGINE_MAX - s->to_engine->len : 0;
  if (room < len)
    s->libssh_holds = TRUE;
  room = MIN (room, len);
  g_byte_array_append (s->to_engine, data, room);
  s->loop->gathered += room;
  queue (s, s->loop);
  return room;
}

static void
on_channel_end (ssh_session  session,
                ssh_channel  channel,
                void        *userdata)
{
  Session *s = userdata;

  s->host_ended = TRUE;
  queue (s, s->loop);
}

static int
on_socket (socket_t  fd,
           int       revents,
           void     *userdata)
{
  Session *s = userdata;

  s->fd_revents |= revents;
  queue (s, s->loop);
  return 0;
}

static int
on_wake (socket_t  fd,
         int       revents,
         void     *userdata)
{
  eventfd_t value;

  eventfd_read (fd, &value);
  return 0;
}

/* ---- one session -------------------------------------------------------- */

/* Puts @fd in the event for what the session can take now: input while the
 * channel has room for it, output while there is some for the engine. */
static void
update_interest (Session *s,
                 Loop    *loop)
{
  short want = 0;
  gboolean window_shut;

  if (s->fd < 0)
    return;
  window_shut = ssh_channel_window_size (s->channel) == 0;
  if (s->to_host->len == 0 && !window_shut && !s->host_ended)
    want |= POLLIN;
  if (s->to_engine->len > 0)
    want |= POLLOUT;
  if (want != s->fd_events)
    {
      if (s->fd_events != 0)
        ssh_event_remove_fd (loop->event, s->fd);
      if (want != 0)
        ssh_event_add_fd (loop->event, s->fd, want, on_socket, s);
      s->fd_events = want;
    }
  /* Nothing wakes us when the host opens its window again: look after
   * every poll while it is shut (or our output waits on it). */
  if ((window_shut || s->to_host->len > 0 || s->libssh_holds) && !s->host_ended &&
      !s->stalled)
    {
      s->stalled = TRUE;
      g_ptr_array_add (loop->stalled, s);
    }
}

static gboolean
write_to_host (Session    *s,
               const char *data,
               gsize       len)
{
  int n = ssh_channel_write (s->channel, data, len);

  if (n < 0)
    return FALSE;
  if ((gsize) n < len)
    g_byte_array_append (s->to_host, (const guint8 *) data + n, len - n);
  return TRUE;
}

/* The engine's data to the host, as much as the channel's window takes. */
static gboolean
pump_from_engine (Session *s,
                  short    revents)
{
  char buf[READ_CHUNK];

  /* Gone, and nothing can be read now to see what it left: gone. */
  if ((revents & POLLERR) ||
      ((revents & POLLHUP) && ssh_channel_window_size (s->channel) == 0))
    return FALSE;

  if (s->to_host->len > 0)
    {
      g_autoptr(GByteArray) left = g_steal_pointer (&s->to_host);

      s->to_host = g_byte_array_new ();
      if (!write_to_host (s, (const char *) left->data, left->len))
        return FALSE;
    }
  for (int i = 0; i < 4 && s->to_host->len == 0; i++)
    {
      uint32_t window = ssh_channel_window_size (s->channel);
      ssize_t n;

      if (window == 0)
        break;
      n = read (s->fd, buf, MIN (sizeof buf, window));
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0 && errno == EAGAIN)
        break;
      /* The engine closed the stream, or it broke. */
      if (n <= 0 || !write_to_host (s, buf, n))
        return FALSE;
    }
  return TRUE;
}

/* The host's data to the engine, as much as the socketpair takes; then
 * whatever libssh kept for us while our buffer was full. */
static gboolean
pump_to_engine (Session *s)
{
  while (s->to_engine->len > 0)
    {
      /* No SIGPIPE when the engine closed its end: an error, as for a read. */
      ssize_t n = send (s->fd, s->to_engine->data, s->to_engine->len, MSG_NOSIGNAL);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0 && errno == EAGAIN)
        return TRUE;
      if (n <= 0)
        return FALSE;
      g_byte_array_remove_range (s->to_engine, 0, n);
    }
  while (s->libssh_holds && s->to_engine->len < TO_ENGINE_MAX)
    {
      char buf[READ_CHUNK];
      guint want = MIN (sizeof buf, TO_ENGINE_MAX - s->to_engine->len);
      int n = ssh_channel_read_nonblocking (s->channel, buf, want, 0);

      if (n > 0)
        g_byte_array_append (s->to_engine, (const guint8 *) buf, n);
      /* Less than asked for: libssh has nothing more (or an EOF, or an
       * error, which the next look at the session sees). */
      if (n < (int) want)
        s->libssh_holds = FALSE;
    }
  /* A whole buffer more: the next turn writes it. */
  return TRUE;
}

static void
session_free (Session *s)
{
  if (s->channel != NULL)
    ssh_channel_free (s->channel);
  if (s->session != NULL)
    {
      ssh_disconnect (s->session);
      ssh_free (s->session);
    }
  if (s->fd >= 0)
    close (s->fd);
  g_byte_array_unref (s->to_engine);
  g_byte_array_unref (s->to_host);
  g_free (s->host);
  g_free (s);
}

/* The engine learns first, by its stream closing; the host gets our EOF
 * and close, which the session sends on from the loop (CLOSE_GRACE). */
static void
session_close (Session *s,
               Loop    *loop)
{
  if (s->closing)
    return;
  s->closing = TRUE;
  if (s->fd_events != 0)
    ssh_event_remove_fd (loop->event, s->fd);
  s->fd_events = 0;
  close (s->fd);
  s->fd = -1;
  if (s->stalled)
    g_ptr_array_remove_fast (loop->stalled, s);
  s->stalled = FALSE;
  if (ssh_channel_is_open (s->channel))
    {
      ssh_channel_send_eof (s->channel);
      ssh_channel_close (s->channel);
    }
  s->close_deadline = g_get_monotonic_time () + CLOSE_GRACE;
  g_ptr_array_add (loop->closing, s);
}

static gboolean
session_broken (Session *s)
{
  return (ssh_get_status (s->session) & (SSH_CLOSED | SSH_CLOSED_ERROR)) != 0 ||
         !ssh_is_connected (s->session);
}

/* Acts on what the callbacks recorded for @s. */
static void
session_run (Session *s,
             Loop    *loop)
{
  short revents = s->fd_revents;
  gboolean ok = TRUE;

  s->fd_revents = 0;
  if (s->closing)
    return;
  if (revents & (POLLIN | POLLHUP | POLLERR))
    ok = pump_from_engine (s, revents);
  if (ok)
    ok = pump_to_engine (s);
  /* The host said all it had to say (or its connection broke) once the
   * engine has it all. */
  if (!ok || ((s->host_ended || session_broken (s)) &&
              s->to_engine->len == 0 && !s->libssh_holds))
    session_close (s, loop);
  else
    update_interest (s, loop);
}

/* Sends a global request that wants an answer ("keepalive@openssh.com":
 * OpenSSH refuses it, and the refusal is the answer). On a non-blocking
 * session, as all are here, libssh leaves the request outstanding, and the
 * next call only collects a refusal that came meanwhile, sending nothing.
 * So: call again while nothing went out and the first call may have
 * collected an old refusal. An answer, like any other packet from the
 * host, shows up in the received counter. */
static void
send_keepalive (Session *s)
{
  guint64 before = s->sent.out_packets;

  for (int i = 0; i < 2 && s->sent.out_packets == before; i++)
    ssh_send_keepalive (s->session);
}

/* TRUE, and the clock of silence restarted, if the host sent anything
 * since we last looked. */
static gboolean
session_host_spoke (Session *s,
                    gint64   now)
{
  if (s->received.in_packets == s->packets_seen)
    return FALSE;
  s->packets_seen = s->received.in_packets;
  s->unanswered = 0;
  s->last_activity = now;
  return TRUE;
}

/* Returns FALSE once the host left keepalive_count_max keepalives in a row
 * unanswered: the TCP connection may look fine for many minutes more (a
 * cut cable, a frozen host), but nothing there is listening. Sets *@due to
 * when to look again. */
static gboolean
session_host_alive (Session *s,
                    gint64   now,
                    gint64  *due)
{
  gint64 interval = (gint64) s->keepalive * G_USEC_PER_SEC;

  *due = G_MAXINT64;
  if (s->keepalive == 0)
    return TRUE;
  if (!session_host_spoke (s, now) && now - s->last_activity >= interval)
    {
      if (s->keepalive_count_max > 0 && s->unanswered >= s->keepalive_count_max)
        {
          g_message ("ssh %s: no answer to %u keepalives in a row, %u s apart: the host is "
                     "unreachable or hung; closing the connection", s->host, s->unanswered,
                     s->keepalive);
          return FALSE;
        }
      send_keepalive (s);
      s->unanswered++;
      s->last_activity = now;
    }
  *due = s->last_activity + interval;
  return TRUE;
}

/* ---- the loop ----------------------------------------------------------- */

static void
loop_add (Loop    *loop,
          Session *s)
{
  s->loop = loop;
  ssh_set_blocking (s->session, 0);
  s->callbacks.userdata = s;
  s->callbacks.channel_data_function = on_channel_data;
  s->callbacks.channel_eof_function = on_channel_end;
  s->callbacks.channel_close_function = on_channel_end;
  ssh_callbacks_init (&s->callbacks);
  ssh_set_channel_callbacks (s->channel, &s->callbacks);
  ssh_set_counters (s->session, &s->sent, &s->received);
  ssh_event_add_session (loop->event, s->session);
  s->packets_seen = s->received.in_packets;
  s->last_activity = g_get_monotonic_time ();
  if (s->keepalive > 0)
    loop->next_sweep = MIN (loop->next_sweep,
                            s->last_activity + (gint64) s->keepalive * G_USEC_PER_SEC);
  /* The handshake may have left some of the agent's first bytes in
   * libssh's buffer, where no callback will offer them. */
  s->libssh_holds = TRUE;
  g_ptr_array_add (loop->sessions, s);
  queue (s, loop);
}

static void
loop_remove (Loop    *loop,
             Session *s)
{
  ssh_event_remove_session (loop->event, s->session);
  g_ptr_array_remove_fast (loop->sessions, s);
  session_free (s);
}

/* Takes the sessions handed over. FALSE, with the pump marked as stopped,
 * when there are none and none left: the thread ends. */
static gboolean
loop_take_arrivals (Loop *loop)
{
  g_autoptr(GPtrArray) taken = NULL;

  g_mutex_lock (&lock);
  if (exiting)
    {
      running_wake_fd = -1;
      taken = g_steal_pointer (&arrivals);
      arrivals = g_ptr_array_new ();
      g_mutex_unlock (&lock);
      for (guint i = 0; i < taken->len; i++)
        session_free (taken->pdata[i]);
      while (loop->sessions->len > 0)
        loop_remove (loop, loop->sessions->pdata[0]);
      return FALSE;
    }
  if (arrivals->len == 0 && loop->sessions->len == 0)
    {
      running_wake_fd = -1;
      g_mutex_unlock (&lock);
      return FALSE;
    }
  taken = g_steal_pointer (&arrivals);
  arrivals = g_ptr_array_new ();
  g_mutex_unlock (&lock);

  for (guint i = 0; i < taken->len; i++)
    loop_add (loop, taken->pdata[i]);
  return TRUE;
}

static void
loop_sweep_keepalives (Loop *loop)
{
  gint64 now = g_get_monotonic_time ();

  if (now < loop->next_sweep)
    return;
  loop->next_sweep = G_MAXINT64;
  for (guint i = 0; i < loop->sessions->len; i++)
    {
      Session *s = loop->sessions->pdata[i];
      gint64 due;

      if (s->closing)
        continue;
      if (!session_host_alive (s, now, &due))
        session_close (s, loop);
      loop->next_sweep = MIN (loop->next_sweep, due);
    }
}

/* Sessions that wait on the host's window or on libssh's buffer: looked at
 * after every poll, since nothing else says they can go on. */
static void
loop_check_stalled (Loop *loop)
{
  for (guint i = loop->stalled->len; i > 0; i--)
    {
      Session *s = loop->stalled->pdata[i - 1];

      if (ssh_channel_window_size (s->channel) > 0 || s->libssh_holds || s->host_ended)
        {
          g_ptr_array_remove_index_fast (loop->stalled, i - 1);
          s->stalled = FALSE;
          s->fd_revents |= s->to_host->len > 0 ? POLLIN : 0;
          queue (s, loop);
        }
    }
}

/* Whether each host spoke, after every poll (as the thread per session
 * did), so that its interval of silence starts from its last packet: two
 * counters compared per session, next to poll()'s own walk over them all.
 * The sweep itself runs only when a keepalive may be due. */
static void
loop_note_activity (Loop *loop)
{
  gint64 now = g_get_monotonic_time ();

  for (guint i = 0; i < loop->sessions->len; i++)
    {
      Session *s = loop->sessions->pdata[i];

      if (s->keepalive > 0)
        session_host_spoke (s, now);
    }
}

static void
loop_finish_closing (Loop *loop)
{
  gint64 now = g_get_monotonic_time ();

  for (guint i = loop->closing->len; i > 0; i--)
    {
      Session *s = loop->closing->pdata[i - 1];

      if (now < s->close_deadline && !session_broken (s) &&
          ssh_blocking_flush (s->session, 0) == SSH_AGAIN)
        continue;
      g_ptr_array_remove_index_fast (loop->closing, i - 1);
      loop_remove (loop, s);
    }
}

/* The poll's timeout: the next keepalive, or soon while sessions close. */
static int
loop_timeout (Loop *loop)
{
  gint64 wait;

  if (loop->closing->len > 0)
    return 100;
  if (loop->next_sweep == G_MAXINT64)
    return -1;
  wait = loop->next_sweep - g_get_monotonic_time ();
  return (int) CLAMP ((wait + 999) / 1000, 0, G_MAXINT);
}

static void
loop_poll (Loop *loop)
{
  int rc;

  loop->gathered = 0;
  rc = ssh_event_dopoll (loop->event, loop_timeout (loop));
  /* Take whatever else libssh has already read before waking the engine:
   * libssh reads 4 KiB at a time and offers one packet per callback. */
  while (rc != SSH_ERROR && loop->gathered > 0 && loop->gathered < PUMP_BATCH)
    {
      gsize before = loop->gathered;

      rc = ssh_event_dopoll (loop->event, 0);
      if (loop->gathered == before)
        break;
    }
  /* A failed socket stops the poll without saying whose: look at all. */
  if (rc == SSH_ERROR)
    for (guint i = 0; i < loop->sessions->len; i++)
      queue (loop->sessions->pdata[i], loop);
}

static void
loop_run_ready (Loop *loop)
{
  /* Acting on one session may run others' callbacks, which queue more. */
  for (guint i = 0; i < loop->ready->len; i++)
    {
      Session *s = loop->ready->pdata[i];

      s->queued = FALSE;
      session_run (s, loop);
    }
  g_ptr_array_set_size (loop->ready, 0);
}

static gpointer
pump_thread (gpointer data)
{
  Loop *loop = data;

  loop->event = ssh_event_new ();
  ssh_event_add_fd (loop->event, loop->wake_fd, POLLIN, on_wake, loop);
  while (loop_take_arrivals (loop))
    {
      loop_run_ready (loop);
      loop_poll (loop);
      loop_check_stalled (loop);
      loop_note_activity (loop);
      loop_run_ready (loop);
      loop_sweep_keepalives (loop);
      loop_finish_closing (loop);
    }
  ssh_event_remove_fd (loop->event, loop->wake_fd);
  ssh_event_free (loop->event);
  close (loop->wake_fd);
  g_ptr_array_unref (loop->sessions);
  g_ptr_array_unref (loop->ready);
  g_ptr_array_unref (loop->stalled);
  g_ptr_array_unref (loop->closing);
  g_free (loop);

  g_mutex_lock (&lock);
  pumps_alive--;
  g_cond_broadcast (&pump_ended);
  g_mutex_unlock (&lock);
  return NULL;
}

/* An atexit() handler, registered with the first session, after a whole
 * handshake: the crypto library has registered its own cleanup by then,
 * and handlers run last-in first-out, so this one runs first. A pump still
 * sending (a close, a keepalive) while OpenSSL tore down its locks crashed
 * the process on its way out, now and then (the thread per session did
 * too). Has the pump drop every session at once, and waits (a second at
 * most) until it has. */
static void
stop_at_exit (void)
{
  gint64 deadline = g_get_monotonic_time () + G_USEC_PER_SEC;

  g_mutex_lock (&lock);
  exiting = TRUE;
  if (running_wake_fd >= 0)
    eventfd_write (running_wake_fd, 1);
  while (pumps_alive > 0 && g_cond_wait_until (&pump_ended, &lock, deadline))
    ;
  g_mutex_unlock (&lock);
}

/**
 * mitogen_ssh_pump_adopt:
 * @session: (transfer full): a connected, authenticated session
 * @channel: (transfer full): its channel, the agent at the other end
 * @fd: (transfer full): our end of the socketpair the engine reads
 * @host: "host:port", for messages
 * @keepalive_interval: seconds of silence before a keepalive; 0: none
 * @keepalive_count_max: unanswered keepalives before giving up; 0: never
 * @error: return location for a #GError
 *
 * Hands @session over to the pump thread, starting it if none runs. The
 * caller must not touch @session, @channel or @fd again, even on failure
 * (they are freed then).
 *
 * Returns: %TRUE if the pump took them.
 */
gboolean
mitogen_ssh_pump_adopt (ssh_session   session,
                        ssh_channel   channel,
                        int           fd,
                        const char   *host,
                        guint         keepalive_interval,
                        guint         keepalive_count_max,
                        GError      **error)
{
  Session *s = g_new0 (Session, 1);

  s->session = session;
  s->channel = channel;
  s->fd = fd;
  s->host = g_strdup (host);
  s->to_engine = g_byte_array_new ();
  s->to_host = g_byte_array_new ();
  s->keepalive = keepalive_interval;
  s->keepalive_count_max = keepalive_count_max;
  if (fcntl (fd, F_SETFL, fcntl (fd, F_GETFL) | O_NONBLOCK) < 0)
    goto fail;
  /* Room for a whole batch in the socket, so that a batch mostly goes in
   * one write, not a part now and the rest after another poll. Only a
   * wish: the kernel caps it (net.core.wmem_max). */
  setsockopt (fd, SOL_SOCKET, SO_SNDBUF, &(int) { 2 * PUMP_BATCH }, sizeof (int));

  g_mutex_lock (&lock);
  if (arrivals == NULL)
    {
      arrivals = g_ptr_array_new ();
      atexit (stop_at_exit);
    }
  if (running_wake_fd < 0)
    {
      Loop *loop;
      int wake = eventfd (0, EFD_CLOEXEC | EFD_NONBLOCK);

      if (wake < 0)
        {
          g_mutex_unlock (&lock);
          goto fail;
        }
      loop = g_new0 (Loop, 1);
      loop->wake_fd = running_wake_fd = wake;
      loop->sessions = g_ptr_array_new ();
      loop->ready = g_ptr_array_new ();
      loop->stalled = g_ptr_array_new ();
      loop->closing = g_ptr_array_new ();
      loop->next_sweep = G_MAXINT64;
      g_ptr_array_add (arrivals, s);
      pumps_alive++;
      g_thread_unref (g_thread_new (MITOGEN_SSH_PUMP_THREAD_NAME, pump_thread, loop));
    }
  else
    {
      g_ptr_array_add (arrivals, s);
      eventfd_write (running_wake_fd, 1);
    }
  g_mutex_unlock (&lock);
  return TRUE;

fail:
  g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_STREAM, "ssh %s: cannot start the "
               "pump: %s", host, g_strerror (errno));
  session_free (s);
  return FALSE;
}
