import { Service } from 'egg';
import type { AnyBulkWriteOperation } from 'mongoose';
import { oid } from '../../lib/ids';
import { bulkWriteInChunks } from '../../lib/bulk-write';
import { AppError, ErrorCode } from '../../lib/errors';
import { socketEnvelope } from '../../lib/envelope';
import { Actions } from '../../lib/actions';
import { socketRooms } from '../../lib/socket-rooms';
import { toWire, type WireMessage } from '../../lib/timeline';
import { MessageType, type MessageDoc } from '../model/message';
import { membershipId, type MembershipDoc } from '../model/membership';
import { deliverMessage } from '../message/delivery';
import type { ReceiptDoc } from '../model/receipt';
import type { SystemNotice } from './notice';
import type { HistoryInput, MessageRef, ReadReceiptInput, SendMessageInput } from '../../lib/schemas/message';

export interface ReceiptItem {
  _id: string;
  fp: string;
  timelineId: string;
  typeu: number;
  seq: number;
  readed: string[];
}

type Located = Pick<MessageDoc, '_id' | 'conversationId' | 'seq' | 'from'>;

/** Messages: sending, delivery state, pulls, history, receipts, recalls (PROTOCOL §4, §6). */
export default class MessageService extends Service {
  private get chat() {
    return this.app.io.of('/chat');
  }

  /**
   * Stores a message (group commit), then delivers it: `c_message` to the recipients and, with
   * `meta.sync`, to the sender's other sockets. A retried fp returns the stored message and
   * delivers nothing.
   */
  async send(userId: string, input: SendMessageInput, socketId?: string): Promise<WireMessage> {
    if (input.from !== undefined && input.from !== userId) throw new AppError(ErrorCode.AUTH_FAILED, '`from` is not the token\'s user');
    // the committer delivers a new message itself, before it becomes visible to pulls
    return (await this.app.messageCommitter.submit({ from: userId, input, socketId })).message;
  }


  /**
   * `c_message_ack`: the named messages count as delivered to this user, and only they: an ack
   * never covers an earlier message this user has not acked. Acked system notices too. Resolves
   * once stored (group-committed with other acks).
   */
  async markDelivered(userId: string, refs: MessageRef[]) {
    if (!refs.length) return;
    const messages = await this.locate(userId, refs);
    const found = new Set(messages.map(m => String(m._id)));
    // ids that are not messages may be system notices
    const others = refs.filter(r => r._id && !found.has(r._id)).map(r => r._id!);
    const bySeq = new Map<string, number[]>();
    for (const m of messages) {
      const seqs = bySeq.get(m.conversationId);
      if (seqs) seqs.push(m.seq); else bySeq.set(m.conversationId, [ m.seq ]);
    }
    await Promise.all([
      others.length ? this.service.notice.markDelivered(userId, others) : null,
      // the membership decides: a conversation this user is not in has none, and nothing is marked
      ...[ ...bySeq ].map(([ conversationId, seqs ]) => this.app.deliveryWriter.markAcked(userId, conversationId, seqs)),
    ]);
  }

  /**
   * Messages by `_id` (recently stored ones from memory, the rest by `_id` from the database), or
   * by `fp` among those sent to or by this user (an fp is unique per sender only).
   */
  private async locate(userId: string, refs: MessageRef[]): Promise<Located[]> {
    const { Message } = this.ctx.model;
    const index = this.app.messageCommitter.recent;
    const out: Located[] = [];
    const missing: string[] = [];
    for (const r of refs) {
      if (!r._id) continue;
      const hit = index.get(r._id);
      if (hit) out.push(hit); else missing.push(r._id);
    }
    const fps = refs.filter(r => !r._id && r.fp).map(r => r.fp!);
    const projection = { conversationId: 1, seq: 1, from: 1 };
    const [ byId, byFp ] = await Promise.all([
      // by `_id` alone, one at a time: the lookup FerretDB does without a scan
      Promise.all([ ...new Set(missing) ].map(id => Message.findById(id, projection).lean<Located>())),
      fps.length ? Message.find({ fp: { $in: fps } }, projection).limit(fps.length * 4).lean<Located[]>() : [],
    ]);
    for (const m of byId) if (m) out.push(m);
    // c2c: the user must be one of the two; c2g: the membership decides later (a stranger has none)
    for (const m of byFp) if (!m.conversationId.includes('@') || m.conversationId.split('@').includes(userId)) out.push(m);
    return out;
  }

  /**
   * `offline_message`: what this user has not acked yet, oldest first, one page: messages and
   * system notices. The seq registry says which conversations have anything past the user's
   * cursor; only those are read from the messages, in one query.
   */
  async pullOffline(userId: string): Promise<{ messages: Array<WireMessage | SystemNotice>; more: boolean }> {
    const pageSize = this.config.message.offlinePageSize;
    // this user's acks still being written must count
    await this.app.deliveryWriter.settled(userId);
    const [ messages, notices ] = await Promise.all([
      this.undelivered(userId, pageSize + 1),
      this.service.notice.pendingFor(userId, pageSize + 1),
    ]);
    const all = [ ...messages, ...notices ].sort((a, b) => ('sendTime' in a ? a.sendTime : a.time) - ('sendTime' in b ? b.sendTime : b.time));
    return { messages: all.slice(0, pageSize), more: all.length > pageSize };
  }

  private async undelivered(userId: string, limit: number): Promise<WireMessage[]> {
    const { Message } = this.ctx.model;
    const memberships = await this.app.loaders.memberships.load(userId) ?? [];
    if (!memberships.length) return [];
    const last = await this.service.conversation.lastSeqs(memberships.map(m => m.conversationId));
    const pending = memberships.filter(m => {
      this.app.deliveryWriter.observe(m);
      const top = last.get(m.conversationId) ?? 0;
      const ackedAbove = new Set((m.acked ?? []).filter(s => s > m.deliveredSeq && s <= top)).size;
      return top - m.deliveredSeq > ackedAbove;
    });
    if (!pending.length) return [];
    const skip = new Set<string>();
    let skipCount = 0;
    for (const m of pending) {
      for (const h of m.hidden ?? []) skip.add(String(h));
      skipCount += (m.acked?.length ?? 0) + (m.hidden?.length ?? 0);
    }
    // what is pending is mostly recent: conversations the recent-messages cache covers are not read
    const { history } = this.app.messageCommitter;
    const cached: WireMessage[] = [];
    const uncovered: typeof pending = [];
    await Promise.all(pending.map(async m => {
      const top = last.get(m.conversationId)!;
      const page = top - m.deliveredSeq <= 100 ? await history.page(m.conversationId, top, m.deliveredSeq, top + 1, top - m.deliveredSeq) : null;
      if (page) cached.push(...page); else uncovered.push(m);
    }));
    const read = uncovered.length ? (await Message.find({
      $or: uncovered.map(m => ({ conversationId: m.conversationId, seq: { $gt: m.deliveredSeq, $lte: last.get(m.conversationId)! } })),
    }).sort({ sendTime: 1, conversationId: 1, seq: 1 }).limit(limit + skipCount).lean<MessageDoc[]>()).map(toWire) : [];
    const docs = [ ...read, ...cached ].sort((a, b) => a.sendTime - b.sendTime || (a.conversationId < b.conversationId ? -1 : a.conversationId > b.conversationId ? 1 : a.seq - b.seq));
    const acked = new Map(pending.map(m => [ m.conversationId, new Set(m.acked ?? []) ]));
    const out: WireMessage[] = [];
    const own = new Map<string, number[]>();
    for (const d of docs) {
      if (d.from === userId) {
        // the user's own message not yet folded into their cursor: it is done for them
        const seqs = own.get(d.conversationId);
        if (seqs) seqs.push(d.seq); else own.set(d.conversationId, [ d.seq ]);
        continue;
      }
      if (acked.get(d.conversationId)!.has(d.seq)) continue;
      if (skip.has(d._id)) continue;
      out.push(d);
    }
    for (const [ conversationId, seqs ] of own) {
      this.app.deliveryWriter.markAcked(userId, conversationId, seqs).catch(() => undefined);
    }
    return out.slice(0, limit);
  }

  /**
   * `history_message` / `GET /api/messages`: newest first, before a seq (cursor mode) or by page
   * (page 1 = newest). Messages from before the user joined a room, or hidden by them, are not shown.
   */
  async history(userId: string, input: HistoryInput) {
    const { conversationId, membership } = await this.ctx.service.conversation.resolveTimeline(userId, input.timelineId, input.typeu);
    const filter: Record<string, unknown> = { conversationId, seq: { $gt: membership?.joinedSeq ?? 0 } };
    if (membership?.hidden?.length) filter._id = { $nin: membership.hidden };
    const { Message } = this.ctx.model;
    if (input.page !== undefined) {
      const size = this.config.message.historyPageSize;
      const [ total, docs ] = await Promise.all([
        Message.countDocuments(filter),
        Message.find(filter).sort({ seq: -1 }).skip((input.page - 1) * size).limit(size).lean<MessageDoc[]>(),
      ]);
      return { currentPage: input.page, lastPage: Math.max(1, Math.ceil(total / size)), docs: docs.map(toWire) };
    }
    const limit = input.limit ?? 20;
    const joinedSeq = membership?.joinedSeq ?? 0;
    const hidden = !!membership?.hidden?.length;
    const lastSeq = (await this.app.seqRegistry.get([ conversationId ])).get(conversationId);
    const { history } = this.app.messageCommitter;
    if (!hidden && lastSeq !== undefined) {
      const cached = await history.page(conversationId, lastSeq, joinedSeq, input.before ?? Infinity, limit);
      if (cached) return cached;
    }
    if (input.before !== undefined) (filter.seq as Record<string, number>).$lt = input.before;
    const docs = (await Message.find(filter).sort({ seq: -1 }).limit(limit).lean<MessageDoc[]>()).map(toWire);
    if (!hidden && input.before === undefined && lastSeq !== undefined) await history.seed(conversationId, docs, lastSeq);
    return docs;
  }

  /**
   * `to_reader`: everything up to the named message counts as read for this user. The senders of
   * the newly read messages get `to_reader` receipts, or find them queued when they come back.
   */
  async markRead(userId: string, input: ReadReceiptInput) {
    let conversationId: string;
    let seq: number;
    if ('_id' in input) {
      const [ message ] = await this.locate(userId, [{ _id: input._id, fp: undefined }]);
      if (!message) throw new AppError(ErrorCode.NOT_FOUND, 'message not found');
      ({ conversationId, seq } = message);
    } else {
      ({ conversationId } = await this.ctx.service.conversation.resolveTimeline(userId, input.timelineId, input.typeu));
      seq = input.seq;
    }
    // receipts go out from the writer's flush (readReceipts below), once for reads that came together
    if (!await this.app.deliveryWriter.markRead(userId, conversationId, seq)) throw new AppError(ErrorCode.NOT_FOUND, 'message not found');
  }

  /**
   * Seqs (after, upTo] of a conversation became read by `readerId`: their senders get `to_reader`
   * receipts, or find them queued. The messages come from the recent-messages cache when it
   * covers them, else from one query.
   */
  async readReceipts(readerId: string, conversationId: string, after: number, upTo: number) {
    const last = (await this.app.seqRegistry.get([ conversationId ])).get(conversationId);
    const top = Math.min(upTo, last ?? upTo);
    if (top <= after) return;
    const cached = last === undefined ? null : await this.app.messageCommitter.history.page(conversationId, last, after, top + 1, Math.min(top - after, 500));
    const read = cached
      // the wire form has what a receipt needs (ids as strings)
      ? cached.filter(m => m.from !== readerId).reverse() as unknown as MessageDoc[]
      : await this.ctx.model.Message.find(
        { conversationId, seq: { $gt: after, $lte: top }, from: { $ne: oid(readerId) } },
        { fp: 1, from: 1, to: 1, typeu: 1, seq: 1, conversationId: 1 },
      ).sort({ seq: 1 }).limit(500).lean<MessageDoc[]>();
    await this.sendReceipts(readerId, read);
  }

  private async sendReceipts(readerId: string, read: MessageDoc[]) {
    const bySender = new Map<string, ReceiptItem[]>();
    for (const m of read) {
      const sender = String(m.from);
      const item: ReceiptItem = { _id: String(m._id), fp: m.fp, timelineId: m.typeu === 2 ? String(m.to) : `${m.from}@${m.to}`, typeu: m.typeu, seq: m.seq, readed: [ readerId ] };
      const items = bySender.get(sender);
      if (items) items.push(item); else bySender.set(sender, [ item ]);
    }
    if (!bySender.size) return;
    // one registry read for all the senders
    const online = await this.app.presenceRegistry.online([ ...bySender.keys() ]);
    const queued: Array<[string, ReceiptItem]> = [];
    for (const [ sender, items ] of bySender) {
      if (online.has(sender)) this.chat.to(socketRooms.user(sender)).emit('to_reader', socketEnvelope(Actions.to_reader, items));
      else for (const item of items) queued.push([ sender, item ]);
    }
    if (!queued.length) return;
    await bulkWriteInChunks(this.ctx.model.Receipt, queued.map(([ sender, item ]): AnyBulkWriteOperation => ({
      updateOne: {
        filter: { user: oid(sender), message: oid(item._id) },
        update: {
          $setOnInsert: { fp: item.fp, timelineId: item.timelineId, typeu: item.typeu, seq: item.seq, createdAt: new Date() },
          $addToSet: { readed: oid(readerId) } as never,
        },
        upsert: true,
      },
    })));
  }

  /** `readed_message`: the receipts queued while this user was offline, oldest first; the queue is then emptied. */
  async pullReceipts(userId: string): Promise<ReceiptItem[]> {
    const { Receipt } = this.ctx.model;
    const queued = await Receipt.find({ user: oid(userId) }).sort({ createdAt: 1, _id: 1 }).limit(1000).lean<ReceiptDoc[]>();
    if (!queued.length) return [];
    await Receipt.deleteMany({ _id: { $in: queued.map(r => r._id) } });
    return queued.map(r => ({ _id: String(r.message), fp: r.fp, timelineId: r.timelineId, typeu: r.typeu, seq: r.seq, readed: r.readed.map(String) }));
  }

  /** `to_typing`: c2c only, not stored; someone who blocked the typer is not told. */
  async typing(userId: string, peerId: string) {
    if (peerId === userId) return;
    if (await this.ctx.model.Block.exists({ user: oid(peerId), blocked: oid(userId) })) return;
    this.chat.to(socketRooms.user(peerId)).emit('to_typing', socketEnvelope(Actions.to_typing, { timelineId: `${userId}@${peerId}`, from: userId }));
  }

  /**
   * `to_undo`: the sender within the recall window, or a room's owner at any time, turns the
   * message into a recall marker; recipients get it as `c_message` with the same `_id` and `fp`.
   */
  async recall(userId: string, ref: MessageRef, socketId?: string): Promise<WireMessage> {
    const { Message, Room } = this.ctx.model;
    const message = await Message.findOne(ref._id ? { _id: oid(ref._id) } : { from: oid(userId), fp: ref.fp! }).lean<MessageDoc>();
    if (!message) throw new AppError(ErrorCode.NOT_FOUND, 'message not found');
    const mine = String(message.from) === userId;
    const inWindow = Date.now() - new Date(message.sendTime).getTime() <= this.config.message.recallWindow * 1000;
    let allowed = mine && inWindow;
    if (!allowed && message.typeu === 2) allowed = !!await Room.exists({ _id: message.to, owner: oid(userId) });
    if (!allowed) throw new AppError(ErrorCode.CHAT_FAILED, mine ? 'too late to recall this message' : 'not your message');
    if (message.type === MessageType.RECALLED_TEXT || message.type === MessageType.RECALLED_OTHER) return toWire(message);
    const type = message.type === MessageType.TEXT ? MessageType.RECALLED_TEXT : MessageType.RECALLED_OTHER;
    await Message.updateOne({ _id: message._id }, { $set: { type, content: '' }, $unset: { extra: 1 } });
    await this.app.messageCommitter.history.forget(message.conversationId);
    // the conversation list shows the marker too when it was the last message
    await this.ctx.model.Conversation.updateOne({ _id: message.conversationId, 'lastMessage._id': String(message._id) },
      { $set: { 'lastMessage.type': type, 'lastMessage.content': '' }, $unset: { 'lastMessage.extra': 1 } });
    const { extra: _dropped, ...rest } = message;
    const wire = toWire({ ...rest, type, content: '' });
    deliverMessage(this.chat, wire, socketId);
    return wire;
  }

  /** `DELETE /api/messages/:id`: hides a message for this user only (and it no longer waits in their pull). */
  async hide(userId: string, messageId: string) {
    const { Message, Membership } = this.ctx.model;
    const message = await Message.findById(messageId, { conversationId: 1, seq: 1 }).lean<MessageDoc>();
    const id = message && membershipId(userId, message.conversationId);
    const ms = id && await Membership.findById(id, { joinedSeq: 1 }).lean<MembershipDoc>();
    if (!message || !ms || message.seq <= ms.joinedSeq) throw new AppError(ErrorCode.NOT_FOUND, 'message not found');
    await this.app.deliveryWriter.hide(userId, message.conversationId, String(message._id), message.seq);
  }
}
