/* mitogen-sender.c: sends values to a handle in some context.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "mitogen-message-private.h"
#include "mitogen-private.h"

/**
 * MitogenSender:
 *
 * The sending end of a stream of values to a receiver's handle in some
 * context. mitogen_sender_close() tells the receiver that nothing more
 * will come.
 */
struct _MitogenSender
{
  GObject         parent_instance;

  MitogenContext *context;  /* owned; immutable: where the receiver lives */
  guint32         handle;   /* immutable */
};

G_DEFINE_FINAL_TYPE (MitogenSender, mitogen_sender, G_TYPE_OBJECT)

static void
mitogen_sender_finalize (GObject *object)
{
  MitogenSender *self = MITOGEN_SENDER (object);

  g_clear_object (&self->context);
  G_OBJECT_CLASS (mitogen_sender_parent_class)->finalize (object);
}

static void
mitogen_sender_class_init (MitogenSenderClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = mitogen_sender_finalize;
}

static void
mitogen_sender_init (MitogenSender *self)
{
}

/**
 * mitogen_sender_new:
 * @context: the context where the receiver lives
 * @handle: the receiver's handle
 *
 * Creates a sender that addresses messages to @handle in @context. It does
 * not check that anything listens there: messages to a missing receiver
 * come back dead.
 *
 * Returns: (transfer full): a new sender
 */
MitogenSender *
mitogen_sender_new (MitogenContext *context,
                    guint32         handle)
{
  MitogenSender *self;

  g_return_val_if_fail (MITOGEN_IS_CONTEXT (context), NULL);

  self = g_object_new (MITOGEN_TYPE_SENDER, NULL);
  self->context = g_object_ref (context);
  self->handle = handle;
  return self;
}

/**
 * mitogen_sender_get_context:
 * @sender: a sender
 *
 * Gets the context the sender addresses.
 *
 * Returns: (transfer none): the context the sender sends to
 */
MitogenContext *
mitogen_sender_get_context (MitogenSender *sender)
{
  g_return_val_if_fail (MITOGEN_IS_SENDER (sender), NULL);
  return sender->context;
}

/**
 * mitogen_sender_get_handle:
 * @sender: a sender
 *
 * Gets the handle in the destination context the sender addresses.
 *
 * Returns: the handle the sender sends to
 */
guint32
mitogen_sender_get_handle (MitogenSender *sender)
{
  g_return_val_if_fail (MITOGEN_IS_SENDER (sender), 0);
  return sender->handle;
}

/**
 * mitogen_sender_send:
 * @sender: a sender
 * @value: (nullable): the value; %NULL sends `()`
 * @error: return location for an error
 *
 * Sends a value to the receiver.
 *
 * Returns: %TRUE when it was passed on
 */
gboolean
mitogen_sender_send (MitogenSender  *sender,
                     GVariant       *value,
                     GError        **error)
{
  g_autoptr(MitogenMessage) msg = NULL;

  g_return_val_if_fail (MITOGEN_IS_SENDER (sender), FALSE);

  msg = mitogen_message_new (0, sender->handle, value);
  return mitogen_context_send (sender->context, msg, error);
}

/**
 * mitogen_sender_close:
 * @sender: a sender
 *
 * Sends a dead message: the receiver's next get fails with
 * %MITOGEN_ERROR_CHANNEL once it has taken what came before.
 */
void
mitogen_sender_close (MitogenSender *sender)
{
  g_autoptr(MitogenMessage) msg = NULL;

  g_return_if_fail (MITOGEN_IS_SENDER (sender));

  msg = mitogen_message_new_dead (0, sender->handle, "the sender was closed");
  mitogen_context_send (sender->context, msg, NULL);
}
