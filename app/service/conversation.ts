import { Service } from 'egg';
import type { Types } from 'mongoose';
import { AppError, ErrorCode } from '../../lib/errors';
import { isObjectId, oid } from '../../lib/ids';
import { bulkWriteInChunks } from '../../lib/bulk-write';
import { c2cConversationId } from '../../lib/timeline';
import type { ConversationDoc } from '../model/conversation';
import { lastMessageOf } from '../message/pointer-writer';
import { membershipId, type MembershipDoc } from '../model/membership';

/**
 * Conversations and who is in them (memberships with delivery/read cursors). Memberships are the
 * one truth of who is in a room's conversation: the send path reads them by `_id`, fresh. Rooms
 * call the hooks below whenever their member list changes, so a member's cursors start at the
 * conversation's current end: a newcomer gets the room's next messages, not its past as "offline".
 */
export default class ConversationService extends Service {
  /** Room members joined (created, joined, added): their cursors start at the room's last seq. */
  async addRoomMembers(roomId: string, userIds: string[]) {
    if (!userIds.length) return;
    const { Conversation, Membership } = this.ctx.model;
    const room = oid(roomId);
    await Conversation.updateOne(
      { _id: roomId },
      { $setOnInsert: { typeu: 2, room, users: [], lastSeq: 0, updatedAt: new Date() } },
      { upsert: true },
    );
    const seq = await this.app.messageCommitter.lastSeqOf(roomId);
    await bulkWriteInChunks(Membership, userIds.map(id => ({
      updateOne: {
        filter: { _id: membershipId(id, roomId) },
        update: { $setOnInsert: { user: oid(id), conversationId: roomId, typeu: 2, room, deliveredSeq: seq, acked: [], readSeq: seq, sentSeq: 0, joinedSeq: seq, hidden: [] } },
        upsert: true,
      },
    })));
  }

  /** Room members left or were removed: their place in the conversation goes with them. */
  async removeRoomMembers(roomId: string, userIds: string[]) {
    if (!userIds.length) return;
    await this.ctx.model.Membership.deleteMany({ _id: { $in: userIds.map(id => membershipId(id, roomId)) } });
  }

  /** A dissolved room's conversation, memberships and messages are removed. */
  async removeRoom(roomId: string) {
    const { Conversation, Membership, Message } = this.ctx.model;
    await Membership.deleteMany({ conversationId: roomId });
    await Message.deleteMany({ conversationId: roomId });
    await Conversation.deleteOne({ _id: roomId });
    this.app.messageCommitter.forget(roomId);
    await this.app.messageCommitter.history.forget(roomId);
  }

  /**
   * The last stored seq of each conversation: from the seq registry (raised before every ack),
   * else from the conversation's pointer (a conversation not written since Redis restarted).
   */
  async lastSeqs(conversationIds: string[]): Promise<Map<string, number>> {
    const known = await this.app.seqRegistry.get(conversationIds);
    await Promise.all(conversationIds.filter(id => !known.has(id)).map(async id => {
      const seq = await this.app.loaders.lastSeq.load(id);
      if (seq !== undefined) known.set(id, seq);
    }));
    return known;
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
    const membership = await this.ctx.model.Membership.findById(membershipId(userId, conversationId)).lean<MembershipDoc>();
    if (typeu === 2 && !membership) throw new AppError(ErrorCode.FORBIDDEN, 'not a member of this room');
    return { conversationId, membership };
  }

  /**
   * `recent_conversation` / `GET /api/conversations`: the user's conversations with a message,
   * newest first, with the peer or room, the last message and the unread count: all kept on the
   * conversation and the membership, so no message is read.
   */
  async recent(userId: string) {
    const { Conversation, User, Room } = this.ctx.model;
    await this.app.deliveryWriter.settled(userId);
    const memberships = await this.app.loaders.memberships.load(userId) ?? [];
    if (!memberships.length) return [];
    const ids = memberships.map(m => m.conversationId);
    const [ conversations, registry ] = await Promise.all([
      Conversation.find({ _id: { $in: ids } }).lean<ConversationDoc[]>(),
      this.app.seqRegistry.get(ids),
    ]);
    // pointers are written a moment after each commit: this process's newer ones, not yet written, count
    const convById = new Map(conversations.map(c => [ c._id, c ]));
    for (const [ id, m ] of this.app.pointerWriter.pending(ids)) {
      const c = convById.get(id);
      if (c && (c.lastMessage?.seq ?? 0) < m.seq) Object.assign(c, { lastSeq: Math.max(c.lastSeq, m.seq), lastMessage: lastMessageOf(m), updatedAt: m.sendTime });
    }
    // a conversation whose messages were all removed by retention has no lastMessage and is not listed
    const listed = conversations.filter(c => c.lastMessage).sort((a, b) => new Date(b.updatedAt).getTime() - new Date(a.updatedAt).getTime());
    const byId = new Map(memberships.map(m => [ m.conversationId, m ]));
    const peers = listed.map(c => byId.get(c._id)!.peer).filter(Boolean) as Types.ObjectId[];
    const rooms = listed.map(c => byId.get(c._id)!.room).filter(Boolean) as Types.ObjectId[];
    const [ users, roomDocs ] = await Promise.all([
      peers.length ? User.find({ _id: { $in: peers } }, { username: 1, nickname: 1, avatar: 1 }).lean<Array<{ _id: Types.ObjectId }>>() : [],
      rooms.length ? Room.find({ _id: { $in: rooms } }, { name: 1, avatar: 1, visibility: 1 }).lean<Array<{ _id: Types.ObjectId }>>() : [],
    ]);
    const userById = new Map(users.map(u => [ String(u._id), u ]));
    const roomById = new Map(roomDocs.map(r => [ String(r._id), r ]));
    return listed.map(c => {
      const m = byId.get(c._id)!;
      const peerId = m.peer && String(m.peer);
      const lastSeq = Math.max(c.lastSeq, registry.get(c._id) ?? 0);
      return {
        timelineId: c.typeu === 2 ? c._id : `${userId}@${peerId}`,
        conversationId: c._id,
        typeu: c.typeu,
        ...(c.typeu === 2 ? { room: roomById.get(c._id) ?? { _id: c._id } } : { peer: userById.get(peerId!) ?? { _id: peerId } }),
        lastMessage: c.lastMessage,
        // messages from others after what this user read or last wrote
        unread: Math.max(0, lastSeq - Math.max(m.readSeq ?? 0, m.sentSeq ?? 0, m.joinedSeq ?? 0)),
        updateTime: new Date(c.updatedAt).getTime(),
      };
    });
  }
}
