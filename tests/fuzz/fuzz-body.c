/* fuzz-body.c: libFuzzer harness for a message body as a peer sends it,
 * decoded by the serializer named by FUZZ_SERIALIZER ("gvariant" or
 * "json", loaded from MITOGEN_PLUGIN_PATH as an agent would). Decoding
 * either gives a value or fails with MITOGEN_ERROR_PROTOCOL; a value
 * decoded must encode, and (for JSON, whose decoder checks everything)
 * decode again to the same value.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "fuzz-common.h"

#include <mitogen/mitogen.h>

static MitogenSerializer *serializer;

int
LLVMFuzzerTestOneInput (const guint8 *data,
                        size_t        size)
{
  g_autoptr(GBytes) bytes = g_bytes_new (data, size);
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) value = NULL;
  g_autoptr(GBytes) again = NULL;
  g_autoptr(GVariant) back = NULL;

  if (serializer == NULL)
    {
      serializer = mitogen_serializer_lookup (FUZZ_SERIALIZER, &error);
      g_assert_no_error (error);
    }
  value = mitogen_serializer_deserialize (serializer, bytes, &error);
  if (value == NULL)
    {
      g_assert_error (error, MITOGEN_ERROR, MITOGEN_ERROR_PROTOCOL);
      return 0;
    }
  again = mitogen_serializer_serialize (serializer, value, &error);
  g_assert_no_error (error);
  back = mitogen_serializer_deserialize (serializer, again, &error);
  g_assert_no_error (error);
  if (g_str_equal (FUZZ_SERIALIZER, "json"))
    g_assert_true (g_variant_equal (back, value));
  return 0;
}
