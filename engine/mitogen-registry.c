/* mitogen-registry.c: the functions this process lets other contexts
 * call, by "module.name". A leaf: registering has no side effects, and
 * nothing is registered until someone registers it (the agent registers
 * the built-in functions at start-up).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "mitogen-registry-private.h"

struct _MitogenRegistration
{
  MitogenFunction func;        /* immutable */
  gpointer        user_data;   /* immutable */
  GDestroyNotify  notify;      /* immutable; runs when the last holder lets go */
};

static GMutex registry_lock;
static GHashTable *registry;  /* guarded by registry_lock; name → MitogenRegistration ref */

static void
registration_clear (gpointer data)
{
  MitogenRegistration *reg = data;

  if (reg->notify != NULL)
    reg->notify (reg->user_data);
}

void
_mitogen_registration_release (MitogenRegistration *reg)
{
  g_atomic_rc_box_release_full (reg, registration_clear);
}

static void
ensure_registry (void)
{
  static gsize done = 0;

  if (g_once_init_enter (&done))
    {
      registry = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                        (GDestroyNotify) _mitogen_registration_release);
      g_once_init_leave (&done, 1);
    }
}

static gboolean
name_is_valid (const char *name)
{
  const char *dot = strchr (name, '.');

  return dot != NULL && dot != name && dot[1] != '\0';
}

/**
 * mitogen_register_function:
 * @name: the "module.name" callers use
 * @func: (scope notified) (closure user_data) (destroy notify): the function
 * @user_data: data for @func
 * @notify: (nullable): frees @user_data when the function is replaced or
 *   unregistered
 *
 * Makes a function callable by other contexts in this process. A name
 * registered before is replaced.
 *
 * Returns: %TRUE, or %FALSE when @name is not of the form "module.name"
 */
gboolean
mitogen_register_function (const char      *name,
                           MitogenFunction  func,
                           gpointer         user_data,
                           GDestroyNotify   notify)
{
  MitogenRegistration *reg;

  g_return_val_if_fail (name != NULL, FALSE);
  g_return_val_if_fail (func != NULL, FALSE);

  if (!name_is_valid (name))
    {
      g_critical ("function name “%s” is not of the form module.name", name);
      return FALSE;
    }
  ensure_registry ();
  reg = g_atomic_rc_box_new0 (MitogenRegistration);
  reg->func = func;
  reg->user_data = user_data;
  reg->notify = notify;
  g_mutex_lock (&registry_lock);
  g_hash_table_replace (registry, g_strdup (name), reg);
  g_mutex_unlock (&registry_lock);
  return TRUE;
}

/**
 * mitogen_unregister_function:
 * @name: a "module.name"
 *
 * Removes the function registered under @name with
 * mitogen_register_function(). Calls to it already running finish; its
 * destroy notify runs once the last of them is done.
 *
 * Returns: %TRUE when a function was registered under @name
 */
gboolean
mitogen_unregister_function (const char *name)
{
  gboolean found;

  g_return_val_if_fail (name != NULL, FALSE);

  ensure_registry ();
  g_mutex_lock (&registry_lock);
  found = g_hash_table_remove (registry, name);
  g_mutex_unlock (&registry_lock);
  return found;
}

/**
 * mitogen_has_function:
 * @name: a "module.name"
 *
 * Tells whether this process has a function registered under @name.
 * Functions a context lacks may still be fetched from its parent on first
 * call.
 *
 * Returns: %TRUE when a function is registered under @name here
 */
gboolean
mitogen_has_function (const char *name)
{
  gboolean found;

  g_return_val_if_fail (name != NULL, FALSE);

  ensure_registry ();
  g_mutex_lock (&registry_lock);
  found = g_hash_table_contains (registry, name);
  g_mutex_unlock (&registry_lock);
  return found;
}

MitogenRegistration *
_mitogen_registry_lookup (const char *name)
{
  MitogenRegistration *reg;

  ensure_registry ();
  g_mutex_lock (&registry_lock);
  reg = g_hash_table_lookup (registry, name);
  if (reg != NULL)
    g_atomic_rc_box_acquire (reg);
  g_mutex_unlock (&registry_lock);
  return reg;
}

GVariant *
_mitogen_registration_invoke (MitogenRegistration  *reg,
                              MitogenCall          *call,
                              GVariant             *args,
                              GError              **error)
{
  return reg->func (call, args, reg->user_data, error);
}
