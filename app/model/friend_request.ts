import type { Application } from 'egg';
import type { Model, Types } from 'mongoose';

/** A pending friend request; accepting or refusing it deletes it. */
export interface FriendRequestDoc {
  _id: Types.ObjectId;
  from: Types.ObjectId;
  to: Types.ObjectId;
  message: string;
  createdAt: Date;
}

export default (app: Application): Model<FriendRequestDoc> => {
  const { Schema } = app.mongoose;
  const FriendRequestSchema = new Schema<FriendRequestDoc>({
    from: { type: Schema.Types.ObjectId, ref: 'User', required: true },
    to: { type: Schema.Types.ObjectId, ref: 'User', required: true, index: true },
    message: { type: String, default: '' },
  }, { timestamps: { createdAt: true, updatedAt: false }, versionKey: false });
  // one pending request per direction: a duplicate is refused by the index (409 / 10004)
  FriendRequestSchema.index({ from: 1, to: 1 }, { unique: true });
  return app.mongoose.model<FriendRequestDoc>('FriendRequest', FriendRequestSchema);
};
