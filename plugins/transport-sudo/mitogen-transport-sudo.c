/* mitogen-transport-sudo.c: the sudo, su and doas transports: start a
 * context as another user on the machine this context runs on.
 *
 * Each runs the shared first stage through the program (as the new user,
 * /bin/sh -c; plugins/common/mitogen-first-stage.c): the agent itself when
 * that user can run it, else a copy cached where that user owns the cache,
 * sent over the stream when needed. The conversation (prompt, password,
 * refusals, the upload, timeout) is mitogen-become.c's.
 *
 * sudo options: "username" (s, default root), "password" (s), "login" (b,
 * -i), "preserve_env" (b, -E), "set_home" (b, -H), "sudo_path" (s),
 * "selinux_role" (s, -r), "selinux_type" (s, -t), "sudo_args" (as, more
 * options for sudo; those that would break the bootstrap are refused).
 *
 * su options: "username", "password", "su_path", "password_prompts" (as,
 * prompts besides the usual "Password:" in any language),
 * "incorrect_prompts" (as, lines meaning the password was wrong).
 *
 * doas options: "username", "password", "doas_path".
 *
 * All three: "connect_timeout" (seconds, default 30) bounds the whole
 * exchange.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <string.h>

#include <mitogen/mitogen.h>

#include "mitogen-become.h"

/* Recognised on the terminal; nothing else prints it. No % in it, which
 * sudo would expand. */
#define SUDO_PROMPT "[mitogen-sudo-password]"

/* ---- sudo ----------------------------------------------------------- */

#define MITOGEN_TYPE_TRANSPORT_SUDO (mitogen_transport_sudo_get_type ())
G_DECLARE_FINAL_TYPE (MitogenTransportSudo, mitogen_transport_sudo,
                      MITOGEN, TRANSPORT_SUDO, GObject)

struct _MitogenTransportSudo
{
  GObject parent_instance;
};

static void mitogen_transport_sudo_iface_init (MitogenTransportInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (MitogenTransportSudo, mitogen_transport_sudo, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (MITOGEN_TYPE_TRANSPORT,
                                                      mitogen_transport_sudo_iface_init))

/* sudo options that sudo_args may carry. Everything else is refused:
 * those below with a reason, unknown ones because we cannot tell what
 * they would do to the bootstrap. */
static const char sudo_short_flags[] = "BEHNPikns";
static const char sudo_short_with_value[] = "CDRTgrt";

static const char * const sudo_long_flags[] = {
  "--bell", "--preserve-env", "--set-home", "--no-update", "--preserve-groups",
  "--login", "--reset-timestamp", "--non-interactive", "--shell", NULL,
};
static const char * const sudo_long_with_value[] = {
  "--close-from", "--chdir", "--chroot", "--command-timeout", "--group",
  "--role", "--type", NULL,
};

static const struct
{
  const char *option;   /* "-S" or "--stdin" */
  const char *why;
} sudo_refused[] = {
  { "-b", "runs the command in the background, away from its stream" },
  { "--background", "runs the command in the background, away from its stream" },
  { "-S", "reads the password from standard input, which is the agent's stream" },
  { "--stdin", "reads the password from standard input, which is the agent's stream" },
  { "-A", "asks for the password through a helper instead of the prompt" },
  { "--askpass", "asks for the password through a helper instead of the prompt" },
  { "-p", "replaces the prompt this transport recognises" },
  { "--prompt", "replaces the prompt this transport recognises" },
  { "-u", "chooses the user; use the “username” option" },
  { "--user", "chooses the user; use the “username” option" },
  { "-e", "edits files instead of running a command" },
  { "--edit", "edits files instead of running a command" },
  { "-l", "lists privileges instead of running a command" },
  { "--list", "lists privileges instead of running a command" },
  { "-U", "lists privileges instead of running a command" },
  { "--other-user", "lists privileges instead of running a command" },
  { "-v", "validates credentials instead of running a command" },
  { "--validate", "validates credentials instead of running a command" },
  { "-K", "removes credentials instead of running a command" },
  { "--remove-timestamp", "removes credentials instead of running a command" },
  { "-V", "prints the version instead of running a command" },
  { "--version", "prints the version instead of running a command" },
  { "-h", "prints help or names a remote host instead of running a command here" },
  { "--help", "prints help instead of running a command" },
  { "--host", "names a remote host instead of running a command here" },
};

static gboolean
refuse_sudo_arg (const char  *option,
                 const char  *arg,
                 GError     **error)
{
  for (gsize i = 0; i < G_N_ELEMENTS (sudo_refused); i++)
    if (g_str_equal (sudo_refused[i].option, option))
      {
        g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_FAILED,
                     "sudo: “%s” in sudo_args cannot be used: it %s",
                     arg, sudo_refused[i].why);
        return FALSE;
      }
  g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_FAILED,
               "sudo: “%s” in sudo_args is not a sudo option this transport knows "
               "to be safe for starting the agent", arg);
  return FALSE;
}

/* Checks sudo_args: options only, each one known not to change how the
 * agent is started or talked to. */
static gboolean
check_sudo_args (const char * const  *args,
                 GError             **error)
{
  for (guint i = 0; args != NULL && args[i] != NULL; i++)
    {
      const char *arg = args[i];

      if (g_str_equal (arg, "--"))
        {
          g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_FAILED,
                       "sudo: “--” in sudo_args cannot be used: the agent is the command");
          return FALSE;
        }
      if (g_str_has_prefix (arg, "--"))
        {
          g_autofree char *name = g_strndup (arg, strcspn (arg, "="));
          gboolean has_value = strchr (arg, '=') != NULL;

          if (g_strv_contains (sudo_long_flags, name))
            {
              /* Only --preserve-env takes an optional list. */
              if (has_value && !g_str_equal (name, "--preserve-env"))
                return refuse_sudo_arg (name, arg, error);
              continue;
            }
          if (g_strv_contains (sudo_long_with_value, name))
            {
              if (!has_value)
                {
                  if (args[i + 1] == NULL)
                    {
                      g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_FAILED,
                                   "sudo: “%s” in sudo_args needs a value", arg);
                      return FALSE;
                    }
                  i++;
                }
              continue;
            }
          return refuse_sudo_arg (name, arg, error);
        }
      if (arg[0] != '-' || arg[1] == '\0')
        {
          g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_FAILED,
                       "sudo: “%s” in sudo_args is not an option: the agent is the command",
                       arg);
          return FALSE;
        }
      /* A cluster of short options: "-EH", "-gwheel", "-g wheel". */
      for (const char *c = arg + 1; *c != '\0'; c++)
        {
          char option[3] = { '-', *c, '\0' };

          if (strchr (sudo_short_flags, *c) != NULL)
            continue;
          if (strchr (sudo_short_with_value, *c) != NULL)
            {
              if (c[1] == '\0')
                {
                  if (args[i + 1] == NULL)
                    {
                      g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_FAILED,
                                   "sudo: “%s” in sudo_args needs a value", option);
                      return FALSE;
                    }
                  i++;
                }
              break;
            }
          return refuse_sudo_arg (option, option, error);
        }
    }
  return TRUE;
}

/* The command after "--": the first stage, run by /bin/sh as the new
 * user (@agent's script; see mitogen-first-stage.c). */
static void
add_first_stage (GPtrArray          *argv,
                 MitogenBecomeAgent *agent)
{
  g_ptr_array_add (argv, "/bin/sh");
  g_ptr_array_add (argv, "-c");
  g_ptr_array_add (argv, agent->script);
}

static GIOStream *
mitogen_transport_sudo_open_stream (MitogenTransport  *transport,
                                    GVariant          *options,
                                    const char        *agent_path,
                                    GCancellable      *cancellable,
                                    GError           **error)
{
  static const char * const prompts[] = { SUDO_PROMPT, NULL };
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autofree const char **sudo_args = NULL;
  const char *username = "root";
  const char *password = NULL;
  const char *sudo_path = "sudo";
  const char *role = NULL;
  const char *type = NULL;
  gboolean login = FALSE, preserve_env = FALSE, set_home = FALSE;
  MitogenBecomeSpec spec = { 0, };
  g_auto(MitogenBecomeAgent) agent = { { 0, }, };

  if (!_mitogen_become_option_string (options, "sudo", "username", &username, error) ||
      !_mitogen_become_option_string (options, "sudo", "password", &password, error) ||
      !_mitogen_become_option_string (options, "sudo", "sudo_path", &sudo_path, error) ||
      !_mitogen_become_option_string (options, "sudo", "selinux_role", &role, error) ||
      !_mitogen_become_option_string (options, "sudo", "selinux_type", &type, error) ||
      !_mitogen_become_option_bool (options, "sudo", "login", &login, error) ||
      !_mitogen_become_option_bool (options, "sudo", "preserve_env", &preserve_env, error) ||
      !_mitogen_become_option_bool (options, "sudo", "set_home", &set_home, error) ||
      !_mitogen_become_option_strv (options, "sudo", "sudo_args", &sudo_args, error) ||
      !_mitogen_become_option_timeout (options, "sudo", &spec.timeout_msec, error))
    return NULL;
  if (!_mitogen_become_check_username ("sudo", username, error) ||
      !check_sudo_args (sudo_args, error) ||
      !_mitogen_become_agent_prepare ("sudo", agent_path, TRUE, &agent, error))
    return NULL;

  g_ptr_array_add (argv, (char *) sudo_path);
  g_ptr_array_add (argv, "-u");
  g_ptr_array_add (argv, (char *) username);
  if (login)
    g_ptr_array_add (argv, "-i");
  if (preserve_env)
    g_ptr_array_add (argv, "-E");
  if (set_home)
    g_ptr_array_add (argv, "-H");
  if (role != NULL)
    {
      g_ptr_array_add (argv, "-r");
      g_ptr_array_add (argv, (char *) role);
    }
  if (type != NULL)
    {
      g_ptr_array_add (argv, "-t");
      g_ptr_array_add (argv, (char *) type);
    }
  /* Without a password, say so to sudo: it then fails at once with "a
   * password is required" rather than looking for a terminal. */
  if (password == NULL)
    g_ptr_array_add (argv, "-n");
  for (guint i = 0; sudo_args != NULL && sudo_args[i] != NULL; i++)
    g_ptr_array_add (argv, (char *) sudo_args[i]);
  g_ptr_array_add (argv, "-p");
  g_ptr_array_add (argv, SUDO_PROMPT);
  g_ptr_array_add (argv, "--");
  add_first_stage (argv, &agent);
  g_ptr_array_add (argv, NULL);

  spec.program = "sudo";
  spec.first_stage = &agent.stage;
  spec.argv = (const char * const *) argv->pdata;
  spec.password = password;
  spec.rules.program = "sudo";
  spec.rules.prompts = prompts;
  return _mitogen_become_spawn (&spec, cancellable, error);
}

static const MitogenTransportOption sudo_options[] = {
  { "username", "s", "the user to become (default root)" },
  { "password", "s", "answers sudo's password prompt" },
  { "login", "b", "run a login shell (-i)" },
  { "preserve_env", "b", "keep the environment (-E)" },
  { "set_home", "b", "set HOME to the target user's (-H)" },
  { "sudo_path", "s", "the sudo program (default sudo)" },
  { "selinux_role", "s", "SELinux role (-r)" },
  { "selinux_type", "s", "SELinux type (-t)" },
  { "sudo_args", "as", "more options for sudo; those that break the bootstrap are refused" },
  { NULL }
};

static const MitogenTransportOption *
mitogen_transport_sudo_get_options (MitogenTransport *transport)
{
  return sudo_options;
}

static void
mitogen_transport_sudo_iface_init (MitogenTransportInterface *iface)
{
  iface->open_stream = mitogen_transport_sudo_open_stream;
  iface->get_options = mitogen_transport_sudo_get_options;
}

static void
mitogen_transport_sudo_class_init (MitogenTransportSudoClass *klass)
{
}

static void
mitogen_transport_sudo_init (MitogenTransportSudo *self)
{
}

/* ---- su ------------------------------------------------------------- */

#define MITOGEN_TYPE_TRANSPORT_SU (mitogen_transport_su_get_type ())
G_DECLARE_FINAL_TYPE (MitogenTransportSu, mitogen_transport_su,
                      MITOGEN, TRANSPORT_SU, GObject)

struct _MitogenTransportSu
{
  GObject parent_instance;
};

static void mitogen_transport_su_iface_init (MitogenTransportInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (MitogenTransportSu, mitogen_transport_su, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (MITOGEN_TYPE_TRANSPORT,
                                                      mitogen_transport_su_iface_init))

static GIOStream *
mitogen_transport_su_open_stream (MitogenTransport  *transport,
                                  GVariant          *options,
                                  const char        *agent_path,
                                  GCancellable      *cancellable,
                                  GError           **error)
{
  g_autofree const char **password_prompts = NULL;
  g_autofree const char **incorrect_prompts = NULL;
  g_autofree char *quoted_script = NULL;
  g_autofree char *command = NULL;
  const char *username = "root";
  const char *password = NULL;
  const char *su_path = "su";
  const char *argv[5];
  MitogenBecomeSpec spec = { 0, };
  g_auto(MitogenBecomeAgent) agent = { { 0, }, };

  if (!_mitogen_become_option_string (options, "su", "username", &username, error) ||
      !_mitogen_become_option_string (options, "su", "password", &password, error) ||
      !_mitogen_become_option_string (options, "su", "su_path", &su_path, error) ||
      !_mitogen_become_option_strv (options, "su", "password_prompts", &password_prompts, error) ||
      !_mitogen_become_option_strv (options, "su", "incorrect_prompts", &incorrect_prompts, error) ||
      !_mitogen_become_option_timeout (options, "su", &spec.timeout_msec, error))
    return NULL;
  if (!_mitogen_become_check_username ("su", username, error) ||
      !_mitogen_become_agent_prepare ("su", agent_path, TRUE, &agent, error))
    return NULL;

  /* su runs a command through the user's shell. su reads the password
   * from its standard input, which is then the terminal, so the first
   * stage and the agent take their input from their output, the socket. */
  quoted_script = g_shell_quote (agent.script);
  command = g_strdup_printf ("exec /bin/sh -c %s 0<&1", quoted_script);
  argv[0] = su_path;
  argv[1] = username;
  argv[2] = "-c";
  argv[3] = command;
  argv[4] = NULL;

  spec.program = "su";
  spec.first_stage = &agent.stage;
  spec.argv = argv;
  spec.password = password;
  spec.pty_stdin = TRUE;
  spec.rules.program = "su";
  spec.rules.prompts = password_prompts;
  spec.rules.incorrect = incorrect_prompts;
  return _mitogen_become_spawn (&spec, cancellable, error);
}

static const MitogenTransportOption su_options[] = {
  { "username", "s", "the user to become (default root)" },
  { "password", "s", "answers su's password prompt" },
  { "su_path", "s", "the su program (default su)" },
  { "password_prompts", "as", "more lines that ask for the password" },
  { "incorrect_prompts", "as", "lines meaning the password was wrong" },
  { NULL }
};

static const MitogenTransportOption *
mitogen_transport_su_get_options (MitogenTransport *transport)
{
  return su_options;
}

static void
mitogen_transport_su_iface_init (MitogenTransportInterface *iface)
{
  iface->open_stream = mitogen_transport_su_open_stream;
  iface->get_options = mitogen_transport_su_get_options;
}

static void
mitogen_transport_su_class_init (MitogenTransportSuClass *klass)
{
}

static void
mitogen_transport_su_init (MitogenTransportSu *self)
{
}

/* ---- doas ----------------------------------------------------------- */

#define MITOGEN_TYPE_TRANSPORT_DOAS (mitogen_transport_doas_get_type ())
G_DECLARE_FINAL_TYPE (MitogenTransportDoas, mitogen_transport_doas,
                      MITOGEN, TRANSPORT_DOAS, GObject)

struct _MitogenTransportDoas
{
  GObject parent_instance;
};

static void mitogen_transport_doas_iface_init (MitogenTransportInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (MitogenTransportDoas, mitogen_transport_doas, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (MITOGEN_TYPE_TRANSPORT,
                                                      mitogen_transport_doas_iface_init))

static GIOStream *
mitogen_transport_doas_open_stream (MitogenTransport  *transport,
                                    GVariant          *options,
                                    const char        *agent_path,
                                    GCancellable      *cancellable,
                                    GError           **error)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  const char *username = "root";
  const char *password = NULL;
  const char *doas_path = "doas";
  MitogenBecomeSpec spec = { 0, };
  g_auto(MitogenBecomeAgent) agent = { { 0, }, };

  if (!_mitogen_become_option_string (options, "doas", "username", &username, error) ||
      !_mitogen_become_option_string (options, "doas", "password", &password, error) ||
      !_mitogen_become_option_string (options, "doas", "doas_path", &doas_path, error) ||
      !_mitogen_become_option_timeout (options, "doas", &spec.timeout_msec, error))
    return NULL;
  if (!_mitogen_become_check_username ("doas", username, error) ||
      !_mitogen_become_agent_prepare ("doas", agent_path, TRUE, &agent, error))
    return NULL;

  g_ptr_array_add (argv, (char *) doas_path);
  /* As with sudo: fail at once rather than look for a terminal. */
  if (password == NULL)
    g_ptr_array_add (argv, "-n");
  g_ptr_array_add (argv, "-u");
  g_ptr_array_add (argv, (char *) username);
  g_ptr_array_add (argv, "--");
  add_first_stage (argv, &agent);
  g_ptr_array_add (argv, NULL);

  spec.program = "doas";
  spec.first_stage = &agent.stage;
  spec.argv = (const char * const *) argv->pdata;
  spec.password = password;
  spec.rules.program = "doas";
  return _mitogen_become_spawn (&spec, cancellable, error);
}

static const MitogenTransportOption doas_options[] = {
  { "username", "s", "the user to become (default root)" },
  { "password", "s", "answers doas's password prompt" },
  { "doas_path", "s", "the doas program (default doas)" },
  { NULL }
};

static const MitogenTransportOption *
mitogen_transport_doas_get_options (MitogenTransport *transport)
{
  return doas_options;
}

static void
mitogen_transport_doas_iface_init (MitogenTransportInterface *iface)
{
  iface->open_stream = mitogen_transport_doas_open_stream;
  iface->get_options = mitogen_transport_doas_get_options;
}

static void
mitogen_transport_doas_class_init (MitogenTransportDoasClass *klass)
{
}

static void
mitogen_transport_doas_init (MitogenTransportDoas *self)
{
}

/* ---- the plugin ----------------------------------------------------- */

static void
register_types (void)
{
  mitogen_register_transport (MITOGEN_TYPE_TRANSPORT_SUDO, "sudo", 0);
  mitogen_register_transport (MITOGEN_TYPE_TRANSPORT_SU, "su", 0);
  mitogen_register_transport (MITOGEN_TYPE_TRANSPORT_DOAS, "doas", 0);
}

MITOGEN_DEFINE_PLUGIN (register_types)
