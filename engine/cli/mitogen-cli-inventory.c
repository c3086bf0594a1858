/* mitogen-cli-inventory.c: Ansible INI inventories, for -i.
 *
 * Many users already describe their machines this way:
 *
 *   web1 ansible_host=10.0.0.5 ansible_user=deploy
 *   [db]
 *   db[01:03].lan ansible_become=yes ansible_become_user=postgres
 *   [prod:children]
 *   db
 *   [prod:vars]
 *   ansible_port=2222
 *
 * Variables apply as Ansible applies them: "all", then groups from the
 * outermost parent in, then the host's own. The connection variables
 * become a target ("ssh:deploy@10.0.0.5", "ssh:db01.lan:2222/sudo:postgres");
 * the others are a playbook's business and are ignored.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <string.h>

#include "mitogen-cli-hosts.h"
#include "mitogen-cli-inventory.h"

typedef struct _Group Group;

struct _Group
{
  char       *name;
  GHashTable *vars;      /* char * → char * */
  GPtrArray  *parents;   /* Group *, not owned: [PARENT:children] named it */
  int         depth;     /* "all" 0, its children 1, ...; -1 until known */
  gboolean    visiting;  /* while its depth is worked out (cycles) */
};

typedef struct
{
  char       *name;
  GHashTable *vars;      /* char * → char *; "host:port" sets ansible_port */
  GPtrArray  *groups;    /* Group *, not owned: the sections listing it */
} Host;

struct _CliInventory
{
  char       *origin;    /* the file, for messages */
  GHashTable *groups;    /* name → Group *, owned */
  GHashTable *hosts;     /* name → Host *, owned */
  GPtrArray  *order;     /* Host *, in the order first listed */
};

static GHashTable *
new_vars (void)
{
  return g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
}

static void
group_free (gpointer data)
{
  Group *group = data;

  g_free (group->name);
  g_hash_table_unref (group->vars);
  g_ptr_array_unref (group->parents);
  g_free (group);
}

static void
host_free (gpointer data)
{
  Host *host = data;

  g_free (host->name);
  g_hash_table_unref (host->vars);
  g_ptr_array_unref (host->groups);
  g_free (host);
}

void
cli_inventory_free (CliInventory *inventory)
{
  if (inventory == NULL)
    return;
  g_free (inventory->origin);
  g_hash_table_unref (inventory->groups);
  g_hash_table_unref (inventory->hosts);
  g_ptr_array_unref (inventory->order);
  g_free (inventory);
}

static Group *
get_group (CliInventory *inventory,
           const char   *name)
{
  Group *group = g_hash_table_lookup (inventory->groups, name);

  if (group == NULL)
    {
      group = g_new0 (Group, 1);
      group->name = g_strdup (name);
      group->vars = new_vars ();
      group->parents = g_ptr_array_new ();
      group->depth = -1;
      g_hash_table_insert (inventory->groups, group->name, group);
    }
  return group;
}

/* ---- parsing ------------------------------------------------------------ */

typedef struct
{
  CliInventory *inventory;
  guint         line;
  GError      **error;
} Parser;

static gboolean G_GNUC_PRINTF (3, 4)
parse_error (Parser     *p,
             gsize       column,
             const char *format,
             ...)
{
  g_autofree char *message = NULL;
  va_list args;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error (p->error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE, "%s:%u:%" G_GSIZE_FORMAT ": %s",
               p->inventory->origin, p->line, column + 1, message);
  return FALSE;
}

static gboolean
is_group_name (const char *name)
{
  if (*name == '\0')
    return FALSE;
  for (; *name != '\0'; name++)
    if (!g_ascii_isalnum (*name) && strchr ("_-.", *name) == NULL)
      return FALSE;
  return TRUE;
}

/* "[NAME]", "[NAME:vars]" or "[NAME:children]". */
static gboolean
parse_header (Parser      *p,
              const char  *line,
              Group      **group,
              char        *kind)
{
  const char *close = strchr (line, ']');
  g_autofree char *inside = NULL;
  char *colon;

  if (close == NULL || close[1 + strspn (close + 1, " \t")] != '\0')
    return parse_error (p, 0, "a section header is [GROUP], [GROUP:vars] or [GROUP:children]");
  inside = g_strndup (line + 1, close - line - 1);
  *kind = 'h';
  if ((colon = strchr (inside, ':')) != NULL)
    {
      *colon = '\0';
      if (g_str_equal (colon + 1, "vars"))
        *kind = 'v';
      else if (g_str_equal (colon + 1, "children"))
        *kind = 'c';
      else
        return parse_error (p, colon + 1 - inside + 1, "“%s”: a section is [GROUP:vars] or "
                            "[GROUP:children], not [GROUP:%s]", line, colon + 1);
    }
  if (!is_group_name (inside))
    return parse_error (p, 1, "“%s” is not a group name (letters, digits, _ - .)", inside);
  *group = get_group (p->inventory, inside);
  return TRUE;
}

/* A value as the INI form writes it, without surrounding quotes. */
static char *
unquote (const char *value)
{
  gsize len = strlen (value);

  if (len >= 2 && (value[0] == '\'' || value[0] == '"') && value[len - 1] == value[0])
    return g_strndup (value + 1, len - 2);
  return g_strdup (value);
}

/* "KEY=VALUE" into @vars. */
static gboolean
parse_assignment (Parser     *p,
                  const char *text,
                  gsize       column,
                  GHashTable *vars)
{
  const char *eq = strchr (text, '=');
  g_autofree char *key = NULL;
  g_autofree char *value = NULL;

  if (eq == NULL || eq == text)
    return parse_error (p, column, "“%s” is not KEY=VALUE", text);
  key = g_strstrip (g_strndup (text, eq - text));
  value = g_strstrip (g_strdup (eq + 1));
  g_hash_table_insert (vars, g_steal_pointer (&key), unquote (value));
  return TRUE;
}

/* Cuts ":PORT" off @pattern ("web[01:20]:2222"), when it has one colon
 * outside brackets followed by digits; returns the port, or NULL. */
static char *
split_port (char *pattern)
{
  char *colon = NULL;
  int depth = 0;

  for (char *c = pattern; *c != '\0'; c++)
    {
      if (*c == '[')
        depth++;
      else if (*c == ']')
        depth--;
      else if (*c == ':' && depth == 0)
        {
          if (colon != NULL)
            return NULL;   /* an IPv6 address */
          colon = c;
        }
    }
  if (colon == NULL || colon[1] == '\0' || strspn (colon + 1, "0123456789") != strlen (colon + 1))
    return NULL;
  *colon = '\0';
  return colon + 1;
}

/* A host line: "PATTERN[:PORT] [KEY=VALUE...]", in @group (or none). */
static gboolean
parse_host_line (Parser     *p,
                 const char *line,
                 Group      *group)
{
  g_auto(GStrv) words = NULL;
  g_autoptr(GError) shell_error = NULL;
  g_autoptr(GPtrArray) names = NULL;
  g_autofree char *pattern = NULL;
  char *port = NULL;
  int n_words;

  if (!g_shell_parse_argv (line, &n_words, &words, &shell_error))
    return parse_error (p, 0, "%s", shell_error->message);
  pattern = g_strdup (words[0]);
  port = split_port (pattern);
  if ((names = _cli_hostlist_expand_inventory (pattern, p->error)) == NULL)
    {
      g_prefix_error (p->error, "%s:%u: ", p->inventory->origin, p->line);
      return FALSE;
    }

  for (guint i = 0; i < names->len; i++)
    {
      Host *host = g_hash_table_lookup (p->inventory->hosts, names->pdata[i]);

      if (host == NULL)
        {
          host = g_new0 (Host, 1);
          host->name = g_strdup (names->pdata[i]);
          host->vars = new_vars ();
          host->groups = g_ptr_array_new ();
          g_hash_table_insert (p->inventory->hosts, host->name, host);
          g_ptr_array_add (p->inventory->order, host);
        }
      if (port != NULL)
        g_hash_table_insert (host->vars, g_strdup ("ansible_port"), g_strdup (port));
      if (group != NULL && !g_ptr_array_find (host->groups, group, NULL))
        g_ptr_array_add (host->groups, group);
      for (int w = 1; w < n_words; w++)
        if (!parse_assignment (p, words[w], strstr (line, words[w]) != NULL ?
                                            (gsize) (strstr (line, words[w]) - line) : 0,
                               host->vars))
          return FALSE;
    }
  return TRUE;
}

static gboolean
parse_line (Parser     *p,
            const char *line,
            Group     **group,
            char       *kind)
{
  if (line[0] == '[')
    return parse_header (p, line, group, kind);
  switch (*kind)
    {
    case 'v':
      return parse_assignment (p, line, 0, (*group)->vars);
    case 'c':
      {
        Group *child;

        if (!is_group_name (line))
          return parse_error (p, 0, "“%s” is not a group name", line);
        child = get_group (p->inventory, line);
        if (child != *group && !g_ptr_array_find (child->parents, *group, NULL))
          g_ptr_array_add (child->parents, *group);
        return TRUE;
      }
    default:
      return parse_host_line (p, line, *group);
    }
}

/* A group's depth below "all", refusing cycles of [GROUP:children]. */
static gboolean
compute_depth (Parser *p,
               Group  *group)
{
  int depth = 1;

  if (group->depth >= 0)
    return TRUE;
  if (g_str_equal (group->name, "all"))
    {
      group->depth = 0;
      return TRUE;
    }
  if (group->visiting)
    {
      g_set_error (p->error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "%s: group “%s” is its own ancestor ([GROUP:children] goes round in a circle)",
                   p->inventory->origin, group->name);
      return FALSE;
    }
  group->visiting = TRUE;
  for (guint i = 0; i < group->parents->len; i++)
    {
      Group *parent = group->parents->pdata[i];

      if (!compute_depth (p, parent))
        return FALSE;
      depth = MAX (depth, parent->depth + 1);
    }
  group->visiting = FALSE;
  group->depth = depth;
  return TRUE;
}

CliInventory *
cli_inventory_parse (const char  *text,
                     const char  *origin,
                     GError     **error)
{
  g_autoptr(CliInventory) inventory = g_new0 (CliInventory, 1);
  g_auto(GStrv) lines = g_strsplit (text, "\n", -1);
  Parser p = { inventory, 0, error };
  GHashTableIter iter;
  Group *group = NULL;
  char kind = 'h';

  inventory->origin = g_strdup (origin);
  inventory->groups = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, group_free);
  inventory->hosts = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, host_free);
  inventory->order = g_ptr_array_new ();
  get_group (inventory, "all");
  get_group (inventory, "ungrouped");

  for (guint i = 0; lines[i] != NULL; i++)
    {
      char *line = g_strstrip (lines[i]);

      p.line = i + 1;
      if (line[0] == '\0' || line[0] == '#' || line[0] == ';')
        continue;
      if (!g_utf8_validate (line, -1, NULL))
        return parse_error (&p, 0, "not UTF-8"), NULL;
      if (!parse_line (&p, line, &group, &kind))
        return NULL;
    }

  g_hash_table_iter_init (&iter, inventory->groups);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &group))
    if (!compute_depth (&p, group))
      return NULL;
  return g_steal_pointer (&inventory);
}

CliInventory *
cli_inventory_load (const char  *path,
                    GError     **error)
{
  g_autofree char *text = NULL;

  if (!g_file_get_contents (path, &text, NULL, error))
    return NULL;
  return cli_inventory_parse (text, path, error);
}

/* ---- hosts to targets ---------------------------------------------------- */

static void
add_ancestors (Group     *group,
               GPtrArray *out)
{
  if (g_ptr_array_find (out, group, NULL))
    return;
  g_ptr_array_add (out, group);
  for (guint i = 0; i < group->parents->len; i++)
    add_ancestors (group->parents->pdata[i], out);
}

static int
compare_depth (gconstpointer a,
               gconstpointer b)
{
  const Group *x = *(Group **) a, *y = *(Group **) b;

  return x->depth != y->depth ? x->depth - y->depth : strcmp (x->name, y->name);
}

/* Every variable that applies to @host: "all", then its groups from the
 * outermost in, then its own. */
static GHashTable *
host_vars (CliInventory *inventory,
           Host         *host)
{
  g_autoptr(GPtrArray) groups = g_ptr_array_new ();
  GHashTable *vars = new_vars ();
  GHashTableIter iter;
  gpointer key, value;

  add_ancestors (g_hash_table_lookup (inventory->groups, "all"), groups);
  if (host->groups->len == 0)
    add_ancestors (g_hash_table_lookup (inventory->groups, "ungrouped"), groups);
  for (guint i = 0; i < host->groups->len; i++)
    add_ancestors (host->groups->pdata[i], groups);
  g_ptr_array_sort (groups, compare_depth);
  for (guint i = 0; i < groups->len; i++)
    {
      g_hash_table_iter_init (&iter, ((Group *) groups->pdata[i])->vars);
      while (g_hash_table_iter_next (&iter, &key, &value))
        g_hash_table_insert (vars, g_strdup (key), g_strdup (value));
    }
  g_hash_table_iter_init (&iter, host->vars);
  while (g_hash_table_iter_next (&iter, &key, &value))
    g_hash_table_insert (vars, g_strdup (key), g_strdup (value));
  return vars;
}

static gboolean
is_true (const char *value)
{
  return value != NULL && (g_ascii_strcasecmp (value, "yes") == 0 ||
                           g_ascii_strcasecmp (value, "true") == 0 ||
                           g_ascii_strcasecmp (value, "on") == 0 || g_str_equal (value, "1"));
}

static gboolean
bad_host (GError    **error,
          Host       *host,
          const char *format,
          const char *what)
{
  g_autofree char *message = g_strdup_printf (format, what);

  g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE, "inventory host “%s”: %s",
               host->name, message);
  return FALSE;
}

/* A user, host or port that a target's syntax can carry as it is. */
static gboolean
plain_word (const char *word)
{
  return *word != '\0' && strpbrk (word, "/,@[]'\" \t=") == NULL;
}

/* Connections that name a container (or root) a transport enters. */
static const char *const container_connections[] = {
  "docker", "podman", "buildah", "lxc", "lxd", "chroot", NULL
};

/* The target of @host, from its variables. */
static char *
host_target (CliInventory  *inventory,
             Host          *host,
             GError       **error)
{
  g_autoptr(GHashTable) vars = host_vars (inventory, host);
  const char *connection = g_hash_table_lookup (vars, "ansible_connection");
  const char *address = g_hash_table_lookup (vars, "ansible_host");
  const char *port = g_hash_table_lookup (vars, "ansible_port");
  const char *user = g_hash_table_lookup (vars, "ansible_user");
  const char *key = g_hash_table_lookup (vars, "ansible_ssh_private_key_file");
  const char *method = g_hash_table_lookup (vars, "ansible_become_method");
  const char *become_user = g_hash_table_lookup (vars, "ansible_become_user");
  g_autoptr(GString) target = g_string_new (NULL);
  const char *dot;

  connection = connection != NULL ? connection : "ssh";
  if ((dot = strrchr (connection, '.')) != NULL)   /* community.docker.docker */
    connection = dot + 1;
  address = address != NULL ? address : host->name;
  user = user != NULL ? user : g_hash_table_lookup (vars, "ansible_ssh_user");
  key = key != NULL ? key : g_hash_table_lookup (vars, "ansible_private_key_file");

  if (g_str_equal (connection, "ssh") || g_str_equal (connection, "paramiko") ||
      g_str_equal (connection, "smart"))
    {
      if (user != NULL && !plain_word (user))
        return bad_host (error, host, "ansible_user “%s” cannot be used in a target", user), NULL;
      if (port != NULL && strspn (port, "0123456789") != strlen (port))
        return bad_host (error, host, "ansible_port “%s” is not a number", port), NULL;
      if (strchr (address, ':') == NULL ? !plain_word (address)
                                        : strpbrk (address, "/,@[]'\" \t") != NULL)
        return bad_host (error, host, "ansible_host “%s” cannot be used in a target", address), NULL;
      g_string_append_printf (target, "ssh:%s%s", user != NULL ? user : "", user != NULL ? "@" : "");
      g_string_append_printf (target, strchr (address, ':') != NULL ? "[%s]" : "%s", address);
      if (port != NULL && *port != '\0')
        g_string_append_printf (target, ":%s", port);
      if (key != NULL)
        {
          g_autoptr(GVariant) quoted = g_variant_ref_sink (g_variant_new_string (key));
          g_autofree char *printed = g_variant_print (quoted, FALSE);

          g_string_append_printf (target, ",identity_file=%s", printed);
        }
    }
  else if (g_str_equal (connection, "local"))
    g_string_append (target, "local");
  else if (g_strv_contains (container_connections, connection))
    {
      if (!plain_word (address) || strchr (address, ':') != NULL)
        return bad_host (error, host, "“%s” cannot be used as a container name", address), NULL;
      g_string_append_printf (target, "%s:%s", connection, address);
    }
  else
    return bad_host (error, host, "ansible_connection=%s has no libmitogen transport", connection), NULL;

  if (is_true (g_hash_table_lookup (vars, "ansible_become")))
    {
      method = method != NULL ? method : "sudo";
      become_user = become_user != NULL ? become_user : "root";
      if (!g_str_equal (method, "sudo") && !g_str_equal (method, "su") && !g_str_equal (method, "doas"))
        return bad_host (error, host, "ansible_become_method=%s is not sudo, su or doas", method), NULL;
      if (!plain_word (become_user))
        return bad_host (error, host, "ansible_become_user “%s” cannot be used in a target",
                         become_user), NULL;
      g_string_append_printf (target, "/%s:%s", method, become_user);
    }
  return g_string_free (g_steal_pointer (&target), FALSE);
}

static gboolean
in_group (Host  *host,
          Group *group)
{
  g_autoptr(GPtrArray) groups = g_ptr_array_new ();

  if (g_str_equal (group->name, "all"))
    return TRUE;
  if (g_str_equal (group->name, "ungrouped"))
    return host->groups->len == 0 || g_ptr_array_find (host->groups, group, NULL);
  for (guint i = 0; i < host->groups->len; i++)
    add_ancestors (host->groups->pdata[i], groups);
  return g_ptr_array_find (groups, group, NULL);
}

static gboolean
append_host (CliInventory  *inventory,
             Host          *host,
             GArray        *out,
             GError       **error)
{
  CliHost entry = { NULL, NULL };

  if ((entry.target = host_target (inventory, host, error)) == NULL)
    return FALSE;
  entry.label = g_strdup (host->name);
  g_array_append_val (out, entry);
  return TRUE;
}

GArray *
cli_inventory_hosts (CliInventory  *inventory,
                     const char    *name,
                     gboolean       is_group,
                     GError       **error)
{
  g_autoptr(GArray) out = g_array_new (FALSE, TRUE, sizeof (CliHost));
  Group *group = NULL;
  Host *host;

  g_array_set_clear_func (out, (GDestroyNotify) cli_host_clear);
  if (!is_group)
    {
      if ((host = g_hash_table_lookup (inventory->hosts, name)) != NULL &&
          !append_host (inventory, host, out, error))
        return NULL;
      return g_steal_pointer (&out);
    }
  if ((group = g_hash_table_lookup (inventory->groups, name)) == NULL)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "%s has no group “%s”", inventory->origin, name);
      return NULL;
    }
  for (guint i = 0; i < inventory->order->len; i++)
    if (in_group (inventory->order->pdata[i], group) &&
        !append_host (inventory, inventory->order->pdata[i], out, error))
      return NULL;
  return g_steal_pointer (&out);
}
