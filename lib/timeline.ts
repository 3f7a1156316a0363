/** How conversations and timelines are named (PROTOCOL §6) and what a stored message looks like on the wire. */
import type { MessageDoc } from '../app/model/message';
import type { WireMessage } from './schemas/wire';

/** c2c conversation id: the two user ids, smaller first, so both sides name it alike. */
export const c2cConversationId = (a: string, b: string) => (a < b ? `${a}@${b}` : `${b}@${a}`);

/** The stored message as clients get it (one definition, shared with the web client). */
export type { WireMessage };

export function toWire(doc: MessageDoc): WireMessage {
  const from = String(doc.from);
  const to = String(doc.to);
  const wire: WireMessage = {
    _id: String(doc._id),
    fp: doc.fp,
    from,
    to,
    type: doc.type,
    typeu: doc.typeu,
    content: doc.content,
    conversationId: doc.conversationId,
    timelineId: doc.typeu === 2 ? to : `${from}@${to}`,
    seq: doc.seq,
    sendTime: new Date(doc.sendTime).getTime(),
  };
  if (doc.extra !== undefined) wire.extra = doc.extra;
  if (doc.time !== undefined) wire.time = doc.time;
  return wire;
}
