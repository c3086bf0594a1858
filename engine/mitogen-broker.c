/* mitogen-broker.c: the thread that owns all stream I/O of a process.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "mitogen-broker-private.h"

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
  GCond         cond;      /* broadcast when a run_and_wait() job is done */
  gboolean      finished;  /* guarded by @lock: the thread dispatches nothing new */
  GArray       *hooks;     /* guarded by @lock; ShutdownHook, run on shutdown */
  gint          running;   /* atomic: TRUE until shutdown */
};

typedef struct
{
  gpointer owner;                      /* unowned: removed before it dies */
  void   (*func) (gpointer owner);
} ShutdownHook;

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
  /* Run what shutdown queued (the hooks), and let sources removed during
   * shutdown release what they hold. Anything added before @finished is
   * set still runs in the last pass. */
  while (g_main_context_iteration (self->context, FALSE))
    ;
  g_mutex_lock (&self->lock);
  self->finished = TRUE;
  g_mutex_unlock (&self->lock);
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
  g_array_unref (self->hooks);
  g_mutex_clear (&self->lock);
  g_cond_clear (&self->cond);

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
  g_cond_init (&self->cond);
  self->hooks = g_array_new (FALSE, FALSE, sizeof (ShutdownHook));
  self->context = g_main_context_new ();
  self->loop = g_main_loop_new (self->context, FALSE);
  self->running = TRUE;
  self->thread = g_thread_new ("mitogen-broker", broker_thread_main, self);
}

static gboolean
run_shutdown_hooks (gpointer data)
{
  MitogenBroker *self = data;

  /* Under the lock, so that an owner removing its hook waits until its
   * hook is done rather than dying under it. Hooks must not add or remove
   * hooks. */
  g_mutex_lock (&self->lock);
  for (guint i = 0; i < self->hooks->len; i++)
    {
      ShutdownHook *hook = &g_array_index (self->hooks, ShutdownHook, i);

      hook->func (hook->owner);
    }
  g_mutex_unlock (&self->lock);
  return G_SOURCE_REMOVE;
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
 * Asks the broker thread to stop. Before it does, every router on this
 * broker closes its streams: the contexts it started exit, and calls still
 * waiting for them fail with %MITOGEN_ERROR_CHANNEL. Call
 * mitogen_broker_join() to wait for the thread.
 */
void
mitogen_broker_shutdown (MitogenBroker *broker)
{
  g_return_if_fail (MITOGEN_IS_BROKER (broker));

  if (!g_atomic_int_compare_and_exchange (&broker->running, TRUE, FALSE))
    return;
  /* Queued before the thread sees @running drop, so it runs on the way
   * out; at once when called on the broker thread. */
  g_main_context_invoke (broker->context, run_shutdown_hooks, broker);
  g_main_context_wakeup (broker->context);
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

void
_mitogen_broker_add_shutdown_hook (MitogenBroker *broker,
                                   gpointer       owner,
                                   void         (*func) (gpointer owner))
{
  ShutdownHook hook = { owner, func };

  g_mutex_lock (&broker->lock);
  g_array_append_val (broker->hooks, hook);
  g_mutex_unlock (&broker->lock);
}

void
_mitogen_broker_remove_shutdown_hook (MitogenBroker *broker,
                                      gpointer       owner)
{
  g_mutex_lock (&broker->lock);
  for (guint i = broker->hooks->len; i > 0; i--)
    if (g_array_index (broker->hooks, ShutdownHook, i - 1).owner == owner)
      g_array_remove_index (broker->hooks, i - 1);
  g_mutex_unlock (&broker->lock);
}

typedef struct
{
  MitogenBroker *broker;
  void         (*func) (gpointer data);
  gpointer       data;
  gboolean       done;      /* guarded by broker->lock */
} Job;

static gboolean
run_job (gpointer data)
{
  Job *job = data;

  job->func (job->data);
  g_mutex_lock (&job->broker->lock);
  job->done = TRUE;
  g_cond_broadcast (&job->broker->cond);
  g_mutex_unlock (&job->broker->lock);
  return G_SOURCE_REMOVE;
}

void
_mitogen_broker_run_and_wait (MitogenBroker *broker,
                              void         (*func) (gpointer data),
                              gpointer       data)
{
  Job job = { broker, func, data, FALSE };
  gint64 deadline = g_get_monotonic_time () + 5 * G_TIME_SPAN_SECOND;
  gboolean queued = FALSE;

  if (mitogen_broker_is_broker_thread (broker))
    {
      func (data);
      return;
    }
  g_mutex_lock (&broker->lock);
  if (!broker->finished && broker->thread != NULL)
    {
      GSource *source = g_idle_source_new ();

      g_source_set_callback (source, run_job, &job, NULL);
      g_source_set_static_name (source, "[mitogen] run and wait");
      g_source_attach (source, broker->context);
      g_source_unref (source);
      queued = TRUE;
      while (!job.done && g_cond_wait_until (&broker->cond, &broker->lock, deadline))
        ;
    }
  g_mutex_unlock (&broker->lock);

  if (!queued)
    func (data);
  else if (!job.done)
    g_critical ("broker: a job on the broker thread did not finish in time");
}
