import type { Model, Types } from 'mongoose';
import { AppError, ErrorCode } from '../../lib/errors';
import { oid } from '../../lib/ids';
import { findByIds } from '../../lib/coalescing-loader';
import { conversationIdOf, isRoom, membershipId } from '../../lib/conversation-ids';
import type { SendMessageInput } from '../../lib/schemas/message';
import { MessageType, type MessageDoc } from '../model/message';
import type { MembershipDoc } from '../model/membership';
import type { RoomDoc } from '../model/room';

/** What a send stores besides its input (§8): the quote of the message it answers, whom it mentions. */
export interface SendExtrasOf {
  replyTo?: NonNullable<MessageDoc['replyTo']>;
  mentions?: string[];
}

export interface ExtrasRequest {
  from: string;
  input: SendMessageInput;
  extras?: SendExtrasOf;
}

/** The first `n` characters (code points) of `s`, without walking the rest of a long string. */
export function firstChars(s: string, n: number): string {
  let out = '';
  let count = 0;
  for (const ch of s) {
    if (count++ === n) break;
    out += ch;
  }
  return out;
}

/**
 * Replies and mentions of a batch of sends (§8), the send rules' part for them: a reply must name a
 * message of the same conversation that the sender can see (a member when it was sent, not hidden
 * by them), else 20003, and stores `{_id, from, type, excerpt}`; a room message's mentions keep
 * members only (the sender dropped too), and `all` is the room owner's alone (else 20003); a c2c
 * message's mentions are dropped. Sends with neither cost nothing here: the reads (by `_id`) are
 * only for those that have them.
 */
export class SendExtras {
  constructor(
    private readonly models: () => { Message: Model<MessageDoc>; Membership: Model<MembershipDoc>; Room: Model<RoomDoc> },
    private readonly config: { excerptChars: number },
  ) {}

  /** Sets `extras` on each request that has any, and its refusal where it is refused. */
  async resolve(batch: ExtrasRequest[], refusals: Array<AppError | null>): Promise<void> {
    const replies = batch.filter((r, i) => !refusals[i] && r.input.replyTo);
    const mentioning = batch.filter((r, i) => !refusals[i] && r.input.mentions?.length && isRoom(r.input.typeu));
    if (!replies.length && !mentioning.length) return;
    const { Message, Membership, Room } = this.models();
    const conversationOf = (r: ExtrasRequest) => conversationIdOf(r.input.typeu, r.from, r.input.to);
    const [ originals, repliers, rooms ] = await Promise.all([
      findByIds([ ...new Set(replies.map(r => r.input.replyTo!)) ],
        id => Message.findById(id, { conversationId: 1, from: 1, type: 1, content: 1, seq: 1 }).lean<MessageDoc>(),
        ids => Message.find({ _id: { $in: ids.map(oid) } }, { conversationId: 1, from: 1, type: 1, content: 1, seq: 1 }).lean<MessageDoc[]>()),
      Promise.all([ ...new Set(replies.map(r => membershipId(r.from, conversationOf(r)))) ].map(async id =>
        [ id, await Membership.findById(id, { joinedSeq: 1, hidden: 1 }).lean<Pick<MembershipDoc, 'joinedSeq' | 'hidden'>>() ] as const)),
      Promise.all([ ...new Set(mentioning.map(r => r.input.to)) ].map(async id =>
        [ id, await Room.findById(id, { owner: 1, members: 1 }).lean<Pick<RoomDoc, 'owner' | 'members'>>() ] as const)),
    ]);
    const membershipById = new Map(repliers);
    const roomById = new Map(rooms);
    batch.forEach((r, i) => {
      if (refusals[i]) return;
      const extras: SendExtrasOf = {};
      if (r.input.replyTo) {
        const original = originals.get(r.input.replyTo);
        const member = membershipById.get(membershipId(r.from, conversationOf(r)));
        if (!original || original.conversationId !== conversationOf(r) || !member || original.seq <= (member.joinedSeq ?? 0) || hides(member.hidden, r.input.replyTo)) {
          refusals[i] = new AppError(ErrorCode.CHAT_FAILED, 'replyTo: not a message of this conversation that you can see');
          return;
        }
        extras.replyTo = {
          _id: original._id, from: original.from as Types.ObjectId, type: original.type,
          excerpt: original.type === MessageType.TEXT ? firstChars(original.content, this.config.excerptChars) : '',
        };
      }
      if (r.input.mentions?.length && isRoom(r.input.typeu)) {
        const room = roomById.get(r.input.to);
        if (r.input.mentions.includes('all')) {
          if (!room || String(room.owner) !== r.from) {
            refusals[i] = new AppError(ErrorCode.CHAT_FAILED, 'mentions: only the room owner may mention all');
            return;
          }
          extras.mentions = [ 'all' ];
        } else {
          const members = new Set((room?.members ?? []).map(String));
          const kept = [ ...new Set(r.input.mentions) ].filter(id => id !== r.from && members.has(id));
          if (kept.length) extras.mentions = kept;
        }
      }
      if (extras.replyTo || extras.mentions) r.extras = extras;
    });
  }
}

const hides = (hidden: Types.ObjectId[] | undefined, id: string) => !!hidden?.some(h => String(h) === id);
