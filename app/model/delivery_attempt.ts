import type { Application } from 'egg';
import type { Model } from 'mongoose';
import type { AttemptDoc } from '../../lib/job-queue';

/**
 * One attempt of a background job (lib/job-queue.ts): `_id` `"<job>:<n>"` is unique, which is what
 * lets one worker alone hold an attempt; with its results it is the delivery log
 * (`GET /api/admin/webhooks/:id/deliveries`). Removed after `webhooks.keepLogDays`.
 */
export default (app: Application): Model<AttemptDoc> => {
  const { Schema } = app.mongoose;
  const AttemptSchema = new Schema<AttemptDoc>({
    _id: { type: String },
    job: { type: Schema.Types.ObjectId, required: true },
    kind: { type: String, required: true },
    target: { type: String, required: true },
    n: { type: Number, required: true },
    worker: { type: String, default: '' },
    startedAt: { type: Date, required: true },
    finishedAt: { type: Date },
    outcome: { type: String },
    results: { type: String },
  }, { versionKey: false, _id: false });
  // a webhook's recent attempts
  AttemptSchema.index({ target: 1, startedAt: -1 });
  // clean-up of old records
  AttemptSchema.index({ startedAt: 1 });
  return app.mongoose.model<AttemptDoc>('DeliveryAttempt', AttemptSchema);
};
