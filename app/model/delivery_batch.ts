import type { Application } from 'egg';
import type { Model, Types } from 'mongoose';

/** One membership's part of a delivery batch: seqs that became done for its user (acked or sent). */
export interface DeliveryBatchEntry {
  /** the membership's `_id` */
  m: string;
  seqs: number[];
  /** the user's newest own message among them (raises `sentSeq`) */
  sent?: number;
}

/**
 * A delivery flush's acks and sends, appended in one insert and answered once stored; folded into
 * the memberships a moment later and then deleted (app/message/delivery-writer.ts). On FerretDB an
 * update costs a transaction each and an insert of many entries one, so acks no longer wait behind
 * a thousand membership updates. Until folded, readers of delivery state add these entries to the
 * memberships they read.
 */
export interface DeliveryBatchDoc {
  _id: Types.ObjectId;
  /** when written: a batch much older than its writer's fold delay was left by a stopped process */
  time: Date;
  /** the users its entries belong to (readers find theirs by it) */
  users: Types.ObjectId[];
  entries: DeliveryBatchEntry[];
}

export default (app: Application): Model<DeliveryBatchDoc> => {
  const { Schema } = app.mongoose;
  const DeliveryBatchSchema = new Schema<DeliveryBatchDoc>({
    time: { type: Date, required: true },
    users: { type: [ Schema.Types.ObjectId ], required: true },
    entries: { type: [{ _id: false, m: String, seqs: [ Number ], sent: Number }], required: true },
  }, { versionKey: false });
  DeliveryBatchSchema.index({ users: 1 });
  DeliveryBatchSchema.index({ time: 1 });
  return app.mongoose.model<DeliveryBatchDoc>('DeliveryBatch', DeliveryBatchSchema);
};
