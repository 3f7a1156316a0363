import { Controller } from 'egg';
import { ioSocket } from '../../../lib/plugin/io/lib/server';
import { SocketReply } from '../../extend/context';
import * as schemas from '../../../lib/schemas/message';
import type { ChatSocketData } from '../middleware/chat_auth';

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

/** /chat messaging events (PROTOCOL §4). Each parses, calls the message service and replies. */
export default class ChatController extends Controller {
  private get me() {
    return (ioSocket(this.ctx).data as ChatSocketData).userId;
  }

  private get sendSchema() {
    return sendSchemaFor(this.config.message);
  }

  async to() {
    await this.ctx.socketEvent({ event: 'to', reply: 'to_ack', schema: this.sendSchema },
      input => this.service.message.send(this.me, input, ioSocket(this.ctx).id));
  }

  async ack() {
    await this.ctx.socketEvent({ event: 'c_message_ack', schema: schemas.messageAck },
      refs => this.service.message.markDelivered(this.me, refs));
  }

  async offline() {
    await this.ctx.socketEvent({ event: 'offline_message', reply: 'offline_message' }, async () => {
      const { messages, more } = await this.service.message.pullOffline(this.me);
      return new SocketReply(messages, more ? { more: true } : undefined);
    });
  }

  async recent() {
    await this.ctx.socketEvent({ event: 'recent_conversation', reply: 'recent_conversation' },
      () => this.service.conversation.recent(this.me));
  }

  async history() {
    await this.ctx.socketEvent({ event: 'history_message', reply: 'history_message', schema: schemas.history },
      input => this.service.message.history(this.me, input));
  }

  async read() {
    await this.ctx.socketEvent({ event: 'to_reader', schema: schemas.readReceipt },
      input => this.service.message.markRead(this.me, input));
  }

  async receipts() {
    await this.ctx.socketEvent({ event: 'readed_message', reply: 'to_reader' },
      () => this.service.message.pullReceipts(this.me));
  }

  async typing() {
    await this.ctx.socketEvent({ event: 'to_typing', schema: schemas.typing }, input => this.service.message.typing(this.me, input.to));
  }

  async recall() {
    await this.ctx.socketEvent({ event: 'to_undo', reply: 'to_ack', schema: schemas.recall },
      ref => this.service.message.recall(this.me, ref, ioSocket(this.ctx).id));
  }
}
