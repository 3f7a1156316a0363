import { Service } from 'egg';
import { Types } from 'mongoose';
import type { ConversationDoc } from '../model/conversation';

/** c2c conversation id: the two user ids, smaller first, so both sides name it alike. */
export const c2cConversationId = (a: string, b: string) => (a < b ? `${a}@${b}` : `${b}@${a}`);

/**
 * Conversations and who is in them (memberships with delivery/read cursors). Rooms call the
 * room hooks below whenever their member list changes, so a member's cursors start at the
 * conversation's current end: a newcomer gets the room's next messages, not its past as "offline".
 */
export default class ConversationService extends Service {
  /** Room members joined (created, joined, added): their cursors start at the room's last seq. */
  async addRoomMembers(roomId: string, userIds: string[]) {
    if (!userIds.length) return;
    const { Conversation, Membership } = this.ctx.model;
    const room = new Types.ObjectId(roomId);
    await Conversation.updateOne(
      { _id: roomId },
      { $setOnInsert: { typeu: 2, room, users: [], lastSeq: 0, updatedAt: new Date() } },
      { upsert: true },
    );
    const conversation = await Conversation.findById(roomId, { lastSeq: 1 }).lean<Pick<ConversationDoc, 'lastSeq'>>();
    const seq = conversation?.lastSeq ?? 0;
    await Membership.bulkWrite(userIds.map(id => ({
      updateOne: {
        filter: { user: new Types.ObjectId(id), conversationId: roomId },
        update: { $setOnInsert: { typeu: 2, room, deliveredSeq: seq, readSeq: seq, joinedSeq: seq, hidden: [] } },
        upsert: true,
      },
    })), { ordered: false });
  }

  /** Room members left or were removed: their place in the conversation goes with them. */
  async removeRoomMembers(roomId: string, userIds: string[]) {
    if (!userIds.length) return;
    await this.ctx.model.Membership.deleteMany({ conversationId: roomId, user: { $in: userIds.map(id => new Types.ObjectId(id)) } });
  }

  /** A dissolved room's conversation, memberships and messages are removed. */
  async removeRoom(roomId: string) {
    const { Conversation, Membership, Message } = this.ctx.model;
    await Membership.deleteMany({ conversationId: roomId });
    await Message.deleteMany({ conversationId: roomId });
    await Conversation.deleteOne({ _id: roomId });
  }
}
