/* mitogen-transport-ssh.c: start a context on another host over SSH, with
 * libssh, installing nothing there.
 *
 * Connecting, checking the host key and authenticating happen in
 * open_stream(), on the router's worker thread. One `sh` command then runs
 * an agent cached on the host under its content hash, or asks for the
 * agent's bytes, checks their hash, caches them atomically and runs them.
 * Once the agent announces itself, the session goes to the process's one
 * pump thread (mitogen-ssh-pump.c), which moves bytes between the SSH
 * channel and one end of a socketpair for all sessions; the engine gets
 * the other end, like any local stream.
 *
 * Options (a{sv}): hostname (required), port, username, identity_file (s or
 * as), password, check_host_keys ("enforce", "accept-new", "ignore"),
 * known_hosts_file, compression (b), connect_timeout (d seconds),
 * remote_agent_path (run this agent instead of uploading), remote_cache_dir,
 * static_agent (b, default true: upload the agent_path's "-static" twin,
 * GLib linked in, when there is one),
 * keepalive_interval (u seconds of silence from the host before a keepalive
 * that wants an answer; default 10, 0: none), keepalive_count_max (u
 * unanswered keepalives after which the host counts as dead and the stream
 * closes; default 3, 0: never), ssh_config_file (read instead of
 * ~/.ssh/config and /etc/ssh/ssh_config). HostName, Port, User and
 * IdentityFile from the config apply as with OpenSSH; options given here win.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>

#include <libssh/libssh.h>

#include <mitogen/mitogen.h>

#include "mitogen-agent-target.h"
#include "mitogen-first-stage.h"
#include "mitogen-ssh-pump-private.h"

#define MITOGEN_TYPE_TRANSPORT_SSH (mitogen_transport_ssh_get_type ())
G_DECLARE_FINAL_TYPE (MitogenTransportSsh, mitogen_transport_ssh,
                      MITOGEN, TRANSPORT_SSH, GObject)

struct _MitogenTransportSsh
{
  GObject parent_instance;
};

static void mitogen_transport_ssh_iface_init (MitogenTransportInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (MitogenTransportSsh, mitogen_transport_ssh, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (MITOGEN_TYPE_TRANSPORT,
                                                      mitogen_transport_ssh_iface_init))

#define MAX_STDERR  4096

typedef struct
{
  char    *hostname;
  guint    port;              /* 0: the config's, or 22 */
  char    *username;
  char   **identity_files;
  char    *password;
  char    *check_host_keys;
  char    *known_hosts_file;
  gboolean compression;
  double   timeout;
  char    *remote_agent_path;
  char    *remote_cache_dir;
  gboolean static_agent;        /* upload "<agent_path>-static" if it exists */
  guint    keepalive_interval;  /* seconds; 0: none */
  guint    keepalive_count_max; /* unanswered keepalives; 0: no limit */
  char    *ssh_config_file;
} Options;

static void
options_clear (Options *o)
{
  g_free (o->hostname);
  g_free (o->username);
  g_strfreev (o->identity_files);
  if (o->password != NULL)
    memset (o->password, 0, strlen (o->password));
  g_free (o->password);
  g_free (o->check_host_keys);
  g_free (o->known_hosts_file);
  g_free (o->remote_agent_path);
  g_free (o->remote_cache_dir);
  g_free (o->ssh_config_file);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Options, options_clear)

static gboolean
parse_options (GVariant  *options,
               Options   *o,
               GError   **error)
{
  g_autoptr(GVariant) ids = NULL;
  guint32 port = 0;
  gboolean port_given;

  o->timeout = 30;
  if (options == NULL || !g_variant_lookup (options, "hostname", "s", &o->hostname))
    {
      g_set_error_literal (error, MITOGEN_ERROR, MITOGEN_ERROR_FAILED,
                           "ssh: the “hostname” option is required");
      return FALSE;
    }
  port_given = g_variant_lookup (options, "port", "u", &port);
  if (!port_given)
    {
      gint32 iport;
      if ((port_given = g_variant_lookup (options, "port", "i", &iport)))
        port = iport;
    }
  if (port_given && (port == 0 || port > 65535))
    {
      g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_FAILED, "ssh: bad port %u", port);
      return FALSE;
    }
  o->port = port;
  g_variant_lookup (options, "username", "s", &o->username);
  g_variant_lookup (options, "password", "s", &o->password);
  if (!g_variant_lookup (options, "check_host_keys", "s", &o->check_host_keys))
    o->check_host_keys = g_strdup ("enforce");
  else if (!g_strv_contains ((const char *[]) { "enforce", "accept-new", "ignore", NULL },
                        o->check_host_keys))
    {
      g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_FAILED,
                   "ssh: check_host_keys must be enforce, accept-new or ignore, not “%s”",
                   o->check_host_keys);
      return FALSE;
    }
  g_variant_lookup (options, "known_hosts_file", "s", &o->known_hosts_file);
  g_variant_lookup (options, "compression", "b", &o->compression);
  {
    int msec;

    if (!mitogen_transport_options_get_timeout (options, 30000, &msec, error))
      return FALSE;
    o->timeout = msec / 1000.0;
  }
  g_variant_lookup (options, "remote_agent_path", "s", &o->remote_agent_path);
  g_variant_lookup (options, "remote_cache_dir", "s", &o->remote_cache_dir);
  o->static_agent = TRUE;
  g_variant_lookup (options, "static_agent", "b", &o->static_agent);
  /* A silent host is dropped after (count_max + 1) intervals: 40 s, well
   * within the minute a fleet operator expects (Python Mitogen: 60 s). */
  o->keepalive_interval = 10;
  o->keepalive_count_max = 3;
  g_variant_lookup (options, "keepalive_interval", "u", &o->keepalive_interval);
  g_variant_lookup (options, "keepalive_count_max", "u", &o->keepalive_count_max);
  g_variant_lookup (options, "ssh_config_file", "s", &o->ssh_config_file);
  ids = g_variant_lookup_value (options, "identity_file", NULL);
  if (ids != NULL && g_variant_is_of_type (ids, G_VARIANT_TYPE_STRING))
    o->identity_files = g_strdupv ((char *[]) { (char *) g_variant_get_string (ids, NULL), NULL });
  else if (ids != NULL && g_variant_is_of_type (ids, G_VARIANT_TYPE_STRING_ARRAY))
    o->identity_files = g_variant_dup_strv (ids, NULL);
  return TRUE;
}

/* "host:port" for messages; an IPv6 address in brackets, like OpenSSH's
 * known_hosts, so that the port stands apart. */
static char *
where (const Options *o)
{
  guint port = o->port != 0 ? o->port : 22;

  if (strchr (o->hostname, ':') != NULL)
    return g_strdup_printf ("[%s]:%u", o->hostname, port);
  return g_strdup_printf ("%s:%u", o->hostname, port);
}

static gboolean
check_host_key (ssh_session     session,
                const Options  *o,
                GError        **error)
{
  g_autofree char *host = where (o);
  enum ssh_known_hosts_e state;

  if (g_str_equal (o->check_host_keys, "ignore"))
    return TRUE;
  state = ssh_session_is_known_server (session);
  switch (state)
    {
    case SSH_KNOWN_HOSTS_OK:
      return TRUE;
    case SSH_KNOWN_HOSTS_CHANGED:
    case SSH_KNOWN_HOSTS_OTHER:
      g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_AUTH,
                   "ssh %s: the host key CHANGED from the one in the known hosts file: "
                   "refusing to connect (someone may be in the middle)", host);
      return FALSE;
    case SSH_KNOWN_HOSTS_NOT_FOUND:
    case SSH_KNOWN_HOSTS_UNKNOWN:
      if (g_str_equal (o->check_host_keys, "accept-new"))
        {
          if (ssh_session_update_known_hosts (session) != SSH_OK)
            {
              g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_AUTH,
                           "ssh %s: cannot record the new host key: %s", host,
                           ssh_get_error (session));
              return FALSE;
            }
          return TRUE;
        }
      g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_AUTH,
                   "ssh %s: the host key is unknown (check_host_keys=accept-new accepts "
                   "it on first use)", host);
      return FALSE;
    case SSH_KNOWN_HOSTS_ERROR:
    default:
      g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_AUTH,
                   "ssh %s: cannot check the host key: %s", host, ssh_get_error (session));
      return FALSE;
    }
}

static gboolean
auth_kbdint (ssh_session  session,
             const char  *password)
{
  int rc;

  while ((rc = ssh_userauth_kbdint (session, NULL, NULL)) == SSH_AUTH_INFO)
    {
      int n = ssh_userauth_kbdint_getnprompts (session);

      for (int i = 0; i < n; i++)
        {
          char echo = 0;
          const char *prompt = ssh_userauth_kbdint_getprompt (session, i, &echo);

          /* Answer what asks for a password; nothing else is known. */
          if (prompt == NULL || echo || ssh_userauth_kbdint_setanswer (session, i, password) < 0)
            return FALSE;
        }
    }
  return rc == SSH_AUTH_SUCCESS;
}

/* none → ssh-agent and key files (given, then the defaults) →
 * keyboard-interactive → password. */
static gboolean
authenticate (ssh_session     session,
              const Options  *o,
              GError        **error)
{
  g_autofree char *host = where (o);
  int methods;

  if (ssh_userauth_none (session, NULL) == SSH_AUTH_SUCCESS)
    return TRUE;
  methods = ssh_userauth_list (session, NULL);

  if (methods & SSH_AUTH_METHOD_PUBLICKEY)
    {
      for (guint i = 0; o->identity_files != NULL && o->identity_files[i] != NULL; i++)
        {
          ssh_key key = NULL;
          int rc;

          if (ssh_pki_import_privkey_file (o->identity_files[i], NULL, NULL, NULL, &key) != SSH_OK)
            {
              g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_AUTH,
                           "ssh %s: cannot read the key %s", host, o->identity_files[i]);
              return FALSE;
            }
          rc = ssh_userauth_publickey (session, NULL, key);
          ssh_key_free (key);
          if (rc == SSH_AUTH_SUCCESS)
            return TRUE;
        }
      if (ssh_userauth_publickey_auto (session, NULL, NULL) == SSH_AUTH_SUCCESS)
        return TRUE;
    }
  if (o->password != NULL && (methods & SSH_AUTH_METHOD_INTERACTIVE) &&
      auth_kbdint (session, o->password))
    return TRUE;
  if (o->password != NULL && (methods & SSH_AUTH_METHOD_PASSWORD) &&
      ssh_userauth_password (session, NULL, o->password) == SSH_AUTH_SUCCESS)
    return TRUE;

  if (o->password != NULL)
    g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_AUTH,
                 "ssh %s: authentication failed: the password was refused", host);
  else
    g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_AUTH,
                 "ssh %s: no authentication method worked (tried the ssh-agent and key "
                 "files; give a password or an identity_file)", host);
  return FALSE;
}

/* The one command run on the host: the agent given by remote_agent_path,
 * or the first stage every transport that changes host or user runs
 * (mitogen-first-stage.c): it checks the host can run the agent (exit 96,
 * naming both), runs a cached copy whose hash matches from a cache only
 * the user can change, or prints MITOGEN_FIRST_STAGE_NEED_UPLOAD and
 * takes the bytes on its standard input. */
static char *
bootstrap_command (const Options     *o,
                   const AgentTarget *target,
                   GBytes            *agent,
                   const char        *sha256)
{
  g_autofree char *check = NULL;
  MitogenFirstStage stage = { 0, };

  if (o->remote_agent_path != NULL)
    {
      g_autofree char *path = g_shell_quote (o->remote_agent_path);
      return g_strdup_printf ("exec %s --announce", path);
    }
  check = agent_target_check (target);
  stage.bytes = agent;
  stage.sha256 = sha256;
  stage.cache_dir = o->remote_cache_dir;
  stage.target_check = check;
  return mitogen_first_stage_script (&stage);
}

/* Reads the channel until the agent's marker, answering an upload request
 * on the way. Anything on stderr is kept for the error message. */
static gboolean
await_agent (ssh_channel    channel,
             const Options *o,
             GBytes        *agent,
             gint64         deadline,
             GCancellable  *cancellable,
             GError       **error)
{
  g_autofree char *host = where (o);
  g_autoptr(GString) out = g_string_new (NULL);
  g_autoptr(GString) err = g_string_new (NULL);
  gboolean uploaded = FALSE;
  char buf[4096];

  for (;;)
    {
      int n;

      if (g_cancellable_set_error_if_cancelled (cancellable, error))
        return FALSE;
      if (g_get_monotonic_time () > deadline)
        {
          g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_TIMEOUT,
                       "ssh %s: timed out starting the agent", host);
          return FALSE;
        }
      n = ssh_channel_read_timeout (channel, buf, sizeof buf, 1, 0);
      if (n > 0 && err->len < MAX_STDERR)
        g_string_append_len (err, buf, n);
      n = ssh_channel_read_timeout (channel, buf, 1, 0, 100);
      if (n > 0)
        g_string_append_len (out, buf, n);
      if (g_str_has_suffix (out->str, MITOGEN_AGENT_ANNOUNCE))
        return TRUE;
      if (!uploaded && g_str_has_suffix (out->str, MITOGEN_FIRST_STAGE_NEED_UPLOAD))
        {
          gsize len;
          const char *p = g_bytes_get_data (agent, &len);

          if (ssh_channel_write (channel, p, len) != (int) len)
            break;
          uploaded = TRUE;
          g_string_truncate (out, 0);
          continue;
        }
      if (n == SSH_ERROR || ssh_channel_is_eof (channel) || ssh_channel_is_closed (channel))
        break;
    }

  /* Drain what the host said on its way out. */
  for (int n; (n = ssh_channel_read_timeout (channel, buf, sizeof buf, 1, 200)) > 0 && err->len < MAX_STDERR;)
    g_string_append_len (err, buf, n);
  g_strchomp (err->str);
  g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_STREAM,
               "ssh %s: the agent did not start (exit status %d)%s%s", host,
               ssh_channel_get_exit_status (channel), err->len ? ": " : "", err->str);
  return FALSE;
}

/* The OpenSSH config first (ssh_config_file, or ~/.ssh/config and then
 * /etc/ssh/ssh_config), so that it may turn an alias into a HostName, Port,
 * User and IdentityFile; then the options given, which win over it. The
 * port in @o becomes the one that will be used, for messages. */
static gboolean
apply_config (ssh_session     session,
              Options        *o,
              GError        **error)
{
  unsigned int port = 22;

  ssh_options_set (session, SSH_OPTIONS_HOST, o->hostname);
  if (ssh_options_parse_config (session, o->ssh_config_file) < 0)
    {
      g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_FAILED, "ssh %s: cannot read the "
                   "ssh config %s: %s", o->hostname,
                   o->ssh_config_file != NULL ? o->ssh_config_file : "~/.ssh/config",
                   ssh_get_error (session));
      return FALSE;
    }
  if (o->port != 0)
    ssh_options_set (session, SSH_OPTIONS_PORT, &o->port);
  else if (ssh_options_get_port (session, &port) == SSH_OK)
    o->port = port;
  return TRUE;
}

static GIOStream *
mitogen_transport_ssh_open_stream (MitogenTransport  *transport,
                                   GVariant          *options,
                                   const char        *agent_path,
                                   GCancellable      *cancellable,
                                   GError           **error)
{
  g_auto(Options) o = { 0, };
  g_autoptr(GBytes) agent = NULL;
  g_auto(AgentTarget) target = { 0, };
  g_autofree char *upload = NULL;
  g_autofree char *sha256 = NULL;
  g_autofree char *command = NULL;
  g_autofree char *host = NULL;
  g_autoptr(GSocket) socket = NULL;
  ssh_session session = NULL;
  ssh_channel channel = NULL;
  long timeout_sec;
  gint64 deadline, started;
  int sv[2] = { -1, -1 };

  if (!parse_options (options, &o, error))
    return NULL;
  deadline = g_get_monotonic_time () + (gint64) (o.timeout * G_USEC_PER_SEC);
  if (o.remote_agent_path == NULL)
    {
      upload = agent_upload_path (agent_path, o.static_agent);
      if ((agent = mitogen_first_stage_agent_bytes (upload, &sha256, error)) == NULL)
        return NULL;
      agent_target_read (agent, &target);
    }

  session = ssh_new ();
  timeout_sec = MAX (1, (long) o.timeout);
  if (!apply_config (session, &o, error))
    goto fail;
  host = where (&o);
  ssh_options_set (session, SSH_OPTIONS_TIMEOUT, &timeout_sec);
  if (o.username != NULL)
    ssh_options_set (session, SSH_OPTIONS_USER, o.username);
  if (o.known_hosts_file != NULL)
    ssh_options_set (session, SSH_OPTIONS_KNOWNHOSTS, o.known_hosts_file);
  if (o.compression)
    ssh_options_set (session, SSH_OPTIONS_COMPRESSION, "yes");
  /* Calls are small packets the host must see at once: with Nagle's
   * algorithm a request waited for the host's delayed ACK (40 ms) while
   * replies streamed the other way, and a pull ran at 64 MB/s. OpenSSH
   * sets TCP_NODELAY on interactive sessions for the same reason. */
  {
    int nodelay = 1;

    ssh_options_set (session, SSH_OPTIONS_NODELAY, &nodelay);
  }

  started = g_get_monotonic_time ();
  if (ssh_connect (session) != SSH_OK)
    {
      /* A host that takes the connection and says nothing ran out the time
       * given, like one that never answers: a timeout, not a broken stream. */
      gboolean timed_out = g_get_monotonic_time () - started >= timeout_sec * G_USEC_PER_SEC ||
                           strstr (ssh_get_error (session), "imeout") != NULL;

      g_set_error (error, MITOGEN_ERROR, timed_out ? MITOGEN_ERROR_TIMEOUT : MITOGEN_ERROR_STREAM,
                   "ssh %s: cannot connect%s: %s", host,
                   timed_out ? " within the connect_timeout" : "", ssh_get_error (session));
      goto fail;
    }
  if (!check_host_key (session, &o, error) || !authenticate (session, &o, error))
    goto fail;

  channel = ssh_channel_new (session);
  command = bootstrap_command (&o, &target, agent, sha256);
  if (channel == NULL || ssh_channel_open_session (channel) != SSH_OK ||
      ssh_channel_request_exec (channel, command) != SSH_OK)
    {
      g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_STREAM, "ssh %s: cannot run the "
                   "bootstrap command: %s", host, ssh_get_error (session));
      goto fail;
    }
  if (!await_agent (channel, &o, agent, deadline, cancellable, error))
    goto fail;

  if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
    {
      g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_STREAM, "ssh %s: socketpair: %s",
                   host, g_strerror (errno));
      goto fail;
    }
  socket = g_socket_new_from_fd (sv[0], error);
  if (socket == NULL)
    goto fail;

  /* From here on the pump owns the session, the channel and sv[1]. */
  if (!mitogen_ssh_pump_adopt (session, channel, sv[1], host, o.keepalive_interval,
                               o.keepalive_count_max, error))
    return NULL;
  return G_IO_STREAM (g_socket_connection_factory_create_connection (socket));

fail:
  if (socket == NULL && sv[0] >= 0)
    close (sv[0]);
  if (sv[1] >= 0)
    close (sv[1]);
  if (channel != NULL)
    ssh_channel_free (channel);
  ssh_disconnect (session);
  ssh_free (session);
  return NULL;
}

/* The host at the other end has its own paths: the master's mean nothing
 * there, and a file planted at one of them must not run. */
static gboolean
mitogen_transport_ssh_crosses_host (MitogenTransport *transport)
{
  return TRUE;
}

static const MitogenTransportOption ssh_options[] = {
  { "hostname", "s", "the host to connect to (required)" },
  { "port", "u|i", "the SSH port (default 22)" },
  { "username", "s", "the user to log in as" },
  { "identity_file", "s|as", "private key files to try" },
  { "password", "s", "the password, if the host asks for one" },
  { "check_host_keys", "s", "enforce (default), accept-new or ignore" },
  { "known_hosts_file", "s", "the known_hosts file to check and update" },
  { "compression", "b", "compress the connection" },
  { "remote_agent_path", "s", "run this agent on the host instead of uploading one" },
  { "remote_cache_dir", "s", "where the uploaded agent is cached on the host" },
  { "static_agent", "b", "upload the self-contained agent (GLib linked in) when built (default true)" },
  { "keepalive_interval", "u", "seconds of silence before a keepalive that wants an answer (default 10; 0: none)" },
  { "keepalive_count_max", "u", "unanswered keepalives before the host is taken for dead (default 3; 0: never)" },
  { "ssh_config_file", "s", "the ssh config file to read instead of ~/.ssh/config" },
  { NULL }
};

static const MitogenTransportOption *
mitogen_transport_ssh_get_options (MitogenTransport *transport)
{
  return ssh_options;
}

static void
mitogen_transport_ssh_iface_init (MitogenTransportInterface *iface)
{
  iface->open_stream = mitogen_transport_ssh_open_stream;
  iface->crosses_host = mitogen_transport_ssh_crosses_host;
  iface->get_options = mitogen_transport_ssh_get_options;
}

static void
mitogen_transport_ssh_class_init (MitogenTransportSshClass *klass)
{
}

static void
mitogen_transport_ssh_init (MitogenTransportSsh *self)
{
}

static void
register_types (void)
{
  ssh_init ();
  mitogen_register_transport (MITOGEN_TYPE_TRANSPORT_SSH, "ssh", 0);
}

MITOGEN_DEFINE_PLUGIN (register_types)
