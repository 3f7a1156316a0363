import type { Application } from 'egg';
import type { Model, Types } from 'mongoose';

/**
 * `user` has `friend` as a friend, in `user`'s own `group` and under `user`'s own `alias`. A
 * friendship is two documents, one per direction, so each side files the other as it likes.
 */
export interface FriendshipDoc {
  _id: Types.ObjectId;
  user: Types.ObjectId;
  friend: Types.ObjectId;
  group: string;
  alias: string;
  createdAt: Date;
}

export default (app: Application): Model<FriendshipDoc> => {
  const { Schema } = app.mongoose;
  const FriendshipSchema = new Schema<FriendshipDoc>({
    user: { type: Schema.Types.ObjectId, ref: 'User', required: true },
    friend: { type: Schema.Types.ObjectId, ref: 'User', required: true },
    group: { type: String, default: '' },
    alias: { type: String, default: '' },
  }, { timestamps: { createdAt: true, updatedAt: false }, versionKey: false });
  // "my friends" (list, presence contacts) and "is X my friend"
  FriendshipSchema.index({ user: 1, friend: 1 }, { unique: true });
  return app.mongoose.model<FriendshipDoc>('Friendship', FriendshipSchema);
};
