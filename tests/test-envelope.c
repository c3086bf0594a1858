/* test-envelope.c: the hand-written codec of a message's fixed part
 * (mitogen-envelope.c) against GLib's generic GVariant code: the same
 * bytes out, the same values in, and where GLib would read a default from
 * hostile bytes, a protocol error instead.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <string.h>

#include "mitogen-envelope-private.h"
#include "fuzz/envelope-glib.h"
#include "mitogen-message-private.h"

#define SEED 20260515
#define BOX_TAIL_FOR_TEST "\0(yv)"

/* Lengths that cross the widths of GVariant's framing offsets (1, 2 and 4
 * bytes) are the ones worth testing; small ones are the common case. */
static gsize
random_length (GRand *rand)
{
  switch (g_rand_int_range (rand, 0, 40))
    {
    case 0:
      return g_rand_int_range (rand, 65530, 65542);
    case 1: case 2: case 3: case 4:
      return g_rand_int_range (rand, 245, 265);
    default:
      return g_rand_int_range (rand, 0, 20);
    }
}

static char *
random_string (GRand *rand,
               gsize  len)
{
  char *s = g_malloc (len + 1);

  for (gsize i = 0; i < len; i++)
    s[i] = (char) g_rand_int_range (rand, 'a', 'z' + 1);
  s[len] = '\0';
  return s;
}

static GVariant *random_value (GRand *rand, guint depth);

static GVariant *
random_bytes_value (GRand *rand)
{
  gsize len = random_length (rand);
  g_autofree guint8 *data = g_malloc (len + 1);

  for (gsize i = 0; i < len; i++)
    data[i] = (guint8) g_rand_int (rand);
  return g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, data, len, 1);
}

static GVariant *
random_dict (GRand *rand,
             guint  depth)
{
  g_auto(GVariantBuilder) builder = G_VARIANT_BUILDER_INIT (G_VARIANT_TYPE_VARDICT);
  guint n = g_rand_int_range (rand, 0, 5);

  for (guint i = 0; i < n; i++)
    {
      g_autofree char *key = random_string (rand, g_rand_int_range (rand, 0, 8));

      g_variant_builder_add (&builder, "{sv}", key, random_value (rand, depth + 1));
    }
  return g_variant_builder_end (&builder);
}

static GVariant *
random_tuple (GRand *rand,
              guint  depth)
{
  guint n = g_rand_int_range (rand, 0, 5);
  GVariant *children[5];

  for (guint i = 0; i < n; i++)
    children[i] = random_value (rand, depth + 1);
  return g_variant_new_tuple (children, n);
}

/* A random value of one of many types; deeper values are more often
 * leaves. */
static GVariant *
random_value (GRand *rand,
              guint  depth)
{
  guint pick = g_rand_int_range (rand, 0, depth > 3 ? 12 : 17);

  switch (pick)
    {
    case 0:
      return g_variant_new_tuple (NULL, 0);
    case 1:
      {
        g_autofree char *s = random_string (rand, random_length (rand));
        return g_variant_new_string (s);
      }
    case 2:
      return g_variant_new_int32 ((gint32) g_rand_int (rand));
    case 3:
      return g_variant_new_uint64 (((guint64) g_rand_int (rand) << 32) | g_rand_int (rand));
    case 4:
      return g_variant_new_double (g_rand_double_range (rand, -1e9, 1e9));
    case 5:
      return g_variant_new ("(ii)", (gint32) g_rand_int (rand), (gint32) g_rand_int (rand));
    case 6:
      return g_variant_new_boolean (g_rand_boolean (rand));
    case 7:
      return g_variant_new_byte ((guint8) g_rand_int (rand));
    case 8:
      return g_variant_new ("(t)", ((guint64) g_rand_int (rand) << 32) | g_rand_int (rand));
    case 9:
      return g_variant_new_object_path ("/a/b");
    case 10:
      return g_variant_new_maybe (G_VARIANT_TYPE_INT32, NULL);
    case 11:
      return random_bytes_value (rand);
    case 12:
      return random_dict (rand, depth);
    case 13:
      return random_tuple (rand, depth);
    case 14:
      return g_variant_new_variant (random_value (rand, depth + 1));
    case 15:
      {
        GVariant *child = random_value (rand, depth + 1);
        return g_variant_new_maybe (NULL, child);
      }
    default:
      {
        g_autofree char *s = random_string (rand, random_length (rand));
        return g_variant_new ("(sms)", s, g_rand_boolean (rand) ? s : NULL);
      }
    }
}

/* @value as it arrives from a peer: serialized, in memory of its own. */
static GVariant *
serialized_form (GVariant *value)
{
  g_autoptr(GBytes) bytes = g_variant_get_data_as_bytes (value);

  return g_variant_ref_sink (g_variant_new_from_bytes (g_variant_get_type (value), bytes, FALSE));
}

/* A random value, in tree form or in serialized form. */
static GVariant *
random_value_in_either_form (GRand *rand)
{
  g_autoptr(GVariant) tree = g_variant_ref_sink (random_value (rand, 0));

  return g_rand_boolean (rand) ? g_steal_pointer (&tree) : serialized_form (tree);
}

static GBytes *
glib_encode_call (const char *function,
                  GVariant   *args)
{
  g_autoptr(GVariant) request = g_variant_ref_sink (g_variant_new ("(sv)", function, args));

  return glib_encode (MITOGEN_BODY_VALUE, request);
}

static void
assert_bytes_equal (GBytes *got,
                    GBytes *expected)
{
  gsize got_len, expected_len;
  const guint8 *got_data = g_bytes_get_data (got, &got_len);
  const guint8 *expected_data = g_bytes_get_data (expected, &expected_len);

  g_assert_cmpmem (got_data, got_len, expected_data, expected_len);
}

static GBytes *
concat_chunks (GPtrArray *chunks)
{
  g_autoptr(GByteArray) all = g_byte_array_new ();

  for (guint i = 0; i < chunks->len; i++)
    {
      gsize len;
      const guint8 *data = g_bytes_get_data (chunks->pdata[i], &len);

      g_byte_array_append (all, data, len);
    }
  return g_byte_array_free_to_bytes (g_steal_pointer (&all));
}

/* 1: the boxed "(yv)" of random values of many types and sizes, in tree
 * and serialized form, byte for byte as GLib writes it, whole and in
 * chunks. */
static void
test_encode_matches_glib (void)
{
  g_autoptr(GRand) rand = g_rand_new_with_seed (SEED);

  for (guint i = 0; i < 1500; i++)
    {
      g_autoptr(GVariant) value = random_value_in_either_form (rand);
      guint8 kind = (guint8) g_rand_int (rand);
      g_autoptr(GBytes) expected = glib_encode (kind, value);
      g_autoptr(GBytes) got = _mitogen_envelope_encode (kind, value);
      g_autoptr(GPtrArray) chunks = _mitogen_envelope_encode_chunks (kind, value);
      g_autoptr(GBytes) joined = concat_chunks (chunks);

      assert_bytes_equal (got, expected);
      assert_bytes_equal (joined, expected);
    }
}

/* An args tuple of @n_bytes bytes of payload, in a shape picked at
 * random: a tuple whose framing offsets grow with it, or fixed parts. */
static GVariant *
args_of_size (GRand *rand,
              gsize  n_bytes)
{
  g_autofree char *s = random_string (rand, n_bytes);

  switch (g_rand_int_range (rand, 0, 4))
    {
    case 0:
      return g_variant_new ("(s)", s);
    case 1:
      return g_variant_new ("(sas)", s, NULL);
    case 2:
      return g_variant_new ("(ts)", (guint64) n_bytes, s);
    default:
      return g_variant_new ("(sv)", s, g_variant_new_int32 (1));
    }
}

static void
check_call_encoding (const char *function,
                     GVariant   *args)
{
  g_autoptr(GBytes) expected = glib_encode_call (function, args);
  g_autoptr(GBytes) got = _mitogen_envelope_encode_call (function, args);

  assert_bytes_equal (got, expected);
}

/* 2: a call's "(sv)" inside the boxed "(yv)", for names of every length
 * up to 300 and args whose size puts the request's framing offset at each
 * width, either side of each boundary. */
static void
test_encode_call_matches_glib (void)
{
  g_autoptr(GRand) rand = g_rand_new_with_seed (SEED + 1);
  gsize boundaries[] = { 0, 255 - 40, 65535 - 40 };

  for (gsize name_len = 0; name_len <= 300; name_len++)
    {
      g_autofree char *function = random_string (rand, name_len);
      g_autoptr(GVariant) args = g_variant_ref_sink (random_tuple (rand, 1));
      g_autoptr(GVariant) serialized = serialized_form (args);

      check_call_encoding (function, args);
      check_call_encoding (function, serialized);
    }
  /* Each boundary swept byte by byte, with a short and a long name: the
   * request's body size then lands on every value around 255 and 65535. */
  for (gsize b = 0; b < G_N_ELEMENTS (boundaries); b++)
    for (gsize delta = 0; delta < 48; delta++)
      for (gsize name_len = 0; name_len < 12; name_len += 11)
        {
          g_autofree char *function = random_string (rand, name_len);
          gsize n = boundaries[b] + delta;
          g_autoptr(GVariant) args = g_variant_ref_sink (args_of_size (rand, n));

          check_call_encoding (function, args);
        }
}

static void
check_split_matches_glib (GVariant *request)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *function = NULL;
  g_autoptr(GVariant) args = NULL;
  const char *expected_function;
  g_autoptr(GVariant) expected_args = NULL;

  g_variant_get (request, "(&sv)", &expected_function, &expected_args);
  g_assert_true (_mitogen_envelope_split_call (request, &function, &args, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (function, ==, expected_function);
  assert_variant_equal (args, expected_args);
}

/* 3: what GLib wrote, the codec reads as GLib does; a call's request
 * splits into GLib's name and args, from bytes, serialized or a tree. */
static void
test_decode_matches_glib (void)
{
  g_autoptr(GRand) rand = g_rand_new_with_seed (SEED + 2);

  for (guint i = 0; i < 1500; i++)
    {
      g_autoptr(GVariant) value = random_value_in_either_form (rand);
      guint8 kind = (guint8) g_rand_int (rand);
      g_autoptr(GBytes) data = glib_encode (kind, value);
      g_autoptr(GVariant) got = NULL, expected = NULL;
      g_autoptr(GError) error = NULL;
      guint8 got_kind = 0, expected_kind = 0;
      gboolean normal = FALSE;

      g_assert_true (glib_decode (data, &expected_kind, &expected, &normal));
      g_assert_true (normal);
      g_assert_true (_mitogen_envelope_decode (data, &got_kind, &got, &error));
      g_assert_no_error (error);
      g_assert_cmpuint (got_kind, ==, kind);
      g_assert_cmpuint (got_kind, ==, expected_kind);
      assert_variant_equal (got, expected);
      assert_variant_equal (got, value);
    }

  for (guint i = 0; i < 600; i++)
    {
      g_autofree char *function = random_string (rand, i % 300);
      g_autoptr(GVariant) args = g_variant_ref_sink (i % 50 == 0 ? args_of_size (rand, random_length (rand))
                                                     : random_tuple (rand, 1));
      g_autoptr(GVariant) tree = g_variant_ref_sink (g_variant_new ("(sv)", function, args));
      g_autoptr(GVariant) serialized = serialized_form (tree);
      g_autoptr(GBytes) data = glib_encode_call (function, args);
      g_autoptr(GVariant) request = NULL;
      g_autoptr(GError) error = NULL;
      guint8 kind = 0xff;

      check_split_matches_glib (tree);
      check_split_matches_glib (serialized);
      g_assert_true (_mitogen_envelope_decode (data, &kind, &request, &error));
      g_assert_no_error (error);
      g_assert_cmpuint (kind, ==, MITOGEN_BODY_VALUE);
      check_split_matches_glib (request);
    }
}

/* The padding GLib leaves zero in a normal form: bytes 1..7 of the body
 * (after the kind), and of a request the bytes between its name's NUL and
 * its args. */
static gboolean
padding_is_zero (const guint8 *data,
                 gsize         from,
                 gsize         to)
{
  for (gsize i = from; i < to; i++)
    if (data[i] != 0)
      return FALSE;
  return TRUE;
}

static gsize
request_name_end (GVariant *request)
{
  gsize size = g_variant_get_size (request);
  const guint8 *data = g_variant_get_data (request);
  gsize width = size > G_MAXUINT16 ? 4 : size > G_MAXUINT8 ? 2 : size > 0 ? 1 : 0;
  gsize end = 0;

  for (gsize i = 0; i < width; i++)
    end |= (gsize) data[size - width + i] << (8 * i);
  return end;
}

typedef struct {
  guint accepted;       /* bodies the codec read */
  guint refused;        /* bodies it refused */
  guint calls_split;    /* requests it split */
  guint calls_refused;  /* requests it refused to split */
} Tally;

/* The rule for a "(sv)" request read from hostile bytes, @ours by the
 * codec, @theirs by GLib (in its reading of the body): the codec refuses
 * it with a protocol error only if GLib's reading is not in normal form;
 * it splits it to GLib's name and args; and then GLib's reading is in
 * normal form exactly when the args are and the padding before them is
 * zero (the codec need not check either: GVariant reads the args' bytes
 * alike on both sides, and GLib skips the padding too). */
static void
check_hostile_split (GVariant *ours,
                     GVariant *theirs,
                     Tally    *tally)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *function = NULL;
  g_autoptr(GVariant) args = NULL;
  const char *expected_function;
  g_autoptr(GVariant) expected_args = NULL;
  g_autoptr(GVariant) again = NULL;
  gboolean theirs_normal;

  /* As glib_decode() judges a body. */
  g_variant_get (theirs, "(&sv)", &expected_function, &expected_args);
  g_variant_take_ref (expected_args);
  again = g_variant_ref_sink (g_variant_new ("(sv)", expected_function, expected_args));
  theirs_normal = same_data (again, theirs) && is_normal (expected_args);
  if (!_mitogen_envelope_split_call (ours, &function, &args, &error))
    {
      g_assert_error (error, MITOGEN_ERROR, MITOGEN_ERROR_PROTOCOL);
      if (theirs_normal)
        g_error ("the codec refused a request GLib reads in normal form: %s", error->message);
      tally->calls_refused++;
      return;
    }
  g_assert_no_error (error);
  tally->calls_split++;
  g_assert_cmpstr (function, ==, expected_function);
  assert_variant_equal (args, expected_args);
  {
    gsize name_end = request_name_end (ours);
    gsize args_start = (name_end + 7) & ~(gsize) 7;
    gboolean ours_normal = is_normal (args) &&
      padding_is_zero (g_variant_get_data (ours), name_end, args_start);

    if (ours_normal != theirs_normal)
      g_error ("the codec split a request GLib reads as %s normal form, "
               "to args %s in it", theirs_normal ? "in" : "not in",
               ours_normal ? "as if" : "not");
  }
}

/* 4's rule for any bytes: the codec fails with a protocol error, and then
 * GLib's reading is no "(yv)" or not in normal form; or it reads the kind
 * and value GLib reads, and GLib's reading is in normal form exactly when
 * the value is and the padding after the kind is zero (as for a request,
 * above). A request in it is held to the same rule. */
static void
check_hostile (GBytes *data,
               Tally  *tally)
{
  g_autoptr(GVariant) got = NULL, expected = NULL;
  g_autoptr(GError) error = NULL;
  guint8 got_kind = 0, expected_kind = 0;
  gboolean glib_is_body, glib_normal = FALSE, ours_normal;

  glib_is_body = glib_decode (data, &expected_kind, &expected, &glib_normal);
  if (!_mitogen_envelope_decode (data, &got_kind, &got, &error))
    {
      g_assert_error (error, MITOGEN_ERROR, MITOGEN_ERROR_PROTOCOL);
      g_assert_null (got);
      if (glib_is_body && glib_normal)
        g_error ("the codec refused a body GLib reads in normal form: %s", error->message);
      tally->refused++;
      return;
    }
  g_assert_no_error (error);
  tally->accepted++;
  g_assert_true (glib_is_body);
  g_assert_cmpuint (got_kind, ==, expected_kind);
  assert_variant_equal (got, expected);
  ours_normal = is_normal (got) &&
    padding_is_zero (g_bytes_get_data (data, NULL), 1, 8);
  if (ours_normal != glib_normal)
    {
      g_autofree char *type = g_strdup (g_variant_get_type_string (got));
      g_error ("the codec read a body GLib reads as %s normal form, as a %s "
               "in it (type %.60s)", glib_normal ? "in" : "not in",
               ours_normal ? "value" : "value not", type);
    }
  if (g_variant_is_of_type (got, G_VARIANT_TYPE ("(sv)")))
    check_hostile_split (got, expected, tally);
}

/* Valid bodies and calls of several shapes, the raw material of the
 * hostile inputs. */
static GPtrArray *
valid_encodings (GRand *rand)
{
  GPtrArray *all = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  const char *names[] = { "", "f", "core.getpid", "a.rather.long.module.name.function" };

  for (guint i = 0; i < 24; i++)
    {
      g_autoptr(GVariant) value = random_value_in_either_form (rand);

      if (g_variant_get_size (value) < 600)
        g_ptr_array_add (all, _mitogen_envelope_encode ((guint8) i, value));
    }
  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    {
      g_autoptr(GVariant) args = g_variant_ref_sink (g_variant_new ("(st)", "x", (guint64) 7));

      g_ptr_array_add (all, _mitogen_envelope_encode_call (names[i], args));
    }
  {
    g_autoptr(GVariant) args = g_variant_ref_sink (args_of_size (rand, 300));

    g_ptr_array_add (all, _mitogen_envelope_encode_call ("wide.offset", args));
  }
  {
    g_autoptr(GVariant) wide = g_variant_ref_sink (g_variant_new ("(t)", G_GUINT64_CONSTANT (0x0102030405060708)));

    g_ptr_array_add (all, _mitogen_envelope_encode (3, wide));
  }
  return all;
}

static GBytes *
splice (GBytes     *data,
        gsize       keep_from_start,
        gsize       keep_from_end)
{
  gsize len;
  const guint8 *bytes = g_bytes_get_data (data, &len);
  guint8 *out = g_malloc (keep_from_start + keep_from_end + 1);

  memcpy (out, bytes, keep_from_start);
  memcpy (out + keep_from_start, bytes + len - keep_from_end, keep_from_end);
  return g_bytes_new_take (out, keep_from_start + keep_from_end);
}

/* 4a: every truncation of valid encodings: the prefixes, and the body's
 * value cut short under an intact "(yv)" tail, and a request's cut short
 * under intact "(sv)" and "(yv)" tails. */
static void
test_hostile_truncations (void)
{
  g_autoptr(GRand) rand = g_rand_new_with_seed (SEED + 3);
  g_autoptr(GPtrArray) valid = valid_encodings (rand);
  Tally tally = { 0 };

  for (guint i = 0; i < valid->len; i++)
    {
      gsize len = g_bytes_get_size (valid->pdata[i]);

      for (gsize cut = 0; cut < len; cut++)
        {
          g_autoptr(GBytes) prefix = splice (valid->pdata[i], cut, 0);
          g_autoptr(GBytes) inner = splice (valid->pdata[i], cut, MIN (5, len - cut));
          g_autoptr(GBytes) request = splice (valid->pdata[i], cut, MIN (10, len - cut));

          check_hostile (prefix, &tally);
          check_hostile (inner, &tally);
          check_hostile (request, &tally);
        }
    }
  g_test_message ("truncations: %u read, %u refused; %u requests split, %u refused",
                  tally.accepted, tally.refused, tally.calls_split, tally.calls_refused);
  g_assert_cmpuint (tally.refused, >, 0);
  g_assert_cmpuint (tally.calls_refused, >, 0);
}

/* 4b: random bytes flipped in valid encodings. */
static void
test_hostile_flips (void)
{
  g_autoptr(GRand) rand = g_rand_new_with_seed (SEED + 4);
  g_autoptr(GPtrArray) valid = valid_encodings (rand);
  Tally tally = { 0 };

  for (guint i = 0; i < 20000; i++)
    {
      GBytes *original = valid->pdata[g_rand_int_range (rand, 0, valid->len)];
      gsize len;
      const guint8 *bytes = g_bytes_get_data (original, &len);
      guint8 *copy = g_memdup2 (bytes, len);
      g_autoptr(GBytes) data = NULL;
      guint flips = g_rand_int_range (rand, 1, 4);

      for (guint f = 0; f < flips; f++)
        {
          gsize at = g_rand_int_range (rand, 0, len);

          /* Half the flips land on a byte that matters most: zero, or a
           * bit in it. */
          if (g_rand_boolean (rand))
            copy[at] ^= 1 << g_rand_int_range (rand, 0, 8);
          else
            copy[at] = g_rand_boolean (rand) ? 0 : (guint8) g_rand_int (rand);
        }
      data = g_bytes_new_take (copy, len);
      check_hostile (data, &tally);
    }
  g_test_message ("flips: %u read, %u refused; %u requests split, %u refused",
                  tally.accepted, tally.refused, tally.calls_split, tally.calls_refused);
  g_assert_cmpuint (tally.refused, >, 0);
  g_assert_cmpuint (tally.calls_split, >, 0);
}

/* A body laid out by hand: the kind, zeros, @value_len bytes of value,
 * NUL, @type, then @tail (of @tail_len bytes, NULs included). */
static GBytes *
body_by_hand (const void *value,
              gsize       value_len,
              const char *type,
              const char *tail,
              gsize       tail_len)
{
  g_autoptr(GByteArray) out = g_byte_array_new ();
  guint8 head[8] = { 2 };

  g_byte_array_append (out, head, sizeof head);
  g_byte_array_append (out, value, value_len);
  g_byte_array_append (out, (const guint8 *) "", 1);
  g_byte_array_append (out, (const guint8 *) type, strlen (type));
  g_byte_array_append (out, (const guint8 *) tail, tail_len);
  return g_byte_array_free_to_bytes (g_steal_pointer (&out));
}

static void
assert_refused (GBytes *data)
{
  g_autoptr(GVariant) value = NULL;
  g_autoptr(GError) error = NULL;
  Tally tally = { 0 };
  guint8 kind;

  g_assert_false (_mitogen_envelope_decode (data, &kind, &value, &error));
  g_assert_error (error, MITOGEN_ERROR, MITOGEN_ERROR_PROTOCOL);
  check_hostile (data, &tally);
}

/* 4c: bodies GLib would read with a default substituted: a wrong tail
 * type, a type string that is invalid or indefinite, or too deep for
 * GLib at the depth it reads it, a fixed-size value of the wrong size. */
static void
test_hostile_bodies (void)
{
  const char *bad_types[] = { "*", "a?", "?", "r", "", "(", "a", "{vs}", "a{vs}", "{s}", "(yv", "ii", "m" };
  const struct { const char *tail; gsize len; } tails[] = {
    { "\0(yvv)", 6 }, { "\0(uv)", 5 }, { "\0v", 2 }, { "(yv)", 4 }, { "\0(vy)", 5 }, { "\0(yv)\0", 6 },
  };
  guint8 value[16] = { 1, 2, 3, 4, 5, 6, 7, 8, 9 };

  for (gsize i = 0; i < G_N_ELEMENTS (bad_types); i++)
    {
      g_autoptr(GBytes) data = body_by_hand (value, 4, bad_types[i], BOX_TAIL_FOR_TEST, 5);

      assert_refused (data);
    }
  for (gsize i = 0; i < G_N_ELEMENTS (tails); i++)
    {
      g_autoptr(GBytes) data = body_by_hand (value, 4, "i", tails[i].tail, tails[i].len);

      assert_refused (data);
    }
  /* Fixed-size types, each with a size but its own. */
  {
    const struct { const char *type; gsize size; } wrong[] = {
      { "i", 3 }, { "i", 5 }, { "i", 0 }, { "(t)", 7 }, { "d", 9 }, { "(ii)", 4 }, { "y", 2 }, { "b", 0 },
    };

    for (gsize i = 0; i < G_N_ELEMENTS (wrong); i++)
      {
        g_autoptr(GBytes) data = body_by_hand (value, wrong[i].size, wrong[i].type, BOX_TAIL_FOR_TEST, 5);

        assert_refused (data);
      }
  }
  /* No NUL before the type, and no room for a value. */
  {
    g_autoptr(GBytes) no_nul = g_bytes_new_static ("\2\0\0\0\0\0\0\0i\0(yv)", 14);
    g_autoptr(GBytes) short_body = g_bytes_new_static ("\2\0\0\0\0\0\0\0(yv)", 13);
    g_autoptr(GBytes) empty = g_bytes_new_static ("", 0);

    assert_refused (no_nul);
    assert_refused (short_body);
    assert_refused (empty);
  }
}

/* 4d: types nested deeper than GLib reads at the depth the value sits in
 * the body: GLib reads a unit there, so the codec must refuse them. */
static void
test_hostile_depth (void)
{
  Tally tally = { 0 };

  for (gsize depth = 100; depth <= 130; depth++)
    {
      g_autoptr(GString) type = g_string_new (NULL);
      guint8 zeros[8] = { 0 };
      g_autoptr(GBytes) data = NULL;

      for (gsize i = 0; i < depth; i++)
        g_string_append_c (type, 'a');
      g_string_append_c (type, 'y');
      data = body_by_hand (zeros, 0, type->str, BOX_TAIL_FOR_TEST, 5);
      check_hostile (data, &tally);
    }
  g_test_message ("depth: %u read, %u refused", tally.accepted, tally.refused);
  g_assert_cmpuint (tally.accepted, ==, 125 - 100);
}

/* A call laid out by hand: a request of @name_len raw bytes of @name
 * (its NUL included if the caller wants one), padding to 8, "(st)" args
 * boxed, and the name's end as a framing offset of the width GLib would
 * use, or @name_end when it is not -1. */
static GBytes *
call_with_args_by_hand (const char *name,
                        gsize       name_len,
                        gssize      name_end,
                        GVariant   *args,
                        const char *args_type)
{
  g_autoptr(GByteArray) request = g_byte_array_new ();
  g_autoptr(GByteArray) out = g_byte_array_new ();
  guint8 head[8] = { 0 };
  gsize width;
  gsize end = name_end >= 0 ? (gsize) name_end : name_len;

  g_byte_array_append (request, (const guint8 *) name, name_len);
  while (request->len % 8 != 0)
    g_byte_array_append (request, head, 1);
  g_byte_array_append (request, g_variant_get_data (args), g_variant_get_size (args));
  g_byte_array_append (request, (const guint8 *) "", 1);
  g_byte_array_append (request, (const guint8 *) args_type, strlen (args_type));
  width = request->len + 1 <= G_MAXUINT8 ? 1 : 2;
  for (gsize i = 0; i < width; i++)
    {
      guint8 b = (end >> (8 * i)) & 0xff;
      g_byte_array_append (request, &b, 1);
    }

  g_byte_array_append (out, head, sizeof head);
  g_byte_array_append (out, request->data, request->len);
  g_byte_array_append (out, (const guint8 *) "\0(sv)\0(yv)", 10);
  return g_byte_array_free_to_bytes (g_steal_pointer (&out));
}

static GBytes *
call_by_hand (const char *name,
              gsize       name_len,
              gssize      name_end)
{
  g_autoptr(GVariant) args = g_variant_ref_sink (g_variant_new ("(st)", "x", (guint64) 7));

  return call_with_args_by_hand (name, name_len, name_end, args, "(st)");
}

static void
assert_split_refused (GBytes *data)
{
  g_autoptr(GVariant) request = NULL;
  g_autoptr(GVariant) args = NULL;
  g_autofree char *function = NULL;
  g_autoptr(GError) error = NULL;
  Tally tally = { 0 };
  guint8 kind;

  g_assert_true (_mitogen_envelope_decode (data, &kind, &request, &error));
  g_assert_no_error (error);
  g_assert_true (g_variant_is_of_type (request, G_VARIANT_TYPE ("(sv)")));
  g_assert_false (_mitogen_envelope_split_call (request, &function, &args, &error));
  g_assert_error (error, MITOGEN_ERROR, MITOGEN_ERROR_PROTOCOL);
  g_assert_null (function);
  check_hostile (data, &tally);
  g_assert_cmpuint (tally.calls_refused, ==, 1);
}

/* 4e: requests whose name GLib would read as "": not NUL-terminated,
 * with a NUL inside, not UTF-8, its end past the request's, or so near
 * it that the args would start past it; and a well-made one for
 * contrast. */
static void
test_hostile_names (void)
{
  Tally tally = { 0 };

  {
    g_autoptr(GBytes) good = call_by_hand ("core.getpid", 12, -1);

    check_hostile (good, &tally);
    g_assert_cmpuint (tally.calls_split, ==, 1);
  }
  {
    g_autoptr(GBytes) unterminated = call_by_hand ("core.getpidX", 12, -1);
    g_autoptr(GBytes) embedded = call_by_hand ("core\0getpid", 12, -1);
    g_autoptr(GBytes) not_utf8 = call_by_hand ("core.\xff\xfe", 8, -1);
    g_autoptr(GBytes) past_end = call_by_hand ("core.getpid", 12, 200);
    g_autoptr(GBytes) zero_end = call_by_hand ("core.getpid", 12, 0);
    g_autoptr(GBytes) args_past_end = call_by_hand ("core.getpid", 12, 30);

    assert_split_refused (unterminated);
    assert_split_refused (embedded);
    assert_split_refused (not_utf8);
    assert_split_refused (past_end);
    assert_split_refused (zero_end);
    assert_split_refused (args_past_end);
  }
  /* Every end the framing offset could name, each checked against GLib. */
  for (gssize end = 0; end < 256; end++)
    {
      g_autoptr(GBytes) data = call_by_hand ("core.getpid", 12, end);

      check_hostile (data, &tally);
    }
  /* A well-made name ending so near the request's end that its args
   * would start past it. */
  {
    g_autoptr(GBytes) no_room = g_bytes_new_static ("\0\0\0\0\0\0\0\0" "abcdefghi\0\x0a" "\0(sv)\0(yv)", 29);

    assert_split_refused (no_room);
  }
  /* A request that is too short for its own framing offset. */
  {
    g_autoptr(GBytes) tiny = g_bytes_new_static ("\0\0\0\0\0\0\0\0\0(sv)\0(yv)", 18);

    check_hostile (tiny, &tally);
  }
}

/* 4f: args nested deeper than GLib reads them in a request (at depth 5
 * of its 128 levels; a type 124 deep it reads as "()"): split_call must
 * refuse them. (Only through split_call: the "(sv)" the codec reads from
 * the body is a value of its own, at depth 0, so GLib reads three levels
 * more in any "v" inside it than in GLib's own reading of the body, and
 * the two differ for such args whichever way the codec splits.) A type
 * 129 deep GLib 2.74 reads as it is (its unsigned depth check wraps
 * around): refusing it errs on the safe side. */
static void
test_hostile_args_depth (void)
{
  g_autoptr(GVariant) empty = g_variant_ref_sink (g_variant_new_from_data (G_VARIANT_TYPE ("ay"), NULL, 0, TRUE, NULL, NULL));
  guint split = 0;

  for (gsize depth = 100; depth <= 130; depth++)
    {
      g_autoptr(GString) type = g_string_new (NULL);
      g_autoptr(GBytes) data = NULL;
      g_autoptr(GVariant) request = NULL, expected_request = NULL, expected_args = NULL, args = NULL;
      g_autofree char *function = NULL;
      g_autoptr(GError) error = NULL;
      const char *expected_function;
      guint8 kind, expected_kind;
      gboolean normal, substituted;

      for (gsize i = 0; i < depth; i++)
        g_string_append_c (type, 'a');
      g_string_append_c (type, 'y');
      data = call_with_args_by_hand ("f", 2, -1, empty, type->str);
      g_assert_true (_mitogen_envelope_decode (data, &kind, &request, &error));
      g_assert_no_error (error);
      g_assert_true (glib_decode (data, &expected_kind, &expected_request, &normal));
      g_variant_get (expected_request, "(&sv)", &expected_function, &expected_args);
      g_variant_take_ref (expected_args);
      substituted = strcmp (g_variant_get_type_string (expected_args), type->str) != 0;

      if (_mitogen_envelope_split_call (request, &function, &args, &error))
        {
          if (substituted)
            g_error ("split args %" G_GSIZE_FORMAT " deep, which GLib reads as %s",
                     depth + 1, g_variant_get_type_string (expected_args));
          g_assert_cmpstr (function, ==, expected_function);
          assert_variant_equal (args, expected_args);
          split++;
        }
      else
        {
          g_assert_error (error, MITOGEN_ERROR, MITOGEN_ERROR_PROTOCOL);
          if (depth + 1 <= 123)
            g_error ("refused args %" G_GSIZE_FORMAT " deep", depth + 1);
        }
    }
  g_assert_cmpuint (split, >=, 123 - 100);
}

/* Copies @data to an odd address, in a buffer the caller frees after
 * every value read from the bytes. */
static GBytes *
at_odd_address (GBytes  *data,
                guint8 **buffer)
{
  gsize len;
  const guint8 *bytes = g_bytes_get_data (data, &len);

  *buffer = g_malloc (len + 1);
  memcpy (*buffer + 1, bytes, len);
  return g_bytes_new_static (*buffer + 1, len);
}

static void
check_misaligned (guint8    kind,
                  GVariant *value)
{
  g_autoptr(GBytes) aligned = _mitogen_envelope_encode (kind, value);
  g_autofree guint8 *buffer = NULL;
  g_autoptr(GBytes) odd = at_odd_address (aligned, &buffer);
  g_autoptr(GVariant) got = NULL, expected = NULL;   /* may hold buffer's memory: freed first */
  g_autoptr(GError) error = NULL;
  guint8 got_kind = 0, expected_kind = 0;
  gboolean normal = FALSE;

  /* GLib's own reading of the odd bytes is right... */
  g_assert_true (glib_decode (odd, &expected_kind, &expected, &normal));
  g_assert_true (normal);
  assert_variant_equal (expected, value);
  /* ...and so must the codec's be, down to the value's children. */
  g_assert_true (_mitogen_envelope_decode (odd, &got_kind, &got, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (got_kind, ==, kind);
  assert_variant_equal (got, value);
  if (g_variant_is_of_type (got, G_VARIANT_TYPE ("(t)")))
    {
      guint64 wanted, read;

      g_variant_get (value, "(t)", &wanted);
      g_variant_get (got, "(t)", &read);
      g_assert_cmpuint (read, ==, wanted);
    }
  if (g_variant_is_of_type (got, G_VARIANT_TYPE ("(sv)")))
    check_split_matches_glib (got);
}

/* 5: bytes at an odd address read as the same values: GLib copies what
 * is misaligned, and 8-byte-aligned values such as "(t)" must read right;
 * so must a value no longer than its alignment whose children are
 * aligned (a "v" of an int32 is 6 bytes), which GLib's own check lets
 * through uncopied. */
static void
test_misaligned (void)
{
  g_autoptr(GRand) rand = g_rand_new_with_seed (SEED + 5);
  GVariant *fixed[] = {
    g_variant_new ("(t)", G_GUINT64_CONSTANT (0x0102030405060708)),
    g_variant_new ("(sv)", "f.g", g_variant_new ("(ti)", (guint64) 1, 2)),
    g_variant_new_string ("odd"),
    g_variant_new_variant (g_variant_new_int32 (-7)),
    g_variant_new ("(v)", g_variant_new_uint16 (9)),
  };

  for (gsize i = 0; i < G_N_ELEMENTS (fixed); i++)
    {
      g_autoptr(GVariant) value = g_variant_ref_sink (fixed[i]);

      check_misaligned ((guint8) i, value);
    }
  for (guint i = 0; i < 400; i++)
    {
      g_autoptr(GVariant) value = NULL;

      if (i % 4 == 0)
        value = g_variant_ref_sink (g_variant_new ("(t)", ((guint64) g_rand_int (rand) << 32) | g_rand_int (rand)));
      else if (i % 4 == 1)
        value = g_variant_ref_sink (g_variant_new ("(sv)", "f.g", random_tuple (rand, 1)));
      else
        value = random_value_in_either_form (rand);
      check_misaligned (5, value);
    }
}

/* A unit value (a call without arguments, an empty answer) decodes to the
 * one shared unit, with no type lookup; a unit whose byte is not zero
 * (not in normal form) is read as GLib reads it, as a value of its own. */
static void
test_unit_is_shared (void)
{
  g_autoptr(GVariant) unit = _mitogen_unit ();
  g_autoptr(GVariant) empty = g_variant_ref_sink (g_variant_new_tuple (NULL, 0));
  g_autoptr(GBytes) body = glib_encode (MITOGEN_BODY_VALUE, empty);
  g_autoptr(GBytes) call = glib_encode_call ("core.ping", empty);
  g_autoptr(GBytes) odd = NULL;
  g_autoptr(GVariant) value = NULL;
  g_autoptr(GVariant) args = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *function = NULL;
  g_autofree guint8 *copy = NULL;
  gboolean is_call = FALSE;
  guint8 kind = 0xff;
  gconstpointer data;
  gsize size;

  g_assert_true (_mitogen_envelope_decode (body, &kind, &value, &error));
  g_assert_no_error (error);
  g_assert_true (value == unit);
  g_clear_pointer (&value, g_variant_unref);

  g_assert_true (_mitogen_envelope_decode_call (call, &is_call, &function, &args, &error));
  g_assert_no_error (error);
  g_assert_true (is_call);
  g_assert_cmpstr (function, ==, "core.ping");
  g_assert_true (args == unit);

  /* "(yv)": the kind, padding, then the unit's one byte at 8, its NUL. */
  data = g_bytes_get_data (body, &size);
  copy = g_memdup2 (data, size);
  g_assert_cmpuint (size, >, 9);
  g_assert_cmpint (copy[8], ==, 0);
  g_assert_cmpint (copy[9], ==, 0);
  copy[8] = 1;
  odd = g_bytes_new (copy, size);
  g_assert_true (_mitogen_envelope_decode (odd, &kind, &value, &error));
  g_assert_no_error (error);
  g_assert_true (value != unit);
  g_assert_cmpstr (g_variant_get_type_string (value), ==, "()");
  g_assert_false (g_variant_is_normal_form (value));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/envelope/encode-matches-glib", test_encode_matches_glib);
  g_test_add_func ("/envelope/encode-call-matches-glib", test_encode_call_matches_glib);
  g_test_add_func ("/envelope/decode-matches-glib", test_decode_matches_glib);
  g_test_add_func ("/envelope/hostile/truncations", test_hostile_truncations);
  g_test_add_func ("/envelope/hostile/flips", test_hostile_flips);
  g_test_add_func ("/envelope/hostile/bodies", test_hostile_bodies);
  g_test_add_func ("/envelope/hostile/depth", test_hostile_depth);
  g_test_add_func ("/envelope/hostile/names", test_hostile_names);
  g_test_add_func ("/envelope/hostile/args-depth", test_hostile_args_depth);
  g_test_add_func ("/envelope/misaligned", test_misaligned);
  g_test_add_func ("/envelope/unit-is-shared", test_unit_is_shared);
  return g_test_run ();
}
