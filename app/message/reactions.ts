import type { Model } from 'mongoose';
import { AppError, ErrorCode } from '../../lib/errors';
import { membershipId } from '../../lib/conversation-ids';
import type { ReactInput } from '../../lib/schemas/features';
import type { WireMessage } from '../../lib/schemas/wire';
import type { MembershipDoc } from '../model/membership';
import type { MessageDoc } from '../model/message';
import type { MessageMutations } from './mutations';
import { isRecalled } from './edits';

/**
 * Reactions (§8 `to_react`): any member who can see the message (a member when it was sent, not
 * hidden by them) adds or takes back an emoji. The message keeps every reactor per emoji, so counts
 * are exact whatever the number (the wire names the first 20); at most `reactionsMaxEmoji` distinct
 * emoji per message and `reactionsPerUser` of one user's (20003 past them). Reacting twice, or
 * taking back what one did not give, changes nothing.
 */
export class Reactions {
  constructor(private readonly deps: {
    mutations: MessageMutations;
    models: () => { Membership: Model<MembershipDoc> };
    config: { reactionsMaxEmoji: number; reactionsPerUser: number };
  }) {}

  async react(userId: string, input: ReactInput, socketId?: string): Promise<WireMessage> {
    const { reactionsMaxEmoji: maxEmoji, reactionsPerUser: perUser } = this.deps.config;
    let member: Pick<MembershipDoc, 'joinedSeq' | 'hidden'> | null | undefined;
    const { wire } = await this.deps.mutations.apply(input._id, async (doc: MessageDoc) => {
      member ??= await this.deps.models().Membership.findById(membershipId(userId, doc.conversationId), { joinedSeq: 1, hidden: 1 }).lean<Pick<MembershipDoc, 'joinedSeq' | 'hidden'>>();
      if (!member || doc.seq <= (member.joinedSeq ?? 0) || member.hidden?.some(h => String(h) === String(doc._id))) {
        throw new AppError(ErrorCode.CHAT_FAILED, 'not a message you can see');
      }
      if (isRecalled(doc.type)) throw new AppError(ErrorCode.CHAT_FAILED, 'this message was recalled');
      const reactions = (doc.reactions ?? []).map(r => ({ emoji: r.emoji, users: [ ...r.users ] }));
      const entry = reactions.find(r => r.emoji === input.emoji);
      if (input.on) {
        if (entry?.users.includes(userId)) return null;
        if (!entry && reactions.length >= maxEmoji) throw new AppError(ErrorCode.CHAT_FAILED, `a message has at most ${maxEmoji} different reactions`);
        if (reactions.filter(r => r.users.includes(userId)).length >= perUser) throw new AppError(ErrorCode.CHAT_FAILED, `at most ${perUser} reactions of yours on one message`);
        if (entry) entry.users.push(userId); else reactions.push({ emoji: input.emoji, users: [ userId ] });
      } else {
        if (!entry?.users.includes(userId)) return null;
        entry.users = entry.users.filter(u => u !== userId);
      }
      const kept = reactions.filter(r => r.users.length);
      return kept.length ? { kind: 'react', set: { reactions: kept } } : { kind: 'react', unset: [ 'reactions' ] };
    }, { socketId });
    return wire;
  }
}
