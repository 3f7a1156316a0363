import type { Model } from 'mongoose';

/**
 * FerretDB 1.24 deadlocks for good once about 100 updates are in flight at once (each holds one of
 * its SQLite connections while it waits for another: seen as one bulkWrite of 100, and as two
 * writers' bulks of 50 running together). So every bulk update goes through here: ordered chunks of
 * 50, and one bulk command at a time in this process. On MongoDB this costs a little concurrency on
 * write bursts, nothing on correctness. The one bulk outside this queue is the job queue's claim
 * (at most 16 updates, lib/job-queue.ts), which must not wait behind the message path's bulks.
 */
export const BULK_CHUNK = 50;

let tail: Promise<unknown> = Promise.resolve();

export async function bulkWriteInChunks(model: Model<any>, ops: Parameters<Model<any>['bulkWrite']>[0]) {
  for (let i = 0; i < ops.length; i += BULK_CHUNK) {
    const chunk = ops.slice(i, i + BULK_CHUNK);
    const run = tail.then(() => model.bulkWrite(chunk, { ordered: true }));
    tail = run.catch(() => undefined);
    await run;
  }
}
