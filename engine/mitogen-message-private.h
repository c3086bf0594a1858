/* mitogen-message-private.h: message internals and the frame codec.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "mitogen-private.h"
#include "mitogen-flow-private.h"

G_BEGIN_DECLS

#define MITOGEN_MAGIC 0x4d49

/* What a message body holds. The body is always the GVariant "(yv)":
 * a kind byte, then the value, the error record (a{sv}) or the dead
 * reason (s). So a reply is a value, an error or a dead end without
 * guessing from its type. */
typedef enum {
  MITOGEN_BODY_VALUE = 0,
  MITOGEN_BODY_ERROR = 1,
  MITOGEN_BODY_DEAD  = 2,
} MitogenBodyKind;

/* The bootstrap and ready frames use this handle; they are never routed. */
#define MITOGEN_HANDLE_BOOTSTRAP 0

struct _MitogenMessage
{
  gatomicrefcount    ref_count;
  guint32            dst_id;
  guint32            src_id;
  guint32            auth_id;
  guint32            handle;
  guint32            reply_to;
  /* The body, decoded: its kind (a MitogenBodyKind) and its value. Set at
   * creation, or decoded lazily: @kind is stored before @value is
   * published by an atomic CAS, and read after it. */
  gint               kind;
  GVariant          *value;
  /* A call built here: the function and its arguments, which the
   * envelope codec writes without building the "(sv)" @value, made only
   * when something asks for it. */
  char              *call_function; /* owned, nullable; set at creation or on receipt */
  GVariant          *call_args;     /* owned, nullable; as @call_function */
  /* Body, encoded by @serializer; set on receipt or on first write. */
  GBytes            *data;
  MitogenSerializer *serializer;  /* owned, nullable; what encoded @data */
  gboolean           src_fixed;   /* TRUE once src/auth were stamped */
  /* The budget of the stream that read it, charged until the message is
   * taken by its reader or freed. */
  MitogenFlow       *flow;        /* owned, nullable; set once on receipt */
  gsize              charge;      /* atomic: bytes of @flow still held */
  /* Set before it is routed, for a message that carries a secret (a
   * connect's password): its encoded form is cleared when freed. */
  gboolean           sensitive;
};

typedef struct
{
  guint32 dst_id;
  guint32 src_id;
  guint32 auth_id;
  guint32 handle;
  guint32 reply_to;
  guint32 length;
} MitogenFrameHeader;

void            _mitogen_frame_header_encode (guint8                   out[MITOGEN_HEADER_SIZE],
                                              const MitogenFrameHeader *hdr);
gboolean        _mitogen_frame_header_decode (const guint8             *in,
                                              gsize                     max_length,
                                              MitogenFrameHeader       *hdr,
                                              GError                  **error);

MitogenMessage *_mitogen_message_new_from_frame (const MitogenFrameHeader *hdr,
                                                 GBytes                   *data,
                                                 MitogenSerializer        *serializer);
MitogenMessage *_mitogen_message_new_body    (guint32            dst_id,
                                              guint32            handle,
                                              MitogenBodyKind    kind,
                                              GVariant          *inner);
/* Encodes the body with @serializer (cached when it is the message's). */
GBytes         *_mitogen_message_encode      (MitogenMessage    *msg,
                                              MitogenSerializer *serializer,
                                              GError           **error);
/* The same, as pieces that may share the value's memory (large values are
 * not copied); not cached in the message. */
GPtrArray      *_mitogen_message_encode_chunks (MitogenMessage    *msg,
                                                MitogenSerializer *serializer,
                                                GError           **error);
/* A call request to @dst_id's @handle: @function with @args (a tuple or
 * NULL for none). */
MitogenMessage *_mitogen_message_new_call    (guint32            dst_id,
                                              guint32            handle,
                                              const char        *function,
                                              GVariant          *args);
/* Decodes the body (cached): FALSE when it is undecodable. On receipt,
 * before the message is shared with another thread: a call's function and
 * arguments may be stored in it. */
gboolean        _mitogen_message_decode      (MitogenMessage    *msg,
                                              GError           **error);
/* The function's name and arguments of a call request (transfer full). */
gboolean        _mitogen_message_get_call    (MitogenMessage    *msg,
                                              char             **function,
                                              GVariant         **args,
                                              GError           **error);
/* A dead reply to @msg (to its src_id and reply_to), or NULL when @msg
 * asks for no reply or is dead itself. */
MitogenMessage *_mitogen_message_make_dead_reply (MitogenMessage *msg,
                                                  const char     *reason);
MitogenMessage *_mitogen_message_make_reply  (MitogenMessage    *msg,
                                              GVariant          *value);
MitogenMessage *_mitogen_message_make_error_reply (MitogenMessage *msg,
                                                   const GError   *error,
                                                   const char     *context_name,
                                                   const char     *function);
/* For an error reply raised with a MITOGEN_ERROR code, that code; else
 * @fallback. */
int             _mitogen_message_get_remote_code (MitogenMessage *msg,
                                                  int             fallback);
/* The record a context sends for @error, naming where it was raised. */
GVariant       *_mitogen_error_record_new    (const GError     *error,
                                              const char       *context_name,
                                              const char       *function);
/* Sets @error from a record (a{sv}) a peer sent, checking every field:
 * "context NAME: FUNCTION: TEXT" in the remote domain and code, or
 * MITOGEN_ERROR_CALL / _PROTOCOL when those are unknown or malformed. */
void            _mitogen_error_record_to_error (GError          **error,
                                                GVariant         *record);
/* A record's remote domain and code, when both are well formed and known. */
gboolean        _mitogen_error_record_get_code (GVariant         *record,
                                                GQuark           *domain,
                                                gint             *code);
/* Broker thread, on receipt: @msg holds @charge bytes of @flow (charged
 * already) until it is discharged or freed. */
void            _mitogen_message_hold_charge (MitogenMessage    *msg,
                                              MitogenFlow       *flow,
                                              gsize              charge);
/* Any thread: the message's reader has it now; give its stream's budget
 * back. Once only; later calls do nothing. */
void            _mitogen_message_discharge   (MitogenMessage    *msg);
/* Raw bytes frames (bootstrap/ready) carry a plain GVariant, not a body. */
MitogenMessage *_mitogen_message_new_raw     (guint32            dst_id,
                                              guint32            src_id,
                                              guint32            handle,
                                              GBytes            *data);

G_END_DECLS
