/* mitogen-agent.c: the program every context runs.
 *
 * The agent reads its parameters from the first frame on its standard
 * input, answers with a ready frame, then runs the functions its parent
 * calls, one at a time in arrival order, on this main thread, while its
 * broker thread keeps routing and takes cancel messages for the calls
 * that wait or run. It exits when its parent's stream closes.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "mitogen-bootstrap-private.h"
#include "mitogen-call-queue-private.h"
#include "mitogen-connect-private.h"
#include "mitogen-message-private.h"
#include "mitogen-plugin-private.h"
#include "mitogen-router-private.h"
#include "mitogen-stream-private.h"

/* Built with AddressSanitizer (gcc says so with __SANITIZE_ADDRESS__,
 * clang with __has_feature): its leak checker runs from an atexit()
 * handler, which _exit() skips, so the agent asks for the check itself. */
#if defined(__SANITIZE_ADDRESS__)
# define AGENT_LEAK_CHECK 1
#elif defined(__has_feature)
# if __has_feature(address_sanitizer)
#  define AGENT_LEAK_CHECK 1
# endif
#endif
#ifdef AGENT_LEAK_CHECK
# include <sanitizer/lsan_interface.h>
#endif

/* Defines MITOGEN_AGENT_SANITIZER_LOG in a sanitizer build configured
 * with -Dagent_sanitizer_log=DIR. */
#include "mitogen-agent-sanitizer.h"

#ifdef MITOGEN_AGENT_SANITIZER_LOG
/* An agent that sshd or a real sudo started has no ASAN_OPTIONS or
 * UBSAN_OPTIONS (both clean the environment): without these defaults its
 * reports would go to a standard error nobody reads. The runtimes call
 * these before main() and then read the environment, whose options win,
 * so the tests' local agents still report to each test's own directory.
 * They must be exported to replace the runtimes' weak empty ones. */
__attribute__ ((visibility ("default"))) const char *__asan_default_options (void);
__attribute__ ((visibility ("default"))) const char *__ubsan_default_options (void);

const char *
__asan_default_options (void)
{
  return "detect_leaks=1:log_path=" MITOGEN_AGENT_SANITIZER_LOG "/asan";
}

const char *
__ubsan_default_options (void)
{
  return "print_stacktrace=1:log_path=" MITOGEN_AGENT_SANITIZER_LOG "/ubsan";
}
#endif

/* The bootstrap frame is small; refuse anything absurd before allocating. */
#define MAX_BOOTSTRAP_SIZE (1024 * 1024)

typedef struct
{
  MitogenRouter *router;
  MitogenCallQueue *calls;     /* CALL_FUNCTION messages for the main thread */
  char          *name;         /* this context's name, for errors and logs */
  GLogLevelFlags forward_level;/* least severe level forwarded to the master */
} Agent;

static Agent agent;
static GPrivate in_log_writer;

/* The agent's only way out once it serves: _exit(), so that no atexit()
 * handler or library destructor runs while the other thread still works.
 * Under ASan the leak check comes first; what it finds goes where
 * ASAN_OPTIONS's log_path says (the tests read it there), and it ends the
 * process itself with ASan's exit code. */
static G_NORETURN void
agent_exit (int status)
{
#ifdef AGENT_LEAK_CHECK
  __lsan_do_leak_check ();
#endif
  _exit (status);
}

static gboolean
read_exactly (int      fd,
              guint8  *buf,
              gsize    len,
              GError **error)
{
  gsize have = 0;

  while (have < len)
    {
      ssize_t n = read (fd, buf + have, len - have);

      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        {
          g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_STREAM,
                       "reading the bootstrap frame: %s",
                       n == 0 ? "the parent closed the stream" : g_strerror (errno));
          return FALSE;
        }
      have += n;
    }
  return TRUE;
}

static MitogenBootstrap *
read_bootstrap (int      fd,
                GError **error)
{
  guint8 header[MITOGEN_HEADER_SIZE];
  MitogenFrameHeader hdr;
  g_autofree guint8 *data = NULL;
  g_autoptr(GBytes) bytes = NULL;

  if (!read_exactly (fd, header, sizeof header, error) ||
      !_mitogen_frame_header_decode (header, MAX_BOOTSTRAP_SIZE, &hdr, error))
    return NULL;
  if (hdr.handle != MITOGEN_HANDLE_BOOTSTRAP)
    {
      g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_PROTOCOL,
                   "the first frame is for handle %u, not the bootstrap", hdr.handle);
      return NULL;
    }
  data = g_malloc (MAX (hdr.length, 1));
  if (!read_exactly (fd, data, hdr.length, error))
    return NULL;
  bytes = g_bytes_new_take (g_steal_pointer (&data), hdr.length);
  return _mitogen_bootstrap_decode (bytes, error);
}

static void
send_ready (MitogenStream *stream,
            guint32        context_id,
            guint32        parent_id,
            const char    *name,
            const GError  *failure)
{
  g_autoptr(GBytes) data = NULL;
  g_autoptr(MitogenMessage) msg = NULL;

  data = failure != NULL ? _mitogen_ready_encode_error (failure->message)
                         : _mitogen_ready_encode (name);
  msg = _mitogen_message_new_raw (parent_id, context_id, MITOGEN_HANDLE_BOOTSTRAP, data);
  _mitogen_stream_send (stream, msg, NULL);
}

/* Broker thread: a call for the main thread, if its caller may call us. */
static void
on_call_function (MitogenMessage *msg,
                  gpointer        data)
{
  if (mitogen_message_is_dead (msg))
    return;
  if (!_mitogen_router_is_ancestor (agent.router, mitogen_message_get_auth_id (msg)))
    {
      g_autoptr(MitogenMessage) dead = NULL;

      g_warning ("refused a call from context %u: only a parent may call functions "
                 "in its children", mitogen_message_get_auth_id (msg));
      dead = _mitogen_message_make_dead_reply (msg, "refused by policy: only a parent "
                                               "may call functions in its children");
      if (dead != NULL)
        _mitogen_router_send (agent.router, dead, NULL);
      return;
    }
  _mitogen_call_queue_push (agent.calls, msg);
}

/* Broker thread: the parent asks us to exit after the current call. */
static void
on_shutdown (MitogenMessage *msg,
             gpointer        data)
{
  if (mitogen_message_is_dead (msg) ||
      !_mitogen_router_is_ancestor (agent.router, mitogen_message_get_auth_id (msg)))
    return;
  g_debug ("shutdown requested by context %u", mitogen_message_get_src_id (msg));
  _mitogen_call_queue_close (agent.calls);
}

/* Broker thread: without a parent there is nobody to serve. Exit at once,
 * even in the middle of a call, so that no orphan survives its master;
 * our children see their streams close and do the same, and the programs
 * proc.run is running are killed with their process groups. */
static void
on_parent_lost (MitogenRouter *router,
                const GError  *reason,
                gpointer       user_data)
{
  _mitogen_builtins_kill_children ();
  /* Nor may a half-written push outlive it: its temporary files go. */
  _mitogen_builtins_transfer_abandon_all ();
  agent_exit (0);
}

static GLogWriterOutput
forward_log (GLogLevelFlags   level,
             const GLogField *fields,
             gsize            n_fields,
             gpointer         user_data)
{
  const char *domain = "";
  const char *message = NULL;
  g_autofree char *clamped_domain = NULL;
  g_autofree char *clamped = NULL;
  g_autoptr(MitogenMessage) msg = NULL;
  gboolean sent;

  if ((level & G_LOG_LEVEL_MASK) > agent.forward_level)
    return G_LOG_WRITER_HANDLED;
  /* A log record raised while forwarding one goes to stderr instead. */
  if (g_private_get (&in_log_writer) != NULL || agent.router == NULL)
    return g_log_writer_standard_streams (level, fields, n_fields, user_data);

  for (gsize i = 0; i < n_fields; i++)
    {
      if (g_str_equal (fields[i].key, "GLIB_DOMAIN") && fields[i].length < 0)
        domain = fields[i].value;
      else if (g_str_equal (fields[i].key, "MESSAGE") && fields[i].length < 0)
        message = fields[i].value;
    }
  if (message == NULL)
    return G_LOG_WRITER_UNHANDLED;

  g_private_set (&in_log_writer, GINT_TO_POINTER (1));
  /* Fields, not a line: the master escapes and bounds them. They must be
   * UTF-8 to be GVariant strings at all. */
  clamped_domain = _mitogen_log_record_clamp (domain);
  clamped = _mitogen_log_record_clamp (message);
  msg = mitogen_message_new (0, MITOGEN_HANDLE_FORWARD_LOG,
                             g_variant_new ("(sis)", clamped_domain,
                                            (gint32) (level & G_LOG_LEVEL_MASK), clamped));
  sent = _mitogen_router_send (agent.router, msg, NULL);
  g_private_set (&in_log_writer, NULL);

  if (!sent)
    return g_log_writer_standard_streams (level, fields, n_fields, user_data);
  return G_LOG_WRITER_HANDLED;
}

/* Keeps the protocol fds away from code that writes to stdout: the stream
 * gets private copies, stdin reads /dev/null and stdout goes to stderr. */
static gboolean
take_stdio (int *in_fd,
            int *out_fd)
{
  int devnull;

  *in_fd = fcntl (0, F_DUPFD_CLOEXEC, 3);
  *out_fd = fcntl (1, F_DUPFD_CLOEXEC, 3);
  if (*in_fd < 0 || *out_fd < 0)
    return FALSE;
  devnull = open ("/dev/null", O_RDONLY | O_CLOEXEC);
  if (devnull < 0)
    return FALSE;
  dup2 (devnull, 0);
  close (devnull);
  dup2 (2, 1);
  return TRUE;
}

static char *
default_name (const char *transport)
{
  return g_strdup_printf ("%s.%d", transport, (int) getpid ());
}

int
main (int    argc,
      char **argv)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MitogenBootstrap) boot = NULL;
  g_autoptr(MitogenBroker) broker = NULL;
  g_autoptr(MitogenSerializer) serializer = NULL;
  g_autoptr(MitogenStream) stream = NULL;
  guint64 max_size;
  int in_fd, out_fd;

  /* --unlink-self: we run from a private temporary copy (the ssh transport
   * uses one when the host's cache cannot be trusted); take it away now
   * that it is mapped, so that nothing is left behind however we end. */
  for (int i = 1; i < argc; i++)
    if (g_str_equal (argv[i], "--unlink-self") && strchr (argv[0], '/') != NULL)
      {
        g_autofree char *dir = g_path_get_dirname (argv[0]);

        unlink (argv[0]);
        rmdir (dir);   /* only if it was emptied: a private directory */
      }

#ifdef MITOGEN_AGENT_STATIC_GLIB
  /* GLib is linked in and exported: a plugin or module that needs the
   * host's libglib-2.0.so.0 would load a second GLib beside it. */
  _mitogen_loader_refuse_own_glib ();
#endif

  if (argc > 1 && (g_str_equal (argv[1], "--help") || g_str_equal (argv[1], "--version")))
    {
      printf ("mitogen-agent %s: the program a libmitogen context runs.\n"
              "It is started by a router (mitogen_router_connect_context()) and speaks the\n"
              "Mitogen frame protocol on its standard input and output; it is not\n"
              "meant to be run by hand.\n", PACKAGE_VERSION);
      return 0;
    }

  /* Large messages come and go: serve them from mmap and give them back at
   * once. glibc's adaptive threshold would instead move them into the
   * heaps of our two threads, where 32 pipelined 8 MiB replies left the
   * agent at 140 MiB instead of 14. */
  mallopt (M_MMAP_THRESHOLD, 1024 * 1024);

  if (!take_stdio (&in_fd, &out_fd))
    {
      fprintf (stderr, "mitogen-agent: cannot set up standard streams: %s\n", g_strerror (errno));
      return 2;
    }

  /* Transports that must tell a running agent from a password prompt or a
   * refusal (sudo, su, ssh) start us with --announce and wait for this
   * marker before they hand the stream to the router. */
  if (argc > 1 && g_str_equal (argv[1], "--announce"))
    {
      static const char marker[] = MITOGEN_AGENT_ANNOUNCE;

      if (write (out_fd, marker, sizeof marker - 1) != sizeof marker - 1)
        return 2;
    }

  boot = read_bootstrap (in_fd, &error);
  if (boot == NULL)
    {
      fprintf (stderr, "mitogen-agent: %s\n", error->message);
      return 2;
    }
  max_size = boot->max_message_size;

  if (boot->plugin_path != NULL)
    g_setenv (MITOGEN_PLUGIN_PATH_ENV, boot->plugin_path, TRUE);

  /* The functions a parent may call here, registered before any call. */
  _mitogen_builtins_register ();
  _mitogen_connect_register_functions ();

  agent.name = boot->name != NULL ? g_strdup (boot->name) : default_name (boot->transport);
  agent.forward_level = boot->debug ? G_LOG_LEVEL_DEBUG : G_LOG_LEVEL_INFO;

  broker = mitogen_broker_new ();
  stream = _mitogen_stream_new (broker, in_fd, out_fd, NULL, "parent");
  _mitogen_stream_set_remote_id (stream, boot->parent_id);
  if (max_size > 0 && max_size <= G_MAXUINT32)
    _mitogen_stream_set_max_message_size (stream, max_size);

  serializer = mitogen_serializer_lookup (boot->serializer, &error);
  if (serializer == NULL)
    {
      send_ready (stream, boot->context_id, boot->parent_id, agent.name, error);
      _mitogen_stream_flush (stream);
      return 2;
    }
  _mitogen_stream_set_serializer (stream, serializer);

  agent.router = mitogen_router_new (broker);
  _mitogen_router_set_identity (agent.router, boot->context_id, boot->parent_id, boot->ancestors);
  if (max_size > 0 && max_size <= G_MAXUINT32)
    mitogen_router_set_max_message_size (agent.router, max_size);
  g_object_set (agent.router, "unidirectional", boot->unidirectional, NULL);
  /* Before the parent stream starts: it takes the limit from the router. */
  mitogen_router_set_max_buffered (agent.router, boot->max_buffered);
  /* Also takes MITOGEN_HANDLE_CANCEL_CALL, on which callers cancel calls. */
  agent.calls = _mitogen_call_queue_new (agent.router, agent.name);
  mitogen_router_add_handler (agent.router, MITOGEN_HANDLE_CALL_FUNCTION, NULL,
                              on_call_function, NULL, NULL);
  mitogen_router_add_handler (agent.router, MITOGEN_HANDLE_SHUTDOWN, NULL,
                              on_shutdown, NULL, NULL);
  g_log_set_writer_func (forward_log, NULL, NULL);

  /* The ready frame goes first: nothing else is routed before it is out. */
  send_ready (stream, boot->context_id, boot->parent_id, agent.name, NULL);
  _mitogen_router_attach_parent (agent.router, stream, on_parent_lost, NULL);

  while (_mitogen_call_queue_run_next (agent.calls))
    ;

  /* Shut down: let the last replies reach the parent, then go. */
  _mitogen_stream_flush (stream);
  agent_exit (0);
}
