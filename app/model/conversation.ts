import type { Application } from 'egg';
import type { Model, Types } from 'mongoose';
import type { WireMessage } from '../../lib/schemas/wire';
import type { TypeU } from '../../lib/conversation-ids';

/**
 * One per conversation: c2c `"<smaller id>@<larger id>"`, c2g the room id. `lastSeq`,
 * `last` and `updatedAt` are raised (never lowered) a moment after each group commit, for
 * `recent_conversation`; the order of record is the messages' own `seq`, and what is pending for a
 * pull comes from the seq registry.
 */
export interface ConversationDoc {
  _id: string;
  typeu: TypeU;
  /** c2c: the two users; c2g: empty (members are the room's memberships) */
  users: Types.ObjectId[];
  room?: Types.ObjectId;
  lastSeq: number;
  /** the newest message as clients see it, after its `seq` and `rev` (what `$max` compares) */
  last?: { seq: number; rev: number; message: WireMessage } | null;
  /** where documents written before `last` keep it; read only when `last` is missing */
  lastMessage?: WireMessage | null;
  updatedAt: Date;
  /** §8: seqs of messages that mention `all` (a room owner's) */
  allMentions?: number[];
  /** §8: the newest change feed record of this conversation, as far as the pointer writer wrote it (the change registry leads) */
  lastChangeId?: number;
}

export default (app: Application): Model<ConversationDoc> => {
  const { Schema } = app.mongoose;
  const ConversationSchema = new Schema<ConversationDoc>({
    _id: { type: String },
    typeu: { type: Number, required: true },
    users: { type: [ Schema.Types.ObjectId ], ref: 'User', default: [] },
    room: { type: Schema.Types.ObjectId, ref: 'Room' },
    lastSeq: { type: Number, default: 0 },
    last: { type: Schema.Types.Mixed },
    lastMessage: { type: Schema.Types.Mixed },
    updatedAt: { type: Date, default: () => new Date() },
    allMentions: { type: [ Number ], default: undefined },
    lastChangeId: { type: Number },
  }, { versionKey: false, _id: false });
  return app.mongoose.model<ConversationDoc>('Conversation', ConversationSchema);
};
