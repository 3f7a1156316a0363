import { Service } from 'egg';
import type { Types } from 'mongoose';
import { AppError, ErrorCode } from '../../lib/errors';
import { isObjectId, oid } from '../../lib/ids';
import { bulkWriteInChunks } from '../../lib/bulk-write';
import { c2cConversationId, toWire } from '../../lib/timeline';
import type { ConversationDoc } from '../model/conversation';
import type { MembershipDoc } from '../model/membership';
import type { MessageDoc } from '../model/message';

/**
 * Conversations and who is in them (memberships with delivery/read cursors). Rooms call the
 * room hooks below whenever their member list changes, so a member's cursors start at the
 * conversation's current end: a newcomer gets the room's next messages, not its past as "offline".
 */
export default class ConversationService extends Service {
  /** Room members joined (created, joined, added): their cursors start at the room's last seq. */
  async addRoomMembers(roomId: string, userIds: string[]) {
    if (!userIds.length) return;
    this.app.messageCommitter.forget(roomId);
    const { Conversation, Membership } = this.ctx.model;
    const room = oid(roomId);
    await Conversation.updateOne(
      { _id: roomId },
      { $setOnInsert: { typeu: 2, room, users: [], lastSeq: 0, updatedAt: new Date() } },
      { upsert: true },
    );
    // the newest message, not the pointer (written a moment after each commit), says where the room is
    const [ newest ] = await this.ctx.model.Message.find({ conversationId: roomId }, { seq: 1 }).sort({ seq: -1 }).limit(1).lean<Array<{ seq: number }>>();
    const seq = newest?.seq ?? 0;
    await bulkWriteInChunks(Membership, userIds.map(id => ({
      updateOne: {
        filter: { user: oid(id), conversationId: roomId },
        update: { $setOnInsert: { typeu: 2, room, deliveredSeq: seq, readSeq: seq, joinedSeq: seq, hidden: [] } },
        upsert: true,
      },
    })));
  }

  /** Room members left or were removed: their place in the conversation goes with them. */
  async removeRoomMembers(roomId: string, userIds: string[]) {
    if (!userIds.length) return;
    this.app.messageCommitter.forget(roomId);
    await this.ctx.model.Membership.deleteMany({ conversationId: roomId, user: { $in: userIds.map(id => oid(id)) } });
  }

  /** A dissolved room's conversation, memberships and messages are removed. */
  async removeRoom(roomId: string) {
    const { Conversation, Membership, Message } = this.ctx.model;
    await Membership.deleteMany({ conversationId: roomId });
    await Message.deleteMany({ conversationId: roomId });
    await Conversation.deleteOne({ _id: roomId });
    this.app.messageCommitter.forget(roomId);
  }

  /**
   * The conversation a request names by timeline: c2c `"<a>@<b>"` in either order (the caller must
   * be a or b), c2g the room id (the caller must be a member). Not the caller's → 10006.
   */
  async resolveTimeline(userId: string, timelineId: string, typeu: 1 | 2): Promise<{ conversationId: string; membership: MembershipDoc | null }> {
    let conversationId: string;
    if (typeu === 1) {
      const ids = timelineId.toLowerCase().split('@');
      if (ids.length !== 2 || !ids.every(isObjectId)) throw new AppError(ErrorCode.MISS_PARAMS, 'timelineId must be "<userId>@<userId>" for typeu 1');
      if (!ids.includes(userId)) throw new AppError(ErrorCode.FORBIDDEN, 'not your conversation');
      conversationId = c2cConversationId(ids[0], ids[1]);
    } else {
      conversationId = timelineId.toLowerCase();
      if (!isObjectId(conversationId)) throw new AppError(ErrorCode.MISS_PARAMS, 'timelineId must be a room id for typeu 2');
    }
    const membership = await this.ctx.model.Membership.findOne({ user: oid(userId), conversationId }).lean<MembershipDoc>();
    if (typeu === 2 && !membership) throw new AppError(ErrorCode.FORBIDDEN, 'not a member of this room');
    return { conversationId, membership };
  }

  /**
   * `recent_conversation` / `GET /api/conversations`: the user's conversations with a message,
   * newest first, with the peer or room, the last message and the unread count (messages from
   * others after the read cursor).
   */
  async recent(userId: string) {
    const { Membership, Conversation, Message, User, Room } = this.ctx.model;
    // pointers are written shortly after each commit: this process's pending ones go first
    await this.app.messageCommitter.flushPointers();
    const memberships = await Membership.find({ user: oid(userId) }).lean<MembershipDoc[]>();
    if (!memberships.length) return [];
    // a conversation whose messages were all removed by retention has no lastMessage and is not listed
    const conversations = await Conversation.find({ _id: { $in: memberships.map(m => m.conversationId) }, lastMessage: { $exists: true, $ne: null } })
      .sort({ updatedAt: -1 }).lean<ConversationDoc[]>();
    const byId = new Map(memberships.map(m => [ m.conversationId, m ]));
    const peers = memberships.filter(m => m.peer).map(m => m.peer!);
    const rooms = memberships.filter(m => m.room).map(m => m.room!);
    const [ users, roomDocs, lastMessages, unread ] = await Promise.all([
      peers.length ? User.find({ _id: { $in: peers } }, { username: 1, nickname: 1, avatar: 1 }).lean<Array<{ _id: Types.ObjectId }>>() : [],
      rooms.length ? Room.find({ _id: { $in: rooms } }, { name: 1, avatar: 1, visibility: 1 }).lean<Array<{ _id: Types.ObjectId }>>() : [],
      Message.find({ _id: { $in: conversations.filter(c => c.lastMessage).map(c => c.lastMessage!) } }).lean<MessageDoc[]>(),
      Promise.all(conversations.map(c => {
        const m = byId.get(c._id)!;
        const after = Math.max(m.readSeq, m.joinedSeq);
        return c.lastSeq > after ? Message.countDocuments({ conversationId: c._id, seq: { $gt: after }, from: { $ne: oid(userId) } }) : 0;
      })),
    ]);
    const userById = new Map(users.map(u => [ String(u._id), u ]));
    const roomById = new Map(roomDocs.map(r => [ String(r._id), r ]));
    const messageById = new Map(lastMessages.map(m => [ String(m._id), m ]));
    return conversations.map((c, i) => {
      const m = byId.get(c._id)!;
      const last = c.lastMessage && messageById.get(String(c.lastMessage));
      const peerId = m.peer && String(m.peer);
      return {
        timelineId: c.typeu === 2 ? c._id : `${userId}@${peerId}`,
        conversationId: c._id,
        typeu: c.typeu,
        ...(c.typeu === 2 ? { room: roomById.get(c._id) ?? { _id: c._id } } : { peer: userById.get(peerId!) ?? { _id: peerId } }),
        lastMessage: last ? toWire(last) : null,
        unread: unread[i],
        updateTime: new Date(c.updatedAt).getTime(),
      };
    });
  }
}
