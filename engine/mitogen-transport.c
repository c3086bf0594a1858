/* mitogen-transport.c: the interface every transport implements.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <string.h>

#include "mitogen-connect-options-private.h"
#include "mitogen-private.h"

/* How far a misspelt option name may be from a known one to be named in
 * the error ("did you mean …?"). */
#define MAX_SUGGESTION_DISTANCE 2

/**
 * MitogenTransport:
 *
 * Starts an agent somewhere (a local process, another user, another host)
 * and hands back a #GIOStream connected to its standard input and output.
 * Transports are plugins registered on the
 * %MITOGEN_TRANSPORT_EXTENSION_POINT_NAME extension point; the router does
 * the rest (bootstrap, routing).
 */
G_DEFINE_INTERFACE (MitogenTransport, mitogen_transport, G_TYPE_OBJECT)

static void
mitogen_transport_default_init (MitogenTransportInterface *iface)
{
}

/**
 * mitogen_transport_open_stream:
 * @self: a transport
 * @options: (nullable): the transport's options, an `a{sv}`
 * @agent_path: the agent program to start
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for an error
 *
 * Starts the agent and returns a stream to it. May block; the router calls
 * it from a worker thread.
 *
 * Returns: (transfer full): the stream, or %NULL with @error set
 */
GIOStream *
mitogen_transport_open_stream (MitogenTransport  *self,
                               GVariant          *options,
                               const char        *agent_path,
                               GCancellable      *cancellable,
                               GError           **error)
{
  MitogenTransportInterface *iface;

  g_return_val_if_fail (MITOGEN_IS_TRANSPORT (self), NULL);

  iface = MITOGEN_TRANSPORT_GET_IFACE (self);
  if (iface->open_stream == NULL)
    {
      g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_FAILED,
                   "transport %s does not implement open_stream", G_OBJECT_TYPE_NAME (self));
      return NULL;
    }
  return iface->open_stream (self, options, agent_path, cancellable, error);
}

/**
 * mitogen_transport_crosses_host:
 * @self: a transport
 *
 * Tells whether the agents @self starts run on another host, where the
 * paths and settings of this machine mean nothing. A context started by
 * such a transport is not told this process's `MITOGEN_PLUGIN_PATH`
 * unless the "plugin_path" option is given.
 *
 * Returns: what the transport's `crosses_host` method says, or %FALSE for
 *   a transport without one
 */
gboolean
mitogen_transport_crosses_host (MitogenTransport *self)
{
  MitogenTransportInterface *iface;

  g_return_val_if_fail (MITOGEN_IS_TRANSPORT (self), FALSE);

  iface = MITOGEN_TRANSPORT_GET_IFACE (self);
  return iface->crosses_host != NULL && iface->crosses_host (self);
}

/**
 * mitogen_transport_options_get_timeout:
 * @options: (nullable): a transport's options, an `a{sv}`
 * @default_msec: what to use when "connect_timeout" is absent
 * @out_msec: (out): the timeout in milliseconds
 * @error: return location for an error
 *
 * Reads the "connect_timeout" option every transport shares: seconds, as a
 * double or an integer, more than 0 and at most a day. Transports use it to
 * bound their own work (a password prompt, an SSH handshake).
 *
 * Returns: %TRUE, or %FALSE with @error set for a bad value
 */
gboolean
mitogen_transport_options_get_timeout (GVariant  *options,
                                       int        default_msec,
                                       int       *out_msec,
                                       GError   **error)
{
  g_autoptr(GVariant) v = NULL;
  double seconds;

  *out_msec = default_msec;
  if (options == NULL || (v = g_variant_lookup_value (options, "connect_timeout", NULL)) == NULL)
    return TRUE;
  if (g_variant_is_of_type (v, G_VARIANT_TYPE_DOUBLE))
    seconds = g_variant_get_double (v);
  else if (g_variant_is_of_type (v, G_VARIANT_TYPE_INT32))
    seconds = g_variant_get_int32 (v);
  else if (g_variant_is_of_type (v, G_VARIANT_TYPE_UINT32))
    seconds = g_variant_get_uint32 (v);
  else if (g_variant_is_of_type (v, G_VARIANT_TYPE_INT64))
    seconds = g_variant_get_int64 (v);
  else
    {
      g_set_error_literal (error, MITOGEN_ERROR, MITOGEN_ERROR_FAILED,
                           "option “connect_timeout” must be a number of seconds");
      return FALSE;
    }
  if (!(seconds > 0) || seconds > 24 * 3600)
    {
      g_set_error_literal (error, MITOGEN_ERROR, MITOGEN_ERROR_FAILED,
                           "option “connect_timeout” must be between 0 and 86400 seconds");
      return FALSE;
    }
  *out_msec = (int) (seconds * 1000);
  return TRUE;
}

/**
 * mitogen_transport_get_options: (skip)
 * @self: a transport
 *
 * The options @self reads, as its `get_options` method gives them: an
 * array ended by an entry whose name is %NULL. The options every transport
 * shares ("name", "agent_path", "serializer", "debug", "connect_timeout",
 * "plugin_path") are not in it. Bindings use
 * mitogen_transport_list_options().
 *
 * Returns: (transfer none) (nullable): the table, or %NULL for a transport
 *   without one, whose options are not checked
 */
const MitogenTransportOption *
mitogen_transport_get_options (MitogenTransport *self)
{
  MitogenTransportInterface *iface;

  g_return_val_if_fail (MITOGEN_IS_TRANSPORT (self), NULL);

  iface = MITOGEN_TRANSPORT_GET_IFACE (self);
  return iface->get_options != NULL ? iface->get_options (self) : NULL;
}

static void
add_options (GVariantBuilder              *builder,
             const MitogenTransportOption *table)
{
  for (; table->name != NULL; table++)
    g_variant_builder_add (builder, "(sss)", table->name, table->type,
                           table->description != NULL ? table->description : "");
}

/**
 * mitogen_transport_list_options:
 * @self: a transport
 *
 * The options @self accepts, as an `a(sss)` of (name, type, description):
 * its own, then those every transport shares. A type is a GVariant type
 * string, or several joined with `|` when more than one is accepted.
 *
 * Returns: (transfer full) (nullable): the list, or %NULL for a transport
 *   that declares no options (its options are not checked)
 */
GVariant *
mitogen_transport_list_options (MitogenTransport *self)
{
  const MitogenTransportOption *table;
  GVariantBuilder builder;

  g_return_val_if_fail (MITOGEN_IS_TRANSPORT (self), NULL);

  table = mitogen_transport_get_options (self);
  if (table == NULL)
    return NULL;
  g_variant_builder_init (&builder, G_VARIANT_TYPE ("a(sss)"));
  add_options (&builder, table);
  add_options (&builder, _mitogen_connect_options_shared ());
  return g_variant_ref_sink (g_variant_builder_end (&builder));
}

static const MitogenTransportOption *
find_option (const MitogenTransportOption *table,
             const char                   *name)
{
  for (; table->name != NULL; table++)
    if (g_str_equal (table->name, name))
      return table;
  return NULL;
}

/* Levenshtein distance, on bytes: option names are ASCII. */
static gsize
edit_distance (const char *a,
               const char *b)
{
  gsize la = strlen (a), lb = strlen (b);
  g_autofree gsize *row = g_new (gsize, lb + 1);

  for (gsize j = 0; j <= lb; j++)
    row[j] = j;
  for (gsize i = 1; i <= la; i++)
    {
      gsize diagonal = row[0];

      row[0] = i;
      for (gsize j = 1; j <= lb; j++)
        {
          gsize above = row[j];
          gsize cost = a[i - 1] == b[j - 1] ? 0 : 1;

          row[j] = MIN (MIN (row[j] + 1, row[j - 1] + 1), diagonal + cost);
          diagonal = above;
        }
    }
  return row[lb];
}

/* The known name nearest to @name, if it is near enough to be a typo. */
static const char *
suggest_option (const MitogenTransportOption *const tables[],
                const char                   *name)
{
  const char *best = NULL;
  gsize best_distance = MAX_SUGGESTION_DISTANCE + 1;

  for (guint t = 0; tables[t] != NULL; t++)
    for (const MitogenTransportOption *o = tables[t]; o->name != NULL; o++)
      {
        gsize d = edit_distance (name, o->name);

        if (d < best_distance)
          {
            best = o->name;
            best_distance = d;
          }
      }
  return best;
}

/* Whether @value has one of the `|`-separated types of @option. */
static gboolean
has_accepted_type (const MitogenTransportOption *option,
                   GVariant                     *value)
{
  g_auto(GStrv) types = g_strsplit (option->type, "|", -1);

  for (guint i = 0; types[i] != NULL; i++)
    if (g_variant_type_string_is_valid (types[i]) &&
        g_variant_is_of_type (value, G_VARIANT_TYPE (types[i])))
      return TRUE;
  return FALSE;
}

/**
 * mitogen_transport_check_options:
 * @self: a transport
 * @transport_name: the name @self is registered under, for messages
 * @options: (nullable): the options to check, an `a{sv}`
 * @error: return location for an error
 *
 * Checks @options against the table of @self (see
 * mitogen_transport_list_options()) and the options every transport
 * shares: each name must be known and each value of an accepted type.
 * The router does this before it starts anything. A transport without a
 * table accepts anything here.
 *
 * Returns: %TRUE, or %FALSE with @error set (%MITOGEN_ERROR_FAILED,
 *   naming the transport and the option, and the nearest known name for
 *   an unknown one)
 */
gboolean
mitogen_transport_check_options (MitogenTransport  *self,
                                 const char        *transport_name,
                                 GVariant          *options,
                                 GError           **error)
{
  const MitogenTransportOption *tables[3] = { NULL, _mitogen_connect_options_shared (), NULL };
  GVariantIter iter;
  const char *key;
  GVariant *value;

  g_return_val_if_fail (MITOGEN_IS_TRANSPORT (self), FALSE);
  g_return_val_if_fail (transport_name != NULL, FALSE);
  g_return_val_if_fail (options == NULL || g_variant_is_of_type (options, G_VARIANT_TYPE_VARDICT),
                        FALSE);

  tables[0] = mitogen_transport_get_options (self);
  if (tables[0] == NULL || options == NULL)
    return TRUE;
  g_variant_iter_init (&iter, options);
  while (g_variant_iter_loop (&iter, "{&sv}", &key, &value))
    {
      const MitogenTransportOption *option = find_option (tables[0], key);

      if (option == NULL)
        option = find_option (tables[1], key);
      if (option == NULL)
        {
          const char *near = suggest_option (tables, key);

          if (near != NULL)
            g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_FAILED,
                         "%s: unknown option “%s” (did you mean “%s”?)",
                         transport_name, key, near);
          else
            g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_FAILED,
                         "%s: unknown option “%s”", transport_name, key);
          g_variant_unref (value);
          return FALSE;
        }
      if (!has_accepted_type (option, value))
        {
          g_auto(GStrv) types = g_strsplit (option->type, "|", -1);
          g_autofree char *accepted = g_strjoinv ("' or '", types);

          g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_FAILED,
                       "%s: option “%s” must be of type '%s', not '%s'", transport_name,
                       key, accepted, g_variant_get_type_string (value));
          g_variant_unref (value);
          return FALSE;
        }
    }
  return TRUE;
}

/**
 * mitogen_transport_option_is_secret:
 * @name: an option's name
 *
 * Whether the option @name holds a secret: "password", "passphrase", or
 * a name ending in "_password" or "_passphrase". Secrets are never
 * logged, the router wipes its own copies of them once a connect is
 * over, and callers can wipe theirs with
 * mitogen_transport_options_wipe_secrets().
 *
 * Returns: %TRUE for a secret
 */
gboolean
mitogen_transport_option_is_secret (const char *name)
{
  g_return_val_if_fail (name != NULL, FALSE);

  return g_str_equal (name, "password") || g_str_equal (name, "passphrase") ||
         g_str_has_suffix (name, "_password") || g_str_has_suffix (name, "_passphrase");
}

/**
 * mitogen_transport_options_wipe_secrets:
 * @options: an `a{sv}` of connect options
 *
 * Overwrites with zero bytes, in place, the string values of the secret
 * options in @options (see mitogen_transport_option_is_secret()), so
 * that a password does not linger in freed memory once a connect is
 * over. GVariant values are otherwise immutable: call this only on
 * options you built yourself, when no one will read them again (the
 * router keeps no reference once a connect has finished).
 */
void
mitogen_transport_options_wipe_secrets (GVariant *options)
{
  GVariantIter iter;
  const char *key;
  GVariant *value;

  g_return_if_fail (options != NULL && g_variant_is_of_type (options, G_VARIANT_TYPE_VARDICT));

  g_variant_iter_init (&iter, options);
  while (g_variant_iter_loop (&iter, "{&sv}", &key, &value))
    if (mitogen_transport_option_is_secret (key) &&
        g_variant_is_of_type (value, G_VARIANT_TYPE_STRING))
      /* The string's own bytes, wherever they live (its buffer, or its
       * container's serialized form): both are ours to clear now. */
      explicit_bzero ((gpointer) g_variant_get_data (value), g_variant_get_size (value));
}
