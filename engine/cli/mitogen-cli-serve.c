/* mitogen-cli-serve.c: `mitogen serve`, a per-user master that keeps
 * contexts open for later `mitogen run` and `call`.
 *
 * The server listens on $XDG_RUNTIME_DIR/mitogen/serve.sock (else
 * /tmp/mitogen-$UID/serve.sock; the directory mode 0700 and ours) with
 * mitogen_router_listen(), and serves three functions to its clients:
 *
 *   serve.connect (s target, a(sa{sv}) hops) → (u id, s name)
 *       the context at the end of @hops, started now or kept from before;
 *       every prefix of the chain is kept too, so ssh:a/sudo:b reuses a
 *       kept ssh:a; answered later, from the server's main thread, where
 *       every connect is asynchronous (no thread per host)
 *   serve.status () → (i pid, a(ssdu) name, target, idle seconds, clients)
 *   serve.stop () → ()
 *
 * A kept context that no connected client got and nobody asked for during
 * the idle timeout is shut down; the server exits when it has kept no
 * context and had no client for as long. A client calls into the context
 * with the server's authority (it is the same user: the kernel says so),
 * so `mitogen run` streams its command there exactly as in a context of
 * its own, and leaves the context running when it ends.
 *
 * The client side is mitogen-cli-serve-client.c.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gio/gunixsocketaddress.h>

#include "mitogen-cli.h"
#include "mitogen-cli-target.h"

#define DEFAULT_IDLE_TIMEOUT 600.0
/* How long `serve` waits for a server it started to answer, and `--stop`
 * for one to exit. */
#define START_WAIT_USEC (15 * G_USEC_PER_SEC)

/* ---- the server ---------------------------------------------------------- */

typedef struct _Serving Serving;

typedef struct
{
  char           *key;        /* the hops as GVariant text, secrets and all absent */
  char           *target;     /* as the first client wrote it, for --status */
  MitogenContext *context;    /* NULL while connecting */
  gint64          last_used;  /* monotonic µs */
  GHashTable     *clients;    /* ids of clients that got it */
  GSList         *waiting;    /* main thread; Serving *, owned: later asks
                               * for it while it connects */
} Kept;

typedef struct
{
  MitogenRouter   *router;
  MitogenListener *listener;
  GMainContext    *main_context;  /* the server's loop; serve.connect runs there */
  gint64           idle_usec;
  gint64           empty_since;   /* main thread: no context, no client since */
  GMutex           lock;
  GHashTable      *kept;          /* lock (written on the main thread); key → Kept */
} Server;

static Server server;

/* One serve.connect under way: the hops of its chain, each kept context
 * taken or started in turn. Main thread. */
struct _Serving
{
  MitogenCall    *call;    /* owned: answered at the end */
  GVariant       *hops;    /* owned: a(sa{sv}) */
  char           *target;  /* owned: as the client wrote it */
  guint32         client;
  gsize           next;    /* the hop to get next */
  MitogenContext *via;     /* owned: the last hop got, or NULL */
  Kept           *pending; /* unowned: the entry it connects */
};

static void
serving_free (Serving *sv)
{
  g_object_unref (sv->call);
  g_variant_unref (sv->hops);
  g_free (sv->target);
  g_clear_object (&sv->via);
  g_free (sv);
}

static void
kept_free (Kept *k)
{
  g_free (k->key);
  g_free (k->target);
  g_clear_object (&k->context);
  g_hash_table_unref (k->clients);
  g_slist_free_full (k->waiting, (GDestroyNotify) serving_free);
  g_free (k);
}

/* The first @n hops of @hops as text: the key of their chain's context. */
static char *
prefix_key (GVariant *hops,
            gsize     n)
{
  g_autoptr(GVariant) prefix = NULL;
  g_autofree GVariant **items = g_new (GVariant *, n);

  for (gsize j = 0; j < n; j++)
    items[j] = g_variant_get_child_value (hops, j);
  prefix = g_variant_ref_sink (g_variant_new_array (G_VARIANT_TYPE ("(sa{sv})"), items, n));
  /* The array took references of its own to the children. */
  for (gsize j = 0; j < n; j++)
    g_variant_unref (items[j]);
  return g_variant_print (prefix, FALSE);
}

static void serving_next (Serving *sv);

/* @k's context serves @sv's next hop: the client is noted as one of its
 * users, and the chain goes on. */
static void
serving_take (Serving *sv,
              Kept    *k)
{
  k->last_used = g_get_monotonic_time ();
  g_hash_table_add (k->clients, GUINT_TO_POINTER (sv->client));
  g_clear_object (&sv->via);
  sv->via = g_object_ref (k->context);
  sv->next++;
  serving_next (sv);
}

static void
serving_fail (Serving      *sv,
              const GError *error)
{
  mitogen_call_return_error (sv->call, error);
  serving_free (sv);
}

static void
kept_connected (GObject      *source,
                GAsyncResult *result,
                gpointer      data)
{
  Serving *sv = data;
  Kept *k = sv->pending;
  g_autoptr(GError) error = NULL;
  MitogenContext *ctx = mitogen_router_connect_context_finish (MITOGEN_ROUTER (source), result,
                                                               &error);
  GSList *waiting = g_steal_pointer (&k->waiting);

  waiting = g_slist_prepend (waiting, sv);
  if (ctx == NULL)
    {
      g_mutex_lock (&server.lock);
      g_hash_table_remove (server.kept, k->key);
      g_mutex_unlock (&server.lock);
      for (GSList *l = waiting; l != NULL; l = l->next)
        serving_fail (l->data, error);
    }
  else
    {
      g_mutex_lock (&server.lock);
      k->context = ctx;
      g_mutex_unlock (&server.lock);
      for (GSList *l = waiting; l != NULL; l = l->next)
        serving_take (l->data, k);
    }
  g_slist_free (waiting);
}

/* Takes the kept context of @sv's next hop, waits for it while another
 * client's ask connects it, or starts it; answers once all are got. */
static void
serving_next (Serving *sv)
{
  g_autofree char *key = NULL;
  g_autofree char *transport = NULL;
  g_autoptr(GVariant) options = NULL;
  gsize n = g_variant_n_children (sv->hops);
  Kept *k;

  if (sv->next == n)
    {
      mitogen_call_return_value (sv->call, g_variant_new ("(us)", mitogen_context_get_id (sv->via),
                                                          mitogen_context_get_name (sv->via)));
      serving_free (sv);
      return;
    }
  key = prefix_key (sv->hops, sv->next + 1);
  k = g_hash_table_lookup (server.kept, key);
  if (k != NULL && k->context == NULL)
    {
      k->waiting = g_slist_prepend (k->waiting, sv);
      return;
    }
  if (k != NULL && mitogen_context_is_connected (k->context))
    {
      serving_take (sv, k);
      return;
    }
  /* Missing or lost: a placeholder, so that a later ask waits for it. */
  k = g_new0 (Kept, 1);
  k->key = g_steal_pointer (&key);
  k->target = sv->next + 1 == n ? g_strdup (sv->target) : g_strdup (k->key);
  k->clients = g_hash_table_new (NULL, NULL);
  g_mutex_lock (&server.lock);
  g_hash_table_replace (server.kept, k->key, k);
  g_mutex_unlock (&server.lock);
  sv->pending = k;
  g_variant_get_child (sv->hops, sv->next, "(s@a{sv})", &transport, &options);
  mitogen_router_connect_context_async (server.router, transport, options, sv->via, NULL,
                                        kept_connected, sv);
}

static gboolean
serving_start (gpointer data)
{
  serving_next (data);
  return G_SOURCE_REMOVE;
}

/* Answered later, from the server's main thread: the connects there are
 * asynchronous, so a thousand clients' hosts need no thread each, and the
 * kept table is changed from one thread only. */
static GVariant *
serve_connect (MitogenCall  *call,
               GVariant     *args,
               gpointer      user_data,
               GError      **error)
{
  g_autoptr(GVariant) hops = NULL;
  Serving *sv;

  if (args == NULL || !g_variant_is_of_type (args, G_VARIANT_TYPE ("(sa(sa{sv}))")))
    {
      g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_CALL,
                   "serve.connect: the arguments are (target, hops) as (sa(sa{sv}))");
      return NULL;
    }
  hops = g_variant_get_child_value (args, 1);
  if (g_variant_n_children (hops) == 0)
    {
      g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_CALL, "serve.connect: no hop");
      return NULL;
    }
  sv = g_new0 (Serving, 1);
  g_variant_get (args, "(s@a(sa{sv}))", &sv->target, NULL);
  sv->hops = g_steal_pointer (&hops);
  sv->call = g_object_ref (call);
  sv->client = mitogen_message_get_src_id (mitogen_call_get_message (call));
  mitogen_call_return_later (call);
  g_main_context_invoke (server.main_context, serving_start, sv);
  return NULL;
}

static GVariant *
serve_status (MitogenCall  *call,
              GVariant     *args,
              gpointer      user_data,
              GError      **error)
{
  GVariantBuilder list;
  GHashTableIter iter;
  gpointer value;
  gint64 now = g_get_monotonic_time ();

  g_autoptr(GArray) clients = mitogen_listener_list_clients (server.listener);

  g_variant_builder_init (&list, G_VARIANT_TYPE ("a(ssdu)"));
  g_mutex_lock (&server.lock);
  g_hash_table_iter_init (&iter, server.kept);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      Kept *k = value;
      guint live = 0;

      if (k->context == NULL)
        continue;
      for (guint i = 0; i < clients->len; i++)
        live += g_hash_table_contains (k->clients, GUINT_TO_POINTER (g_array_index (clients, guint32, i)));
      g_variant_builder_add (&list, "(ssdu)", mitogen_context_get_name (k->context), k->target,
                             (now - k->last_used) / (double) G_USEC_PER_SEC,
                             live);
    }
  g_mutex_unlock (&server.lock);
  return g_variant_new ("(ia(ssdu))", (gint32) getpid (), &list);
}

static gboolean
quit_loop (gpointer data)
{
  g_main_loop_quit (data);
  return G_SOURCE_REMOVE;
}

static GMainLoop *server_loop;

/* The loop ends a little after the answer, which is sent once this
 * returns: closing the clients at once would often beat it. The client
 * waits for the process to go either way. */
#define STOP_GRACE_MSEC 100

static GVariant *
serve_stop (MitogenCall  *call,
            GVariant     *args,
            gpointer      user_data,
            GError      **error)
{
  g_autoptr(GSource) later = g_timeout_source_new (STOP_GRACE_MSEC);

  g_message ("stop asked by client %u", mitogen_message_get_src_id (mitogen_call_get_message (call)));
  g_source_set_callback (later, quit_loop, g_main_loop_ref (server_loop),
                         (GDestroyNotify) g_main_loop_unref);
  g_source_attach (later, server.main_context);
  return g_variant_new ("()");
}

/* Each second: forget clients that left, shut down contexts idle for the
 * timeout, and end the server once it has nothing and nobody. */
static gboolean
check_idle (gpointer data)
{
  g_autoptr(GArray) clients = mitogen_listener_list_clients (server.listener);
  g_autoptr(GHashTable) connected = g_hash_table_new (NULL, NULL);
  g_autoptr(GPtrArray) idle = g_ptr_array_new_with_free_func (g_object_unref);
  gint64 now = g_get_monotonic_time ();
  GHashTableIter iter;
  gpointer value, id;
  guint kept;

  for (guint i = 0; i < clients->len; i++)
    g_hash_table_add (connected, GUINT_TO_POINTER (g_array_index (clients, guint32, i)));
  g_mutex_lock (&server.lock);
  g_hash_table_iter_init (&iter, server.kept);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      Kept *k = value;
      GHashTableIter c;

      if (k->context == NULL)
        continue;
      g_hash_table_iter_init (&c, k->clients);
      while (g_hash_table_iter_next (&c, &id, NULL))
        if (!g_hash_table_contains (connected, id))
          g_hash_table_iter_remove (&c);
      if (g_hash_table_size (k->clients) > 0)
        k->last_used = now;
      if (!mitogen_context_is_connected (k->context) || now - k->last_used >= server.idle_usec)
        {
          g_message ("%s (%s): %s", k->target, mitogen_context_get_name (k->context),
                     mitogen_context_is_connected (k->context) ? "idle, shut down" : "lost");
          g_ptr_array_add (idle, g_object_ref (k->context));
          g_hash_table_iter_remove (&iter);
        }
    }
  kept = g_hash_table_size (server.kept);
  g_mutex_unlock (&server.lock);

  for (guint i = 0; i < idle->len; i++)
    if (mitogen_context_is_connected (idle->pdata[i]))
      shut_down (idle->pdata[i]);

  if (kept > 0 || clients->len > 0)
    server.empty_since = 0;
  else if (server.empty_since == 0)
    server.empty_since = now;
  else if (now - server.empty_since >= server.idle_usec)
    {
      g_message ("no context and no client for %.0f s: exiting", server.idle_usec / 1e6);
      g_main_loop_quit (data);
    }
  return G_SOURCE_CONTINUE;
}

static void
on_interrupted (GCancellable *cancellable,
                gpointer      data)
{
  g_main_context_invoke (server.main_context, quit_loop, data);
}

static void
shut_down_kept (void)
{
  g_autoptr(GList) values = NULL;

  g_mutex_lock (&server.lock);
  values = g_hash_table_get_values (server.kept);
  for (GList *l = values; l != NULL; l = l->next)
    {
      Kept *k = l->data;

      if (k->context != NULL)
        mitogen_context_shutdown (k->context, 0, NULL, NULL);
    }
  g_mutex_unlock (&server.lock);
}

/* Each kept context holds a descriptor or two: a server of a thousand
 * hosts needs more than the usual soft limit of 1024, and may have up to
 * the hard one. */
static void
raise_fd_limit (void)
{
  struct rlimit limit;

  if (getrlimit (RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max)
    {
      limit.rlim_cur = limit.rlim_max;
      if (setrlimit (RLIMIT_NOFILE, &limit) != 0)
        g_message ("cannot raise the open files limit: %s", g_strerror (errno));
    }
}

static int
serve_foreground (MitogenRouter *router,
                  gpointer       user_data)
{
  double *idle_timeout = user_data;
  g_autofree char *path = cli_serve_socket_path (TRUE);
  g_autoptr(GError) error = NULL;
  g_autoptr(GMainLoop) loop = NULL;
  gulong handler;

  raise_fd_limit ();
  server.router = router;
  server.main_context = g_main_context_ref_thread_default ();
  server.idle_usec = (gint64) (*idle_timeout * G_USEC_PER_SEC);
  server.kept = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, (GDestroyNotify) kept_free);
  g_mutex_init (&server.lock);
  server.listener = mitogen_router_listen (router, path, NULL, &error);
  if (server.listener == NULL)
    {
      report (error);
      return 1;
    }
  mitogen_register_function ("serve.connect", serve_connect, NULL, NULL);
  mitogen_register_function ("serve.status", serve_status, NULL, NULL);
  mitogen_register_function ("serve.stop", serve_stop, NULL, NULL);
  g_message ("serving on %s (pid %d, idle timeout %.0f s)", path, (int) getpid (), *idle_timeout);

  loop = server_loop = g_main_loop_new (server.main_context, FALSE);
  g_atomic_int_set (&forwarding_signals, TRUE);
  handler = g_cancellable_connect (interrupted, G_CALLBACK (on_interrupted), loop, NULL);
  g_timeout_add_seconds (1, check_idle, loop);
  g_main_loop_run (loop);
  g_cancellable_disconnect (interrupted, handler);

  /* No new client from here; the kept contexts go with us. */
  /* Closed, not dropped: a status call may still be reading it. */
  mitogen_listener_close (server.listener);
  shut_down_kept ();
  g_message ("stopped");
  g_hash_table_remove_all (server.kept);
  return 0;
}

/* ---- the command ---------------------------------------------------------- */

static int
print_status (MitogenRouter *router,
              gpointer       user_data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MitogenContext) server_ctx = cli_serve_attach (router, &error);
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GVariantIter) iter = NULL;
  const char *name, *target;
  double idle;
  guint32 clients;
  gint32 pid;

  if (server_ctx == NULL)
    {
      if (error != NULL)
        report (error);
      else
        printf ("no server\n");
      return error != NULL ? 1 : 3;
    }
  reply = mitogen_context_call (server_ctx, "serve.status", NULL, interrupted, &error);
  if (reply == NULL)
    {
      report (error);
      return 1;
    }
  g_variant_get (reply, "(ia(ssdu))", &pid, &iter);
  printf ("server pid %d\n", pid);
  while (g_variant_iter_next (iter, "(&s&sdu)", &name, &target, &idle, &clients))
    printf ("%s\t%s\tidle %.0f s\t%u client%s\n", name, target, idle, clients,
            clients == 1 ? "" : "s");
  return 0;
}

static gboolean
process_gone (int pid)
{
  g_autofree char *stat_path = g_strdup_printf ("/proc/%d/stat", pid);
  g_autofree char *stat = NULL;
  const char *end;

  if (kill (pid, 0) != 0 && errno == ESRCH)
    return TRUE;
  /* A zombie nobody reaps (no init in a container) is gone all the same. */
  if (!g_file_get_contents (stat_path, &stat, NULL, NULL))
    return TRUE;
  end = strrchr (stat, ')');
  return end != NULL && end[1] == ' ' && end[2] == 'Z';
}

static int
stop_server (MitogenRouter *router,
             gpointer       user_data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MitogenContext) server_ctx = cli_serve_attach (router, &error);
  g_autoptr(GVariant) status = NULL;
  g_autoptr(GVariant) reply = NULL;
  gint64 deadline = g_get_monotonic_time () + START_WAIT_USEC;
  gint32 pid;

  if (server_ctx == NULL)
    {
      if (error != NULL)
        report (error);
      return error != NULL ? 1 : 0;
    }
  status = mitogen_context_call (server_ctx, "serve.status", NULL, interrupted, &error);
  if (status != NULL)
    reply = mitogen_context_call (server_ctx, "serve.stop", NULL, interrupted, &error);
  /* A server that went before its answer reached us has stopped too. */
  if (reply == NULL && !(status != NULL && g_error_matches (error, MITOGEN_ERROR,
                                                            MITOGEN_ERROR_CHANNEL)))
    {
      report (error);
      return 1;
    }
  g_variant_get (status, "(i@a(ssdu))", &pid, NULL);
  while (!process_gone (pid) && g_get_monotonic_time () < deadline)
    g_usleep (10000);
  if (!process_gone (pid))
    {
      fprintf (stderr, "mitogen: the server (pid %d) did not exit\n", pid);
      return 1;
    }
  return 0;
}

static gboolean
server_answers (const char *path)
{
  g_autoptr(GSocketAddress) address = g_unix_socket_address_new (path);
  g_autoptr(GSocket) probe = g_socket_new (G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_STREAM, 0, NULL);

  return probe != NULL && g_socket_connect (probe, address, NULL, NULL);
}

static void
detach_child (gpointer data)
{
  setsid ();
}

/* Starts `mitogen serve --foreground` detached, logging to serve.log
 * beside the socket, and waits until it answers. */
static int
start_background (double idle_timeout)
{
  g_autofree char *path = cli_serve_socket_path (TRUE);
  g_autofree char *dir = g_path_get_dirname (path);
  g_autofree char *log = g_build_filename (dir, "serve.log", NULL);
  g_autofree char *exe = g_file_read_link ("/proc/self/exe", NULL);
  g_autofree char *timeout = g_strdup_printf ("%g", idle_timeout);
  g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_NONE);
  g_autoptr(GSubprocess) child = NULL;
  g_autoptr(GError) error = NULL;
  gint64 deadline = g_get_monotonic_time () + START_WAIT_USEC;
  int log_fd;

  if (server_answers (path))
    {
      printf ("a server already runs on %s\n", path);
      return 0;
    }
  log_fd = open (log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (log_fd < 0)
    fail ("%s: %s", log, g_strerror (errno));
  g_subprocess_launcher_take_stderr_fd (launcher, dup (log_fd));
  g_subprocess_launcher_take_stdout_fd (launcher, log_fd);
  g_subprocess_launcher_set_child_setup (launcher, detach_child, NULL, NULL);
  child = g_subprocess_launcher_spawn (launcher, &error, exe ? exe : "mitogen", "serve",
                                       "--foreground", "--idle-timeout", timeout, NULL);
  if (child == NULL)
    fail ("%s", error->message);
  while (!server_answers (path))
    {
      if (process_gone (atoi (g_subprocess_get_identifier (child))) ||
          g_get_monotonic_time () > deadline)
        fail ("the server did not start; see %s", log);
      g_usleep (10000);
    }
  printf ("serving on %s (pid %s, log %s)\n", path, g_subprocess_get_identifier (child), log);
  return 0;
}

int
cmd_serve (int    argc,
           char **argv)
{
  g_autoptr(GOptionContext) options = new_option_context ("",
      "Keep contexts open for later `mitogen run` and `mitogen call` of this user,\n"
      "which reach them over a Unix socket only this user can use\n"
      "($XDG_RUNTIME_DIR/mitogen/serve.sock, else /tmp/mitogen-$UID/serve.sock).\n"
      "A context nobody used for the idle timeout is shut down, and the server\n"
      "exits when it has none and no client for as long.");
  gboolean foreground = FALSE, stop = FALSE, status = FALSE;
  double idle_timeout = DEFAULT_IDLE_TIMEOUT;
  const GOptionEntry entries[] = {
    { "foreground", 0, 0, G_OPTION_ARG_NONE, &foreground, "Serve in this process, logging to stderr", NULL },
    { "idle-timeout", 0, 0, G_OPTION_ARG_DOUBLE, &idle_timeout,
      "Seconds before an unused context is shut down (default 600)", "SECONDS" },
    { "stop", 0, 0, G_OPTION_ARG_NONE, &stop, "Stop the running server and its contexts", NULL },
    { "status", 0, 0, G_OPTION_ARG_NONE, &status, "List the server's contexts (exit 3: no server)", NULL },
    G_OPTION_ENTRY_NULL
  };

  g_set_prgname ("mitogen serve");
  g_option_context_add_main_entries (options, entries, NULL);
  parse_options (options, &argc, &argv);
  if (argc > 1)
    fail ("serve takes no arguments (see mitogen serve --help)");
  if (!(idle_timeout > 0) || idle_timeout > 1e6)
    fail ("--idle-timeout takes a number of seconds above 0");
  if (status)
    return mitogen_run_with_router (print_status, NULL);
  if (stop)
    return mitogen_run_with_router (stop_server, NULL);
  if (!foreground)
    return start_background (idle_timeout);
  return mitogen_run_with_router (serve_foreground, &idle_timeout);
}
