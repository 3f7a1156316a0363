import type { Application } from 'egg';
import type { Model, Types } from 'mongoose';

/**
 * One per conversation: c2c `"<smaller id>@<larger id>"`, c2g the room id. `lastSeq` is a pointer
 * raised (never lowered) after each group commit; the order of record is the messages' own `seq`.
 */
export interface ConversationDoc {
  _id: string;
  typeu: 1 | 2;
  /** c2c: the two users; c2g: empty (members live on the room) */
  users: Types.ObjectId[];
  room?: Types.ObjectId;
  lastSeq: number;
  lastMessage?: Types.ObjectId;
  updatedAt: Date;
}

export default (app: Application): Model<ConversationDoc> => {
  const { Schema } = app.mongoose;
  const ConversationSchema = new Schema<ConversationDoc>({
    _id: { type: String },
    typeu: { type: Number, required: true },
    users: { type: [ Schema.Types.ObjectId ], ref: 'User', default: [] },
    room: { type: Schema.Types.ObjectId, ref: 'Room' },
    lastSeq: { type: Number, default: 0 },
    lastMessage: { type: Schema.Types.ObjectId, ref: 'Message' },
    updatedAt: { type: Date, default: () => new Date() },
  }, { versionKey: false, _id: false });
  return app.mongoose.model<ConversationDoc>('Conversation', ConversationSchema);
};
