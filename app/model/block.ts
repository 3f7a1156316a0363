import type { Application } from 'egg';
import type { Model, Types } from 'mongoose';

/** `user` blocked `blocked`: the blocked user's 1:1 messages to `user` are refused (20003). */
export interface BlockDoc {
  _id: Types.ObjectId;
  user: Types.ObjectId;
  blocked: Types.ObjectId;
  createdAt: Date;
}

export default (app: Application): Model<BlockDoc> => {
  const { Schema } = app.mongoose;
  const BlockSchema = new Schema<BlockDoc>({
    user: { type: Schema.Types.ObjectId, ref: 'User', required: true },
    blocked: { type: Schema.Types.ObjectId, ref: 'User', required: true },
  }, { timestamps: { createdAt: true, updatedAt: false }, versionKey: false });
  // one block per pair; also answers "did the recipient block the sender" on the send path
  BlockSchema.index({ user: 1, blocked: 1 }, { unique: true });
  // "who blocked me" (presence must not reach the blocked)
  BlockSchema.index({ blocked: 1 });
  return app.mongoose.model<BlockDoc>('Block', BlockSchema);
};
