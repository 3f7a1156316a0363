import type { Model, Types } from 'mongoose';
import { AppError, ErrorCode } from '../../lib/errors';
import { isObjectId, oid } from '../../lib/ids';
import { insertIgnoringDuplicates } from '../../lib/duplicate-key';
import { CoalescingLoader } from '../../lib/coalescing-loader';
import type { NoticeInput } from '../../lib/schemas/admin';
import type { SystemNotice } from '../../lib/schemas/wire';
import type { NoticeDoc } from '../model/notice';
import type { NoticeReceiptDoc } from '../model/notice_receipt';
import type { UserDoc } from '../model/user';
import type { Outbox } from '../io/outbox';

/** notices read per round-trip while looking for unacknowledged ones */
const BATCH = 200;
/** most notices one coalesced probe reads */
const PROBE_MAX = 1000;

const toWire = (n: NoticeDoc): SystemNotice => ({
  _id: String(n._id),
  content: n.content,
  ...(n.event ? { event: n.event } : {}),
  from: 'system',
  time: n.createdAt.getTime(),
});

type NoticeModels = { Notice: Model<NoticeDoc>; NoticeReceipt: Model<NoticeReceiptDoc>; User: Model<UserDoc> };

/**
 * System notices (`sys_notice`): sent live to the online recipients and kept until each recipient
 * acknowledges them. A notice to everyone is one document; an acknowledgement is one receipt (unique
 * per user and notice), so sending costs nothing per user and acking is one insert. A live delivery
 * does not count as delivered: like messages, a notice stays pending until the client acks it by `_id`.
 */
export class Notices {
  /**
   * Notices newer than each user (to them or to everyone), probed for many pulls at once: empty for
   * most users, which ends their pull's notice part without a query of its own.
   */
  private readonly probe: CoalescingLoader<string, NoticeDoc[]>;

  constructor(private readonly models: () => NoticeModels, private readonly outbox: Outbox) {
    this.probe = new CoalescingLoader<string, NoticeDoc[]>(async users => {
      const oldest = users.reduce((a, b) => (a < b ? a : b));
      const found = await this.models().Notice.find({ to: { $in: [ ...users.map(oid), null ] }, _id: { $gt: oid(oldest) } }, { _id: 1, to: 1 })
        .limit(PROBE_MAX).lean<NoticeDoc[]>();
      // a probe that hit its limit proves nothing for anyone: undefined sends them to the full read
      if (found.length === PROBE_MAX) return new Map();
      return new Map(users.map(u => [ u, found.filter(n => (n.to === null || String(n.to) === u) && String(n._id) > u) ]));
    });
  }

  /** Stores a notice and pushes `sys_notice` to its recipient's sockets, or to every /chat socket. */
  async send(input: NoticeInput): Promise<SystemNotice> {
    const { Notice, User } = this.models();
    if (input.to && !await User.exists({ _id: oid(input.to) })) throw new AppError(ErrorCode.USER_NOT_EXIST, 'user does not exist');
    const doc = await Notice.create({ to: input.to ?? null, content: input.content, event: input.event, createdAt: new Date() });
    const notice = toWire(doc);
    this.outbox.send(input.to ? { user: input.to } : { everyone: true }, 'sys_notice', notice);
    return notice;
  }

  /**
   * Notices for this user (to them, or to everyone since their account was created) that they have
   * not acknowledged, oldest first, at most `limit`.
   */
  async pendingFor(userId: string, limit: number): Promise<SystemNotice[]> {
    const { Notice, NoticeReceipt } = this.models();
    if (!isObjectId(userId) || limit <= 0) return [];
    // ObjectIds grow with time: notices made after the account have greater ids, so the pull
    // needs no read of the user
    let after = oid(userId);
    const pending: SystemNotice[] = [];
    const first = await this.probe.load(userId);
    if (first && !first.length) return pending;
    while (pending.length < limit) {
      const batch = await Notice.find({ to: { $in: [ userId, null ] }, _id: { $gt: after } }).sort({ _id: 1 }).limit(BATCH).lean<NoticeDoc[]>();
      if (!batch.length) break;
      const acked = new Set((await NoticeReceipt.find({ user: userId, notice: { $in: batch.map(n => n._id) } }, { notice: 1 })
        .lean<Array<{ notice: Types.ObjectId }>>()).map(r => String(r.notice)));
      for (const n of batch) {
        if (!acked.has(String(n._id))) pending.push(toWire(n));
        if (pending.length === limit) break;
      }
      if (batch.length < BATCH) break;
      after = batch[batch.length - 1]._id;
    }
    return pending;
  }

  /** Acknowledges notices for this user; ids that are not notices meant for them are ignored. */
  async ack(userId: string, ids: string[]): Promise<void> {
    const { Notice, NoticeReceipt } = this.models();
    const wanted = [ ...new Set(ids.filter(isObjectId).map(id => id.toLowerCase())) ];
    if (!isObjectId(userId) || !wanted.length) return;
    const notices = await Notice.find({ _id: { $in: wanted }, to: { $in: [ userId, null ] } }, { _id: 1 }).lean<Array<{ _id: Types.ObjectId }>>();
    if (!notices.length) return;
    // already acknowledged: the unique index refuses the repeat, which is the point
    await insertIgnoringDuplicates(NoticeReceipt.collection, notices.map(n => ({ user: oid(userId), notice: n._id })));
  }
}
