import type { AnyBulkWriteOperation, Model } from 'mongoose';
import { oid } from '../../lib/ids';
import { bulkWriteInChunks } from '../../lib/bulk-write';
import { timelineIdOf } from '../../lib/conversation-ids';
import type { PresenceRegistry, RecentMessages } from '../../lib/stores';
import type { ReadReceipt } from '../../lib/schemas/wire';
import type { MessageDoc } from '../model/message';
import type { ReceiptDoc } from '../model/receipt';
import type { Outbox } from '../io/outbox';
import type { SeqKnowledge } from './seq-knowledge';
import type { NewlyRead } from './delivery-writer';

/** most messages one read turns into receipts, and most receipts one `readed_message` hands over */
const RECEIPTS_MAX = 500;
const QUEUED_MAX = 1000;

/** what a receipt needs of a message, from the store or the recent-messages cache */
type Read = { _id: unknown; from: unknown; to: unknown; fp: string; typeu: number; seq: number };

/**
 * Read receipts (`to_reader`): when a user's read cursor moves, the senders of the newly read
 * messages are told at once when online, or find the receipts queued (`readed_message`).
 */
export class Receipts {
  constructor(private readonly deps: {
    models: () => { Message: Model<MessageDoc>; Receipt: Model<ReceiptDoc> };
    recent: RecentMessages;
    seqs: SeqKnowledge;
    presence: () => PresenceRegistry;
    outbox: Outbox;
  }) {}

  /**
   * Seqs (after, upTo] of a conversation became read by `readerId`: their senders get `to_reader`.
   * The messages come from the recent-messages cache when it covers them, else from one query.
   */
  async sendFor(readerId: string, { conversationId, after, upTo }: NewlyRead) {
    const last = (await this.deps.seqs.visible([ conversationId ])).get(conversationId);
    const top = Math.min(upTo, last ?? upTo);
    if (top <= after) return;
    const cached = last === undefined ? null : await this.deps.recent.page(conversationId, last, after, top + 1, Math.min(top - after, RECEIPTS_MAX));
    const read: Read[] = cached
      ? cached.filter(m => m.from !== readerId).reverse()
      : await this.deps.models().Message.find(
        { conversationId, seq: { $gt: after, $lte: top }, from: { $ne: oid(readerId) } },
        { fp: 1, from: 1, to: 1, typeu: 1, seq: 1 },
      ).sort({ seq: 1 }).limit(RECEIPTS_MAX).lean<MessageDoc[]>();
    await this.deliver(readerId, read);
  }

  /** `readed_message`: the receipts queued while this user was offline, oldest first; the queue is then emptied. */
  async pull(userId: string): Promise<ReadReceipt[]> {
    const { Receipt } = this.deps.models();
    const queued = await Receipt.find({ user: oid(userId) }).sort({ createdAt: 1, _id: 1 }).limit(QUEUED_MAX).lean<ReceiptDoc[]>();
    if (!queued.length) return [];
    await Receipt.deleteMany({ _id: { $in: queued.map(r => r._id) } });
    return queued.map(r => ({ _id: String(r.message), fp: r.fp, timelineId: r.timelineId, typeu: r.typeu, seq: r.seq, readed: r.readed.map(String) }));
  }

  private async deliver(readerId: string, read: Read[]) {
    const bySender = new Map<string, ReadReceipt[]>();
    for (const m of read) {
      const sender = String(m.from);
      const item: ReadReceipt = { _id: String(m._id), fp: m.fp, timelineId: timelineIdOf(m.typeu, sender, String(m.to)), typeu: m.typeu, seq: m.seq, readed: [ readerId ] };
      const items = bySender.get(sender);
      if (items) items.push(item); else bySender.set(sender, [ item ]);
    }
    if (!bySender.size) return;
    // one registry read for all the senders
    const online = await this.deps.presence().online([ ...bySender.keys() ]);
    const queued: Array<[string, ReadReceipt]> = [];
    for (const [ sender, items ] of bySender) {
      if (online.has(sender)) this.deps.outbox.send({ user: sender }, 'to_reader', items);
      else for (const item of items) queued.push([ sender, item ]);
    }
    if (!queued.length) return;
    await bulkWriteInChunks(this.deps.models().Receipt, queued.map(([ sender, item ]): AnyBulkWriteOperation => ({
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
}
