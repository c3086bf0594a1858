/* mitogen-flow.c: how much memory the messages read from one stream still
 * hold, and when that stream may read on.
 *
 * Only the broker thread charges; anyone releases. That makes the check
 * "does this frame fit?" safe without a lock: the charged amount can only
 * fall between the check and the charge. Pausing and resuming meet on one
 * atomic flag: the broker raises @paused and then looks again; a releaser
 * that brings the amount down to @resume_at takes the flag down and
 * schedules the resume. Whichever of the two sees the other's write acts,
 * so a pause is never left without its resume.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "mitogen-flow-private.h"

struct _MitogenFlow
{
  gatomicrefcount        ref_count;
  GMainContext          *context;      /* owned; immutable: the broker's */
  gsize                  limit;        /* atomic; 0: none */
  gsize                  outstanding;  /* atomic: bytes charged, not given back */
  gsize                  resume_at;    /* atomic: read on at or below this */
  gint                   paused;       /* atomic: TRUE while waiting for room */
  MitogenFlowResumeFunc  resume_func;  /* broker thread only */
  gpointer               resume_data;  /* broker thread only */
};

MitogenFlow *
_mitogen_flow_new (GMainContext *broker_context)
{
  MitogenFlow *flow = g_new0 (MitogenFlow, 1);

  g_atomic_ref_count_init (&flow->ref_count);
  flow->context = g_main_context_ref (broker_context);
  return flow;
}

MitogenFlow *
_mitogen_flow_ref (MitogenFlow *flow)
{
  g_atomic_ref_count_inc (&flow->ref_count);
  return flow;
}

void
_mitogen_flow_unref (MitogenFlow *flow)
{
  if (!g_atomic_ref_count_dec (&flow->ref_count))
    return;
  g_main_context_unref (flow->context);
  g_free (flow);
}

void
_mitogen_flow_set_limit (MitogenFlow *flow,
                         guint64      limit)
{
  g_atomic_pointer_set (&flow->limit, (gsize) MIN (limit, (guint64) G_MAXSIZE));
}

guint64
_mitogen_flow_get_limit (MitogenFlow *flow)
{
  return g_atomic_pointer_get (&flow->limit);
}

gsize
_mitogen_flow_get_outstanding (MitogenFlow *flow)
{
  return g_atomic_pointer_get (&flow->outstanding);
}

void
_mitogen_flow_set_resume_func (MitogenFlow           *flow,
                               MitogenFlowResumeFunc  func,
                               gpointer               user_data)
{
  flow->resume_func = func;
  flow->resume_data = user_data;
}

static gboolean
resume_on_broker (gpointer data)
{
  MitogenFlow *flow = data;

  if (flow->resume_func != NULL)
    flow->resume_func (flow->resume_data);
  return G_SOURCE_REMOVE;
}

/* Always through the loop, even from the broker thread: a release may
 * come from deep inside a handler that the resume must not re-enter. */
static void
schedule_resume (MitogenFlow *flow)
{
  GSource *source = g_idle_source_new ();

  g_source_set_priority (source, G_PRIORITY_DEFAULT);
  g_source_set_callback (source, resume_on_broker, _mitogen_flow_ref (flow),
                         (GDestroyNotify) _mitogen_flow_unref);
  g_source_set_static_name (source, "[mitogen] flow resume");
  g_source_attach (source, flow->context);
  g_source_unref (source);
}

void
_mitogen_flow_release (MitogenFlow *flow,
                       gsize        charge)
{
  gsize before, after;

  if (charge == 0)
    return;
  before = (gsize) g_atomic_pointer_add (&flow->outstanding, -(gssize) charge);
  after = before - charge;
  /* The flag before the threshold: the broker writes them the other way
   * round, so a raised flag comes with its own threshold. */
  if (g_atomic_int_get (&flow->paused) &&
      after <= g_atomic_pointer_get (&flow->resume_at) &&
      g_atomic_int_compare_and_exchange (&flow->paused, TRUE, FALSE))
    schedule_resume (flow);
}

gboolean
_mitogen_flow_try_charge (MitogenFlow *flow,
                          gsize        charge)
{
  gsize limit = g_atomic_pointer_get (&flow->limit);

  for (;;)
    {
      gsize outstanding = g_atomic_pointer_get (&flow->outstanding);
      gsize resume_at;

      if (limit == 0 || outstanding == 0 ||
          (charge <= limit && outstanding <= limit - charge))
        {
          g_atomic_pointer_add (&flow->outstanding, (gssize) charge);
          return TRUE;
        }

      /* Read on once this frame fits and, for hysteresis, no sooner than
       * half the limit is free: resuming for every small release would
       * wake the broker once per message. A frame larger than the limit
       * waits for everything to be given back. */
      resume_at = charge < limit ? MIN (limit - charge, limit / 2) : 0;
      g_atomic_pointer_set (&flow->resume_at, resume_at);
      g_atomic_int_set (&flow->paused, TRUE);
      if (g_atomic_pointer_get (&flow->outstanding) > resume_at)
        return FALSE;
      /* Room came back meanwhile. If a releaser saw the flag first, it
       * scheduled the resume: stay paused until that runs. */
      if (!g_atomic_int_compare_and_exchange (&flow->paused, TRUE, FALSE))
        return FALSE;
    }
}
