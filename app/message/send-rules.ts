import type { Model, Types } from 'mongoose';
import { LRUCache } from 'lru-cache';
import { AppError, ErrorCode } from '../../lib/errors';
import { oid } from '../../lib/ids';
import { isRoom, membershipId } from '../../lib/conversation-ids';
import type { SendMessageInput } from '../../lib/schemas/message';
import type { MembershipDoc } from '../model/membership';
import type { UserDoc } from '../model/user';
import type { BlockDoc } from '../model/block';
import type { RoomDoc } from '../model/room';

/** What the rules need to know about a batch of sends. */
export interface SendFacts {
  userExists(userId: string): boolean;
  /** `"<blocker>><blocked>"` pairs among the batch's c2c peers and senders */
  blocked: Set<string>;
  isMember(userId: string, roomId: string): boolean;
  roomExists(roomId: string): boolean;
}

export type SendAttempt = { from: string; input: Pick<SendMessageInput, 'to' | 'typeu'> };

/**
 * May `from` send this? The one place the rules live (PROTOCOL §6): c2g only by a member of an
 * existing room; c2c not to oneself, not to a missing user, not to someone who blocked the sender.
 * Null when allowed.
 */
export function sendRefusal({ from, input }: SendAttempt, facts: SendFacts): AppError | null {
  if (isRoom(input.typeu)) {
    if (facts.isMember(from, input.to)) return null;
    if (!facts.roomExists(input.to)) return new AppError(ErrorCode.USER_NOT_EXIST, 'room does not exist');
    return new AppError(ErrorCode.CHAT_FAILED, 'not a member of this room');
  }
  if (input.to === from) return new AppError(ErrorCode.CHAT_FAILED, 'cannot send a message to yourself');
  if (!facts.userExists(input.to)) return new AppError(ErrorCode.USER_NOT_EXIST, 'user does not exist');
  if (facts.blocked.has(`${input.to}>${from}`)) return new AppError(ErrorCode.CHAT_FAILED, 'this user does not accept your messages');
  return null;
}

/** how many users known to exist a process remembers (accounts are never deleted) */
const KNOWN_USERS_MAX = 100_000;

/**
 * Reads the facts for a batch of sends, in parallel and small: do the c2c peers exist (cached),
 * did they block the sender, is the sender a member of the room (its membership, by `_id`, fresh:
 * a change on any worker holds for the very next send), and only for a refused room sender, does
 * the room exist.
 */
export class SendRules {
  private readonly knownUsers = new LRUCache<string, true>({ max: KNOWN_USERS_MAX });

  constructor(private readonly models: () => { User: Model<UserDoc>; Block: Model<BlockDoc>; Membership: Model<MembershipDoc>; Room: Model<RoomDoc> }) {}

  /** Each send's refusal, or null when it may go. */
  async check(batch: SendAttempt[]): Promise<Array<AppError | null>> {
    const facts = await this.facts(batch);
    return batch.map(send => sendRefusal(send, facts));
  }

  private async facts(batch: SendAttempt[]): Promise<SendFacts> {
    const { User, Block, Membership, Room } = this.models();
    const c2c = batch.filter(s => !isRoom(s.input.typeu));
    const c2g = batch.filter(s => isRoom(s.input.typeu));
    const peers = [ ...new Set(c2c.map(s => s.input.to)) ];
    const unknownPeers = peers.filter(id => !this.knownUsers.has(id));
    const roomSenders = [ ...new Set(c2g.map(s => membershipId(s.from, s.input.to))) ];
    const [ existingPeers, blocks, memberships ] = await Promise.all([
      unknownPeers.length ? User.find({ _id: { $in: unknownPeers.map(oid) } }, { _id: 1 }).lean<Array<{ _id: Types.ObjectId }>>() : [],
      peers.length ? Block.find({ user: { $in: peers.map(oid) }, blocked: { $in: [ ...new Set(c2c.map(s => oid(s.from))) ] } }, { user: 1, blocked: 1 }).lean<Array<Pick<BlockDoc, 'user' | 'blocked'>>>() : [],
      Promise.all(roomSenders.map(id => Membership.findById(id, { _id: 1 }).lean())),
    ]);
    for (const u of existingPeers) this.knownUsers.set(String(u._id), true);
    const members = new Set(roomSenders.filter((_, i) => memberships[i]));
    const missingRooms = [ ...new Set(c2g.filter(s => !members.has(membershipId(s.from, s.input.to))).map(s => s.input.to)) ];
    const existingRooms = new Set<string>();
    await Promise.all(missingRooms.map(async id => {
      if (await Room.exists({ _id: oid(id) })) existingRooms.add(id);
    }));
    return {
      userExists: id => this.knownUsers.has(id),
      blocked: new Set(blocks.map(b => `${b.user}>${b.blocked}`)),
      isMember: (userId, roomId) => members.has(membershipId(userId, roomId)),
      // asked only for a sender who is not a member
      roomExists: roomId => existingRooms.has(roomId),
    };
  }
}
