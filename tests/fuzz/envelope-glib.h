/* envelope-glib.h: GLib's own, generic writing and reading of a message
 * body, the reference the envelope codec is held to by test-envelope and
 * fuzz-envelope.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <string.h>

#include <glib.h>

static GBytes *
glib_encode (guint8    kind,
             GVariant *value)
{
  g_autoptr(GVariant) boxed = g_variant_ref_sink (g_variant_new_variant (g_variant_new ("(yv)", kind, value)));

  return g_variant_get_data_as_bytes (boxed);
}

/* Whether GLib reads @value without a default substituted anywhere: its
 * normal form is its own bytes. (g_variant_is_normal_form() alone says
 * yes to a type string nested too deep to scan, whose value GLib reads as
 * "()".) */
static gboolean
same_data (GVariant *a,
           GVariant *b)
{
  gsize size = g_variant_get_size (a);

  /* The data of an empty value may be NULL, which memcmp() must not see. */
  return size == g_variant_get_size (b) &&
         (size == 0 || memcmp (g_variant_get_data (a), g_variant_get_data (b), size) == 0);
}

static gboolean
is_normal (GVariant *value)
{
  g_autoptr(GVariant) normal = g_variant_get_normal_form (value);

  return g_variant_is_normal_form (value) && same_data (normal, value);
}

/* GLib's own reading of a boxed body, the engine's before the codec:
 * FALSE if it is not a "(yv)". It is @normal if GLib substituted nothing
 * in reading it and it is GLib's normal form: written again, it is the
 * same bytes, and the value is in normal form. (This rather than
 * g_variant_is_normal_form() on the body: GLib 2.74 says a body whose
 * type string nests 129 deep is in normal form, while
 * g_variant_get_child_value() reads its value as "()".) */
static gboolean
glib_decode (GBytes    *data,
             guint8    *kind,
             GVariant **value,
             gboolean  *normal)
{
  g_autoptr(GVariant) boxed = g_variant_ref_sink (g_variant_new_from_bytes (G_VARIANT_TYPE_VARIANT, data, FALSE));
  g_autoptr(GVariant) body = g_variant_get_variant (boxed);
  g_autoptr(GBytes) again = NULL;

  if (!g_variant_is_of_type (body, G_VARIANT_TYPE ("(yv)")))
    return FALSE;
  g_variant_get (body, "(yv)", kind, value);
  /* GLib 2.74 hands out a floating "()" for a value nested too deep. */
  g_variant_take_ref (*value);
  again = glib_encode (*kind, *value);
  *normal = g_bytes_equal (again, data) && is_normal (*value);
  return TRUE;
}

static void
assert_variant_equal (GVariant *got,
                      GVariant *expected)
{
  if (!g_variant_equal (got, expected))
    {
      g_autofree char *a = g_variant_print (got, TRUE);
      g_autofree char *b = g_variant_print (expected, TRUE);

      g_error ("got %.200s, expected %.200s", a, b);
    }
}
