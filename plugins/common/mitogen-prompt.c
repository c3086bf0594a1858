/* mitogen-prompt.c: tell a password prompt from a refusal in what sudo, su
 * or doas print on their terminal.
 *
 * Complete lines are looked at for refusals; the unfinished last line for
 * a prompt, since a prompt is never followed by a newline until it is
 * answered. Prompts are known by the word for "password" in the languages
 * PAM and sudo are translated to, followed by a colon, so a prompt that
 * PAM shows instead of sudo's own -p string is still recognised.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef _GNU_SOURCE
# define _GNU_SOURCE
#endif
#include <string.h>

#include <mitogen/mitogen.h>

#include "mitogen-prompt.h"

typedef enum
{
  KIND_REFUSED,     /* the program said no, for a reason of its own */
  KIND_NEEDS,       /* it needs a password it could not ask for */
  KIND_INCORRECT,   /* the password given was wrong */
} FailureKind;

/* Casefolded needles, matched anywhere in a complete line. */
static const struct
{
  const char  *needle;
  int          code;
  FailureKind  kind;
} failures[] = {
  { "is not in the sudoers file", MITOGEN_ERROR_AUTH, KIND_REFUSED },
  { "is not allowed to execute", MITOGEN_ERROR_AUTH, KIND_REFUSED },
  { "may not run sudo", MITOGEN_ERROR_AUTH, KIND_REFUSED },
  { "operation not permitted", MITOGEN_ERROR_AUTH, KIND_REFUSED },          /* doas */
  { "unknown user", MITOGEN_ERROR_STREAM, KIND_REFUSED },                   /* sudo, doas */
  { "does not exist or the user entry", MITOGEN_ERROR_STREAM, KIND_REFUSED }, /* util-linux su */
  { "no passwd entry for user", MITOGEN_ERROR_STREAM, KIND_REFUSED },       /* shadow su */
  { "a terminal is required", MITOGEN_ERROR_AUTH, KIND_NEEDS },
  { "a password is required", MITOGEN_ERROR_AUTH, KIND_NEEDS },             /* sudo -n */
  { "authentication required", MITOGEN_ERROR_AUTH, KIND_NEEDS },            /* doas -n */
  { "must be run from a terminal", MITOGEN_ERROR_AUTH, KIND_NEEDS },        /* shadow su */
  { "incorrect password attempt", MITOGEN_ERROR_AUTH, KIND_INCORRECT },     /* sudo */
  { "authentication failure", MITOGEN_ERROR_AUTH, KIND_INCORRECT },         /* PAM, su */
  { "authentication failed", MITOGEN_ERROR_AUTH, KIND_INCORRECT },          /* doas */
};

/* "Password" in the languages sudo and Linux-PAM ship translations for,
 * casefolded and NFKC-normalised. */
static const char * const password_words[] = {
  "password",           /* English, Italian; sudo-rs "[sudo: authenticate] Password:" */
  "passwort",           /* German */
  "mot de passe",       /* French */
  "contraseña",         /* Spanish */
  "contrasenya",        /* Catalan */
  "senha",              /* Portuguese */
  "wachtwoord",         /* Dutch */
  "adgangskode",        /* Danish */
  "passord",            /* Norwegian */
  "lösenord",           /* Swedish */
  "salasana",           /* Finnish */
  "parool",             /* Estonian */
  "parole",             /* Latvian */
  "slaptažodis",        /* Lithuanian */
  "hasło",              /* Polish */
  "heslo",              /* Czech, Slovak */
  "geslo",              /* Slovenian */
  "lozinka",            /* Croatian, Bosnian */
  "jelszó",             /* Hungarian */
  "parola",             /* Romanian, Turkish */
  "parolă",             /* Romanian */
  "şifre",              /* Turkish */
  "şifrə",              /* Azerbaijani */
  "пароль",             /* Russian, Ukrainian, Belarusian */
  "парола",             /* Bulgarian */
  "лозинка",            /* Serbian, Macedonian */
  "κωδικός",            /* Greek */
  "סיסמה",              /* Hebrew */
  "كلمة المرور",        /* Arabic */
  "كلمه المرور",        /* Arabic, without hamza */
  "گذرواژه",            /* Persian */
  "पासवर्ड",              /* Hindi */
  "mật khẩu",           /* Vietnamese */
  "kata sandi",         /* Indonesian */
  "kata laluan",        /* Malay */
  "รหัสผ่าน",             /* Thai */
  "密码",               /* Simplified Chinese */
  "密碼",               /* Traditional Chinese */
  "パスワード",         /* Japanese */
  "암호",               /* Korean */
  "비밀번호",           /* Korean */
  "pasahitza",          /* Basque */
  "contrasinal",        /* Galician */
  "lykilorð",           /* Icelandic */
  "cyfrinair",          /* Welsh */
  "focal faire",        /* Irish */
  NULL,
};

/* Casefolded, composed and valid UTF-8, so that "Contraseña" written with a
 * combining tilde or in capitals still matches. */
static char *
fold (const char *text,
      gsize       len)
{
  g_autofree char *valid = g_utf8_make_valid (text, len);
  g_autofree char *normal = g_utf8_normalize (valid, -1, G_NORMALIZE_ALL_COMPOSE);

  return g_utf8_casefold (normal != NULL ? normal : valid, -1);
}

static gboolean
contains_any_folded (const char          *folded,
                     const char * const  *needles)
{
  for (guint i = 0; needles != NULL && needles[i] != NULL; i++)
    {
      g_autofree char *needle = NULL;

      if (needles[i][0] == '\0')
        continue;
      needle = fold (needles[i], strlen (needles[i]));
      if (strstr (folded, needle) != NULL)
        return TRUE;
    }
  return FALSE;
}

/* @line without its line ending and surrounding blanks, for messages. */
static char *
trimmed (const char *line,
         gsize       len)
{
  char *s = g_utf8_make_valid (line, len);

  return g_strstrip (s);
}

static MitogenPromptState
check_line (const MitogenPromptRules  *rules,
            const char                *line,
            gsize                      len,
            int                       *code,
            char                     **message)
{
  g_autofree char *folded = fold (line, len);
  g_autofree char *shown = NULL;
  const char *program = rules->program != NULL ? rules->program : "the program";

  if (contains_any_folded (folded, rules->incorrect))
    {
      shown = trimmed (line, len);
      *code = MITOGEN_ERROR_AUTH;
      *message = g_strdup_printf ("%s password incorrect (%s)", program, shown);
      return MITOGEN_PROMPT_FAILURE;
    }
  for (gsize i = 0; i < G_N_ELEMENTS (failures); i++)
    {
      if (strstr (folded, failures[i].needle) == NULL)
        continue;
      shown = trimmed (line, len);
      *code = failures[i].code;
      switch (failures[i].kind)
        {
        case KIND_REFUSED:
          *message = g_strdup_printf ("%s refused: %s", program, shown);
          break;
        case KIND_NEEDS:
          *message = g_strdup_printf ("%s needs a password but none was given (%s)",
                                      program, shown);
          break;
        case KIND_INCORRECT:
        default:
          *message = g_strdup_printf ("%s password incorrect (%s)", program, shown);
          break;
        }
      return MITOGEN_PROMPT_FAILURE;
    }
  return MITOGEN_PROMPT_MORE;
}

static gboolean
is_blank_or_feedback (char c)
{
  /* pwfeedback echoes one asterisk per key typed. */
  return c == ' ' || c == '\t' || c == '*' || c == '\r';
}

static gboolean
is_prompt (const MitogenPromptRules *rules,
           const char               *line,
           gsize                     len)
{
  g_autofree char *folded = NULL;
  gsize end = len;

  while (end > 0 && is_blank_or_feedback (line[end - 1]))
    end--;
  if (end == 0)
    return FALSE;
  folded = fold (line, end);
  if (contains_any_folded (folded, rules->prompts))
    return TRUE;
  /* A colon ends every known prompt: ASCII, or the full-width one of
   * Chinese and Japanese translations. */
  if (!g_str_has_suffix (folded, ":") && !g_str_has_suffix (folded, "\xef\xbc\x9a"))
    return FALSE;
  return contains_any_folded (folded, password_words);
}

/**
 * _mitogen_prompt_match:
 * @rules: what the program says
 * @text: (array length=len): the terminal output seen so far, or since the
 *   last prompt answered
 * @len: its length in bytes
 * @code: (out): on %MITOGEN_PROMPT_FAILURE, a #MitogenError code
 * @message: (out): on %MITOGEN_PROMPT_FAILURE, why, with the program's
 *   own words; never contains anything typed at the prompt
 *
 * Returns: what the text says: wait, answer a prompt, done, or failed
 */
MitogenPromptState
_mitogen_prompt_match (const MitogenPromptRules  *rules,
                       const char                *text,
                       gsize                      len,
                       int                       *code,
                       char                     **message)
{
  static const char marker[] = MITOGEN_AGENT_ANNOUNCE;
  gsize start = 0;
  const char *nl;

  *code = 0;
  *message = NULL;
  if (len >= sizeof marker - 1 && memmem (text, len, marker, sizeof marker - 1) != NULL)
    return MITOGEN_PROMPT_SUCCESS;

  while ((nl = memchr (text + start, '\n', len - start)) != NULL)
    {
      gsize line_len = nl - (text + start);

      if (check_line (rules, text + start, line_len, code, message) == MITOGEN_PROMPT_FAILURE)
        return MITOGEN_PROMPT_FAILURE;
      start += line_len + 1;
    }

  /* The unfinished line; a carriage return starts it over, as doas's
   * "\rdoas (user@host) password: " does on the terminal. */
  for (gsize i = len; i > start; i--)
    if (text[i - 1] == '\r' && i < len)
      {
        gsize rest = len - i;
        gsize j = 0;

        /* Only when something but blanks follows the carriage return. */
        while (j < rest && is_blank_or_feedback (text[i + j]))
          j++;
        if (j < rest)
          {
            start = i;
            break;
          }
      }
  if (start < len && is_prompt (rules, text + start, len - start))
    return MITOGEN_PROMPT_PASSWORD;
  return MITOGEN_PROMPT_MORE;
}
