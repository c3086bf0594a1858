/* mitogen-transport-container.c: contexts inside containers, namespaces
 * and other roots on this machine: docker, podman, buildah, kubectl, lxc
 * (lxc-attach), lxd (lxc exec), chroot and setns (nsenter).
 *
 * Each runs the same first stage as ssh and sudo inside the target with
 * the tool's own "exec" (mitogen-first-stage.c): a cached agent whose hash
 * matches, or the agent's bytes sent over the stream, checked, cached and
 * run. Nothing is installed in the container, and nothing from this
 * machine's file system is assumed to be there: the agent that travels is
 * the self-contained one where it exists. The program is started as
 * sudo is without a password (mitogen-become.c): no terminal, standard
 * error kept for the message when it fails.
 *
 * Options, besides the shared ones: the target ("container", "pod",
 * "path" or "pid", also given as TRANSPORT:ARG on the command line), the
 * program to run ("docker_path", ...), and per transport "username",
 * "namespace", "kube_container", "kubeconfig", "userspec", "namespaces".
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <string.h>

#include <mitogen/mitogen.h>

#include "mitogen-become.h"

/* One kind of container: its options and how its program is called. */
typedef struct
{
  const char                   *name;     /* the transport's name: "docker" */
  const MitogenTransportOption *options;
  /* Adds the program and its arguments up to the command to @argv (which
   * owns copies, see add()); FALSE with @error set. */
  gboolean (*build_argv) (GVariant   *options,
                          GPtrArray  *argv,
                          GError    **error);
} ContainerKind;

static void
add (GPtrArray  *argv,
     const char *arg)
{
  g_ptr_array_add (argv, g_strdup (arg));
}

/* The string option @key, which must be there when @required. */
static gboolean
get_string (GVariant     *options,
            const char   *kind,
            const char   *key,
            gboolean      required,
            const char  **out,
            GError      **error)
{
  if (!_mitogen_become_option_string (options, kind, key, out, error))
    return FALSE;
  if (required && (*out == NULL || **out == '\0'))
    {
      g_autofree char *upper = g_ascii_strup (key, -1);

      g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_FAILED,
                   "%s: the “%s” option is required (%s:%s on the command line)",
                   kind, key, kind, upper);
      return FALSE;
    }
  return TRUE;
}

/* A target name that the program would read as one of its options. */
static gboolean
check_target (const char  *kind,
              const char  *what,
              const char  *value,
              GError     **error)
{
  if (value[0] != '-')
    return TRUE;
  g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_FAILED,
               "%s: a %s may not start with '-': “%s”", kind, what, value);
  return FALSE;
}

/* docker and podman take the same arguments: exec -i [-u USER] NAME. */
static gboolean
build_engine_exec (const char  *kind,
                   GVariant    *options,
                   GPtrArray   *argv,
                   GError     **error)
{
  g_autofree char *path_key = g_strconcat (kind, "_path", NULL);
  const char *program = kind, *container = NULL, *username = NULL;

  if (!get_string (options, kind, path_key, FALSE, &program, error) ||
      !get_string (options, kind, "container", TRUE, &container, error) ||
      !get_string (options, kind, "username", FALSE, &username, error) ||
      !check_target (kind, "container", container, error))
    return FALSE;
  add (argv, program);
  add (argv, "exec");
  add (argv, "-i");
  if (username != NULL)
    {
      add (argv, "-u");
      add (argv, username);
    }
  add (argv, container);
  return TRUE;
}

static gboolean
build_docker (GVariant *options, GPtrArray *argv, GError **error)
{
  return build_engine_exec ("docker", options, argv, error);
}

static gboolean
build_podman (GVariant *options, GPtrArray *argv, GError **error)
{
  return build_engine_exec ("podman", options, argv, error);
}

static gboolean
build_buildah (GVariant   *options,
               GPtrArray  *argv,
               GError    **error)
{
  const char *program = "buildah", *container = NULL, *username = NULL;

  if (!get_string (options, "buildah", "buildah_path", FALSE, &program, error) ||
      !get_string (options, "buildah", "container", TRUE, &container, error) ||
      !get_string (options, "buildah", "username", FALSE, &username, error) ||
      !check_target ("buildah", "container", container, error))
    return FALSE;
  add (argv, program);
  add (argv, "run");
  if (username != NULL)
    {
      add (argv, "--user");
      add (argv, username);
    }
  add (argv, container);
  add (argv, "--");
  return TRUE;
}

static gboolean
build_kubectl (GVariant   *options,
               GPtrArray  *argv,
               GError    **error)
{
  const char *program = "kubectl", *pod = NULL, *container = NULL;
  const char *namespace = NULL, *kubeconfig = NULL;

  if (!get_string (options, "kubectl", "kubectl_path", FALSE, &program, error) ||
      !get_string (options, "kubectl", "pod", TRUE, &pod, error) ||
      !get_string (options, "kubectl", "kube_container", FALSE, &container, error) ||
      !get_string (options, "kubectl", "namespace", FALSE, &namespace, error) ||
      !get_string (options, "kubectl", "kubeconfig", FALSE, &kubeconfig, error) ||
      !check_target ("kubectl", "pod", pod, error))
    return FALSE;
  add (argv, program);
  if (kubeconfig != NULL)
    {
      add (argv, "--kubeconfig");
      add (argv, kubeconfig);
    }
  if (namespace != NULL)
    {
      add (argv, "--namespace");
      add (argv, namespace);
    }
  add (argv, "exec");
  add (argv, "-i");
  if (container != NULL)
    {
      add (argv, "--container");
      add (argv, container);
    }
  add (argv, pod);
  add (argv, "--");
  return TRUE;
}

static gboolean
build_lxc (GVariant   *options,
           GPtrArray  *argv,
           GError    **error)
{
  const char *program = "lxc-attach", *container = NULL;

  if (!get_string (options, "lxc", "lxc_attach_path", FALSE, &program, error) ||
      !get_string (options, "lxc", "container", TRUE, &container, error) ||
      !check_target ("lxc", "container", container, error))
    return FALSE;
  add (argv, program);
  add (argv, "--clear-env");
  add (argv, "--name");
  add (argv, container);
  add (argv, "--");
  return TRUE;
}

static gboolean
build_lxd (GVariant   *options,
           GPtrArray  *argv,
           GError    **error)
{
  const char *program = "lxc", *container = NULL;

  if (!get_string (options, "lxd", "lxc_path", FALSE, &program, error) ||
      !get_string (options, "lxd", "container", TRUE, &container, error) ||
      !check_target ("lxd", "container", container, error))
    return FALSE;
  add (argv, program);
  add (argv, "exec");
  add (argv, "--mode=non-interactive");
  add (argv, container);
  add (argv, "--");
  return TRUE;
}

static gboolean
build_chroot (GVariant   *options,
              GPtrArray  *argv,
              GError    **error)
{
  const char *program = "chroot", *path = NULL, *userspec = NULL;

  if (!get_string (options, "chroot", "chroot_path", FALSE, &program, error) ||
      !get_string (options, "chroot", "path", TRUE, &path, error) ||
      !get_string (options, "chroot", "userspec", FALSE, &userspec, error))
    return FALSE;
  if (!g_path_is_absolute (path))
    {
      g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_FAILED,
                   "chroot: the root must be an absolute path, not “%s”", path);
      return FALSE;
    }
  add (argv, program);
  if (userspec != NULL)
    {
      add (argv, "--userspec");
      add (argv, userspec);
    }
  add (argv, "--");
  add (argv, path);
  return TRUE;
}

/* nsenter's flag for each namespace it can enter. */
static const char * const namespace_flags[][2] = {
  { "mount", "--mount" }, { "uts", "--uts" }, { "ipc", "--ipc" }, { "net", "--net" },
  { "pid", "--pid" }, { "cgroup", "--cgroup" }, { "user", "--user" }, { "time", "--time" },
};

static const char *
namespace_flag (const char *name)
{
  for (guint i = 0; i < G_N_ELEMENTS (namespace_flags); i++)
    if (g_str_equal (namespace_flags[i][0], name))
      return namespace_flags[i][1];
  return NULL;
}

static gboolean
build_setns (GVariant   *options,
             GPtrArray  *argv,
             GError    **error)
{
  g_autofree const char **namespaces = NULL;
  const char *program = "nsenter";
  guint32 pid = 0;

  if (!get_string (options, "setns", "nsenter_path", FALSE, &program, error) ||
      !_mitogen_become_option_strv (options, "setns", "namespaces", &namespaces, error))
    return FALSE;
  if (options == NULL || !g_variant_lookup (options, "pid", "u", &pid) || pid == 0)
    {
      g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_FAILED,
                   "setns: the “pid” option is required (setns:PID on the command line): "
                   "a process whose namespaces to enter");
      return FALSE;
    }
  add (argv, program);
  add (argv, "--target");
  g_ptr_array_add (argv, g_strdup_printf ("%u", pid));
  if (namespaces == NULL)
    add (argv, "--all");
  for (guint i = 0; namespaces != NULL && namespaces[i] != NULL; i++)
    {
      const char *flag = namespace_flag (namespaces[i]);

      if (flag == NULL)
        {
          g_set_error (error, MITOGEN_ERROR, MITOGEN_ERROR_FAILED,
                       "setns: unknown namespace “%s” (mount, uts, ipc, net, pid, cgroup, "
                       "user or time)", namespaces[i]);
          return FALSE;
        }
      add (argv, flag);
    }
  /* The root and working directory of the target, as a shell in it has. */
  add (argv, "--root");
  add (argv, "--wd");
  add (argv, "--");
  return TRUE;
}

/* ---- the transports ------------------------------------------------- */

static GIOStream *
container_open_stream (const ContainerKind  *kind,
                       GVariant             *options,
                       const char           *agent_path,
                       GCancellable         *cancellable,
                       GError              **error)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func (g_free);
  g_auto(MitogenBecomeAgent) agent = { { 0, }, };
  MitogenBecomeSpec spec = { 0, };

  if (!_mitogen_become_option_timeout (options, kind->name, &spec.timeout_msec, error) ||
      !kind->build_argv (options, argv, error) ||
      /* Another root: the agent's path here names nothing there. */
      !_mitogen_become_agent_prepare (kind->name, agent_path, FALSE, &agent, error))
    return NULL;
  add (argv, "/bin/sh");
  add (argv, "-c");
  add (argv, agent.script);
  g_ptr_array_add (argv, NULL);

  spec.program = kind->name;
  spec.argv = (const char * const *) argv->pdata;
  spec.rules.program = kind->name;
  spec.first_stage = &agent.stage;
  return _mitogen_become_spawn (&spec, cancellable, error);
}

static const MitogenTransportOption docker_options[] = {
  { "container", "s", "the running container to start the context in (docker:NAME)" },
  { "username", "s", "the user to run the agent as (docker exec -u)" },
  { "docker_path", "s", "the docker program (default docker)" },
  { NULL }
};

static const MitogenTransportOption podman_options[] = {
  { "container", "s", "the running container to start the context in (podman:NAME)" },
  { "username", "s", "the user to run the agent as (podman exec -u)" },
  { "podman_path", "s", "the podman program (default podman)" },
  { NULL }
};

static const MitogenTransportOption buildah_options[] = {
  { "container", "s", "the working container to start the context in (buildah:NAME)" },
  { "username", "s", "the user to run the agent as (buildah run --user)" },
  { "buildah_path", "s", "the buildah program (default buildah)" },
  { NULL }
};

static const MitogenTransportOption kubectl_options[] = {
  { "pod", "s", "the pod to start the context in (kubectl:POD)" },
  { "kube_container", "s", "the container in the pod (kubectl exec --container)" },
  { "namespace", "s", "the pod's namespace" },
  { "kubeconfig", "s", "the kubeconfig file to use" },
  { "kubectl_path", "s", "the kubectl program (default kubectl)" },
  { NULL }
};

static const MitogenTransportOption lxc_options[] = {
  { "container", "s", "the running container to start the context in (lxc:NAME)" },
  { "lxc_attach_path", "s", "the lxc-attach program (default lxc-attach)" },
  { NULL }
};

static const MitogenTransportOption lxd_options[] = {
  { "container", "s", "the running instance to start the context in (lxd:NAME)" },
  { "lxc_path", "s", "LXD's lxc program (default lxc)" },
  { NULL }
};

static const MitogenTransportOption chroot_options[] = {
  { "path", "s", "the directory to make the root (chroot:PATH)" },
  { "userspec", "s", "USER[:GROUP] to run the agent as (chroot --userspec)" },
  { "chroot_path", "s", "the chroot program (default chroot)" },
  { NULL }
};

static const MitogenTransportOption setns_options[] = {
  { "pid", "u", "a process whose namespaces to enter (setns:PID)" },
  { "namespaces", "as", "which of them (mount, uts, ipc, net, pid, cgroup, user, time; default all)" },
  { "nsenter_path", "s", "the nsenter program (default nsenter)" },
  { NULL }
};

/* One GType per transport, as the registry names them: each is the
 * table row below and two small functions. */
#define DEFINE_CONTAINER_TRANSPORT(Name, name, NAME)                                   \
  static const ContainerKind name##_kind = { #name, name##_options, build_##name };      \
  G_DECLARE_FINAL_TYPE (MitogenTransport##Name, mitogen_transport_##name,              \
                        MITOGEN, TRANSPORT_##NAME, GObject)                             \
  struct _MitogenTransport##Name { GObject parent_instance; };                         \
  static GIOStream *                                                                   \
  mitogen_transport_##name##_open_stream (MitogenTransport *transport,                 \
                                          GVariant *options, const char *agent_path,   \
                                          GCancellable *cancellable, GError **error)   \
  {                                                                                    \
    return container_open_stream (&name##_kind, options, agent_path, cancellable, error); \
  }                                                                                    \
  static const MitogenTransportOption *                                                \
  mitogen_transport_##name##_get_options (MitogenTransport *transport)                 \
  {                                                                                    \
    return name##_options;                                                             \
  }                                                                                    \
  static gboolean                                                                      \
  mitogen_transport_##name##_crosses_host (MitogenTransport *transport)                \
  {                                                                                    \
    return TRUE;  /* another root: this machine's paths mean nothing there */          \
  }                                                                                    \
  static void                                                                          \
  mitogen_transport_##name##_iface_init (MitogenTransportInterface *iface)             \
  {                                                                                    \
    iface->open_stream = mitogen_transport_##name##_open_stream;                       \
    iface->get_options = mitogen_transport_##name##_get_options;                       \
    iface->crosses_host = mitogen_transport_##name##_crosses_host;                     \
  }                                                                                    \
  G_DEFINE_FINAL_TYPE_WITH_CODE (MitogenTransport##Name, mitogen_transport_##name,     \
                                 G_TYPE_OBJECT,                                        \
                                 G_IMPLEMENT_INTERFACE (MITOGEN_TYPE_TRANSPORT,        \
                                   mitogen_transport_##name##_iface_init))             \
  static void mitogen_transport_##name##_class_init (MitogenTransport##Name##Class *k) {} \
  static void mitogen_transport_##name##_init (MitogenTransport##Name *self) {}

DEFINE_CONTAINER_TRANSPORT (Docker, docker, DOCKER)
DEFINE_CONTAINER_TRANSPORT (Podman, podman, PODMAN)
DEFINE_CONTAINER_TRANSPORT (Buildah, buildah, BUILDAH)
DEFINE_CONTAINER_TRANSPORT (Kubectl, kubectl, KUBECTL)
DEFINE_CONTAINER_TRANSPORT (Lxc, lxc, LXC)
DEFINE_CONTAINER_TRANSPORT (Lxd, lxd, LXD)
DEFINE_CONTAINER_TRANSPORT (Chroot, chroot, CHROOT)
DEFINE_CONTAINER_TRANSPORT (Setns, setns, SETNS)

static void
register_types (void)
{
  mitogen_register_transport (mitogen_transport_docker_get_type (), "docker", 0);
  mitogen_register_transport (mitogen_transport_podman_get_type (), "podman", 0);
  mitogen_register_transport (mitogen_transport_buildah_get_type (), "buildah", 0);
  mitogen_register_transport (mitogen_transport_kubectl_get_type (), "kubectl", 0);
  mitogen_register_transport (mitogen_transport_lxc_get_type (), "lxc", 0);
  mitogen_register_transport (mitogen_transport_lxd_get_type (), "lxd", 0);
  mitogen_register_transport (mitogen_transport_chroot_get_type (), "chroot", 0);
  mitogen_register_transport (mitogen_transport_setns_get_type (), "setns", 0);
}

MITOGEN_DEFINE_PLUGIN (register_types)
