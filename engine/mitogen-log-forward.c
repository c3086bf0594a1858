/* mitogen-log-forward.c: the log records other contexts send the master.
 *
 * Any context may be hostile, so a forwarded record is data, never text to
 * print as it came: it travels as fields (domain, level, message), and the
 * master escapes each field before a line is made of it, so a record is
 * always one line whatever bytes it holds; bounds its length; admits at
 * most a burst and then a steady rate per context (a token bucket), saying
 * later how many it dropped; and logs it at a level of its own choosing
 * (message, info or debug), the child's level kept in the text and in the
 * MITOGEN_REMOTE_LEVEL field. A child's warning is the child's business:
 * it must never become a warning of the master, which G_DEBUG=fatal-warnings
 * or a program's own fatal mask would turn into an abort.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <string.h>

#include "mitogen-private.h"

/* The longest escaped message logged, and the bounds of the other fields. */
#define MAX_MESSAGE_BYTES MITOGEN_LOG_MAX_RECORD
#define MAX_NAME_BYTES    128
#define MAX_DOMAIN_BYTES  64

/* Per context: a burst of LOG_BURST records, then LOG_RATE a second. */
#define LOG_BURST 200
#define LOG_RATE  50.0

/* Contexts tracked per router; beyond, idle ones are forgotten first. */
#define MAX_BUCKETS 1024
/* The bucket every other context shares once MAX_BUCKETS are busy. */
#define OVERFLOW_ID G_MAXUINT32

/* How long after the first dropped record the drop note is logged. */
#define DROP_NOTE_DELAY_MSEC 1000

#define TRUNCATED_MARKER "... [truncated]"

/* ---- escaping ------------------------------------------------------------ */

/* Characters that would move the cursor, start a new line, reorder what
 * follows on a terminal, or make an escape ambiguous. */
static gboolean
needs_escape (gunichar c)
{
  return c < 0x20 || c == 0x7f || (c >= 0x80 && c <= 0x9f) || c == '\\' ||
         c == 0x200e || c == 0x200f ||                 /* directional marks */
         (c >= 0x2028 && c <= 0x202e) ||               /* separators, embeddings */
         (c >= 0x2066 && c <= 0x2069) ||               /* isolates */
         c == 0xfeff;
}

static void
append_escaped (GString  *out,
                gunichar  c)
{
  switch (c)
    {
    case '\n': g_string_append (out, "\\n"); break;
    case '\r': g_string_append (out, "\\r"); break;
    case '\t': g_string_append (out, "\\t"); break;
    case '\\': g_string_append (out, "\\\\"); break;
    default:
      if (c < 0x80)
        g_string_append_printf (out, "\\x%02x", c);
      else
        g_string_append_printf (out, "\\u%04x", c);
      break;
    }
}

/* @text made into one printable line of valid UTF-8, at most @max_bytes
 * (plus a marker when it was cut): control characters and newlines become
 * escapes such as \n or \x1b, a backslash becomes \\, and each byte that is
 * not UTF-8 becomes U+FFFD. */
char *
_mitogen_log_escape (const char *text,
                     gsize       max_bytes)
{
  gsize len = strlen (text);
  const char *end = text + len;
  GString *out = g_string_sized_new (MIN (len, max_bytes) + sizeof TRUNCATED_MARKER);
  g_autoptr(GString) piece = g_string_sized_new (16);

  for (const char *p = text; p < end;)
    {
      gunichar c = g_utf8_get_char_validated (p, end - p);
      gsize step;

      g_string_truncate (piece, 0);
      if (c == (gunichar) -1 || c == (gunichar) -2)
        {
          g_string_append_unichar (piece, 0xfffd);
          step = 1;
        }
      else
        {
          step = g_utf8_next_char (p) - p;
          if (needs_escape (c))
            append_escaped (piece, c);
          else
            g_string_append_len (piece, p, step);
        }
      if (out->len + piece->len > max_bytes)
        {
          g_string_append (out, TRUNCATED_MARKER);
          break;
        }
      g_string_append_len (out, piece->str, piece->len);
      p += step;
    }
  return g_string_free (out, FALSE);
}

/* What an agent sends of a record: valid UTF-8 (a GVariant string must
 * be), cut at a character boundary when longer than the master would
 * print anyway. */
char *
_mitogen_log_record_clamp (const char *text)
{
  g_autofree char *valid = g_utf8_make_valid (text, -1);
  const char *cut;

  if (strlen (valid) <= MITOGEN_LOG_MAX_RECORD)
    return g_steal_pointer (&valid);
  cut = valid + MITOGEN_LOG_MAX_RECORD;
  while (cut > valid && (*cut & 0xc0) == 0x80)
    cut--;
  return g_strdup_printf ("%.*s%s", (int) (cut - valid), valid, TRUNCATED_MARKER);
}

/* ---- levels -------------------------------------------------------------- */

/* The most severe level in @wire, whatever else a peer set in it. */
static GLogLevelFlags
remote_level (gint32 wire)
{
  for (guint level = G_LOG_LEVEL_ERROR; level <= G_LOG_LEVEL_DEBUG; level <<= 1)
    if ((guint32) wire & level)
      return (GLogLevelFlags) level;
  return G_LOG_LEVEL_MESSAGE;
}

/* The level the master logs a child's record at: never a warning or
 * worse, which the master's own fatal mask could turn into an abort. */
static GLogLevelFlags
local_level (GLogLevelFlags remote)
{
  return remote <= G_LOG_LEVEL_MESSAGE ? G_LOG_LEVEL_MESSAGE : remote;
}

static const char *
remote_level_name (GLogLevelFlags level)
{
  switch (level)
    {
    case G_LOG_LEVEL_ERROR: return "ERROR";
    case G_LOG_LEVEL_CRITICAL: return "CRITICAL";
    case G_LOG_LEVEL_WARNING: return "WARNING";
    case G_LOG_LEVEL_MESSAGE: return "MESSAGE";
    case G_LOG_LEVEL_INFO: return "INFO";
    case G_LOG_LEVEL_DEBUG: return "DEBUG";
    default: return "LOG";
    }
}

/* The syslog priority of what the master logs (notice, info, debug). */
static const char *
priority_of (GLogLevelFlags local)
{
  switch (local)
    {
    case G_LOG_LEVEL_INFO: return "6";
    case G_LOG_LEVEL_DEBUG: return "7";
    default: return "5";
    }
}

/* ---- one line ------------------------------------------------------------- */

typedef struct
{
  guint32         context_id;
  const char     *context;  /* escaped */
  const char     *domain;   /* escaped; may be empty */
  GLogLevelFlags  remote;   /* the level the child logged it at */
  const char     *text;     /* escaped; the whole line */
} Line;

static void
log_line (const Line *line)
{
  GLogLevelFlags level = local_level (line->remote);
  char id[16];
  const GLogField fields[] = {
    { "GLIB_DOMAIN", G_LOG_DOMAIN, -1 },
    { "MESSAGE", line->text, -1 },
    { "PRIORITY", priority_of (level), -1 },
    { "MITOGEN_CONTEXT", line->context, -1 },
    { "MITOGEN_CONTEXT_ID", id, -1 },
    { "MITOGEN_REMOTE_DOMAIN", line->domain, -1 },
    { "MITOGEN_REMOTE_LEVEL", remote_level_name (line->remote), -1 },
  };

  g_snprintf (id, sizeof id, "%u", line->context_id);
  /* The file's level filter applies to the child's level: who asks for
   * warnings wants the children's too. */
  _mitogen_log_file_write (G_LOG_DOMAIN, line->remote, level, line->text);
  g_log_structured_array (level, fields, G_N_ELEMENTS (fields));
}

static void
log_drop_note (guint32     context_id,
               const char *context,
               guint64     dropped)
{
  g_autofree char *text = g_strdup_printf ("[%s] %" G_GUINT64_FORMAT " log records dropped: "
                                           "a context may send %d at once, then %g a second",
                                           context, dropped, LOG_BURST, LOG_RATE);
  Line line = { context_id, context, "", G_LOG_LEVEL_MESSAGE, text };

  log_line (&line);
}

/* ---- the rate limit ------------------------------------------------------- */

typedef struct
{
  double   tokens;       /* records it may send now, up to LOG_BURST */
  gint64   refilled_at;  /* monotonic µs of the last refill */
  guint64  dropped;      /* since the last drop note */
  char    *context;      /* escaped name, for the drop note */
} Bucket;

/* One per router, as its qdata; the pending drop note holds a reference. */
typedef struct
{
  GMutex      lock;
  GHashTable *buckets;       /* lock; context id → Bucket* */
  gboolean    note_pending;  /* lock; a drop note is scheduled */
} Limiter;

static GQuark limiter_quark;

static void
bucket_free (gpointer data)
{
  Bucket *b = data;

  g_free (b->context);
  g_free (b);
}

static void
limiter_clear (gpointer data)
{
  Limiter *l = data;

  g_hash_table_unref (l->buckets);
  g_mutex_clear (&l->lock);
}

static void
limiter_unref (gpointer data)
{
  g_atomic_rc_box_release_full (data, limiter_clear);
}

static void
limiter_release (Limiter *l)
{
  limiter_unref (l);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Limiter, limiter_release)

static Limiter *
limiter_for (MitogenRouter *router)
{
  static GMutex create_lock;
  Limiter *l;

  g_mutex_lock (&create_lock);
  if (limiter_quark == 0)
    limiter_quark = g_quark_from_static_string ("mitogen-log-limiter");
  l = g_object_get_qdata (G_OBJECT (router), limiter_quark);
  if (l == NULL)
    {
      l = g_atomic_rc_box_new0 (Limiter);
      g_mutex_init (&l->lock);
      l->buckets = g_hash_table_new_full (NULL, NULL, NULL, bucket_free);
      g_object_set_qdata_full (G_OBJECT (router), limiter_quark, l, limiter_unref);
    }
  l = g_atomic_rc_box_acquire (l);
  g_mutex_unlock (&create_lock);
  return l;
}

static void
bucket_refill (Bucket *b,
               gint64  now)
{
  b->tokens = MIN ((double) LOG_BURST, b->tokens + (now - b->refilled_at) * LOG_RATE / G_USEC_PER_SEC);
  b->refilled_at = now;
}

/* Called with the lock held: makes room by forgetting contexts that have
 * been quiet long enough to have a full bucket and owe no note. */
static void
forget_idle_buckets (Limiter *l,
                     gint64   now)
{
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, l->buckets);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      Bucket *b = value;

      bucket_refill (b, now);
      if (b->tokens >= LOG_BURST && b->dropped == 0)
        g_hash_table_iter_remove (&iter);
    }
}

/* Called with the lock held. */
static Bucket *
bucket_for (Limiter    *l,
            guint32     context_id,
            const char *context,
            gint64      now)
{
  Bucket *b = g_hash_table_lookup (l->buckets, GUINT_TO_POINTER (context_id));

  if (b != NULL)
    return b;
  if (g_hash_table_size (l->buckets) >= MAX_BUCKETS)
    forget_idle_buckets (l, now);
  if (g_hash_table_size (l->buckets) >= MAX_BUCKETS)
    {
      context_id = OVERFLOW_ID;
      context = "other contexts";
      b = g_hash_table_lookup (l->buckets, GUINT_TO_POINTER (context_id));
      if (b != NULL)
        return b;
    }
  b = g_new0 (Bucket, 1);
  b->tokens = LOG_BURST;
  b->refilled_at = now;
  b->context = g_strdup (context);
  g_hash_table_insert (l->buckets, GUINT_TO_POINTER (context_id), b);
  return b;
}

typedef struct
{
  guint32  context_id;
  char    *context;
  guint64  dropped;
} DropNote;

static void
drop_note_clear (gpointer data)
{
  g_free (((DropNote *) data)->context);
}

/* The broker's main context: every context the limiter drops records of
 * gets one note, at most DROP_NOTE_DELAY_MSEC after the first drop. */
static gboolean
on_drop_note_due (gpointer data)
{
  Limiter *l = data;
  g_autoptr(GArray) notes = g_array_new (FALSE, FALSE, sizeof (DropNote));
  GHashTableIter iter;
  gpointer key, value;

  g_array_set_clear_func (notes, drop_note_clear);
  g_mutex_lock (&l->lock);
  g_hash_table_iter_init (&iter, l->buckets);
  while (g_hash_table_iter_next (&iter, &key, &value))
    {
      Bucket *b = value;
      DropNote note = { GPOINTER_TO_UINT (key), g_strdup (b->context), b->dropped };

      if (b->dropped == 0)
        {
          g_free (note.context);
          continue;
        }
      g_array_append_val (notes, note);
      b->dropped = 0;
    }
  l->note_pending = FALSE;
  g_mutex_unlock (&l->lock);

  /* Outside the lock: the program's log writer may take its time. */
  for (guint i = 0; i < notes->len; i++)
    {
      DropNote *note = &g_array_index (notes, DropNote, i);

      log_drop_note (note->context_id, note->context, note->dropped);
    }
  return G_SOURCE_REMOVE;
}

/* Called with the lock held. */
static void
schedule_drop_note (Limiter *l)
{
  g_autoptr(GSource) source = NULL;

  if (l->note_pending)
    return;
  l->note_pending = TRUE;
  source = g_timeout_source_new (DROP_NOTE_DELAY_MSEC);
  g_source_set_static_name (source, "mitogen log drop note");
  g_source_set_callback (source, on_drop_note_due, g_atomic_rc_box_acquire (l), limiter_unref);
  /* The broker's context: forwarded records arrive on its thread. */
  g_source_attach (source, g_main_context_get_thread_default ());
}

/* Takes one token from @context_id's bucket. Returns FALSE when it has
 * none: the record is dropped, and counted for the next drop note, which
 * comes at most once a DROP_NOTE_DELAY_MSEC however long a flood lasts. */
static gboolean
admit (Limiter    *l,
       guint32     context_id,
       const char *context)
{
  gint64 now = g_get_monotonic_time ();
  gboolean admitted;
  Bucket *b;

  g_mutex_lock (&l->lock);
  b = bucket_for (l, context_id, context, now);
  bucket_refill (b, now);
  admitted = b->tokens >= 1.0;
  if (admitted)
    b->tokens -= 1.0;
  else
    {
      b->dropped++;
      schedule_drop_note (l);
    }
  g_mutex_unlock (&l->lock);
  return admitted;
}

/* Broker thread of @router: a record that context @context_id, named
 * @context_name, forwarded; every string comes from the peer as it is. */
void
_mitogen_log_forwarded (MitogenRouter *router,
                        guint32        context_id,
                        const char    *context_name,
                        const char    *domain,
                        gint32         level,
                        const char    *message)
{
  g_autofree char *context = _mitogen_log_escape (context_name != NULL ? context_name : "?",
                                                  MAX_NAME_BYTES);
  g_autoptr(Limiter) limiter = limiter_for (router);
  g_autofree char *escaped_domain = NULL;
  g_autofree char *escaped = NULL;
  g_autofree char *text = NULL;
  Line line;

  if (!admit (limiter, context_id, context))
    return;

  escaped_domain = _mitogen_log_escape (domain, MAX_DOMAIN_BYTES);
  escaped = _mitogen_log_escape (message, MAX_MESSAGE_BYTES);
  line.context_id = context_id;
  line.context = context;
  line.domain = escaped_domain;
  line.remote = remote_level (level);
  /* The library's own domain goes without saying. */
  if (escaped_domain[0] == '\0' || g_str_equal (escaped_domain, G_LOG_DOMAIN))
    text = g_strdup_printf ("[%s] %s: %s", context, remote_level_name (line.remote), escaped);
  else
    text = g_strdup_printf ("[%s] %s-%s: %s", context, escaped_domain,
                            remote_level_name (line.remote), escaped);
  line.text = text;
  log_line (&line);
}
