/* mitogen-become.c: start sudo, su or doas, talk to its prompt, and hand
 * over the agent's stream once the agent announces itself.
 *
 * The agent's standard input and output are one end of a socketpair, as
 * with the local transport; the program's terminal is apart from it:
 *
 *  - with a password, a pseudo-terminal made the program's controlling
 *    terminal (sudo and doas read the password from /dev/tty, su from its
 *    standard input, which is then the terminal too) and its standard
 *    error, so its prompt and its complaints both appear there;
 *  - without one, no terminal at all (a new session, so the caller's own
 *    terminal cannot be opened either) and a pipe for standard error: the
 *    program fails at once when it would need a password, instead of
 *    asking.
 *
 * The agent, started with --announce, writes MITOGEN_AGENT_ANNOUNCE on the
 * socket before anything else and then waits for the bootstrap frame, so
 * the marker is always the last thing read here and nothing of the
 * protocol is consumed.
 *
 * After the handshake the terminal side is the agent's standard error; a
 * thread copies it to ours (as the local transport's agent inherits it)
 * until the last writer closes it, so the agent never blocks on it nor
 * loses its terminal.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef _GNU_SOURCE
# define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include "mitogen-agent-target.h"
#include "mitogen-become.h"

/* More than any prompt or refusal; a program that says more before the
 * agent starts is not one we understand. */
#define MAX_TERMINAL_TEXT (64 * 1024)
#define MAX_SOCKET_NOISE  (64 * 1024)

/* How long to wait for the program to turn echo off after its prompt
 * appeared (PAM's conversation prints first and then flushes the
 * terminal's input, which would drop a password written in between). */
#define ECHO_OFF_WAIT_MSEC 250

typedef struct
{
  const MitogenBecomeSpec *spec;
  GSubprocess *proc;          /* owned */
  int          sock;          /* owned; our end of the agent's stdio */
  int          term;          /* owned; pty master or stderr pipe, -1 when closed */
  gboolean     is_pty;
  GString     *term_text;     /* owned; everything the terminal said */
  gsize        answered_at;   /* offset in term_text after the prompt answered */
  gboolean     answered;
  gboolean     hide_line;     /* drop terminal text up to the next newline:
                               * it may be the password echoed back */
  GByteArray  *sock_data;     /* owned; what the socket said so far */
  gboolean     uploaded;      /* the first stage got the agent's bytes */
} Conversation;

static void
conversation_clear (Conversation *conv)
{
  if (conv->sock >= 0)
    close (conv->sock);
  if (conv->term >= 0)
    close (conv->term);
  conv->sock = conv->term = -1;
  g_clear_object (&conv->proc);
  if (conv->term_text != NULL)
    g_string_free (conv->term_text, TRUE);
  conv->term_text = NULL;
  g_clear_pointer (&conv->sock_data, g_byte_array_unref);
}

/* Replaces the password wherever it appears, in case a program echoed it
 * after all. Very short passwords are left alone: hiding every "a" would
 * hide the message and protect nothing. */
static char *
scrub (const Conversation *conv,
       const char         *text)
{
  const char *password = conv->spec->password;
  g_autoptr(GString) s = g_string_new (text);

  if (password != NULL && strlen (password) >= 4)
    g_string_replace (s, password, "********", 0);
  return g_string_free (g_steal_pointer (&s), FALSE);
}

/* What the program said, trimmed and safe for a message: the terminal
 * and, when the agent never started, anything that reached its stdout
 * (a login shell's "This account is currently not available."). */
static char *
describe_output (const Conversation *conv)
{
  g_autoptr(GString) s = g_string_new (NULL);
  g_autofree char *term = g_utf8_make_valid (conv->term_text->str, conv->term_text->len);
  g_autofree char *sock = conv->sock_data->len > 0
                          ? g_utf8_make_valid ((const char *) conv->sock_data->data,
                                               conv->sock_data->len)
                          : g_strdup ("");

  g_strstrip (term);
  g_strstrip (sock);
  if (term[0] != '\0')
    g_string_append (s, term);
  if (sock[0] != '\0')
    g_string_append_printf (s, "%s%s", s->len > 0 ? "\n" : "", sock);
  /* Line endings from a terminal are \r\n. */
  g_string_replace (s, "\r", "", 0);
  if (s->len > 2000)
    {
      g_string_erase (s, 0, s->len - 2000);
      g_string_prepend (s, "…");
    }
  return scrub (conv, s->str);
}

static void
child_setup (gpointer user_data)
{
  gboolean with_terminal = GPOINTER_TO_INT (user_data);

  /* A new session: no controlling terminal but the one given here, so
   * sudo can never prompt on the caller's terminal. */
  setsid ();
  if (with_terminal)
    ioctl (STDERR_FILENO, TIOCSCTTY, 0);
}

static gboolean
set_nonblocking (int      fd,
                 gboolean nonblocking)
{
  int flags = fcntl (fd, F_GETFL);

  if (flags < 0)
    return FALSE;
  flags = nonblocking ? (flags | O_NONBLOCK) : (flags & ~O_NONBLOCK);
  return fcntl (fd, F_SETFL, flags) == 0;
}

static gboolean
start (Conversation  *conv,
       GError       **error)
{
  const MitogenBecomeSpec *spec = conv->spec;
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autoptr(GError) local_error = NULL;
  int sv[2];
  int term_child = -1;
  int stdin_fd;

  if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
    {
      g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_STREAM,
                   "%s: socketpair: %s", spec->program, g_strerror (errno));
      return FALSE;
    }
  conv->sock = sv[0];

  if (conv->is_pty)
    {
      struct termios tio;

      if (openpty (&conv->term, &term_child, NULL, NULL, NULL) < 0)
        {
          g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_STREAM,
                       "%s: cannot allocate a pseudo-terminal: %s", spec->program,
                       g_strerror (errno));
          close (sv[1]);
          return FALSE;
        }
      fcntl (conv->term, F_SETFD, FD_CLOEXEC);
      fcntl (term_child, F_SETFD, FD_CLOEXEC);
      /* Raw output, so that what we show in messages is what was written. */
      if (tcgetattr (term_child, &tio) == 0)
        {
          tio.c_oflag &= ~OPOST;
          tcsetattr (term_child, TCSANOW, &tio);
        }
    }
  else
    {
      int p[2];

      if (pipe2 (p, O_CLOEXEC) < 0)
        {
          g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_STREAM,
                       "%s: pipe: %s", spec->program, g_strerror (errno));
          close (sv[1]);
          return FALSE;
        }
      conv->term = p[0];
      term_child = p[1];
    }

  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_NONE);
  /* The tests' checker wraps local agents only: never another user's or
   * another root's (sudo -E would pass it on). */
  g_subprocess_launcher_unsetenv (launcher, "MITOGEN_AGENT_WRAPPER");
  stdin_fd = spec->pty_stdin && conv->is_pty ? dup (term_child) : dup (sv[1]);
  g_subprocess_launcher_take_stdin_fd (launcher, stdin_fd);
  g_subprocess_launcher_take_stdout_fd (launcher, sv[1]);
  g_subprocess_launcher_take_stderr_fd (launcher, term_child);
  g_subprocess_launcher_set_child_setup (launcher, child_setup,
                                         GINT_TO_POINTER (conv->is_pty), NULL);
  conv->proc = g_subprocess_launcher_spawnv (launcher, spec->argv, &local_error);
  /* Drop the child's ends now, not at finalize, so that ours see EOF
   * when the child exits. */
  g_clear_object (&launcher);
  if (conv->proc == NULL)
    {
      g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_STREAM,
                   "%s: cannot start %s: %s", spec->program, spec->argv[0],
                   local_error->message);
      return FALSE;
    }
  set_nonblocking (conv->term, TRUE);
  return TRUE;
}

/* Reads what the terminal has; FALSE once it is closed for good. */
static gboolean
read_terminal (Conversation *conv)
{
  char buf[4096];

  for (;;)
    {
      ssize_t n = read (conv->term, buf, sizeof buf);
      const char *p = buf;

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0 && errno == EAGAIN)
        return TRUE;
      /* A pseudo-terminal whose last child end closed reads EIO. */
      if (n <= 0)
        {
          close (conv->term);
          conv->term = -1;
          return FALSE;
        }
      if (conv->hide_line)
        {
          const char *nl = memchr (buf, '\n', n);

          if (nl == NULL)
            continue;
          conv->hide_line = FALSE;
          n -= nl - buf;
          p = nl;
        }
      /* Bounded: a program that talks this much is failing anyway, and
       * only the end of what it said matters. */
      if (conv->term_text->len + n > MAX_TERMINAL_TEXT)
        {
          gsize drop = conv->term_text->len / 2;

          g_string_erase (conv->term_text, 0, drop);
          conv->answered_at = conv->answered_at > drop ? conv->answered_at - drop : 0;
        }
      g_string_append_len (conv->term_text, p, n);
    }
}

static gboolean
echo_is_off (int fd)
{
  struct termios tio;

  /* On Linux a pty master reports its child end's modes. */
  return tcgetattr (fd, &tio) == 0 && !(tio.c_lflag & ECHO);
}

static gboolean
write_all (int         fd,
           const char *data,
           gsize       len,
           gint64      deadline)
{
  while (len > 0)
    {
      ssize_t n = write (fd, data, len);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0 && errno == EAGAIN)
        {
          struct pollfd pfd = { fd, POLLOUT, 0 };
          gint64 left = (deadline - g_get_monotonic_time ()) / 1000;

          if (left <= 0)
            return FALSE;
          poll (&pfd, 1, (int) MIN (left, 100));
          continue;
        }
      if (n <= 0)
        return FALSE;
      data += n;
      len -= n;
    }
  return TRUE;
}

static gboolean
answer_prompt (Conversation  *conv,
               gint64         deadline,
               GError       **error)
{
  const MitogenBecomeSpec *spec = conv->spec;
  gint64 echo_deadline;
  gboolean echo_off;

  if (spec->password == NULL)
    {
      g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_AUTH,
                   "%s needs a password but none was given", spec->program);
      return FALSE;
    }
  if (conv->answered)
    {
      g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_AUTH,
                   "%s password incorrect", spec->program);
      return FALSE;
    }
  if (!conv->is_pty)
    {
      /* A prompt on a pipe: the program asks on its standard input, which
       * is the agent's stream. */
      g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_AUTH,
                   "%s prompted for a password where it cannot be answered", spec->program);
      return FALSE;
    }

  /* Answer once echo is off, which every one of these programs does
   * before it reads; wait a little for it, then answer anyway. */
  echo_deadline = MIN (deadline, g_get_monotonic_time () + ECHO_OFF_WAIT_MSEC * 1000);
  while (!(echo_off = echo_is_off (conv->term)) && g_get_monotonic_time () < echo_deadline)
    g_usleep (1000);
  if (!echo_off)
    {
      g_debug ("%s: echo is still on at the prompt; answering anyway", spec->program);
      conv->hide_line = TRUE;
    }

  if (!write_all (conv->term, spec->password, strlen (spec->password), deadline) ||
      !write_all (conv->term, "\n", 1, deadline))
    {
      g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_STREAM,
                   "%s: cannot send the password: %s", spec->program, g_strerror (errno));
      return FALSE;
    }
  conv->answered = TRUE;
  conv->answered_at = conv->term_text->len;
  return TRUE;
}

/* Looks at the terminal text since the last answer. */
static gboolean
consider_terminal (Conversation  *conv,
                   gint64         deadline,
                   GError       **error)
{
  g_autofree char *message = NULL;
  int code = 0;

  switch (_mitogen_prompt_match (&conv->spec->rules,
                                 conv->term_text->str + conv->answered_at,
                                 conv->term_text->len - conv->answered_at,
                                 &code, &message))
    {
    case MITOGEN_PROMPT_PASSWORD:
      return answer_prompt (conv, deadline, error);
    case MITOGEN_PROMPT_FAILURE:
      {
        g_autofree char *safe = scrub (conv, message);

        g_set_error_literal (error, MITOGEN_ERROR, code, safe);
        return FALSE;
      }
    case MITOGEN_PROMPT_SUCCESS:
    case MITOGEN_PROMPT_MORE:
    default:
      return TRUE;
    }
}

/* The program went away before the agent announced itself. */
static void
set_exit_error (Conversation  *conv,
                GError       **error)
{
  g_autofree char *output = NULL;

  /* Whatever it wrote before exiting is in the terminal already. */
  if (conv->term >= 0)
    read_terminal (conv);
  if (conv->term_text->len > 0 &&
      conv->term_text->str[conv->term_text->len - 1] != '\n')
    g_string_append_c (conv->term_text, '\n');
  /* Ended by a newline, every line is complete: a refusal in the last
   * one counts, a prompt no longer does. */
  if (!consider_terminal (conv, g_get_monotonic_time (), error))
    return;
  output = describe_output (conv);
  if (output[0] != '\0')
    g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_STREAM,
                 "%s exited before the agent started: %s", conv->spec->program, output);
  else
    g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_STREAM,
                 "%s exited before the agent started, saying nothing", conv->spec->program);
}

/* Sends the agent's bytes the first stage asked for, by the deadline. */
static gboolean
upload_agent (Conversation  *conv,
              gint64         deadline,
              GError       **error)
{
  gsize len;
  const guint8 *p = g_bytes_get_data (conv->spec->first_stage->bytes, &len);

  while (len > 0)
    {
      ssize_t n = send (conv->sock, p, len, MSG_DONTWAIT | MSG_NOSIGNAL);
      gint64 left;

      if (n > 0)
        {
          p += n;
          len -= n;
          continue;
        }
      if (n < 0 && errno == EINTR)
        continue;
      left = (deadline - g_get_monotonic_time () + 999) / 1000;
      if (n < 0 && errno == EAGAIN && left > 0)
        {
          struct pollfd pfd = { conv->sock, POLLOUT, 0 };

          poll (&pfd, 1, (int) MIN (left, 100));
          continue;
        }
      if (n < 0 && errno == EAGAIN)
        g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_TIMEOUT,
                     "%s: timed out sending the agent", conv->spec->program);
      else
        g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_STREAM, "%s: cannot send the agent: %s",
                     conv->spec->program, n < 0 ? g_strerror (errno) : "connection closed");
      return FALSE;
    }
  g_debug ("%s: sent the agent (%" G_GSIZE_FORMAT " bytes) to the first stage",
           conv->spec->program, g_bytes_get_size (conv->spec->first_stage->bytes));
  return TRUE;
}

/* The first stage asked for the agent: send it, and forget what was read
 * up to here (a login shell's noise, and the request). */
static gboolean
maybe_upload (Conversation  *conv,
              gint64         deadline,
              GError       **error)
{
  static const char request[] = MITOGEN_FIRST_STAGE_NEED_UPLOAD;
  const guint8 *found;

  if (conv->spec->first_stage == NULL || conv->uploaded)
    return TRUE;
  found = memmem (conv->sock_data->data, conv->sock_data->len, request, sizeof request - 1);
  if (found == NULL)
    return TRUE;
  conv->uploaded = TRUE;
  g_byte_array_remove_range (conv->sock_data, 0, found + sizeof request - 1 - conv->sock_data->data);
  return upload_agent (conv, deadline, error);
}

/* Reads from the socket; FALSE with @error set, or with *@done set once
 * the marker arrived. */
static gboolean
read_socket (Conversation  *conv,
             gint64         deadline,
             gboolean      *done,
             GError       **error)
{
  static const char marker[] = MITOGEN_AGENT_ANNOUNCE;
  const gsize marker_len = sizeof marker - 1;
  guint8 buf[512];
  ssize_t n;
  const guint8 *found;

  do
    n = recv (conv->sock, buf, sizeof buf, MSG_DONTWAIT);
  while (n < 0 && errno == EINTR);
  if (n < 0 && errno == EAGAIN)
    return TRUE;
  if (n <= 0)
    {
      set_exit_error (conv, error);
      return FALSE;
    }
  g_byte_array_append (conv->sock_data, buf, n);
  if (!maybe_upload (conv, deadline, error))
    return FALSE;

  /* The agent says nothing after the marker until it has the bootstrap
   * frame, so the marker ends what was read. Anything before it came from
   * a login shell and is dropped. */
  found = memmem (conv->sock_data->data, conv->sock_data->len, marker, marker_len);
  if (found != NULL)
    {
      gsize before = found - conv->sock_data->data;

      if (before + marker_len != conv->sock_data->len)
        {
          g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_PROTOCOL,
                       "%s: the agent wrote more than its announcement", conv->spec->program);
          return FALSE;
        }
      if (before > 0)
        g_debug ("%s: dropped %" G_GSIZE_FORMAT " bytes written before the agent started",
                 conv->spec->program, before);
      *done = TRUE;
      return TRUE;
    }
  if (conv->sock_data->len > MAX_SOCKET_NOISE)
    {
      g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_PROTOCOL,
                   "%s: no agent announcement in the first %d bytes of output",
                   conv->spec->program, MAX_SOCKET_NOISE);
      return FALSE;
    }
  return TRUE;
}

static gpointer
copy_terminal (gpointer data)
{
  int fd = GPOINTER_TO_INT (data);
  char buf[4096];

  for (;;)
    {
      ssize_t n = read (fd, buf, sizeof buf);

      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        break;
      /* Best effort: our stderr may be closed. */
      if (write (STDERR_FILENO, buf, n) < 0)
        {
        }
    }
  close (fd);
  return NULL;
}

/* Keeps the agent's standard error drained, and its terminal open. */
static void
hand_over_terminal (Conversation *conv)
{
  GThread *thread;
  g_autoptr(GError) error = NULL;
  int fd = conv->term;

  if (fd < 0)
    return;
  conv->term = -1;
  set_nonblocking (fd, FALSE);
  thread = g_thread_try_new ("mitogen-become-stderr", copy_terminal, GINT_TO_POINTER (fd), &error);
  if (thread == NULL)
    {
      g_warning ("%s: cannot start a thread for the agent's standard error: %s",
                 conv->spec->program, error->message);
      close (fd);
      return;
    }
  g_thread_unref (thread);
}

static gboolean
converse (Conversation  *conv,
          GCancellable  *cancellable,
          GError       **error)
{
  const MitogenBecomeSpec *spec = conv->spec;
  gint64 deadline = g_get_monotonic_time () + (gint64) spec->timeout_msec * 1000;
  GPollFD cancel_fd = { -1, 0, 0 };
  gboolean have_cancel_fd;
  gboolean done = FALSE;
  gboolean ok = FALSE;

  have_cancel_fd = cancellable != NULL && g_cancellable_make_pollfd (cancellable, &cancel_fd);

  while (!done)
    {
      struct pollfd fds[3];
      int nfds = 0, sock_i, term_i = -1, cancel_i = -1;
      gint64 left = (deadline - g_get_monotonic_time () + 999) / 1000;
      int n;

      if (g_cancellable_set_error_if_cancelled (cancellable, error))
        goto out;
      if (left <= 0)
        {
          g_autofree char *output = describe_output (conv);

          g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_TIMEOUT,
                       "%s: the agent did not start within %.1f s%s%s%s",
                       spec->program, spec->timeout_msec / 1000.0,
                       conv->answered ? " after the password was sent" : "",
                       output[0] != '\0' ? "; it said: " : "", output);
          goto out;
        }

      sock_i = nfds;
      fds[nfds++] = (struct pollfd) { conv->sock, POLLIN, 0 };
      if (conv->term >= 0)
        {
          term_i = nfds;
          fds[nfds++] = (struct pollfd) { conv->term, POLLIN, 0 };
        }
      if (have_cancel_fd)
        {
          cancel_i = nfds;
          fds[nfds++] = (struct pollfd) { cancel_fd.fd, POLLIN, 0 };
        }
      n = poll (fds, nfds, (int) MIN (left, G_MAXINT));
      if (n < 0 && errno != EINTR)
        {
          g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_STREAM,
                       "%s: poll: %s", spec->program, g_strerror (errno));
          goto out;
        }
      if (n <= 0)
        continue;
      if (cancel_i >= 0 && fds[cancel_i].revents != 0)
        continue;  /* reported at the top of the loop */
      /* The terminal first, so that a refusal is reported as one rather
       * than as the program's exit. */
      if (term_i >= 0 && fds[term_i].revents != 0)
        {
          read_terminal (conv);
          if (!consider_terminal (conv, deadline, error))
            goto out;
        }
      if (fds[sock_i].revents != 0 && !read_socket (conv, deadline, &done, error))
        goto out;
    }
  ok = TRUE;

out:
  if (have_cancel_fd)
    g_cancellable_release_fd (cancellable);
  return ok;
}

/**
 * _mitogen_become_spawn:
 * @spec: what to run and how to answer it
 * @cancellable: (nullable): cancels the whole exchange
 * @error: return location for an error
 *
 * Runs @spec's program, which must run the agent with --announce, and
 * returns a stream connected to the agent once it has announced itself.
 * On any failure the program is killed.
 *
 * Returns: (transfer full): the agent's stream, or %NULL
 */
GIOStream *
_mitogen_become_spawn (const MitogenBecomeSpec  *spec,
                       GCancellable             *cancellable,
                       GError                  **error)
{
  Conversation conv = { 0, };
  g_autoptr(GSocket) socket = NULL;
  GSocketConnection *connection;

  if (g_cancellable_set_error_if_cancelled (cancellable, error))
    return NULL;
  conv.spec = spec;
  conv.sock = conv.term = -1;
  conv.is_pty = spec->password != NULL;
  conv.term_text = g_string_new (NULL);
  conv.sock_data = g_byte_array_new ();

  if (!start (&conv, error))
    goto fail;
  if (!converse (&conv, cancellable, error))
    goto fail;

  if (conv.term_text->len > 0)
    {
      g_autofree char *said = describe_output (&conv);
      g_debug ("%s: before the agent started: %s", spec->program, said);
    }

  socket = g_socket_new_from_fd (conv.sock, error);
  if (socket == NULL)
    goto fail;
  conv.sock = -1;
  hand_over_terminal (&conv);
  connection = g_socket_connection_factory_create_connection (socket);
  /* The connection keeps the child object alive; GLib reaps it. */
  g_object_set_data_full (G_OBJECT (connection), "mitogen-subprocess",
                          g_steal_pointer (&conv.proc), g_object_unref);
  conversation_clear (&conv);
  return G_IO_STREAM (connection);

fail:
  if (conv.proc != NULL)
    g_subprocess_force_exit (conv.proc);
  conversation_clear (&conv);
  return NULL;
}

/**
 * _mitogen_become_agent_prepare:
 * @program: "sudo", for messages
 * @agent_path: the agent this process would start
 * @same_root: whether the new user sees this process's files (sudo), so
 *   that @agent_path itself may run; not in a container or chroot
 * @agent: (out caller-allocates): filled in; clear with
 *   _mitogen_become_agent_clear()
 * @error: return location for an error
 *
 * Reads the agent and builds the first stage that runs it as the new
 * user: the file itself when that user can run it, else a copy cached
 * where that user owns the cache, sent over the stream when needed.
 *
 * Returns: %TRUE, or %FALSE with @error set
 */
gboolean
_mitogen_become_agent_prepare (const char         *program,
                               const char         *agent_path,
                               gboolean            same_root,
                               MitogenBecomeAgent *agent,
                               GError            **error)
{
  g_autoptr(GError) local_error = NULL;

  g_autofree char *upload = NULL;
  g_auto(AgentTarget) target = { 0, };

  memset (agent, 0, sizeof *agent);
  if (!_mitogen_become_check_agent (program, agent_path, error))
    return FALSE;
  /* What travels is the self-contained agent when there is one: the new
   * root or user may have no GLib, or none it can read. */
  upload = agent_upload_path (agent_path, TRUE);
  agent->bytes = mitogen_first_stage_agent_bytes (upload, &agent->sha256, &local_error);
  if (agent->bytes == NULL)
    {
      g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_FAILED,
                   "%s: cannot read the agent: %s", program, local_error->message);
      return FALSE;
    }
  agent_target_read (agent->bytes, &target);
  agent->target_check = agent_target_check (&target);
  agent->stage.bytes = agent->bytes;
  agent->stage.sha256 = agent->sha256;
  agent->stage.direct_path = same_root ? agent_path : NULL;
  agent->stage.target_check = agent->target_check;
  agent->script = mitogen_first_stage_script (&agent->stage);
  return TRUE;
}

void
_mitogen_become_agent_clear (MitogenBecomeAgent *agent)
{
  g_clear_pointer (&agent->bytes, g_bytes_unref);
  g_clear_pointer (&agent->sha256, g_free);
  g_clear_pointer (&agent->target_check, g_free);
  g_clear_pointer (&agent->script, g_free);
}

gboolean
_mitogen_become_check_agent (const char  *program,
                             const char  *agent_path,
                             GError     **error)
{
  if (agent_path == NULL || !g_path_is_absolute (agent_path) ||
      !g_file_test (agent_path, G_FILE_TEST_IS_EXECUTABLE))
    {
      g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_STREAM,
                   "%s: the agent program %s is missing, not executable or not an "
                   "absolute path (set MITOGEN_AGENT_PATH or the “agent_path” option)",
                   program, agent_path != NULL ? agent_path : "(none)");
      return FALSE;
    }
  return TRUE;
}

gboolean
_mitogen_become_check_username (const char  *program,
                                const char  *username,
                                GError     **error)
{
  /* Never let a user name pass for an option of the program. */
  if (username[0] == '\0' || username[0] == '-' || strpbrk (username, " \t\n\r") != NULL)
    {
      g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_FAILED,
                   "%s: “%s” is not a valid user name", program, username);
      return FALSE;
    }
  return TRUE;
}

static gboolean
lookup_typed (GVariant            *options,
              const char          *program,
              const char          *key,
              const GVariantType  *type,
              GVariant           **out,
              GError             **error)
{
  *out = NULL;
  if (options == NULL)
    return TRUE;
  *out = g_variant_lookup_value (options, key, NULL);
  if (*out != NULL && !g_variant_is_of_type (*out, type))
    {
      g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_FAILED,
                   "%s: option “%s” must be of type '%.*s'", program, key,
                   (int) g_variant_type_get_string_length (type),
                   g_variant_type_peek_string (type));
      g_clear_pointer (out, g_variant_unref);
      return FALSE;
    }
  return TRUE;
}

gboolean
_mitogen_become_option_string (GVariant     *options,
                               const char   *program,
                               const char   *key,
                               const char  **out,
                               GError      **error)
{
  g_autoptr(GVariant) v = NULL;

  if (!lookup_typed (options, program, key, G_VARIANT_TYPE_STRING, &v, error))
    return FALSE;
  /* The string lives as long as @options. */
  if (v != NULL)
    g_variant_lookup (options, key, "&s", out);
  return TRUE;
}

gboolean
_mitogen_become_option_bool (GVariant    *options,
                             const char  *program,
                             const char  *key,
                             gboolean    *out,
                             GError     **error)
{
  g_autoptr(GVariant) v = NULL;

  if (!lookup_typed (options, program, key, G_VARIANT_TYPE_BOOLEAN, &v, error))
    return FALSE;
  if (v != NULL)
    *out = g_variant_get_boolean (v);
  return TRUE;
}

gboolean
_mitogen_become_option_strv (GVariant      *options,
                             const char    *program,
                             const char    *key,
                             const char  ***out,
                             GError       **error)
{
  g_autoptr(GVariant) v = NULL;

  if (!lookup_typed (options, program, key, G_VARIANT_TYPE_STRING_ARRAY, &v, error))
    return FALSE;
  /* The array is the caller's to g_free(); the strings live as long as
   * @options. */
  if (v != NULL)
    g_variant_lookup (options, key, "^a&s", out);
  return TRUE;
}

gboolean
_mitogen_become_option_timeout (GVariant    *options,
                                const char  *program,
                                int         *out_msec,
                                GError     **error)
{
  if (mitogen_transport_options_get_timeout (options, MITOGEN_BECOME_DEFAULT_TIMEOUT_MSEC,
                                             out_msec, error))
    return TRUE;
  g_prefix_error (error, "%s: ", program);
  return FALSE;
}
