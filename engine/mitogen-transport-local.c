/* mitogen-transport-local.c: start a context as a child process of this one.
 *
 * The agent gets one end of a socketpair as its standard input and output
 * (a socketpair moves bulk data several times faster than a pipe here) and
 * inherits standard error, so a crash message reaches the terminal.
 *
 * Options: "env" (a{ss}, added to the environment), "cwd" (s),
 * "static_agent" (b, default false: run the agent_path's "-static" twin,
 * which starts faster but shares no page with other agents and refuses
 * plugins and modules that link GLib).
 *
 * The agent is started with posix_spawn() and reaped by a thread of its
 * own (see spawn_agent()).
 *
 * MITOGEN_AGENT_WRAPPER, in this process's own environment, is a command
 * line (shell quoting) put in front of the agent's: the tests run every
 * agent under valgrind with it. Like MITOGEN_AGENT_PATH it is the caller's
 * own choice, ignored in a set-uid or set-gid process; unlike it, it is
 * taken out of the agent's environment, so it wraps only the agents this
 * process starts and never reaches another hop. Only the local transport
 * reads it.
 *
 * Built into the engine, not a plugin, so that a program or an agent with
 * no plugin directory at all can start contexts on this machine. The
 * plugin loader registers it as "local" on the transport extension point,
 * the same way a plugin registers itself.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#define _GNU_SOURCE /* posix_spawn_file_actions_addclosefrom_np(), glibc 2.34 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/auxv.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mitogen-private.h"
#include "mitogen-plugin-private.h"

struct _MitogenTransportLocal
{
  GObject parent_instance;
};

static void mitogen_transport_local_iface_init (MitogenTransportInterface *iface);

#define AGENT_WRAPPER_ENV "MITOGEN_AGENT_WRAPPER"

G_DEFINE_FINAL_TYPE_WITH_CODE (MitogenTransportLocal, mitogen_transport_local, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (MITOGEN_TYPE_TRANSPORT,
                                                      mitogen_transport_local_iface_init))

/* The agent's environment: this process's, without the wrapper variable,
 * with the "env" option's variables set. */
static GStrv
agent_environment (GVariant  *options,
                   GError   **error)
{
  g_auto(GStrv) envp = g_environ_unsetenv (g_get_environ (), AGENT_WRAPPER_ENV);
  g_autoptr(GVariant) env = options != NULL ? g_variant_lookup_value (options, "env", NULL) : NULL;
  GVariantIter iter;
  const char *key, *value;

  if (env == NULL)
    return g_steal_pointer (&envp);
  if (!g_variant_is_of_type (env, G_VARIANT_TYPE ("a{ss}")))
    {
      g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_FAILED,
                   "local: option “env” must be of type 'a{ss}'");
      return NULL;
    }
  g_variant_iter_init (&iter, env);
  while (g_variant_iter_next (&iter, "{&s&s}", &key, &value))
    envp = g_environ_setenv (envp, key, value, TRUE);
  return g_steal_pointer (&envp);
}

/* The agent's command line: @agent_path, after the wrapper if any. */
static GStrv
agent_argv (const char  *agent_path,
            GError     **error)
{
  const char *wrapper = getauxval (AT_SECURE) ? NULL : g_getenv (AGENT_WRAPPER_ENV);
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();
  g_auto(GStrv) words = NULL;

  if (wrapper != NULL && wrapper[0] != '\0')
    {
      g_autoptr(GError) local_error = NULL;

      if (!g_shell_parse_argv (wrapper, NULL, &words, &local_error))
        {
          g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_FAILED,
                       "local: %s is not a command line: %s",
                       AGENT_WRAPPER_ENV, local_error->message);
          return NULL;
        }
      g_strv_builder_addv (builder, (const char **) words);
    }
  g_strv_builder_add (builder, agent_path);
  return g_strv_builder_end (builder);
}

/* The thread that reaps the agents this process started. A child watch
 * reaps only while its context is iterated, and neither the caller's nor
 * the broker's is sure to be iterated until the child exits (the router
 * may be gone first). GSubprocess relies on GLib's own worker thread in
 * the same way; that one is private. */
static gpointer
reaper_main (gpointer data)
{
  GMainContext *context = data;

  for (;;)
    g_main_context_iteration (context, TRUE);
  return NULL;
}

static GMainContext *
reaper_context (void)
{
  static gsize context;

  if (g_once_init_enter (&context))
    {
      GMainContext *new_context = g_main_context_new ();

      g_thread_unref (g_thread_new ("mitogen-reaper", reaper_main, new_context));
      g_once_init_leave (&context, (gsize) new_context);
    }
  return (GMainContext *) context;
}

static void
child_exited (GPid     pid,
              int      status,
              gpointer user_data)
{
  g_spawn_close_pid (pid);
}

static void
reap_when_exited (GPid pid)
{
  g_autoptr(GSource) source = g_child_watch_source_new (pid);

  g_source_set_callback (source, G_SOURCE_FUNC (child_exited), NULL, NULL);
  g_source_set_static_name (source, "mitogen-agent reaper");
  g_source_attach (source, reaper_context ());
}

/* Starts @argv with @fd as its standard input and output, standard error
 * inherited and every other descriptor closed, in @cwd when not NULL.
 *
 * posix_spawn(), not GSubprocess: glibc's spawns with vfork semantics (the
 * child shares the parent's memory until it execs), where GSubprocess
 * forks, and a fork copies the page tables of the whole master, which in
 * a master that has moved a few hundred MiB costs more than the exec. */
static gboolean
spawn_agent (char       **argv,
             char       **envp,
             const char  *cwd,
             int          fd,
             GPid        *pid,
             GError     **error)
{
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  sigset_t signals;
  int err;

  posix_spawn_file_actions_init (&actions);
  posix_spawnattr_init (&attr);
  if (cwd != NULL)
    posix_spawn_file_actions_addchdir_np (&actions, cwd);
  posix_spawn_file_actions_adddup2 (&actions, fd, 0);
  posix_spawn_file_actions_adddup2 (&actions, fd, 1);
  posix_spawn_file_actions_addclosefrom_np (&actions, 3);
  /* A new program starts with no blocked signals and SIGPIPE as the
   * default, whatever the thread that starts it has set. */
  sigemptyset (&signals);
  posix_spawnattr_setsigmask (&attr, &signals);
  sigaddset (&signals, SIGPIPE);
  posix_spawnattr_setsigdefault (&attr, &signals);
  posix_spawnattr_setflags (&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

  err = posix_spawnp (pid, argv[0], &actions, &attr, argv, envp);

  posix_spawnattr_destroy (&attr);
  posix_spawn_file_actions_destroy (&actions);
  if (err != 0)
    {
      g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_STREAM,
                   "local: cannot start %s%s%s%s: %s", argv[0], cwd != NULL ? " in “" : "",
                   cwd != NULL ? cwd : "", cwd != NULL ? "”" : "", g_strerror (err));
      return FALSE;
    }
  reap_when_exited (*pid);
  return TRUE;
}

static GIOStream *
mitogen_transport_local_open_stream (MitogenTransport  *transport,
                                     GVariant          *options,
                                     const char        *agent_path,
                                     GCancellable      *cancellable,
                                     GError           **error)
{
  g_autoptr(GSocket) socket = NULL;
  g_autofree char *static_path = NULL;
  g_autofree char *absolute_path = NULL;
  g_auto(GStrv) argv = NULL;
  g_auto(GStrv) envp = NULL;
  const char *cwd = NULL;
  GPid pid;
  int sv[2], child_fd;
  gboolean use_static = FALSE;
  gboolean started;

  if (g_cancellable_set_error_if_cancelled (cancellable, error))
    return NULL;
  if (options != NULL && g_variant_lookup (options, "static_agent", "b", &use_static) && use_static)
    {
      agent_path = static_path = g_strconcat (agent_path, "-static", NULL);
      if (!g_file_test (agent_path, G_FILE_TEST_IS_EXECUTABLE))
        {
          g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_STREAM,
                       "local: option “static_agent”: %s is missing or not executable "
                       "(the build makes it when GLib's static archives are there; -Dstatic_agent=enabled insists)", agent_path);
          return NULL;
        }
    }
  if (!g_file_test (agent_path, G_FILE_TEST_IS_EXECUTABLE))
    {
      g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_STREAM,
                   "local: the agent program %s is missing or not executable "
                   "(set MITOGEN_AGENT_PATH or the “agent_path” option)", agent_path);
      return NULL;
    }
  /* The child changes to @cwd before it runs the agent: a relative path
   * names the file checked above, here. */
  if (!g_path_is_absolute (agent_path))
    agent_path = absolute_path = g_canonicalize_filename (agent_path, NULL);
  argv = agent_argv (agent_path, error);
  if (argv == NULL)
    return NULL;
  envp = agent_environment (options, error);
  if (envp == NULL)
    return NULL;
  if (options != NULL)
    g_variant_lookup (options, "cwd", "&s", &cwd);
  /* posix_spawn() says so too, but not where vfork is a fork (valgrind):
   * there the child would only exit with 127. */
  if (cwd != NULL && !g_file_test (cwd, G_FILE_TEST_IS_DIR))
    {
      g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_STREAM,
                   "local: cannot start %s in “%s”: %s", agent_path, cwd,
                   g_strerror (g_file_test (cwd, G_FILE_TEST_EXISTS) ? ENOTDIR : ENOENT));
      return NULL;
    }
  if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
    {
      g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_STREAM,
                   "local: socketpair: %s", g_strerror (errno));
      return NULL;
    }
  /* dup2() onto itself would leave close-on-exec set: keep the child's
   * end off descriptors 0-2 (free only when this process closed them). */
  child_fd = sv[1];
  if (child_fd <= 2)
    child_fd = fcntl (sv[1], F_DUPFD_CLOEXEC, 3);
  started = child_fd >= 0 && spawn_agent (argv, envp, cwd, child_fd, &pid, error);
  if (child_fd < 0)
    g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_STREAM,
                 "local: cannot start %s: %s", agent_path, g_strerror (errno));
  /* Close the child's end now, so that ours sees EOF when it exits. */
  if (child_fd != sv[1] && child_fd >= 0)
    close (child_fd);
  close (sv[1]);
  if (!started)
    {
      close (sv[0]);
      return NULL;
    }

  socket = g_socket_new_from_fd (sv[0], error);
  if (socket == NULL)
    {
      close (sv[0]);
      kill (pid, SIGKILL);
      return NULL;
    }
  return G_IO_STREAM (g_socket_connection_factory_create_connection (socket));
}

static const MitogenTransportOption local_options[] = {
  { "env", "a{ss}", "environment variables to set for the agent" },
  { "cwd", "s", "the agent's working directory" },
  { "static_agent", "b", "run mitogen-agent-static, beside agent_path: a faster start, "
    "no page shared with other agents, no plugin or module that links GLib" },
  { NULL }
};

static const MitogenTransportOption *
mitogen_transport_local_get_options (MitogenTransport *transport)
{
  return local_options;
}

static void
mitogen_transport_local_iface_init (MitogenTransportInterface *iface)
{
  iface->open_stream = mitogen_transport_local_open_stream;
  iface->get_options = mitogen_transport_local_get_options;
}

static void
mitogen_transport_local_class_init (MitogenTransportLocalClass *klass)
{
}

static void
mitogen_transport_local_init (MitogenTransportLocal *self)
{
}
