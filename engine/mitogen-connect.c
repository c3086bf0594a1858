/* mitogen-connect.c: starting contexts, directly or through another one.
 *
 * Connecting is one asynchronous state machine; the blocking call runs it
 * to completion on a private main context. A direct start goes:
 *
 *   options → transport and serializer → the transport opens a stream
 *   → a context id → bootstrap frame out → ready frame in → the context
 *
 * Only the transport's own step may block (a password prompt, an SSH
 * handshake): the async call runs it in a worker thread, the blocking
 * call on the calling thread. A start through another context (via) asks
 * that context to run the same machine with core.connect.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#define _GNU_SOURCE  /* dladdr() */
#include "config.h"

#include <dlfcn.h>

#include "mitogen-bootstrap-private.h"
#include "mitogen-connect-options-private.h"
#include "mitogen-connect-private.h"
#include "mitogen-context-private.h"
#include "mitogen-control-private.h"
#include "mitogen-message-private.h"
#include "mitogen-module-private.h"
#include "mitogen-request-private.h"
#include "mitogen-router-private.h"

#define DEFAULT_CONNECT_TIMEOUT_MSEC 30000

typedef struct
{
  MitogenRouter     *router;          /* owned */
  char              *transport_name;
  GVariant          *options;         /* owned, nullable: an a{sv} */
  MitogenContext    *via;             /* owned, nullable */
  gboolean           blocking;        /* run the transport's step on this thread */
  guint32            id;              /* 0 until allocated (or told, via) */

  MitogenConnectOptions opts;         /* the options every transport shares */
  gint64             deadline;        /* monotonic µs: the whole start */

  MitogenTransport  *transport;       /* owned, once found */
  MitogenSerializer *serializer;      /* owned, once found */
  GIOStream         *io;              /* owned, once open */
  MitogenStream     *stream;          /* owned, once adopted */
  MitogenLatch      *ready;           /* owned: receives the ready frame */
} Connect;

static void
connect_free (gpointer data)
{
  Connect *c = data;

  g_object_unref (c->router);
  g_free (c->transport_name);
  g_clear_pointer (&c->options, g_variant_unref);
  g_clear_object (&c->via);
  _mitogen_connect_options_clear (&c->opts);
  g_clear_object (&c->transport);
  g_clear_object (&c->serializer);
  g_clear_object (&c->io);
  g_clear_pointer (&c->stream, _mitogen_stream_unref);
  g_clear_pointer (&c->ready, _mitogen_latch_unref);
  g_free (c);
}

/* Fails the start; a child already adopted is closed with the reason. */
static void
connect_fail (GTask  *task,
              GError *error)
{
  Connect *c = g_task_get_task_data (task);

  if (c->stream != NULL)
    _mitogen_router_abandon_child (c->router, c->stream, error);
  g_task_return_error (task, error);
  g_object_unref (task);
}

static int
remaining_msec (Connect *c)
{
  return MAX (1, (int) ((c->deadline - g_get_monotonic_time ()) / 1000));
}

/* ---- the transport's step ---------------------------------------------- */

/* The transport @name; an agent lacking its plugin fetches it from its
 * parent, so a context can start contexts where nothing is installed. */
static MitogenTransport *
lookup_transport (MitogenRouter  *router,
                  const char     *name,
                  GCancellable   *cancellable,
                  GError        **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autofree char *module = NULL;
  MitogenTransport *transport;

  transport = mitogen_transport_lookup (name, &local_error);
  if (transport != NULL)
    return transport;
  if (mitogen_is_master ())
    {
      if (local_error == NULL)
        g_set_error (&local_error, MITOGEN_ERROR, MITOGEN_ERROR_FAILED,
                     "no transport named “%s”", name);
      g_propagate_error (error, g_steal_pointer (&local_error));
      return NULL;
    }
  module = g_strdup_printf ("transport:%s", name);
  if (!_mitogen_module_ensure (router, module, cancellable, error))
    return NULL;
  return mitogen_transport_lookup (name, error);
}

/* Finds the transport and has it open a stream to a new agent. May block. */
static GIOStream *
open_stream (Connect       *c,
             GCancellable  *cancellable,
             GError       **error)
{
  GError *local_error = NULL;
  GIOStream *io;

  if (c->transport == NULL)
    c->transport = lookup_transport (c->router, c->transport_name, cancellable, error);
  if (c->transport == NULL)
    return NULL;
  /* Here, where the transport runs (in an agent for a hop via it): a
   * misspelt "username" must not start sudo as root. */
  if (!mitogen_transport_check_options (c->transport, c->transport_name, c->options, error))
    return NULL;
  io = mitogen_transport_open_stream (c->transport, c->options, c->opts.agent_path,
                                      cancellable, &local_error);
  /* A transport written in another language may forget the error. */
  if (io == NULL && local_error == NULL)
    g_set_error (&local_error, MITOGEN_ERROR, MITOGEN_ERROR_FAILED,
                 "transport “%s” opened no stream and gave no reason", c->transport_name);
  if (io != NULL && !G_IS_IO_STREAM (io))
    {
      g_clear_object (&io);
      g_set_error (&local_error, MITOGEN_ERROR, MITOGEN_ERROR_FAILED,
                   "transport “%s” returned something that is not a GIOStream",
                   c->transport_name);
    }
  if (io == NULL)
    g_propagate_error (error, local_error);
  return io;
}

static void
open_stream_in_thread (GTask        *task,
                       gpointer      source_object,
                       gpointer      task_data,
                       GCancellable *cancellable)
{
  GError *error = NULL;
  GIOStream *io = open_stream (task_data, cancellable, &error);

  if (io == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, io, g_object_unref);
}

/* Transports written in C are free-threaded; one implemented by a
 * language binding (its open_stream is a libffi closure, in no loaded
 * object) runs on the thread that connects, as GJS requires. */
static gboolean
transport_runs_in_thread (MitogenTransport *transport)
{
  MitogenTransportInterface *iface = MITOGEN_TRANSPORT_GET_IFACE (transport);
  Dl_info info;

  return iface->open_stream != NULL && dladdr ((void *) iface->open_stream, &info) != 0;
}

static void connect_stream_opened (GObject *source, GAsyncResult *result, gpointer data);
static void connect_have_stream (GTask *task);

static void
connect_open_stream (GTask *task)
{
  Connect *c = g_task_get_task_data (task);
  GError *error = NULL;

  if (!c->blocking && c->transport == NULL)
    c->transport = mitogen_transport_lookup (c->transport_name, NULL);
  /* In an agent a missing transport is fetched (blocking) in the thread. */
  if (!c->blocking && (c->transport == NULL || transport_runs_in_thread (c->transport)))
    {
      /* No source object: the thread pool may drop its reference to
       * the step after the step's callback ran; the router should not
       * live on in it. */
      GTask *step = g_task_new (NULL, g_task_get_cancellable (task),
                                connect_stream_opened, task);

      g_task_set_task_data (step, c, NULL);
      g_task_run_in_thread (step, open_stream_in_thread);
      g_object_unref (step);
      return;
    }
  c->io = open_stream (c, g_task_get_cancellable (task), &error);
  if (c->io == NULL)
    connect_fail (task, error);
  else
    connect_have_stream (task);
}

static void
connect_stream_opened (GObject      *source,
                       GAsyncResult *result,
                       gpointer      data)
{
  GTask *task = data;
  Connect *c = g_task_get_task_data (task);
  GError *error = NULL;

  c->io = g_task_propagate_pointer (G_TASK (result), &error);
  if (c->io == NULL)
    connect_fail (task, error);
  else
    connect_have_stream (task);
}

/* ---- the id, the bootstrap and the ready frame ------------------------- */

static void connect_got_id (GObject *source, GAsyncResult *result, gpointer data);
static void connect_send_bootstrap (GTask *task);
static void connect_got_ready (GObject *source, GAsyncResult *result, gpointer data);

/* A new context id, granted to this router (the master's counter, or
 * asked of the parent, which asks its own), then the bootstrap. */
static void
connect_got_id (GObject      *source,
                GAsyncResult *result,
                gpointer      data)
{
  GTask *task = data;
  Connect *c = g_task_get_task_data (task);
  GError *error = NULL;

  c->id = _mitogen_control_allocate_id_finish (result, &error);
  if (c->id == 0)
    connect_fail (task, error);
  else
    connect_send_bootstrap (task);
}

static void
connect_have_stream (GTask *task)
{
  Connect *c = g_task_get_task_data (task);

  _mitogen_control_allocate_id_async (c->router, _mitogen_router_get_route_table (c->router),
                                      g_task_get_cancellable (task), connect_got_id, task);
}

static GBytes *
connect_bootstrap_bytes (Connect *c)
{
  g_autoptr(MitogenBootstrap) boot = _mitogen_bootstrap_new ();
  MitogenRouteTable *table = _mitogen_router_get_route_table (c->router);
  g_autoptr(GArray) lineage = _mitogen_route_table_dup_lineage (table);

  boot->context_id = c->id;
  boot->parent_id = mitogen_router_get_context_id (c->router);
  g_array_append_vals (boot->ancestors, lineage->data, lineage->len);
  boot->transport = g_strdup (c->transport_name);
  boot->name = g_strdup (c->opts.name);
  boot->serializer = g_strdup (c->opts.serializer);
  boot->plugin_path = _mitogen_connect_options_plugin_path (&c->opts, c->transport);
  boot->max_message_size = mitogen_router_get_max_message_size (c->router);
  boot->max_buffered = mitogen_router_get_max_buffered (c->router);
  boot->debug = c->opts.debug;
  g_object_get (c->router, "unidirectional", &boot->unidirectional, NULL);
  return _mitogen_bootstrap_encode (boot);
}

static void
connect_send_bootstrap (GTask *task)
{
  Connect *c = g_task_get_task_data (task);
  g_autofree char *stream_name = g_strdup_printf ("%s#%u", c->transport_name, c->id);
  g_autoptr(MitogenMessage) boot = NULL;
  g_autoptr(GBytes) data = NULL;
  g_autoptr(GTask) wait = NULL;
  GError *error = NULL;

  c->stream = _mitogen_stream_new_for_io_stream (mitogen_router_get_broker (c->router), c->io,
                                                 stream_name, &error);
  if (c->stream == NULL)
    {
      connect_fail (task, error);
      return;
    }
  _mitogen_stream_set_serializer (c->stream, c->serializer);
  _mitogen_stream_set_max_message_size (c->stream, mitogen_router_get_max_message_size (c->router));
  _mitogen_stream_set_remote_id (c->stream, c->id);
  c->ready = _mitogen_router_adopt_child (c->router, c->stream, c->id, &error);
  if (c->ready == NULL)
    {
      _mitogen_stream_close (c->stream, error);
      g_clear_pointer (&c->stream, _mitogen_stream_unref);
      connect_fail (task, error);
      return;
    }

  data = connect_bootstrap_bytes (c);
  boot = _mitogen_message_new_raw (c->id, mitogen_router_get_context_id (c->router),
                                   MITOGEN_HANDLE_BOOTSTRAP, data);
  if (!_mitogen_stream_send (c->stream, boot, &error))
    {
      connect_fail (task, error);
      return;
    }
  _mitogen_stream_start (c->stream);
  /* Likewise: the broker thread may drop the latch's reference late. */
  wait = g_task_new (NULL, g_task_get_cancellable (task), connect_got_ready, task);
  _mitogen_latch_get_async (c->ready, remaining_msec (c), wait);
}

static void
connect_got_ready (GObject      *source,
                   GAsyncResult *result,
                   gpointer      data)
{
  GTask *task = data;
  Connect *c = g_task_get_task_data (task);
  g_autoptr(MitogenMessage) ready = NULL;
  g_autoptr(GVariant) info = NULL;
  g_autoptr(MitogenContext) ctx = NULL;
  GError *error = NULL;
  const char *remote_name;

  ready = g_task_propagate_pointer (G_TASK (result), &error);
  if (ready == NULL && g_error_matches (error, MITOGEN_ERROR, MITOGEN_ERROR_TIMEOUT))
    {
      g_clear_error (&error);
      g_set_error (&error, MITOGEN_ERROR, MITOGEN_ERROR_TIMEOUT,
                   "%s: the agent did not answer within %.1f s",
                   c->transport_name, c->opts.timeout_msec / 1000.0);
    }
  else if (ready != NULL && mitogen_message_is_dead (ready))
    {
      g_autoptr(GError) why = NULL;
      g_autoptr(GVariant) unused = mitogen_message_unpack (ready, &why);

      g_set_error (&error, MITOGEN_ERROR, MITOGEN_ERROR_STREAM,
                   "%s: the agent failed to start: %s", c->transport_name, why->message);
    }
  else if (ready != NULL)
    info = _mitogen_ready_decode (ready->data, c->transport_name, &error);
  if (info == NULL)
    {
      connect_fail (task, error);
      return;
    }

  g_variant_lookup (info, "name", "&s", &remote_name);
  ctx = _mitogen_context_new (c->router, c->id, remote_name, NULL, info);
  _mitogen_router_add_context (c->router, ctx);
  /* Contexts above learn the new one is reachable through us. */
  _mitogen_control_announce_added (c->router, _mitogen_router_get_route_table (c->router),
                                   c->id, remote_name);
  g_task_return_pointer (task, g_steal_pointer (&ctx), g_object_unref);
  g_object_unref (task);
}

/* ---- through another context ------------------------------------------- */

static void connect_via_call (GTask *task);
static void connect_via_answered (GObject *source, GAsyncResult *result, gpointer data);

/* @via allocates the id itself, through its parent chain, so that every
 * router on the way records whose it is; its ADD_ROUTE reaches us before
 * its reply does, since both travel the same streams in order. */
static void
connect_via_call (GTask *task)
{
  Connect *c = g_task_get_task_data (task);
  g_autoptr(MitogenReceiver) recv = NULL;
  GVariant *options = c->options != NULL ? c->options : g_variant_new ("a{sv}", NULL);

  /* The options may hold a password: the message is cleared once sent. */
  recv = _mitogen_context_begin_call_full (c->via, "core.connect",
                                           g_variant_new ("(s@a{sv})", c->transport_name, options),
                                           TRUE);
  mitogen_receiver_get_async (recv, -1, g_task_get_cancellable (task), connect_via_answered, task);
}

/* The new id must have been announced through the stream that leads to
 * @via: a context cannot name one it did not start. */
static gboolean
routed_through_via (Connect *c)
{
  MitogenRouteTable *table = _mitogen_router_get_route_table (c->router);
  gpointer to_new = _mitogen_route_table_ref_route (table, c->id);
  gpointer to_via = _mitogen_route_table_ref_route (table, mitogen_context_get_id (c->via));
  gboolean ok = to_new != NULL && to_new == to_via && !_mitogen_route_table_is_parent (table, to_new);

  _mitogen_route_table_unref_stream (table, to_new);
  _mitogen_route_table_unref_stream (table, to_via);
  return ok;
}

static void
connect_via_answered (GObject      *source,
                      GAsyncResult *result,
                      gpointer      data)
{
  GTask *task = data;
  Connect *c = g_task_get_task_data (task);
  MitogenReceiver *recv = MITOGEN_RECEIVER (source);
  g_autoptr(MitogenMessage) reply = NULL;
  g_autoptr(GVariant) info = NULL;
  g_autoptr(GError) local_error = NULL;
  g_autoptr(MitogenContext) ctx = NULL;
  g_autofree char *name = NULL;
  const char *via_name = mitogen_context_get_name (c->via);
  const char *remote_name = NULL;

  reply = mitogen_receiver_get_finish (recv, result, &local_error);
  mitogen_receiver_close (recv);
  if (reply != NULL)
    info = mitogen_message_unpack (reply, &local_error);
  if (info == NULL)
    {
      /* Remote errors keep their domain and code: a refused password one
       * hop away is still MITOGEN_ERROR_AUTH here, a mistyped option
       * MITOGEN_ERROR_FAILED. */
      g_prefix_error (&local_error, "connecting %s via %s: ", c->transport_name, via_name);
      connect_fail (task, g_steal_pointer (&local_error));
      return;
    }
  if (!g_variant_is_of_type (info, G_VARIANT_TYPE_VARDICT) ||
      !g_variant_lookup (info, "name", "&s", &remote_name) ||
      !g_variant_lookup (info, "context_id", "u", &c->id) ||
      !routed_through_via (c))
    {
      connect_fail (task, g_error_new (MITOGEN_ERROR, MITOGEN_ERROR_PROTOCOL,
                                       "connecting %s via %s: malformed answer",
                                       c->transport_name, via_name));
      return;
    }
  name = g_strdup_printf ("%s.%s", via_name, remote_name);
  ctx = _mitogen_context_new (c->router, c->id, name, c->via, info);
  _mitogen_router_add_context (c->router, ctx);
  g_task_return_pointer (task, g_steal_pointer (&ctx), g_object_unref);
  g_object_unref (task);
}

/* ---- the whole start --------------------------------------------------- */

/* Starts the machine; @callback gets the task. */
static void
connect_start (MitogenRouter       *router,
               const char          *transport,
               GVariant            *options,
               MitogenContext      *via,
               gboolean             blocking,
               GCancellable        *cancellable,
               GAsyncReadyCallback  callback,
               gpointer             user_data)
{
  GTask *task = g_task_new (router, cancellable, callback, user_data);
  Connect *c = g_new0 (Connect, 1);
  GError *error = NULL;

  g_task_set_source_tag (task, connect_start);
  g_task_set_task_data (task, c, connect_free);
  c->router = g_object_ref (router);
  c->transport_name = g_strdup (transport);
  c->options = options != NULL ? g_variant_ref_sink (options) : NULL;
  c->via = via != NULL ? g_object_ref (via) : NULL;
  c->blocking = blocking;

  if (c->options != NULL && !g_variant_is_of_type (c->options, G_VARIANT_TYPE_VARDICT))
    {
      connect_fail (task, g_error_new (MITOGEN_ERROR, MITOGEN_ERROR_FAILED,
                                       "connect options must be an a{sv}, not '%s'",
                                       g_variant_get_type_string (c->options)));
      return;
    }
  if (via != NULL)
    {
      connect_via_call (task);
      return;
    }
  if (!_mitogen_connect_options_read (&c->opts, c->options, DEFAULT_CONNECT_TIMEOUT_MSEC, &error) ||
      (mitogen_is_master () &&
       (c->transport = lookup_transport (router, transport, cancellable, &error)) == NULL) ||
      (c->serializer = mitogen_serializer_lookup (c->opts.serializer, &error)) == NULL)
    {
      connect_fail (task, error);
      return;
    }
  /* connect_timeout covers everything: the transport's own work (a
   * password prompt, an SSH handshake) and the wait for the ready frame. */
  c->deadline = g_get_monotonic_time () + (gint64) c->opts.timeout_msec * 1000;
  if (c->opts.agent_path == NULL)
    c->opts.agent_path = _mitogen_router_dup_agent_path (router);
  connect_open_stream (task);
}

static MitogenContext *
connect_finish (MitogenRouter  *router,
                GAsyncResult   *result,
                GError        **error)
{
  g_return_val_if_fail (g_task_is_valid (result, router), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

static void
store_result (GObject      *source,
              GAsyncResult *result,
              gpointer      data)
{
  *(GAsyncResult **) data = g_object_ref (result);
}

/* Runs the machine to completion on a private main context. */
static MitogenContext *
connect_blocking (MitogenRouter   *router,
                  const char      *transport,
                  GVariant        *options,
                  MitogenContext  *via,
                  GCancellable    *cancellable,
                  GError         **error)
{
  g_autoptr(GMainContext) context = g_main_context_new ();
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(MitogenContext) ctx = NULL;

  g_main_context_push_thread_default (context);
  connect_start (router, transport, options, via, TRUE, cancellable, store_result, &result);
  while (result == NULL)
    g_main_context_iteration (context, TRUE);
  g_main_context_pop_thread_default (context);

  ctx = connect_finish (router, result, error);
  /* Out here, where the router's main context may be this thread's. */
  if (ctx != NULL)
    _mitogen_router_emit_context_added (router, ctx);
  return g_steal_pointer (&ctx);
}

/**
 * mitogen_router_connect_context:
 * @router: a router
 * @transport: the transport's name: "local", "ssh", "sudo", ...
 * @options: (nullable): the transport's options, an `a{sv}`; every
 *   transport also knows "name", "agent_path", "serializer", "debug",
 *   "plugin_path" and "connect_timeout" (seconds). A transport that
 *   declares its options (see mitogen_transport_list_options()) refuses
 *   unknown names and wrongly typed values before anything starts, in the
 *   context that runs it
 * @via: (nullable): the context that should start the new one
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for an error
 *
 * Starts a new context with @transport and waits until its agent is ready
 * (Mitogen's `Router.connect()`). #MitogenRouter::context-added is emitted
 * before this returns when the router belongs to this thread's main
 * context. Must not be called on the broker thread.
 *
 * Returns: (transfer full): the new context, or %NULL with @error set
 */
MitogenContext *
mitogen_router_connect_context (MitogenRouter   *router,
                                const char      *transport,
                                GVariant        *options,
                                MitogenContext  *via,
                                GCancellable    *cancellable,
                                GError         **error)
{
  g_autoptr(GVariant) sunk = options != NULL ? g_variant_ref_sink (options) : NULL;

  g_return_val_if_fail (MITOGEN_IS_ROUTER (router), NULL);
  g_return_val_if_fail (transport != NULL, NULL);
  g_return_val_if_fail (via == NULL || MITOGEN_IS_CONTEXT (via), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!_mitogen_check_not_broker (mitogen_router_get_broker (router),
                                  "mitogen_router_connect_context()", error))
    return NULL;
  return connect_blocking (router, transport, options, via, cancellable, error);
}

static void
connect_async_done (GObject      *source,
                    GAsyncResult *result,
                    gpointer      data)
{
  g_autoptr(GTask) task = data;
  g_autoptr(MitogenContext) ctx = NULL;
  GError *error = NULL;

  ctx = connect_finish (MITOGEN_ROUTER (source), result, &error);
  if (ctx == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  _mitogen_router_emit_context_added (MITOGEN_ROUTER (source), ctx);
  g_task_return_pointer (task, g_steal_pointer (&ctx), g_object_unref);
}

/**
 * mitogen_router_connect_context_async:
 * @router: a router
 * @transport: the transport's name
 * @options: (nullable): the transport's options, an `a{sv}`
 * @via: (nullable): the context that should start the new one
 * @cancellable: (nullable): a #GCancellable
 * @callback: called in the thread-default main context of the caller
 * @user_data: data for @callback
 *
 * Starts a new context without blocking; see
 * mitogen_router_connect_context(). Only the transport's own blocking step
 * (a password prompt, an SSH handshake) runs in a worker thread, and not
 * even that for a transport written in Python or JavaScript.
 */
void
mitogen_router_connect_context_async (MitogenRouter       *router,
                                      const char          *transport,
                                      GVariant            *options,
                                      MitogenContext      *via,
                                      GCancellable        *cancellable,
                                      GAsyncReadyCallback  callback,
                                      gpointer             user_data)
{
  GTask *task;

  g_return_if_fail (MITOGEN_IS_ROUTER (router));
  g_return_if_fail (transport != NULL);
  g_return_if_fail (via == NULL || MITOGEN_IS_CONTEXT (via));

  task = g_task_new (router, cancellable, callback, user_data);
  g_task_set_source_tag (task, mitogen_router_connect_context_async);
  connect_start (router, transport, options, via, FALSE, cancellable, connect_async_done, task);
}

/**
 * mitogen_router_connect_context_finish:
 * @router: a router
 * @result: the result given to the callback
 * @error: return location for an error
 *
 * Finishes mitogen_router_connect_context_async().
 *
 * Returns: (transfer full): the new context, or %NULL with @error set
 */
MitogenContext *
mitogen_router_connect_context_finish (MitogenRouter  *router,
                                       GAsyncResult   *result,
                                       GError        **error)
{
  g_return_val_if_fail (g_task_is_valid (result, router), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

/**
 * mitogen_router_local:
 * @router: a router
 * @options: (nullable): options of the local transport
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for an error
 *
 * Starts a context on this machine as the same user: shorthand for
 * mitogen_router_connect_context() with the "local" transport.
 *
 * Returns: (transfer full): the new context, or %NULL with @error set
 */
MitogenContext *
mitogen_router_local (MitogenRouter  *router,
                      GVariant       *options,
                      GCancellable   *cancellable,
                      GError        **error)
{
  return mitogen_router_connect_context (router, "local", options, NULL, cancellable, error);
}

/* ---- what a parent calls in an agent ------------------------------------ */

/* One core.connect under way in the connect pool. */
typedef struct
{
  MitogenCall *call;       /* owned; answered when the connect ends */
  char        *transport;
  GVariant    *options;    /* owned */
} ConnectJob;

/* The most children this context starts at once for its parent: a
 * gateway of a tree fan-out starts its share of the hosts in parallel. */
#define MAX_PARALLEL_CONNECTS 64

static void
run_connect_job (gpointer data,
                 gpointer pool_data)
{
  ConnectJob *job = data;
  MitogenRouter *router = mitogen_call_get_router (job->call);
  g_autoptr(MitogenContext) ctx = NULL;
  g_autoptr(GError) error = NULL;

  ctx = connect_blocking (router, job->transport, job->options, NULL,
                          mitogen_call_get_cancellable (job->call), &error);
  if (ctx == NULL)
    mitogen_call_return_error (job->call, error);
  else
    {
      GVariantDict info;

      g_variant_dict_init (&info, mitogen_context_get_remote_info (ctx));
      g_variant_dict_insert (&info, "context_id", "u", mitogen_context_get_id (ctx));
      mitogen_call_return_value (job->call, g_variant_dict_end (&info));
    }
  g_object_unref (job->call);
  g_free (job->transport);
  g_variant_unref (job->options);
  g_free (job);
}

/* core.connect (s transport, a{sv} options) → a{sv}: what a parent calls
 * to make this context start a child for it: the child's ready frame,
 * with the "context_id" this context allocated for it.
 *
 * Answered later, from a pool: calls run one at a time on the agent's
 * main thread, and a connect that waited there for a whole handshake
 * would make a gateway start its hosts one after another. */
static GVariant *
core_connect (MitogenCall  *call,
              GVariant     *args,
              gpointer      user_data,
              GError      **error)
{
  static GThreadPool *pool;
  ConnectJob *job;

  if (args == NULL || !g_variant_is_of_type (args, G_VARIANT_TYPE ("(sa{sv})")))
    {
      g_set_error_literal (error, MITOGEN_ERROR, MITOGEN_ERROR_CALL,
                           "core.connect takes (s transport, a{sv} options)");
      return NULL;
    }
  if (g_once_init_enter (&pool))
    g_once_init_leave (&pool, g_thread_pool_new (run_connect_job, NULL,
                                                         MAX_PARALLEL_CONNECTS, FALSE, NULL));
  job = g_new0 (ConnectJob, 1);
  job->call = g_object_ref (call);
  g_variant_get (args, "(s@a{sv})", &job->transport, &job->options);
  mitogen_call_return_later (call);
  g_thread_pool_push (pool, job, NULL);
  return NULL;
}

/* core.disconnect (u id): close the stream to a direct child. */
static GVariant *
core_disconnect (MitogenCall  *call,
                 GVariant     *args,
                 gpointer      user_data,
                 GError      **error)
{
  MitogenRouter *router = mitogen_call_get_router (call);
  g_autoptr(MitogenContext) ctx = NULL;
  guint32 id;

  if (args == NULL || !g_variant_is_of_type (args, G_VARIANT_TYPE ("(u)")))
    {
      g_set_error_literal (error, MITOGEN_ERROR, MITOGEN_ERROR_CALL,
                           "core.disconnect takes (u id)");
      return NULL;
    }
  g_variant_get (args, "(u)", &id);
  ctx = mitogen_router_context_by_id (router, id);
  mitogen_router_disconnect_context (router, ctx);
  return NULL;
}

void
_mitogen_connect_register_functions (void)
{
  mitogen_register_function ("core.connect", core_connect, NULL, NULL);
  mitogen_register_function ("core.disconnect", core_disconnect, NULL, NULL);
}
