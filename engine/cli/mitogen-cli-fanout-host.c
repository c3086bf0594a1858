/* mitogen-cli-fanout-host.c: one host's run in a fan-out (mitogen-cli-fanout.c),
 * from its start to its contexts' stop: its connect, hop by hop from the
 * master or its gateway's context, or through `mitogen serve`; then its
 * call (proc.run, or a function), or its command streamed with proc.start
 * and printed a line at a time; --host-timeout; and stopping its contexts,
 * or holding a gateway's for the hosts it starts.
 *
 * Everything here runs in the fan-out's one thread, driven by the
 * engine's asynchronous calls; when a host is done it goes back to the
 * run as a whole, fanout_host_finish().
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "mitogen-cli.h"
#include "mitogen-cli-fanout.h"
#include "mitogen-cli-target.h"

/* How long a host's context has to stop before it is cut off. */
#define FANOUT_SHUTDOWN_MSEC 10000

/* ---- one host's run ---------------------------------------------------- */

static void host_connect_next (HostRun *hr);
static void host_serve_connect (HostRun *hr, HostRun *gateway);
static void host_set_status (HostRun *hr, int status);

void
fanout_host_clear (HostRun *hr)
{
  g_free (hr->label);
  g_free (hr->target);
  g_clear_pointer (&hr->hops, g_array_unref);
  g_clear_object (&hr->first);
  g_clear_object (&hr->last);
  g_clear_object (&hr->cancel);
  if (hr->timer != NULL)
    g_source_destroy (hr->timer);
  g_clear_pointer (&hr->timer, g_source_unref);
  g_clear_pointer (&hr->out, g_bytes_unref);
  g_clear_pointer (&hr->err, g_bytes_unref);
  g_free (hr->error);
  g_free (hr->via);
  g_clear_object (&hr->process);
}

static gboolean
host_timed_out (gpointer data)
{
  HostRun *hr = data;

  hr->timed_out = TRUE;
  g_cancellable_cancel (hr->cancel);
  g_clear_pointer (&hr->timer, g_source_unref);
  return G_SOURCE_REMOVE;
}

/* Records why @hr failed, from @error unless the timeout or a signal
 * explains it better. */
static void
host_fail (HostRun *hr,
           GError  *error,
           int      status)
{
  if (hr->timed_out)
    {
      hr->status = 124;
      hr->error = g_strdup_printf ("timed out after %g s", hr->fanout->host_timeout);
    }
  else if (interrupted_status () >= 0)
    {
      hr->status = interrupted_status ();
      hr->error = g_strdup ("interrupted");
    }
  else
    {
      hr->status = status;
      /* Not reached or lost: the gateway may be why. */
      hr->error = hr->via != NULL && status == EXIT_CONNECTION
                  ? g_strdup_printf ("%s (through %s)", error->message, hr->via)
                  : g_strdup (error->message);
    }
}

void
fanout_host_start (HostRun *hr)
{
  Fanout *fo = hr->fanout;
  HostRun *gateway = hr->parent->gateway;

  fo->queued--;
  fo->running++;
  hr->parent->running++;
  if (gateway != NULL)
    {
      /* Its first hop starts from the gateway's context. */
      hr->last = g_object_ref (gateway->last);
      hr->via = g_strdup (gateway->label);
    }
  hr->started = g_get_monotonic_time ();
  hr->cancel = g_cancellable_new ();
  if (fo->host_timeout > 0)
    {
      hr->timer = g_timeout_source_new ((guint) MIN (fo->host_timeout * 1000, G_MAXUINT));
      g_source_set_callback (hr->timer, host_timed_out, hr, NULL);
      g_source_attach (hr->timer, g_main_loop_get_context (fo->loop));
    }
  if (fo->server != NULL && cli_serve_may_carry (hr->hops) && (gateway == NULL || gateway->kept))
    host_serve_connect (hr, gateway);
  else
    {
      if (gateway != NULL && fo->server != NULL && gateway->kept)
        {
          /* A context of ours cannot start from the server's gateway:
           * this one (with a password) starts from here. */
          g_clear_object (&hr->last);
          g_clear_pointer (&hr->via, g_free);
        }
      host_connect_next (hr);
    }
}

/* ---- stopping a host's contexts ---------------------------------------- */

typedef struct
{
  HostRun      *hr;
  gboolean      release;  /* a held gateway, its run already finished */
  GCancellable *give_up;  /* owned: cancelled when the wait is too long */
  GSource      *timer;    /* owned */
} Stopping;

static gboolean
stopping_too_long (gpointer data)
{
  g_cancellable_cancel (data);
  return G_SOURCE_REMOVE;
}

static void
host_stopped (GObject      *source,
              GAsyncResult *result,
              gpointer      data)
{
  Stopping *st = data;
  g_autoptr(GError) error = NULL;

  if (!mitogen_context_shutdown_finish (MITOGEN_CONTEXT (source), result, &error))
    {
      /* Wedged or stopped: cut it off, so that nothing waits for it. */
      g_debug ("%s: %s", st->hr->label, error->message);
      mitogen_router_disconnect_context (st->hr->fanout->router, st->hr->first);
    }
  g_source_destroy (st->timer);
  g_source_unref (st->timer);
  g_object_unref (st->give_up);
  if (st->release)
    fanout_gateway_released (st->hr);
  else
    fanout_host_finish (st->hr);
  g_free (st);
}

/* Asks the host's first hop to stop (it takes the others along); cut off
 * after FANOUT_SHUTDOWN_MSEC. */
void
fanout_stop_contexts (HostRun  *hr,
                      gboolean  release)
{
  Stopping *st = g_new0 (Stopping, 1);

  st->hr = hr;
  st->release = release;
  st->give_up = g_cancellable_new ();
  st->timer = g_timeout_source_new (FANOUT_SHUTDOWN_MSEC);
  g_source_set_callback (st->timer, stopping_too_long, st->give_up, NULL);
  g_source_attach (st->timer, g_main_loop_get_context (hr->fanout->loop));
  mitogen_context_shutdown_async (hr->first, st->give_up, host_stopped, st);
}

/* Stops the host's contexts (the first hop takes the others along), then
 * finishes it. A host that timed out may not answer: it is cut off. A
 * kept context is left running: its command, if cancelled (a timeout, a
 * signal), dies there by the cancel or, should the tool exit before the
 * cancel leaves, as its caller is lost. */
static void
host_stop (HostRun *hr)
{
  if (hr->first == NULL)
    {
      fanout_host_finish (hr);
      return;
    }
  if (hr->timed_out && !hr->kept)
    {
      mitogen_router_disconnect_context (hr->fanout->router, hr->first);
      fanout_host_finish (hr);
      return;
    }
  if (hr->serves != NULL && hr->status != EXIT_CONNECTION)
    {
      /* A gateway: its own run is over, but its hosts need it. */
      hr->held = TRUE;
      hr->fanout->held++;
      fanout_host_finish (hr);
      return;
    }
  if (hr->kept)
    fanout_host_finish (hr);
  else
    fanout_stop_contexts (hr, FALSE);
}

/* ---- connecting and calling -------------------------------------------- */

static void
host_called (GObject      *source,
             GAsyncResult *result,
             gpointer      data)
{
  HostRun *hr = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) value = NULL;

  value = mitogen_context_call_with_timeout_finish (MITOGEN_CONTEXT (source), result, &error);
  if (value == NULL)
    host_fail (hr, error, failure_status (error, hr->fanout->is_run));
  else if (hr->fanout->is_run && g_variant_is_of_type (value, G_VARIANT_TYPE ("(iayay)")))
    {
      g_autoptr(GVariant) out = g_variant_get_child_value (value, 1);
      g_autoptr(GVariant) err = g_variant_get_child_value (value, 2);
      int status;

      g_variant_get_child (value, 0, "i", &status);
      hr->out = g_variant_get_data_as_bytes (out);
      hr->err = g_variant_get_data_as_bytes (err);
      host_set_status (hr, status);
    }
  else if (hr->fanout->is_run)
    {
      hr->status = 1;
      hr->error = g_strdup ("proc.run gave a reply of an unknown type");
    }
  else
    {
      g_autofree char *text = g_variant_print (value, FALSE);
      g_autofree char *line = g_strconcat (text, "\n", NULL);

      hr->exit_code = 0;
      hr->out = g_bytes_new_take (g_steal_pointer (&line), strlen (text) + 1);
    }
  host_stop (hr);
}


/* The host's status from a command's: its code, or -N for signal N. */
static void
host_set_status (HostRun *hr,
                 int      status)
{
  hr->exit_code = status >= 0 ? status : -1;
  hr->signal = status >= 0 ? 0 : -status;
  hr->status = status >= 0 ? status : 128 - status;
  if (status > 0)
    hr->error = g_strdup_printf ("exit status %d", status);
  else if (status < 0)
    hr->error = g_strdup_printf ("killed by signal %d", -status);
}

/* A streamed command's reads and wait are over: stop its contexts. */
static void
host_streamed_op_done (HostRun *hr)
{
  if (--hr->pending > 0)
    return;
  for (int i = 0; i < 2; i++)
    {
      g_byte_array_unref (hr->pipes[i]->partial);
      g_clear_pointer (&hr->pipes[i], g_free);
    }
  g_clear_object (&hr->process);
  host_stop (hr);
}

/* Prints the ended lines of @pipe's output (all of it at @eof). */
static void
pipe_print (HostPipe *pipe,
            gboolean  eof)
{
  Fanout *fo = pipe->hr->fanout;
  gsize size = pipe->partial->len;

  /* Up to the last newline; the rest waits for its end. */
  while (!eof && size > 0 && pipe->partial->data[size - 1] != '\n')
    size--;

  if (size == 0 || interrupted_status () >= 0)
    return;
  fanout_clear_progress (fo);
  fanout_print_prefixed (pipe->to, pipe->hr->label, pipe->partial->data, size);
  fanout_show_progress (fo);
  g_byte_array_remove_range (pipe->partial, 0, size);
}

static void pipe_read (HostPipe *pipe);

static void
pipe_got_output (GObject      *source,
                 GAsyncResult *result,
                 gpointer      data)
{
  HostPipe *pipe = data;
  g_autoptr(GError) error = NULL;
  gssize n = g_input_stream_read_finish (G_INPUT_STREAM (source), result, &error);

  if (n > 0)
    {
      g_byte_array_append (pipe->partial, pipe->buf, n);
      pipe_print (pipe, FALSE);
      pipe_read (pipe);
      return;
    }
  /* The end, or the context's loss, which the wait reports. */
  pipe_print (pipe, TRUE);
  host_streamed_op_done (pipe->hr);
}

static void
pipe_read (HostPipe *pipe)
{
  GInputStream *from = pipe->to == stdout ? mitogen_process_get_stdout (pipe->hr->process)
                                          : mitogen_process_get_stderr (pipe->hr->process);

  /* Cancelled too, as a kept context is not cut off (below). */
  g_input_stream_read_async (from, pipe->buf, sizeof pipe->buf, G_PRIORITY_DEFAULT,
                             pipe->hr->cancel, pipe_got_output, pipe);
}

static void
host_waited (GObject      *source,
             GAsyncResult *result,
             gpointer      data)
{
  HostRun *hr = data;
  g_autoptr(GError) error = NULL;

  if (mitogen_process_wait_finish (MITOGEN_PROCESS (source), result, &error))
    host_set_status (hr, mitogen_process_get_if_exited (hr->process)
                         ? mitogen_process_get_exit_status (hr->process)
                         : -mitogen_process_get_term_sig (hr->process));
  else
    {
      host_fail (hr, error, failure_status (error, TRUE));
      /* A host past its time may not answer: cut it off, which ends the
       * reads too. Cancelled otherwise, the agent kills the command. A
       * kept context is the server's to cut off, not ours. */
      if (hr->timed_out && !hr->kept)
        mitogen_router_disconnect_context (hr->fanout->router, hr->first);
    }
  host_streamed_op_done (hr);
}

static void
host_spawned (GObject      *source,
              GAsyncResult *result,
              gpointer      data)
{
  HostRun *hr = data;
  g_autoptr(GError) error = NULL;

  hr->process = mitogen_context_spawn_finish (MITOGEN_CONTEXT (source), result, &error);
  if (hr->process == NULL)
    {
      host_fail (hr, error, failure_status (error, TRUE));
      host_stop (hr);
      return;
    }
  hr->pending = 3;
  for (int i = 0; i < 2; i++)
    {
      hr->pipes[i] = g_new0 (HostPipe, 1);
      hr->pipes[i]->hr = hr;
      hr->pipes[i]->to = i == 0 ? stdout : stderr;
      hr->pipes[i]->partial = g_byte_array_new ();
      pipe_read (hr->pipes[i]);
    }
  mitogen_process_wait_async (hr->process, hr->cancel, host_waited, hr);
}

/* proc.start's options: no stdin, and --command-timeout. */
static GVariant *
streamed_options (void)
{
  GVariantDict dict;

  g_variant_dict_init (&dict, NULL);
  g_variant_dict_insert (&dict, "stdin", "b", FALSE);
  if (cli_command_timeout () > 0)
    g_variant_dict_insert (&dict, "timeout", "d", cli_command_timeout ());
  return g_variant_dict_end (&dict);
}

void
fanout_host_call (HostRun *hr)
{
  Fanout *fo = hr->fanout;

  if (fo->streamed)
    {
      mitogen_context_spawn_async (hr->last, (const char *const *) fo->argv, streamed_options (),
                                   hr->cancel, host_spawned, hr);
      return;
    }
  mitogen_context_call_with_timeout_async (hr->last, fo->function, fo->args, fo->deadline,
                                           hr->cancel, host_called, hr);
}

/* The host's last hop is reached: its call, or as a gateway, its hosts. */
static void
host_reached (HostRun *hr)
{
  /* The passwords have been used (or refused): clear our copies. */
  cli_hops_wipe_secrets (hr->hops);
  if (hr->serves == NULL)
    fanout_host_call (hr);
  else
    {
      hr->serves->ready = TRUE;
      hr->serves->call_waits = TRUE;
      fanout_start_more (hr->fanout);
    }
}

static void
host_connected (GObject      *source,
                GAsyncResult *result,
                gpointer      data)
{
  HostRun *hr = data;
  g_autoptr(GError) error = NULL;
  MitogenContext *ctx;

  ctx = mitogen_router_connect_context_finish (MITOGEN_ROUTER (source), result, &error);
  if (ctx == NULL)
    {
      host_fail (hr, error, 255);
      host_stop (hr);
      return;
    }
  if (hr->first == NULL)
    hr->first = g_object_ref (ctx);
  g_clear_object (&hr->last);
  hr->last = ctx;
  if (hr->next_hop < hr->hops->len)
    host_connect_next (hr);
  else
    host_reached (hr);
}

static void
host_served (GObject      *source,
             GAsyncResult *result,
             gpointer      data)
{
  HostRun *hr = data;
  g_autoptr(GError) error = NULL;
  MitogenContext *ctx = cli_serve_connect_finish (MITOGEN_CONTEXT (source), result, &error);

  if (ctx == NULL)
    {
      /* The server said why: the host is not reached, as a connect fails. */
      host_fail (hr, error, EXIT_CONNECTION);
      host_stop (hr);
      return;
    }
  hr->kept = TRUE;
  hr->first = g_object_ref (ctx);
  hr->last = ctx;
  host_reached (hr);
}

/* The server's context for @hr: its chain, after @gateway's if any. */
static void
host_serve_connect (HostRun *hr,
                    HostRun *gateway)
{
  g_autofree char *target = gateway != NULL ? g_strconcat (gateway->target, "/", hr->target, NULL)
                                            : g_strdup (hr->target);

  g_clear_object (&hr->last);
  cli_serve_connect_async (hr->fanout->server, target, gateway != NULL ? gateway->hops : NULL,
                           hr->hops, hr->cancel, host_served, hr);
}

static void
host_connect_next (HostRun *hr)
{
  CliHop *hop = &g_array_index (hr->hops, CliHop, hr->next_hop++);

  mitogen_router_connect_context_async (hr->fanout->router, hop->transport, hop->options,
                                        hr->last, hr->cancel, host_connected, hr);
}
