/* mitogen-cli-cp.c: `mitogen cp`, files to and from a context, as scp.
 *
 *   mitogen cp [-r] [-p] SRC... TARGET:/PATH   push
 *   mitogen cp [-r] [-p] TARGET:/PATH... DEST  pull
 *
 * An operand is remote when it splits into TARGET and an absolute PATH at
 * its first ':' followed by '/': the target's own ':'s (ssh:user@host:22,
 * ssh:[::1], hops joined by '/') are never followed by a '/', so
 * "ssh:[::1]:22/sudo:root:/etc/motd" is the target "ssh:[::1]:22/sudo:root"
 * and the path "/etc/motd". An operand that starts with '/' or '.' is
 * always local ("./a:/b" is a local file name with a colon in it).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "mitogen-cli.h"
#include "mitogen-cli-target.h"

static gboolean opt_recursive;
static gboolean opt_preserve;

static const GOptionEntry cp_entries[] = {
  { "recursive", 'r', 0, G_OPTION_ARG_NONE, &opt_recursive, "Copy directories with everything in them", NULL },
  { "preserve", 'p', 0, G_OPTION_ARG_NONE, &opt_preserve,
    "Keep modes and modification times (and owners, when the receiving side is root)", NULL },
  { NULL }
};

/* Splits a remote operand into its target and path; FALSE for a local one. */
static gboolean
split_remote (const char  *operand,
              char       **target,
              char       **path)
{
  const char *colon;

  if (operand[0] == '/' || operand[0] == '.')
    return FALSE;
  for (colon = strchr (operand, ':'); colon != NULL; colon = strchr (colon + 1, ':'))
    if (colon[1] == '/' && colon > operand)
      {
        *target = g_strndup (operand, colon - operand);
        *path = g_strdup (colon + 1);
        return TRUE;
      }
  return FALSE;
}

typedef struct
{
  GArray     *hops;
  char      **sources;   /* local paths (push) or remote paths (pull) */
  char       *dest;
  gboolean    push;
  gboolean    show_progress;
  const char *current;   /* the name shown on the progress line */
} CpJob;

static void
on_progress (guint64  done,
             guint64  total,
             gpointer data)
{
  CpJob *job = data;
  static gint64 last;
  gint64 now = g_get_monotonic_time ();

  if (now - last < G_USEC_PER_SEC / 10 && done < total)
    return;
  last = now;
  fprintf (stderr, "\r%-40.40s %3u%% %10" G_GUINT64_FORMAT " KiB", job->current,
           total > 0 ? (guint) (done * 100 / total) : 100u, done / 1024);
  fflush (stderr);
}

/* Where @source goes: into @dest when it is a directory, else @dest. */
static char *
destination_for (MitogenContext *ctx,
                 CpJob          *job,
                 const char     *source)
{
  g_autofree char *base = g_path_get_basename (source);
  gboolean is_dir;

  if (job->push)
    {
      g_autoptr(GVariant) kind = mitogen_context_call (ctx, "transfer.stat",
                                                       g_variant_new ("(s)", job->dest),
                                                       interrupted, NULL);
      is_dir = kind != NULL && g_variant_get_byte (kind) == 'd';
    }
  else
    is_dir = g_file_test (job->dest, G_FILE_TEST_IS_DIR);
  if (!is_dir && job->sources[1] != NULL)
    return NULL;
  return is_dir ? g_build_filename (job->dest, base, NULL) : g_strdup (job->dest);
}

static int
run_cp (MitogenRouter *router,
        gpointer       data)
{
  CpJob *job = data;
  g_autoptr(MitogenContext) ctx = connect_chain (router, job->hops);
  MitogenTransferFlags flags = (opt_recursive ? MITOGEN_TRANSFER_RECURSIVE : 0) |
                               (opt_preserve ? MITOGEN_TRANSFER_PRESERVE : 0);
  int status = 0;

  cli_hops_wipe_secrets (job->hops);
  if (ctx == NULL)
    return interrupted_status () >= 0 ? interrupted_status () : 255;
  for (guint i = 0; job->sources[i] != NULL && interrupted_status () < 0; i++)
    {
      g_autofree char *dest = destination_for (ctx, job, job->sources[i]);
      g_autoptr(GError) error = NULL;
      gboolean ok;

      if (dest == NULL)
        {
          fprintf (stderr, "mitogen: %s is not a directory, and there are several sources\n",
                   job->dest);
          status = 1;
          break;
        }
      job->current = job->sources[i];
      if (job->push)
        ok = mitogen_context_push (ctx, job->sources[i], dest, flags,
                                   job->show_progress ? on_progress : NULL, job,
                                   interrupted, &error);
      else
        ok = mitogen_context_pull (ctx, job->sources[i], dest, flags,
                                   job->show_progress ? on_progress : NULL, job,
                                   interrupted, &error);
      if (job->show_progress)
        fprintf (stderr, "\n");
      if (!ok && interrupted_status () < 0)
        {
          report (error);
          status = g_error_matches (error, MITOGEN_ERROR, MITOGEN_ERROR_STREAM) ||
                   g_error_matches (error, MITOGEN_ERROR, MITOGEN_ERROR_CHANNEL) ? 255 : 1;
        }
    }
  shut_down (ctx);
  return interrupted_status () >= 0 ? interrupted_status () : status;
}

int
cmd_cp (int    argc,
        char **argv)
{
  g_autoptr(GOptionContext) options = new_option_context ("SRC... DEST",
      "Copy files between this host and a context, as scp does: SRC... to\n"
      "TARGET:/PATH (a push), or TARGET:/PATH... to DEST (a pull). A remote operand\n"
      "is split at its first ':' followed by '/', so remote paths are absolute;\n"
      "an operand starting with '/' or '.' is always local. With several sources,\n"
      "or when DEST is a directory, each source goes into it. Each file arrives\n"
      "whole or not at all (a temporary file, checked by sha256, then renamed).\n"
      "Shows progress when standard error is a terminal. Exits 1 if a copy\n"
      "failed, 255 if the context could not be started or was lost.");
  g_autofree char *target = NULL;
  g_autoptr(GPtrArray) sources = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GArray) hops = NULL;
  CpJob job = { 0, };
  char *t, *path;
  int status;

  g_set_prgname ("mitogen cp");
  g_option_context_add_main_entries (options, cp_entries, NULL);
  parse_options (options, &argc, &argv);
  if (argc < 3)
    fail ("cp needs a SRC and a DEST (see mitogen cp --help)");

  job.push = split_remote (argv[argc - 1], &t, &path);
  if (job.push)
    {
      target = t;
      job.dest = path;
    }
  else
    job.dest = g_strdup (argv[argc - 1]);
  for (int i = 1; i < argc - 1; i++)
    {
      gboolean remote = split_remote (argv[i], &t, &path);

      if (remote && job.push)
        fail ("cp copies between this host and one context: %s and %s are both remote",
              argv[i], argv[argc - 1]);
      if (!remote && !job.push)
        fail ("%s is not remote (TARGET:/PATH), and neither is %s", argv[i], argv[argc - 1]);
      if (remote && target != NULL && !g_str_equal (t, target))
        fail ("the sources of a pull come from one target, not %s and %s", target, t);
      if (remote)
        {
          g_free (target);
          target = t;
          g_ptr_array_add (sources, path);
        }
      else
        g_ptr_array_add (sources, g_strdup (argv[i]));
    }
  g_ptr_array_add (sources, NULL);
  hops = parse_target_or_fail (target);
  job.hops = hops;
  job.sources = (char **) sources->pdata;
  job.show_progress = isatty (2);

  g_atomic_int_set (&forwarding_signals, TRUE);
  status = mitogen_run_with_router (run_cp, &job);
  wait_for_children ();
  g_free (job.dest);
  return status;
}
