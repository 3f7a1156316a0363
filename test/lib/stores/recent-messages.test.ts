import assert from 'node:assert';
import { Redis } from 'ioredis';
import { Stores, type RecentMessages, type SeqRegistry } from '../../../lib/stores';
import type { WireMessage } from '../../../lib/schemas/wire';

// Both stores, in memory and in Redis (REDIS_URL or 127.0.0.1:6379; .ci/run starts one when none runs).
describe('lib/stores recent messages and seq registry', () => {
  const prefix = `im:test:recent:${process.pid}:${Date.now()}`;
  let redis: Redis;
  before(() => { redis = new Redis(process.env.REDIS_URL || 'redis://127.0.0.1:6379', { maxRetriesPerRequest: 2 }); });
  after(async () => {
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length) await redis.del(...keys);
    await redis.quit();
  });

  const msg = (conversationId: string, seq: number): WireMessage => ({
    _id: `${seq}`.padStart(24, '0'), fp: `fp${seq}`, from: 'a', to: 'b', type: 1, typeu: 1, content: `m${seq}`,
    conversationId, timelineId: 'a@b', seq, sendTime: seq,
  });
  const seqs = (page: WireMessage[] | null) => page && page.map(m => m.seq);

  const stores: Array<[string, () => RecentMessages]> = [
    [ 'memory', () => new Stores(null, prefix).recentMessages({ maxBytes: 1 << 20 }) ],
    [ 'redis', () => new Stores(redis, `${prefix}:${Math.random()}`).recentMessages({ maxBytes: 1 << 20 }) ],
  ];
  for (const [ kind, make ] of stores) {
    it(`${kind}: serves a page only from a contiguous run that ends at the last seq`, async () => {
      const store = make();
      await store.append([ 3, 4, 5, 6 ].map(s => msg('c', s)));
      assert.deepStrictEqual(seqs(await store.page('c', 6, 0, Infinity, 3)), [ 6, 5, 4 ]);
      // another worker stored seq 7: not current, so no answer
      assert.strictEqual(await store.page('c', 7, 0, Infinity, 3), null);
      // the page reaches below what the run holds (seqs 1..2 unknown)
      assert.strictEqual(await store.page('c', 6, 0, Infinity, 10), null);
      // ...unless the user's history starts after them (joined at seq 2)
      assert.deepStrictEqual(seqs(await store.page('c', 6, 2, Infinity, 10)), [ 6, 5, 4, 3 ]);
      assert.deepStrictEqual(seqs(await store.page('c', 6, 0, 5, 2)), [ 4, 3 ]);
    });

    it(`${kind}: a gap starts the run anew, an older append is ignored, forget drops it`, async () => {
      const store = make();
      await store.append([ msg('d', 1), msg('d', 2) ]);
      await store.append([ msg('d', 5) ]);
      assert.strictEqual(await store.page('d', 5, 0, Infinity, 2), null);
      assert.deepStrictEqual(seqs(await store.page('d', 5, 4, Infinity, 2)), [ 5 ]);
      await store.append([ msg('d', 3) ]);
      assert.deepStrictEqual(seqs(await store.page('d', 5, 4, Infinity, 2)), [ 5 ]);
      await store.forget('d');
      assert.strictEqual(await store.page('d', 5, 4, Infinity, 2), null);
    });

    it(`${kind}: a seeded page is kept only if it ends at the last seq without a gap`, async () => {
      const store = make();
      await store.seed('e', [ msg('e', 9), msg('e', 7) ], 9);
      assert.strictEqual(await store.page('e', 9, 6, Infinity, 5), null);
      await store.seed('e', [ msg('e', 9), msg('e', 8), msg('e', 7) ], 9);
      assert.deepStrictEqual(seqs(await store.page('e', 9, 6, Infinity, 5)), [ 9, 8, 7 ]);
    });
  }

  const registries: Array<[string, () => SeqRegistry]> = [
    [ 'memory', () => new Stores(null, prefix).seqRegistry() ],
    [ 'redis', () => new Stores(redis, `${prefix}:${Math.random()}`).seqRegistry() ],
  ];
  for (const [ kind, make ] of registries) {
    it(`${kind} seq registry: only ever raised; unknown conversations are absent`, async () => {
      const r = make();
      await r.advance(new Map([[ 'x', 5 ], [ 'y', 2 ]]));
      await r.advance(new Map([[ 'x', 3 ], [ 'y', 4 ]]));
      const got = await r.get([ 'x', 'y', 'z' ]);
      assert.deepStrictEqual([ ...got ].sort(), [[ 'x', 5 ], [ 'y', 4 ]]);
    });
  }
});
