/* test-sudo.c: the sudo, su and doas transports.
 *
 * Four groups:
 *  - the prompt matcher on its own (always);
 *  - option checks and the conversation against stand-in programs written
 *    here (always): a sudo that prompts on its terminal, one that hangs;
 *  - the real sudo, root to nobody (when root and `sudo -n -u nobody true`
 *    works);
 *  - real sudo, su and doas with passwords (only with MITOGEN_TEST_SYSTEM=1,
 *    as root): two users and a sudoers file are created, each check runs
 *    in a subprocess as the first user, and everything is removed at the
 *    end even when a check failed.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef _GNU_SOURCE
# define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>
#include <glib/gstdio.h>

#include "mitogen-test-util.h"

/* The matcher is a pure function inside the plugin; test it directly. */
#include "../plugins/common/mitogen-prompt.c"

#define USER1 "mitogen-test1"
#define USER2 "mitogen-test2"
#define SUDOERS_FILE "/etc/sudoers.d/mitogen-test"
#define DOAS_CONF "/etc/doas.conf"
#define SKIP_SYSTEM "set MITOGEN_TEST_SYSTEM=1 to create users and sudoers rules"

/* ---- the prompt matcher ------------------------------------------------ */

static const char * const sudo_prompts[] = { "[mitogen-sudo-password]", NULL };
static const MitogenPromptRules sudo_rules = { "sudo", sudo_prompts, NULL };
static const MitogenPromptRules su_rules = { "su", NULL, NULL };
static const MitogenPromptRules doas_rules = { "doas", NULL, NULL };

static MitogenPromptState
match (const MitogenPromptRules  *rules,
       const char                *text,
       int                       *code,
       char                     **message)
{
  int unused_code;
  g_autofree char *unused_message = NULL;

  return _mitogen_prompt_match (rules, text, strlen (text),
                                code != NULL ? code : &unused_code,
                                message != NULL ? message : &unused_message);
}

static void
assert_prompt (const MitogenPromptRules *rules,
               const char               *text)
{
  g_autofree char *message = NULL;
  int code = -1;

  if (match (rules, text, &code, &message) != MITOGEN_PROMPT_PASSWORD)
    g_error ("not recognised as a prompt: “%s” (%s)", text, message ? message : "no message");
  g_assert_null (message);
}

static void
assert_more (const MitogenPromptRules *rules,
             const char               *text)
{
  g_autofree char *message = NULL;
  MitogenPromptState state = match (rules, text, NULL, &message);

  if (state != MITOGEN_PROMPT_MORE)
    g_error ("“%s” taken for state %d (%s)", text, state, message ? message : "no message");
}

static void
assert_failure (const MitogenPromptRules *rules,
                const char               *text,
                int                       expected_code,
                const char               *expected_message)
{
  g_autofree char *message = NULL;
  int code = -1;

  g_assert_cmpint (match (rules, text, &code, &message), ==, MITOGEN_PROMPT_FAILURE);
  g_assert_cmpint (code, ==, expected_code);
  g_assert_cmpstr (message, ==, expected_message);
}

static void
test_matcher_sudo_prompts (void)
{
  /* Our own -p string, whole and cut short. */
  assert_prompt (&sudo_rules, "[mitogen-sudo-password]");
  assert_more (&sudo_rules, "[mitogen-sudo-pass");
  assert_more (&sudo_rules, "");
  /* PAM's prompt shown instead of ours, sudo's default, sudo-rs. */
  assert_prompt (&sudo_rules, "[sudo] password for alice: ");
  assert_prompt (&sudo_rules, "Password: ");
  assert_prompt (&sudo_rules, "[sudo: authenticate] Password: ");
  assert_prompt (&sudo_rules, "Password for alice@EXAMPLE.ORG: ");
  /* After earlier lines: the lecture, or a wrong password. */
  assert_prompt (&sudo_rules, "We trust you have received the usual lecture\n\n"
                              "[sudo] password for alice: ");
  assert_prompt (&sudo_rules, "\r\nSorry, try again.\r\n[mitogen-sudo-password]");
  /* A line that merely mentions passwords is no prompt. */
  assert_more (&sudo_rules, "Your password will expire in 3 days\n");
  assert_more (&sudo_rules, "Your password will expire in 3 days");
  assert_more (&sudo_rules, "Password: \n");
}

static void
test_matcher_translated (void)
{
  assert_prompt (&sudo_rules, "[sudo] Passwort für alice: ");
  assert_prompt (&sudo_rules, "[sudo] Mot de passe de alice : ");
  assert_prompt (&sudo_rules, "[sudo] contraseña para alice: ");
  /* The same, with a combining tilde and in capitals. */
  assert_prompt (&sudo_rules, "[sudo] CONTRASEN\xcc\x83" "A PARA ALICE: ");
  assert_prompt (&sudo_rules, "[sudo] пароль для alice: ");
  assert_prompt (&sudo_rules, "Пароль: ");
  assert_prompt (&sudo_rules, "[sudo] senha para alice: ");
  assert_prompt (&sudo_rules, "[sudo] wachtwoord voor alice: ");
  assert_prompt (&sudo_rules, "[sudo] hasło użytkownika alice: ");
  assert_prompt (&sudo_rules, "[sudo] alice 的密码：");
  assert_prompt (&sudo_rules, "[sudo] alice のパスワード: ");
  assert_prompt (&su_rules, "Passwort: ");
  assert_prompt (&su_rules, "Mot de passe : ");
  /* Translated words without a colon are not a prompt. */
  assert_more (&su_rules, "Passwort geändert");
}

static void
test_matcher_feedback_and_noise (void)
{
  /* pwfeedback shows asterisks as keys are typed. */
  assert_prompt (&sudo_rules, "[sudo] password for alice: ****");
  assert_prompt (&sudo_rules, "[mitogen-sudo-password]********");
  assert_more (&sudo_rules, "********");
  assert_more (&sudo_rules, "********\r\n");
  /* doas starts its prompt with a carriage return. */
  assert_prompt (&doas_rules, "\rdoas (alice@host) password: ");
  /* Invalid UTF-8 before a prompt does not hide it. */
  assert_prompt (&su_rules, "\xff\xfe\n\xc3Password: ");
  /* A NUL in the middle does not end the text. */
  {
    static const char text[] = "junk\0junk\nPassword: ";
    int code;
    g_autofree char *message = NULL;

    g_assert_cmpint (_mitogen_prompt_match (&su_rules, text, sizeof text - 1, &code, &message),
                     ==, MITOGEN_PROMPT_PASSWORD);
  }
}

static void
test_matcher_refusals (void)
{
  assert_failure (&sudo_rules,
                  "sudo: unknown user nosuchuser\n"
                  "sudo: error initializing audit plugin sudoers_audit\n",
                  MITOGEN_ERROR_STREAM, "sudo refused: sudo: unknown user nosuchuser");
  assert_failure (&sudo_rules,
                  "[mitogen-sudo-password]\r\n"
                  "alice is not in the sudoers file.  This incident will be reported.\r\n",
                  MITOGEN_ERROR_AUTH,
                  "sudo refused: alice is not in the sudoers file.  This incident will be reported.");
  assert_failure (&sudo_rules, "Sorry, user alice may not run sudo on host.\n",
                  MITOGEN_ERROR_AUTH, "sudo refused: Sorry, user alice may not run sudo on host.");
  assert_failure (&sudo_rules,
                  "Sorry, user alice is not allowed to execute '/bin/agent' as bob on host.\n",
                  MITOGEN_ERROR_AUTH,
                  "sudo refused: Sorry, user alice is not allowed to execute '/bin/agent' as bob on host.");
  assert_failure (&sudo_rules, "sudo: a password is required\n", MITOGEN_ERROR_AUTH,
                  "sudo needs a password but none was given (sudo: a password is required)");
  assert_failure (&sudo_rules,
                  "sudo: a terminal is required to read the password; either use the -S "
                  "option to read from standard input or configure an askpass helper\n",
                  MITOGEN_ERROR_AUTH,
                  "sudo needs a password but none was given (sudo: a terminal is required to "
                  "read the password; either use the -S option to read from standard input or "
                  "configure an askpass helper)");
  assert_failure (&sudo_rules, "\r\nsudo: 3 incorrect password attempts\r\n", MITOGEN_ERROR_AUTH,
                  "sudo password incorrect (sudo: 3 incorrect password attempts)");
  assert_failure (&su_rules, "\r\nsu: Authentication failure\r\n", MITOGEN_ERROR_AUTH,
                  "su password incorrect (su: Authentication failure)");
  assert_failure (&su_rules,
                  "su: user bob does not exist or the user entry does not contain all the "
                  "required fields\n",
                  MITOGEN_ERROR_STREAM,
                  "su refused: su: user bob does not exist or the user entry does not contain "
                  "all the required fields");
  assert_failure (&doas_rules, "doas: Operation not permitted\n", MITOGEN_ERROR_AUTH,
                  "doas refused: doas: Operation not permitted");
  assert_failure (&doas_rules, "doas: Authentication failed\r\n", MITOGEN_ERROR_AUTH,
                  "doas password incorrect (doas: Authentication failed)");
  assert_failure (&doas_rules, "doas: Authentication required\n", MITOGEN_ERROR_AUTH,
                  "doas needs a password but none was given (doas: Authentication required)");
  /* Only complete lines: the rest of the message may still be coming. */
  assert_more (&sudo_rules, "sudo: unknown us");
  /* "Sorry, try again." alone decides nothing: the next prompt does. */
  assert_more (&sudo_rules, "Sorry, try again.\r\n");
}

static void
test_matcher_custom_rules (void)
{
  static const char * const prompts[] = { "Secret please", NULL };
  static const char * const incorrect[] = { "wrong secret", NULL };
  static const MitogenPromptRules rules = { "su", prompts, incorrect };

  /* A configured prompt needs no colon; configured failures are found
   * case-insensitively. */
  assert_prompt (&rules, "Secret please> ");
  assert_prompt (&rules, "Password: ");
  assert_failure (&rules, "WRONG SECRET!\n", MITOGEN_ERROR_AUTH, "su password incorrect (WRONG SECRET!)");
  assert_more (&su_rules, "Secret please> ");
}

static void
test_matcher_success (void)
{
  g_autofree char *text = g_strconcat ("motd\n", MITOGEN_AGENT_ANNOUNCE, NULL);

  g_assert_cmpint (match (&sudo_rules, MITOGEN_AGENT_ANNOUNCE, NULL, NULL), ==, MITOGEN_PROMPT_SUCCESS);
  g_assert_cmpint (match (&sudo_rules, text, NULL, NULL), ==, MITOGEN_PROMPT_SUCCESS);
  assert_more (&sudo_rules, "MITO00");
}

/* ---- helpers ----------------------------------------------------------- */

static GVariant *
options_new (const char *first_key,
             ...)
{
  GVariantDict dict;
  va_list ap;

  g_variant_dict_init (&dict, NULL);
  va_start (ap, first_key);
  for (const char *key = first_key; key != NULL; key = va_arg (ap, const char *))
    g_variant_dict_insert_value (&dict, key, va_arg (ap, GVariant *));
  va_end (ap);
  return g_variant_ref_sink (g_variant_dict_end (&dict));
}

static char *
remote_getenv (MitogenContext *ctx,
               const char     *name)
{
  g_autoptr(GVariant) v = mitogen_test_call_ok (ctx, "core.getenv", g_variant_new ("(s)", name));
  const char *s = NULL;

  g_variant_get (v, "m&s", &s);
  return g_strdup (s);
}

/* Runs @argv in @ctx; its standard output, which must be success's. */
static char *
remote_run (MitogenContext      *ctx,
            const char * const  *argv)
{
  g_autoptr(GVariant) v = mitogen_test_call_ok (ctx, "proc.run", g_variant_new ("(^as)", argv));
  g_autoptr(GVariant) out = NULL;
  gint32 status;
  gsize len;
  const char *p;

  g_variant_get_child (v, 0, "i", &status);
  g_assert_cmpint (status, ==, 0);
  out = g_variant_get_child_value (v, 1);
  p = g_variant_get_fixed_array (out, &len, 1);
  return g_strndup (p, len);
}

static guint32
context_uid (MitogenContext *ctx)
{
  guint32 uid = G_MAXUINT32;

  g_assert_true (g_variant_lookup (mitogen_context_get_remote_info (ctx), "uid", "u", &uid));
  return uid;
}

static guint32
uid_of (const char *name)
{
  struct passwd *pw = getpwnam (name);

  g_assert_nonnull (pw);
  return pw->pw_uid;
}

/* The context runs as @user, by its ready frame and by its own account. */
static void
assert_runs_as (MitogenContext *ctx,
                const char     *user)
{
  g_autofree char *id = remote_run (ctx, (const char *[]) { "id", "-u", NULL });
  g_autofree char *expected_id = g_strdup_printf ("%u\n", uid_of (user));
  g_autofree char *env_user = remote_getenv (ctx, "USER");

  g_assert_cmpuint (context_uid (ctx), ==, uid_of (user));
  g_assert_cmpstr (id, ==, expected_id);
  g_assert_cmpstr (env_user, ==, user);
}

static GError *
connect_fails (MitogenRouter *router,
               const char    *transport,
               GVariant      *options,
               MitogenContext *via)
{
  GError *error = NULL;
  g_autoptr(MitogenContext) ctx = mitogen_router_connect_context (router, transport, options, via,
                                                          NULL, &error);

  g_assert_null (ctx);
  g_assert_nonnull (error);
  /* Subprocesses run quietly; their stderr shows in the log. */
  if (g_test_subprocess ())
    g_printerr ("# %s refused: %s\n", transport, error->message);
  else
    g_test_message ("%s refused: %s", transport, error->message);
  return error;
}

static gboolean
command_succeeds (const char * const *argv)
{
  int status = -1;

  if (!g_spawn_sync (NULL, (char **) argv, NULL,
                     G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL | G_SPAWN_STDERR_TO_DEV_NULL,
                     NULL, NULL, NULL, NULL, &status, NULL))
    return FALSE;
  return g_spawn_check_wait_status (status, NULL);
}

/* ---- options ----------------------------------------------------------- */

static void
test_options_refused (MitogenTestFixture *fixture,
                      gconstpointer       data)
{
  static const struct
  {
    const char *args[3];
    const char *expected;  /* in the message */
  } cases[] = {
    { { "-S", NULL }, "standard input" },
    { { "--stdin", NULL }, "standard input" },
    { { "-b", NULL }, "background" },
    { { "-EHb", NULL }, "background" },
    { { "-A", NULL }, "helper" },
    { { "--prompt=x", NULL }, "prompt" },
    { { "-u", "bob", NULL }, "username" },
    { { "--user=bob", NULL }, "username" },
    { { "-l", NULL }, "instead of running a command" },
    { { "--", NULL }, "the agent is the command" },
    { { "id", NULL }, "not an option" },
    { { "--frobnicate", NULL }, "not a sudo option" },
    { { "-g", NULL }, "needs a value" },
    { { "--set-home=yes", NULL }, "not a sudo option" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GVariant) options =
        options_new ("sudo_args", g_variant_new_strv (cases[i].args, -1), NULL);
      g_autoptr(GError) error = connect_fails (fixture->router, "sudo", options, NULL);

      g_assert_error (error, MITOGEN_ERROR, MITOGEN_ERROR_FAILED);
      if (strstr (error->message, cases[i].expected) == NULL)
        g_error ("“%s”: %s lacks “%s”", cases[i].args[0], error->message, cases[i].expected);
    }

  /* A user name that would pass for an option, and an option of the
   * wrong type. */
  {
    g_autoptr(GVariant) options = options_new ("username", g_variant_new_string ("-s"), NULL);
    g_autoptr(GError) error = connect_fails (fixture->router, "sudo", options, NULL);

    g_assert_error (error, MITOGEN_ERROR, MITOGEN_ERROR_FAILED);
  }
  {
    g_autoptr(GVariant) options = options_new ("login", g_variant_new_string ("yes"), NULL);
    g_autoptr(GError) error = connect_fails (fixture->router, "sudo", options, NULL);

    g_assert_error (error, MITOGEN_ERROR, MITOGEN_ERROR_FAILED);
    g_assert_nonnull (strstr (error->message, "“login”"));
  }
}

static void
test_options_accepted (MitogenTestFixture *fixture,
                       gconstpointer       data)
{
  static const char *args[] = { "-EH", "--chdir=/", "-g", "root", "-Droot",
                                "--preserve-env=PATH,HOME", "-k", "--close-from", "5", NULL };
  g_autoptr(GVariant) options =
    options_new ("sudo_args", g_variant_new_strv (args, -1),
                 "sudo_path", g_variant_new_string ("/nonexistent/sudo"), NULL);
  g_autoptr(GError) error = connect_fails (fixture->router, "sudo", options, NULL);

  /* Past the checks, to a program that does not exist. */
  g_assert_error (error, MITOGEN_ERROR, MITOGEN_ERROR_STREAM);
  g_assert_nonnull (strstr (error->message, "/nonexistent/sudo"));
}

/* ---- stand-in programs ------------------------------------------------- */

typedef struct
{
  MitogenTestFixture base;
  char *dir;
} FakeFixture;

/* A sudo that asks on its terminal, the way sudo does (prompt, then echo
 * off, like PAM's conversation), takes "letmein", and records its pid. */
static const char fake_sudo_script[] =
  "#!/bin/sh\n"
  "echo $$ > \"$(dirname \"$0\")/pid\"\n"
  "for arg; do [ \"$arg\" = -n ] && { echo 'sudo: a password is required' >&2; exit 1; }; done\n"
  "while [ \"$1\" != -- ]; do shift; done; shift\n"
  "while :; do\n"
  "  printf '[mitogen-sudo-password]' > /dev/tty\n"
  "  stty -echo < /dev/tty\n"
  "  read -r pw < /dev/tty || exit 1\n"
  "  stty echo < /dev/tty\n"
  "  echo > /dev/tty\n"
  "  [ \"$pw\" = \"$(cat \"$(dirname \"$0\")/expected\" 2>/dev/null || echo letmein)\" ] &&\n"
  "    exec \"$@\"\n"
  "  echo 'Sorry, try again.' > /dev/tty\n"
  "done\n";

/* A sudo that takes a second to start, then runs its command as is. */
static const char slow_script[] =
  "#!/bin/sh\n"
  "sleep 1\n"
  "while [ \"$1\" != -- ]; do shift; done; shift\n"
  "exec \"$@\"\n";

/* A sudo that never answers. */
static const char hang_script[] =
  "#!/bin/sh\n"
  "echo $$ > \"$(dirname \"$0\")/pid\"\n"
  "exec sleep 60\n";

static void
write_script (const char *path,
              const char *text)
{
  g_autoptr(GError) error = NULL;

  g_file_set_contents (path, text, -1, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_chmod (path, 0755), ==, 0);
}

static void
fake_setup (FakeFixture   *fixture,
            gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *sudo = NULL;
  g_autofree char *hang = NULL;

  fixture->dir = g_dir_make_tmp ("mitogen-test-sudo-XXXXXX", &error);
  g_assert_no_error (error);
  sudo = g_build_filename (fixture->dir, "fake-sudo", NULL);
  hang = g_build_filename (fixture->dir, "hang", NULL);
  write_script (sudo, fake_sudo_script);
  write_script (hang, hang_script);
  {
    g_autofree char *slow = g_build_filename (fixture->dir, "slow", NULL);

    write_script (slow, slow_script);
  }
  mitogen_test_fixture_setup (&fixture->base, data);
}

static void
fake_teardown (FakeFixture   *fixture,
               gconstpointer  data)
{
  g_autofree char *sudo = g_build_filename (fixture->dir, "fake-sudo", NULL);
  g_autofree char *hang = g_build_filename (fixture->dir, "hang", NULL);
  g_autofree char *pid = g_build_filename (fixture->dir, "pid", NULL);
  g_autofree char *expected = g_build_filename (fixture->dir, "expected", NULL);
  g_autofree char *slow = g_build_filename (fixture->dir, "slow", NULL);

  mitogen_test_fixture_teardown (&fixture->base, data);
  g_unlink (slow);
  g_unlink (sudo);
  g_unlink (hang);
  g_unlink (pid);
  g_unlink (expected);
  g_rmdir (fixture->dir);
  g_free (fixture->dir);
}

static int
fake_pid (FakeFixture *fixture)
{
  g_autofree char *path = g_build_filename (fixture->dir, "pid", NULL);
  g_autofree char *contents = NULL;

  g_assert_true (g_file_get_contents (path, &contents, NULL, NULL));
  return atoi (contents);
}

static GVariant *
fake_options (FakeFixture *fixture,
              const char  *program,
              const char  *password,
              double       timeout)
{
  g_autofree char *path = g_build_filename (fixture->dir, program, NULL);
  GVariantDict dict;

  g_variant_dict_init (&dict, NULL);
  g_variant_dict_insert (&dict, "sudo_path", "s", path);
  if (password != NULL)
    g_variant_dict_insert (&dict, "password", "s", password);
  g_variant_dict_insert (&dict, "connect_timeout", "d", timeout);
  return g_variant_ref_sink (g_variant_dict_end (&dict));
}

static void
on_connected_via (GObject      *source,
                  GAsyncResult *result,
                  gpointer      data)
{
  GPtrArray *done = data;
  g_autoptr(GError) error = NULL;
  MitogenContext *ctx = mitogen_router_connect_context_finish (MITOGEN_ROUTER (source), result,
                                                               &error);

  g_assert_no_error (error);
  g_ptr_array_add (done, ctx);
}

/* A context starts the children its parent asks for at once, not one
 * after another: four sudo hops that each take a second to start, all
 * through one local context, take about a second, not four (a gateway
 * of `mitogen run --fanout-via` starts its hosts this way). */
static void
test_fake_parallel_via (FakeFixture   *fixture,
                        gconstpointer  data)
{
  MitogenRouter *router = fixture->base.router;
  g_autoptr(MitogenContext) gateway = mitogen_test_local (router);
  g_autoptr(GPtrArray) done = g_ptr_array_new_with_free_func (g_object_unref);
  gint64 start = g_get_monotonic_time ();
  double seconds;

  for (int i = 0; i < 4; i++)
    {
      g_autoptr(GVariant) options = fake_options (fixture, "slow", NULL, 30);

      mitogen_router_connect_context_async (router, "sudo", options, gateway, NULL,
                                            on_connected_via, done);
    }
  while (done->len < 4)
    g_main_context_iteration (NULL, TRUE);
  seconds = (g_get_monotonic_time () - start) / (double) G_USEC_PER_SEC;
  g_test_message ("4 slow connects through one context: %.2f s", seconds);
  g_assert_cmpfloat (seconds, <, 3.0);
  for (guint i = 0; i < done->len; i++)
    g_assert_true (mitogen_context_get_via (done->pdata[i]) == gateway);
}

static void
test_fake_password_right (FakeFixture   *fixture,
                          gconstpointer  data)
{
  g_autoptr(GVariant) options = fake_options (fixture, "fake-sudo", "letmein", 20);
  g_autoptr(MitogenContext) ctx = mitogen_test_connect_ok (fixture->base.router, "sudo", options, NULL);
  g_autoptr(GVariant) pong = mitogen_test_call_ok (ctx, "core.ping", NULL);
  g_autoptr(GVariant) pid = mitogen_test_call_ok (ctx, "core.getpid", NULL);

  /* The stand-in exec'd the agent, which now talks on the stream. */
  g_assert_cmpint (g_variant_get_int32 (pid), ==, fake_pid (fixture));
  g_assert_cmpint (mitogen_test_context_pid (ctx), ==, fake_pid (fixture));
}

/* ---- secrets do not linger ---------------------------------------------- */

/* The secret is kept masked, so that the scan never finds a copy of the
 * test's own: only copies the library made. */
#define SECRET_MASK 0x5a

typedef struct
{
  guint8 masked[32];
  gsize  len;
} MaskedSecret;

static gboolean
matches_secret (const guint8       *p,
                const MaskedSecret *secret)
{
  for (gsize k = 0; k < secret->len; k++)
    if (p[k] != (secret->masked[k] ^ SECRET_MASK))
      return FALSE;
  return TRUE;
}

/* How many copies of @secret process @pid's writable memory holds, read
 * through /proc/PID/mem (a child or ourselves: ptrace rules allow it). */
static guint
count_secret_in_memory (int                 pid,
                        const MaskedSecret *secret)
{
  g_autofree char *maps_path = g_strdup_printf ("/proc/%d/maps", pid);
  g_autofree char *mem_path = g_strdup_printf ("/proc/%d/mem", pid);
  g_autofree char *maps = NULL;
  g_auto(GStrv) lines = NULL;
  gsize chunk_size = 1 << 20;
  g_autofree guint8 *buf = g_malloc (chunk_size + secret->len);
  int fd = open (mem_path, O_RDONLY | O_CLOEXEC);
  guint found = 0;

  g_assert_cmpint (fd, >=, 0);
  g_assert_true (g_file_get_contents (maps_path, &maps, NULL, NULL));
  lines = g_strsplit (maps, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      guint64 start, end;
      char perms[5];

      if (sscanf (lines[i], "%" G_GINT64_MODIFIER "x-%" G_GINT64_MODIFIER "x %4s",
                  &start, &end, perms) != 3 ||
          perms[0] != 'r' || perms[1] != 'w' || strstr (lines[i], "[vvar") != NULL)
        continue;
      for (guint64 at = start; at < end; at += chunk_size)
        {
          gsize want = MIN (chunk_size + secret->len, end - at);
          ssize_t n = pread (fd, buf, want, at);

          for (ssize_t k = 0; k + (ssize_t) secret->len <= n; k++)
            if (k < (ssize_t) chunk_size && matches_secret (buf + k, secret))
              found++;
        }
    }
  explicit_bzero (buf, chunk_size + secret->len);
  close (fd);
  return found;
}

/* A fresh password, masked, and the stand-in sudo told to take it. */
static void
make_secret (FakeFixture  *fixture,
             MaskedSecret *secret)
{
  g_autofree char *path = g_build_filename (fixture->dir, "expected", NULL);
  g_autofree char *plain = g_strdup_printf ("Wp-%08x%08x", g_random_int (), g_random_int ());

  secret->len = strlen (plain);
  for (gsize k = 0; k < secret->len; k++)
    secret->masked[k] = plain[k] ^ SECRET_MASK;
  g_assert_true (g_file_set_contents (path, plain, -1, NULL));
  explicit_bzero (plain, secret->len);
}

/* Options for the stand-in with the password unmasked in them. */
static GVariant *
secret_options (FakeFixture        *fixture,
                const MaskedSecret *secret)
{
  g_autofree char *plain = g_malloc0 (secret->len + 1);
  GVariant *options;

  for (gsize k = 0; k < secret->len; k++)
    plain[k] = secret->masked[k] ^ SECRET_MASK;
  options = fake_options (fixture, "fake-sudo", plain, 20);
  explicit_bzero (plain, secret->len);
  return options;
}

/* Polls for the copies to go: the last ones are freed just after the
 * replies that told us the connect was over. */
static guint
wait_secret_gone (int                 pid,
                  const MaskedSecret *secret)
{
  guint found = 0;

  for (int i = 0; i < 50; i++)
    {
      found = count_secret_in_memory (pid, secret);
      if (found == 0)
        break;
      g_usleep (100 * 1000);
    }
  return found;
}

/* Whether reading our memory through /proc tells anything: not under
 * AddressSanitizer (terabytes of shadow mappings to read) nor valgrind
 * (whose allocator is not the one users have). */
static gboolean
memory_scan_works (void)
{
#if defined(__SANITIZE_ADDRESS__)
  return FALSE;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
  return FALSE;
#endif
#endif
  return strstr (g_getenv ("LD_PRELOAD") ? g_getenv ("LD_PRELOAD") : "", "vgpreload") == NULL;
}

/* A password sent through an agent to a sudo hop is used, and then no
 * copy of it is left in the master or in the agent that ran sudo. */
static void
test_fake_password_wiped (FakeFixture   *fixture,
                          gconstpointer  data)
{
  g_autoptr(MitogenContext) via = mitogen_test_local (fixture->base.router);
  g_autoptr(MitogenContext) ctx = NULL;
  g_autoptr(GVariant) options = NULL;
  g_autoptr(GVariant) pid = NULL;
  MaskedSecret secret;

  if (!memory_scan_works ())
    {
      g_test_skip ("memory scans need the plain build's malloc (not ASan or valgrind)");
      return;
    }
  make_secret (fixture, &secret);
  options = secret_options (fixture, &secret);
  /* The scan finds the caller's own copy: it can see one. */
  g_assert_cmpuint (count_secret_in_memory (getpid (), &secret), >=, 1);

  ctx = mitogen_test_connect_ok (fixture->base.router, "sudo", options, via);
  pid = mitogen_test_call_ok (ctx, "core.getpid", NULL);
  g_assert_cmpint (g_variant_get_int32 (pid), ==, fake_pid (fixture));

  /* The caller wipes its own copy; the library must have left none. */
  mitogen_transport_options_wipe_secrets (options);
  g_assert_cmpuint (wait_secret_gone (getpid (), &secret), ==, 0);
  g_assert_cmpuint (wait_secret_gone (mitogen_test_context_pid (via), &secret), ==, 0);
  explicit_bzero (&secret, sizeof secret);
}

static void
test_fake_password_wrong (FakeFixture   *fixture,
                          gconstpointer  data)
{
  g_autoptr(GVariant) options = fake_options (fixture, "fake-sudo", "hunter22", 20);
  gint64 start = g_get_monotonic_time ();
  g_autoptr(GError) error = connect_fails (fixture->base.router, "sudo", options, NULL);

  g_assert_error (error, MITOGEN_ERROR, MITOGEN_ERROR_AUTH);
  g_assert_cmpstr (error->message, ==, "sudo password incorrect");
  g_assert_null (strstr (error->message, "hunter22"));
  /* Refused at the second prompt, not at the timeout; and killed. */
  g_assert_cmpint (g_get_monotonic_time () - start, <, 10 * G_USEC_PER_SEC);
  g_assert_true (mitogen_test_wait_pid_gone (fake_pid (fixture), 5000));
}

static void
test_fake_password_missing (FakeFixture   *fixture,
                            gconstpointer  data)
{
  g_autoptr(GVariant) options = fake_options (fixture, "fake-sudo", NULL, 20);
  g_autoptr(GError) error = connect_fails (fixture->base.router, "sudo", options, NULL);

  g_assert_error (error, MITOGEN_ERROR, MITOGEN_ERROR_AUTH);
  g_assert_nonnull (strstr (error->message, "needs a password but none was given"));
  g_assert_nonnull (strstr (error->message, "sudo: a password is required"));
}

static void
test_fake_timeout (FakeFixture   *fixture,
                   gconstpointer  data)
{
  g_autoptr(GVariant) options = fake_options (fixture, "hang", "letmein", 0.5);
  gint64 start = g_get_monotonic_time ();
  g_autoptr(GError) error = connect_fails (fixture->base.router, "sudo", options, NULL);
  gint64 elapsed = g_get_monotonic_time () - start;

  g_assert_error (error, MITOGEN_ERROR, MITOGEN_ERROR_TIMEOUT);
  g_assert_null (strstr (error->message, "letmein"));
  g_assert_cmpint (elapsed, >=, 400 * 1000);
  g_assert_cmpint (elapsed, <, 5 * G_USEC_PER_SEC);
  g_assert_true (mitogen_test_wait_pid_gone (fake_pid (fixture), 5000));
}

static gpointer
cancel_later (gpointer data)
{
  g_usleep (300 * 1000);
  g_cancellable_cancel (data);
  return NULL;
}

static void
test_fake_cancelled (FakeFixture   *fixture,
                     gconstpointer  data)
{
  g_autoptr(GVariant) options = fake_options (fixture, "hang", NULL, 30);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(MitogenContext) ctx = NULL;
  GThread *thread;
  gint64 start = g_get_monotonic_time ();

  /* Cancel from another thread while connect blocks in this one. */
  thread = g_thread_new ("canceller", cancel_later, cancellable);
  ctx = mitogen_router_connect_context (fixture->base.router, "sudo", options, NULL, cancellable, &error);
  g_thread_join (thread);
  g_assert_null (ctx);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_cmpint (g_get_monotonic_time () - start, <, 10 * G_USEC_PER_SEC);
  g_assert_true (mitogen_test_wait_pid_gone (fake_pid (fixture), 5000));
}

static void
test_fake_missing_program (MitogenTestFixture *fixture,
                           gconstpointer       data)
{
  const char *transports[] = { "sudo", "su", "doas" };

  for (gsize i = 0; i < G_N_ELEMENTS (transports); i++)
    {
      g_autofree char *key = g_strdup_printf ("%s_path", transports[i]);
      g_autoptr(GVariant) options =
        options_new (key, g_variant_new_string ("/nonexistent/program"), NULL);
      g_autoptr(GError) error = connect_fails (fixture->router, transports[i], options, NULL);

      g_assert_error (error, MITOGEN_ERROR, MITOGEN_ERROR_STREAM);
      g_assert_nonnull (strstr (error->message, "/nonexistent/program"));
    }
}

/* ---- the real sudo, root to nobody ------------------------------------- */

static gboolean
skip_unless_sudo_to_nobody (void)
{
  if (getuid () != 0)
    {
      g_test_skip ("needs to run as root, to use sudo without a password");
      return TRUE;
    }
  if (!command_succeeds ((const char *[]) { "sudo", "-n", "-u", "nobody", "true", NULL }))
    {
      g_test_skip ("`sudo -n -u nobody true` does not work here");
      return TRUE;
    }
  return FALSE;
}

static void
test_real_root_to_nobody (MitogenTestFixture *fixture,
                          gconstpointer       data)
{
  g_autoptr(GVariant) options = NULL;
  g_autoptr(MitogenContext) ctx = NULL;
  int pid;

  if (skip_unless_sudo_to_nobody ())
    return;
  options = options_new ("username", g_variant_new_string ("nobody"), NULL);
  ctx = mitogen_test_connect_ok (fixture->router, "sudo", options, NULL);
  assert_runs_as (ctx, "nobody");

  /* Gone when its stream closes. */
  pid = mitogen_test_context_pid (ctx);
  mitogen_router_disconnect_context (fixture->router, ctx);
  g_assert_true (mitogen_test_wait_pid_gone (pid, 5000));
}

static void
copy_program (const char *from,
              const char *to)
{
  g_autofree char *contents = NULL;
  gsize len;

  g_assert_true (g_file_get_contents (from, &contents, &len, NULL));
  g_assert_true (g_file_set_contents (to, contents, len, NULL));
  g_assert_cmpint (g_chmod (to, 0755), ==, 0);
}

/* The agent where the new user cannot reach it (a build tree in root's
 * private home, say): the first stage asks for its bytes and runs a copy
 * of its own, which it removes once running. */
static void
test_real_agent_unreachable (MitogenTestFixture *fixture,
                             gconstpointer       data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = NULL;
  g_autofree char *agent = NULL;
  g_autofree char *static_twin = NULL;
  g_autofree char *static_source = NULL;
  g_autofree char *exe_link = NULL;
  g_autofree char *exe = NULL;
  g_autofree char *maps_path = NULL;
  g_autofree char *maps = NULL;
  g_autoptr(GVariant) options = NULL;
  g_autoptr(MitogenContext) ctx = NULL;

  if (skip_unless_sudo_to_nobody ())
    return;
  dir = g_dir_make_tmp ("mitogen-test-private-XXXXXX", &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_chmod (dir, 0700), ==, 0);
  /* The agent and its self-contained twin, as a build tree has them. */
  agent = g_build_filename (dir, "mitogen-agent", NULL);
  copy_program (g_getenv ("MITOGEN_AGENT_PATH"), agent);
  static_twin = g_strconcat (agent, "-static", NULL);
  static_source = g_strconcat (g_getenv ("MITOGEN_AGENT_PATH"), "-static", NULL);
  copy_program (static_source, static_twin);
  g_assert_false (command_succeeds ((const char *[]) { "sudo", "-n", "-u", "nobody", "test", "-x",
                                                        agent, NULL }));

  options = options_new ("username", g_variant_new_string ("nobody"),
                         "agent_path", g_variant_new_string (agent), NULL);
  ctx = mitogen_test_connect_ok (fixture->router, "sudo", options, NULL);
  assert_runs_as (ctx, "nobody");
  exe_link = g_strdup_printf ("/proc/%d/exe", mitogen_test_context_pid (ctx));
  exe = g_file_read_link (exe_link, NULL);
  g_assert_nonnull (exe);
  g_assert_false (g_str_has_prefix (exe, dir));
  /* What ran is the self-contained agent: the new user may not be able to
   * read the build tree's libraries either. */
  maps_path = g_strdup_printf ("/proc/%d/maps", mitogen_test_context_pid (ctx));
  g_assert_true (g_file_get_contents (maps_path, &maps, NULL, NULL));
  g_assert_null (strstr (maps, "libglib"));

  g_unlink (static_twin);
  g_unlink (agent);
  g_rmdir (dir);
}

static void
test_real_default_root (MitogenTestFixture *fixture,
                        gconstpointer       data)
{
  g_autoptr(MitogenContext) ctx = NULL;

  if (skip_unless_sudo_to_nobody ())
    return;
  ctx = mitogen_test_connect_ok (fixture->router, "sudo", NULL, NULL);
  assert_runs_as (ctx, "root");
  /* A hop that stays on this machine is told where this process's
   * plugins are (test-ssh checks that one to another host is not). */
  {
    g_autoptr(MitogenTransport) sudo = mitogen_transport_lookup ("sudo", NULL);
    g_autofree char *plugin_path = remote_getenv (ctx, MITOGEN_PLUGIN_PATH_ENV);

    g_assert_false (mitogen_transport_crosses_host (sudo));
    g_assert_nonnull (g_getenv (MITOGEN_PLUGIN_PATH_ENV));
    g_assert_cmpstr (plugin_path, ==, g_getenv (MITOGEN_PLUGIN_PATH_ENV));
  }
}

static void
test_real_unknown_user (MitogenTestFixture *fixture,
                        gconstpointer       data)
{
  g_autoptr(GVariant) options = NULL;
  g_autoptr(GError) error = NULL;

  if (skip_unless_sudo_to_nobody ())
    return;
  options = options_new ("username", g_variant_new_string ("mitogen-no-such-user"), NULL);
  error = connect_fails (fixture->router, "sudo", options, NULL);
  g_assert_error (error, MITOGEN_ERROR, MITOGEN_ERROR_STREAM);
  /* sudo's own words. */
  g_assert_nonnull (strstr (error->message, "unknown user mitogen-no-such-user"));
}

static void
test_real_preserve_env (MitogenTestFixture *fixture,
                        gconstpointer       data)
{
  g_autoptr(GVariant) plain = NULL;
  g_autoptr(GVariant) preserving = NULL;
  g_autoptr(MitogenContext) a = NULL;
  g_autoptr(MitogenContext) b = NULL;
  g_autofree char *in_a = NULL;
  g_autofree char *in_b = NULL;

  if (skip_unless_sudo_to_nobody ())
    return;
  plain = options_new ("username", g_variant_new_string ("nobody"), NULL);
  preserving = options_new ("username", g_variant_new_string ("nobody"),
                            "preserve_env", g_variant_new_boolean (TRUE), NULL);
  a = mitogen_test_connect_ok (fixture->router, "sudo", plain, NULL);
  b = mitogen_test_connect_ok (fixture->router, "sudo", preserving, NULL);
  in_a = remote_getenv (a, "MITOGEN_TEST_SUDO_MARK");
  in_b = remote_getenv (b, "MITOGEN_TEST_SUDO_MARK");
  /* sudo resets the environment unless told to keep it (set in main()). */
  g_assert_null (in_a);
  g_assert_cmpstr (in_b, ==, "kept");
  assert_runs_as (b, "nobody");
}

static void
test_real_login (MitogenTestFixture *fixture,
                 gconstpointer       data)
{
  g_autoptr(GVariant) plain = NULL;
  g_autoptr(GVariant) login = NULL;
  g_autoptr(MitogenContext) a = NULL;
  g_autoptr(MitogenContext) b = NULL;
  g_autofree char *cwd_a = NULL;
  g_autofree char *cwd_b = NULL;
  g_autofree char *here = g_get_current_dir ();
  g_autofree char *here_nl = g_strdup_printf ("%s\n", here);
  struct passwd *root = getpwuid (0);
  g_autofree char *home_nl = NULL;

  if (skip_unless_sudo_to_nobody ())
    return;
  g_assert_nonnull (root);
  home_nl = g_strdup_printf ("%s\n", root->pw_dir);
  /* nobody's shell refuses logins, so log in as root, which sudo allows
   * root without a password. */
  plain = options_new ("username", g_variant_new_string ("root"), NULL);
  login = options_new ("username", g_variant_new_string ("root"),
                       "login", g_variant_new_boolean (TRUE), NULL);
  a = mitogen_test_connect_ok (fixture->router, "sudo", plain, NULL);
  b = mitogen_test_connect_ok (fixture->router, "sudo", login, NULL);
  cwd_a = remote_run (a, (const char *[]) { "pwd", NULL });
  cwd_b = remote_run (b, (const char *[]) { "pwd", NULL });
  /* A login shell starts in the home directory. */
  g_assert_cmpstr (cwd_a, ==, here_nl);
  g_assert_cmpstr (cwd_b, ==, home_nl);
}

static void
test_real_login_refused (MitogenTestFixture *fixture,
                         gconstpointer       data)
{
  g_autoptr(GVariant) options = NULL;
  g_autoptr(GError) error = NULL;
  struct passwd *pw = getpwnam ("nobody");

  if (skip_unless_sudo_to_nobody ())
    return;
  if (pw == NULL || strstr (pw->pw_shell, "nologin") == NULL)
    {
      g_test_skip ("nobody has a login shell here");
      return;
    }
  /* The login shell refuses, on the agent's stdout; the caller hears it. */
  options = options_new ("username", g_variant_new_string ("nobody"),
                         "login", g_variant_new_boolean (TRUE), NULL);
  error = connect_fails (fixture->router, "sudo", options, NULL);
  g_assert_error (error, MITOGEN_ERROR, MITOGEN_ERROR_STREAM);
  g_assert_nonnull (strstr (error->message, "not available"));
}

/* ---- real programs with users and passwords ---------------------------- */

static gboolean system_enabled;
static gboolean system_ready;
static gboolean system_failed;
static gboolean doas_ready;

static const char *
password_of (const char *user)
{
  return g_getenv (g_str_equal (user, USER1) ? "MITOGEN_TEST_PW1" : "MITOGEN_TEST_PW2");
}

static gboolean
run_quietly (const char * const  *argv,
             const char          *input,
             GError             **error)
{
  g_autoptr(GSubprocess) proc = NULL;
  g_autofree char *out = NULL;

  proc = g_subprocess_newv (argv, G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                            G_SUBPROCESS_FLAGS_STDERR_MERGE, error);
  if (proc == NULL)
    return FALSE;
  if (!g_subprocess_communicate_utf8 (proc, input, NULL, &out, NULL, error))
    return FALSE;
  if (!g_spawn_check_wait_status (g_subprocess_get_status (proc), error))
    {
      g_prefix_error (error, "%s: %s: ", argv[0], out != NULL ? g_strstrip (out) : "");
      return FALSE;
    }
  return TRUE;
}

static void
system_cleanup (void)
{
  for (const char *user = USER1; user != NULL; user = g_str_equal (user, USER1) ? USER2 : NULL)
    if (getpwnam (user) != NULL)
      {
        g_autoptr(GError) error = NULL;

        if (!run_quietly ((const char *[]) { "userdel", "-r", "-f", user, NULL }, NULL, &error))
          g_printerr ("# could not remove user %s: %s\n", user, error->message);
      }
  g_unlink (SUDOERS_FILE);
  if (doas_ready)
    g_unlink (DOAS_CONF);
  doas_ready = FALSE;
  system_ready = FALSE;
}

static gboolean
system_setup_unlocked (GError **error)
{
  g_autofree char *chpasswd = g_strdup_printf ("%s:%s\n%s:%s\n", USER1, password_of (USER1),
                                               USER2, password_of (USER2));
  g_autofree char *tmp = g_strdup (SUDOERS_FILE ".tmp-XXXXXX");
  g_autofree char *doas_path = g_find_program_in_path ("doas");
  static const char sudoers[] =
    "# Written by libmitogen's tests/test-sudo.c; removed when they end.\n"
    "Defaults:" USER1 " timestamp_timeout=0\n"
    USER1 " ALL=(" USER2 ") ALL\n"
    USER1 " ALL=(nobody) NOPASSWD: ALL\n";
  int fd;

  /* Leftovers of a run that was killed. */
  system_cleanup ();

  if (!run_quietly ((const char *[]) { "useradd", "-m", "-s", "/bin/sh", USER1, NULL }, NULL, error) ||
      !run_quietly ((const char *[]) { "useradd", "-m", "-s", "/bin/sh", USER2, NULL }, NULL, error) ||
      !run_quietly ((const char *[]) { "chpasswd", NULL }, chpasswd, error))
    return FALSE;

  fd = g_mkstemp_full (tmp, O_WRONLY, 0440);
  if (fd < 0 || write (fd, sudoers, sizeof sudoers - 1) != sizeof sudoers - 1)
    {
      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (errno),
                   "writing %s: %s", tmp, g_strerror (errno));
      if (fd >= 0)
        close (fd);
      g_unlink (tmp);
      return FALSE;
    }
  close (fd);
  if (!run_quietly ((const char *[]) { "visudo", "-cf", tmp, NULL }, NULL, error) ||
      g_rename (tmp, SUDOERS_FILE) != 0)
    {
      g_unlink (tmp);
      return FALSE;
    }

  /* doas has one configuration file: use it only when there is none. */
  if (doas_path != NULL && !g_file_test (DOAS_CONF, G_FILE_TEST_EXISTS))
    {
      static const char doas_conf[] =
        "permit " USER1 " as " USER2 "\n"
        "permit nopass root as nobody\n";

      fd = open (DOAS_CONF, O_WRONLY | O_CREAT | O_EXCL, 0400);
      if (fd >= 0)
        {
          doas_ready = write (fd, doas_conf, sizeof doas_conf - 1) == sizeof doas_conf - 1;
          close (fd);
          if (!doas_ready)
            g_unlink (DOAS_CONF);
        }
    }
  return TRUE;
}

/* TRUE when the test should go on in this process. */
static gboolean
system_begin (void)
{
  g_autoptr(GError) error = NULL;

  if (!system_enabled)
    {
      g_test_skip (SKIP_SYSTEM);
      return FALSE;
    }
  if (getuid () != 0)
    {
      g_test_skip ("MITOGEN_TEST_SYSTEM=1 needs root, to create users");
      return FALSE;
    }
  if (g_test_subprocess ())
    return TRUE;
  if (!system_ready && !system_failed)
    {
      if (system_setup_unlocked (&error))
        system_ready = TRUE;
      else
        {
          system_failed = TRUE;
          system_cleanup ();
          g_test_message ("setting up users failed: %s", error->message);
        }
    }
  g_assert_true (system_ready);
  return TRUE;
}

/* Runs the check in a subprocess and fails the test unless it passed,
 * without aborting: the parent stays alive to clean up in any case. */
static void
system_run_subprocess (void)
{
  g_test_trap_subprocess (NULL, 60 * G_USEC_PER_SEC, G_TEST_SUBPROCESS_INHERIT_STDERR);
  if (!g_test_trap_has_passed ())
    g_test_fail_printf ("the check failed in its subprocess (its messages are above)");
}

/* Still root, in the subprocess: what USER1 will need of this build,
 * which may sit in root's private home (a fresh Debian's /root is 0700):
 * the become transports, loaded now, and an agent copied where USER1 can
 * run it (the self-contained one, whose libraries travel inside it). */
static void
prepare_build_for_user1 (const struct passwd *pw)
{
  const char *names[] = { "sudo", "su", "doas" };
  g_autofree char *static_agent = g_strconcat (g_getenv ("MITOGEN_AGENT_PATH"), "-static", NULL);
  const char *source = g_file_test (static_agent, G_FILE_TEST_IS_EXECUTABLE)
                       ? static_agent : g_getenv ("MITOGEN_AGENT_PATH");
  g_autofree char *copy = g_build_filename (pw->pw_dir, "mitogen-agent", NULL);
  g_autofree char *contents = NULL;
  gsize len;

  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    {
      g_autoptr(MitogenTransport) transport = mitogen_transport_lookup (names[i], NULL);

      g_assert_nonnull (transport);
    }
  g_assert_true (g_file_get_contents (source, &contents, &len, NULL));
  g_assert_true (g_file_set_contents (copy, contents, len, NULL));
  g_assert_cmpint (g_chmod (copy, 0755), ==, 0);
  g_setenv ("MITOGEN_AGENT_PATH", copy, TRUE);
}

/* In the subprocess: become USER1 for good. */
static void
become_user1 (void)
{
  struct passwd *pw = getpwnam (USER1);

  g_assert_nonnull (pw);
  prepare_build_for_user1 (pw);
  g_assert_cmpint (initgroups (pw->pw_name, pw->pw_gid), ==, 0);
  g_assert_cmpint (setgid (pw->pw_gid), ==, 0);
  g_assert_cmpint (setuid (pw->pw_uid), ==, 0);
  g_assert_cmpint (getuid (), ==, pw->pw_uid);
  g_setenv ("HOME", pw->pw_dir, TRUE);
  g_setenv ("USER", pw->pw_name, TRUE);
  g_setenv ("LOGNAME", pw->pw_name, TRUE);
}

#define SYSTEM_TEST(name) \
  static void name##_body (MitogenTestFixture *fixture); \
  static void \
  name (void) \
  { \
    MitogenTestFixture fixture; \
    if (!system_begin ()) \
      return; \
    if (!g_test_subprocess ()) \
      { \
        system_run_subprocess (); \
        return; \
      } \
    mitogen_test_fixture_setup (&fixture, NULL); \
    name##_body (&fixture); \
    mitogen_test_fixture_teardown (&fixture, NULL); \
  } \
  static void \
  name##_body (MitogenTestFixture *fixture)

static GVariant *
user_options (const char *user,
              const char *password)
{
  GVariantDict dict;

  g_variant_dict_init (&dict, NULL);
  g_variant_dict_insert (&dict, "username", "s", user);
  if (password != NULL)
    g_variant_dict_insert (&dict, "password", "s", password);
  g_variant_dict_insert (&dict, "connect_timeout", "d", 20.0);
  return g_variant_ref_sink (g_variant_dict_end (&dict));
}

static void
assert_no_password_in (const GError *error)
{
  g_assert_null (strstr (error->message, password_of (USER1)));
  g_assert_null (strstr (error->message, password_of (USER2)));
}

/* As the first test user, become @user through @transport. */
static MitogenContext *
become_ok (MitogenRouter *router,
           const char    *transport,
           const char    *user,
           const char    *password)
{
  g_autoptr(GVariant) options = NULL;

  become_user1 ();
  options = user_options (user, password);
  return mitogen_test_connect_ok (router, transport, options, NULL);
}

/* As the first test user, fail to become @user: the error has @code, says
 * @needle, and never shows a password. Returns it for further checks. */
static GError *
become_fails (MitogenRouter *router,
              const char    *transport,
              const char    *user,
              const char    *password,
              int            code,
              const char    *needle)
{
  g_autoptr(GVariant) options = NULL;
  GError *error;

  become_user1 ();
  options = user_options (user, password);
  error = connect_fails (router, transport, options, NULL);
  g_assert_error (error, MITOGEN_ERROR, code);
  g_assert_nonnull (strstr (error->message, needle));
  if (password != NULL)
    g_assert_null (strstr (error->message, password));
  assert_no_password_in (error);
  return error;
}

SYSTEM_TEST (test_system_sudo_password_right)
{
  g_autoptr(MitogenContext) ctx = become_ok (fixture->router, "sudo", USER2, password_of (USER1));

  assert_runs_as (ctx, USER2);
}

SYSTEM_TEST (test_system_sudo_password_wrong)
{
  g_autoptr(GError) error = become_fails (fixture->router, "sudo", USER2, "not-the-password",
                                          MITOGEN_ERROR_AUTH, "sudo password incorrect");

  g_assert_cmpstr (error->message, ==, "sudo password incorrect");
}

SYSTEM_TEST (test_system_sudo_password_missing)
{
  g_autoptr(GError) error = become_fails (fixture->router, "sudo", USER2, NULL,
                                          MITOGEN_ERROR_AUTH, "needs a password but none was given");
}

SYSTEM_TEST (test_system_sudo_nopasswd)
{
  g_autoptr(MitogenContext) ctx = become_ok (fixture->router, "sudo", "nobody", NULL);

  assert_runs_as (ctx, "nobody");
}

SYSTEM_TEST (test_system_sudo_nopasswd_with_password)
{
  /* A password given but never asked for: the pty path without a prompt. */
  g_autoptr(MitogenContext) ctx = become_ok (fixture->router, "sudo", "nobody", password_of (USER1));

  assert_runs_as (ctx, "nobody");
}

SYSTEM_TEST (test_system_sudo_not_allowed)
{
  /* sudo's words, verbatim, naming who asked. */
  g_autoptr(GError) error = become_fails (fixture->router, "sudo", "root", password_of (USER1),
                                          MITOGEN_ERROR_AUTH, "is not allowed to execute");

  g_assert_nonnull (strstr (error->message, USER1));
}

SYSTEM_TEST (test_system_sudo_login)
{
  g_autoptr(GVariant) options = NULL;
  g_autoptr(MitogenContext) ctx = NULL;
  g_autofree char *cwd = NULL;
  g_autofree char *home = NULL;
  struct passwd *pw = getpwnam (USER2);

  g_assert_nonnull (pw);
  home = g_strdup_printf ("%s\n", pw->pw_dir);
  become_user1 ();
  options = options_new ("username", g_variant_new_string (USER2),
                         "password", g_variant_new_string (password_of (USER1)),
                         "login", g_variant_new_boolean (TRUE), NULL);
  ctx = mitogen_test_connect_ok (fixture->router, "sudo", options, NULL);
  assert_runs_as (ctx, USER2);
  cwd = remote_run (ctx, (const char *[]) { "pwd", NULL });
  g_assert_cmpstr (cwd, ==, home);
}

SYSTEM_TEST (test_system_su_right)
{
  g_autoptr(MitogenContext) ctx = become_ok (fixture->router, "su", USER2, password_of (USER2));

  assert_runs_as (ctx, USER2);
  /* The agent's stream is the socket, not su's terminal. */
  {
    g_autoptr(GVariant) zeros = mitogen_test_call_ok (ctx, "core.zeros", g_variant_new ("(t)", (guint64) 1 << 20));

    g_assert_true (g_variant_is_of_type (zeros, G_VARIANT_TYPE_BYTESTRING));
    g_assert_cmpuint (g_variant_get_size (zeros), ==, 1 << 20);
  }
}

SYSTEM_TEST (test_system_su_wrong)
{
  g_autoptr(GError) error = become_fails (fixture->router, "su", USER2, "not-the-password",
                                          MITOGEN_ERROR_AUTH, "su password incorrect");

  g_assert_true (g_str_has_prefix (error->message, "su password incorrect"));
}

SYSTEM_TEST (test_system_su_missing)
{
  g_autoptr(GError) error = become_fails (fixture->router, "su", USER2, NULL,
                                          MITOGEN_ERROR_AUTH, "needs a password but none was given");
}

SYSTEM_TEST (test_system_su_unknown_user)
{
  g_autoptr(GError) error = become_fails (fixture->router, "su", "mitogen-no-such-user", password_of (USER1),
                                          MITOGEN_ERROR_STREAM, "mitogen-no-such-user");
}

SYSTEM_TEST (test_system_via)
{
  g_autoptr(GVariant) first = NULL;
  g_autoptr(GVariant) second = NULL;
  g_autoptr(GVariant) wrong = NULL;
  g_autoptr(MitogenContext) ctx1 = NULL;
  g_autoptr(MitogenContext) ctx2 = NULL;
  g_autoptr(GError) error = NULL;

  /* As root: sudo to USER1, and from there sudo to USER2 with USER1's
   * password; the plugin and the password travel through ctx1. */
  first = user_options (USER1, NULL);
  ctx1 = mitogen_test_connect_ok (fixture->router, "sudo", first, NULL);
  assert_runs_as (ctx1, USER1);
  second = user_options (USER2, password_of (USER1));
  ctx2 = mitogen_test_connect_ok (fixture->router, "sudo", second, ctx1);
  assert_runs_as (ctx2, USER2);

  /* A refusal one hop away still names the reason. */
  wrong = user_options (USER2, "not-the-password");
  error = connect_fails (fixture->router, "sudo", wrong, ctx1);
  g_assert_nonnull (strstr (error->message, "sudo password incorrect"));
  g_assert_null (strstr (error->message, "not-the-password"));
}

static gboolean
skip_unless_doas (void)
{
  if (!doas_ready && !g_test_subprocess ())
    {
      g_test_skip ("doas is not installed, or " DOAS_CONF " exists already");
      return TRUE;
    }
  return FALSE;
}

/* doas tests check doas_ready in the parent, before the subprocess. */
#define DOAS_TEST(name) \
  static void name##_body (MitogenTestFixture *fixture); \
  static void \
  name (void) \
  { \
    MitogenTestFixture fixture; \
    if (!system_begin () || skip_unless_doas ()) \
      return; \
    if (!g_test_subprocess ()) \
      { \
        system_run_subprocess (); \
        return; \
      } \
    mitogen_test_fixture_setup (&fixture, NULL); \
    name##_body (&fixture); \
    mitogen_test_fixture_teardown (&fixture, NULL); \
  } \
  static void \
  name##_body (MitogenTestFixture *fixture)

DOAS_TEST (test_system_doas_root_to_nobody)
{
  g_autoptr(GVariant) options = user_options ("nobody", NULL);
  g_autoptr(MitogenContext) ctx = mitogen_test_connect_ok (fixture->router, "doas", options, NULL);

  assert_runs_as (ctx, "nobody");
}

DOAS_TEST (test_system_doas_password)
{
  g_autoptr(GVariant) right = NULL;
  g_autoptr(GVariant) wrong = NULL;
  g_autoptr(GVariant) missing = NULL;
  g_autoptr(GVariant) refused = NULL;
  g_autoptr(MitogenContext) ctx = NULL;
  g_autoptr(GError) error = NULL;

  become_user1 ();
  right = user_options (USER2, password_of (USER1));
  ctx = mitogen_test_connect_ok (fixture->router, "doas", right, NULL);
  assert_runs_as (ctx, USER2);

  wrong = user_options (USER2, "not-the-password");
  error = connect_fails (fixture->router, "doas", wrong, NULL);
  g_assert_error (error, MITOGEN_ERROR, MITOGEN_ERROR_AUTH);
  g_assert_true (g_str_has_prefix (error->message, "doas password incorrect"));
  g_clear_error (&error);

  missing = user_options (USER2, NULL);
  error = connect_fails (fixture->router, "doas", missing, NULL);
  g_assert_error (error, MITOGEN_ERROR, MITOGEN_ERROR_AUTH);
  g_assert_nonnull (strstr (error->message, "needs a password but none was given"));
  g_clear_error (&error);

  refused = user_options ("root", password_of (USER1));
  error = connect_fails (fixture->router, "doas", refused, NULL);
  g_assert_error (error, MITOGEN_ERROR, MITOGEN_ERROR_AUTH);
  g_assert_nonnull (strstr (error->message, "Operation not permitted"));
}

/* ---- main -------------------------------------------------------------- */

#define TEST(path, func) \
  g_test_add (path, MitogenTestFixture, NULL, \
              mitogen_test_fixture_setup, func, mitogen_test_fixture_teardown)
#define FAKE_TEST(path, func) \
  g_test_add (path, FakeFixture, NULL, fake_setup, func, fake_teardown)

int
main (int    argc,
      char **argv)
{
  int ret;

  /* malloc's perturbation (which meson turns on) fills freed memory, and
   * would hide any copy of a password the library freed without wiping:
   * /sudo/fake/password-wiped needs malloc as users have it. */
  if (memory_scan_works () &&
      g_strcmp0 (g_getenv ("MALLOC_PERTURB_"), "0") != 0 && g_getenv ("MALLOC_PERTURB_") != NULL)
    {
      g_setenv ("MALLOC_PERTURB_", "0", TRUE);
      execv ("/proc/self/exe", argv);
      g_error ("re-executing the test: %s", g_strerror (errno));
    }

  /* Before any thread exists: what preserve_env should carry, and the
   * test users' passwords, which subprocesses inherit. */
  g_setenv ("MITOGEN_TEST_SUDO_MARK", "kept", TRUE);
  if (g_getenv ("MITOGEN_TEST_PW1") == NULL)
    {
      g_autofree char *pw1 = g_strdup_printf ("Pw1-%08x%08x", g_random_int (), g_random_int ());
      g_autofree char *pw2 = g_strdup_printf ("Pw2-%08x%08x", g_random_int (), g_random_int ());

      g_setenv ("MITOGEN_TEST_PW1", pw1, TRUE);
      g_setenv ("MITOGEN_TEST_PW2", pw2, TRUE);
    }
  system_enabled = g_strcmp0 (g_getenv ("MITOGEN_TEST_SYSTEM"), "1") == 0;

  mitogen_test_init (&argc, &argv);

  g_test_add_func ("/sudo/matcher/sudo-prompts", test_matcher_sudo_prompts);
  g_test_add_func ("/sudo/matcher/translated", test_matcher_translated);
  g_test_add_func ("/sudo/matcher/feedback-and-noise", test_matcher_feedback_and_noise);
  g_test_add_func ("/sudo/matcher/refusals", test_matcher_refusals);
  g_test_add_func ("/sudo/matcher/custom-rules", test_matcher_custom_rules);
  g_test_add_func ("/sudo/matcher/success", test_matcher_success);

  TEST ("/sudo/options/refused", test_options_refused);
  TEST ("/sudo/options/accepted", test_options_accepted);
  TEST ("/sudo/options/missing-program", test_fake_missing_program);

  FAKE_TEST ("/sudo/fake/password-right", test_fake_password_right);
  FAKE_TEST ("/sudo/fake/parallel-via", test_fake_parallel_via);
  FAKE_TEST ("/sudo/fake/password-wiped", test_fake_password_wiped);
  FAKE_TEST ("/sudo/fake/password-wrong", test_fake_password_wrong);
  FAKE_TEST ("/sudo/fake/password-missing", test_fake_password_missing);
  FAKE_TEST ("/sudo/fake/timeout", test_fake_timeout);
  FAKE_TEST ("/sudo/fake/cancelled", test_fake_cancelled);

  TEST ("/sudo/real/root-to-nobody", test_real_root_to_nobody);
  TEST ("/sudo/real/default-root", test_real_default_root);
  TEST ("/sudo/real/agent-unreachable", test_real_agent_unreachable);
  TEST ("/sudo/real/unknown-user", test_real_unknown_user);
  TEST ("/sudo/real/preserve-env", test_real_preserve_env);
  TEST ("/sudo/real/login", test_real_login);
  TEST ("/sudo/real/login-refused", test_real_login_refused);

  g_test_add_func ("/sudo/system/sudo-password-right", test_system_sudo_password_right);
  g_test_add_func ("/sudo/system/sudo-password-wrong", test_system_sudo_password_wrong);
  g_test_add_func ("/sudo/system/sudo-password-missing", test_system_sudo_password_missing);
  g_test_add_func ("/sudo/system/sudo-nopasswd", test_system_sudo_nopasswd);
  g_test_add_func ("/sudo/system/sudo-nopasswd-with-password", test_system_sudo_nopasswd_with_password);
  g_test_add_func ("/sudo/system/sudo-not-allowed", test_system_sudo_not_allowed);
  g_test_add_func ("/sudo/system/sudo-login", test_system_sudo_login);
  g_test_add_func ("/sudo/system/su-right", test_system_su_right);
  g_test_add_func ("/sudo/system/su-wrong", test_system_su_wrong);
  g_test_add_func ("/sudo/system/su-missing", test_system_su_missing);
  g_test_add_func ("/sudo/system/su-unknown-user", test_system_su_unknown_user);
  g_test_add_func ("/sudo/system/via", test_system_via);
  g_test_add_func ("/sudo/system/doas-root-to-nobody", test_system_doas_root_to_nobody);
  g_test_add_func ("/sudo/system/doas-password", test_system_doas_password);

  ret = g_test_run ();
  if (system_ready && !g_test_subprocess ())
    system_cleanup ();
  return ret;
}
