import type { Application } from 'egg';
import type { Model, Types } from 'mongoose';

/**
 * A user's place in a conversation, kept as cursors rather than per-message copies
 * (ARCHITECTURE.md): offline = seq > deliveredSeq, unread = lastSeq - readSeq, deletes hide by id.
 */
export interface MembershipDoc {
  _id: Types.ObjectId;
  user: Types.ObjectId;
  conversationId: string;
  typeu: 1 | 2;
  /** c2c: the other user; c2g: the room */
  peer?: Types.ObjectId;
  room?: Types.ObjectId;
  /** messages up to here were acked by one of this user's clients */
  deliveredSeq: number;
  /** messages up to here were read by this user */
  readSeq: number;
  /** the conversation's seq when the user joined (a room's earlier history is not theirs) */
  joinedSeq: number;
  /** messages this user deleted for themselves */
  hidden: Types.ObjectId[];
}

export default (app: Application): Model<MembershipDoc> => {
  const { Schema } = app.mongoose;
  const MembershipSchema = new Schema<MembershipDoc>({
    user: { type: Schema.Types.ObjectId, ref: 'User', required: true },
    conversationId: { type: String, required: true },
    typeu: { type: Number, required: true },
    peer: { type: Schema.Types.ObjectId, ref: 'User' },
    room: { type: Schema.Types.ObjectId, ref: 'Room' },
    deliveredSeq: { type: Number, default: 0 },
    readSeq: { type: Number, default: 0 },
    joinedSeq: { type: Number, default: 0 },
    hidden: { type: [ Schema.Types.ObjectId ], default: [] },
  }, { versionKey: false });
  // "my conversations" and "my place in this conversation"
  MembershipSchema.index({ user: 1, conversationId: 1 }, { unique: true });
  // "who is in this conversation" (receipts, room clean-up)
  MembershipSchema.index({ conversationId: 1 });
  return app.mongoose.model<MembershipDoc>('Membership', MembershipSchema);
};
