/* mitogen-broker.c: the thread that owns all stream I/O of a process.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "mitogen-private.h"

/**
 * MitogenBroker:
 *
 * A thread running its own #GMainContext, on which every stream of the
 * process is read and written, like GDBus's worker thread. Handlers added
 * with mitogen_router_add_handler() run here, so they must not block, and
 * blocking calls made here fail instead of deadlocking.
 */
struct _MitogenBroker
{
  GObject       parent_instance;

  GMainContext *context;   /* immutable; iterated only by @thread */
  GMainLoop    *loop;      /* immutable */
  GThread      *thread;    /* owned until joined; guarded by @lock */
  GMutex        lock;
  gint          running;   /* atomic: TRUE until shutdown */
};

G_DEFINE_FINAL_TYPE (MitogenBroker, mitogen_broker, G_TYPE_OBJECT)

static gpointer
broker_thread_main (gpointer data)
{
  MitogenBroker *self = data;

  g_main_context_push_thread_default (self->context);
  /* Not g_main_loop_run(): it would forget a quit that came before it
   * started, and a broker shut down right after creation would never stop.
   * The wakeup in shutdown is not lost: it stays pending until polled. */
  while (g_atomic_int_get (&self->running))
    g_main_context_iteration (self->context, TRUE);
  /* Let sources removed during shutdown release what they hold. */
  while (g_main_context_iteration (self->context, FALSE))
    ;
  g_main_context_pop_thread_default (self->context);
  return NULL;
}

static void
mitogen_broker_finalize (GObject *object)
{
  MitogenBroker *self = MITOGEN_BROKER (object);

  mitogen_broker_shutdown (self);
  /* Finalized on our own thread would mean joining ourselves. */
  if (self->thread != NULL && g_thread_self () != self->thread)
    mitogen_broker_join (self);
  else if (self->thread != NULL)
    g_thread_unref (self->thread);
  g_main_loop_unref (self->loop);
  g_main_context_unref (self->context);
  g_mutex_clear (&self->lock);

  G_OBJECT_CLASS (mitogen_broker_parent_class)->finalize (object);
}

static void
mitogen_broker_class_init (MitogenBrokerClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = mitogen_broker_finalize;
}

static void
mitogen_broker_init (MitogenBroker *self)
{
  g_mutex_init (&self->lock);
  self->context = g_main_context_new ();
  self->loop = g_main_loop_new (self->context, FALSE);
  self->running = TRUE;
  self->thread = g_thread_new ("mitogen-broker", broker_thread_main, self);
}

/**
 * mitogen_broker_new:
 *
 * Creates a broker and starts its thread.
 *
 * Returns: (transfer full): a new broker
 */
MitogenBroker *
mitogen_broker_new (void)
{
  return g_object_new (MITOGEN_TYPE_BROKER, NULL);
}

/**
 * mitogen_broker_shutdown:
 * @broker: a broker
 *
 * Asks the broker thread to stop. Streams still open are closed by their
 * routers; call mitogen_broker_join() to wait for the thread.
 */
void
mitogen_broker_shutdown (MitogenBroker *broker)
{
  g_return_if_fail (MITOGEN_IS_BROKER (broker));

  if (g_atomic_int_compare_and_exchange (&broker->running, TRUE, FALSE))
    g_main_loop_quit (broker->loop);
}

/**
 * mitogen_broker_join:
 * @broker: a broker
 *
 * Waits for the broker thread to exit after mitogen_broker_shutdown().
 * Calling it on the broker thread itself does nothing.
 */
void
mitogen_broker_join (MitogenBroker *broker)
{
  GThread *thread;

  g_return_if_fail (MITOGEN_IS_BROKER (broker));

  g_mutex_lock (&broker->lock);
  thread = broker->thread;
  if (thread == g_thread_self ())
    thread = NULL;
  else
    broker->thread = NULL;
  g_mutex_unlock (&broker->lock);

  if (thread != NULL)
    g_thread_join (thread);
}

/**
 * mitogen_broker_defer:
 * @broker: a broker
 * @func: (scope notified) (closure user_data) (destroy notify): what to run
 * @user_data: data for @func
 * @notify: (nullable): frees @user_data
 *
 * Runs @func on the broker thread soon (at once when called there), until it
 * returns %G_SOURCE_REMOVE.
 */
void
mitogen_broker_defer (MitogenBroker  *broker,
                      GSourceFunc     func,
                      gpointer        user_data,
                      GDestroyNotify  notify)
{
  g_return_if_fail (MITOGEN_IS_BROKER (broker));

  g_main_context_invoke_full (broker->context, G_PRIORITY_DEFAULT,
                              func, user_data, notify);
}

/**
 * mitogen_broker_is_broker_thread:
 * @broker: a broker
 *
 * Tells whether the calling thread is @broker's own. Blocking calls use it
 * to fail rather than wait on the thread that would have to wake them.
 *
 * Returns: %TRUE when called on @broker's thread
 */
gboolean
mitogen_broker_is_broker_thread (MitogenBroker *broker)
{
  g_return_val_if_fail (MITOGEN_IS_BROKER (broker), FALSE);

  return g_main_context_is_owner (broker->context);
}

/**
 * mitogen_broker_get_main_context:
 * @broker: a broker
 *
 * Gets the #GMainContext the broker thread iterates. Sources attached to
 * it run on the broker thread and must not block.
 *
 * Returns: (transfer none): the main context the broker thread iterates
 */
GMainContext *
mitogen_broker_get_main_context (MitogenBroker *broker)
{
  g_return_val_if_fail (MITOGEN_IS_BROKER (broker), NULL);

  return broker->context;
}

/**
 * mitogen_broker_is_running:
 * @broker: a broker
 *
 * Tells whether the broker thread is still serving its streams.
 *
 * Returns: %TRUE until mitogen_broker_shutdown() is called
 */
gboolean
mitogen_broker_is_running (MitogenBroker *broker)
{
  g_return_val_if_fail (MITOGEN_IS_BROKER (broker), FALSE);

  return g_atomic_int_get (&broker->running);
}

gboolean
_mitogen_check_not_broker (MitogenBroker  *broker,
                           const char     *what,
                           GError        **error)
{
  if (broker != NULL && mitogen_broker_is_broker_thread (broker))
    {
      g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_FAILED,
                   "%s would block the broker thread; use the _async variant "
                   "or call it from another thread", what);
      return FALSE;
    }
  return TRUE;
}
