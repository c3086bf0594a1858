/* test-cli-hosts.c: host lists, ranges, folding and Ansible inventories
 * of the fan-out commands (engine/cli/mitogen-cli-hosts.c and
 * mitogen-cli-inventory.c).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <string.h>

#include <glib/gstdio.h>

#include <mitogen/mitogen.h>

#include "cli/mitogen-cli-hosts.h"
#include "cli/mitogen-cli-inventory.h"

/* @text expanded, joined with spaces. */
static char *
expand (const char *text,
        gboolean    options_follow)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) hosts = cli_hostlist_expand (text, options_follow, &error);

  g_assert_no_error (error);
  g_ptr_array_add (hosts, NULL);
  return g_strjoinv (" ", (char **) hosts->pdata);
}

static void
assert_expands (const char *text,
                gboolean    options_follow,
                const char *expected)
{
  g_autofree char *got = expand (text, options_follow);

  g_assert_cmpstr (got, ==, expected);
}

static void
assert_list_error (const char *text,
                   const char *expected)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) hosts = cli_hostlist_expand (text, FALSE, &error);

  g_assert_null (hosts);
  g_assert_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE);
  if (strstr (error->message, expected) == NULL)
    g_error ("“%s”: expected “%s” in “%s”", text, expected, error->message);
}

static void
test_expand (void)
{
  assert_expands ("web[01-03,7],db1", FALSE, "web01 web02 web03 web7 db1");
  assert_expands ("node[8-11]", FALSE, "node8 node9 node10 node11");
  assert_expands ("r[1-2]-n[1-2].lan", FALSE, "r1-n1.lan r1-n2.lan r2-n1.lan r2-n2.lan");
  assert_expands ("n[1-9/4]", FALSE, "n1 n5 n9");
  assert_expands ("[7]", FALSE, "7");
  /* A target's options stay with it; a comma before anything else splits. */
  assert_expands ("ssh:web[1-2],port=2222/sudo:root", TRUE,
                  "ssh:web1,port=2222/sudo:root ssh:web2,port=2222/sudo:root");
  assert_expands ("local,ssh:h1,compression=yes", TRUE, "local ssh:h1,compression=yes");
  assert_expands ("a,port=1", FALSE, "a port=1");
  /* IPv6 brackets, and quoted values, are left alone. */
  assert_expands ("ssh:root@[::1]:22,ssh:[fe80::1%eth0]", TRUE, "ssh:root@[::1]:22 ssh:[fe80::1%eth0]");
  assert_expands ("ssh:h[1-2],identity_file='/k[1],x'", TRUE,
                  "ssh:h1,identity_file='/k[1],x' ssh:h2,identity_file='/k[1],x'");
}

static void
test_expand_errors (void)
{
  assert_list_error ("web[01-", "position 4: ‘[’ is not closed");
  assert_list_error ("web[3-1]", "position 5: the range goes backwards");
  assert_list_error ("a,,b", "position 3: empty host name");
  assert_list_error ("a,", "position 3: empty host name");
  assert_list_error ("w[1,x]", "position 5: “x” is not a number");
  assert_list_error ("w[1-2-3]", "“1-2-3” is not a number");
  assert_list_error ("w[1-9/0]", "is not a number");
  assert_list_error ("n[1-200000]", "the range is too long");
  assert_list_error ("n[1-1000]-[1-1000]", "more than 100000 hosts");
  assert_list_error ("a]", "position 2: ‘]’ without ‘[’");
  assert_list_error ("a[[1]]", "position 3: ‘[’ inside brackets");
  assert_list_error ("h,'x", "position 3: the quote is not closed");
  assert_list_error ("n[1][1][1][1][1][1][1][1][1]", "too many ranges in one name");
}

static void
assert_folds (const char *labels,
              const char *expected)
{
  g_auto(GStrv) split = g_strsplit (labels, " ", -1);
  g_autofree char *folded = cli_hostlist_fold ((const char *const *) split, g_strv_length (split));

  g_assert_cmpstr (folded, ==, expected);
}

static void
test_fold (void)
{
  assert_folds ("web01 web02 web03 web07 db1", "db1,web[01-03,07]");
  assert_folds ("n10 n9 n11", "n[9-11]");
  assert_folds ("n09 n10", "n[09-10]");
  assert_folds ("n1 n02", "n[1,02]");
  assert_folds ("x", "x");
  assert_folds ("a a b", "a,b");
  assert_folds ("r1-n1 r1-n2 r2-n1", "r1-n[1-2],r2-n1");
  assert_folds ("web1.lan web2.lan", "web[1-2].lan");
}

/* Folding a random set and expanding it again gives the set back. */
static void
test_fold_round_trip (void)
{
  g_autoptr(GRand) rand = g_rand_new_with_seed (13);
  const char *heads[] = { "web", "db", "n", "rack1-n", "" };

  for (guint round = 0; round < 300; round++)
    {
      g_autoptr(GHashTable) set = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
      g_autoptr(GPtrArray) labels = g_ptr_array_new ();
      g_autoptr(GPtrArray) back = NULL;
      g_autoptr(GError) error = NULL;
      g_autofree char *folded = NULL;
      guint n = g_rand_int_range (rand, 1, 40);

      for (guint i = 0; i < n; i++)
        {
          const char *head = heads[g_rand_int_range (rand, 0, G_N_ELEMENTS (heads))];
          int width = g_rand_boolean (rand) ? 3 : 0;
          char *label = g_strdup_printf ("%s%0*d%s", head, width, g_rand_int_range (rand, 0, 120),
                                         g_rand_boolean (rand) ? "" : ".lan");

          if (g_hash_table_contains (set, label))
            {
              g_free (label);
              continue;
            }
          g_hash_table_add (set, label);
          g_ptr_array_add (labels, label);
        }
      folded = cli_hostlist_fold ((const char *const *) labels->pdata, labels->len);
      back = cli_hostlist_expand (folded, FALSE, &error);
      g_assert_no_error (error);
      g_assert_cmpuint (back->len, ==, g_hash_table_size (set));
      for (guint i = 0; i < back->len; i++)
        if (!g_hash_table_contains (set, back->pdata[i]))
          g_error ("“%s” gives “%s”, which was not folded", folded, (char *) back->pdata[i]);
    }
}

static const char inventory_text[] =
  "# a comment\n"
  "bastion ansible_host=192.0.2.1 ansible_user=ops\n"
  "\n"
  "[web]\n"
  "web[01:03].lan\n"
  "web9.lan:2200 ansible_ssh_private_key_file='/keys/it''s'\n"
  "\n"
  "[db]\n"
  "db[a:b] ansible_become=yes ansible_become_user=postgres\n"
  "v6 ansible_host=2001:db8::5\n"
  "\n"
  "[containers]\n"
  "app1 ansible_connection=community.docker.docker\n"
  "here ansible_connection=local\n"
  "\n"
  "[prod:children]\n"
  "web\n"
  "db\n"
  "\n"
  "[prod:vars]\n"
  "ansible_user=deploy\n"
  "ansible_port=2222\n"
  "\n"
  "[db:vars]\n"
  "ansible_port=5222\n"
  "\n"
  "[all:vars]\n"
  "ansible_user=nobody\n"
  "ansible_python_interpreter=/usr/bin/python3\n";

static char *
group_targets (CliInventory *inventory,
               const char   *group)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GArray) hosts = cli_inventory_hosts (inventory, group, TRUE, &error);
  g_autoptr(GString) out = g_string_new (NULL);

  g_assert_no_error (error);
  for (guint i = 0; i < hosts->len; i++)
    g_string_append_printf (out, "%s%s=%s", i > 0 ? " " : "",
                            g_array_index (hosts, CliHost, i).label,
                            g_array_index (hosts, CliHost, i).target);
  return g_string_free (g_steal_pointer (&out), FALSE);
}

static void
test_inventory (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CliInventory) inventory = cli_inventory_parse (inventory_text, "hosts.ini", &error);
  g_autofree char *web = NULL, *db = NULL, *containers = NULL, *ungrouped = NULL;
  g_autofree char *prod = NULL, *all = NULL;
  g_autoptr(GArray) one = NULL, none = NULL, missing = NULL;

  g_assert_no_error (error);
  /* Group variables reach children; the innermost group wins; the host's
   * own beat them; "host:port" is a port. */
  web = group_targets (inventory, "web");
  g_assert_cmpstr (web, ==,
                   "web01.lan=ssh:deploy@web01.lan:2222 web02.lan=ssh:deploy@web02.lan:2222 "
                   "web03.lan=ssh:deploy@web03.lan:2222 "
                   "web9.lan=ssh:deploy@web9.lan:2200,identity_file='/keys/its'");
  db = group_targets (inventory, "db");
  g_assert_cmpstr (db, ==,
                   "dba=ssh:deploy@dba:5222/sudo:postgres dbb=ssh:deploy@dbb:5222/sudo:postgres "
                   "v6=ssh:deploy@[2001:db8::5]:5222");
  containers = group_targets (inventory, "containers");
  g_assert_cmpstr (containers, ==, "app1=docker:app1 here=local");
  ungrouped = group_targets (inventory, "ungrouped");
  g_assert_cmpstr (ungrouped, ==, "bastion=ssh:ops@192.0.2.1");
  prod = group_targets (inventory, "prod");
  g_assert_cmpuint (strlen (prod), ==, strlen (web) + 1 + strlen (db));
  all = group_targets (inventory, "all");
  g_assert_true (g_str_has_prefix (all, "bastion=ssh:ops@192.0.2.1 web01.lan="));

  /* Hosts by name: known, and unknown (empty, not an error). */
  one = cli_inventory_hosts (inventory, "web02.lan", FALSE, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (one->len, ==, 1);
  none = cli_inventory_hosts (inventory, "elsewhere", FALSE, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (none->len, ==, 0);
  missing = cli_inventory_hosts (inventory, "nosuchgroup", TRUE, &error);
  g_assert_null (missing);
  g_assert_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE);
  g_assert_nonnull (strstr (error->message, "hosts.ini has no group “nosuchgroup”"));
}

static void
assert_inventory_error (const char *text,
                        const char *group,
                        const char *expected)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CliInventory) inventory = cli_inventory_parse (text, "inv", &error);
  g_autoptr(GArray) hosts = NULL;

  if (inventory != NULL && group != NULL)
    hosts = cli_inventory_hosts (inventory, group, TRUE, &error);
  g_assert_true (inventory == NULL || hosts == NULL);
  g_assert_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE);
  if (strstr (error->message, expected) == NULL)
    g_error ("expected “%s” in “%s”", expected, error->message);
}

static void
test_inventory_errors (void)
{
  assert_inventory_error ("a\n[web\nb\n", NULL, "inv:2:1: a section header is");
  assert_inventory_error ("[web:vasr]\n", NULL, "inv:1:6: “[web:vasr]”: a section is");
  assert_inventory_error ("[we b]\n", NULL, "inv:1:2: “we b” is not a group name");
  assert_inventory_error ("[web]\nh1 port\n", NULL, "inv:2:4: “port” is not KEY=VALUE");
  assert_inventory_error ("[web]\nh[01:]\n", NULL, "position 3: “01:” is not a number");
  assert_inventory_error ("[web]\nh1 a='b\n", NULL, "inv:2:1:");
  assert_inventory_error ("[a:children]\nb\n[b:children]\na\n", NULL,
                          "is its own ancestor");
  assert_inventory_error ("[w]\nh ansible_connection=winrm\n", "w",
                          "inventory host “h”: ansible_connection=winrm has no libmitogen transport");
  assert_inventory_error ("[w]\nh ansible_become=yes ansible_become_method=runas\n", "w",
                          "ansible_become_method=runas is not sudo, su or doas");
  assert_inventory_error ("[w]\nh ansible_user=a/b\n", "w", "ansible_user “a/b” cannot be used");
}

static char *
resolve (const CliHostSelection *selection,
         GError                **error)
{
  g_autoptr(GArray) hosts = cli_hosts_resolve (selection, error);
  g_autoptr(GString) out = g_string_new (NULL);

  if (hosts == NULL)
    return NULL;
  for (guint i = 0; i < hosts->len; i++)
    g_string_append_printf (out, "%s%s=%s", i > 0 ? " " : "",
                            g_array_index (hosts, CliHost, i).label,
                            g_array_index (hosts, CliHost, i).target);
  return g_string_free (g_steal_pointer (&out), FALSE);
}

static void
test_resolve (void)
{
  g_autofree char *dir = g_dir_make_tmp ("mitogen-hosts-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "hosts.ini", NULL);
  const char *targets[] = { "local", "ssh:h[1-2]", NULL };
  const char *include[] = { "h1,web[1-3],@db", "root@x:22", NULL };
  const char *include_dup[] = { "local", NULL };
  const char *exclude[] = { "web2,ssh:h2", NULL };
  const char *exclude_all[] = { "@all,local,h1,h2,web[1-3],root@x:22", NULL };
  const char *groups[] = { "containers", NULL };
  const char *group_only[] = { "@db", NULL };
  CliHostSelection selection = { targets, include, exclude, groups, path };
  g_autoptr(GError) error = NULL;
  g_autofree char *got = NULL;

  g_assert_true (g_file_set_contents (path, inventory_text, -1, NULL));
  got = resolve (&selection, &error);
  g_assert_no_error (error);
  /* Targets as typed; -w hosts as ssh:HOST unless the inventory knows
   * them; @db from the inventory; web2 and ssh:h2 left out; -g last; a
   * target named twice (h1, here=local) runs once, under its first name. */
  g_assert_cmpstr (got, ==,
                   "local=local ssh:h1=ssh:h1 web1=ssh:web1 web3=ssh:web3 "
                   "dba=ssh:deploy@dba:5222/sudo:postgres dbb=ssh:deploy@dbb:5222/sudo:postgres "
                   "v6=ssh:deploy@[2001:db8::5]:5222 root@x:22=ssh:root@x:22 "
                   "app1=docker:app1");
  g_free (got);

  /* The same target twice runs once. */
  selection = (CliHostSelection) { targets, include_dup, NULL, NULL, NULL };
  got = resolve (&selection, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (got, ==, "local=local ssh:h1=ssh:h1 ssh:h2=ssh:h2");
  g_clear_pointer (&got, g_free);

  /* Nothing left, nothing given, a group without an inventory. */
  selection = (CliHostSelection) { targets, include, exclude_all, NULL, path };
  g_assert_null (resolve (&selection, &error));
  g_assert_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE);
  g_assert_cmpstr (error->message, ==, "no hosts left after -x");
  g_clear_error (&error);
  selection = (CliHostSelection) { NULL, NULL, NULL, NULL, path };
  g_assert_null (resolve (&selection, &error));
  g_assert_cmpstr (error->message, ==, "no hosts: give targets, -w HOSTS or -g GROUP");
  g_clear_error (&error);
  selection = (CliHostSelection) { NULL, group_only, NULL, NULL, NULL };
  g_assert_null (resolve (&selection, &error));
  g_assert_nonnull (strstr (error->message, "give one with -i FILE"));
  g_clear_error (&error);
  /* A missing inventory file. */
  selection = (CliHostSelection) { targets, NULL, NULL, NULL, "/nonexistent/hosts.ini" };
  g_assert_null (resolve (&selection, &error));
  g_assert_error (error, G_FILE_ERROR, G_FILE_ERROR_NOENT);
  g_clear_error (&error);

  g_unlink (path);
  g_rmdir (dir);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/cli-hosts/expand", test_expand);
  g_test_add_func ("/cli-hosts/expand-errors", test_expand_errors);
  g_test_add_func ("/cli-hosts/fold", test_fold);
  g_test_add_func ("/cli-hosts/fold-round-trip", test_fold_round_trip);
  g_test_add_func ("/cli-hosts/inventory", test_inventory);
  g_test_add_func ("/cli-hosts/inventory-errors", test_inventory_errors);
  g_test_add_func ("/cli-hosts/resolve", test_resolve);
  return g_test_run ();
}
