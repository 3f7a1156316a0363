/**
 * What changes a message's content: edits (§8 `to_edit`) and recalls (§4 `to_undo`), and the quotes
 * of replies, which follow a recall (§8: once a message is recalled, every reader of a reply to it
 * sees `excerpt: ''`). Each goes through the mutations (app/message/mutations.ts).
 */
import type { Model } from 'mongoose';
import { AppError, ErrorCode } from '../../lib/errors';
import { oid } from '../../lib/ids';
import { findByIds } from '../../lib/coalescing-loader';
import { isRoom } from '../../lib/conversation-ids';
import type { MessageRef } from '../../lib/schemas/message';
import type { EditInput } from '../../lib/schemas/features';
import type { WireMessage } from '../../lib/schemas/wire';
import { MessageType, type MessageDoc } from '../model/message';
import type { RoomDoc } from '../model/room';
import type { PinDoc } from '../model/pin';
import type { Outbox } from '../io/outbox';
import type { MessageMutations } from './mutations';
import type { DeliveryWriter } from './delivery-writer';
import type { PointerWriter } from './pointer-writer';
import { indexTerms } from './search-index';

export const isRecalled = (type: number) => type === MessageType.RECALLED_TEXT || type === MessageType.RECALLED_OTHER;

/** what a recall takes away with the content (§8 fields included: a recall marker quotes, mentions and shows nothing) */
const RECALL_CLEARS = [ 'extra', 'replyTo', 'mentions', 'reactions', 'pinnedBy', 'pinnedAt', 'terms', 'editedAt' ];

export class Edits {
  constructor(private readonly deps: {
    mutations: MessageMutations;
    models: () => { Message: Model<MessageDoc>; Room: Model<RoomDoc>; Pin: Model<PinDoc> };
    config: { editWindowS: number; recallWindow: number };
    search: { indexedChars: number; maxTerms: number };
    outbox: Outbox;
    delivery: DeliveryWriter;
    pointers: PointerWriter;
    logError: (msg: string, err: unknown) => void;
  }) {}

  /** The terms a text message is found by (app/message/search-index.ts). */
  terms(content: string): string[] {
    return indexTerms(content, { maxChars: this.deps.search.indexedChars, maxTerms: this.deps.search.maxTerms });
  }

  /**
   * `to_edit`: the sender's own text message, not recalled, within `editWindowS` (0: any time), gets
   * new content and `editedAt`; the same content changes nothing.
   */
  async edit(userId: string, input: EditInput, socketId?: string): Promise<WireMessage> {
    const windowMs = this.deps.config.editWindowS * 1000;
    const { wire } = await this.deps.mutations.apply(input._id, doc => {
      if (String(doc.from) !== userId) throw new AppError(ErrorCode.CHAT_FAILED, 'not your message');
      if (doc.type !== MessageType.TEXT) throw new AppError(ErrorCode.CHAT_FAILED, isRecalled(doc.type) ? 'this message was recalled' : 'only text messages can be edited');
      if (windowMs && Date.now() - new Date(doc.sendTime).getTime() > windowMs) throw new AppError(ErrorCode.CHAT_FAILED, 'too late to edit this message');
      if (doc.content === input.content) return null;
      const terms = this.terms(input.content);
      return { kind: 'edit', set: { content: input.content, editedAt: new Date(), ...(terms.length ? { terms } : {}) }, unset: terms.length ? [] : [ 'terms' ] };
    }, { socketId });
    return wire;
  }

  /**
   * `to_undo`: the sender within the recall window, or a room's owner at any time, turns the
   * message into a recall marker; recipients get it as `c_message` with the same `_id` and `fp`
   * (§4), and every member's devices `c_message_update` (§8). A recalled message is not pinned, and
   * mentions nobody any more; replies to it lose their quote (after the answer).
   */
  async recall(userId: string, ref: MessageRef, socketId?: string): Promise<WireMessage> {
    const { Message, Room, Pin } = this.deps.models();
    let id = ref._id;
    if (!id) {
      const found = await Message.findOne({ from: oid(userId), fp: ref.fp! }, { _id: 1 }).lean<{ _id: unknown }>();
      if (!found) throw new AppError(ErrorCode.NOT_FOUND, 'message not found');
      id = String(found._id);
    }
    const windowMs = this.deps.config.recallWindow * 1000;
    const applied = await this.deps.mutations.apply(id, async doc => {
      const mine = String(doc.from) === userId;
      let allowed = mine && Date.now() - new Date(doc.sendTime).getTime() <= windowMs;
      if (!allowed && isRoom(doc.typeu)) allowed = !!await Room.exists({ _id: doc.to, owner: oid(userId) });
      if (!allowed) throw new AppError(ErrorCode.CHAT_FAILED, mine ? 'too late to recall this message' : 'not your message');
      if (isRecalled(doc.type)) return null;
      return { kind: 'recall', set: { type: doc.type === MessageType.TEXT ? MessageType.RECALLED_TEXT : MessageType.RECALLED_OTHER, content: '' }, unset: RECALL_CLEARS };
    }, { socketId });
    if (!applied.changed) return applied.wire;
    // §4: recipients get the marker as `c_message`, the sender's other devices with meta.sync
    this.deps.outbox.message(applied.wire, socketId);
    const { before } = applied;
    if (before.pinnedBy) await Pin.deleteOne({ _id: before._id });
    for (const m of before.mentions ?? []) {
      if (m === 'all') this.deps.pointers.unmentionAll(before.conversationId, [ before.seq ]);
      else this.deps.delivery.unmention(m, before.conversationId, [ before.seq ]);
    }
    this.clearQuotes(before.conversationId, String(before._id)).catch(err => this.deps.logError('[message] quotes of a recalled message not cleared', err));
    return applied.wire;
  }

  /**
   * Replies stored while the message they quote was being recalled kept its excerpt: a look at the
   * quoted messages after the commit (only for replies) clears those.
   */
  async checkQuotes(replies: MessageDoc[]) {
    const quoted = [ ...new Set(replies.map(r => String(r.replyTo!._id))) ];
    const { Message } = this.deps.models();
    const originals = await findByIds(quoted,
      id => Message.findById(id, { type: 1 }).lean<Pick<MessageDoc, '_id' | 'type'>>(),
      ids => Message.find({ _id: { $in: ids.map(oid) } }, { type: 1 }).lean<Array<Pick<MessageDoc, '_id' | 'type'>>>());
    for (const r of replies) {
      const original = originals.get(String(r.replyTo!._id));
      if (!original || isRecalled(original.type)) await this.clearQuote(String(r._id));
    }
  }

  /** Every reply to a recalled message loses its excerpt (each a change of its own: readers of it learn). */
  private async clearQuotes(conversationId: string, messageId: string) {
    const replies = await this.deps.models().Message.find({ conversationId, 'replyTo._id': oid(messageId) }, { _id: 1 }).lean<Array<{ _id: unknown }>>();
    for (const r of replies) await this.clearQuote(String(r._id));
  }

  private async clearQuote(replyId: string) {
    await this.deps.mutations.apply(replyId, doc => (doc.replyTo && doc.replyTo.excerpt !== '' ? { kind: 'quote', set: { 'replyTo.excerpt': '' } } : null));
  }
}
