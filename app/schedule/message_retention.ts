import { Subscription } from 'egg';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { Types } from 'mongoose';
import { BULK_CHUNK } from '../../lib/bulk-write';

/**
 * messages removed per round: each round is a few bounded queries, then the event loop gets a
 * turn; small enough that its updates stay under FerretDB's deadlock (lib/bulk-write.ts)
 */
const CHUNK = BULK_CHUNK;

/**
 * Removes messages older than `message.retentionDays` (0 keeps everything), with what points at
 * them: conversations' last message, queued read receipts, per-user hidden marks, pins and message
 * pages; each
 * removal is a change feed record (§8), so devices drop them too. In bounded
 * chunks so a large backlog never holds the event loop or the database for long. A scheduled job
 * rather than a TTL index, which FerretDB does not implement; on MongoDB it is the same queries.
 * `seq` counters are kept: a conversation's next message continues its numbering.
 */
export default class MessageRetention extends Subscription {
  static get schedule() {
    return { interval: '1h', type: 'worker', immediate: false };
  }

  async subscribe() {
    const days = this.config.message.retentionDays;
    if (!days) return;
    const cutoff = new Date(Date.now() - days * 24 * 3600 * 1000);
    const { Message, Receipt, Membership, Pin } = this.ctx.model;
    let removed = 0;
    for (;;) {
      const old = await Message.find({ sendTime: { $lt: cutoff } }, { _id: 1, conversationId: 1, seq: 1 }).limit(CHUNK).lean<Array<{ _id: Types.ObjectId; conversationId: string; seq: number }>>();
      if (!old.length) break;
      // their change records (§8: devices learn they are gone), cached copies and conversations' last messages first
      await this.app.messages.removed(old);
      const ids = old.map(m => m._id);
      await Message.deleteMany({ _id: { $in: ids } });
      await Pin.deleteMany({ _id: { $in: ids } });
      // one after the other: two updateMany of up to 50 each at once could reach FerretDB's deadlock
      await Receipt.deleteMany({ message: { $in: ids } });
      await Membership.updateMany({ hidden: { $in: ids } }, { $pullAll: { hidden: ids } });
      removed += ids.length;
      if (old.length < CHUNK) break;
      await yieldToEventLoop();
    }
    // message pages whose every message is older (app/model/message_page.ts)
    await this.ctx.model.MessagePage.deleteMany({ newest: { $lt: cutoff } });
    if (removed) this.ctx.logger.info('[message_retention] removed %d messages older than %d days', removed, days);
  }
}
