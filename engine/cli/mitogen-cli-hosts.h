/* mitogen-cli-hosts.h: the hosts a fan-out command runs on: host lists
 * with ranges ("web[01-20,30]"), Ansible INI inventories, -w/-x/-g, and
 * the range form that -b prints ("web[01-03,07]").
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* No host list expands to more than this many hosts. */
#define CLI_HOSTS_MAX 100000

/* One host to run on: how output names it, and its target text for
 * cli_parse_target(). */
typedef struct
{
  char *label;   /* "web01" (-w, inventory), or the target as typed */
  char *target;  /* "ssh:web01", "ssh:root@10.0.0.1:2222/sudo:root", ... */
} CliHost;

/* Where the hosts come from; every field may be NULL. */
typedef struct
{
  const char *const *targets;   /* TARGET arguments: full targets, ranges
                                 * expanded; "t1,t2" is two targets unless
                                 * what follows the comma is KEY=VALUE */
  const char *const *include;   /* -w: host lists; a plain host HOST is
                                 * "ssh:HOST", @GROUP names an inventory
                                 * group, a full target stays one */
  const char *const *exclude;   /* -x: host lists and @GROUPs to leave out,
                                 * matched against labels and targets; in
                                 * both, a comma before KEY=VALUE does not
                                 * split ("local,cwd=d1" is one item) */
  const char *const *groups;    /* -g: inventory groups ("all" for all) */
  const char        *inventory; /* -i: an Ansible INI inventory file */
} CliHostSelection;

void       cli_host_clear     (CliHost                 *host);

/* Expands a host list: "web[01-03,7],db1" gives web01 web02 web03 web7
 * db1 (a bound's leading zeros set the width; "[1-9/2]" steps; several
 * brackets multiply). Commas inside brackets or quotes do not split;
 * with @options_follow a comma followed by KEY= does not either (a hop's
 * options). Errors are G_OPTION_ERROR_BAD_VALUE naming the position. */
GPtrArray *cli_hostlist_expand (const char             *text,
                                gboolean                options_follow,
                                GError                **error);

/* The hosts @selection names, in the order first named, without
 * duplicates (the same target twice runs once). NULL with an error when
 * a list or the inventory does not parse, a group is unknown, or nothing
 * is left. */
GArray    *cli_hosts_resolve  (const CliHostSelection  *selection,
                               GError                 **error);

/* Folds @labels into range form, sorted: {web01, web02, web03, web07,
 * db1} gives "db1,web[01-03,07]". The inverse of cli_hostlist_expand()
 * for what it produces. */
char      *cli_hostlist_fold  (const char *const       *labels,
                               guint                    n_labels);

G_END_DECLS
