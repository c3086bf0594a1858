/* mitogen-sha256.c: SHA-256 with the CPU's SHA instructions
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A transfer hashes every byte twice (the reader and the writer each take
 * the sha256 of what they saw), so the hash bounds its throughput: GLib's
 * portable SHA-256 runs at about 0.5 GB/s here, the x86-64 SHA extensions
 * (SHA-NI, on most x86 CPUs since 2017) at about 2 GB/s. Where the CPU has
 * none, or on another architecture, GChecksum does the work; the result is
 * the same either way (tests/test-sha256.c compares both on random input).
 */
#include "config.h"

#include <string.h>

#include "mitogen-sha256-private.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
# define HAVE_SHA_NI 1
# include <cpuid.h>
# include <immintrin.h>
#endif

#define BLOCK 64

struct _MitogenSha256
{
  GChecksum *portable;       /* the fallback, or NULL when SHA-NI is used */
  guint32    state[8];       /* a..h between blocks */
  guint8     pending[BLOCK]; /* the start of an incomplete block */
  gsize      n_pending;      /* bytes used in @pending */
  guint64    total;          /* bytes hashed so far, for the padding */
  char       hex[65];        /* the digest, once finished ("" before) */
};

#ifdef HAVE_SHA_NI

static const guint32 round_constants[64] = {
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static const guint32 initial_state[8] = {
  0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
  0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
};

/* Hashes @n_blocks whole blocks. The instructions keep the eight words in
 * two registers, ABEF and CDGH (A in the top lane), and do two rounds per
 * SHA256RNDS2; SHA256MSG1/MSG2 extend the message schedule four words at
 * a time, each from the four vectors before it (m[] is a ring of them). */
__attribute__ ((target ("sha,sse4.1,ssse3")))
static void
compress_sha_ni (guint32       state[8],
                 const guint8 *data,
                 gsize         n_blocks)
{
  const __m128i big_endian = _mm_set_epi64x (0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
  __m128i lo = _mm_loadu_si128 ((const __m128i *) &state[0]);
  __m128i hi = _mm_loadu_si128 ((const __m128i *) &state[4]);
  __m128i badc = _mm_shuffle_epi32 (lo, 0xB1);
  __m128i hgfe = _mm_shuffle_epi32 (hi, 0x1B);
  __m128i abef = _mm_alignr_epi8 (badc, hgfe, 8);
  __m128i cdgh = _mm_blend_epi16 (hgfe, badc, 0xF0);

  for (; n_blocks > 0; n_blocks--, data += BLOCK)
    {
      __m128i abef_before = abef, cdgh_before = cdgh;
      __m128i m[4];

      for (int i = 0; i < 4; i++)
        m[i] = _mm_shuffle_epi8 (_mm_loadu_si128 ((const __m128i *) (data + 16 * i)), big_endian);

#pragma GCC unroll 16
      for (int group = 0; group < 16; group++)
        {
          __m128i w, wk;

          if (group < 4)
            w = m[group];
          else
            {
              /* m[group & 3] holds W[group-4]; the next ones follow. */
              __m128i w4 = m[group & 3], w3 = m[(group + 1) & 3];
              __m128i w2 = m[(group + 2) & 3], w1 = m[(group + 3) & 3];

              w = _mm_sha256msg1_epu32 (w4, w3);
              w = _mm_add_epi32 (w, _mm_alignr_epi8 (w1, w2, 4));
              w = _mm_sha256msg2_epu32 (w, w1);
              m[group & 3] = w;
            }
          wk = _mm_add_epi32 (w, _mm_loadu_si128 ((const __m128i *) &round_constants[4 * group]));
          /* After two rounds the old ABEF is the new CDGH. */
          cdgh = _mm_sha256rnds2_epu32 (cdgh, abef, wk);
          abef = _mm_sha256rnds2_epu32 (abef, cdgh, _mm_shuffle_epi32 (wk, 0x0E));
        }
      abef = _mm_add_epi32 (abef, abef_before);
      cdgh = _mm_add_epi32 (cdgh, cdgh_before);
    }

  {
    __m128i feba = _mm_shuffle_epi32 (abef, 0x1B);
    __m128i dchg = _mm_shuffle_epi32 (cdgh, 0xB1);

    _mm_storeu_si128 ((__m128i *) &state[0], _mm_blend_epi16 (feba, dchg, 0xF0));
    _mm_storeu_si128 ((__m128i *) &state[4], _mm_alignr_epi8 (dchg, feba, 8));
  }
}

static gboolean
detect_sha_ni (void)
{
  unsigned int eax, ebx, ecx, edx;
  const unsigned int ssse3 = 1u << 9, sse41 = 1u << 19, sha = 1u << 29;

  if (g_getenv ("MITOGEN_SHA256_PORTABLE") != NULL)   /* for tests and comparisons */
    return FALSE;
  if (!__get_cpuid (1, &eax, &ebx, &ecx, &edx) || (ecx & (ssse3 | sse41)) != (ssse3 | sse41))
    return FALSE;
  if (!__get_cpuid_count (7, 0, &eax, &ebx, &ecx, &edx))
    return FALSE;
  return (ebx & sha) != 0;
}

#endif /* HAVE_SHA_NI */

/**
 * _mitogen_sha256_accelerated:
 *
 * Returns: whether this process hashes with the CPU's SHA instructions
 */
gboolean
_mitogen_sha256_accelerated (void)
{
#ifdef HAVE_SHA_NI
  static gsize once;

  if (g_once_init_enter (&once))
    g_once_init_leave (&once, detect_sha_ni () ? 2 : 1);
  return once == 2;
#else
  return FALSE;
#endif
}

MitogenSha256 *
_mitogen_sha256_new (void)
{
  MitogenSha256 *sha = g_new0 (MitogenSha256, 1);

#ifdef HAVE_SHA_NI
  if (_mitogen_sha256_accelerated ())
    {
      memcpy (sha->state, initial_state, sizeof sha->state);
      return sha;
    }
#endif
  sha->portable = g_checksum_new (G_CHECKSUM_SHA256);
  return sha;
}

void
_mitogen_sha256_update (MitogenSha256 *sha,
                        const guint8  *data,
                        gsize          len)
{
  g_return_if_fail (sha->hex[0] == '\0');

  if (len == 0)
    return;   /* @data may be NULL */
  if (sha->portable != NULL)
    {
      g_checksum_update (sha->portable, data, len);
      return;
    }
#ifdef HAVE_SHA_NI
  sha->total += len;
  if (sha->n_pending > 0)
    {
      gsize take = MIN (len, BLOCK - sha->n_pending);

      memcpy (sha->pending + sha->n_pending, data, take);
      sha->n_pending += take;
      data += take;
      len -= take;
      if (sha->n_pending < BLOCK)
        return;
      compress_sha_ni (sha->state, sha->pending, 1);
      sha->n_pending = 0;
    }
  if (len >= BLOCK)
    {
      compress_sha_ni (sha->state, data, len / BLOCK);
      data += len - len % BLOCK;
      len %= BLOCK;
    }
  memcpy (sha->pending, data, len);
  sha->n_pending = len;
#endif
}

#ifdef HAVE_SHA_NI
/* Pads the last block (a 1 bit, zeros, the length in bits, big-endian)
 * and writes the digest in hex. */
static void
finish_sha_ni (MitogenSha256 *sha)
{
  guint8 tail[2 * BLOCK] = { 0 };
  gsize tail_len = sha->n_pending < BLOCK - 8 ? BLOCK : 2 * BLOCK;
  guint64 bits = sha->total * 8;

  memcpy (tail, sha->pending, sha->n_pending);
  tail[sha->n_pending] = 0x80;
  for (int i = 0; i < 8; i++)
    tail[tail_len - 1 - i] = (guint8) (bits >> (8 * i));
  compress_sha_ni (sha->state, tail, tail_len / BLOCK);

  for (int i = 0; i < 8; i++)
    g_snprintf (sha->hex + 8 * i, 9, "%08x", sha->state[i]);
}
#endif

const char *
_mitogen_sha256_get_string (MitogenSha256 *sha)
{
  if (sha->hex[0] != '\0')
    return sha->hex;
  if (sha->portable != NULL)
    g_strlcpy (sha->hex, g_checksum_get_string (sha->portable), sizeof sha->hex);
#ifdef HAVE_SHA_NI
  else
    finish_sha_ni (sha);
#endif
  return sha->hex;
}

void
_mitogen_sha256_free (MitogenSha256 *sha)
{
  if (sha == NULL)
    return;
  g_clear_pointer (&sha->portable, g_checksum_free);
  g_free (sha);
}

char *
_mitogen_sha256_compute (const guint8 *data,
                         gsize         len)
{
  g_autoptr(MitogenSha256) sha = _mitogen_sha256_new ();

  _mitogen_sha256_update (sha, data, len);
  return g_strdup (_mitogen_sha256_get_string (sha));
}
