/* bench-floors.h: what this machine can do without libmitogen, measured in
 * the same run as libmitogen's figures so that each figure has a ratio.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

/* The median of @samples (sorted in place), -1 for none. */
double bench_median (GArray *samples);
/* Microseconds on the monotonic clock, to the nanosecond: round trips
 * here are a few µs. */
double bench_now_us (void);

/* Every function below returns its figure, or -1 when the measurement failed. */

/* Median ms of fork + exec of /bin/true, to its exit. */
double floor_true_fork_exec_ms (int runs);
/* Seconds for @n fork + execs of /bin/true, one after another. */
double floor_true_fork_exec_serial_s (int n);
/* Median ms from fork + exec of the agent at @agent_path (stdin and stdout
 * one end of a socketpair, as the local transport starts it) to the whole
 * of the first frame it writes: its ready frame, the answer to the
 * bootstrap frame written to it first. */
double floor_agent_first_frame_ms (const char *agent_path,
                                   int         runs);
/* Median µs of a round trip of 8 bytes to another process and back, over
 * two pipes, a socketpair, or loopback TCP (TCP_NODELAY). */
double floor_pipe_pingpong_us (int rounds);
double floor_socketpair_pingpong_us (int rounds);
/* The pipe's, with the two processes on two different CPUs. */
double floor_pipe_pingpong_cross_us (int rounds);
/* Context switches of this process per pipe round trip (its side's). */
double floor_pipe_switches_per_round (int rounds);
double floor_tcp_pingpong_us (int rounds);
/* MB/s of @mib MiB through a socketpair from another process, as 8 MiB
 * messages read each into pages fresh from the kernel (mmap, munmap), or
 * all into one 8 MiB buffer allocated once. */
double floor_socketpair_fresh_mb_s (guint mib);
double floor_socketpair_reused_mb_s (guint mib);
/* The same in 256 KiB chunks, each into a buffer from g_malloc() freed
 * after it, as a transfer's chunks arrive (malloc hands the same pages
 * back, so few are fresh). */
double floor_socketpair_chunks_mb_s (guint mib);
/* Messages per second when @n messages of @size bytes go to another
 * process, which reads each and writes it back with one system call each,
 * all sent before the first answer is awaited (a writer thread sends). */
double floor_socketpair_echo_per_s (int   n,
                                    gsize size);
