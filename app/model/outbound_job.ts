import type { Application } from 'egg';
import type { Model } from 'mongoose';
import type { JobDoc } from '../../lib/job-queue';

/**
 * Pending background deliveries (webhook events, Web Push), worked by lib/job-queue.ts: the heads
 * the queue polls, their items in OutboundJobBody. Only work still to do is here: a finished job is
 * deleted, its attempts are in DeliveryAttempt.
 */
export default (app: Application): Model<JobDoc> => {
  const { Schema } = app.mongoose;
  const JobSchema = new Schema<JobDoc>({
    kind: { type: String, required: true },
    target: { type: String, required: true },
    size: { type: Number, required: true },
    attempts: { type: Number, default: 0 },
    runAt: { type: Date, required: true },
    firstAt: { type: Date, required: true },
    lastError: { type: String },
  }, { versionKey: false, minimize: false });
  // what is due
  JobSchema.index({ runAt: 1 });
  return app.mongoose.model<JobDoc>('OutboundJob', JobSchema);
};
