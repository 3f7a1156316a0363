import type { Model } from 'mongoose';
import { AppError, ErrorCode } from '../../lib/errors';
import { oid } from '../../lib/ids';
import { findByIds } from '../../lib/coalescing-loader';
import { isC2cParty, isRoom } from '../../lib/conversation-ids';
import type { PinInput } from '../../lib/schemas/features';
import type { WireMessage } from '../../lib/schemas/wire';
import type { MembershipDoc } from '../model/membership';
import { toWire, type MessageDoc } from '../model/message';
import type { PinDoc } from '../model/pin';
import type { RoomDoc } from '../model/room';
import type { MessageMutations } from './mutations';
import { isRecalled } from './edits';

/**
 * Pinned messages (§8 `to_pin`, `GET /api/messages/pinned`): either party of a c2c conversation, a
 * room's owner, pins or unpins a message (`pinnedBy`, `pinnedAt` on the message: the truth). The
 * `pins` collection lists each conversation's pinned messages so the list reads no message it does
 * not return; it is kept a superset of what is pinned: written after a pin, removed after an unpin
 * and put back if the message was pinned again meanwhile, so racing pins and unpins on any workers
 * never hide a pinned message. At most `pinsMax` per conversation (20003 past it).
 */
export class Pins {
  constructor(private readonly deps: {
    mutations: MessageMutations;
    models: () => { Message: Model<MessageDoc>; Room: Model<RoomDoc>; Pin: Model<PinDoc> };
    config: { pinsMax: number };
  }) {}

  async pin(userId: string, input: PinInput, socketId?: string): Promise<WireMessage> {
    const { Room, Pin } = this.deps.models();
    const { pinsMax } = this.deps.config;
    const applied = await this.deps.mutations.apply(input._id, async doc => {
      const allowed = isRoom(doc.typeu) ? !!await Room.exists({ _id: doc.to, owner: oid(userId) }) : isC2cParty(doc.conversationId, userId);
      if (!allowed) throw new AppError(ErrorCode.CHAT_FAILED, isRoom(doc.typeu) ? 'only the room owner may pin messages' : 'not your conversation');
      if (isRecalled(doc.type)) throw new AppError(ErrorCode.CHAT_FAILED, 'this message was recalled');
      if (input.on) {
        if (doc.pinnedBy) return null;
        if (await Pin.countDocuments({ conversationId: doc.conversationId }) >= pinsMax) throw new AppError(ErrorCode.CHAT_FAILED, `a conversation has at most ${pinsMax} pinned messages`);
        return { kind: 'pin', set: { pinnedBy: oid(userId), pinnedAt: new Date() } };
      }
      return doc.pinnedBy ? { kind: 'pin', unset: [ 'pinnedBy', 'pinnedAt' ] } : null;
    }, { socketId });
    const { doc } = applied;
    if (doc.pinnedBy) await this.list(doc);
    else if (applied.changed) {
      await Pin.deleteOne({ _id: doc._id });
      // pinned again meanwhile (another worker): it stays listed
      const now = await this.deps.models().Message.findById(doc._id, { conversationId: 1, pinnedBy: 1, pinnedAt: 1 }).lean<MessageDoc>();
      if (now?.pinnedBy) await this.list(now);
    }
    return applied.wire;
  }

  /** A conversation's pinned messages that this member can see, newest pin first. */
  async pinned(conversationId: string, membership: MembershipDoc | null): Promise<WireMessage[]> {
    const { Message, Pin } = this.deps.models();
    const pins = await Pin.find({ conversationId }, { _id: 1 }).sort({ pinnedAt: -1 }).limit(this.deps.config.pinsMax * 2).lean<Array<{ _id: unknown }>>();
    if (!pins.length) return [];
    const docs = await findByIds(pins.map(p => String(p._id)),
      id => Message.findById(id, { terms: 0 }).lean<MessageDoc>(),
      ids => Message.find({ _id: { $in: ids.map(oid) } }, { terms: 0 }).lean<MessageDoc[]>());
    const hidden = new Set((membership?.hidden ?? []).map(String));
    return [ ...docs.values() ]
      .filter(d => d.pinnedBy && d.conversationId === conversationId && d.seq > (membership?.joinedSeq ?? 0) && !hidden.has(String(d._id)))
      .sort((a, b) => new Date(b.pinnedAt!).getTime() - new Date(a.pinnedAt!).getTime())
      .map(toWire);
  }

  private async list(doc: Pick<MessageDoc, '_id' | 'conversationId' | 'pinnedAt'>) {
    await this.deps.models().Pin.updateOne({ _id: doc._id }, { $set: { conversationId: doc.conversationId, pinnedAt: doc.pinnedAt } }, { upsert: true });
  }
}
