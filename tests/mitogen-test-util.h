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

/* The pid of a context, from its ready frame. */
int             mitogen_test_context_pid      (MitogenContext     *context);

/* TRUE while process @pid exists (and is not a zombie). */
gboolean        mitogen_test_pid_alive        (int                 pid);

/* Waits up to @timeout_msec for process @pid to go away. */
gboolean        mitogen_test_wait_pid_gone    (int                 pid,
                                               int                 timeout_msec);

/* Structured logging does not work with g_test_expect_message(): instead,
 * mitogen_test_capture_logs() (once per process, before the first
 * context) keeps every warning and critical of the "mitogen" domains,
 * including those forwarded from agents, rather than aborting; the test
 * then checks them with mitogen_test_take_log(). */
void            mitogen_test_capture_logs     (void);
/* TRUE if a captured message matched the glob @pattern; it is removed. */
gboolean        mitogen_test_take_log         (const char         *pattern);
/* Waits up to @timeout_msec for such a message (forwarded logs travel). */
gboolean        mitogen_test_wait_log         (const char         *pattern,
                                               int                 timeout_msec);

G_END_DECLS
