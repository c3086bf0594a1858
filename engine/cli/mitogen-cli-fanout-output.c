/* mitogen-cli-fanout-output.c: what the fan-out prints: lines after the
 * host's name, -b's gathered outputs, --json's objects, the progress line
 * and the summary of failures.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <string.h>

#include "mitogen-cli-fanout.h"
#include "mitogen-cli-hosts.h"

void
fanout_clear_progress (Fanout *fo)
{
  if (fo->progress)
    fputs ("\r\033[K", stderr);
}

void
fanout_show_progress (Fanout *fo)
{
  if (!fo->progress)
    return;
  fprintf (stderr, "\r\033[K%u/%u, %u failed", fo->done, fo->n_hosts, fo->failed);
  fflush (stderr);
}

/* Writes @size bytes at @data line by line, each after "LABEL: "; a last
 * line without its newline gets one. */
void
fanout_print_prefixed (FILE         *to,
                const char   *label,
                const guint8 *data,
                gsize         size)
{
  const char *p = (const char *) data;
  const char *end = p + size;

  while (p < end)
    {
      const char *nl = memchr (p, '\n', end - p);
      const char *stop = nl != NULL ? nl : end;

      fprintf (to, "%s: ", label);
      fwrite (p, 1, stop - p, to);
      fputc ('\n', to);
      p = stop + 1;
    }
  fflush (to);
}

static void
print_prefixed_bytes (FILE       *to,
                      const char *label,
                      GBytes     *bytes)
{
  gsize size = 0;
  const guint8 *data = bytes != NULL ? g_bytes_get_data (bytes, &size) : NULL;

  if (size > 0)
    fanout_print_prefixed (to, label, data, size);
}

/* A JSON string of @size bytes at @data: bytes that are not UTF-8 become
 * U+FFFD, so that the line is always valid JSON. */
static void
json_string (GString    *json,
             const char *data,
             gssize      size)
{
  g_autofree char *valid = g_utf8_make_valid (data != NULL ? data : "", data != NULL ? size : 0);

  g_string_append_c (json, '"');
  for (const char *p = valid; *p != '\0'; p++)
    {
      unsigned char c = *p;

      if (c == '"' || c == '\\')
        g_string_append_printf (json, "\\%c", c);
      else if (c == '\n')
        g_string_append (json, "\\n");
      else if (c == '\t')
        g_string_append (json, "\\t");
      else if (c == '\r')
        g_string_append (json, "\\r");
      else if (c < 0x20)
        g_string_append_printf (json, "\\u%04x", c);
      else
        g_string_append_c (json, c);
    }
  g_string_append_c (json, '"');
}

static void
json_bytes (GString *json,
            GBytes  *bytes)
{
  gsize size = 0;
  const char *data = bytes != NULL ? g_bytes_get_data (bytes, &size) : NULL;

  json_string (json, data, size);
}

static void
print_json (HostRun *hr)
{
  g_autoptr(GString) json = g_string_new ("{\"host\":");

  json_string (json, hr->label, -1);
  g_string_append (json, ",\"target\":");
  json_string (json, hr->target, -1);
  /* The gateway it was started through (--fanout-via), or null. */
  g_string_append (json, ",\"via\":");
  if (hr->via != NULL)
    json_string (json, hr->via, -1);
  else
    g_string_append (json, "null");
  if (hr->exit_code >= 0)
    g_string_append_printf (json, ",\"exit_status\":%d", hr->exit_code);
  else
    g_string_append (json, ",\"exit_status\":null");
  if (hr->signal > 0)
    g_string_append_printf (json, ",\"signal\":%d", hr->signal);
  else
    g_string_append (json, ",\"signal\":null");
  g_string_append (json, ",\"stdout\":");
  json_bytes (json, hr->out);
  g_string_append (json, ",\"stderr\":");
  json_bytes (json, hr->err);
  g_string_append (json, ",\"error\":");
  if (hr->error != NULL && hr->status != 0)
    json_string (json, hr->error, -1);
  else
    g_string_append (json, "null");
  /* %g would follow the locale's decimal separator. */
  g_string_append_printf (json, ",\"seconds\":%" G_GINT64_FORMAT ".%03d}\n",
                          (gint64) hr->seconds, (int) ((hr->seconds - (gint64) hr->seconds) * 1000));
  fwrite (json->str, 1, json->len, stdout);
  fflush (stdout);
}

/* As a host finishes: its output, unless -b gathers it for the end. */
void
fanout_print_host (HostRun *hr)
{
  if (hr->fanout->json)
    print_json (hr);
  else if (!hr->fanout->gather)
    {
      print_prefixed_bytes (stdout, hr->label, hr->out);
      print_prefixed_bytes (stderr, hr->label, hr->err);
    }
  if (!hr->fanout->json && hr->status != 0 && hr->error != NULL)
    fprintf (stderr, "mitogen: %s: %s\n", hr->label, hr->error);
}

/* -b: each distinct output once, under the folded set of its hosts, in
 * the order the outputs first came in the host list. */
void
fanout_print_gathered (Fanout *fo,
                FILE   *to,
                gboolean errors)
{
  g_autoptr(GHashTable) groups = g_hash_table_new_full (g_bytes_hash, g_bytes_equal, NULL,
                                                        (GDestroyNotify) g_ptr_array_unref);
  g_autoptr(GPtrArray) order = g_ptr_array_new ();

  for (guint i = 0; i < fo->n_hosts; i++)
    {
      GBytes *out = errors ? fo->hosts[i].err : fo->hosts[i].out;
      GPtrArray *labels;

      if (out == NULL || g_bytes_get_size (out) == 0)
        continue;
      labels = g_hash_table_lookup (groups, out);
      if (labels == NULL)
        {
          labels = g_ptr_array_new ();
          g_hash_table_insert (groups, out, labels);
          g_ptr_array_add (order, out);
        }
      g_ptr_array_add (labels, fo->hosts[i].label);
    }
  for (guint i = 0; i < order->len; i++)
    {
      GBytes *out = order->pdata[i];
      GPtrArray *labels = g_hash_table_lookup (groups, out);
      g_autofree char *folded = cli_hostlist_fold ((const char *const *) labels->pdata, labels->len);
      gsize size;
      const char *data = g_bytes_get_data (out, &size);

      fprintf (to, "---------------\n%s\n---------------\n", folded);
      fwrite (data, 1, size, to);
      if (data[size - 1] != '\n')
        fputc ('\n', to);
    }
  fflush (to);
}

/* The failed hosts, those with the same reason together. */
void
fanout_print_summary (Fanout *fo)
{
  g_autoptr(GHashTable) reasons = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
                                                         (GDestroyNotify) g_ptr_array_unref);
  g_autoptr(GPtrArray) order = g_ptr_array_new ();

  if (fo->failed == 0)
    return;
  for (guint i = 0; i < fo->n_hosts; i++)
    {
      HostRun *hr = &fo->hosts[i];
      const char *reason = hr->error != NULL ? hr->error : "not run";
      GPtrArray *labels;

      if (hr->status == 0)
        continue;
      labels = g_hash_table_lookup (reasons, reason);
      if (labels == NULL)
        {
          labels = g_ptr_array_new ();
          g_hash_table_insert (reasons, (gpointer) reason, labels);
          g_ptr_array_add (order, (gpointer) reason);
        }
      g_ptr_array_add (labels, hr->label);
    }
  fprintf (stderr, "mitogen: %u of %u hosts failed:\n", fo->failed, fo->n_hosts);
  for (guint i = 0; i < order->len; i++)
    {
      GPtrArray *labels = g_hash_table_lookup (reasons, order->pdata[i]);
      g_autofree char *folded = cli_hostlist_fold ((const char *const *) labels->pdata, labels->len);

      fprintf (stderr, "  %s: %s\n", folded, (const char *) order->pdata[i]);
    }
}
