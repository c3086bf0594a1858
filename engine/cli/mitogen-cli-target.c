/* mitogen-cli-target.c: the `mitogen` tool's targets, hop by hop.
 *
 * A target is hops joined with '/'; a hop is TRANSPORT[:ARG] followed by
 * its own options, ",KEY=VALUE" each: "ssh:web1,port=2222/sudo:postgres".
 * A value holding '/' or ',' is quoted as GVariant text is:
 * "sudo:pg,sudo_path='/opt/bin/sudo'". -o KEY=VALUE goes to every hop
 * whose transport declares KEY; a hop's own value wins over it.
 *
 * Secrets go to one hop only. A password given with -o that two hops
 * declare is refused; --ask-pass and --password-file answer the hops
 * that log in to another host (ssh), --ask-become-pass and
 * --become-password-file the hops that change user (sudo, su, doas), and
 * ",password_file=PATH" one hop.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <string.h>

#include <mitogen/mitogen.h>

#include "mitogen-cli-password.h"
#include "mitogen-cli-target.h"

GVariant *
cli_parse_value (const char *text)
{
  GVariant *v;

  /* Text that is not UTF-8 is no string: it goes as the bytes it is. */
  if (!g_utf8_validate (text, -1, NULL))
    return g_variant_ref_sink (g_variant_new_bytestring (text));
  v = g_variant_parse (NULL, text, NULL, NULL, NULL);
  return v != NULL ? v : g_variant_ref_sink (g_variant_new_string (text));
}

/* Targets and options are names and paths a person typed: UTF-8. */
static gboolean
check_utf8 (const char  *what,
            const char  *text,
            GError     **error)
{
  if (g_utf8_validate (text, -1, NULL))
    return TRUE;
  g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
               "%s is not valid UTF-8", what);
  return FALSE;
}

/* The type @table gives @key ("u|i" for several), or NULL. */
static const char *
option_type (GHashTable *table,
             const char *key)
{
  return table != NULL ? g_hash_table_lookup (table, key) : NULL;
}

/* A transport's options, a(sss) (name, type, description), as a table
 * of name → type: looked up for every option of every hop. */
static GHashTable *
option_table (MitogenTransport *transport)
{
  g_autoptr(GVariant) list = mitogen_transport_list_options (transport);
  GHashTable *table;
  GVariantIter iter;
  const char *name, *type;

  if (list == NULL)
    return NULL;
  table = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  g_variant_iter_init (&iter, list);
  while (g_variant_iter_next (&iter, "(&s&s&s)", &name, &type, NULL))
    g_hash_table_insert (table, g_strdup (name), g_strdup (type));
  return table;
}

/* @text as a value of @type, or NULL: "2222" for 'u', "yes" for 'b'. */
static GVariant *
parse_as (const char *text,
          const char *type)
{
  if (!g_variant_type_string_is_valid (type))
    return NULL;
  if (g_str_equal (type, "s"))
    {
      /* Quoted text is GVariant's string syntax: '/opt/bin/sudo'. */
      GVariant *quoted = g_variant_parse (G_VARIANT_TYPE_STRING, text, NULL, NULL, NULL);

      return quoted != NULL ? quoted : g_variant_ref_sink (g_variant_new_string (text));
    }
  if (g_str_equal (type, "b") && (g_ascii_strcasecmp (text, "yes") == 0 ||
                                  g_ascii_strcasecmp (text, "no") == 0))
    return g_variant_ref_sink (g_variant_new_boolean (g_ascii_strcasecmp (text, "yes") == 0));
  return g_variant_parse (G_VARIANT_TYPE (type), text, NULL, NULL, NULL);
}

/* Text to a value the transport accepts: GVariant text of one of @types
 * (a `|`-separated list, or NULL when the transport declares none), else
 * the text read as each type in turn, else what cli_parse_value() makes
 * of it, for the engine to refuse with a message naming the option. */
static GVariant *
parse_typed_value (const char *text,
                   const char *types)
{
  g_autoptr(GVariant) v = cli_parse_value (text);
  g_auto(GStrv) accepted = NULL;

  if (types == NULL)
    return g_steal_pointer (&v);
  accepted = g_strsplit (types, "|", -1);
  for (guint i = 0; accepted[i] != NULL; i++)
    if (g_variant_type_string_is_valid (accepted[i]) &&
        g_variant_is_of_type (v, G_VARIANT_TYPE (accepted[i])))
      return g_steal_pointer (&v);
  for (guint i = 0; accepted[i] != NULL; i++)
    {
      GVariant *typed = parse_as (text, accepted[i]);

      if (typed != NULL)
        return typed;
    }
  return g_steal_pointer (&v);
}

/* Splits @text at each @sep that is outside quotes and brackets. */
static GStrv
split_top_level (const char *text,
                 char        sep)
{
  g_autoptr(GStrvBuilder) parts = g_strv_builder_new ();
  const char *start = text;
  char quote = 0;
  int depth = 0;

  for (const char *p = text; ; p++)
    {
      if (*p == '\0' || (*p == sep && quote == 0 && depth == 0))
        {
          g_autofree char *part = g_strndup (start, p - start);

          g_strv_builder_add (parts, part);
          if (*p == '\0')
            break;
          start = p + 1;
        }
      else if (quote != 0 && *p == '\\' && p[1] != '\0')
        p++;
      else if (quote != 0 && *p == quote)
        quote = 0;
      else if (quote == 0 && (*p == '\'' || *p == '"'))
        quote = *p;
      else if (quote == 0 && strchr ("[({<", *p) != NULL)
        depth++;
      else if (quote == 0 && strchr ("])}>", *p) != NULL && depth > 0)
        depth--;
    }
  return g_strv_builder_end (parts);
}

static gboolean
parse_ssh_port (GVariantDict  *dict,
                const char    *text,
                const char    *arg,
                GError       **error)
{
  char *end = NULL;
  guint64 port = g_ascii_strtoull (text, &end, 10);

  if (end == text || *end != '\0' || port == 0 || port > 65535)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "bad port “%s” in ssh target “%s”", text, arg);
      return FALSE;
    }
  g_variant_dict_insert (dict, "port", "u", (guint32) port);
  return TRUE;
}

/* "[user@]host[:port]" → username, hostname, port. An IPv6 address takes
 * brackets to carry a port ("[::1]:2222"); without them, a host with more
 * than one ':' is an address with no port ("root@::1"). */
static gboolean
parse_ssh_arg (GVariantDict  *dict,
               const char    *arg,
               GError       **error)
{
  g_autofree char *copy = g_strdup (arg);
  char *host = copy;
  char *at = strrchr (copy, '@');
  char *colon;

  if (at != NULL)
    {
      *at = '\0';
      if (*copy == '\0')
        {
          g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                       "empty user name in ssh target “%s”", arg);
          return FALSE;
        }
      g_variant_dict_insert (dict, "username", "s", copy);
      host = at + 1;
    }
  if (*host == '[')
    {
      char *close = strchr (host, ']');

      if (close == NULL || (close[1] != '\0' && close[1] != ':'))
        {
          g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                       "bad ssh target “%s”: expected [ADDRESS] or [ADDRESS]:PORT", arg);
          return FALSE;
        }
      *close = '\0';
      host++;
      if (close[1] == ':' && !parse_ssh_port (dict, close + 2, arg, error))
        return FALSE;
    }
  else if ((colon = strchr (host, ':')) != NULL && strchr (colon + 1, ':') == NULL)
    {
      *colon = '\0';
      if (!parse_ssh_port (dict, colon + 1, arg, error))
        return FALSE;
    }
  if (*host == '\0')
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "no host in ssh target “%s”", arg);
      return FALSE;
    }
  g_variant_dict_insert (dict, "hostname", "s", host);
  return TRUE;
}

static void
hop_clear (gpointer data)
{
  CliHop *hop = data;

  g_free (hop->transport);
  g_free (hop->text);
  g_clear_pointer (&hop->options, g_variant_unref);
}

/* With -v, what a hop resolved to (so that a target's parsing can be
 * seen), with its secrets left out. */
static void
debug_hop (guint         index,
           const CliHop *hop)
{
  g_autoptr(GString) text = g_string_new (NULL);
  GVariantIter iter;
  const char *key;
  GVariant *value;

  g_variant_iter_init (&iter, hop->options);
  while (g_variant_iter_next (&iter, "{&sv}", &key, &value))
    {
      g_autofree char *printed = mitogen_transport_option_is_secret (key)
                                 ? g_strdup ("(hidden)") : g_variant_print (value, FALSE);

      g_string_append_printf (text, " %s=%s", key, printed);
      g_variant_unref (value);
    }
  g_debug ("hop %u: %s%s", index + 1, hop->transport, text->str);
}

/* What is known of each hop's transport, looked up once. */
typedef struct
{
  char             *text;       /* the hop as written */
  char             *name;       /* its transport's name */
  MitogenTransport *transport;  /* owned, nullable: not (yet) available */
  GHashTable       *table;      /* owned, nullable (declares no options):
                                 * option name → type */
} HopPlan;

static void
hop_plan_clear (gpointer data)
{
  HopPlan *plan = data;

  g_free (plan->text);
  g_free (plan->name);
  g_clear_object (&plan->transport);
  g_clear_pointer (&plan->table, g_hash_table_unref);
}

/* Whether a hop's transport takes @key: it declares it, or declares
 * nothing and so takes anything. */
static gboolean
takes_option (const HopPlan *plan,
              const char    *key)
{
  return plan->table == NULL || option_type (plan->table, key) != NULL;
}

/* The hops that take @key, by name, or NULL when there is only one. */
static char *
secret_takers (GArray     *plans,
               const char *key)
{
  g_autoptr(GPtrArray) names = g_ptr_array_new ();

  for (guint i = 0; i < plans->len; i++)
    {
      HopPlan *plan = &g_array_index (plans, HopPlan, i);

      if (plan->table != NULL && takes_option (plan, key))
        g_ptr_array_add (names, plan->text);
    }
  if (names->len < 2)
    return NULL;
  g_ptr_array_add (names, NULL);
  return g_strjoinv (", ", (char **) names->pdata);
}

/* The -o options that go to the hop of @plan. */
static gboolean
add_global_options (GVariantDict             *dict,
                    GArray                   *plans,
                    const HopPlan            *plan,
                    const CliTargetSettings  *settings,
                    GError                  **error)
{
  for (guint j = 0; settings->options != NULL && settings->options[j] != NULL; j++)
    {
      const char *option = settings->options[j];
      const char *eq = strchr (option, '=');
      g_autofree char *key = NULL;
      g_autofree char *takers = NULL;
      g_autoptr(GVariant) value = NULL;
      gboolean someone_takes = FALSE;

      if (eq == NULL || eq == option)
        {
          g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                       "bad option “%s”: expected KEY=VALUE", option);
          return FALSE;
        }
      key = g_strndup (option, eq - option);
      if (mitogen_transport_option_is_secret (key) && (takers = secret_takers (plans, key)) != NULL)
        {
          g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                       "-o %s would go to more than one hop (%s): give each hop its own, "
                       "with --ask-pass, --ask-become-pass, their file options, or "
                       "HOP,password_file=FILE", key, takers);
          return FALSE;
        }
      for (guint i = 0; i < plans->len; i++)
        someone_takes |= takes_option (&g_array_index (plans, HopPlan, i), key);
      /* A key no hop declares goes to all, for the engine to refuse with
       * a message naming the transport. */
      if (!takes_option (plan, key) && someone_takes)
        continue;
      value = parse_typed_value (eq + 1, option_type (plan->table, key));
      /* The dict takes a reference of its own: ours goes with the loop. */
      g_variant_dict_insert_value (dict, key, value);
    }
  return TRUE;
}

/* The option that ARG sets in "TRANSPORT:ARG"; "name" for the others
 * (local:NAME), and ssh's [USER@]HOST[:PORT] is parsed apart. */
static const struct
{
  const char *transport;
  const char *option;
  const char *type;
} argument_options[] = {
  { "sudo", "username", "s" }, { "su", "username", "s" }, { "doas", "username", "s" },
  { "docker", "container", "s" }, { "podman", "container", "s" },
  { "buildah", "container", "s" }, { "lxc", "container", "s" }, { "lxd", "container", "s" },
  { "kubectl", "pod", "s" }, { "chroot", "path", "s" }, { "setns", "pid", "u" },
};

/* "TRANSPORT[:ARG]": the arguments the transport takes in that short form. */
static gboolean
add_hop_argument (GVariantDict  *dict,
                  const char    *transport,
                  const char    *arg,
                  GError       **error)
{
  if (arg == NULL)
    return TRUE;
  if (*arg == '\0')
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "bad target “%s:”: empty argument after ':' (quote one that holds '/': "
                   "chroot:'/srv/root')", transport);
      return FALSE;
    }
  if (g_str_equal (transport, "ssh"))
    return parse_ssh_arg (dict, arg, error);
  for (guint i = 0; i < G_N_ELEMENTS (argument_options); i++)
    if (g_str_equal (transport, argument_options[i].transport))
      {
        g_autoptr(GVariant) value = parse_typed_value (arg, argument_options[i].type);

        g_variant_dict_insert_value (dict, argument_options[i].option, value);
        return TRUE;
      }
  g_variant_dict_insert (dict, "name", "s", arg);
  return TRUE;
}

/* Puts @password in @dict as the hop's "password", then clears it. */
static void
insert_password (GVariantDict *dict,
                 char         *password)
{
  g_variant_dict_insert (dict, "password", "s", password);
  cli_password_free (password);
}

/* ",KEY=VALUE" after a hop's first field: the hop's own options. */
static gboolean
add_hop_options (GVariantDict   *dict,
                 const HopPlan  *plan,
                 char          **fields,
                 GError        **error)
{
  for (guint f = 1; fields[f] != NULL; f++)
    {
      const char *eq = strchr (fields[f], '=');
      g_autofree char *key = NULL;
      g_autoptr(GVariant) value = NULL;

      if (eq == NULL || eq == fields[f])
        {
          g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                       "bad option “%s” in hop “%s”: expected KEY=VALUE "
                       "(quote a value that holds ',' or '/')", fields[f], plan->text);
          return FALSE;
        }
      key = g_strndup (fields[f], eq - fields[f]);
      value = parse_typed_value (eq + 1, option_type (plan->table, key));
      if (g_str_equal (key, "password_file"))
        {
          const char *path = g_variant_is_of_type (value, G_VARIANT_TYPE_STRING)
                             ? g_variant_get_string (value, NULL) : eq + 1;
          char *password = cli_password_read_file (path, error);

          if (password == NULL)
            return FALSE;
          insert_password (dict, password);
          continue;
        }
      g_variant_dict_insert_value (dict, key, value);
    }
  return TRUE;
}

/* The password of a hop that takes one and was given none, from the
 * source its role has: a login hop (to another host) or a become hop. */
static gboolean
add_role_password (GVariantDict             *dict,
                   const HopPlan            *plan,
                   guint                     index,
                   const CliTargetSettings  *settings,
                   gboolean                 *used_login,
                   gboolean                 *used_become,
                   GError                  **error)
{
  gboolean login = plan->transport != NULL && mitogen_transport_crosses_host (plan->transport);
  gboolean ask = login ? settings->ask_pass : settings->ask_become_pass;
  const char *file = login ? settings->password_file : settings->become_password_file;
  g_autofree char *prompt = NULL;
  char *password;

  if (plan->table == NULL || option_type (plan->table, "password") == NULL)
    return TRUE;
  *(login ? used_login : used_become) = TRUE;
  if (g_variant_dict_contains (dict, "password") || (!ask && file == NULL))
    return TRUE;
  if (file != NULL)
    password = cli_password_read_file (file, error);
  else
    {
      prompt = g_strdup_printf ("%s password for hop %u (%s): ", plan->name, index + 1, plan->text);
      password = cli_password_ask (prompt, error);
    }
  if (password == NULL)
    return FALSE;
  insert_password (dict, password);
  return TRUE;
}

/* Whether @name is a transport's name: [a-z][a-z0-9_-]*. */
static gboolean
is_transport_name (const char *name)
{
  if (!g_ascii_islower (name[0]))
    return FALSE;
  for (const char *p = name + 1; *p != '\0'; p++)
    if (!g_ascii_islower (*p) && !g_ascii_isdigit (*p) && *p != '_' && *p != '-')
      return FALSE;
  return TRUE;
}

/* No real chain comes near this; every hop's options are checked against
 * every other hop's, so a thousand would cost a million checks. */
#define MAX_HOPS 64

/* Each hop's text and transport; checks the names. */
static GArray *
plan_hops (const char  *target,
           GError     **error)
{
  g_auto(GStrv) hops = split_top_level (target, '/');
  GArray *plans;

  if (g_strv_length (hops) > MAX_HOPS)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "bad target: %u hops, more than %d", g_strv_length (hops), MAX_HOPS);
      return NULL;
    }
  plans = g_array_new (FALSE, TRUE, sizeof (HopPlan));
  g_array_set_clear_func (plans, hop_plan_clear);
  for (guint i = 0; hops[i] != NULL; i++)
    {
      HopPlan plan = { NULL, };
      gsize name_len = strcspn (hops[i], ":,");

      plan.text = g_strdup (hops[i]);
      plan.name = g_strndup (hops[i], name_len);
      g_array_append_val (plans, plan);
      if (!is_transport_name (plan.name))
        {
          g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                       "bad target “%s”: expected TRANSPORT[:ARG][,KEY=VALUE...], such as "
                       "local, sudo:postgres or ssh:user@host:port", hops[i]);
          g_array_unref (plans);
          return NULL;
        }
      g_array_index (plans, HopPlan, i).transport = mitogen_transport_lookup (plan.name, NULL);
      if (g_array_index (plans, HopPlan, i).transport != NULL)
        g_array_index (plans, HopPlan, i).table =
          option_table (g_array_index (plans, HopPlan, i).transport);
    }
  return plans;
}

/* Builds hop @i's options. */
static gboolean
build_hop (GArray                   *plans,
           guint                     i,
           const CliTargetSettings  *settings,
           gboolean                 *used_login,
           gboolean                 *used_become,
           CliHop                   *hop,
           GError                  **error)
{
  const HopPlan *plan = &g_array_index (plans, HopPlan, i);
  g_auto(GStrv) fields = split_top_level (plan->text, ',');
  const char *colon = strchr (fields[0], ':');
  GVariantDict dict;

  g_variant_dict_init (&dict, NULL);
  if (!add_hop_argument (&dict, plan->name, colon != NULL ? colon + 1 : NULL, error) ||
      !add_global_options (&dict, plans, plan, settings, error) ||
      !add_hop_options (&dict, plan, fields, error) ||
      !add_role_password (&dict, plan, i, settings, used_login, used_become, error))
    {
      g_autoptr(GVariant) partial = g_variant_ref_sink (g_variant_dict_end (&dict));

      mitogen_transport_options_wipe_secrets (partial);
      return FALSE;
    }
  if (settings->agent != NULL && i == 0)
    g_variant_dict_insert (&dict, "agent_path", "s", settings->agent);
  if (settings->timeout > 0)
    g_variant_dict_insert (&dict, "connect_timeout", "d", settings->timeout);
  if (settings->debug)
    g_variant_dict_insert (&dict, "debug", "b", TRUE);

  hop->transport = g_strdup (plan->name);
  hop->text = g_strdup (plan->text);
  hop->options = g_variant_ref_sink (g_variant_dict_end (&dict));
  debug_hop (i, hop);
  return TRUE;
}

GArray *
cli_parse_target (const char               *target,
                  const CliTargetSettings  *settings,
                  GError                  **error)
{
  g_autoptr(GArray) plans = check_utf8 ("the target", target, error) ? plan_hops (target, error) : NULL;
  g_autoptr(GArray) hops = g_array_new (FALSE, TRUE, sizeof (CliHop));
  gboolean used_login = FALSE, used_become = FALSE;

  g_array_set_clear_func (hops, hop_clear);
  if (plans == NULL)
    return NULL;
  for (guint j = 0; settings->options != NULL && settings->options[j] != NULL; j++)
    if (!check_utf8 ("an -o option", settings->options[j], error))
      return NULL;
  for (guint i = 0; i < plans->len; i++)
    {
      CliHop hop = { NULL, };

      if (!build_hop (plans, i, settings, &used_login, &used_become, &hop, error))
        {
          cli_hops_wipe_secrets (hops);
          return NULL;
        }
      g_array_append_val (hops, hop);
    }
  /* A password asked for and taken by no hop is a mistake worth hearing of. */
  if ((settings->ask_pass || settings->password_file != NULL) && !used_login)
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                 "--ask-pass/--password-file: no hop of “%s” logs in with a password "
                 "(they are for hops such as ssh)", target);
  else if ((settings->ask_become_pass || settings->become_password_file != NULL) && !used_become)
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                 "--ask-become-pass/--become-password-file: no hop of “%s” changes user "
                 "with a password (they are for hops such as sudo, su and doas)", target);
  if (error != NULL && *error != NULL)
    {
      cli_hops_wipe_secrets (hops);
      return NULL;
    }
  return g_steal_pointer (&hops);
}

void
cli_hops_wipe_secrets (GArray *hops)
{
  for (guint i = 0; i < hops->len; i++)
    {
      CliHop *hop = &g_array_index (hops, CliHop, i);

      if (hop->options != NULL)
        mitogen_transport_options_wipe_secrets (hop->options);
    }
}
