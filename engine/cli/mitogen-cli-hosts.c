/* mitogen-cli-hosts.c: host lists, ranges and inventories for the
 * fan-out commands (see mitogen-cli-hosts.h).
 *
 * The range syntax is the one pdsh and ClusterShell users type:
 * "node[1-1000]", "web[01-20,30]", "rack[1-2]-n[1-4]", "[1-9/2]". In an
 * Ansible inventory, Ansible's own "web[01:20]" and "[a:f]" apply too.
 * Brackets holding a ':' outside an inventory are an IPv6 address
 * ("ssh:[::1]:22"), not a range.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <mitogen/mitogen.h>

#include "mitogen-cli-hosts.h"
#include "mitogen-cli-inventory.h"

/* More brackets than this in one name is a mistake, not a cluster. */
#define MAX_RANGES_PER_NAME 8

void
cli_host_clear (CliHost *host)
{
  g_clear_pointer (&host->label, g_free);
  g_clear_pointer (&host->target, g_free);
}

static gboolean
bad_list (GError    **error,
          const char *text,
          gsize       position,
          const char *what)
{
  g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
               "host list “%s”, position %" G_GSIZE_FORMAT ": %s", text, position + 1, what);
  return FALSE;
}

/* ---- splitting at commas ------------------------------------------------ */

/* Whether @p starts "KEY=" (a hop option after a comma). */
static gboolean
starts_option (const char *p)
{
  if (!g_ascii_isalpha (*p) && *p != '_')
    return FALSE;
  while (g_ascii_isalnum (*p) || *p == '_')
    p++;
  return *p == '=';
}

/* The end of the quoted string that starts at @p ('...' or "...", with
 * backslash escapes), or NULL when it is not closed. */
static const char *
skip_quoted (const char *p)
{
  char quote = *p++;

  for (; *p != '\0'; p++)
    {
      if (*p == '\\' && p[1] != '\0')
        p++;
      else if (*p == quote)
        return p;
    }
  return NULL;
}

/* Splits @text at the commas that separate hosts; each piece's offset in
 * @text goes to @offsets. */
static gboolean
split_list (const char  *text,
            gboolean     options_follow,
            GPtrArray   *pieces,
            GArray      *offsets,
            GError     **error)
{
  gsize start = 0, bracket = 0;
  gboolean in_bracket = FALSE;

  for (gsize i = 0;; i++)
    {
      char c = text[i];

      if (c == '\'' || c == '"')
        {
          const char *end = skip_quoted (text + i);

          if (end == NULL)
            return bad_list (error, text, i, "the quote is not closed");
          i = end - text;
        }
      else if (c == '[' && in_bracket)
        return bad_list (error, text, i, "‘[’ inside brackets");
      else if (c == '[')
        in_bracket = TRUE, bracket = i;
      else if (c == ']' && in_bracket)
        in_bracket = FALSE;
      else if (c == ']')
        return bad_list (error, text, i, "‘]’ without ‘[’");
      else if (c == '\0' || (c == ',' && !in_bracket &&
                             !(options_follow && starts_option (text + i + 1))))
        {
          if (c == '\0' && in_bracket)
            return bad_list (error, text, bracket, "‘[’ is not closed");
          if (i == start)
            return bad_list (error, text, i, "empty host name");
          g_ptr_array_add (pieces, g_strndup (text + start, i - start));
          g_array_append_val (offsets, start);
          if (c == '\0')
            return TRUE;
          start = i + 1;
        }
    }
}

/* ---- ranges ------------------------------------------------------------- */

typedef struct
{
  const char *text;      /* the whole list, for errors */
  gboolean    colons;    /* Ansible's "[01:20]", "[01:20:2]" and "[a:f]" too */
  GPtrArray  *out;       /* of char *, the expanded hosts */
  GError    **error;
} Expansion;

/* A bound: up to 9 digits; a leading zero makes the width. */
static gboolean
parse_bound (const char *s,
             guint64    *value,
             int        *width)
{
  gsize len = strlen (s);

  if (len == 0 || len > 9)
    return FALSE;
  for (gsize i = 0; i < len; i++)
    if (!g_ascii_isdigit (s[i]))
      return FALSE;
  *value = g_ascii_strtoull (s, NULL, 10);
  if (width != NULL)
    *width = s[0] == '0' && len > 1 ? (int) len : 0;
  return TRUE;
}

/* One range of a bracket: "7", "01-20", "1-9/2", or with colons "01:20",
 * "01:20:2", "a:f". Appends its values, formatted, to @values. */
static gboolean
parse_range (Expansion  *x,
             const char *range,
             gsize       offset,
             GPtrArray  *values)
{
  gboolean colon = x->colons && strchr (range, ':') != NULL;
  g_auto(GStrv) parts = g_strsplit (range, colon ? ":" : "-", -1);
  guint n = g_strv_length (parts);
  const char *step_text = NULL;
  guint64 lo, hi, step = 1;
  int width;

  if (!colon && n == 2 && (step_text = strchr (parts[1], '/')) != NULL)
    *(char *) step_text++ = '\0';
  else if (colon && n == 3)
    step_text = parts[2];

  if (colon && n == 2 && strlen (parts[0]) == 1 && strlen (parts[1]) == 1 &&
      g_ascii_isalpha (parts[0][0]) && g_ascii_isalpha (parts[1][0]))
    {
      if (parts[0][0] > parts[1][0])
        return bad_list (x->error, x->text, offset, "the range goes backwards");
      for (char c = parts[0][0]; c <= parts[1][0]; c++)
        g_ptr_array_add (values, g_strdup_printf ("%c", c));
      return TRUE;
    }
  if (n < 1 || n > (colon ? 3u : 2u) || !parse_bound (parts[0], &lo, &width) ||
      (n > 1 && !parse_bound (parts[1], &hi, NULL)) ||
      (step_text != NULL && (!parse_bound (step_text, &step, NULL) || step == 0)))
    {
      g_autofree char *what = g_strdup_printf ("“%s” is not a number or a range such as %s",
                                               range, x->colons ? "01:20" : "01-20");

      return bad_list (x->error, x->text, offset, what);
    }
  if (n == 1)
    hi = lo;
  if (lo > hi)
    return bad_list (x->error, x->text, offset, "the range goes backwards");
  if ((hi - lo) / step >= CLI_HOSTS_MAX)
    return bad_list (x->error, x->text, offset, "the range is too long");
  for (guint64 v = lo; v <= hi; v += step)
    g_ptr_array_add (values, g_strdup_printf ("%0*" G_GUINT64_FORMAT, width, v));
  return TRUE;
}

/* The values of the bracket [@content], at @offset of the list. */
static GPtrArray *
parse_bracket (Expansion  *x,
               const char *content,
               gsize       offset)
{
  g_autoptr(GPtrArray) values = g_ptr_array_new_with_free_func (g_free);
  g_auto(GStrv) ranges = g_strsplit (content, ",", -1);
  gsize at = offset;

  for (guint i = 0; ranges[i] != NULL; i++)
    {
      if (!parse_range (x, ranges[i], at, values))
        return NULL;
      at += strlen (ranges[i]) + 1;
    }
  return g_steal_pointer (&values);
}

/* Appends every name @rest stands for, each after @prefix. @rest starts
 * at @offset of the list; @depth counts the brackets so far. */
static gboolean
expand_name (Expansion  *x,
             const char *prefix,
             const char *rest,
             gsize       offset,
             guint       depth)
{
  const char *open = rest, *close;
  g_autofree char *head = NULL;
  g_autofree char *content = NULL;
  g_autoptr(GPtrArray) values = NULL;

  /* The first bracket outside quotes. */
  while (*open != '\0' && *open != '[')
    open = (*open == '\'' || *open == '"') && skip_quoted (open) != NULL ? skip_quoted (open) + 1 : open + 1;
  if (*open == '\0')
    {
      if (x->out->len >= CLI_HOSTS_MAX)
        {
          g_autofree char *what = g_strdup_printf ("more than %d hosts", CLI_HOSTS_MAX);

          return bad_list (x->error, x->text, offset, what);
        }
      g_ptr_array_add (x->out, g_strconcat (prefix, rest, NULL));
      return TRUE;
    }
  close = strchr (open, ']');
  if (close == NULL)
    return bad_list (x->error, x->text, offset + (open - rest), "‘[’ is not closed");
  head = g_strndup (rest, open - rest);
  content = g_strndup (open + 1, close - open - 1);

  /* "[::1]": an IPv6 address, kept as it is. */
  if (!x->colons && strchr (content, ':') != NULL)
    {
      g_autofree char *literal = g_strconcat (prefix, head, "[", content, "]", NULL);

      return expand_name (x, literal, close + 1, offset + (close + 1 - rest), depth);
    }
  if (depth >= MAX_RANGES_PER_NAME)
    return bad_list (x->error, x->text, offset + (open - rest), "too many ranges in one name");
  if ((values = parse_bracket (x, content, offset + (open - rest) + 1)) == NULL)
    return FALSE;
  for (guint i = 0; i < values->len; i++)
    {
      g_autofree char *next = g_strconcat (prefix, head, values->pdata[i], NULL);

      if (!expand_name (x, next, close + 1, offset + (close + 1 - rest), depth + 1))
        return FALSE;
    }
  return TRUE;
}

static GPtrArray *
expand_list (const char  *text,
             gboolean     options_follow,
             gboolean     colons,
             GError     **error)
{
  g_autoptr(GPtrArray) pieces = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GArray) offsets = g_array_new (FALSE, FALSE, sizeof (gsize));
  g_autoptr(GPtrArray) out = g_ptr_array_new_with_free_func (g_free);
  Expansion x = { text, colons, out, error };

  if (!split_list (text, options_follow, pieces, offsets, error))
    return NULL;
  for (guint i = 0; i < pieces->len; i++)
    if (!expand_name (&x, "", pieces->pdata[i], g_array_index (offsets, gsize, i), 0))
      return NULL;
  return g_steal_pointer (&out);
}

GPtrArray *
cli_hostlist_expand (const char  *text,
                     gboolean     options_follow,
                     GError     **error)
{
  return expand_list (text, options_follow, FALSE, error);
}

GPtrArray *
_cli_hostlist_expand_inventory (const char  *pattern,
                                GError     **error)
{
  return expand_list (pattern, FALSE, TRUE, error);
}

/* ---- which hosts ------------------------------------------------------- */

typedef struct
{
  GArray     *hosts;   /* of CliHost, in order */
  GHashTable *seen;    /* targets in @hosts */
} HostSet;

static void
host_set_add (HostSet    *set,
              const char *label,
              const char *target)
{
  CliHost host;

  if (g_hash_table_contains (set->seen, target))
    return;
  host.label = g_strdup (label);
  host.target = g_strdup (target);
  g_hash_table_add (set->seen, host.target);
  g_array_append_val (set->hosts, host);
}

/* Whether @item begins with a transport's name: "local", "sudo:pg",
 * "ssh:web1,port=2", "docker:c/sudo"; not "web1", "web1:22", "bob@web1". */
static gboolean
is_full_target (const char *item)
{
  gsize len = strcspn (item, ":,/");
  g_autofree char *name = g_strndup (item, len);
  g_autoptr(MitogenTransport) transport = NULL;

  for (gsize i = 0; i < len; i++)
    if (!g_ascii_isalnum (name[i]) && name[i] != '-' && name[i] != '_')
      return FALSE;
  transport = len > 0 ? mitogen_transport_lookup (name, NULL) : NULL;
  return transport != NULL;
}

static gboolean
need_inventory (const CliInventory *inventory,
                const char         *group,
                GError            **error)
{
  if (inventory != NULL)
    return TRUE;
  g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
               "group “%s”: groups come from an inventory; give one with -i FILE", group);
  return FALSE;
}

/* Adds one item of a -w list. */
static gboolean
include_item (HostSet       *set,
              CliInventory  *inventory,
              const char    *item,
              GError       **error)
{
  g_autoptr(GArray) found = NULL;

  if (item[0] == '@')
    {
      if (!need_inventory (inventory, item + 1, error) ||
          (found = cli_inventory_hosts (inventory, item + 1, TRUE, error)) == NULL)
        return FALSE;
    }
  else if (inventory != NULL && !is_full_target (item))
    {
      if ((found = cli_inventory_hosts (inventory, item, FALSE, error)) == NULL)
        return FALSE;
    }
  if (found != NULL && found->len > 0)
    for (guint i = 0; i < found->len; i++)
      host_set_add (set, g_array_index (found, CliHost, i).label,
                    g_array_index (found, CliHost, i).target);
  else if (is_full_target (item))
    host_set_add (set, item, item);
  else
    {
      g_autofree char *target = g_strconcat ("ssh:", item, NULL);

      host_set_add (set, item, target);
    }
  return TRUE;
}

/* The labels and targets -x leaves out, as a set. */
static GHashTable *
excluded_names (const char *const  *lists,
                CliInventory       *inventory,
                GError            **error)
{
  g_autoptr(GHashTable) names = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);

  for (guint i = 0; lists != NULL && lists[i] != NULL; i++)
    {
      g_autoptr(GPtrArray) items = cli_hostlist_expand (lists[i], TRUE, error);

      if (items == NULL)
        return NULL;
      for (guint j = 0; j < items->len; j++)
        {
          const char *item = items->pdata[j];
          g_autoptr(GArray) group = NULL;

          if (item[0] != '@')
            {
              /* "-x web1" leaves out ssh:web1 too, as -w web1 named it. */
              if (!is_full_target (item))
                g_hash_table_add (names, g_strconcat ("ssh:", item, NULL));
              g_hash_table_add (names, g_strdup (item));
              continue;
            }
          if (!need_inventory (inventory, item + 1, error) ||
              (group = cli_inventory_hosts (inventory, item + 1, TRUE, error)) == NULL)
            return NULL;
          for (guint k = 0; k < group->len; k++)
            g_hash_table_add (names, g_strdup (g_array_index (group, CliHost, k).target));
        }
    }
  return g_steal_pointer (&names);
}

static gboolean
add_lists (HostSet            *set,
           CliInventory       *inventory,
           const char *const  *lists,
           gboolean            targets,
           GError            **error)
{
  for (guint i = 0; lists != NULL && lists[i] != NULL; i++)
    {
      g_autoptr(GPtrArray) items = cli_hostlist_expand (lists[i], TRUE, error);

      if (items == NULL)
        return FALSE;
      for (guint j = 0; j < items->len; j++)
        if (targets)
          host_set_add (set, items->pdata[j], items->pdata[j]);
        else if (!include_item (set, inventory, items->pdata[j], error))
          return FALSE;
    }
  return TRUE;
}

GArray *
cli_hosts_resolve (const CliHostSelection  *selection,
                   GError                 **error)
{
  g_autoptr(CliInventory) inventory = NULL;
  g_autoptr(GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr(GHashTable) excluded = NULL;
  g_autoptr(GArray) hosts = g_array_new (FALSE, TRUE, sizeof (CliHost));
  HostSet set = { hosts, seen };
  GArray *kept;

  g_array_set_clear_func (hosts, (GDestroyNotify) cli_host_clear);
  if (selection->inventory != NULL &&
      (inventory = cli_inventory_load (selection->inventory, error)) == NULL)
    return NULL;
  if (!add_lists (&set, inventory, selection->targets, TRUE, error) ||
      !add_lists (&set, inventory, selection->include, FALSE, error))
    return NULL;
  for (guint i = 0; selection->groups != NULL && selection->groups[i] != NULL; i++)
    {
      g_autofree char *group = g_strconcat ("@", selection->groups[i], NULL);

      if (!include_item (&set, inventory, group, error))
        return NULL;
    }
  if ((excluded = excluded_names (selection->exclude, inventory, error)) == NULL)
    return NULL;

  kept = g_array_new (FALSE, TRUE, sizeof (CliHost));
  g_array_set_clear_func (kept, (GDestroyNotify) cli_host_clear);
  for (guint i = 0; i < hosts->len; i++)
    {
      CliHost *host = &g_array_index (hosts, CliHost, i);

      if (g_hash_table_contains (excluded, host->label) ||
          g_hash_table_contains (excluded, host->target))
        continue;
      g_array_append_val (kept, *host);
      memset (host, 0, sizeof *host);
    }
  if (kept->len == 0)
    {
      g_set_error_literal (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                           hosts->len == 0 ? "no hosts: give targets, -w HOSTS or -g GROUP"
                                           : "no hosts left after -x");
      g_array_unref (kept);
      return NULL;
    }
  return kept;
}

/* ---- folding ------------------------------------------------------------ */

/* A label split at its last run of digits: "web" "07" ".lan". */
typedef struct
{
  char    *head;
  char    *digits;   /* "" when the label has none */
  char    *tail;
  guint64  value;
} Split;

static void
split_clear (gpointer data)
{
  Split *s = data;

  g_free (s->head);
  g_free (s->digits);
  g_free (s->tail);
}

static Split
split_label (const char *label)
{
  gsize len = strlen (label), end = len, start;
  Split s;

  while (end > 0 && !g_ascii_isdigit (label[end - 1]))
    end--;
  start = end;
  while (start > 0 && g_ascii_isdigit (label[start - 1]) && end - start < 9)
    start--;
  s.head = g_strndup (label, start);
  s.digits = g_strndup (label + start, end - start);
  s.tail = g_strdup (label + end);
  s.value = g_ascii_strtoull (s.digits, NULL, 10);
  return s;
}

static int
compare_splits (gconstpointer a,
                gconstpointer b)
{
  const Split *x = a, *y = b;
  int c;

  if ((c = strcmp (x->head, y->head)) != 0 || (c = strcmp (x->tail, y->tail)) != 0)
    return c;
  if ((x->digits[0] == '\0') != (y->digits[0] == '\0'))
    return x->digits[0] == '\0' ? -1 : 1;
  if (x->value != y->value)
    return x->value < y->value ? -1 : 1;
  return strcmp (x->digits, y->digits);
}

/* Whether @s, written with @width, reads as its own digits. */
static gboolean
same_width (const Split *s,
            int          width)
{
  g_autofree char *printed = g_strdup_printf ("%0*" G_GUINT64_FORMAT, width, s->value);

  return g_str_equal (printed, s->digits);
}

static gboolean
same_group (const Split *s,
            const Split *first)
{
  return s->digits[0] != '\0' && g_str_equal (s->head, first->head) &&
         g_str_equal (s->tail, first->tail);
}

/* Appends the labels from @i on that differ only in their number, as
 * "web[01-03,07].lan" (or the one label); returns the index after them. */
static guint
fold_group (GArray  *splits,
            guint    i,
            GString *out)
{
  const Split *first = &g_array_index (splits, Split, i);
  g_autoptr(GString) ranges = g_string_new (NULL);
  guint j = i, values = 0;

  if (out->len > 0)
    g_string_append_c (out, ',');
  if (first->digits[0] == '\0')
    {
      g_string_append_printf (out, "%s%s", first->head, first->tail);
      for (j++; j < splits->len && compare_splits (&g_array_index (splits, Split, j), first) == 0; j++)
        ;
      return j;
    }
  while (j < splits->len && same_group (&g_array_index (splits, Split, j), first))
    {
      const Split *lo = &g_array_index (splits, Split, j), *hi = lo;
      int width = lo->digits[0] == '0' ? (int) strlen (lo->digits) : 0;

      for (j++; j < splits->len && same_group (&g_array_index (splits, Split, j), first); j++)
        {
          const Split *next = &g_array_index (splits, Split, j);

          if (g_str_equal (next->digits, hi->digits))
            continue;   /* the same label twice */
          if (next->value != hi->value + 1 || !same_width (next, width))
            break;
          hi = next;
        }
      g_string_append_printf (ranges, "%s%s", ranges->len > 0 ? "," : "", lo->digits);
      if (hi != lo)
        g_string_append_printf (ranges, "-%s", hi->digits);
      values += hi != lo ? 2 : 1;
    }
  if (values > 1)
    g_string_append_printf (out, "%s[%s]%s", first->head, ranges->str, first->tail);
  else
    g_string_append_printf (out, "%s%s%s", first->head, ranges->str, first->tail);
  return j;
}

char *
cli_hostlist_fold (const char *const *labels,
                   guint              n_labels)
{
  g_autoptr(GArray) splits = g_array_sized_new (FALSE, FALSE, sizeof (Split), n_labels);
  GString *out = g_string_new (NULL);

  g_array_set_clear_func (splits, split_clear);
  for (guint i = 0; i < n_labels; i++)
    {
      Split s = split_label (labels[i]);

      g_array_append_val (splits, s);
    }
  g_array_sort (splits, compare_splits);
  for (guint i = 0; i < splits->len;)
    i = fold_group (splits, i, out);
  return g_string_free (out, FALSE);
}
