import { Service } from 'egg';
import type { Types } from 'mongoose';
import { isRoom, timelineIdOf, type TypeU } from '../../lib/conversation-ids';
import type { SettingsInput } from '../../lib/schemas/features';
import type { Conversation, PublicUser, Room } from '../../lib/schemas/wire';
import type { ConversationEntry } from '../message/engine';
import { PUBLIC_FIELDS } from './user';

/**
 * The conversation list (`recent_conversation`, `GET /api/conversations`): the message engine's
 * entries (a membership and its conversation's head each), with the peer's or room's public face,
 * and this user's settings of each (§8).
 */
export default class ConversationService extends Service {
  /**
   * The user's conversations with a message, pinned ones first, then newest first, with the peer or
   * room, the last message, the unread count and the unread mentions: all kept on the conversation
   * and the membership, so no message is read.
   */
  async recent(userId: string): Promise<Conversation[]> {
    // a conversation whose messages were all removed by retention has no lastMessage and is not listed
    const entries = (await this.app.messages.conversations(userId)).filter(e => e.head.lastMessage);
    return (await this.present(userId, entries))
      .sort((a, b) => Number(b.pinned) - Number(a.pinned) || b.updateTime - a.updateTime);
  }

  /**
   * `PATCH /api/conversations/:timelineId`: this user's settings of one conversation; their other
   * devices (other logins than `sessionId`'s) get `conversation_update` with the entry.
   */
  async updateSettings(userId: string, sessionId: string, timelineId: string, typeu: TypeU, input: SettingsInput): Promise<Conversation> {
    const [ entry ] = await this.present(userId, [ await this.app.messages.updateSettings(userId, timelineId, typeu, input) ]);
    this.app.outbox.send({ user: userId, exceptSession: sessionId }, 'conversation_update', entry);
    return entry;
  }

  private async present(userId: string, entries: ConversationEntry[]): Promise<Conversation[]> {
    const { User, Room: Rooms } = this.ctx.model;
    const peers = entries.map(e => e.membership.peer).filter(Boolean) as Types.ObjectId[];
    const rooms = entries.map(e => e.membership.room).filter(Boolean) as Types.ObjectId[];
    const [ users, roomDocs ] = await Promise.all([
      peers.length ? User.find({ _id: { $in: peers } }, PUBLIC_FIELDS).lean<PublicUser[]>() : [],
      rooms.length ? Rooms.find({ _id: { $in: rooms } }, { name: 1, avatar: 1, visibility: 1 }).lean<Room[]>() : [],
    ]);
    const userById = new Map(users.map(u => [ String(u._id), u ]));
    const roomById = new Map(roomDocs.map(r => [ String(r._id), r ]));
    return entries.map(({ membership: m, head }) => {
      const { conversationId, typeu } = m;
      const peerId = m.peer && String(m.peer);
      // messages from others after what this user read or last wrote
      const seen = Math.max(m.readSeq ?? 0, m.sentSeq ?? 0, m.joinedSeq ?? 0);
      const mentions = new Set([ ...m.mentions ?? [], ...head.allMentions ?? [] ].filter(s => s > seen && s <= head.lastSeq));
      return {
        timelineId: timelineIdOf(typeu, userId, isRoom(typeu) ? conversationId : peerId!),
        conversationId,
        typeu,
        ...(isRoom(typeu) ? { room: roomById.get(conversationId) ?? { _id: conversationId } as Room } : { peer: userById.get(peerId!) ?? { _id: peerId } as PublicUser }),
        lastMessage: head.lastMessage ?? null,
        unread: Math.max(0, head.lastSeq - seen),
        updateTime: head.updatedAt.getTime(),
        pinned: !!m.pinned,
        muted: !!m.muted,
        // a message after the archiving un-archives it
        archived: !!m.archived && head.lastSeq <= (m.archivedSeq ?? 0),
        mentions: mentions.size,
      };
    });
  }
}
