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
}

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
  }, { versionKey: false, minimize: true });
  // idempotency: a retried `to` finds the stored message instead of storing a second one
  MessageSchema.index({ from: 1, fp: 1 }, { unique: true });
  // the order of record, and what history, pulls and "last seq" read
  MessageSchema.index({ conversationId: 1, seq: 1 }, { unique: true });
  // retention clean-up
  MessageSchema.index({ sendTime: 1 });
  // an ack that names a message by `fp` alone (PROTOCOL §4 c_message_ack)
  MessageSchema.index({ fp: 1 });
  return app.mongoose.model<MessageDoc>('Message', MessageSchema);
};
