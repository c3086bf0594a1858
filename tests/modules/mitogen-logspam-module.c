/* mitogen-logspam-module.c: a user module that plays a context abusing
 * log forwarding (test-log-abuse). It logs what it is told through the
 * agent's own log writer, or skips the agent and sends FORWARD_LOG frames
 * it made itself, as a hostile context would: any level bits, any bytes,
 * as many as it likes.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <string.h>

#include <mitogen/mitogen.h>

#define DOMAIN "logspam"

static gboolean
check_args (GVariant    *args,
            const char  *type,
            const char  *function,
            GError     **error)
{
  if (args != NULL && g_variant_is_of_type (args, G_VARIANT_TYPE (type)))
    return TRUE;
  g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_CALL, "%s takes %s", function, type);
  return FALSE;
}

/* The bytes of an `ay` as a string; they must hold no NUL. */
static char *
bytes_to_text (GVariant  *bytes,
               GError   **error)
{
  gsize len;
  const char *data = g_variant_get_fixed_array (bytes, &len, 1);

  if (memchr (data, '\0', len) != NULL)
    {
      g_set_error_literal (error, MITOGEN_ERROR, MITOGEN_ERROR_CALL, "text with a NUL byte");
      return NULL;
    }
  return g_strndup (data, len);
}

/* logspam.log (s level, ay text) → (): logs @text, whatever its bytes, in
 * the "logspam" domain through the agent's log writer. */
static GVariant *
logspam_log (MitogenCall *call, GVariant *args, gpointer data, GError **error)
{
  static const struct { const char *name; GLogLevelFlags level; } levels[] = {
    { "critical", G_LOG_LEVEL_CRITICAL },
    { "warning", G_LOG_LEVEL_WARNING },
    { "message", G_LOG_LEVEL_MESSAGE },
    { "info", G_LOG_LEVEL_INFO },
  };
  g_autoptr(GVariant) bytes = NULL;
  g_autofree char *text = NULL;
  const char *level;

  if (!check_args (args, "(say)", "logspam.log", error))
    return NULL;
  g_variant_get (args, "(&s@ay)", &level, &bytes);
  text = bytes_to_text (bytes, error);
  if (text == NULL)
    return NULL;
  for (gsize i = 0; i < G_N_ELEMENTS (levels); i++)
    if (g_str_equal (levels[i].name, level))
      {
        g_log (DOMAIN, levels[i].level, "%s", text);
        return NULL;
      }
  g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_CALL, "no level “%s”", level);
  return NULL;
}

/* Where @needle (@len bytes) first occurs in @data, or NULL. */
static guint8 *
find_bytes (guint8     *data,
            gsize       size,
            const char *needle,
            gsize       len)
{
  for (gsize i = 0; len > 0 && i + len <= size; i++)
    if (memcmp (data + i, needle, len) == 0)
      return data + i;
  return NULL;
}

/* A `(sis)` record whose message is @text as it is, valid UTF-8 or not:
 * made from a record with a placeholder of the same length, whose bytes
 * are then overwritten, and handed on as untrusted data. */
static GVariant *
raw_record (gint32      level,
            const char *text)
{
  gsize len = strlen (text);
  g_autofree char *placeholder = g_strnfill (len, '\x01');
  g_autoptr(GVariant) model = g_variant_ref_sink (g_variant_new ("(sis)", DOMAIN, level, placeholder));
  gsize size = g_variant_get_size (model);
  guint8 *data = g_malloc (size);
  guint8 *at;

  g_variant_store (model, data);
  at = find_bytes (data, size, placeholder, len);
  if (at != NULL)
    memcpy (at, text, len);
  return g_variant_new_from_data (G_VARIANT_TYPE ("(sis)"), data, size, FALSE, g_free, data);
}

/* logspam.forge (u count, i level, ay text) → (): sends @count
 * FORWARD_LOG frames of its own making to the master, @level and @text as
 * they are, bypassing the agent's log writer. */
static GVariant *
logspam_forge (MitogenCall *call, GVariant *args, gpointer data, GError **error)
{
  MitogenRouter *router = mitogen_call_get_router (call);
  g_autoptr(GVariant) bytes = NULL;
  g_autofree char *text = NULL;
  guint32 count;
  gint32 level;

  if (!check_args (args, "(uiay)", "logspam.forge", error))
    return NULL;
  g_variant_get (args, "(ui@ay)", &count, &level, &bytes);
  text = bytes_to_text (bytes, error);
  if (text == NULL)
    return NULL;
  for (guint32 i = 0; i < count; i++)
    {
      g_autoptr(MitogenMessage) msg = mitogen_message_new (0, MITOGEN_HANDLE_FORWARD_LOG,
                                                           raw_record (level, text));

      if (!mitogen_router_route (router, msg, error))
        return NULL;
    }
  return NULL;
}

static void
register_functions (void)
{
  mitogen_register_function ("logspam.log", logspam_log, NULL, NULL);
  mitogen_register_function ("logspam.forge", logspam_forge, NULL, NULL);
}

MITOGEN_DEFINE_MODULE (register_functions)
