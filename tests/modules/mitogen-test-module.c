/* mitogen-test-module.c: a user module for the tests. It is never installed
 * where the agents run: they fetch it from the master on first use.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <string.h>
#include <unistd.h>

#include <mitogen/mitogen.h>

/* testmod.add (ii) → i */
static GVariant *
testmod_add (MitogenCall *call, GVariant *args, gpointer data, GError **error)
{
  gint32 a, b;

  if (args == NULL || !g_variant_is_of_type (args, G_VARIANT_TYPE ("(ii)")))
    {
      g_set_error_literal (error, MITOGEN_ERROR, MITOGEN_ERROR_CALL, "testmod.add takes (ii)");
      return NULL;
    }
  g_variant_get (args, "(ii)", &a, &b);
  return g_variant_new_int32 (a + b);
}

/* testmod.whoami () → (iu): pid and context id, proving where it ran. */
static GVariant *
testmod_whoami (MitogenCall *call, GVariant *args, gpointer data, GError **error)
{
  return g_variant_new ("(iu)", (gint32) getpid (), mitogen_get_context_id ());
}

/* testmod.call_context (u id, s function) → s: calls another context from
 * inside this one and returns the error text, or "ok". Lets the tests
 * check that calls towards a parent or a sibling are refused. */
static GVariant *
testmod_call_context (MitogenCall *call, GVariant *args, gpointer data, GError **error)
{
  g_autoptr(MitogenContext) target = NULL;
  g_autoptr(GVariant) result = NULL;
  g_autoptr(GError) local_error = NULL;
  const char *function;
  guint32 id;

  if (args == NULL || !g_variant_is_of_type (args, G_VARIANT_TYPE ("(us)")))
    {
      g_set_error_literal (error, MITOGEN_ERROR, MITOGEN_ERROR_CALL,
                           "testmod.call_context takes (us)");
      return NULL;
    }
  g_variant_get (args, "(u&s)", &id, &function);
  target = mitogen_router_context_by_id (mitogen_call_get_router (call), id);
  result = mitogen_context_call (target, function, NULL, NULL, &local_error);
  return g_variant_new_string (result != NULL ? "ok" : local_error->message);
}

/* testmod.raise (s domain, i code, s message): fails with exactly that
 * error, whatever the domain and code. Lets the tests play a hostile or
 * foreign context whose errors the master must take apart safely. */
static GVariant *
testmod_raise (MitogenCall *call, GVariant *args, gpointer data, GError **error)
{
  const char *domain, *message;
  gint32 code;

  if (args == NULL || !g_variant_is_of_type (args, G_VARIANT_TYPE ("(sis)")))
    {
      g_set_error_literal (error, MITOGEN_ERROR, MITOGEN_ERROR_CALL, "testmod.raise takes (sis)");
      return NULL;
    }
  g_variant_get (args, "(&si&s)", &domain, &code, &message);
  g_set_error_literal (error, g_quark_from_string (domain), code, message);
  return NULL;
}

static gint later_pending;  /* atomic: answer_later threads still running */

typedef struct
{
  MitogenCall *call;     /* owned until answered */
  double       seconds;
  gboolean     drop;     /* let go without answering */
} Later;

/* A thread of its own answers the deferred call. */
static gpointer
answer_later (gpointer data)
{
  Later *later = data;
  GCancellable *cancellable = mitogen_call_get_cancellable (later->call);
  gint64 deadline = g_get_monotonic_time () + (gint64) (later->seconds * G_USEC_PER_SEC);

  while (g_get_monotonic_time () < deadline && !g_cancellable_is_cancelled (cancellable))
    g_usleep (1000);
  if (later->drop)
    ;
  else if (g_cancellable_is_cancelled (cancellable))
    {
      g_autoptr(GError) error = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED,
                                                     "testmod.later was cancelled");
      mitogen_call_return_error (later->call, error);
    }
  else
    mitogen_call_return_value (later->call, g_variant_new_string ("later"));
  g_object_unref (later->call);
  g_free (later);
  g_atomic_int_add (&later_pending, -1);
  return NULL;
}

/* testmod.pending () → i: deferred calls not answered yet. */
static GVariant *
testmod_pending (MitogenCall *call, GVariant *args, gpointer data, GError **error)
{
  return g_variant_new_int32 (g_atomic_int_get (&later_pending));
}

/* testmod.later (d seconds, b drop) → s "later", answered from another
 * thread after @seconds while this context goes on with other calls; with
 * @drop, the call is let go of without an answer. */
static GVariant *
testmod_later (MitogenCall *call, GVariant *args, gpointer data, GError **error)
{
  Later *later;

  if (args == NULL || !g_variant_is_of_type (args, G_VARIANT_TYPE ("(db)")))
    {
      g_set_error_literal (error, MITOGEN_ERROR, MITOGEN_ERROR_CALL, "testmod.later takes (db)");
      return NULL;
    }
  later = g_new0 (Later, 1);
  g_variant_get (args, "(db)", &later->seconds, &later->drop);
  later->call = g_object_ref (call);
  /* The cancellable is made by the thread that runs the call. */
  mitogen_call_get_cancellable (call);
  mitogen_call_return_later (call);
  g_atomic_int_inc (&later_pending);
  g_thread_unref (g_thread_new ("testmod.later", answer_later, later));
  return NULL;
}

/* testmod.leak () → (): loses MITOGEN_TEST_LEAK_SIZE bytes on purpose, so
 * that test-agent-check can see the checkers find a leak in an agent. The
 * size is odd enough to name this leak in a report. */
#define MITOGEN_TEST_LEAK_SIZE 4243

static GVariant *
testmod_leak (MitogenCall *call, GVariant *args, gpointer data, GError **error)
{
  char *lost = g_malloc (MITOGEN_TEST_LEAK_SIZE);

  memset (lost, 0x5a, MITOGEN_TEST_LEAK_SIZE);
  /* Through a volatile pointer, so that the compiler keeps the block. */
  *(char * volatile *) &lost = NULL;
  return g_variant_new ("()");
}

/* testmod.overread () → y: the byte just past the end of a heap block,
 * for the same test (ASan ends the agent there, valgrind reports it). */
static GVariant *
testmod_overread (MitogenCall *call, GVariant *args, gpointer data, GError **error)
{
  volatile gsize size = 24;
  g_autofree guchar *block = g_malloc0 (size);

  return g_variant_new_byte (block[size]);
}

/* A GObject class with one property, for testmod.property. */
#define TESTMOD_TYPE_THING (testmod_thing_get_type ())
G_DECLARE_FINAL_TYPE (TestmodThing, testmod_thing, TESTMOD, THING, GObject)

struct _TestmodThing
{
  GObject parent_instance;
  char *label;   /* owned: the "label" property */
};

G_DEFINE_FINAL_TYPE (TestmodThing, testmod_thing, G_TYPE_OBJECT)

static void
testmod_thing_set_property (GObject *object, guint id, const GValue *value, GParamSpec *pspec)
{
  TestmodThing *self = TESTMOD_THING (object);

  g_free (self->label);
  self->label = g_value_dup_string (value);
}

static void
testmod_thing_get_property (GObject *object, guint id, GValue *value, GParamSpec *pspec)
{
  g_value_set_string (value, TESTMOD_THING (object)->label);
}

static void
testmod_thing_finalize (GObject *object)
{
  g_free (TESTMOD_THING (object)->label);
  G_OBJECT_CLASS (testmod_thing_parent_class)->finalize (object);
}

static void
testmod_thing_class_init (TestmodThingClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->set_property = testmod_thing_set_property;
  object_class->get_property = testmod_thing_get_property;
  object_class->finalize = testmod_thing_finalize;
  g_object_class_install_property (object_class, 1,
    g_param_spec_string ("label", NULL, NULL, NULL, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS));
}

static void
testmod_thing_init (TestmodThing *self)
{
}

/* testmod.property (s) → s: makes a GObject of a class this module
 * defines, with its string property set to the argument, and reads the
 * property back through GObject's type system (the one the process has:
 * with two GLibs in the process, which is not the same). */
static GVariant *
testmod_property (MitogenCall *call, GVariant *args, gpointer data, GError **error)
{
  g_autoptr(GObject) thing = NULL;
  g_autofree char *label = NULL;
  const char *value;

  if (args == NULL || !g_variant_is_of_type (args, G_VARIANT_TYPE ("(s)")))
    {
      g_set_error_literal (error, MITOGEN_ERROR, MITOGEN_ERROR_CALL, "testmod.property takes (s)");
      return NULL;
    }
  g_variant_get (args, "(&s)", &value);
  thing = g_object_new (TESTMOD_TYPE_THING, "label", value, NULL);
  g_object_get (thing, "label", &label, NULL);
  return g_variant_new_string (label != NULL ? label : "(null)");
}

static void
register_functions (void)
{
  mitogen_register_function ("testmod.property", testmod_property, NULL, NULL);
  mitogen_register_function ("testmod.leak", testmod_leak, NULL, NULL);
  mitogen_register_function ("testmod.overread", testmod_overread, NULL, NULL);
  mitogen_register_function ("testmod.later", testmod_later, NULL, NULL);
  mitogen_register_function ("testmod.pending", testmod_pending, NULL, NULL);
  mitogen_register_function ("testmod.add", testmod_add, NULL, NULL);
  mitogen_register_function ("testmod.whoami", testmod_whoami, NULL, NULL);
  mitogen_register_function ("testmod.call_context", testmod_call_context, NULL, NULL);
  mitogen_register_function ("testmod.raise", testmod_raise, NULL, NULL);
}

MITOGEN_DEFINE_MODULE (register_functions)
