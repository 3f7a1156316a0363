import type { Application } from 'egg';
import type { Model, Types } from 'mongoose';

/**
 * A pinned message, listed by `GET /api/messages/pinned` (PROTOCOL §8). The message's own `pinnedBy`
 * and `pinnedAt` are the truth; this is the index that finds them per conversation without reading
 * its messages (`_id` = the message's). app/message/pins.ts keeps it a superset of what is pinned.
 */
export interface PinDoc {
  _id: Types.ObjectId;
  conversationId: string;
  pinnedAt: Date;
}

export default (app: Application): Model<PinDoc> => {
  const { Schema } = app.mongoose;
  const PinSchema = new Schema<PinDoc>({
    conversationId: { type: String, required: true },
    pinnedAt: { type: Date, required: true },
  }, { versionKey: false });
  PinSchema.index({ conversationId: 1, pinnedAt: -1 });
  return app.mongoose.model<PinDoc>('Pin', PinSchema);
};
