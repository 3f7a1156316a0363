/**
 * How conversations, timelines and memberships are named (PROTOCOL §6), in one place for the server
 * and the web client. Plain functions on id strings: no database, no Node APIs.
 *
 * - a c2c conversation is `"<smaller user id>@<larger user id>"`, so both sides name it alike;
 *   a room's conversation is the room id;
 * - a timeline is the conversation as one user sees it: c2c `"<from>@<to>"`, a room its id;
 * - a membership (a user's place in a conversation) is `"<user id>:<conversation id>"`.
 */

/** What a message or conversation is between: `typeu` on the wire. */
export const TypeU = { C2C: 1, C2G: 2 } as const;
export type TypeU = typeof TypeU[keyof typeof TypeU];

export const isRoom = (typeu: number): boolean => typeu === TypeU.C2G;

/** The c2c conversation of two users, smaller id first. */
export const c2cConversationId = (a: string, b: string) => (a < b ? `${a}@${b}` : `${b}@${a}`);

/** The conversation a message from `from` to `to` belongs to. */
export const conversationIdOf = (typeu: number, from: string, to: string) => (isRoom(typeu) ? to : c2cConversationId(from, to));

/** The timeline of a message (or a conversation seen by `from`, with `to` the peer or room). */
export const timelineIdOf = (typeu: number, from: string, to: string) => (isRoom(typeu) ? to : `${from}@${to}`);

/** The two user ids of a c2c conversation or timeline id; null when it is not `"<a>@<b>"`. */
export function c2cParties(id: string): [ string, string ] | null {
  const parts = id.split('@');
  return parts.length === 2 && parts[0] && parts[1] ? [ parts[0], parts[1] ] : null;
}

/** Whether `userId` is one of the two parties of a c2c conversation id; room ids say nothing here. */
export const isC2cParty = (conversationId: string, userId: string) => !!c2cParties(conversationId)?.includes(userId);

/** A membership's `_id`: read and written by `_id` alone, the one lookup FerretDB pushes down to SQL. */
export const membershipId = (userId: string, conversationId: string) => `${userId}:${conversationId}`;

/** The conversation id inside a membership id. */
export const membershipConversation = (id: string) => id.slice(id.indexOf(':') + 1);

/** The user id inside a membership id. */
export const membershipUser = (id: string) => id.slice(0, id.indexOf(':'));
