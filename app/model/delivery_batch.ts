import type { Application } from 'egg';
import type { Model, Types } from 'mongoose';

/** One membership's part of a delivery batch: seqs that became done for its user (acked or sent). */
export interface DeliveryBatchEntry {
  /** the membership's `_id` */
  m: string;
  seqs: number[];
  /** the user's newest own message among them (raises `sentSeq`); 0 when none */
  sent: number;
}

/**
 * A delivery flush's acks and sends, appended in one insert and answered once stored; folded into
 * the memberships a moment later and then deleted (app/message/delivery-writer.ts). On FerretDB an
 * update costs a transaction each and an insert of many entries one, so acks no longer wait behind
 * a thousand membership updates. Until folded, readers of delivery state add these entries to the
 * memberships they read.
 *
 * The entries are one string (`encodeEntries`): FerretDB converts every value of a document on
 * each write and read, and 1,000 entries as subdocuments cost it 24 ms to insert, 60 ms to delete
 * and 43 ms to read, against 2.5, 4 and 2.5 ms as one string (measured on this machine).
 */
export interface DeliveryBatchDoc {
  _id: Types.ObjectId;
  /** when written: a batch much older than its writer's fold delay was left by a stopped process */
  time: Date;
  /**
   * the users its entries belong to, for readers in other processes (an index on MongoDB); written
   * only when processes share the database (a single process reads its own batches from memory)
   */
  users?: Types.ObjectId[];
  /** the entries, `encodeEntries` */
  data: string;
}

/** One line per entry: `<membership id> <seq>,<seq>… <sent>` (ids hold no spaces or newlines). */
export function encodeEntries(entries: DeliveryBatchEntry[]): string {
  return entries.map(e => `${e.m} ${e.seqs.join(',')} ${e.sent}`).join('\n');
}

export function decodeEntries(data: string): DeliveryBatchEntry[] {
  if (!data) return [];
  return data.split('\n').map(line => {
    const [ m, seqs, sent ] = line.split(' ');
    return { m, seqs: seqs ? seqs.split(',').map(Number) : [], sent: Number(sent) || 0 };
  });
}

export default (app: Application): Model<DeliveryBatchDoc> => {
  const { Schema } = app.mongoose;
  const DeliveryBatchSchema = new Schema<DeliveryBatchDoc>({
    time: { type: Date, required: true },
    users: { type: [ Schema.Types.ObjectId ], default: undefined },
    data: { type: String, required: true },
  }, { versionKey: false });
  DeliveryBatchSchema.index({ users: 1 });
  DeliveryBatchSchema.index({ time: 1 });
  return app.mongoose.model<DeliveryBatchDoc>('DeliveryBatch', DeliveryBatchSchema);
};
