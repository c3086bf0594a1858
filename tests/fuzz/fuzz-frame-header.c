/* fuzz-frame-header.c: libFuzzer harness for the frame header decoder,
 * the first thing that reads a peer's bytes. A header that decodes must
 * encode back to the same bytes; one that does not must say why.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "fuzz-common.h"

#include "mitogen-message-private.h"

int
LLVMFuzzerTestOneInput (const guint8 *data,
                        size_t        size)
{
  g_autoptr(GError) error = NULL;
  MitogenFrameHeader hdr;
  guint8 again[MITOGEN_HEADER_SIZE];
  gsize max_length;

  if (size < MITOGEN_HEADER_SIZE + 1)
    return 0;
  /* The last byte picks the size limit, so both outcomes get explored. */
  max_length = (gsize) data[MITOGEN_HEADER_SIZE] << 16;
  if (!_mitogen_frame_header_decode (data, max_length, &hdr, &error))
    {
      g_assert_error (error, MITOGEN_ERROR, MITOGEN_ERROR_PROTOCOL);
      return 0;
    }
  g_assert_cmpuint (hdr.length, <=, max_length);
  _mitogen_frame_header_encode (again, &hdr);
  g_assert_cmpmem (again, sizeof again, data, MITOGEN_HEADER_SIZE);
  return 0;
}
