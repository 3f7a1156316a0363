import { IoController } from '../../../lib/plugin/io/lib/controller';
import { SocketReply } from '../outbox';
import * as schemas from '../../../lib/schemas/message';
import * as features from '../../../lib/schemas/features';

/**
 * The `to` schema for the configured limits, built once per limits: building a zod schema is far
 * dearer than using one (it showed in the send path's profile).
 */
let cachedSend: { key: string; schema: ReturnType<typeof schemas.sendMessage> } | null = null;
function sendSchemaFor(limits: schemas.MessageLimits) {
  const key = `${limits.maxContentBytes}:${limits.maxExtraBytes}`;
  if (cachedSend?.key !== key) cachedSend = { key, schema: schemas.sendMessage({ maxContentBytes: limits.maxContentBytes, maxExtraBytes: limits.maxExtraBytes }) };
  return cachedSend.schema;
}

let cachedEdit: { max: number; schema: ReturnType<typeof features.edit> } | null = null;
function editSchemaFor(maxContentBytes: number) {
  if (cachedEdit?.max !== maxContentBytes) cachedEdit = { max: maxContentBytes, schema: features.edit(maxContentBytes) };
  return cachedEdit.schema;
}

/** /chat messaging events (PROTOCOL §4, §8). Each parses, calls the message engine and replies. */
export default class ChatController extends IoController {
  private get socket() {
    return this.ctx.chatSocket;
  }

  private get me() {
    return this.socket.data.userId;
  }

  async to() {
    await this.app.outbox.answer(this.ctx, { event: 'to', reply: 'to_ack', schema: sendSchemaFor(this.config.message) },
      input => this.app.messages.send(this.me, input, this.socket.id));
  }

  async ack() {
    await this.app.outbox.answer(this.ctx, { event: 'c_message_ack', schema: schemas.messageAck, coalesced: true },
      refs => this.app.messages.ack(this.me, refs, this.socket.id));
  }

  async offline() {
    await this.app.outbox.answer(this.ctx, { event: 'offline_message', reply: 'offline_message' }, async () => {
      const { messages, more } = await this.app.messages.pull(this.me);
      return new SocketReply(messages, more ? { more: true } : undefined);
    });
  }

  async recent() {
    await this.app.outbox.answer(this.ctx, { event: 'recent_conversation', reply: 'recent_conversation' },
      () => this.service.conversation.recent(this.me));
  }

  async history() {
    await this.app.outbox.answer(this.ctx, { event: 'history_message', reply: 'history_message', schema: schemas.history },
      input => this.app.messages.history(this.me, input));
  }

  async read() {
    await this.app.outbox.answer(this.ctx, { event: 'to_reader', schema: schemas.readReceipt, coalesced: true },
      input => this.app.messages.read(this.me, input, this.socket.id));
  }

  async receipts() {
    await this.app.outbox.answer(this.ctx, { event: 'readed_message', reply: 'to_reader' },
      () => this.app.messages.queuedReceipts(this.me));
  }

  async typing() {
    await this.app.outbox.answer(this.ctx, { event: 'to_typing', schema: schemas.typing, coalesced: true }, async input => {
      if (input.typeu === 2) await this.service.presence.roomTyping(this.me, input.to);
      else await this.service.presence.typing(this.me, input.to);
    });
  }

  async recall() {
    await this.app.outbox.answer(this.ctx, { event: 'to_undo', reply: 'to_ack', schema: schemas.recall },
      ref => this.app.messages.recall(this.me, ref, this.socket.id));
  }

  // ---- §8 message features

  async edit() {
    await this.app.outbox.answer(this.ctx, { event: 'to_edit', reply: 'to_ack', schema: editSchemaFor(this.config.message.maxContentBytes) },
      input => this.app.messages.edit(this.me, input, this.socket.id));
  }

  async react() {
    await this.app.outbox.answer(this.ctx, { event: 'to_react', reply: 'to_ack', schema: features.react },
      input => this.app.messages.react(this.me, input, this.socket.id));
  }

  async pin() {
    await this.app.outbox.answer(this.ctx, { event: 'to_pin', reply: 'to_ack', schema: features.pin },
      input => this.app.messages.pin(this.me, input, this.socket.id));
  }

  async syncChanges() {
    await this.app.outbox.answer(this.ctx, { event: 'sync_changes', reply: 'sync_changes', schema: features.syncChanges },
      input => this.app.messages.syncChanges(this.me, input.cursor));
  }
}
