import { Service } from 'egg';
import type { Types } from 'mongoose';
import { socketEnvelope } from '../../lib/envelope';
import { Actions } from '../../lib/actions';
import { socketRooms as rooms } from '../../lib/socket-rooms';
import type { NoticeInput } from '../../lib/schemas/admin';
import type { NoticeDoc } from '../model/notice';
import { isObjectId, oid } from '../../lib/ids';
import { insertIgnoringDuplicates } from '../../lib/duplicate-key';

/** A notice as clients see it (`sys_notice`, and in `offline_message`). */
export interface SystemNotice {
  _id: string;
  content: string;
  event?: string;
  from: 'system';
  /** ms since the epoch */
  time: number;
}

/** notices read per round-trip while looking for unacknowledged ones */
const BATCH = 200;

const toWire = (n: NoticeDoc): SystemNotice => ({
  _id: String(n._id),
  content: n.content,
  ...(n.event ? { event: n.event } : {}),
  from: 'system',
  time: n.createdAt.getTime(),
});

/**
 * System notices: sent live to the online recipients and kept until each recipient acknowledges
 * them. A notice to everyone is one document; an acknowledgement is one receipt (unique per user and
 * notice), so sending costs nothing per user and acking is one insert. A live delivery does not count
 * as delivered: like messages, a notice stays pending until the client acks it by `_id`.
 */
export default class NoticeService extends Service {
  /** Stores a notice and pushes `sys_notice` to its recipient's sockets, or to every /chat socket. */
  async send(input: NoticeInput): Promise<SystemNotice> {
    if (input.to) await this.service.user.get(input.to); // 404 / 20005 for nobody
    const doc = await this.ctx.model.Notice.create({ to: input.to ?? null, content: input.content, event: input.event, createdAt: new Date() });
    const notice = toWire(doc);
    const envelope = socketEnvelope(Actions.sys_notice, notice);
    const chat = this.app.io.of('/chat');
    if (input.to) chat.to(rooms.user(input.to)).emit('sys_notice', envelope);
    else chat.emit('sys_notice', envelope);
    return notice;
  }

  /**
   * Notices for this user (to them, or to everyone since their account was created) that they have
   * not acknowledged, oldest first, at most `limit`.
   */
  async pendingFor(userId: string, limit: number): Promise<SystemNotice[]> {
    const { Notice, NoticeReceipt } = this.ctx.model;
    if (!isObjectId(userId) || limit <= 0) return [];
    // ObjectIds grow with time: notices made after the account have greater ids, so the pull
    // needs no read of the user
    let after = oid(userId);
    const pending: SystemNotice[] = [];
    // the common first page: read together with other users' pulls (app.loaders.notices)
    const first = await this.app.loaders.notices.load(userId);
    if (first && !first.length) return pending;
    while (pending.length < limit) {
      const filter: Record<string, unknown> = { to: { $in: [ userId, null ] }, _id: { $gt: after } };
      const batch = await Notice.find(filter).sort({ _id: 1 }).limit(BATCH).lean<NoticeDoc[]>();
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
  async markDelivered(userId: string, ids: string[]): Promise<void> {
    const { Notice, NoticeReceipt } = this.ctx.model;
    const wanted = [ ...new Set(ids.filter(isObjectId).map(id => id.toLowerCase())) ];
    if (!isObjectId(userId) || !wanted.length) return;
    const notices = await Notice.find({ _id: { $in: wanted }, to: { $in: [ userId, null ] } }, { _id: 1 }).lean<Array<{ _id: Types.ObjectId }>>();
    if (!notices.length) return;
    // already acknowledged: the unique index refuses the repeat, which is the point
    await insertIgnoringDuplicates(NoticeReceipt.collection, notices.map(n => ({ user: oid(userId), notice: n._id })));
  }
}
