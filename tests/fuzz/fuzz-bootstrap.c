/* fuzz-bootstrap.c: libFuzzer harness for the first frame each way on a
 * new stream: the bootstrap an agent reads from its parent, and the ready
 * frame a parent reads from its agent (engine/mitogen-bootstrap.c). Both
 * decoders get the same bytes; each either decodes them or fails with an
 * error of the documented codes.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "fuzz-common.h"

#include "mitogen-bootstrap-private.h"

int
LLVMFuzzerTestOneInput (const guint8 *data,
                        size_t        size)
{
  g_autoptr(GBytes) bytes = g_bytes_new (data, size);
  g_autoptr(GError) error = NULL;
  g_autoptr(MitogenBootstrap) boot = NULL;
  g_autoptr(GVariant) info = NULL;

  boot = _mitogen_bootstrap_decode (bytes, &error);
  if (boot == NULL)
    g_assert_error (error, MITOGEN_ERROR, MITOGEN_ERROR_PROTOCOL);
  else
    {
      /* What decoded encodes again, and that decodes too. */
      g_autoptr(GBytes) again = _mitogen_bootstrap_encode (boot);
      g_autoptr(MitogenBootstrap) twice = _mitogen_bootstrap_decode (again, &error);

      g_assert_no_error (error);
      g_assert_cmpuint (twice->context_id, ==, boot->context_id);
      g_assert_cmpstr (twice->serializer, ==, boot->serializer);
    }
  g_clear_error (&error);

  info = _mitogen_ready_decode (bytes, "fuzz", &error);
  if (info == NULL)
    g_assert_true (g_error_matches (error, MITOGEN_ERROR, MITOGEN_ERROR_PROTOCOL) ||
                   g_error_matches (error, MITOGEN_ERROR, MITOGEN_ERROR_STREAM));
  else
    g_assert_true (g_variant_is_of_type (info, G_VARIANT_TYPE_VARDICT));
  return 0;
}
