/* mitogen-connect-options.c: the connect options every transport shares.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <sys/auxv.h>

#include "mitogen-connect-options-private.h"

static const MitogenTransportOption shared_options[] = {
  { "name", "s", "the new context's name" },
  { "agent_path", "s", "the agent program to start" },
  { "serializer", "s", "how messages are encoded (default gvariant)" },
  { "debug", "b", "forward the context's debug messages too" },
  { "connect_timeout", "d|i|u|x", "seconds the whole start may take (default 30)" },
  { "plugin_path", "s", "where the new context looks for plugins" },
  { NULL }
};

const MitogenTransportOption *
_mitogen_connect_options_shared (void)
{
  return shared_options;
}

/* The value of @key if present; FALSE with @error if it is not of @type. */
static gboolean
lookup_typed (GVariant            *options,
              const char          *key,
              const GVariantType  *type,
              GVariant           **out,
              GError             **error)
{
  g_autoptr(GVariant) v = options != NULL ? g_variant_lookup_value (options, key, NULL) : NULL;

  *out = NULL;
  if (v == NULL)
    return TRUE;
  if (!g_variant_is_of_type (v, type))
    {
      g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_FAILED,
                   "option “%s” must be of type '%s', not '%s'", key,
                   (const char *) type, g_variant_get_type_string (v));
      return FALSE;
    }
  *out = g_steal_pointer (&v);
  return TRUE;
}

static gboolean
read_string (GVariant    *options,
             const char  *key,
             char       **out,
             GError     **error)
{
  g_autoptr(GVariant) v = NULL;

  if (!lookup_typed (options, key, G_VARIANT_TYPE_STRING, &v, error))
    return FALSE;
  if (v != NULL)
    *out = g_variant_dup_string (v, NULL);
  return TRUE;
}

gboolean
_mitogen_connect_options_read (MitogenConnectOptions *opts,
                               GVariant              *options,
                               int                    default_timeout_msec,
                               GError               **error)
{
  g_autoptr(GVariant) debug = NULL;

  if (!read_string (options, "serializer", &opts->serializer, error) ||
      !read_string (options, "agent_path", &opts->agent_path, error) ||
      !read_string (options, "name", &opts->name, error) ||
      !read_string (options, "plugin_path", &opts->plugin_path, error) ||
      !lookup_typed (options, "debug", G_VARIANT_TYPE_BOOLEAN, &debug, error) ||
      !mitogen_transport_options_get_timeout (options, default_timeout_msec,
                                              &opts->timeout_msec, error))
    return FALSE;
  opts->debug = debug != NULL && g_variant_get_boolean (debug);
  if (opts->serializer == NULL)
    opts->serializer = g_strdup ("gvariant");
  return TRUE;
}

char *
_mitogen_connect_options_plugin_path (const MitogenConnectOptions *opts,
                                      MitogenTransport            *transport)
{
  if (opts->plugin_path != NULL)
    return g_strdup (opts->plugin_path);
  /* This process's directories are paths of this machine: on another
   * host they name nothing, or whatever someone put there. What the
   * context does not find in its own directories comes from here. */
  if (transport == NULL || mitogen_transport_crosses_host (transport) || getauxval (AT_SECURE))
    return NULL;
  return g_strdup (g_getenv (MITOGEN_PLUGIN_PATH_ENV));
}

void
_mitogen_connect_options_clear (MitogenConnectOptions *opts)
{
  g_clear_pointer (&opts->serializer, g_free);
  g_clear_pointer (&opts->agent_path, g_free);
  g_clear_pointer (&opts->name, g_free);
  g_clear_pointer (&opts->plugin_path, g_free);
}
