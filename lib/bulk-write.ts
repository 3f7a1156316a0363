import type { Model } from 'mongoose';

/**
 * FerretDB 1.24 stalls for minutes on a bulkWrite of about 100 updates (60 take 60 ms, measured):
 * every bulk update goes through here in ordered chunks of 50. On MongoDB it costs a few extra
 * round-trips only for large batches.
 */
export const BULK_CHUNK = 50;

export async function bulkWriteInChunks(model: Model<any>, ops: Parameters<Model<any>['bulkWrite']>[0]) {
  for (let i = 0; i < ops.length; i += BULK_CHUNK) {
    await model.bulkWrite(ops.slice(i, i + BULK_CHUNK), { ordered: true });
  }
}
