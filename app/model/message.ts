import type { Application } from 'egg';
import type { Model, Types } from 'mongoose';
import { timelineIdOf, type TypeU } from '../../lib/conversation-ids';
import type { WireMessage } from '../../lib/schemas/wire';

export const MessageType = { TEXT: 1, IMAGE: 2, VOICE: 3, FILE: 4, CUSTOM: 5, RECALLED_TEXT: 10, RECALLED_OTHER: 21 } as const;

/** A stored message (PROTOCOL §6). A room message is one document whatever the room's size. */
export interface MessageDoc {
  _id: Types.ObjectId;
  fp: string;
  from: Types.ObjectId;
  /** c2c: the recipient; c2g: the room */
  to: Types.ObjectId;
  type: number;
  typeu: TypeU;
  content: string;
  extra?: Record<string, unknown>;
  conversationId: string;
  seq: number;
  sendTime: Date;
  /** the client's own timestamp, passed through */
  time?: number;
  // §8 message features
  /** the message this one answers, as quoted when it was sent (`excerpt` emptied when that one is recalled) */
  replyTo?: { _id: Types.ObjectId; from: Types.ObjectId; type: number; excerpt: string };
  /** room mentions: user ids, or `['all']` */
  mentions?: string[];
  editedAt?: Date;
  /** every reactor per emoji, in reaction order (the wire shows the count and the first 20) */
  reactions?: Array<{ emoji: string; users: string[] }>;
  /** +1 on every change; absent = 0. Changes are compare-and-set on it (app/message/mutations.ts) */
  rev?: number;
  pinnedBy?: Types.ObjectId;
  pinnedAt?: Date;
  /** search index terms of a text message (app/message/search-index.ts); never on the wire */
  terms?: string[];
}

/** users named per emoji on the wire (PROTOCOL §8); the count is exact */
export const REACTION_USERS_SHOWN = 20;

/** The stored message as clients get it (PROTOCOL §6). */
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
    timelineId: timelineIdOf(doc.typeu, from, to),
    seq: doc.seq,
    sendTime: new Date(doc.sendTime).getTime(),
  };
  if (doc.extra !== undefined) wire.extra = doc.extra;
  if (doc.time !== undefined) wire.time = doc.time;
  if (doc.replyTo) wire.replyTo = { _id: String(doc.replyTo._id), from: String(doc.replyTo.from), type: doc.replyTo.type, excerpt: doc.replyTo.excerpt };
  if (doc.mentions?.length) wire.mentions = doc.mentions;
  if (doc.editedAt) wire.editedAt = new Date(doc.editedAt).getTime();
  if (doc.reactions?.length) wire.reactions = doc.reactions.map(r => ({ emoji: r.emoji, count: r.users.length, users: r.users.slice(0, REACTION_USERS_SHOWN) }));
  wire.rev = doc.rev ?? 0;
  if (doc.pinnedBy) wire.pinnedBy = String(doc.pinnedBy);
  return wire;
}

export default (app: Application): Model<MessageDoc> => {
  const { Schema } = app.mongoose;
  const MessageSchema = new Schema<MessageDoc>({
    fp: { type: String, required: true },
    from: { type: Schema.Types.ObjectId, ref: 'User', required: true },
    to: { type: Schema.Types.ObjectId, required: true },
    type: { type: Number, required: true },
    typeu: { type: Number, required: true },
    content: { type: String, default: '' },
    extra: { type: Schema.Types.Mixed },
    conversationId: { type: String, required: true },
    seq: { type: Number, required: true },
    sendTime: { type: Date, required: true },
    time: { type: Number },
    replyTo: { type: Schema.Types.Mixed },
    mentions: { type: [ String ], default: undefined },
    editedAt: { type: Date },
    reactions: { type: Schema.Types.Mixed },
    rev: { type: Number },
    pinnedBy: { type: Schema.Types.ObjectId },
    pinnedAt: { type: Date },
    terms: { type: [ String ], default: undefined },
  }, { versionKey: false, minimize: true });
  // idempotency: a retried `to` finds the stored message instead of storing a second one
  MessageSchema.index({ from: 1, fp: 1 }, { unique: true });
  // the order of record, and what history, pulls and "last seq" read
  MessageSchema.index({ conversationId: 1, seq: 1 }, { unique: true });
  // retention clean-up
  MessageSchema.index({ sendTime: 1 });
  // an ack that names a message by `fp` alone (PROTOCOL §4 c_message_ack)
  MessageSchema.index({ fp: 1 });
  // search (§8): the words of the user's conversations, newest first; multikey on `terms`
  MessageSchema.index({ conversationId: 1, terms: 1, _id: -1 });
  // a recall empties the quotes of the replies to it; sparse: only replies are in it
  MessageSchema.index({ 'replyTo._id': 1 }, { sparse: true });
  return app.mongoose.model<MessageDoc>('Message', MessageSchema);
};
