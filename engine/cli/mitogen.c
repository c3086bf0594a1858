/* mitogen.c: the `mitogen` command-line tool.
 *
 *   mitogen run TARGET -- CMD [ARG...]    run a command in a fresh context
 *   mitogen call TARGET FUNCTION [ARG...] call a function, print the result
 *   mitogen list-transports | list-serializers
 *
 * A TARGET is TRANSPORT[:ARG], chained with '/': "local", "sudo:postgres",
 * "ssh:user@host:port", "ssh:web1/sudo:postgres". Options for every hop
 * come with -o KEY=VALUE (VALUE is GVariant text, or a plain string).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <mitogen/mitogen.h>

static char **opt_options;
static char *opt_agent;
static double opt_timeout;
static gboolean opt_debug;
static gboolean opt_verbose;
static gboolean opt_version;

static const GOptionEntry common_entries[] = {
  { "option", 'o', 0, G_OPTION_ARG_STRING_ARRAY, &opt_options,
    "Transport option for every hop (repeatable); VALUE is GVariant text or a string", "KEY=VALUE" },
  { "agent", 0, 0, G_OPTION_ARG_FILENAME, &opt_agent, "Agent program to start", "PATH" },
  { "timeout", 0, 0, G_OPTION_ARG_DOUBLE, &opt_timeout, "Seconds to wait for each context to start (default 30)", "SECONDS" },
  { "debug", 0, 0, G_OPTION_ARG_NONE, &opt_debug, "Forward the contexts' debug log", NULL },
  { "verbose", 'v', 0, G_OPTION_ARG_NONE, &opt_verbose, "Show debug messages", NULL },
  { NULL }
};

static void
fail (const char *format, ...) G_GNUC_PRINTF (1, 2) G_GNUC_NORETURN;

static void
fail (const char *format,
      ...)
{
  va_list args;

  va_start (args, format);
  fprintf (stderr, "mitogen: ");
  vfprintf (stderr, format, args);
  fprintf (stderr, "\n");
  va_end (args);
  exit (1);
}

/* Text to a value: GVariant text if it parses, otherwise a string. */
static GVariant *
parse_value (const char *text)
{
  GVariant *v = g_variant_parse (NULL, text, NULL, NULL, NULL);

  return v != NULL ? v : g_variant_new_string (text);
}

/* "user@host:port" → username, hostname, port. */
static void
parse_ssh_arg (GVariantDict *dict,
               const char   *arg)
{
  g_autofree char *copy = g_strdup (arg);
  char *host = copy;
  char *at = strrchr (copy, '@');
  char *colon;

  if (at != NULL)
    {
      *at = '\0';
      if (*copy == '\0')
        fail ("empty user name in ssh target “%s”", arg);
      g_variant_dict_insert (dict, "username", "s", copy);
      host = at + 1;
    }
  colon = strrchr (host, ':');
  if (colon != NULL && strchr (host, ']') == NULL)
    {
      char *end = NULL;
      guint64 port;

      *colon = '\0';
      port = g_ascii_strtoull (colon + 1, &end, 10);
      if (end == colon + 1 || *end != '\0' || port == 0 || port > 65535)
        fail ("bad port “%s” in ssh target “%s”", colon + 1, arg);
      g_variant_dict_insert (dict, "port", "u", (guint32) port);
    }
  if (*host == '\0')
    fail ("no host in ssh target “%s”", arg);
  g_variant_dict_insert (dict, "hostname", "s", host);
}

typedef struct
{
  char     *transport;
  GVariant *options;   /* a{sv} */
} Hop;

static void
hop_clear (gpointer data)
{
  Hop *hop = data;

  g_free (hop->transport);
  g_clear_pointer (&hop->options, g_variant_unref);
}

/* Parses "TRANSPORT[:ARG][/TRANSPORT[:ARG]...]" plus the -o options. */
static GArray *
parse_target (const char *target)
{
  g_auto(GStrv) parts = g_strsplit (target, "/", -1);
  GArray *hops = g_array_new (FALSE, TRUE, sizeof (Hop));

  g_array_set_clear_func (hops, hop_clear);
  for (guint i = 0; parts[i] != NULL; i++)
    {
      const char *part = parts[i];
      const char *colon = strchr (part, ':');
      g_autofree char *transport = colon ? g_strndup (part, colon - part) : g_strdup (part);
      const char *arg = colon ? colon + 1 : NULL;
      GVariantDict dict;
      Hop hop;

      if (*transport == '\0' || !g_regex_match_simple ("^[a-z][a-z0-9_-]*$", transport, 0, 0))
        fail ("bad target “%s”: expected TRANSPORT[:ARG], such as local, sudo:postgres "
              "or ssh:user@host:port", part);
      g_variant_dict_init (&dict, NULL);
      if (arg != NULL && *arg == '\0')
        fail ("bad target “%s”: empty argument after ':'", part);
      if (arg != NULL && g_str_equal (transport, "ssh"))
        parse_ssh_arg (&dict, arg);
      else if (arg != NULL && (g_str_equal (transport, "sudo") || g_str_equal (transport, "su") ||
                               g_str_equal (transport, "doas")))
        g_variant_dict_insert (&dict, "username", "s", arg);
      else if (arg != NULL)
        g_variant_dict_insert (&dict, "name", "s", arg);

      for (guint j = 0; opt_options != NULL && opt_options[j] != NULL; j++)
        {
          const char *eq = strchr (opt_options[j], '=');
          g_autofree char *key = NULL;

          if (eq == NULL || eq == opt_options[j])
            fail ("bad option “%s”: expected KEY=VALUE", opt_options[j]);
          key = g_strndup (opt_options[j], eq - opt_options[j]);
          g_variant_dict_insert_value (&dict, key, parse_value (eq + 1));
        }
      if (opt_agent != NULL && i == 0)
        g_variant_dict_insert (&dict, "agent_path", "s", opt_agent);
      if (opt_timeout > 0)
        g_variant_dict_insert (&dict, "connect_timeout", "d", opt_timeout);
      if (opt_debug)
        g_variant_dict_insert (&dict, "debug", "b", TRUE);

      hop.transport = g_steal_pointer (&transport);
      hop.options = g_variant_ref_sink (g_variant_dict_end (&dict));
      g_array_append_val (hops, hop);
    }
  return hops;
}

/* A build tree runs without installing: find the agent and plugins next to
 * this program (build/engine/cli/mitogen → build/engine/agent, build/plugins). */
static void
locate_build_tree (void)
{
  g_autofree char *exe = g_file_read_link ("/proc/self/exe", NULL);
  g_autofree char *dir = exe ? g_path_get_dirname (exe) : NULL;
  g_autofree char *agent = NULL;
  g_autofree char *plugins = NULL;

  if (dir == NULL)
    return;
  agent = g_canonicalize_filename ("../agent/mitogen-agent", dir);
  plugins = g_canonicalize_filename ("../../plugins", dir);
  if (g_getenv ("MITOGEN_AGENT_PATH") == NULL && g_file_test (agent, G_FILE_TEST_IS_EXECUTABLE))
    g_setenv ("MITOGEN_AGENT_PATH", agent, TRUE);
  if (g_getenv ("MITOGEN_PLUGIN_PATH") == NULL && g_file_test (plugins, G_FILE_TEST_IS_DIR))
    {
      g_autoptr(GDir) d = g_dir_open (plugins, 0, NULL);
      g_autoptr(GPtrArray) dirs = g_ptr_array_new_with_free_func (g_free);
      const char *name;

      while (d != NULL && (name = g_dir_read_name (d)) != NULL)
        {
          g_autofree char *sub = g_build_filename (plugins, name, NULL);
          if (g_file_test (sub, G_FILE_TEST_IS_DIR))
            g_ptr_array_add (dirs, g_steal_pointer (&sub));
        }
      g_ptr_array_add (dirs, NULL);
      if (dirs->len > 1)
        {
          g_autofree char *path = g_strjoinv (":", (char **) dirs->pdata);
          g_setenv ("MITOGEN_PLUGIN_PATH", path, TRUE);
        }
    }
}

static MitogenContext *
connect_chain (MitogenRouter *router,
               const char    *target)
{
  g_autoptr(GArray) hops = parse_target (target);
  MitogenContext *via = NULL;

  for (guint i = 0; i < hops->len; i++)
    {
      Hop *hop = &g_array_index (hops, Hop, i);
      g_autoptr(GError) error = NULL;
      MitogenContext *ctx = mitogen_router_connect (router, hop->transport, hop->options,
                                                    via, NULL, &error);

      if (ctx == NULL)
        fail ("%s", error->message);
      g_clear_object (&via);
      via = ctx;
    }
  return via;
}

static GOptionContext *
new_option_context (const char *parameters,
                    const char *summary)
{
  GOptionContext *context = g_option_context_new (parameters);

  g_option_context_set_summary (context, summary);
  g_option_context_add_main_entries (context, common_entries, NULL);
  return context;
}

static void
parse_options (GOptionContext *context,
               int            *argc,
               char         ***argv)
{
  g_autoptr(GError) error = NULL;

  if (!g_option_context_parse (context, argc, argv, &error))
    fail ("%s (see --help)", error->message);
  if (opt_verbose)
    g_setenv ("G_MESSAGES_DEBUG", "all", TRUE);
}

static void
write_all (int           fd,
           GVariant     *bytes)
{
  gsize len;
  const guint8 *p = g_variant_get_fixed_array (bytes, &len, 1);

  while (len > 0)
    {
      ssize_t n = write (fd, p, len);

      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return;
      p += n;
      len -= n;
    }
}

static GBytes *
read_stdin (void)
{
  g_autoptr(GByteArray) data = g_byte_array_new ();
  guint8 buf[65536];
  ssize_t n;

  while ((n = read (0, buf, sizeof buf)) != 0)
    {
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        fail ("reading standard input: %s", g_strerror (errno));
      g_byte_array_append (data, buf, n);
    }
  return g_byte_array_free_to_bytes (g_steal_pointer (&data));
}

static int
cmd_run (int    argc,
         char **argv)
{
  g_autoptr(GOptionContext) options = new_option_context ("TARGET -- COMMAND [ARG...]",
      "Run COMMAND in a fresh context at TARGET, passing standard input through when it\n"
      "is not a terminal, and exit with its status.");
  g_autoptr(MitogenRouter) router = NULL;
  g_autoptr(MitogenContext) ctx = NULL;
  g_autoptr(GVariant) result = NULL;
  g_autoptr(GVariant) out = NULL;
  g_autoptr(GVariant) err = NULL;
  g_autoptr(GError) error = NULL;
  GVariantDict run_options;
  int first_cmd, status;

  parse_options (options, &argc, &argv);
  if (argc < 3)
    fail ("run needs a TARGET and a COMMAND (see mitogen run --help)");
  first_cmd = g_str_equal (argv[2], "--") ? 3 : 2;
  if (first_cmd >= argc)
    fail ("run needs a COMMAND after the TARGET");

  g_variant_dict_init (&run_options, NULL);
  if (!isatty (0))
    {
      g_autoptr(GBytes) input = read_stdin ();
      g_variant_dict_insert_value (&run_options, "stdin",
                                   g_variant_new_from_bytes (G_VARIANT_TYPE_BYTESTRING, input, TRUE));
    }

  router = mitogen_router_new (NULL);
  ctx = connect_chain (router, argv[1]);
  result = mitogen_context_call (ctx, "proc.run",
                                 g_variant_new ("(^as@a{sv})", (const char * const *) argv + first_cmd,
                                                g_variant_dict_end (&run_options)),
                                 NULL, &error);
  if (result == NULL)
    fail ("%s", error->message);
  g_variant_get (result, "(i@ay@ay)", &status, &out, &err);
  write_all (1, out);
  write_all (2, err);
  mitogen_context_shutdown (ctx, TRUE);
  return status >= 0 ? status : 128 - status;
}

static int
cmd_call (int    argc,
          char **argv)
{
  g_autoptr(GOptionContext) options = new_option_context ("TARGET FUNCTION [ARG...]",
      "Call FUNCTION (\"module.name\") in a fresh context at TARGET and print its result.\n"
      "Each ARG is GVariant text (42, 'text', [1, 2], <'boxed'>) or else a plain string.");
  g_autoptr(MitogenRouter) router = NULL;
  g_autoptr(MitogenContext) ctx = NULL;
  g_autoptr(GVariant) result = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) args = g_ptr_array_new ();
  g_autofree char *text = NULL;

  parse_options (options, &argc, &argv);
  if (argc < 3)
    fail ("call needs a TARGET and a FUNCTION (see mitogen call --help)");
  for (int i = 3; i < argc; i++)
    g_ptr_array_add (args, parse_value (argv[i]));

  router = mitogen_router_new (NULL);
  ctx = connect_chain (router, argv[1]);
  result = mitogen_context_call (ctx, argv[2],
                                 args->len > 0 ? g_variant_new_tuple ((GVariant **) args->pdata, args->len)
                                               : NULL,
                                 NULL, &error);
  if (result == NULL)
    fail ("%s", error->message);
  text = g_variant_print (result, FALSE);
  printf ("%s\n", text);
  mitogen_context_shutdown (ctx, TRUE);
  return 0;
}

static int
cmd_list (char **(*list) (void))
{
  g_auto(GStrv) names = list ();

  for (guint i = 0; names[i] != NULL; i++)
    printf ("%s\n", names[i]);
  return 0;
}

static void
usage (FILE *out)
{
  fprintf (out,
           "Usage: mitogen COMMAND [OPTION...] ...\n\n"
           "Commands:\n"
           "  run TARGET -- CMD [ARG...]     run a command in a fresh context\n"
           "  call TARGET FUNCTION [ARG...]  call a function and print its result\n"
           "  list-transports                list the transports that can be used\n"
           "  list-serializers               list the serializers that can be used\n\n"
           "A TARGET is TRANSPORT[:ARG], hops joined with '/': local, sudo:postgres,\n"
           "ssh:user@host:port, ssh:web1/sudo:postgres. `mitogen COMMAND --help` for more.\n");
}

int
main (int    argc,
      char **argv)
{
  locate_build_tree ();

  if (argc < 2 || g_str_equal (argv[1], "--help") || g_str_equal (argv[1], "-h"))
    {
      usage (argc < 2 ? stderr : stdout);
      return argc < 2 ? 2 : 0;
    }
  if (g_str_equal (argv[1], "--version"))
    {
      printf ("mitogen %s\n", PACKAGE_VERSION);
      return 0;
    }
  (void) opt_version;
  if (g_str_equal (argv[1], "run"))
    return cmd_run (argc - 1, argv + 1);
  if (g_str_equal (argv[1], "call"))
    return cmd_call (argc - 1, argv + 1);
  if (g_str_equal (argv[1], "list-transports"))
    return cmd_list (mitogen_list_transports);
  if (g_str_equal (argv[1], "list-serializers"))
    return cmd_list (mitogen_list_serializers);
  fprintf (stderr, "mitogen: unknown command “%s”\n\n", argv[1]);
  usage (stderr);
  return 2;
}
