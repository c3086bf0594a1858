/* serve-helper.h: test.keep, the function test-serve.c's listeners serve.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <mitogen/mitogen.h>

/* Registers test.keep: () → u, the id of one local context, started by
 * the first call and kept for every later one. */
static MitogenContext *serve_helper_kept;
static GMutex serve_helper_lock;

static GVariant *
serve_helper_keep (MitogenCall  *call,
                   GVariant     *args,
                   gpointer      user_data,
                   GError      **error)
{
  MitogenRouter *router = mitogen_call_get_router (call);
  guint32 id;

  g_mutex_lock (&serve_helper_lock);
  if (serve_helper_kept == NULL)
    serve_helper_kept = mitogen_router_connect_context (router, "local", NULL, NULL, NULL, error);
  id = serve_helper_kept != NULL ? mitogen_context_get_id (serve_helper_kept) : 0;
  g_mutex_unlock (&serve_helper_lock);
  return id != 0 ? g_variant_new_uint32 (id) : NULL;
}

static inline void
serve_helper_register_keep (void)
{
  mitogen_register_function ("test.keep", serve_helper_keep, NULL, NULL);
}

/* Forgets the kept context (the caller shuts it down). */
static inline MitogenContext *
serve_helper_steal_kept (void)
{
  MitogenContext *kept;

  g_mutex_lock (&serve_helper_lock);
  kept = serve_helper_kept;
  serve_helper_kept = NULL;
  g_mutex_unlock (&serve_helper_lock);
  return kept;
}
