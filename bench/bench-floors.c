/* bench-floors.c: the floors mitogen-bench measures beside its figures.
 *
 * Each floor is the least a task costs on this machine with plain system
 * calls and no framework: starting a program, a round trip between two
 * processes, bytes through a socket. mitogen-bench prints libmitogen's
 * figures as ratios to these, measured in the same run, because a figure
 * from one machine says little on another and a ratio travels.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench-floors.h"

/* The frame layout of engine/mitogen-message.c, spelt out here because the
 * bench uses only the public API: magic, dst, src, auth, handle, reply_to,
 * length, all big-endian. Handle 0 is the bootstrap (and ready) frame. */
#define FRAME_MAGIC 0x4d49
#define FRAME_HEADER_SIZE 26

static int
compare_doubles (gconstpointer a,
                 gconstpointer b)
{
  double x = *(const double *) a, y = *(const double *) b;

  return x < y ? -1 : x > y;
}

double
bench_median (GArray *samples)
{
  if (samples->len == 0)
    return -1;
  g_array_sort (samples, compare_doubles);
  return g_array_index (samples, double, samples->len / 2);
}

double
bench_now_us (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static gboolean
read_all (int    fd,
          void  *buf,
          gsize  len)
{
  for (gsize have = 0; have < len; )
    {
      ssize_t n = read (fd, (char *) buf + have, len - have);

      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return FALSE;
      have += n;
    }
  return TRUE;
}

static gboolean
write_all (int         fd,
           const void *buf,
           gsize       len)
{
  for (gsize done = 0; done < len; )
    {
      ssize_t n = write (fd, (const char *) buf + done, len - done);

      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return FALSE;
      done += n;
    }
  return TRUE;
}

/* fork + exec of @argv with @fd (when ≥ 0) as its stdin and stdout. */
static pid_t
spawn (char * const *argv,
       int           fd)
{
  pid_t pid = fork ();

  if (pid == 0)
    {
      if (fd >= 0 && (dup2 (fd, 0) < 0 || dup2 (fd, 1) < 0))
        _exit (127);
      execv (argv[0], argv);
      _exit (127);
    }
  return pid;
}

static gboolean
run_true (void)
{
  char *argv[] = { (char *) "/bin/true", NULL };
  pid_t pid = spawn (argv, -1);
  int status;

  return pid > 0 && waitpid (pid, &status, 0) == pid && WIFEXITED (status) && WEXITSTATUS (status) == 0;
}

double
floor_true_fork_exec_ms (int runs)
{
  g_autoptr(GArray) samples = g_array_new (FALSE, FALSE, sizeof (double));

  for (int i = 0; i < runs; i++)
    {
      double t = bench_now_us ();

      if (!run_true ())
        return -1;
      g_array_append_val (samples, (double) { (bench_now_us () - t) / 1000.0 });
    }
  return bench_median (samples);
}

double
floor_true_fork_exec_serial_s (int n)
{
  double t = bench_now_us ();

  for (int i = 0; i < n; i++)
    if (!run_true ())
      return -1;
  return (bench_now_us () - t) / 1e6;
}

static void
put_u32 (guint8  *out,
         guint32  v)
{
  out[0] = v >> 24, out[1] = v >> 16, out[2] = v >> 8, out[3] = v;
}

/* The bootstrap frame the local transport writes first: the agent answers
 * it with its ready frame. */
static GBytes *
bootstrap_frame (void)
{
  GVariantDict dict;
  g_autoptr(GVariant) params = NULL;
  GByteArray *frame = g_byte_array_new ();
  guint8 header[FRAME_HEADER_SIZE] = { FRAME_MAGIC >> 8, FRAME_MAGIC & 0xff };

  g_variant_dict_init (&dict, NULL);
  g_variant_dict_insert (&dict, "context_id", "u", 1);
  g_variant_dict_insert (&dict, "parent_id", "u", 0);
  g_variant_dict_insert (&dict, "transport", "s", "local");
  g_variant_dict_insert (&dict, "serializer", "s", "gvariant");
  params = g_variant_ref_sink (g_variant_dict_end (&dict));
  put_u32 (header + 2, 1);      /* dst: the agent */
  put_u32 (header + 22, g_variant_get_size (params));
  g_byte_array_append (frame, header, sizeof header);
  g_byte_array_append (frame, g_variant_get_data (params), g_variant_get_size (params));
  return g_byte_array_free_to_bytes (frame);
}

/* Reads one frame from @fd: TRUE if it is a ready frame without "error". */
static gboolean
read_ready_frame (int fd)
{
  guint8 header[FRAME_HEADER_SIZE];
  g_autofree guint8 *body = NULL;
  g_autoptr(GVariant) info = NULL;
  g_autoptr(GVariant) error = NULL;
  guint32 length;

  if (!read_all (fd, header, sizeof header) || header[0] != FRAME_MAGIC >> 8)
    return FALSE;
  length = (guint32) header[22] << 24 | header[23] << 16 | header[24] << 8 | header[25];
  if (length > 1024 * 1024)
    return FALSE;
  body = g_malloc (MAX (length, 1));
  if (!read_all (fd, body, length))
    return FALSE;
  info = g_variant_ref_sink (g_variant_new_from_data (G_VARIANT_TYPE_VARDICT, body, length,
                                                      FALSE, NULL, NULL));
  error = g_variant_lookup_value (info, "error", NULL);
  return error == NULL;
}

static double
agent_first_frame_once (const char *agent_path,
                        GBytes     *bootstrap)
{
  char *argv[] = { (char *) agent_path, NULL };
  gboolean ok;
  double t;
  pid_t pid;
  int sv[2];

  if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
    return -1;
  t = bench_now_us ();
  pid = spawn (argv, sv[1]);
  close (sv[1]);
  ok = pid > 0 &&
       write_all (sv[0], g_bytes_get_data (bootstrap, NULL), g_bytes_get_size (bootstrap)) &&
       read_ready_frame (sv[0]);
  t = bench_now_us () - t;
  /* The agent leaves when its parent's end closes. */
  close (sv[0]);
  if (pid > 0)
    waitpid (pid, NULL, 0);
  return ok ? t / 1000.0 : -1;
}

double
floor_agent_first_frame_ms (const char *agent_path,
                            int         runs)
{
  g_autoptr(GArray) samples = g_array_new (FALSE, FALSE, sizeof (double));
  g_autoptr(GBytes) bootstrap = bootstrap_frame ();

  for (int i = 0; i < runs; i++)
    {
      double ms = agent_first_frame_once (agent_path, bootstrap);

      if (ms < 0)
        return -1;
      g_array_append_val (samples, ms);
    }
  return bench_median (samples);
}

/* The CPU the ping-pong's child moves to, or -1 to leave it where it is. */
static int cross_child_cpu = -1;

/* Round trips of 8 bytes: this process writes to @out and reads @in; a
 * child reads @child_in and writes @child_out. The caller closes the fds. */
static double
pingpong_us (int out,
             int in,
             int child_in,
             int child_out,
             int rounds)
{
  g_autoptr(GArray) samples = g_array_new (FALSE, FALSE, sizeof (double));
  char buf[8] = { 0 };
  pid_t pid = fork ();

  if (pid < 0)
    return -1;
  if (pid == 0)
    {
      if (cross_child_cpu >= 0)
        {
          cpu_set_t other;

          CPU_ZERO (&other);
          CPU_SET (cross_child_cpu, &other);
          if (sched_setaffinity (0, sizeof other, &other) < 0)
            _exit (1);
        }
      for (int i = 0; i < rounds; i++)
        if (!read_all (child_in, buf, 8) || !write_all (child_out, buf, 8))
          _exit (1);
      _exit (0);
    }
  for (int i = 0; i < rounds; i++)
    {
      double t = bench_now_us ();

      if (!write_all (out, buf, 8) || !read_all (in, buf, 8))
        break;
      g_array_append_val (samples, (double) { bench_now_us () - t });
    }
  waitpid (pid, NULL, 0);
  return samples->len == (guint) rounds ? bench_median (samples) : -1;
}

double
floor_pipe_pingpong_us (int rounds)
{
  int a[2], b[2];
  double us;

  if (pipe (a) < 0)
    return -1;
  if (pipe (b) < 0)
    {
      close (a[0]), close (a[1]);
      return -1;
    }
  us = pingpong_us (a[1], b[0], a[0], b[1], rounds);
  close (a[0]), close (a[1]), close (b[0]), close (b[1]);
  return us;
}

/* The pipe ping-pong with this process on one CPU and its child on
 * another: every wake-up crosses CPUs, as it may when both are free (the
 * scheduler may also put both on one CPU, and the free figure then swings
 * between the pinned one and this one from run to run). */
double
floor_pipe_pingpong_cross_us (int rounds)
{
  cpu_set_t saved, first;
  int cpus[2], n = 0;
  double us;

  if (sched_getaffinity (0, sizeof saved, &saved) < 0)
    return -1;
  for (int cpu = 0; cpu < CPU_SETSIZE && n < 2; cpu++)
    if (CPU_ISSET (cpu, &saved))
      cpus[n++] = cpu;
  if (n < 2)
    return -1;
  /* The child is forked on the first CPU and moves itself to the second
   * (cross_child_cpu), before its first read. */
  CPU_ZERO (&first);
  CPU_SET (cpus[0], &first);
  cross_child_cpu = cpus[1];
  if (sched_setaffinity (0, sizeof first, &first) < 0)
    return -1;
  us = floor_pipe_pingpong_us (rounds);
  cross_child_cpu = -1;
  sched_setaffinity (0, sizeof saved, &saved);
  return us;
}

double
floor_pipe_switches_per_round (int rounds)
{
  struct rusage before, after;

  if (getrusage (RUSAGE_SELF, &before) < 0 || floor_pipe_pingpong_us (rounds) < 0 ||
      getrusage (RUSAGE_SELF, &after) < 0)
    return -1;
  return (double) (after.ru_nvcsw + after.ru_nivcsw - before.ru_nvcsw - before.ru_nivcsw) / rounds;
}

double
floor_socketpair_pingpong_us (int rounds)
{
  int sv[2];
  double us;

  if (socketpair (AF_UNIX, SOCK_STREAM, 0, sv) < 0)
    return -1;
  us = pingpong_us (sv[0], sv[0], sv[1], sv[1], rounds);
  close (sv[0]), close (sv[1]);
  return us;
}

/* A connected pair of loopback TCP sockets, Nagle off on both. */
static gboolean
tcp_pair (int fds[2])
{
  struct sockaddr_in addr = { .sin_family = AF_INET, .sin_addr.s_addr = htonl (INADDR_LOOPBACK) };
  socklen_t len = sizeof addr;
  int one = 1, listener = socket (AF_INET, SOCK_STREAM, 0);
  gboolean ok;

  fds[0] = fds[1] = -1;
  if (listener < 0)
    return FALSE;
  ok = bind (listener, (struct sockaddr *) &addr, sizeof addr) == 0 &&
       listen (listener, 1) == 0 &&
       getsockname (listener, (struct sockaddr *) &addr, &len) == 0 &&
       (fds[0] = socket (AF_INET, SOCK_STREAM, 0)) >= 0 &&
       connect (fds[0], (struct sockaddr *) &addr, sizeof addr) == 0 &&
       (fds[1] = accept (listener, NULL, NULL)) >= 0;
  close (listener);
  if (ok)
    {
      setsockopt (fds[0], IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      setsockopt (fds[1], IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      return TRUE;
    }
  if (fds[0] >= 0)
    close (fds[0]);
  return FALSE;
}

double
floor_tcp_pingpong_us (int rounds)
{
  int fds[2];
  double us;

  if (!tcp_pair (fds))
    return -1;
  us = pingpong_us (fds[0], fds[0], fds[1], fds[1], rounds);
  close (fds[0]), close (fds[1]);
  return us;
}

#define BULK_MESSAGE_SIZE ((gsize) 8 << 20)

/* A buffer of @size bytes whose pages the kernel has yet to hand out. */
static char *
fresh_pages (gsize size)
{
  void *p = mmap (NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

  return p == MAP_FAILED ? NULL : p;
}

typedef enum
{
  INTO_FRESH_PAGES,     /* each message into pages mapped for it, unmapped after */
  INTO_REUSED_BUFFER,   /* every message into the same buffer */
  INTO_MALLOC_CHUNKS,   /* each message into a g_malloc()ed buffer, freed after */
} BulkTarget;

/* A socketpair and a child process at its other end: the child keeps
 * sv[1], this process sv[0]. Returns what fork() does, -1 on failure. */
static pid_t
fork_peer (int sv[2])
{
  pid_t pid;

  if (socketpair (AF_UNIX, SOCK_STREAM, 0, sv) < 0)
    return -1;
  pid = fork ();
  if (pid < 0)
    {
      close (sv[0]), close (sv[1]);
      return -1;
    }
  close (pid == 0 ? sv[0] : sv[1]);
  return pid;
}

/* @mib MiB from another process, as messages of @size bytes, read into
 * memory as @target says. */
static double
socketpair_bulk_mb_s (guint      mib,
                      gsize      size,
                      BulkTarget target)
{
  gsize total = (gsize) mib * 1024 * 1024, got = 0;
  g_autofree char *reused = NULL;
  double start;
  pid_t pid;
  int sv[2];

  pid = fork_peer (sv);
  if (pid < 0)
    return -1;
  if (pid == 0)
    {
      char *out = g_malloc (size);
      gboolean ok = TRUE;

      memset (out, 'x', size);
      for (gsize sent = 0; ok && sent < total; sent += MIN (size, total - sent))
        ok = write_all (sv[1], out, MIN (size, total - sent));
      g_free (out);
      _exit (ok ? 0 : 1);
    }
  if (target == INTO_REUSED_BUFFER)
    reused = g_malloc (size);
  start = bench_now_us ();
  while (got < total)
    {
      gsize want = MIN (size, total - got);
      char *in = target == INTO_FRESH_PAGES ? fresh_pages (want)
               : target == INTO_MALLOC_CHUNKS ? g_malloc (want) : reused;
      gboolean ok = in != NULL && read_all (sv[0], in, want);

      if (target == INTO_FRESH_PAGES && in != NULL)
        munmap (in, want);
      else if (target == INTO_MALLOC_CHUNKS)
        g_free (in);
      if (!ok)
        break;
      got += want;
    }
  start = bench_now_us () - start;
  waitpid (pid, NULL, 0);
  close (sv[0]);
  return got == total ? total / start : -1;
}

double
floor_socketpair_fresh_mb_s (guint mib)
{
  return socketpair_bulk_mb_s (mib, BULK_MESSAGE_SIZE, INTO_FRESH_PAGES);
}

double
floor_socketpair_reused_mb_s (guint mib)
{
  return socketpair_bulk_mb_s (mib, BULK_MESSAGE_SIZE, INTO_REUSED_BUFFER);
}

double
floor_socketpair_chunks_mb_s (guint mib)
{
  return socketpair_bulk_mb_s (mib, 256 * 1024, INTO_MALLOC_CHUNKS);
}

typedef struct
{
  int   fd;
  int   n;
  gsize size;
} EchoWriter;

static gpointer
echo_writer (gpointer data)
{
  EchoWriter *w = data;
  g_autofree char *msg = g_malloc0 (w->size);

  for (int i = 0; i < w->n; i++)
    if (!write_all (w->fd, msg, w->size))
      return GINT_TO_POINTER (FALSE);
  return GINT_TO_POINTER (TRUE);
}

double
floor_socketpair_echo_per_s (int   n,
                             gsize size)
{
  EchoWriter w = { .n = n, .size = size };
  g_autofree char *buf = g_malloc (MAX (size, 64 * 1024));
  gsize total = (gsize) n * size, got = 0;
  GThread *writer;
  gboolean wrote;
  double t;
  pid_t pid;
  int sv[2];

  pid = fork_peer (sv);
  if (pid < 0)
    return -1;
  if (pid == 0)
    {
      for (int i = 0; i < n; i++)
        if (!read_all (sv[1], buf, size) || !write_all (sv[1], buf, size))
          _exit (1);
      _exit (0);
    }
  w.fd = sv[0];
  t = bench_now_us ();
  writer = g_thread_new ("echo-writer", echo_writer, &w);
  while (got < total)
    {
      ssize_t r = read (sv[0], buf, MIN (total - got, MAX (size, 64 * 1024)));

      if (r < 0 && errno == EINTR)
        continue;
      if (r <= 0)
        break;
      got += r;
    }
  t = bench_now_us () - t;
  wrote = GPOINTER_TO_INT (g_thread_join (writer));
  close (sv[0]);
  waitpid (pid, NULL, 0);
  return wrote && got == total ? n / (t / 1e6) : -1;
}
