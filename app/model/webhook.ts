import type { Application } from 'egg';
import type { Model, Types } from 'mongoose';
import { WEBHOOK_EVENTS } from '../../lib/schemas/integration';

export type WebhookEvent = typeof WEBHOOK_EVENTS[number];

/**
 * A registered webhook endpoint (PROTOCOL §9), made by the admin CLI or `POST /api/admin/webhooks`.
 * The secret signs every delivery, so it is kept as it is (a hash could not sign).
 */
export interface WebhookDoc {
  _id: Types.ObjectId;
  url: string;
  events: WebhookEvent[];
  secret: string;
  createdAt: Date;
}

export default (app: Application): Model<WebhookDoc> => {
  const { Schema } = app.mongoose;
  const WebhookSchema = new Schema<WebhookDoc>({
    url: { type: String, required: true },
    events: { type: [ String ], enum: WEBHOOK_EVENTS, default: [] },
    secret: { type: String, required: true },
    createdAt: { type: Date, required: true },
  }, { versionKey: false });
  return app.mongoose.model<WebhookDoc>('Webhook', WebhookSchema);
};
