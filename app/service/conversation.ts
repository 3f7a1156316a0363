import { Service } from 'egg';
import type { Types } from 'mongoose';
import { isRoom, timelineIdOf } from '../../lib/conversation-ids';
import type { Conversation, PublicUser, Room } from '../../lib/schemas/wire';

/**
 * The conversation list (`recent_conversation`, `GET /api/conversations`): the message engine's
 * entries (a membership and its conversation's head each), with the peer's or room's public face.
 */
export default class ConversationService extends Service {
  /**
   * The user's conversations with a message, newest first, with the peer or room, the last message
   * and the unread count: all kept on the conversation and the membership, so no message is read.
   */
  async recent(userId: string): Promise<Conversation[]> {
    const { User, Room: Rooms } = this.ctx.model;
    // a conversation whose messages were all removed by retention has no lastMessage and is not listed
    const entries = (await this.app.messages.conversations(userId))
      .filter(e => e.head.lastMessage)
      .sort((a, b) => b.head.updatedAt.getTime() - a.head.updatedAt.getTime());
    const peers = entries.map(e => e.membership.peer).filter(Boolean) as Types.ObjectId[];
    const rooms = entries.map(e => e.membership.room).filter(Boolean) as Types.ObjectId[];
    const [ users, roomDocs ] = await Promise.all([
      peers.length ? User.find({ _id: { $in: peers } }, { username: 1, nickname: 1, avatar: 1 }).lean<PublicUser[]>() : [],
      rooms.length ? Rooms.find({ _id: { $in: rooms } }, { name: 1, avatar: 1, visibility: 1 }).lean<Room[]>() : [],
    ]);
    const userById = new Map(users.map(u => [ String(u._id), u ]));
    const roomById = new Map(roomDocs.map(r => [ String(r._id), r ]));
    return entries.map(({ membership: m, head }) => {
      const { conversationId, typeu } = m;
      const peerId = m.peer && String(m.peer);
      return {
        timelineId: timelineIdOf(typeu, userId, isRoom(typeu) ? conversationId : peerId!),
        conversationId,
        typeu,
        ...(isRoom(typeu) ? { room: roomById.get(conversationId) ?? { _id: conversationId } as Room } : { peer: userById.get(peerId!) ?? { _id: peerId } as PublicUser }),
        lastMessage: head.lastMessage ?? null,
        // messages from others after what this user read or last wrote
        unread: Math.max(0, head.lastSeq - Math.max(m.readSeq ?? 0, m.sentSeq ?? 0, m.joinedSeq ?? 0)),
        updateTime: head.updatedAt.getTime(),
      };
    });
  }
}
