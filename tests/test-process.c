/* test-process.c: MitogenProcess and proc.start with real local agents:
 * output arrives live, per stream and in order, stdin flows with its EOF,
 * a slow reader pauses the remote process instead of filling memory, exit
 * codes and signals come back, a pty is a terminal, and cancelling or
 * losing things kills the process group.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "mitogen-test-util.h"

#define WAIT_MSEC 30000

typedef MitogenTestFixture Fixture;

#define TEST(path, func) \
  g_test_add ((path), Fixture, NULL, mitogen_test_fixture_setup, (func), \
              mitogen_test_fixture_teardown)

static MitogenProcess *
spawn_ok (MitogenContext     *ctx,
          const char * const *argv,
          GVariant           *options)
{
  g_autoptr(GError) error = NULL;
  MitogenProcess *process = mitogen_context_spawn (ctx, argv, options, NULL, &error);

  g_assert_no_error (error);
  g_assert_nonnull (process);
  return process;
}

static MitogenProcess *
spawn_sh (MitogenContext *ctx,
          const char     *script)
{
  return spawn_ok (ctx, (const char *[]) { "sh", "-c", script, NULL }, NULL);
}

/* All of @stream, to its end. */
static char *
read_all (GInputStream *stream)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GByteArray) all = g_byte_array_new ();
  char buf[4096];
  gssize n;

  while ((n = g_input_stream_read (stream, buf, sizeof buf, NULL, &error)) > 0)
    g_byte_array_append (all, (guint8 *) buf, n);
  g_assert_no_error (error);
  g_byte_array_append (all, (guint8 *) "", 1);
  return (char *) g_byte_array_free (g_steal_pointer (&all), FALSE);
}

static void
wait_ok (MitogenProcess *process)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (mitogen_process_wait (process, NULL, &error));
  g_assert_no_error (error);
}

#if defined(__SANITIZE_ADDRESS__)
# define BUILT_WITH_ASAN 1
#elif defined(__has_feature)
# if __has_feature(address_sanitizer)
#  define BUILT_WITH_ASAN 1
# endif
#endif

/* Under valgrind (the master too, and the agents through the wrapper)
 * memory figures are valgrind's, and 300 MiB would take minutes. */
static gboolean
under_valgrind (void)
{
  const char *wrapper = g_getenv ("MITOGEN_AGENT_WRAPPER");

  return wrapper != NULL && strstr (wrapper, "valgrind") != NULL;
}

/* The first line comes while the process still sleeps. */
static void
test_live_output (Fixture *fixture, gconstpointer data)
{
  g_autoptr(MitogenContext) ctx = mitogen_test_local (fixture->router);
  g_autoptr(MitogenProcess) process = spawn_sh (ctx, "echo a; sleep 2; echo b");
  gint64 start = g_get_monotonic_time (), first;
  char buf[16] = { 0 };
  g_autofree char *rest = NULL;

  g_assert_cmpint (g_input_stream_read (mitogen_process_get_stdout (process), buf, sizeof buf,
                                        NULL, NULL), ==, 2);
  g_assert_cmpstr (buf, ==, "a\n");
  first = g_get_monotonic_time ();
  g_assert_cmpint (first - start, <, under_valgrind () ? 1900000 : G_USEC_PER_SEC);
  rest = read_all (mitogen_process_get_stdout (process));
  g_assert_cmpstr (rest, ==, "b\n");
  /* "a" came while the command slept, not with its end. */
  g_assert_cmpint (g_get_monotonic_time () - first, >=, G_USEC_PER_SEC);
  wait_ok (process);
  g_assert_true (mitogen_process_get_if_exited (process));
  g_assert_cmpint (mitogen_process_get_exit_status (process), ==, 0);
}

/* stdout and stderr stay apart, each in its order. */
static void
test_streams_apart (Fixture *fixture, gconstpointer data)
{
  g_autoptr(MitogenContext) ctx = mitogen_test_local (fixture->router);
  g_autoptr(MitogenProcess) process =
    spawn_sh (ctx, "for i in 1 2 3 4 5; do echo out$i; echo err$i >&2; done; exit 3");
  g_autofree char *out = read_all (mitogen_process_get_stdout (process));
  g_autofree char *err = read_all (mitogen_process_get_stderr (process));

  g_assert_cmpstr (out, ==, "out1\nout2\nout3\nout4\nout5\n");
  g_assert_cmpstr (err, ==, "err1\nerr2\nerr3\nerr4\nerr5\n");
  wait_ok (process);
  g_assert_cmpint (mitogen_process_get_exit_status (process), ==, 3);
  g_assert_false (mitogen_process_get_if_signaled (process));
}

/* stdin reaches cat, and its EOF ends it. */
static void
test_stdin_cat (Fixture *fixture, gconstpointer data)
{
  g_autoptr(MitogenContext) ctx = mitogen_test_local (fixture->router);
  g_autoptr(MitogenProcess) process = spawn_ok (ctx, (const char *[]) { "cat", NULL }, NULL);
  g_autoptr(GError) error = NULL;
  g_autofree char *out = NULL;
  gsize written;

  g_assert_true (g_output_stream_write_all (mitogen_process_get_stdin (process), "hello\nworld\n",
                                            12, &written, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (g_output_stream_close (mitogen_process_get_stdin (process), NULL, &error));
  out = read_all (mitogen_process_get_stdout (process));
  g_assert_cmpstr (out, ==, "hello\nworld\n");
  wait_ok (process);
  g_assert_cmpint (mitogen_process_get_exit_status (process), ==, 0);
}

/* Endless stdin into `head -1`: the process ends, the writer gets an
 * error instead of blocking for ever. */
static void
test_stdin_endless (Fixture *fixture, gconstpointer data)
{
  g_autoptr(MitogenContext) ctx = mitogen_test_local (fixture->router);
  g_autoptr(MitogenProcess) process = spawn_ok (ctx, (const char *[]) { "head", "-1", NULL }, NULL);
  g_autoptr(GError) error = NULL;
  g_autofree char *line = g_strnfill (8191, 'y');
  g_autofree char *out = NULL;
  guint64 total = 0;

  line[8190] = '\n';
  while (g_output_stream_write (mitogen_process_get_stdin (process), line, 8191, NULL, &error) > 0)
    {
      total += 8191;
      g_assert_cmpuint (total, <, (guint64) 1 << 32);
    }
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE);
  out = read_all (mitogen_process_get_stdout (process));
  g_assert_cmpuint (strlen (out), ==, 8191);
  wait_ok (process);
  g_assert_cmpint (mitogen_process_get_exit_status (process), ==, 0);
}

static gsize
rss_kib (void)
{
  g_autofree char *status = NULL;
  const char *line;

  g_assert_true (g_file_get_contents ("/proc/self/status", &status, NULL, NULL));
  line = strstr (status, "VmRSS:");
  g_assert_nonnull (line);
  return g_ascii_strtoull (line + 6, NULL, 10);
}

/* 300 MiB through a reader that first sleeps: the agent pauses at its
 * window, the master holds no more than a few windows, all bytes arrive. */
static void
test_big_output_bounded (Fixture *fixture, gconstpointer data)
{
  const char *size = under_valgrind () ? "16777216" : "314572800";
  g_autoptr(MitogenContext) ctx = mitogen_test_local (fixture->router);
  g_autoptr(MitogenProcess) process =
    spawn_ok (ctx, (const char *[]) { "head", "-c", size, "/dev/zero", NULL }, NULL);
  GInputStream *out = mitogen_process_get_stdout (process);
  g_autofree char *buf = g_malloc (65536);
  g_autoptr(GError) error = NULL;
  gsize before = rss_kib (), peak = 0;
  guint64 total = 0;
  gssize n;

  /* A slow reader: nothing is read for a while, and the agent stops at
   * its window. */
  g_usleep (2 * G_USEC_PER_SEC);
  peak = rss_kib ();
  if (!under_valgrind ())
    g_assert_cmpuint (peak, <, before + 16 * 1024);
  while ((n = g_input_stream_read (out, buf, 65536, NULL, &error)) > 0)
    {
      total += n;
      if (total % (32 * 1024 * 1024) < 65536)
        peak = MAX (peak, rss_kib ());
    }
  g_assert_no_error (error);
  g_assert_cmpuint (total, ==, g_ascii_strtoull (size, NULL, 10));
#ifndef BUILT_WITH_ASAN
  /* (ASan's quarantine keeps freed chunks: its RSS says nothing here.) */
  if (!under_valgrind ())
    g_assert_cmpuint (peak, <, before + 32 * 1024);
#endif
  g_test_message ("%s bytes read; RSS %" G_GSIZE_FORMAT " KiB before, %" G_GSIZE_FORMAT
                  " KiB at most", size, before, peak);
  wait_ok (process);
  g_assert_cmpint (mitogen_process_get_exit_status (process), ==, 0);
}

/* A signal sent through the process ends it; the status says which. */
static void
test_send_signal (Fixture *fixture, gconstpointer data)
{
  g_autoptr(MitogenContext) ctx = mitogen_test_local (fixture->router);
  g_autoptr(MitogenProcess) process = spawn_sh (ctx, "echo ready; exec sleep 60");
  g_autoptr(GError) error = NULL;
  char buf[8];

  g_assert_cmpint (g_input_stream_read (mitogen_process_get_stdout (process), buf, sizeof buf,
                                        NULL, NULL), ==, 6);
  g_assert_true (mitogen_process_send_signal (process, SIGTERM, &error));
  g_assert_no_error (error);
  wait_ok (process);
  g_assert_false (mitogen_process_get_if_exited (process));
  g_assert_true (mitogen_process_get_if_signaled (process));
  g_assert_cmpint (mitogen_process_get_term_sig (process), ==, SIGTERM);
  g_assert_cmpint (mitogen_process_get_exit_status (process), ==, -1);
}

/* With a pty the child sees a terminal of the size asked for, and a
 * resize reaches it. */
static void
test_pty (Fixture *fixture, gconstpointer data)
{
  g_autoptr(MitogenContext) ctx = mitogen_test_local (fixture->router);
  GVariantDict dict;
  g_autoptr(MitogenProcess) process = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GString) seen = g_string_new (NULL);
  char buf[256];
  gssize n;

  g_variant_dict_init (&dict, NULL);
  g_variant_dict_insert (&dict, "pty", "b", TRUE);
  g_variant_dict_insert (&dict, "rows", "q", (guint16) 33);
  g_variant_dict_insert (&dict, "cols", "q", (guint16) 101);
  process = spawn_ok (ctx, (const char *[]) { "sh", "-c",
                      "test -t 0 && test -t 1 && echo tty; stty size; read x; stty size", NULL },
                      g_variant_dict_end (&dict));
  while (strstr (seen->str, "33 101") == NULL &&
         (n = g_input_stream_read (mitogen_process_get_stdout (process), buf, sizeof buf, NULL, &error)) > 0)
    g_string_append_len (seen, buf, n);
  g_assert_no_error (error);
  g_assert_nonnull (strstr (seen->str, "tty"));
  g_assert_true (mitogen_process_resize (process, 40, 120, &error));
  g_assert_true (g_output_stream_write_all (mitogen_process_get_stdin (process), "go\n", 3, NULL, NULL, &error));
  g_assert_no_error (error);
  while ((n = g_input_stream_read (mitogen_process_get_stdout (process), buf, sizeof buf, NULL, &error)) > 0)
    g_string_append_len (seen, buf, n);
  g_assert_no_error (error);
  g_assert_nonnull (strstr (seen->str, "40 120"));
  wait_ok (process);
  g_assert_cmpint (mitogen_process_get_exit_status (process), ==, 0);
}

/* TRUE while a process of group @pgid lives (zombies, which an absent
 * reaper may leave, do not count). */
static gboolean
group_alive (int pgid)
{
  g_autoptr(GDir) dir = g_dir_open ("/proc", 0, NULL);
  const char *name;

  while ((name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = g_strdup_printf ("/proc/%s/stat", name);
      g_autofree char *stat = NULL;
      const char *tail;
      char state;
      int ppid, pgrp;

      if (!g_ascii_isdigit (name[0]) || !g_file_get_contents (path, &stat, NULL, NULL) ||
          (tail = strrchr (stat, ')')) == NULL ||
          sscanf (tail + 1, " %c %d %d", &state, &ppid, &pgrp) != 3)
        continue;
      if (pgrp == pgid && state != 'Z')
        return TRUE;
    }
  return FALSE;
}

static gboolean
group_gone (int pgid)
{
  for (int i = 0; i < WAIT_MSEC / 10; i++)
    {
      if (!group_alive (pgid))
        return TRUE;
      g_usleep (10000);
    }
  return FALSE;
}

/* Cancelling the wait kills the whole group, background jobs included. */
static void
test_cancel_kills_group (Fixture *fixture, gconstpointer data)
{
  g_autoptr(MitogenContext) ctx = mitogen_test_local (fixture->router);
  g_autoptr(MitogenProcess) process = spawn_sh (ctx, "sleep 60 & echo ready; sleep 61");
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GError) error = NULL;
  char buf[8];
  int pid;

  g_assert_cmpint (g_input_stream_read (mitogen_process_get_stdout (process), buf, sizeof buf,
                                        NULL, NULL), ==, 6);
  pid = mitogen_process_get_pid (process);
  g_assert_true (group_alive (pid));
  g_cancellable_cancel (cancellable);
  g_assert_false (mitogen_process_wait (process, cancellable, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_true (group_gone (pid));
}

/* Dropping the process before it ended kills it too. */
static void
test_drop_kills_group (Fixture *fixture, gconstpointer data)
{
  g_autoptr(MitogenContext) ctx = mitogen_test_local (fixture->router);
  MitogenProcess *process = spawn_sh (ctx, "sleep 62");
  int pid = mitogen_process_get_pid (process);

  g_assert_true (group_alive (pid));
  g_object_unref (process);
  g_assert_true (group_gone (pid));
}

/* A lost context fails the wait and the reads with a channel error. */
static void
test_lost_context (Fixture *fixture, gconstpointer data)
{
  g_autoptr(MitogenContext) ctx = mitogen_test_local (fixture->router);
  /* The leader alone: a SIGKILLed agent kills no more than that (its
   * parent-death signal). */
  g_autoptr(MitogenProcess) process = spawn_ok (ctx, (const char *[]) { "sleep", "63", NULL }, NULL);
  g_autoptr(GError) error = NULL;
  char buf[8];

  g_assert_cmpint (kill (mitogen_test_context_pid (ctx), SIGKILL), ==, 0);
  g_assert_false (mitogen_process_wait (process, NULL, &error));
  g_assert_error (error, MITOGEN_ERROR, MITOGEN_ERROR_CHANNEL);
  g_clear_error (&error);
  g_assert_cmpint (g_input_stream_read (mitogen_process_get_stdout (process), buf, sizeof buf,
                                        NULL, &error), ==, -1);
  g_assert_error (error, MITOGEN_ERROR, MITOGEN_ERROR_CHANNEL);
  g_assert_true (group_gone (mitogen_process_get_pid (process)));
  g_assert_true (mitogen_test_wait_disconnected (ctx, WAIT_MSEC));
  mitogen_test_drain_default_context ();
}

/* The next event of a raw proc.start call: its kind, its value. */
static char *
next_event (MitogenReceiver  *recv,
            GVariant        **value)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MitogenMessage) msg = mitogen_receiver_get (recv, WAIT_MSEC, NULL, &error);
  g_autoptr(GVariant) body = NULL;
  char *kind;

  g_assert_no_error (error);
  body = mitogen_message_unpack (msg, &error);
  g_assert_no_error (error);
  if (!g_variant_is_of_type (body, G_VARIANT_TYPE ("(sv)")))
    {
      *value = g_steal_pointer (&body);
      return g_strdup ("reply");
    }
  g_variant_get (body, "(sv)", &kind, value);
  return kind;
}

static void
send_control (MitogenContext *ctx,
              guint32         control,
              GVariant       *value)
{
  g_autoptr(MitogenMessage) msg = mitogen_message_new (mitogen_context_get_id (ctx), control, value);

  g_assert_true (mitogen_context_send (ctx, msg, NULL));
}

/* A caller that lies (acks beyond what was sent, stdin past its window,
 * unknown or ill-typed messages, bad signals) gets logged and ignored:
 * the agent and the process go on, and the process still ends cleanly. */
static void
test_hostile_caller (Fixture *fixture, gconstpointer data)
{
  g_autoptr(MitogenContext) ctx = mitogen_test_local (fixture->router);
  g_autoptr(MitogenReceiver) recv = NULL;
  g_autoptr(GVariant) value = NULL;
  g_autofree char *kind = NULL;
  g_autoptr(GString) out = g_string_new (NULL);
  g_autofree char *big = g_malloc0 (2 * 1024 * 1024);
  guint32 control;
  int pid;

  mitogen_test_expect_forwarded_log (NULL, "mitogen", G_LOG_LEVEL_MESSAGE, "*ack of 999999*ignored*");
  mitogen_test_expect_forwarded_log (NULL, "mitogen", G_LOG_LEVEL_MESSAGE, "*“bogus”*ignored*");
  mitogen_test_expect_forwarded_log (NULL, "mitogen", G_LOG_LEVEL_MESSAGE, "*“stdout-ack”*'s'*ignored*");
  mitogen_test_expect_forwarded_log (NULL, "mitogen", G_LOG_LEVEL_MESSAGE, "*cannot send signal 99999*");
  mitogen_test_expect_forwarded_log (NULL, "mitogen", G_LOG_LEVEL_MESSAGE, "*bad control message*");
  mitogen_test_expect_forwarded_log (NULL, "mitogen", G_LOG_LEVEL_MESSAGE, "*beyond its window*");
  recv = mitogen_context_begin_call (ctx, "proc.start",
                                     g_variant_new ("(^asa{sv})", (const char *[]) { "cat", NULL }, NULL));
  kind = next_event (recv, &value);
  g_assert_cmpstr (kind, ==, "started");
  g_variant_get (value, "(ui)", &control, &pid);

  send_control (ctx, control, g_variant_new ("(sv)", "stdout-ack", g_variant_new_uint64 (999999)));
  send_control (ctx, control, g_variant_new ("(sv)", "bogus", g_variant_new_int32 (1)));
  send_control (ctx, control, g_variant_new ("(sv)", "stdout-ack", g_variant_new_string ("x")));
  send_control (ctx, control, g_variant_new ("(sv)", "signal", g_variant_new_int32 (99999)));
  send_control (ctx, control, g_variant_new_string ("not a control message"));
  send_control (ctx, control, g_variant_new ("(sv)", "stdin",
                                             g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, "hi\n", 3, 1)));
  /* Past the window: stdin is closed after what came before, and cat ends. */
  send_control (ctx, control, g_variant_new ("(sv)", "stdin",
                                             g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, big,
                                                                        2 * 1024 * 1024, 1)));
  for (;;)
    {
      g_clear_pointer (&kind, g_free);
      g_clear_pointer (&value, g_variant_unref);
      kind = next_event (recv, &value);
      if (g_str_equal (kind, "stdout"))
        g_string_append_len (out, g_variant_get_data (value), g_variant_get_size (value));
      else if (g_str_equal (kind, "reply"))
        break;
    }
  g_assert_cmpstr (out->str, ==, "hi\n");
  g_assert_cmpint (g_variant_get_int32 (value), ==, 0);
  mitogen_test_assert_expected_logs ();
  /* The agent still serves. */
  g_variant_unref (mitogen_context_call (ctx, "core.ping", NULL, NULL, NULL));
}

/* cwd, env and timeout reach the process; the timeout kills its group. */
static void
test_options (Fixture *fixture, gconstpointer data)
{
  g_autoptr(MitogenContext) ctx = mitogen_test_local (fixture->router);
  g_autoptr(MitogenProcess) process = NULL;
  g_autoptr(MitogenProcess) slow = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *out = NULL;
  GVariantDict dict;
  GVariantBuilder env;

  g_variant_builder_init (&env, G_VARIANT_TYPE ("a{ss}"));
  g_variant_builder_add (&env, "{ss}", "MITOGEN_TEST_VAR", "value 1");
  g_variant_dict_init (&dict, NULL);
  g_variant_dict_insert (&dict, "cwd", "s", "/usr");
  g_variant_dict_insert_value (&dict, "env", g_variant_builder_end (&env));
  g_variant_dict_insert (&dict, "stdin", "b", FALSE);
  process = spawn_ok (ctx, (const char *[]) { "sh", "-c", "pwd; echo \"$MITOGEN_TEST_VAR\"; cat", NULL },
                      g_variant_dict_end (&dict));
  out = read_all (mitogen_process_get_stdout (process));
  g_assert_cmpstr (out, ==, "/usr\nvalue 1\n");
  wait_ok (process);

  g_variant_dict_init (&dict, NULL);
  g_variant_dict_insert (&dict, "timeout", "d", 1.0);
  slow = spawn_ok (ctx, (const char *[]) { "sh", "-c", "sleep 64 & sleep 65", NULL },
                   g_variant_dict_end (&dict));
  g_assert_false (mitogen_process_wait (slow, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_assert_true (group_gone (mitogen_process_get_pid (slow)));
}

typedef struct
{
  GOutputStream *to;
  gint           written;  /* atomic: bytes accepted so far */
} Writer;

static gpointer
write_four_mib (gpointer data)
{
  Writer *writer = data;
  static const char chunk[65536];

  for (int i = 0; i < 64; i++)
    {
      g_assert_true (g_output_stream_write_all (writer->to, chunk, sizeof chunk, NULL, NULL, NULL));
      g_atomic_int_add (&writer->written, (gint) sizeof chunk);
    }
  g_output_stream_close (writer->to, NULL, NULL);
  return NULL;
}

/* A child that does not read yet holds the writer at its window (1 MiB
 * unacknowledged, plus what the pipe took); then everything goes through. */
static void
test_stdin_window (Fixture *fixture, gconstpointer data)
{
  g_autoptr(MitogenContext) ctx = mitogen_test_local (fixture->router);
  g_autoptr(MitogenProcess) process = spawn_sh (ctx, "sleep 3; wc -c");
  Writer writer = { mitogen_process_get_stdin (process), 0 };
  g_autofree char *out = NULL;
  GThread *thread;
  gint held;

  thread = g_thread_new ("writer", write_four_mib, &writer);
  g_usleep (3 * G_USEC_PER_SEC / 2);
  held = g_atomic_int_get (&writer.written);
  g_test_message ("the writer was held at %d bytes", held);
  g_assert_cmpint (held, >=, 512 * 1024);
  g_assert_cmpint (held, <=, 3 * 512 * 1024);
  out = read_all (mitogen_process_get_stdout (process));
  g_thread_join (thread);
  g_assert_cmpint (g_ascii_strtoll (out, NULL, 10), ==, 4 * 1024 * 1024);
  wait_ok (process);
}

/* A closed stdout is dropped, not a reason to pause the process. */
static void
test_closed_stdout_drops (Fixture *fixture, gconstpointer data)
{
  g_autoptr(MitogenContext) ctx = mitogen_test_local (fixture->router);
  g_autoptr(MitogenProcess) process =
    spawn_sh (ctx, "head -c 16777216 /dev/zero; echo done >&2");
  g_autofree char *err = NULL;

  g_assert_true (g_input_stream_close (mitogen_process_get_stdout (process), NULL, NULL));
  err = read_all (mitogen_process_get_stderr (process));
  g_assert_cmpstr (err, ==, "done\n");
  wait_ok (process);
  g_assert_cmpint (mitogen_process_get_exit_status (process), ==, 0);
}

/* A missing program fails the spawn as a local one would. */
static void
test_not_found (Fixture *fixture, gconstpointer data)
{
  g_autoptr(MitogenContext) ctx = mitogen_test_local (fixture->router);
  g_autoptr(GError) error = NULL;
  g_autoptr(MitogenProcess) process =
    mitogen_context_spawn (ctx, (const char *[]) { "/nonexistent/program", NULL }, NULL, NULL, &error);

  g_assert_null (process);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
}

/* proc.run has no silent size cliff: too much output is a clear error. */
static void
test_run_too_big (Fixture *fixture, gconstpointer data)
{
  g_autoptr(MitogenContext) ctx = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) result = NULL;

  /* The agent takes its limit from its parent. */
  mitogen_router_set_max_message_size (fixture->router, 1024 * 1024);
  ctx = mitogen_test_local (fixture->router);
  result = mitogen_context_call (ctx, "proc.run",
                                 g_variant_new ("(^as)", (const char *[]) { "head", "-c", "2000000", "/dev/zero", NULL }),
                                 NULL, &error);
  g_assert_null (result);
  g_assert_error (error, MITOGEN_ERROR, MITOGEN_ERROR_CALL);
  g_assert_nonnull (strstr (error->message, "proc.start"));
}

/* ---- asynchronous, without a thread per operation ---- */

typedef struct
{
  MitogenProcess *process;   /* owned */
  GByteArray     *out;       /* owned: stdout as read */
  guint8          buf[4096];
  int             pending;   /* the start, or the read and the wait */
} AsyncRun;

static guint
thread_count (void)
{
  g_autoptr(GDir) dir = g_dir_open ("/proc/self/task", 0, NULL);
  guint n = 0;

  while (dir != NULL && g_dir_read_name (dir) != NULL)
    n++;
  return n;
}

static void async_read_next (AsyncRun *run);

static void
async_got_output (GObject *source, GAsyncResult *result, gpointer data)
{
  AsyncRun *run = data;
  g_autoptr(GError) error = NULL;
  gssize n = g_input_stream_read_finish (G_INPUT_STREAM (source), result, &error);

  g_assert_no_error (error);
  if (n > 0)
    {
      g_byte_array_append (run->out, run->buf, n);
      async_read_next (run);
    }
  else
    run->pending--;
}

static void
async_read_next (AsyncRun *run)
{
  g_input_stream_read_async (mitogen_process_get_stdout (run->process), run->buf, sizeof run->buf,
                             G_PRIORITY_DEFAULT, NULL, async_got_output, run);
}

static void
async_waited (GObject *source, GAsyncResult *result, gpointer data)
{
  AsyncRun *run = data;
  g_autoptr(GError) error = NULL;

  g_assert_true (mitogen_process_wait_finish (MITOGEN_PROCESS (source), result, &error));
  g_assert_no_error (error);
  run->pending--;
}

static void
async_spawned (GObject *source, GAsyncResult *result, gpointer data)
{
  AsyncRun *run = data;
  g_autoptr(GError) error = NULL;

  run->process = mitogen_context_spawn_finish (MITOGEN_CONTEXT (source), result, &error);
  g_assert_no_error (error);
  run->pending = 2;
  async_read_next (run);
  mitogen_process_wait_async (run->process, NULL, async_waited, run);
}

static gboolean
tick (gpointer data)
{
  return G_SOURCE_CONTINUE;
}

#define N_ASYNC 24

/* Many processes started, read and waited for asynchronously from one
 * thread: their output and statuses come back, and no thread waits for
 * any of them (GIO's default async read and a threaded start and wait
 * would each hold one of its pool's threads). */
static void
test_async_no_threads (Fixture *fixture, gconstpointer data)
{
  g_autoptr(MitogenContext) ctx = mitogen_test_local (fixture->router);
  AsyncRun runs[N_ASYNC] = { { 0, } };
  gint64 deadline = g_get_monotonic_time () + WAIT_MSEC * G_TIME_SPAN_MILLISECOND;
  guint before = thread_count (), peak = before;
  guint ticker = g_timeout_add (10, tick, NULL);
  gboolean busy = TRUE;

  for (int i = 0; i < N_ASYNC; i++)
    {
      g_autofree char *script = g_strdup_printf ("sleep 0.5; echo run %d", i);

      runs[i].out = g_byte_array_new ();
      runs[i].pending = 1;
      mitogen_context_spawn_async (ctx, (const char *[]) { "sh", "-c", script, NULL }, NULL, NULL,
                                   async_spawned, &runs[i]);
    }
  while (busy)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_main_context_iteration (NULL, TRUE);
      peak = MAX (peak, thread_count ());
      busy = FALSE;
      for (int i = 0; i < N_ASYNC; i++)
        busy |= runs[i].pending > 0;
    }
  g_source_remove (ticker);
  for (int i = 0; i < N_ASYNC; i++)
    {
      g_autofree char *expected = g_strdup_printf ("run %d\n", i);

      g_assert_cmpmem (runs[i].out->data, runs[i].out->len, expected, strlen (expected));
      g_assert_cmpint (mitogen_process_get_exit_status (runs[i].process), ==, 0);
      g_object_unref (runs[i].process);
      g_byte_array_unref (runs[i].out);
    }
  g_assert_cmpuint (peak, <=, before + 2);
}

static void
async_wait_cancelled (GObject *source, GAsyncResult *result, gpointer data)
{
  GError **error = data;

  g_assert_false (mitogen_process_wait_finish (MITOGEN_PROCESS (source), result, error));
}

/* Cancelling an asynchronous wait kills the group, as the blocking one. */
static void
test_async_cancel_kills_group (Fixture *fixture, gconstpointer data)
{
  g_autoptr(MitogenContext) ctx = mitogen_test_local (fixture->router);
  g_autoptr(MitogenProcess) process = spawn_sh (ctx, "sleep 63 & sleep 64");
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GError) error = NULL;
  int pid = mitogen_process_get_pid (process);

  g_assert_true (group_alive (pid));
  mitogen_process_wait_async (process, cancellable, async_wait_cancelled, &error);
  g_cancellable_cancel (cancellable);
  while (error == NULL)
    g_main_context_iteration (NULL, TRUE);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_true (group_gone (pid));
}

int
main (int argc, char **argv)
{
  mitogen_test_init (&argc, &argv);
  TEST ("/process/live-output", test_live_output);
  TEST ("/process/streams-apart", test_streams_apart);
  TEST ("/process/stdin-cat", test_stdin_cat);
  TEST ("/process/stdin-endless", test_stdin_endless);
  TEST ("/process/big-output-bounded", test_big_output_bounded);
  TEST ("/process/send-signal", test_send_signal);
  TEST ("/process/pty", test_pty);
  TEST ("/process/cancel-kills-group", test_cancel_kills_group);
  TEST ("/process/drop-kills-group", test_drop_kills_group);
  TEST ("/process/lost-context", test_lost_context);
  TEST ("/process/not-found", test_not_found);
  TEST ("/process/hostile-caller", test_hostile_caller);
  TEST ("/process/options", test_options);
  TEST ("/process/stdin-window", test_stdin_window);
  TEST ("/process/closed-stdout-drops", test_closed_stdout_drops);
  TEST ("/process/run-too-big", test_run_too_big);
  TEST ("/process/async-no-threads", test_async_no_threads);
  TEST ("/process/async-cancel-kills-group", test_async_cancel_kills_group);
  return g_test_run ();
}
