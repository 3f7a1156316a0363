import type { Application } from 'egg';
import type { Model, Types } from 'mongoose';

/**
 * A browser's Web Push subscription (PROTOCOL §9). `_id` is the SHA-256 of the endpoint: a browser
 * profile's endpoint belongs to whoever subscribed with it last, and it is found by `_id`.
 */
export interface PushSubscriptionDoc {
  _id: string;
  user: Types.ObjectId;
  endpoint: string;
  keys: { p256dh: string; auth: string };
  createdAt: Date;
}

export default (app: Application): Model<PushSubscriptionDoc> => {
  const { Schema } = app.mongoose;
  const PushSubscriptionSchema = new Schema<PushSubscriptionDoc>({
    _id: { type: String },
    user: { type: Schema.Types.ObjectId, ref: 'User', required: true },
    endpoint: { type: String, required: true },
    keys: { p256dh: { type: String, required: true }, auth: { type: String, required: true } },
    createdAt: { type: Date, required: true },
  }, { versionKey: false, _id: false });
  // a user's subscriptions
  PushSubscriptionSchema.index({ user: 1 });
  return app.mongoose.model<PushSubscriptionDoc>('PushSubscription', PushSubscriptionSchema);
};
