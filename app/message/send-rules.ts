import { AppError, ErrorCode } from '../../lib/errors';
import type { SendMessageInput } from '../../lib/schemas/message';

/** What the group commit read about a batch, for the send rules. */
export interface SendFacts {
  userExists(userId: string): boolean;
  /** `"<blocker>><blocked>"` pairs among the batch's c2c peers and senders */
  blocked: Set<string>;
  isMember(userId: string, roomId: string): boolean;
  roomExists(roomId: string): boolean;
}

/**
 * May `from` send this? The one place the rules live (PROTOCOL §6): c2g only by a member of an
 * existing room; c2c not to oneself, not to a missing user, not to someone who blocked the sender.
 * Null when allowed.
 */
export function sendRefusal(from: string, input: Pick<SendMessageInput, 'to' | 'typeu'>, facts: SendFacts): AppError | null {
  if (input.typeu === 2) {
    if (facts.isMember(from, input.to)) return null;
    if (!facts.roomExists(input.to)) return new AppError(ErrorCode.USER_NOT_EXIST, 'room does not exist');
    return new AppError(ErrorCode.CHAT_FAILED, 'not a member of this room');
  }
  if (input.to === from) return new AppError(ErrorCode.CHAT_FAILED, 'cannot send a message to yourself');
  if (!facts.userExists(input.to)) return new AppError(ErrorCode.USER_NOT_EXIST, 'user does not exist');
  if (facts.blocked.has(`${input.to}>${from}`)) return new AppError(ErrorCode.CHAT_FAILED, 'this user does not accept your messages');
  return null;
}
