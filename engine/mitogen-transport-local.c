/* mitogen-transport-local.c: start a context as a child process of this one.
 *
 * The agent gets one end of a socketpair as its standard input and output
 * (a socketpair moves bulk data several times faster than a pipe here) and
 * inherits standard error, so a crash message reaches the terminal.
 *
 * Options: "env" (a{ss}, added to the environment), "cwd" (s).
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
#include "config.h"

#include <errno.h>
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

G_DEFINE_FINAL_TYPE_WITH_CODE (MitogenTransportLocal, mitogen_transport_local, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (MITOGEN_TYPE_TRANSPORT,
                                                      mitogen_transport_local_iface_init))

static gboolean
apply_options (GSubprocessLauncher  *launcher,
               GVariant             *options,
               GError              **error)
{
  g_autoptr(GVariant) env = NULL;
  const char *cwd = NULL;

  if (options == NULL)
    return TRUE;
  env = g_variant_lookup_value (options, "env", NULL);
  if (env != NULL)
    {
      GVariantIter iter;
      const char *key, *value;

      if (!g_variant_is_of_type (env, G_VARIANT_TYPE ("a{ss}")))
        {
          g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_FAILED,
                       "local: option “env” must be of type 'a{ss}'");
          return FALSE;
        }
      g_variant_iter_init (&iter, env);
      while (g_variant_iter_next (&iter, "{&s&s}", &key, &value))
        g_subprocess_launcher_setenv (launcher, key, value, TRUE);
    }
  if (g_variant_lookup (options, "cwd", "&s", &cwd))
    g_subprocess_launcher_set_cwd (launcher, cwd);
  return TRUE;
}

#define AGENT_WRAPPER_ENV "MITOGEN_AGENT_WRAPPER"

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

static GIOStream *
mitogen_transport_local_open_stream (MitogenTransport  *transport,
                                     GVariant          *options,
                                     const char        *agent_path,
                                     GCancellable      *cancellable,
                                     GError           **error)
{
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autoptr(GSubprocess) proc = NULL;
  g_autoptr(GSocket) socket = NULL;
  GSocketConnection *connection;
  g_auto(GStrv) argv = NULL;
  int sv[2];

  if (g_cancellable_set_error_if_cancelled (cancellable, error))
    return NULL;
  if (!g_file_test (agent_path, G_FILE_TEST_IS_EXECUTABLE))
    {
      g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_STREAM,
                   "local: the agent program %s is missing or not executable "
                   "(set MITOGEN_AGENT_PATH or the “agent_path” option)", agent_path);
      return NULL;
    }
  argv = agent_argv (agent_path, error);
  if (argv == NULL)
    return NULL;
  if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
    {
      g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_STREAM,
                   "local: socketpair: %s", g_strerror (errno));
      return NULL;
    }

  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_NONE);
  g_subprocess_launcher_unsetenv (launcher, AGENT_WRAPPER_ENV);
  if (!apply_options (launcher, options, error))
    {
      close (sv[0]);
      close (sv[1]);
      return NULL;
    }
  g_subprocess_launcher_take_stdin_fd (launcher, sv[1]);
  g_subprocess_launcher_take_stdout_fd (launcher, dup (sv[1]));
  proc = g_subprocess_launcher_spawnv (launcher, (const char * const *) argv, error);
  /* The launcher owns the child's ends; drop them now, not at finalize,
   * so that our end sees EOF when the child exits. */
  g_clear_object (&launcher);
  if (proc == NULL)
    {
      close (sv[0]);
      g_prefix_error (error, "local: cannot start %s: ", agent_path);
      return NULL;
    }

  socket = g_socket_new_from_fd (sv[0], error);
  if (socket == NULL)
    {
      close (sv[0]);
      g_subprocess_force_exit (proc);
      return NULL;
    }
  connection = g_socket_connection_factory_create_connection (socket);
  /* The connection keeps the child object alive; GLib reaps it. */
  g_object_set_data_full (G_OBJECT (connection), "mitogen-subprocess",
                          g_steal_pointer (&proc), g_object_unref);
  return G_IO_STREAM (connection);
}

static const MitogenTransportOption local_options[] = {
  { "env", "a{ss}", "environment variables to set for the agent" },
  { "cwd", "s", "the agent's working directory" },
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
