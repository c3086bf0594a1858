/* mitogen-control.c: the messages routers send each other on the
 * reserved handles, and the policy on who may send them.
 *
 * ADD_ROUTE and DEL_ROUTE keep the routing tables of the tree in step:
 * a context that starts a child tells its parent, which tells its own,
 * up to the master. Only a direct child may speak of contexts below it.
 * ALLOCATE_ID hands out context ids (the master only), GET_MODULE serves
 * code to direct children, FORWARD_LOG brings log records up, and a
 * context refuses calls from below it.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "mitogen-control-private.h"
#include "mitogen-message-private.h"
#include "mitogen-module-private.h"
#include "mitogen-request-private.h"

/* Ids a direct child may hold, granted and not yet used, so that a child
 * cannot drain the id space or the master's memory. */
#define GRANT_QUOTA 256
#define ALLOCATE_TIMEOUT_MSEC 30000

typedef struct
{
  MitogenRouter         *router;       /* unowned: the handlers die with it */
  MitogenRouteTable     *table;        /* unowned; the router's */
  MitogenRoutesLostFunc  routes_lost;  /* immutable */
  GHashTable            *quota_warned; /* broker thread; ids of children told
                                        * once that they hit the id quota */
} Control;

/* Answers @msg with a dead message saying @why, if it wants an answer. */
static void
refuse (Control        *control,
        MitogenMessage *msg,
        const char     *why)
{
  g_autoptr(MitogenMessage) dead = _mitogen_message_make_dead_reply (msg, why);

  if (dead != NULL)
    mitogen_router_route (control->router, dead, NULL);
}

/* The body of @msg if it is of @type; NULL (logged) otherwise. */
static GVariant *
unpack_typed (MitogenMessage *msg,
              const char     *type,
              const char     *what)
{
  g_autoptr(GVariant) value = NULL;

  if (mitogen_message_is_dead (msg))
    return NULL;
  value = mitogen_message_unpack (msg, NULL);
  if (value == NULL || !g_variant_is_of_type (value, G_VARIANT_TYPE (type)))
    {
      g_warning ("context %u sent a malformed %s; ignored", msg->src_id, what);
      return NULL;
    }
  return g_steal_pointer (&value);
}

static void
announce_up (MitogenRouter     *router,
             MitogenRouteTable *table,
             guint32            handle,
             GVariant          *value)
{
  g_autoptr(MitogenMessage) msg = NULL;

  g_variant_ref_sink (value);
  if (_mitogen_route_table_has_parent (table))
    {
      msg = mitogen_message_new (_mitogen_route_table_get_parent_id (table), handle, value);
      mitogen_router_route (router, msg, NULL);
    }
  g_variant_unref (value);
}

void
_mitogen_control_announce_added (MitogenRouter     *router,
                                 MitogenRouteTable *table,
                                 guint32            id,
                                 const char        *name)
{
  announce_up (router, table, MITOGEN_HANDLE_ADD_ROUTE, g_variant_new ("(us)", id, name));
}

void
_mitogen_control_announce_lost (MitogenRouter     *router,
                                MitogenRouteTable *table,
                                guint32            id)
{
  announce_up (router, table, MITOGEN_HANDLE_DEL_ROUTE, g_variant_new ("(u)", id));
}

static void
on_add_route (MitogenMessage *msg,
              gpointer        data)
{
  Control *control = data;
  g_autoptr(GVariant) value = unpack_typed (msg, "(us)", "ADD_ROUTE");
  const char *name;
  guint32 id;

  if (value == NULL)
    return;
  g_variant_get (value, "(u&s)", &id, &name);
  if (!_mitogen_route_table_announce (control->table, msg->src_id, id))
    {
      g_warning ("refused ADD_ROUTE for context %u (%s) from context %u: only a direct "
                 "child may announce contexts below it", id, name, msg->src_id);
      return;
    }
  g_debug ("context %u (%s) is reachable through context %u", id, name, msg->src_id);
  _mitogen_control_announce_added (control->router, control->table, id, name);
}

static void
on_del_route (MitogenMessage *msg,
              gpointer        data)
{
  Control *control = data;
  g_autoptr(GVariant) value = unpack_typed (msg, "(u)", "DEL_ROUTE");
  g_autoptr(GArray) ids = NULL;
  guint32 id;

  if (value == NULL)
    return;
  g_variant_get (value, "(u)", &id);
  if (!_mitogen_route_table_withdraw (control->table, msg->src_id, id))
    {
      g_warning ("refused DEL_ROUTE for context %u from context %u: only a direct child "
                 "may withdraw contexts below it", id, msg->src_id);
      return;
    }
  g_debug ("context %u, behind context %u, was lost", id, msg->src_id);
  _mitogen_control_announce_lost (control->router, control->table, id);
  ids = g_array_new (FALSE, FALSE, sizeof (guint32));
  g_array_append_val (ids, id);
  control->routes_lost (control->router, ids);
}

/* ---- context ids -------------------------------------------------------- */

typedef struct
{
  Control        *control;   /* owned reference */
  MitogenRouter  *router;    /* owned */
  MitogenRouteTable *table;  /* the router's */
  MitogenMessage *request;   /* owned: the child's ALLOCATE_ID */
  gpointer        child;     /* owned reference to the child's stream */
} Allocation;

static void control_release (gpointer data);

static void
allocation_free (Allocation *a)
{
  control_release (a->control);
  g_object_unref (a->router);
  mitogen_message_unref (a->request);
  _mitogen_route_table_unref_stream (a->table, a->child);
  g_free (a);
}

/* Grants @id to the child that asked and tells it, or says why not. */
static void
allocation_answer (Allocation   *a,
                   guint32       id,
                   const GError *error)
{
  g_autoptr(MitogenMessage) reply = NULL;

  if (error == NULL && !_mitogen_route_table_grant (a->table, id, a->child, GRANT_QUOTA))
    {
      guint32 child = a->request->src_id;

      /* Said once per child: a flood of requests is not a flood of logs. */
      if (g_hash_table_add (a->control->quota_warned, GUINT_TO_POINTER (child)))
        g_warning ("refused ALLOCATE_ID from context %u: it holds %u unused ids, the most "
                   "a child may hold", child, _mitogen_route_table_count_grants (a->table, a->child));
      reply = _mitogen_message_make_dead_reply (a->request, "refused by policy: id quota reached");
    }
  else if (error != NULL)
    reply = _mitogen_message_make_dead_reply (a->request, error->message);
  else
    reply = _mitogen_message_make_reply (a->request, g_variant_new ("(u)", id));
  if (reply != NULL)
    mitogen_router_route (a->router, reply, NULL);
}

static void
allocation_got_id (GObject      *source,
                   GAsyncResult *result,
                   gpointer      data)
{
  Allocation *a = data;
  g_autoptr(GVariant) answer = NULL;
  g_autoptr(GError) error = NULL;
  guint32 id = 0;

  answer = _mitogen_request_finish (result, &error);
  if (answer != NULL)
    g_variant_get (answer, "(u)", &id);
  allocation_answer (a, id, error);
  allocation_free (a);
}

/* ALLOCATE_ID, from a direct child only: the master hands out the next
 * id; any other router asks its own parent first. Either way the id is
 * granted to that child, which alone may then announce it. */
static void
on_allocate_id (MitogenMessage *msg,
                gpointer        data)
{
  Control *control = data;
  Allocation *a;

  if (mitogen_message_is_dead (msg) || msg->reply_to == 0)
    return;
  if (!_mitogen_route_table_is_direct_child (control->table, msg->src_id))
    {
      g_warning ("refused ALLOCATE_ID from context %u: not a direct child", msg->src_id);
      refuse (control, msg, "refused by policy: ids are given to direct children only");
      return;
    }
  a = g_new0 (Allocation, 1);
  a->control = g_rc_box_acquire (control);
  a->router = g_object_ref (control->router);
  a->table = control->table;
  a->request = mitogen_message_ref (msg);
  a->child = _mitogen_route_table_ref_child (control->table, msg->src_id);
  if (_mitogen_route_table_count_grants (control->table, a->child) >= GRANT_QUOTA)
    {
      allocation_answer (a, 0, NULL);
      allocation_free (a);
      return;
    }
  if (!_mitogen_route_table_has_parent (control->table))
    {
      allocation_answer (a, _mitogen_route_table_next_id (control->table), NULL);
      allocation_free (a);
      return;
    }
  _mitogen_request_async (control->router, _mitogen_route_table_get_parent_id (control->table),
                          MITOGEN_HANDLE_ALLOCATE_ID, NULL, G_VARIANT_TYPE ("(u)"),
                          ALLOCATE_TIMEOUT_MSEC, NULL, allocation_got_id, a);
}

static void
own_id_answered (GObject      *source,
                 GAsyncResult *result,
                 gpointer      data)
{
  g_autoptr(GTask) task = data;
  MitogenRouteTable *table = g_task_get_task_data (task);
  g_autoptr(GVariant) answer = NULL;
  GError *error = NULL;
  guint32 id;

  answer = _mitogen_request_finish (result, &error);
  if (answer == NULL)
    {
      g_prefix_error (&error, "allocating a context id: ");
      g_task_return_error (task, error);
      return;
    }
  g_variant_get (answer, "(u)", &id);
  if (!_mitogen_route_table_grant (table, id, NULL, 0))
    {
      g_task_return_new_error (task, MITOGEN_ERROR, MITOGEN_ERROR_PROTOCOL,
                               "the parent gave context id %u, which is in use here", id);
      return;
    }
  g_task_return_int (task, id);
}

void
_mitogen_control_allocate_id_async (MitogenRouter       *router,
                                    MitogenRouteTable   *table,
                                    GCancellable        *cancellable,
                                    GAsyncReadyCallback  callback,
                                    gpointer             user_data)
{
  GTask *task = g_task_new (NULL, cancellable, callback, user_data);
  guint32 id;

  g_task_set_source_tag (task, _mitogen_control_allocate_id_async);
  g_task_set_task_data (task, table, NULL);
  if (_mitogen_route_table_has_parent (table))
    {
      _mitogen_request_async (router, _mitogen_route_table_get_parent_id (table),
                              MITOGEN_HANDLE_ALLOCATE_ID, NULL, G_VARIANT_TYPE ("(u)"),
                              ALLOCATE_TIMEOUT_MSEC, cancellable, own_id_answered, task);
      return;
    }
  id = _mitogen_route_table_next_id (table);
  _mitogen_route_table_grant (table, id, NULL, 0);
  g_task_return_int (task, id);
  g_object_unref (task);
}

guint32
_mitogen_control_allocate_id_finish (GAsyncResult  *result,
                                     GError       **error)
{
  gssize id = g_task_propagate_int (G_TASK (result), error);

  return id > 0 ? (guint32) id : 0;
}

/* Modules go to direct children only: a request from further down comes
 * through the child in between, which keeps what it passes on. */
static void
on_get_module (MitogenMessage *msg,
               gpointer        data)
{
  Control *control = data;

  if (mitogen_message_is_dead (msg))
    return;
  if (!_mitogen_route_table_is_direct_child (control->table, msg->src_id))
    {
      g_warning ("refused GET_MODULE from context %u: not a direct child", msg->src_id);
      refuse (control, msg, "refused by policy: modules are served to direct children only");
      return;
    }
  _mitogen_module_on_get (msg, control->router);
}

/* A master serves no calls; an agent replaces this with its own. */
static void
on_refused_call (MitogenMessage *msg,
                 gpointer        data)
{
  if (mitogen_message_is_dead (msg))
    return;
  g_warning ("refused a call from context %u: this context does not accept calls "
             "from contexts below it", msg->auth_id);
  refuse (data, msg, "refused by policy: calls go from a parent to its children only");
}

static void
on_forward_log (MitogenMessage *msg,
                gpointer        data)
{
  Control *control = data;
  g_autoptr(GVariant) value = NULL;
  g_autoptr(MitogenContext) ctx = NULL;
  const char *domain, *text;
  gint32 level;

  if (mitogen_message_is_dead (msg))
    return;
  value = mitogen_message_unpack (msg, NULL);
  if (value == NULL || !g_variant_is_of_type (value, G_VARIANT_TYPE ("(sis)")))
    {
      g_debug ("context %u sent a malformed log record", msg->src_id);
      return;
    }
  g_variant_get (value, "(&si&s)", &domain, &level, &text);
  ctx = mitogen_router_context_by_id (control->router, msg->src_id);
  _mitogen_log_forwarded (control->router, msg->src_id, mitogen_context_get_name (ctx),
                          domain, level, text);
}

static void
control_clear (gpointer data)
{
  Control *control = data;

  g_hash_table_unref (control->quota_warned);
}

static void
control_release (gpointer data)
{
  g_rc_box_release_full (data, control_clear);
}

void
_mitogen_control_install (MitogenRouter         *router,
                          MitogenRouteTable     *table,
                          MitogenRoutesLostFunc  routes_lost)
{
  static const struct {
    guint32            handle;
    MitogenHandlerFunc func;
  } handlers[] = {
    { MITOGEN_HANDLE_FORWARD_LOG, on_forward_log },
    { MITOGEN_HANDLE_ADD_ROUTE, on_add_route },
    { MITOGEN_HANDLE_DEL_ROUTE, on_del_route },
    { MITOGEN_HANDLE_ALLOCATE_ID, on_allocate_id },
    { MITOGEN_HANDLE_GET_MODULE, on_get_module },
    { MITOGEN_HANDLE_CALL_FUNCTION, on_refused_call },
  };
  Control *control = g_rc_box_new0 (Control);

  control->router = router;
  control->table = table;
  control->routes_lost = routes_lost;
  control->quota_warned = g_hash_table_new (NULL, NULL);
  /* Each handler holds the Control, whichever is replaced first. */
  for (gsize i = 0; i < G_N_ELEMENTS (handlers); i++)
    mitogen_router_add_handler (router, handlers[i].handle, NULL, handlers[i].func,
                                g_rc_box_acquire (control), control_release);
  control_release (control);
}
