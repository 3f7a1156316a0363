import type { Model } from 'mongoose';

/**
 * FerretDB 1.24 deadlocks for good once about 100 updates are in flight at once (each holds one of
 * its SQLite connections while it waits for another: seen as one bulkWrite of 100, and as two
 * writers' bulks of 50 running together). So every bulk update goes through here: ordered chunks of
 * 50, and one bulk command at a time in this process. On MongoDB this costs a little concurrency on
 * write bursts, nothing on correctness. The one bulk outside this queue is the job queue's claim
 * (at most 16 updates, lib/job-queue.ts), which must not wait behind the message path's bulks.
 *
 * Chunks wait their turn by priority: `background` ones (conversation pointers, which nobody waits
 * for) only when no other chunk waits. Under load a 50-update chunk takes about a second on
 * FerretDB, and pointer chunks taking every other turn doubled the time acks waited for their
 * write (bench: a flush of 1,000 memberships took 26 s, half of it behind pointer chunks).
 */
export const BULK_CHUNK = 50;

export type BulkPriority = 'now' | 'background';

const waiting: Record<BulkPriority, Array<() => void>> = { now: [], background: [] };
let busy = false;

function turn(priority: BulkPriority): Promise<void> {
  if (!busy) {
    busy = true;
    return Promise.resolve();
  }
  return new Promise(resolve => waiting[priority].push(resolve));
}

function done() {
  const next = waiting.now.shift() ?? waiting.background.shift();
  if (next) next(); else busy = false;
}

export async function bulkWriteInChunks(model: Model<any>, ops: Parameters<Model<any>['bulkWrite']>[0], priority: BulkPriority = 'now') {
  let next: Promise<void> | null = ops.length ? turn(priority) : null;
  for (let i = 0; next; i += BULK_CHUNK) {
    await next;
    try {
      await model.bulkWrite(ops.slice(i, i + BULK_CHUNK), { ordered: true });
    } catch (err) {
      done();
      throw err;
    }
    // the next chunk queues before this turn passes on: a write's chunks do not let lower ones in between
    next = i + BULK_CHUNK < ops.length ? turn(priority) : null;
    done();
  }
}
