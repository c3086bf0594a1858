/* mitogen-agent-static-stubs.c: stand-ins for two libraries that the
 * static GIO drags into mitogen-agent-static but that the agent never calls.
 *
 * libmount: GIO's giomodule.c, which the agent needs for its extension
 * points (and GSocket needs through the proxy resolver), names every
 * built-in GIO extension, among them the unix volume monitor, which reads
 * the mount table with libmount. Debian ships no libmount.a; the agent
 * lists no mounts. These report an empty, unreadable mount table.
 *
 * libpcre2: GObject's boxed types name GRegex, which compiles patterns
 * with pcre2. Nothing in the engine or in this project's plugins uses
 * GRegex; left in, pcre2 is 590 KiB of the agent's 3.9 MiB. Here every
 * pattern fails to compile, so g_regex_new() returns an error.
 *
 * Only mitogen-agent-static links this file; the dynamically linked agent
 * and the library use the real libraries.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <stddef.h>

#include <libmount/libmount.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

/* ---- libmount: an empty mount table ------------------------------------- */

struct libmnt_table *mnt_new_table (void) { return NULL; }
void mnt_free_table (struct libmnt_table *tb) { }
struct libmnt_iter *mnt_new_iter (int direction) { return NULL; }
void mnt_free_iter (struct libmnt_iter *itr) { }
int mnt_table_parse_fstab (struct libmnt_table *tb, const char *filename) { return -1; }
int mnt_table_parse_mtab (struct libmnt_table *tb, const char *filename) { return -1; }
/* 1: the end of the table. */
int mnt_table_next_fs (struct libmnt_table *tb, struct libmnt_iter *itr, struct libmnt_fs **fs) { return 1; }
const char *mnt_fs_get_fstype (struct libmnt_fs *fs) { return NULL; }
const char *mnt_fs_get_options (struct libmnt_fs *fs) { return NULL; }
const char *mnt_fs_get_root (struct libmnt_fs *fs) { return NULL; }
const char *mnt_fs_get_source (struct libmnt_fs *fs) { return NULL; }
const char *mnt_fs_get_target (struct libmnt_fs *fs) { return NULL; }
char *mnt_fs_strdup_options (struct libmnt_fs *fs) { return NULL; }
const struct libmnt_optmap *mnt_get_builtin_optmap (int id) { return NULL; }
const char *mnt_get_fstab_path (void) { return "/etc/fstab"; }
int mnt_has_regular_mtab (const char **mtab, int *writable) { return 0; }
int mnt_optstr_get_flags (const char *optstr, unsigned long *flags,
                          const struct libmnt_optmap *map) { return -1; }

/* ---- pcre2: no pattern compiles ----------------------------------------- */

pcre2_code *
pcre2_compile_8 (PCRE2_SPTR pattern, PCRE2_SIZE length, uint32_t options, int *errorcode,
                 PCRE2_SIZE *erroroffset, pcre2_compile_context *ccontext)
{
  *errorcode = PCRE2_ERROR_INTERNAL;
  *erroroffset = 0;
  return NULL;
}

int
pcre2_get_error_message_8 (int errorcode, PCRE2_UCHAR *buffer, PCRE2_SIZE bufflen)
{
  static const char why[] = "regular expressions are not built into this agent";

  if (bufflen < sizeof why)
    return PCRE2_ERROR_NOMEMORY;
  for (size_t i = 0; i < sizeof why; i++)
    buffer[i] = why[i];
  return sizeof why - 1;
}

/* Never reached without a compiled pattern; they fail all the same. */
void pcre2_code_free_8 (pcre2_code *code) { }
pcre2_compile_context *pcre2_compile_context_create_8 (pcre2_general_context *gcontext) { return NULL; }
void pcre2_compile_context_free_8 (pcre2_compile_context *ccontext) { }
int pcre2_config_8 (uint32_t what, void *where) { return PCRE2_ERROR_BADOPTION; }
int pcre2_set_bsr_8 (pcre2_compile_context *ccontext, uint32_t value) { return 0; }
int pcre2_set_newline_8 (pcre2_compile_context *ccontext, uint32_t value) { return 0; }
int pcre2_jit_compile_8 (pcre2_code *code, uint32_t options) { return PCRE2_ERROR_JIT_BADOPTION; }
int pcre2_pattern_info_8 (const pcre2_code *code, uint32_t what, void *where) { return PCRE2_ERROR_NULL; }
pcre2_match_context *pcre2_match_context_create_8 (pcre2_general_context *gcontext) { return NULL; }
void pcre2_match_context_free_8 (pcre2_match_context *mcontext) { }
pcre2_match_data *pcre2_match_data_create_8 (uint32_t ovecsize, pcre2_general_context *gcontext) { return NULL; }
pcre2_match_data *pcre2_match_data_create_from_pattern_8 (const pcre2_code *code,
                                                          pcre2_general_context *gcontext) { return NULL; }
void pcre2_match_data_free_8 (pcre2_match_data *match_data) { }
uint32_t pcre2_get_ovector_count_8 (pcre2_match_data *match_data) { return 0; }
PCRE2_SIZE *pcre2_get_ovector_pointer_8 (pcre2_match_data *match_data) { return NULL; }
int pcre2_substring_nametable_scan_8 (const pcre2_code *code, PCRE2_SPTR name,
                                      PCRE2_SPTR *first, PCRE2_SPTR *last) { return PCRE2_ERROR_NOSUBSTRING; }
int pcre2_substring_number_from_name_8 (const pcre2_code *code, PCRE2_SPTR name) { return PCRE2_ERROR_NOSUBSTRING; }

int
pcre2_match_8 (const pcre2_code *code, PCRE2_SPTR subject, PCRE2_SIZE length, PCRE2_SIZE startoffset,
               uint32_t options, pcre2_match_data *match_data, pcre2_match_context *mcontext)
{
  return PCRE2_ERROR_NULL;
}

int
pcre2_jit_match_8 (const pcre2_code *code, PCRE2_SPTR subject, PCRE2_SIZE length, PCRE2_SIZE startoffset,
                   uint32_t options, pcre2_match_data *match_data, pcre2_match_context *mcontext)
{
  return PCRE2_ERROR_NULL;
}

int
pcre2_dfa_match_8 (const pcre2_code *code, PCRE2_SPTR subject, PCRE2_SIZE length, PCRE2_SIZE startoffset,
                   uint32_t options, pcre2_match_data *match_data, pcre2_match_context *mcontext,
                   int *workspace, PCRE2_SIZE wscount)
{
  return PCRE2_ERROR_NULL;
}
