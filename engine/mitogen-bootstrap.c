/* mitogen-bootstrap.c: the first frame each way on a new stream.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <sys/utsname.h>
#include <unistd.h>

#include "mitogen-bootstrap-private.h"

MitogenBootstrap *
_mitogen_bootstrap_new (void)
{
  MitogenBootstrap *boot = g_new0 (MitogenBootstrap, 1);

  boot->ancestors = g_array_new (FALSE, FALSE, sizeof (guint32));
  boot->max_buffered = MITOGEN_DEFAULT_MAX_BUFFERED;
  return boot;
}

void
_mitogen_bootstrap_free (MitogenBootstrap *boot)
{
  if (boot == NULL)
    return;
  g_array_unref (boot->ancestors);
  g_free (boot->transport);
  g_free (boot->name);
  g_free (boot->serializer);
  g_free (boot->plugin_path);
  g_free (boot);
}

static GBytes *
dict_to_bytes (GVariantDict *dict)
{
  g_autoptr(GVariant) v = g_variant_ref_sink (g_variant_dict_end (dict));

  return g_variant_get_data_as_bytes (v);
}

GBytes *
_mitogen_bootstrap_encode (const MitogenBootstrap *boot)
{
  GVariantDict dict;

  g_variant_dict_init (&dict, NULL);
  g_variant_dict_insert (&dict, "context_id", "u", boot->context_id);
  g_variant_dict_insert (&dict, "parent_id", "u", boot->parent_id);
  g_variant_dict_insert_value (&dict, "ancestors",
                               g_variant_new_fixed_array (G_VARIANT_TYPE_UINT32,
                                                          boot->ancestors->data,
                                                          boot->ancestors->len,
                                                          sizeof (guint32)));
  g_variant_dict_insert (&dict, "transport", "s", boot->transport ? boot->transport : "");
  if (boot->name != NULL)
    g_variant_dict_insert (&dict, "name", "s", boot->name);
  g_variant_dict_insert (&dict, "serializer", "s", boot->serializer ? boot->serializer : "gvariant");
  g_variant_dict_insert (&dict, "max_message_size", "t", boot->max_message_size);
  g_variant_dict_insert (&dict, "max_buffered", "t", boot->max_buffered);
  g_variant_dict_insert (&dict, "debug", "b", boot->debug);
  g_variant_dict_insert (&dict, "unidirectional", "b", boot->unidirectional);
  if (boot->plugin_path != NULL)
    g_variant_dict_insert (&dict, "plugin_path", "s", boot->plugin_path);
  return dict_to_bytes (&dict);
}

/* A trusted-layout a{sv} from untrusted bytes, or NULL. */
static GVariant *
vardict_from_bytes (GBytes *data)
{
  g_autoptr(GVariant) v = g_variant_ref_sink (g_variant_new_from_bytes (G_VARIANT_TYPE_VARDICT,
                                                                        data, FALSE));

  if (!g_variant_is_normal_form (v))
    return NULL;
  return g_steal_pointer (&v);
}

MitogenBootstrap *
_mitogen_bootstrap_decode (GBytes  *data,
                           GError **error)
{
  g_autoptr(MitogenBootstrap) boot = _mitogen_bootstrap_new ();
  g_autoptr(GVariant) params = vardict_from_bytes (data);
  g_autoptr(GVariant) ancestors = NULL;
  gboolean b;

  if (params == NULL ||
      !g_variant_lookup (params, "context_id", "u", &boot->context_id) ||
      !g_variant_lookup (params, "parent_id", "u", &boot->parent_id) ||
      !g_variant_lookup (params, "transport", "s", &boot->transport) ||
      !g_variant_lookup (params, "serializer", "s", &boot->serializer))
    {
      g_set_error_literal (error, MITOGEN_ERROR, MITOGEN_ERROR_PROTOCOL,
                           "the bootstrap frame is not a valid bootstrap a{sv}");
      return NULL;
    }
  ancestors = g_variant_lookup_value (params, "ancestors", G_VARIANT_TYPE ("au"));
  if (ancestors != NULL)
    {
      gsize n = 0;
      const guint32 *ids = g_variant_get_fixed_array (ancestors, &n, sizeof (guint32));

      g_array_append_vals (boot->ancestors, ids, n);
    }
  g_variant_lookup (params, "name", "s", &boot->name);
  g_variant_lookup (params, "plugin_path", "s", &boot->plugin_path);
  g_variant_lookup (params, "max_message_size", "t", &boot->max_message_size);
  g_variant_lookup (params, "max_buffered", "t", &boot->max_buffered);
  if (g_variant_lookup (params, "debug", "b", &b))
    boot->debug = b;
  if (g_variant_lookup (params, "unidirectional", "b", &b))
    boot->unidirectional = b;
  return g_steal_pointer (&boot);
}

GBytes *
_mitogen_ready_encode (const char *name)
{
  GVariantDict dict;
  struct utsname u;

  if (uname (&u) != 0)
    g_strlcpy (u.machine, "unknown", sizeof u.machine);
  g_variant_dict_init (&dict, NULL);
  g_variant_dict_insert (&dict, "name", "s", name);
  g_variant_dict_insert (&dict, "pid", "i", (gint32) getpid ());
  g_variant_dict_insert (&dict, "uid", "u", (guint32) getuid ());
  g_variant_dict_insert (&dict, "hostname", "s", g_get_host_name ());
  g_variant_dict_insert (&dict, "arch", "s", u.machine);
  g_variant_dict_insert (&dict, "version", "s", PACKAGE_VERSION);
  return dict_to_bytes (&dict);
}

GBytes *
_mitogen_ready_encode_error (const char *why)
{
  GVariantDict dict;

  g_variant_dict_init (&dict, NULL);
  g_variant_dict_insert (&dict, "error", "s", why);
  return dict_to_bytes (&dict);
}

GVariant *
_mitogen_ready_decode (GBytes      *data,
                       const char  *what,
                       GError     **error)
{
  g_autoptr(GVariant) info = vardict_from_bytes (data);
  const char *text;

  if (info != NULL && g_variant_lookup (info, "error", "&s", &text))
    {
      g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_STREAM,
                   "%s: the agent failed to start: %s", what, text);
      return NULL;
    }
  if (info == NULL || !g_variant_lookup (info, "name", "&s", &text))
    {
      g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_PROTOCOL,
                   "%s: the agent's ready frame is malformed", what);
      return NULL;
    }
  return g_steal_pointer (&info);
}
