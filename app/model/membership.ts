import type { Application } from 'egg';
import type { Model, Types } from 'mongoose';
import type { TypeU } from '../../lib/conversation-ids';


/**
 * A user's place in a conversation, kept as cursors rather than per-message copies
 * (ARCHITECTURE.md). Delivery never skips: a message counts as delivered only once this user acked
 * it (or sent it), so `deliveredSeq` is the gap-free prefix of such seqs and `acked` holds the ones
 * acked out of order above it. Pending for `offline_message` = seq > deliveredSeq and not in
 * `acked`; unread = lastSeq - max(readSeq, sentSeq, joinedSeq).
 */
export interface MembershipDoc {
  /** membershipId(user, conversationId) (lib/conversation-ids.ts) */
  _id: string;
  user: Types.ObjectId;
  conversationId: string;
  typeu: TypeU;
  /** c2c: the other user; c2g: the room */
  peer?: Types.ObjectId;
  room?: Types.ObjectId;
  /** every seq up to here was acked by one of this user's clients, or sent by this user */
  deliveredSeq: number;
  /** seqs above `deliveredSeq` acked out of order (entries at or below it are stale and ignored) */
  acked: number[];
  /** messages up to here were read by this user (`to_reader`) */
  readSeq: number;
  /** this user's newest message here: what they sent after, they have seen */
  sentSeq: number;
  /** the conversation's seq when the user joined (a room's earlier history is not theirs) */
  joinedSeq: number;
  /** messages this user deleted for themselves */
  hidden: Types.ObjectId[];
  // §8, this user's settings and what concerns them alone
  pinned?: boolean;
  muted?: boolean;
  /** archived while the conversation has nothing past `archivedSeq`: a new message un-archives it */
  archived?: boolean;
  archivedSeq?: number;
  /** seqs of messages that mention this user (those at or below the read cursors are stale) */
  mentions?: number[];
  /** the newest change feed record of this user alone here (a hide) */
  lastChangeId?: number;
}

export default (app: Application): Model<MembershipDoc> => {
  const { Schema } = app.mongoose;
  const MembershipSchema = new Schema<MembershipDoc>({
    _id: { type: String },
    user: { type: Schema.Types.ObjectId, ref: 'User', required: true },
    conversationId: { type: String, required: true },
    typeu: { type: Number, required: true },
    peer: { type: Schema.Types.ObjectId, ref: 'User' },
    room: { type: Schema.Types.ObjectId, ref: 'Room' },
    deliveredSeq: { type: Number, default: 0 },
    acked: { type: [ Number ], default: [] },
    readSeq: { type: Number, default: 0 },
    sentSeq: { type: Number, default: 0 },
    joinedSeq: { type: Number, default: 0 },
    hidden: { type: [ Schema.Types.ObjectId ], default: [] },
    pinned: { type: Boolean },
    muted: { type: Boolean },
    archived: { type: Boolean },
    archivedSeq: { type: Number },
    mentions: { type: [ Number ], default: undefined },
    lastChangeId: { type: Number },
  }, { versionKey: false, _id: false });
  // "my conversations"
  MembershipSchema.index({ user: 1 });
  // "who is in this conversation" (receipts, room clean-up)
  MembershipSchema.index({ conversationId: 1 });
  return app.mongoose.model<MembershipDoc>('Membership', MembershipSchema);
};
