/* mitogen-cli-password.c: passwords for the `mitogen` tool.
 *
 * A password never goes through stdio or a GString: it is read a byte at
 * a time into one fixed buffer, which is cleared before it is freed, so
 * that the only copies are the ones handed to the library (which wipes
 * its own; see mitogen_transport_options_wipe_secrets()).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>
#include <sys/wait.h>

#include <gio/gio.h>

#include "mitogen-cli-password.h"

/* The longest password taken; sudo's own limit is 256. */
#define PASSWORD_MAX 1024

/* The terminal while a prompt has its echo off, for the signal path. */
static int tty_fd = -1;
static struct termios tty_saved;
static volatile sig_atomic_t tty_echo_off;

void
cli_password_free (char *password)
{
  if (password == NULL)
    return;
  explicit_bzero (password, PASSWORD_MAX + 1);
  g_free (password);
}

void
cli_password_restore_terminal (void)
{
  if (tty_echo_off)
    tcsetattr (tty_fd, TCSANOW, &tty_saved);
}

/* Reads up to a line end, the end of input or PASSWORD_MAX bytes from
 * @fd into a new buffer of PASSWORD_MAX + 1 bytes. */
static char *
read_line (int          fd,
           const char  *what,
           GError     **error)
{
  char *password = g_malloc0 (PASSWORD_MAX + 1);
  gsize len = 0;

  for (;;)
    {
      char c;
      ssize_t n = read (fd, &c, 1);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          int saved = errno;

          cli_password_free (password);
          g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                       "reading the password from %s: %s", what, g_strerror (saved));
          return NULL;
        }
      if (n == 0 || c == '\n')
        break;
      if (len == PASSWORD_MAX)
        {
          cli_password_free (password);
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                       "the password from %s is longer than %d bytes", what, PASSWORD_MAX);
          return NULL;
        }
      password[len++] = c;
    }
  if (len > 0 && password[len - 1] == '\r')
    password[--len] = '\0';
  return password;
}

char *
cli_password_read_file (const char  *path,
                        GError     **error)
{
  int fd = open (path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
  g_autofree char *what = g_strdup_printf ("“%s”", path);
  char *password;

  if (fd < 0)
    {
      int saved = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                   "cannot open the password file “%s”: %s", path, g_strerror (saved));
      return NULL;
    }
  password = read_line (fd, what, error);
  close (fd);
  return password;
}

/* Runs the askpass program with @prompt and reads its first line. */
static char *
ask_program (const char  *program,
             const char  *prompt,
             GError     **error)
{
  const char *argv[] = { program, prompt, NULL };
  g_autofree char *what = g_strdup_printf ("the askpass program “%s”", program);
  GPid pid;
  int out_fd;
  int status;
  char *password;

  if (!g_spawn_async_with_pipes (NULL, (char **) argv, NULL,
                                 G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_SEARCH_PATH,
                                 NULL, NULL, &pid, NULL, &out_fd, NULL, error))
    {
      g_prefix_error (error, "%s: ", MITOGEN_ASKPASS_ENV);
      return NULL;
    }
  password = read_line (out_fd, what, error);
  close (out_fd);
  while (waitpid (pid, &status, 0) < 0 && errno == EINTR)
    ;
  g_spawn_close_pid (pid);
  if (password != NULL && !(WIFEXITED (status) && WEXITSTATUS (status) == 0))
    {
      cli_password_free (password);
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                   "%s gave no password (it exited with status %d)", what,
                   WIFEXITED (status) ? WEXITSTATUS (status) : 128 + WTERMSIG (status));
      return NULL;
    }
  return password;
}

static void
write_text (int         fd,
            const char *text)
{
  gsize len = strlen (text);

  while (len > 0)
    {
      ssize_t n = write (fd, text, len);

      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return;
      text += n;
      len -= n;
    }
}

/* On the controlling terminal, as ssh and sudo ask: the prompt, echo off,
 * one line, echo back on. */
static char *
ask_terminal (const char  *prompt,
              GError     **error)
{
  struct termios quiet;
  char *password;
  int fd = open ("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);

  if (fd < 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                   "no terminal to ask for a password on; set %s to a program that "
                   "prints it, or give a password file", MITOGEN_ASKPASS_ENV);
      return NULL;
    }
  write_text (fd, prompt);
  if (tcgetattr (fd, &tty_saved) == 0)
    {
      quiet = tty_saved;
      quiet.c_lflag &= ~(ECHO | ECHONL);
      tty_fd = fd;
      /* Typed-ahead input is kept (no TCSAFLUSH): a password given at
       * once, before the prompt came, still counts. */
      if (tcsetattr (fd, TCSANOW, &quiet) == 0)
        tty_echo_off = 1;
    }
  password = read_line (fd, "the terminal", error);
  cli_password_restore_terminal ();
  tty_echo_off = 0;
  tty_fd = -1;
  write_text (fd, "\n");
  close (fd);
  return password;
}

char *
cli_password_ask (const char  *prompt,
                  GError     **error)
{
  const char *program = g_getenv (MITOGEN_ASKPASS_ENV);

  if (program != NULL && *program != '\0')
    return ask_program (program, prompt, error);
  return ask_terminal (prompt, error);
}
