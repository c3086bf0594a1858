/* test-hostile.c: a master starts contexts on machines it does not fully
 * trust. A compromised context (one running tests/modules/
 * mitogen-hostile-module.c, fetched from the master like any module) may
 * send anything its router lets it send, to any context and handle; it
 * must not reach anything above or beside it. Each test is one attack:
 * it is refused, logged, and the master and an innocent context carry on.
 *
 * Handles are allocated from MITOGEN_FIRST_USER_HANDLE upwards, one router
 * at a time, so an attacker sprays a small range and hits every one; the
 * tests check that the handle under attack lies in that range, so that a
 * miss cannot pass for a refusal.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <stdlib.h>
#include <glib/gstdio.h>

#include "mitogen-test-util.h"

typedef MitogenTestFixture Fixture;

/* The handles a sprayer aims at: the first two hundred of any router. */
#define SPRAY_FIRST MITOGEN_FIRST_USER_HANDLE
#define SPRAY_LAST  (MITOGEN_FIRST_USER_HANDLE + 200)

/* An id nobody was given: far above anything a test allocates. */
#define UNUSED_ID 0x7ffffff0u

/* ---- contexts ---------------------------------------------------------- */

static MitogenContext *
start_via (Fixture        *f,
           MitogenContext *via)
{
  g_autoptr(GError) error = NULL;
  MitogenContext *ctx = mitogen_router_connect_context (f->router, "local", NULL, via, NULL, &error);

  g_assert_no_error (error);
  g_assert_nonnull (ctx);
  return ctx;
}

static guint32
id_of (MitogenContext *ctx)
{
  return mitogen_context_get_id (ctx);
}

static GVariant *
call_ok (MitogenContext *ctx,
         const char     *function,
         GVariant       *args)
{
  g_autoptr(GError) error = NULL;
  GVariant *result = mitogen_context_call (ctx, function, args, NULL, &error);

  g_assert_no_error (error);
  return result;
}

/* @ctx answers, and it is @ctx that answers. */
static void
assert_answers_as_itself (MitogenContext *ctx)
{
  g_autoptr(GVariant) pid = call_ok (ctx, "core.getpid", NULL);

  g_assert_cmpint (g_variant_get_int32 (pid), ==, mitogen_test_context_pid (ctx));
}

/* How every attack ends: the innocent context answers as itself, and the
 * master still starts contexts that work. */
static void
assert_all_well (Fixture        *f,
                 MitogenContext *innocent)
{
  g_autoptr(MitogenContext) fresh = NULL;

  assert_answers_as_itself (innocent);
  fresh = mitogen_test_local (f->router);
  assert_answers_as_itself (fresh);
  assert_answers_as_itself (innocent);
}

/* A call that a context answers only when the test says so, whatever
 * the machine's speed: proc.run of a shell that waits for a file, then
 * prints its parent's pid (the context's). */
typedef struct
{
  char *dir;   /* a private directory */
  char *file;  /* its "open" file, made by open_gate() */
} Gate;

static MitogenReceiver *
begin_gated_call (MitogenContext *ctx,
                  Gate           *gate)
{
  g_autoptr(GError) error = NULL;
  const char *argv[] = {
    "sh", "-c",
    /* At most 20 s, so that a lost test does not leave it behind. */
    "i=0; while [ ! -e \"$1\" ] && [ $i -lt 2000 ]; do sleep 0.01; i=$((i+1)); done; echo $PPID",
    "gate", NULL, NULL };

  gate->dir = g_dir_make_tmp ("mitogen-hostile-XXXXXX", &error);
  g_assert_no_error (error);
  gate->file = g_build_filename (gate->dir, "open", NULL);
  argv[4] = gate->file;
  return mitogen_context_begin_call (ctx, "proc.run", g_variant_new ("(^as)", argv));
}

static void
open_gate (Gate *gate)
{
  g_assert_true (g_file_set_contents (gate->file, "", 0, NULL));
}

static void
gate_clear (Gate *gate)
{
  g_remove (gate->file);
  g_rmdir (gate->dir);
  g_clear_pointer (&gate->file, g_free);
  g_clear_pointer (&gate->dir, g_free);
}

/* What is waiting in @recv, in words. */
static char *
describe_next (MitogenReceiver *recv)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MitogenMessage) msg = mitogen_receiver_get (recv, 0, NULL, &error);
  g_autoptr(GVariant) value = NULL;
  g_autofree char *text = NULL;

  if (msg == NULL)
    return g_strdup_printf ("a dead message: %s", error->message);
  value = mitogen_message_unpack (msg, &error);
  if (value == NULL)
    return g_strdup_printf ("an error from context %u: %s",
                            mitogen_message_get_src_id (msg), error->message);
  text = g_variant_print (value, TRUE);
  return g_strdup_printf ("a value from context %u: %s", mitogen_message_get_src_id (msg), text);
}

/* Opens the gate, waits for the reply on @pending and checks that it is
 * the real one, from @ctx, not something another context slipped in. */
static void
assert_real_gated_result (MitogenReceiver *pending,
                          Gate            *gate,
                          MitogenContext  *ctx)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MitogenMessage) reply = NULL;
  g_autoptr(GVariant) value = NULL;
  g_autoptr(GVariant) out = NULL;
  g_autofree char *text = NULL;
  gint32 status;

  /* Nothing came before the real answer could. */
  if (!mitogen_receiver_is_empty (pending))
    {
      g_autofree char *early = describe_next (pending);

      g_assert_cmpstr (early, ==, "nothing before the real answer");
    }
  open_gate (gate);
  reply = mitogen_receiver_get (pending, 30000, NULL, &error);
  g_assert_no_error (error);
  value = mitogen_message_unpack (reply, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (g_variant_get_type_string (value), ==, "(iayay)");
  g_variant_get (value, "(i@ay@ay)", &status, &out, NULL);
  g_assert_cmpint (status, ==, 0);
  text = g_strndup (g_variant_get_data (out), g_variant_get_size (out));
  g_assert_cmpint (atoi (text), ==, mitogen_test_context_pid (ctx));
  gate_clear (gate);
}

/* ---- log expectations -------------------------------------------------- */

static void
expect_warning (const char *pattern)
{
  mitogen_test_expect_log ("mitogen", G_LOG_LEVEL_WARNING, pattern);
}

static void
expect_warning_from (MitogenContext *ctx,
                     const char     *pattern)
{
  mitogen_test_expect_forwarded_log (mitogen_context_get_name (ctx), "mitogen",
                                     G_LOG_LEVEL_WARNING, pattern);
}

/* What a router logs, once per handle, when it drops what @from sent to
 * @handle, which only @expected may answer. */
static char *
dropped_reply_pattern (guint32 handle,
                       guint32 from,
                       guint32 expected)
{
  return g_strdup_printf ("*dropped a message for handle %u from context %u: "
                          "it expects context %u*", handle, from, expected);
}

/* Every expectation so far was met (waiting for forwarded ones). */
static void
assert_logged (void)
{
  mitogen_test_assert_expected_logs ();
}

/* ---- attacks: what a hostile context does ------------------------------ */

static GVariant *
call_tuple (const char *function)
{
  return g_variant_new ("(sv)", function, g_variant_new_tuple (NULL, 0));
}

/* @hostile sends @body to @handle of context @dst. When this returns,
 * every context between them has handled it: the call's reply follows
 * the same streams. */
static void
send_from (MitogenContext *hostile,
           guint32         dst,
           guint32         handle,
           GVariant       *body)
{
  g_autoptr(GVariant) unused = call_ok (hostile, "hostile.send",
                                        g_variant_new ("(uuvb)", dst, handle, body, FALSE));
}

/* @hostile tells context @to that it reaches context @id. */
static void
announce_route (MitogenContext *hostile,
                guint32         to,
                guint32         id)
{
  send_from (hostile, to, MITOGEN_HANDLE_ADD_ROUTE, g_variant_new ("(us)", id, "hijacked"));
}

/* @hostile tells context @to that context @id is gone. */
static void
withdraw_route (MitogenContext *hostile,
                guint32         to,
                guint32         id)
{
  send_from (hostile, to, MITOGEN_HANDLE_DEL_ROUTE, g_variant_new ("(u)", id));
}

/* @hostile sends @body (a dead message with reason @body when @dead) to
 * each handle of @dst in the spray range; returns how many went. */
static guint32
spray (MitogenContext *hostile,
       guint32         dst,
       GVariant       *body,
       gboolean        dead)
{
  g_autoptr(GVariant) sent = call_ok (hostile, "hostile.spray",
                                      g_variant_new ("(uuuvbu)", dst, SPRAY_FIRST, SPRAY_LAST,
                                                     body, dead, 1));

  return g_variant_get_uint32 (sent);
}

/* Loads the hostile module into @ctx: from now on it is compromised. */
static void
turn_hostile (MitogenContext *ctx)
{
  g_autoptr(GVariant) sent = call_ok (ctx, "hostile.spray",
                                      g_variant_new ("(uuuvbu)", 0, 0, 0,
                                                     g_variant_new_tuple (NULL, 0), FALSE, 0));

  g_assert_cmpuint (g_variant_get_uint32 (sent), ==, 0);
}

/* @hostile asks @handle of @dst with @body and waits up to 5 s for the
 * answer. Returns the value, or NULL with *@failure set to the reason. */
static GVariant *
ask_from (MitogenContext  *hostile,
          guint32          dst,
          guint32          handle,
          GVariant        *body,
          char           **failure)
{
  g_autoptr(GVariant) answer = call_ok (hostile, "hostile.ask",
                                        g_variant_new ("(uuvi)", dst, handle, body, 5000));
  g_autoptr(GVariant) value = NULL;
  const char *text;
  gboolean failed;

  g_variant_get (answer, "(b&sv)", &failed, &text, &value);
  *failure = failed ? g_strdup (text) : NULL;
  return failed ? NULL : g_steal_pointer (&value);
}

/* @hostile writes one frame with any source and authority straight onto
 * its stream to the parent. */
static void
raw_frame_from (MitogenContext *hostile,
                guint32         src,
                guint32         auth,
                guint32         dst,
                guint32         handle,
                GVariant       *body)
{
  g_autoptr(GVariant) unused = call_ok (hostile, "hostile.raw_frame",
                                        g_variant_new ("(uuuuuv)", src, auth, dst, handle, 0, body));
}

typedef struct
{
  guint32  granted;
  guint32  refused;
  guint32  missing;
  GArray  *ids;      /* guint32: the ids granted */
} Allocation;

static void
allocation_clear (Allocation *a)
{
  g_clear_pointer (&a->ids, g_array_unref);
}

static void
allocation_from_variant (Allocation *a,
                         GVariant   *result)
{
  g_autoptr(GVariantIter) iter = NULL;
  guint32 id;

  g_variant_get (result, "(uuuau)", &a->granted, &a->refused, &a->missing, &iter);
  a->ids = g_array_new (FALSE, FALSE, sizeof (guint32));
  while (g_variant_iter_next (iter, "u", &id))
    g_array_append_val (a->ids, id);
}

/* @hostile asks the master for @count context ids at once. */
static void
allocate_ids (MitogenContext *hostile,
              guint32         count,
              Allocation     *a)
{
  g_autoptr(GVariant) result = call_ok (hostile, "hostile.allocate_ids",
                                        g_variant_new ("(ui)", count, 5000));

  allocation_from_variant (a, result);
}

/* ---- 1. replies only from the respondent ------------------------------- */

typedef struct
{
  gboolean dead;            /* dead messages rather than values */
  gboolean unidirectional;  /* the router's "unidirectional" mode */
} SprayCase;

/* Sibling B sprays the master's handles while the master waits on a slow
 * call to A: A's answer is the one the master gets. */
static void
test_sibling_sprays_master_handles (Fixture       *f,
                                    gconstpointer  data)
{
  const SprayCase *c = data;
  g_autoptr(MitogenContext) a = NULL;
  g_autoptr(MitogenContext) b = NULL;
  g_autoptr(MitogenContext) innocent = NULL;
  g_autoptr(MitogenReceiver) pending = NULL;
  g_autofree char *pattern = NULL;
  Gate gate = { 0 };
  guint32 handle;

  g_object_set (f->router, "unidirectional", c->unidirectional, NULL);
  a = mitogen_test_local (f->router);
  b = mitogen_test_local (f->router);
  innocent = mitogen_test_local (f->router);
  turn_hostile (b);

  pending = begin_gated_call (a, &gate);
  handle = mitogen_receiver_get_handle (pending);
  g_assert_cmpuint (handle, >=, SPRAY_FIRST);
  g_assert_cmpuint (handle, <=, SPRAY_LAST);

  pattern = dropped_reply_pattern (handle, id_of (b), id_of (a));
  expect_warning (pattern);
  /* Every handle but the one B's own caller waits on. */
  g_assert_cmpuint (spray (b, 0, g_variant_new_string ("forged by a sibling"), c->dead),
                    ==, SPRAY_LAST - SPRAY_FIRST);

  assert_real_gated_result (pending, &gate, a);
  assert_logged ();
  assert_all_well (f, innocent);
}

typedef struct
{
  GMutex     lock;
  GPtrArray *requests;  /* lock; MitogenMessage*: GET_MODULE requests held */
} HeldRequests;

/* Broker thread: keeps a GET_MODULE request unanswered. */
static void
hold_request (MitogenMessage *msg,
              gpointer        data)
{
  HeldRequests *held = data;

  g_mutex_lock (&held->lock);
  g_ptr_array_add (held->requests, mitogen_message_ref (msg));
  g_mutex_unlock (&held->lock);
}

static MitogenMessage *
wait_held_request (HeldRequests *held)
{
  MitogenMessage *msg = NULL;

  for (gint64 deadline = g_get_monotonic_time () + 30 * G_USEC_PER_SEC;
       msg == NULL && g_get_monotonic_time () < deadline;
       g_usleep (1000))
    {
      g_mutex_lock (&held->lock);
      if (held->requests->len > 0)
        msg = mitogen_message_ref (held->requests->pdata[0]);
      g_mutex_unlock (&held->lock);
    }
  g_assert_nonnull (msg);
  return msg;
}

static GVariant *
file_bytes (const char *env)
{
  g_autoptr(GError) error = NULL;
  char *contents = NULL;
  gsize len = 0;

  g_assert_nonnull (g_getenv (env));
  g_file_get_contents (g_getenv (env), &contents, &len, &error);
  g_assert_no_error (error);
  return g_variant_new_from_data (G_VARIANT_TYPE_BYTESTRING, contents, len, TRUE, g_free, contents);
}

/* While agent A waits for a module from the master, sibling B answers on
 * every handle of A with B's own code: A must load the master's. The
 * master holds its answer until B is done, so the race is certain. */
static void
test_sibling_forges_module_answer (Fixture       *f,
                                   gconstpointer  data)
{
  g_autoptr(MitogenContext) a = mitogen_test_local (f->router);
  g_autoptr(MitogenContext) b = mitogen_test_local (f->router);
  g_autoptr(MitogenContext) innocent = mitogen_test_local (f->router);
  g_autoptr(MitogenReceiver) pending = NULL;
  g_autoptr(MitogenMessage) request = NULL;
  g_autoptr(MitogenMessage) answer = NULL;
  g_autoptr(MitogenMessage) reply = NULL;
  g_autoptr(GVariant) name = NULL;
  g_autoptr(GVariant) who = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *pattern = NULL;
  HeldRequests held = { .requests = g_ptr_array_new_with_free_func ((GDestroyNotify) mitogen_message_unref) };
  guint32 handle, id;
  gint32 pid;

  g_mutex_init (&held.lock);
  turn_hostile (b);
  /* From here on the master answers no GET_MODULE by itself. */
  mitogen_router_add_handler (f->router, MITOGEN_HANDLE_GET_MODULE, NULL, hold_request, &held, NULL);

  pending = mitogen_context_begin_call (a, "testmod.whoami", NULL);
  request = wait_held_request (&held);
  g_assert_cmpuint (mitogen_message_get_src_id (request), ==, id_of (a));
  name = mitogen_message_unpack (request, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (g_variant_get_type_string (name), ==, "(s)");
  handle = mitogen_message_get_reply_to (request);
  g_assert_cmpuint (handle, >=, SPRAY_FIRST);
  g_assert_cmpuint (handle, <=, SPRAY_LAST);

  pattern = dropped_reply_pattern (handle, id_of (b), 0);
  expect_warning_from (a, pattern);
  g_assert_cmpuint (spray (b, id_of (a), file_bytes ("MITOGEN_TEST_HOSTILE_MODULE"), FALSE),
                    ==, SPRAY_LAST - SPRAY_FIRST + 1);

  /* Only now the master's real answer. */
  answer = mitogen_message_new (id_of (a), handle, file_bytes ("MITOGEN_TEST_MODULE"));
  g_assert_true (mitogen_router_route (f->router, answer, &error));
  g_assert_no_error (error);

  /* The module A runs is the master's: testmod.whoami exists and says A. */
  reply = mitogen_receiver_get (pending, 10000, NULL, &error);
  g_assert_no_error (error);
  who = mitogen_message_unpack (reply, &error);
  g_assert_no_error (error);
  g_variant_get (who, "(iu)", &pid, &id);
  g_assert_cmpint (pid, ==, mitogen_test_context_pid (a));
  g_assert_cmpuint (id, ==, id_of (a));

  assert_logged ();
  assert_all_well (f, innocent);
  mitogen_router_del_handler (f->router, MITOGEN_HANDLE_GET_MODULE);
  g_ptr_array_unref (held.requests);
  g_mutex_clear (&held.lock);
}

/* ---- 2. ids have owners ------------------------------------------------ */

/* @hostile claims @id to context @to; the claim is refused and logged. */
static void
claim_is_refused (MitogenContext *hostile,
                  guint32         to,
                  guint32         id)
{
  expect_warning ("*refused ADD_ROUTE*");
  announce_route (hostile, to, id);
  assert_logged ();
}

static void
test_claim_master_id (Fixture       *f,
                      gconstpointer  data)
{
  g_autoptr(MitogenContext) hostile = mitogen_test_local (f->router);
  g_autoptr(MitogenContext) innocent = mitogen_test_local (f->router);

  turn_hostile (hostile);
  claim_is_refused (hostile, 0, 0);
  assert_all_well (f, innocent);
}

static void
test_claim_sibling_id (Fixture       *f,
                       gconstpointer  data)
{
  g_autoptr(MitogenContext) hostile = mitogen_test_local (f->router);
  g_autoptr(MitogenContext) sibling = mitogen_test_local (f->router);

  turn_hostile (hostile);
  claim_is_refused (hostile, 0, id_of (sibling));
  /* Calls to the sibling still reach the sibling. */
  assert_answers_as_itself (sibling);
  assert_all_well (f, sibling);
}

/* The master hands out ids in sequence: the next one is easy to guess. */
static void
test_claim_next_id (Fixture       *f,
                    gconstpointer  data)
{
  g_autoptr(MitogenContext) hostile = mitogen_test_local (f->router);
  g_autoptr(MitogenContext) innocent = mitogen_test_local (f->router);
  g_autoptr(MitogenContext) later = NULL;
  guint32 next = id_of (innocent) + 1;

  turn_hostile (hostile);
  claim_is_refused (hostile, 0, next);
  /* The context started next works, whatever id it gets. */
  later = mitogen_test_local (f->router);
  assert_answers_as_itself (later);
  assert_all_well (f, innocent);
}

static void
test_claim_unused_id (Fixture       *f,
                      gconstpointer  data)
{
  g_autoptr(MitogenContext) hostile = mitogen_test_local (f->router);
  g_autoptr(MitogenContext) innocent = mitogen_test_local (f->router);
  g_autoptr(MitogenContext) nobody = NULL;
  g_autoptr(GVariant) result = NULL;
  g_autoptr(GError) error = NULL;

  turn_hostile (hostile);
  claim_is_refused (hostile, 0, UNUSED_ID);
  /* Nobody answers for that id, and the caller hears so. */
  nobody = mitogen_router_context_by_id (f->router, UNUSED_ID);
  result = mitogen_context_call (nobody, "core.ping", NULL, NULL, &error);
  g_assert_null (result);
  g_assert_error (error, MITOGEN_ERROR, MITOGEN_ERROR_CHANNEL);
  assert_all_well (f, innocent);
}

static void
test_claim_exited_id (Fixture       *f,
                      gconstpointer  data)
{
  g_autoptr(MitogenContext) hostile = mitogen_test_local (f->router);
  g_autoptr(MitogenContext) innocent = mitogen_test_local (f->router);
  g_autoptr(MitogenContext) gone = mitogen_test_local (f->router);
  g_autoptr(GVariant) result = NULL;
  g_autoptr(GError) error = NULL;
  gint64 start;

  turn_hostile (hostile);
  mitogen_router_disconnect_context (f->router, gone);
  g_assert_true (mitogen_test_wait_disconnected (gone, 5000));

  claim_is_refused (hostile, 0, id_of (gone));
  /* The context stays gone: a call to it fails at once. */
  start = g_get_monotonic_time ();
  result = mitogen_context_call (gone, "core.ping", NULL, NULL, &error);
  g_assert_null (result);
  g_assert_error (error, MITOGEN_ERROR, MITOGEN_ERROR_CHANNEL);
  g_assert_cmpint (g_get_monotonic_time () - start, <, 2 * G_USEC_PER_SEC);
  assert_all_well (f, innocent);
}

/* What the engine must allow: a child announcing an id the master gave it
 * (that is how a context starts a context). */
static void
test_claim_own_allocated_id (Fixture       *f,
                             gconstpointer  data)
{
  g_autoptr(MitogenContext) child = mitogen_test_local (f->router);
  g_autoptr(MitogenContext) innocent = mitogen_test_local (f->router);
  Allocation got = { 0 };

  turn_hostile (child);
  allocate_ids (child, 1, &got);
  g_assert_cmpuint (got.granted, ==, 1);
  mitogen_test_expect_no_log ("mitogen", G_LOG_LEVEL_WARNING, "*refused ADD_ROUTE*");
  announce_route (child, 0, g_array_index (got.ids, guint32, 0));
  assert_answers_as_itself (child);
  assert_logged ();
  assert_all_well (f, innocent);
  allocation_clear (&got);
}

/* "sh -c 'echo $PPID'" run by proc.run in @ctx: the pid of @ctx. */
static int
proc_run_parent_pid (MitogenContext *ctx)
{
  const char *argv[] = { "sh", "-c", "echo $PPID", NULL };
  g_autoptr(GVariant) result = call_ok (ctx, "proc.run", g_variant_new ("(^as)", argv));
  g_autoptr(GVariant) out = NULL;
  g_autofree char *text = NULL;
  gint32 status;

  g_variant_get (result, "(i@ay@ay)", &status, &out, NULL);
  g_assert_cmpint (status, ==, 0);
  text = g_strndup (g_variant_get_data (out), g_variant_get_size (out));
  return atoi (text);
}

/* master → middle → hostile grandchild: the grandchild claims the
 * master's id and its parent's. The middle refuses (and says so through
 * the master's log), and calls into the middle still reach the middle. */
static void
test_grandchild_claims_ancestors (Fixture       *f,
                                  gconstpointer  data)
{
  g_autoptr(MitogenContext) middle = mitogen_test_local (f->router);
  g_autoptr(MitogenContext) grandchild = start_via (f, middle);
  g_autoptr(MitogenContext) innocent = mitogen_test_local (f->router);

  turn_hostile (grandchild);
  expect_warning_from (middle, "*refused ADD_ROUTE*");
  announce_route (grandchild, id_of (middle), 0);
  assert_logged ();
  expect_warning_from (middle, "*refused ADD_ROUTE*");
  announce_route (grandchild, id_of (middle), id_of (middle));
  assert_logged ();

  g_assert_cmpint (proc_run_parent_pid (middle), ==, mitogen_test_context_pid (middle));
  assert_answers_as_itself (middle);
  assert_answers_as_itself (grandchild);
  assert_all_well (f, innocent);
}

/* The grandchild claims a context beside its parent: the middle never
 * gave it that id, so the middle refuses, rather than routing the id
 * down to it and leaving the master to refuse the announcement. */
static void
test_grandchild_claims_cousin (Fixture       *f,
                               gconstpointer  data)
{
  g_autoptr(MitogenContext) middle = mitogen_test_local (f->router);
  g_autoptr(MitogenContext) grandchild = start_via (f, middle);
  g_autoptr(MitogenContext) innocent = mitogen_test_local (f->router);

  turn_hostile (grandchild);
  expect_warning_from (middle, "*refused ADD_ROUTE*");
  announce_route (grandchild, id_of (middle), id_of (innocent));
  assert_logged ();

  g_assert_cmpint (proc_run_parent_pid (middle), ==, mitogen_test_context_pid (middle));
  assert_all_well (f, innocent);
}

/* 10,000 ALLOCATE_ID at once: past a quota the child hears no, and the
 * master keeps serving everyone else meanwhile. */
static void
test_allocate_id_flood (Fixture       *f,
                        gconstpointer  data)
{
  g_autoptr(MitogenContext) hostile = mitogen_test_local (f->router);
  g_autoptr(MitogenContext) innocent = mitogen_test_local (f->router);
  g_autoptr(MitogenReceiver) flood = NULL;
  g_autoptr(MitogenMessage) reply = NULL;
  g_autoptr(GVariant) result = NULL;
  g_autoptr(GError) error = NULL;
  Allocation got = { 0 };

  turn_hostile (hostile);
  /* The quota is said once, however many requests pass it. */
  mitogen_test_expect_log ("mitogen", G_LOG_LEVEL_WARNING,
                           "*refused ALLOCATE_ID from context*the most a child may hold*");
  flood = mitogen_context_begin_call (hostile, "hostile.allocate_ids",
                                      g_variant_new ("(ui)", 10000, 10000));
  while (mitogen_receiver_is_empty (flood))
    {
      gint64 start = g_get_monotonic_time ();

      assert_answers_as_itself (innocent);
      /* Generous, for valgrind on a loaded machine: a starved master would
       * not answer at all. */
      g_assert_cmpint (g_get_monotonic_time () - start, <, 30 * G_USEC_PER_SEC);
    }
  reply = mitogen_receiver_get (flood, 20000, NULL, &error);
  g_assert_no_error (error);
  result = mitogen_message_unpack (reply, &error);
  g_assert_no_error (error);
  allocation_from_variant (&got, result);

  g_test_message ("10,000 ALLOCATE_ID: %u granted, %u refused, %u unanswered",
                  got.granted, got.refused, got.missing);
  g_assert_cmpuint (got.missing, ==, 0);
  g_assert_cmpuint (got.granted, >, 0);
  g_assert_cmpuint (got.granted, <=, 256);
  g_assert_cmpuint (got.refused, ==, 10000 - got.granted);
  assert_all_well (f, innocent);
  allocation_clear (&got);
}

/* Ids a child was given and never used are its own: a sibling's claim to
 * one is refused, and the owner may still use it. */
static void
test_allocated_ids_stay_owned (Fixture       *f,
                               gconstpointer  data)
{
  g_autoptr(MitogenContext) owner = mitogen_test_local (f->router);
  g_autoptr(MitogenContext) thief = mitogen_test_local (f->router);
  g_autoptr(MitogenContext) innocent = mitogen_test_local (f->router);
  Allocation got = { 0 };

  turn_hostile (owner);
  turn_hostile (thief);
  allocate_ids (owner, 3, &got);
  g_assert_cmpuint (got.granted, ==, 3);
  for (guint i = 0; i < got.ids->len; i++)
    claim_is_refused (thief, 0, g_array_index (got.ids, guint32, i));

  mitogen_test_expect_no_log ("mitogen", G_LOG_LEVEL_WARNING, "*refused ADD_ROUTE*");
  announce_route (owner, 0, g_array_index (got.ids, guint32, 0));
  assert_answers_as_itself (owner);
  assert_logged ();
  assert_all_well (f, innocent);
  allocation_clear (&got);
}

/* ---- 3. what already holds --------------------------------------------- */

/* B writes frames with forged sources straight onto its stream: a reply
 * "from A" to the master's call, a SHUTDOWN "from the master" to A, a call
 * to A under the master's authority. The master drops all three. */
static void
test_forged_source (Fixture       *f,
                    gconstpointer  data)
{
  g_autoptr(MitogenContext) a = mitogen_test_local (f->router);
  g_autoptr(MitogenContext) b = mitogen_test_local (f->router);
  g_autoptr(MitogenReceiver) pending = NULL;
  Gate gate = { 0 };
  guint32 handle;

  turn_hostile (b);
  pending = begin_gated_call (a, &gate);
  handle = mitogen_receiver_get_handle (pending);

  expect_warning ("*forged source*");
  raw_frame_from (b, id_of (a), id_of (a), 0, handle, g_variant_new_string ("forged"));
  assert_logged ();
  expect_warning ("*forged source*");
  raw_frame_from (b, 0, 0, id_of (a), MITOGEN_HANDLE_SHUTDOWN, g_variant_new_tuple (NULL, 0));
  assert_logged ();
  expect_warning ("*forged source*");
  raw_frame_from (b, id_of (b), 0, id_of (a), MITOGEN_HANDLE_CALL_FUNCTION,
                  call_tuple ("core.getpid"));
  assert_logged ();

  assert_real_gated_result (pending, &gate, a);
  assert_answers_as_itself (b);
  assert_all_well (f, a);
}

/* A child calls its parent (the master) and its sibling directly. */
static void
test_calls_up_and_sideways (Fixture       *f,
                            gconstpointer  data)
{
  g_autoptr(MitogenContext) hostile = mitogen_test_local (f->router);
  g_autoptr(MitogenContext) sibling = mitogen_test_local (f->router);
  g_autoptr(GVariant) up = NULL;
  g_autoptr(GVariant) side = NULL;
  g_autofree char *up_failure = NULL;
  g_autofree char *side_failure = NULL;

  turn_hostile (hostile);
  expect_warning ("*refused a call from context*");
  up = ask_from (hostile, 0, MITOGEN_HANDLE_CALL_FUNCTION, call_tuple ("core.getpid"), &up_failure);
  g_assert_null (up);
  g_assert_nonnull (strstr (up_failure, "refused by policy"));
  assert_logged ();

  expect_warning_from (sibling, "*refused a call from context*");
  side = ask_from (hostile, id_of (sibling), MITOGEN_HANDLE_CALL_FUNCTION,
                   call_tuple ("core.getpid"), &side_failure);
  g_assert_null (side);
  g_assert_nonnull (strstr (side_failure, "refused by policy"));
  assert_logged ();
  assert_all_well (f, sibling);
}

/* SHUTDOWN from a sibling, and from a context's own child: ignored. */
static void
test_shutdown_from_non_ancestor (Fixture       *f,
                                 gconstpointer  data)
{
  g_autoptr(MitogenContext) a = mitogen_test_local (f->router);
  g_autoptr(MitogenContext) sibling = mitogen_test_local (f->router);
  g_autoptr(MitogenContext) child = start_via (f, a);

  turn_hostile (sibling);
  turn_hostile (child);
  send_from (sibling, id_of (a), MITOGEN_HANDLE_SHUTDOWN, g_variant_new_tuple (NULL, 0));
  send_from (child, id_of (a), MITOGEN_HANDLE_SHUTDOWN, g_variant_new_tuple (NULL, 0));
  /* The SHUTDOWNs reached A before these calls, on the same stream. */
  assert_answers_as_itself (a);
  assert_answers_as_itself (a);
  assert_answers_as_itself (child);
  g_assert_true (mitogen_context_is_connected (a));
  assert_all_well (f, a);
}

static void
test_del_route_for_others (Fixture       *f,
                           gconstpointer  data)
{
  g_autoptr(MitogenContext) hostile = mitogen_test_local (f->router);
  g_autoptr(MitogenContext) sibling = mitogen_test_local (f->router);

  turn_hostile (hostile);
  expect_warning ("*refused DEL_ROUTE*");
  withdraw_route (hostile, 0, id_of (sibling));
  assert_logged ();
  expect_warning ("*refused DEL_ROUTE*");
  withdraw_route (hostile, 0, 0);
  assert_logged ();
  g_assert_true (mitogen_context_is_connected (sibling));
  assert_all_well (f, sibling);
}

/* A direct child gets what the master offers, and nothing else. */
static void
test_get_module_names (Fixture       *f,
                       gconstpointer  data)
{
  static const char * const refused[] = {
    "nosuchmodule",
    "/etc/passwd",
    "../../../../etc/passwd",
    "transport:../../../../etc/passwd",
    "serializer:/etc/passwd",
    "",
  };
  g_autoptr(MitogenContext) hostile = mitogen_test_local (f->router);
  g_autoptr(MitogenContext) innocent = mitogen_test_local (f->router);
  g_autoptr(GVariant) offered = NULL;
  g_autoptr(GVariant) expected = file_bytes ("MITOGEN_TEST_MODULE");
  g_autofree char *failure = NULL;

  turn_hostile (hostile);
  for (gsize i = 0; i < G_N_ELEMENTS (refused); i++)
    {
      g_autofree char *why = NULL;
      g_autoptr(GVariant) bytes = ask_from (hostile, 0, MITOGEN_HANDLE_GET_MODULE,
                                            g_variant_new ("(s)", refused[i]), &why);

      g_test_message ("GET_MODULE “%s”: %s", refused[i], why);
      g_assert_null (bytes);
      g_assert_nonnull (why);
    }
  offered = ask_from (hostile, 0, MITOGEN_HANDLE_GET_MODULE, g_variant_new ("(s)", "testmod"),
                      &failure);
  g_assert_null (failure);
  g_assert_true (g_variant_equal (offered, expected));
  assert_all_well (f, innocent);
}

/* A grandchild asks the master for a module directly, skipping its
 * parent: refused. */
static void
test_get_module_from_grandchild (Fixture       *f,
                                 gconstpointer  data)
{
  g_autoptr(MitogenContext) middle = mitogen_test_local (f->router);
  g_autoptr(MitogenContext) grandchild = start_via (f, middle);
  g_autoptr(MitogenContext) innocent = mitogen_test_local (f->router);
  g_autoptr(GVariant) bytes = NULL;
  g_autofree char *failure = NULL;

  turn_hostile (grandchild);
  expect_warning ("*refused GET_MODULE from context*");
  bytes = ask_from (grandchild, 0, MITOGEN_HANDLE_GET_MODULE, g_variant_new ("(s)", "testmod"),
                    &failure);
  g_assert_null (bytes);
  g_assert_nonnull (strstr (failure, "refused by policy"));
  assert_logged ();
  assert_all_well (f, innocent);
}

/* A sibling cancels the master's call to A, guessing its handle: A goes
 * on with the call. */
static void
test_cancel_from_sibling (Fixture       *f,
                          gconstpointer  data)
{
  g_autoptr(MitogenContext) a = mitogen_test_local (f->router);
  g_autoptr(MitogenContext) b = mitogen_test_local (f->router);
  g_autoptr(MitogenReceiver) pending = NULL;
  Gate gate = { 0 };
  guint32 handle;

  turn_hostile (b);
  pending = begin_gated_call (a, &gate);
  handle = mitogen_receiver_get_handle (pending);
  for (guint32 guess = handle - 2; guess <= handle + 2; guess++)
    send_from (b, id_of (a), MITOGEN_HANDLE_CANCEL_CALL, g_variant_new_uint32 (guess));
  assert_real_gated_result (pending, &gate, a);
  assert_all_well (f, a);
}

/* A context speaking JSON sends bodies that once crashed the master (an
 * indefinite type, "a*", 100,000 levels of nesting, whitespace): each time
 * the master closes that one stream, with a warning, and carries on. */
static void
test_undecodable_json_body (Fixture       *f,
                            gconstpointer  data)
{
  static const char *texts[] = { "[\"r\",[]]", "[\"a*\",[]]", "[\"m*\",[]]", " \n " };
  g_autoptr(MitogenContext) a = mitogen_test_local (f->router);
  g_autoptr(GPtrArray) bodies = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  GString *deep = g_string_new (NULL);

  for (gsize i = 0; i < G_N_ELEMENTS (texts); i++)
    g_ptr_array_add (bodies, g_bytes_new_static (texts[i], strlen (texts[i])));
  for (guint i = 0; i < 100000; i++)
    g_string_append_c (deep, '[');
  g_ptr_array_add (bodies, g_string_free_to_bytes (deep));

  for (guint i = 0; i < bodies->len; i++)
    {
      g_autoptr(GVariantDict) options = g_variant_dict_new (NULL);
      g_autoptr(MitogenContext) hostile = NULL;
      g_autoptr(GVariant) unused = NULL;
      g_autoptr(GError) error = NULL;

      g_variant_dict_insert (options, "serializer", "s", "json");
      hostile = mitogen_router_connect_context (f->router, "local", g_variant_dict_end (options),
                                                NULL, NULL, &error);
      g_assert_no_error (error);
      turn_hostile (hostile);

      /* The bad frame goes out before the call's reply, so the stream is
       * closed by the time the reply would come: the call fails. */
      expect_warning ("*undecodable JSON message*closing it*");
      unused = mitogen_context_call (hostile, "hostile.raw_body",
                                     g_variant_new ("(uu@ay)", id_of (a),
                                                    MITOGEN_HANDLE_CALL_FUNCTION,
                                                    g_variant_new_from_bytes (G_VARIANT_TYPE_BYTESTRING,
                                                                              bodies->pdata[i], TRUE)),
                                     NULL, &error);
      g_assert_null (unused);
      g_assert_nonnull (error);
      assert_logged ();
    }
  assert_all_well (f, a);
}

/* ---- main -------------------------------------------------------------- */

static void
add_modules (void)
{
  g_autoptr(GError) error = NULL;

  g_assert_nonnull (g_getenv ("MITOGEN_TEST_MODULE"));
  g_assert_nonnull (g_getenv ("MITOGEN_TEST_HOSTILE_MODULE"));
  g_assert_true (mitogen_add_module ("testmod", g_getenv ("MITOGEN_TEST_MODULE"), &error));
  g_assert_no_error (error);
  g_assert_true (mitogen_add_module ("hostile", g_getenv ("MITOGEN_TEST_HOSTILE_MODULE"), &error));
  g_assert_no_error (error);
}

static void
add (const char    *path,
     gconstpointer  data,
     void         (*func) (Fixture *, gconstpointer))
{
  g_test_add_vtable (path, sizeof (Fixture), data,
                     (GTestFixtureFunc) mitogen_test_fixture_setup,
                     (GTestFixtureFunc) func,
                     (GTestFixtureFunc) mitogen_test_fixture_teardown);
}

int
main (int    argc,
      char **argv)
{
  static const SprayCase values = { FALSE, FALSE };
  static const SprayCase dead = { TRUE, FALSE };
  static const SprayCase values_unidirectional = { FALSE, TRUE };
  static const SprayCase dead_unidirectional = { TRUE, TRUE };

  mitogen_test_init (&argc, &argv);
  add_modules ();

  add ("/hostile/replies/forged-values", &values, test_sibling_sprays_master_handles);
  add ("/hostile/replies/forged-dead", &dead, test_sibling_sprays_master_handles);
  add ("/hostile/replies/unidirectional-values", &values_unidirectional,
       test_sibling_sprays_master_handles);
  add ("/hostile/replies/unidirectional-dead", &dead_unidirectional,
       test_sibling_sprays_master_handles);
  add ("/hostile/replies/forged-module", NULL, test_sibling_forges_module_answer);
  add ("/hostile/json/undecodable-body", NULL, test_undecodable_json_body);

  add ("/hostile/ids/claim-master", NULL, test_claim_master_id);
  add ("/hostile/ids/claim-sibling", NULL, test_claim_sibling_id);
  add ("/hostile/ids/claim-next", NULL, test_claim_next_id);
  add ("/hostile/ids/claim-unused", NULL, test_claim_unused_id);
  add ("/hostile/ids/claim-exited", NULL, test_claim_exited_id);
  add ("/hostile/ids/claim-own-allocated", NULL, test_claim_own_allocated_id);
  add ("/hostile/ids/grandchild-claims-ancestors", NULL, test_grandchild_claims_ancestors);
  add ("/hostile/ids/grandchild-claims-cousin", NULL, test_grandchild_claims_cousin);
  add ("/hostile/ids/allocate-flood", NULL, test_allocate_id_flood);
  add ("/hostile/ids/allocated-stay-owned", NULL, test_allocated_ids_stay_owned);

  add ("/hostile/holds/forged-source", NULL, test_forged_source);
  add ("/hostile/holds/calls-up-and-sideways", NULL, test_calls_up_and_sideways);
  add ("/hostile/holds/shutdown-from-non-ancestor", NULL, test_shutdown_from_non_ancestor);
  add ("/hostile/holds/del-route-for-others", NULL, test_del_route_for_others);
  add ("/hostile/holds/get-module-names", NULL, test_get_module_names);
  add ("/hostile/holds/get-module-from-grandchild", NULL, test_get_module_from_grandchild);
  add ("/hostile/holds/cancel-from-sibling", NULL, test_cancel_from_sibling);
  return g_test_run ();
}
