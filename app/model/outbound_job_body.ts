import type { Application } from 'egg';
import type { Model } from 'mongoose';
import type { JobBodyDoc } from '../../lib/job-queue';

/**
 * The items of a pending background job (lib/job-queue.ts), under the `_id` of its head in
 * OutboundJob: kept apart so that polling the heads never reads them, and read by `_id` only.
 */
export default (app: Application): Model<JobBodyDoc> => {
  const { Schema } = app.mongoose;
  const JobBodySchema = new Schema<JobBodyDoc>({
    items: { type: Buffer, required: true },
  }, { versionKey: false });
  return app.mongoose.model<JobBodyDoc>('OutboundJobBody', JobBodySchema);
};
