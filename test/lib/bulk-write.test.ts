import assert from 'node:assert';
import type { Model } from 'mongoose';
import { bulkWriteInChunks, BULK_CHUNK } from '../../lib/bulk-write';

/** A stand-in model whose bulk writes take `ms` each and are recorded by the first op's name. */
function recorder(ms: number) {
  const order: string[] = [];
  let running = 0;
  let overlapped = false;
  const model = {
    bulkWrite: async (ops: Array<{ name: string }>) => {
      if (++running > 1) overlapped = true;
      order.push(ops[0].name);
      await new Promise(resolve => setTimeout(resolve, ms));
      running--;
    },
  } as unknown as Model<any>;
  const ops = (name: string, chunks: number) => Array.from({ length: chunks * BULK_CHUNK }, (_, i) => ({ name: `${name}${Math.floor(i / BULK_CHUNK) + 1}` }));
  return { model, ops, order, overlapped: () => overlapped };
}

describe('lib/bulk-write', () => {
  it('runs one chunk at a time', async () => {
    const r = recorder(20);
    await Promise.all([ bulkWriteInChunks(r.model, r.ops('a', 2) as any), bulkWriteInChunks(r.model, r.ops('b', 2) as any) ]);
    assert.strictEqual(r.overlapped(), false);
  });

  it('a chunk that is not background goes before background chunks that wait', async () => {
    const r = recorder(30);
    const background = bulkWriteInChunks(r.model, r.ops('pointer', 3) as any, 'background');
    await new Promise(resolve => setTimeout(resolve, 5));
    await Promise.all([ bulkWriteInChunks(r.model, r.ops('ack', 2) as any), background ]);
    assert.deepStrictEqual(r.order, [ 'pointer1', 'ack1', 'ack2', 'pointer2', 'pointer3' ]);
  });

  it('a failed chunk passes the turn on: later writes still run', async () => {
    const failing = { bulkWrite: async () => { throw new Error('refused'); } } as unknown as Model<any>;
    await assert.rejects(bulkWriteInChunks(failing, Array.from({ length: 2 * BULK_CHUNK }, () => ({})) as any), /refused/);
    const r = recorder(1);
    await bulkWriteInChunks(r.model, r.ops('after', 1) as any);
    assert.deepStrictEqual(r.order, [ 'after1' ]);
  });
});
