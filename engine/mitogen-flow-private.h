/* mitogen-flow-private.h: how much memory the messages read from one
 * stream still hold, and when that stream may read on.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "mitogen-private.h"

G_BEGIN_DECLS

/* What a message costs beyond its data: the message, its GBytes and the
 * queue node that holds it. Charged so that a flood of empty frames fills
 * the budget too, instead of costing nothing. */
#define MITOGEN_FLOW_MESSAGE_OVERHEAD 256

/* A stream's budget. The broker thread charges each frame before reading
 * it; whoever lets go of the message (the receiver's reader, the stream
 * that relayed it, the last unref) gives the charge back, from any thread.
 * When a frame does not fit, the stream stops reading, and the resume
 * function runs on the broker thread once there is room again. */
typedef struct _MitogenFlow MitogenFlow;

/* Broker thread: read on (the flow wants the stream to retry its frame). */
typedef void (*MitogenFlowResumeFunc) (gpointer user_data);

MitogenFlow *_mitogen_flow_new           (GMainContext          *broker_context);
MitogenFlow *_mitogen_flow_ref           (MitogenFlow           *flow);
void         _mitogen_flow_unref         (MitogenFlow           *flow);
/* 0: no limit. Any thread; takes effect at the next frame. */
void         _mitogen_flow_set_limit     (MitogenFlow           *flow,
                                          guint64                limit);
guint64      _mitogen_flow_get_limit     (MitogenFlow           *flow);
/* Broker thread; NULL forgets the function: it does not run afterwards. */
void         _mitogen_flow_set_resume_func (MitogenFlow         *flow,
                                            MitogenFlowResumeFunc func,
                                            gpointer             user_data);
/* Broker thread. Charges @charge and returns TRUE when it fits in the
 * limit (a frame always fits when nothing is charged, so one larger than
 * the limit is read alone); else returns FALSE and the flow is paused:
 * the resume function runs once enough was given back. */
gboolean     _mitogen_flow_try_charge    (MitogenFlow           *flow,
                                          gsize                  charge);
/* Any thread: gives @charge back. */
void         _mitogen_flow_release       (MitogenFlow           *flow,
                                          gsize                  charge);
/* What is charged now (a snapshot). */
gsize        _mitogen_flow_get_outstanding (MitogenFlow         *flow);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MitogenFlow, _mitogen_flow_unref)

G_END_DECLS
