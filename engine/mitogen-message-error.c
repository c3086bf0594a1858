/* mitogen-message-error.c: a remote error on the wire: the record a
 * context sends for a GError, and the GError made from a record any peer
 * may have forged.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <string.h>

#include "mitogen-message-private.h"

GVariant *
_mitogen_error_record_new (const GError *error,
                           const char   *context_name,
                           const char   *function)
{
  GVariantDict dict;

  g_variant_dict_init (&dict, NULL);
  g_variant_dict_insert (&dict, "message", "s", error->message);
  g_variant_dict_insert (&dict, "domain", "s", g_quark_to_string (error->domain));
  g_variant_dict_insert (&dict, "code", "i", error->code);
  if (context_name != NULL)
    g_variant_dict_insert (&dict, "context", "s", context_name);
  if (function != NULL)
    g_variant_dict_insert (&dict, "function", "s", function);
  return g_variant_dict_end (&dict);
}

/* The longest error domain accepted from the wire. GLib's own are under
 * 40 bytes; anything much longer is not a quark name but an attack. */
#define MAX_REMOTE_DOMAIN 128

/* How many error domains the wire may add to this process's quark table.
 * Quarks live for ever, so a hostile context sending a new domain with
 * every error would otherwise grow it without end. */
#define MAX_REMOTE_QUARKS 256

static gint remote_quarks_made;  /* atomic */

/* Quark names as GLib and libraries write them ("g-io-error-quark"). */
static gboolean
domain_is_plausible (const char *domain)
{
  gsize len = strlen (domain);

  if (len == 0 || len > MAX_REMOTE_DOMAIN)
    return FALSE;
  for (gsize i = 0; i < len; i++)
    if (!g_ascii_isalnum (domain[i]) && domain[i] != '-' && domain[i] != '_' && domain[i] != '.')
      return FALSE;
  return TRUE;
}

/* The quark for a domain named on the wire, or 0 when this process does
 * not know it and may not learn more domains from the wire. */
static GQuark
quark_from_wire (const char *domain)
{
  GQuark quark = g_quark_try_string (domain);

  if (quark != 0)
    return quark;
  /* Read first, so that a flood past the budget cannot wrap the count. */
  if (g_atomic_int_get (&remote_quarks_made) >= MAX_REMOTE_QUARKS ||
      g_atomic_int_add (&remote_quarks_made, 1) >= MAX_REMOTE_QUARKS)
    return 0;
  return g_quark_from_string (domain);
}

typedef enum {
  RECORD_OK,          /* domain and code are the remote error's */
  RECORD_NO_DOMAIN,   /* an error record without a domain: MITOGEN_ERROR_CALL */
  RECORD_UNKNOWN,     /* a domain past the quark budget: MITOGEN_ERROR_CALL */
  RECORD_MALFORMED,   /* garbage: MITOGEN_ERROR_PROTOCOL */
} RecordStatus;

/* Reads the domain and code of an error record. Any bytes may arrive
 * here: every field is checked before use. */
static RecordStatus
record_domain_and_code (GVariant  *record,
                        GQuark    *domain,
                        gint      *code)
{
  g_autoptr(GVariant) domain_v = g_variant_lookup_value (record, "domain", NULL);
  g_autoptr(GVariant) code_v = g_variant_lookup_value (record, "code", NULL);
  const char *name;
  gint32 value;

  if (domain_v == NULL)
    return RECORD_NO_DOMAIN;
  if (!g_variant_is_of_type (domain_v, G_VARIANT_TYPE_STRING) ||
      code_v == NULL || !g_variant_is_of_type (code_v, G_VARIANT_TYPE_INT32))
    return RECORD_MALFORMED;
  name = g_variant_get_string (domain_v, NULL);
  value = g_variant_get_int32 (code_v);
  /* GError codes are enum values, never negative. */
  if (!domain_is_plausible (name) || value < 0)
    return RECORD_MALFORMED;
  if (g_str_equal (name, g_quark_to_string (MITOGEN_ERROR)) && value > MITOGEN_ERROR_PROTOCOL)
    return RECORD_MALFORMED;
  *domain = quark_from_wire (name);
  *code = value;
  return *domain != 0 ? RECORD_OK : RECORD_UNKNOWN;
}

/* Turns a remote error record into a GError that keeps the remote domain
 * and code. The message is "context NAME: FUNCTION: TEXT" (parts the
 * record lacks are left out), so the caller sees where it failed. */
void
_mitogen_error_record_to_error (GError   **error,
                                GVariant  *record)
{
  const char *text = "unknown error";
  const char *context = NULL;
  const char *function = NULL;
  g_autoptr(GString) message = g_string_new (NULL);
  GQuark domain = MITOGEN_ERROR;
  gint code = MITOGEN_ERROR_CALL;

  g_variant_lookup (record, "message", "&s", &text);
  g_variant_lookup (record, "context", "&s", &context);
  g_variant_lookup (record, "function", "&s", &function);
  if (context != NULL)
    g_string_append_printf (message, "context %s: ", context);
  if (function != NULL)
    g_string_append_printf (message, "%s: ", function);

  switch (record_domain_and_code (record, &domain, &code))
    {
    case RECORD_OK:
      break;
    case RECORD_NO_DOMAIN:
      domain = MITOGEN_ERROR;
      code = MITOGEN_ERROR_CALL;
      break;
    case RECORD_UNKNOWN:
      domain = MITOGEN_ERROR;
      code = MITOGEN_ERROR_CALL;
      break;
    case RECORD_MALFORMED:
    default:
      domain = MITOGEN_ERROR;
      code = MITOGEN_ERROR_PROTOCOL;
      g_string_append (message, "malformed remote error: ");
      break;
    }
  g_string_append (message, text);
  g_set_error_literal (error, domain, code, message->str);
}

gboolean
_mitogen_error_record_get_code (GVariant *record,
                                GQuark   *domain,
                                gint     *code)
{
  return g_variant_is_of_type (record, G_VARIANT_TYPE_VARDICT) &&
         record_domain_and_code (record, domain, code) == RECORD_OK;
}
