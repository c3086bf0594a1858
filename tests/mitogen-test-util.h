/* mitogen-test-util.h: helpers shared by the C tests.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#ifdef MITOGEN_TEST_PUBLIC
# include <mitogen/mitogen.h>
#else
# include "mitogen-private.h"
#endif

G_BEGIN_DECLS

/* A broker and router for one test, with a leak check in teardown. */
typedef struct
{
  MitogenBroker *broker;
  MitogenRouter *router;
} MitogenTestFixture;

void            mitogen_test_fixture_setup    (MitogenTestFixture *fixture,
                                               gconstpointer       data);
void            mitogen_test_fixture_teardown (MitogenTestFixture *fixture,
                                               gconstpointer       data);

/* Returns once the broker has run everything queued before the call. */
void            mitogen_test_sync_with_broker (MitogenBroker      *broker);
/* Runs whatever is pending in the default main context (signals). */
void            mitogen_test_drain_default_context (void);
/* Iterates the default main context until *@flag or the timeout. */
gboolean        mitogen_test_iterate_until    (gboolean           *flag,
                                               int                 timeout_msec);
/* Waits until @ctx is lost; FALSE on timeout. */
gboolean        mitogen_test_wait_disconnected (MitogenContext    *ctx,
                                                int                timeout_msec);

/* Starts a local context or fails the test. */
MitogenContext *mitogen_test_local            (MitogenRouter      *router);

/* Starts a context through @transport (options floating or NULL, @via
 * nullable) or fails the test. */
MitogenContext *mitogen_test_connect_ok       (MitogenRouter      *router,
                                               const char         *transport,
                                               GVariant           *options,
                                               MitogenContext     *via);
/* The error of a start that must fail; fails the test if it does not. */
GError         *mitogen_test_connect_fails    (MitogenRouter      *router,
                                               const char         *transport,
                                               GVariant           *options,
                                               MitogenContext     *via);
/* The result of a call that must succeed (args floating or NULL). */
GVariant       *mitogen_test_call_ok          (MitogenContext     *ctx,
                                               const char         *function,
                                               GVariant           *args);

/* ---- files ------------------------------------------------------------ */

/* A fresh directory in the temporary directory, named @prefix-XXXXXX. */
char           *mitogen_test_make_dir         (const char         *prefix);
/* rm -rf @path. */
void            mitogen_test_remove_tree      (const char         *path);
/* @size bytes of a pattern no chunk size lines up with, varied by @seed. */
void            mitogen_test_write_pattern    (const char         *path,
                                               gsize               size,
                                               guint               seed);
/* The sha256 of a file, in hex. */
char           *mitogen_test_file_sha         (const char         *path);
void            mitogen_test_assert_same_file (const char         *a,
                                               const char         *b);
/* No temporary file of a transfer (".NAME.mitogen-XXXXXX") is in @dir. */
void            mitogen_test_assert_no_temp   (const char         *dir);

/* The pid of a context, from its ready frame. */
int             mitogen_test_context_pid      (MitogenContext     *context);

/* The state letter (Z: a zombie) and parent of process @pid; FALSE if it
 * is gone. */
gboolean        mitogen_test_read_stat        (int                 pid,
                                               char               *state,
                                               int                *ppid);

/* TRUE while process @pid exists (and is not a zombie). */
gboolean        mitogen_test_pid_alive        (int                 pid);

/* Waits up to @timeout_msec for process @pid to go away. */
gboolean        mitogen_test_wait_pid_gone    (int                 pid,
                                               int                 timeout_msec);

/* ---- log messages ------------------------------------------------------
 *
 * Every test program calls mitogen_test_init() instead of g_test_init(). It
 * installs a log writer that sees every message of the process, from any
 * thread, including those agents forward (which the master logs with a
 * MITOGEN_CONTEXT field):
 *  - a message matching a declared expectation is counted and swallowed;
 *  - any other warning or critical, or a message declared with
 *    mitogen_test_expect_no_log(), fails the running test at once;
 *  - anything else goes on to GLib's default writer.
 * At the end of a test that declared expectations (and in
 * mitogen_test_fixture_teardown()), every expectation must have been met,
 * after waiting a while for those that travel from other processes; then
 * they are all cleared. g_test_expect_message() is not used: it sees neither
 * structured records nor other threads. */
void            mitogen_test_init             (int                *argc,
                                               char             ***argv);
/* One message of exactly @level in @domain whose text matches the glob
 * @pattern. Each expectation is met by one message. */
void            mitogen_test_expect_log       (const char         *domain,
                                               GLogLevelFlags      level,
                                               const char         *pattern);
/* One record forwarded from the context named @context (NULL: any), which
 * logged it at @level in @domain there; @pattern matches the line the
 * master logs ("[NAME] LEVEL: text"). The master logs it at message level
 * or below: a forwarded record at warning level or worse fails the test,
 * as does an unexpected warning from a context. */
void            mitogen_test_expect_forwarded_log (const char     *context,
                                                   const char     *domain,
                                                   GLogLevelFlags  level,
                                                   const char     *pattern);
/* Such a message fails the test if it comes before the end of the test. */
void            mitogen_test_expect_no_log    (const char         *domain,
                                               GLogLevelFlags      level,
                                               const char         *pattern);
/* Waits up to @timeout_msec until every expectation is met. */
gboolean        mitogen_test_wait_expected_logs (int               timeout_msec);
/* Waits a while, fails the test for any expectation not met, clears all. */
void            mitogen_test_assert_expected_logs (void);

/* ---- what checkers found in agents -----------------------------------
 *
 * mitogen_test_init() gives the program a directory of agent reports (in
 * MITOGEN_TEST_AGENT_REPORTS, which its agents inherit) and points
 * ASan's and UBSan's log_path there; the valgrind test setup runs each
 * local agent under valgrind (MITOGEN_AGENT_WRAPPER) with its log there.
 * mitogen_test_fixture_teardown() waits for the agents it disconnected and
 * fails the test for any agent that reported an error or a definite leak;
 * the reports left when the program exits are judged then, and any fault
 * makes it exit with status 1. */

/* This program's directory of agent reports. */
const char     *mitogen_test_agent_reports_dir (void);
/* Judges the reports in @dir of agents that have ended, each once: NULL if
 * all are clean, else the faulty reports' text. */
char           *mitogen_test_agent_reports_faults (const char *dir);
/* Fails the test if an agent that has ended reported a fault. */
void            mitogen_test_assert_agents_clean (void);

G_END_DECLS
