/* test-headers.c: <mitogen/mitogen.h> as a program outside the project
 * sees it, compiled as strict ISO C99 and C11 (and, through
 * test-headers.cc, as C++) with -Wpedantic -Werror. That it builds is most
 * of the test: a typedef declared twice, a GNU extension or a C-only
 * construct in a public header breaks the build. Running it checks that
 * the declarations mean what they say.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <stdio.h>
#include <string.h>

#include <mitogen/mitogen.h>

/* The build really used the standard it claims to check. */
#if !defined(__cplusplus) && MITOGEN_TEST_STDC_VERSION != __STDC_VERSION__
# error "the compiler did not use the requested C standard"
#endif

/* The entry-point macro expands to valid code in each language, with the
 * signatures the header declares. */
static void
register_nothing (void)
{
}

MITOGEN_DEFINE_MODULE (register_nothing)

static int failures;

static void
check (int         ok,
       const char *what)
{
  printf ("%s: %s\n", ok ? "ok" : "FAILED", what);
  if (!ok)
    failures++;
}

int
main (void)
{
  g_autoptr(GError) error = NULL;
  void (*entry) (void) = mitogen_module_init;

  g_set_error_literal (&error, MITOGEN_ERROR, MITOGEN_ERROR_FAILED, "checked");
  check (error->domain == MITOGEN_ERROR, "MITOGEN_ERROR is a usable domain");
  check (strcmp (g_type_name (MITOGEN_TYPE_ROUTER), "MitogenRouter") == 0,
         "MITOGEN_TYPE_ROUTER names MitogenRouter");
  check (g_type_is_a (MITOGEN_TYPE_TRANSPORT, G_TYPE_INTERFACE), "MitogenTransport is an interface");
  check (mitogen_module_abi_version == MITOGEN_ABI_VERSION,
         "MITOGEN_DEFINE_MODULE records MITOGEN_ABI_VERSION");
  check (entry != NULL, "MITOGEN_DEFINE_MODULE defines mitogen_module_init");
  entry ();
  check (MITOGEN_CHECK_VERSION (MITOGEN_MAJOR_VERSION, MITOGEN_MINOR_VERSION, 0),
         "MITOGEN_CHECK_VERSION accepts this version");
  return failures == 0 ? 0 : 1;
}
