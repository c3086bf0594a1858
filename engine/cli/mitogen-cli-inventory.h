/* mitogen-cli-inventory.h: Ansible INI inventories, for -i.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _CliInventory CliInventory;

/* Reads an inventory in Ansible's INI form: hosts (with ranges such as
 * web[01:20]) and their variables, [GROUP], [GROUP:vars] and
 * [GROUP:children]. Errors name the file, line and column. */
CliInventory *cli_inventory_load  (const char    *path,
                                   GError       **error);
CliInventory *cli_inventory_parse (const char    *text,
                                   const char    *origin,
                                   GError       **error);
void          cli_inventory_free  (CliInventory  *inventory);

/* The hosts of group @name (with @is_group; "all" holds every host), or
 * the host @name (an empty array when the inventory has no such host),
 * as CliHost: the inventory name as label, and a target built from
 * ansible_host, ansible_port, ansible_user, ansible_connection,
 * ansible_ssh_private_key_file and ansible_become(_user, _method). NULL
 * with an error for an unknown group or a connection with no transport. */
GArray       *cli_inventory_hosts (CliInventory  *inventory,
                                   const char    *name,
                                   gboolean       is_group,
                                   GError       **error);

/* An inventory host pattern expanded with Ansible's ranges as well
 * (mitogen-cli-hosts.c). */
GPtrArray    *_cli_hostlist_expand_inventory (const char  *pattern,
                                              GError     **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (CliInventory, cli_inventory_free)

G_END_DECLS
