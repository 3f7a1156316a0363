import assert from 'node:assert';
import { Redis } from 'ioredis';
import { Stores, type ChangeRegistry } from '../../../lib/stores';
import { IDS_PER_MS, MemoryChangeRegistry } from '../../../lib/stores/change-registry';
import { sleep } from '../../helpers';

// The Redis half needs Redis (REDIS_URL or 127.0.0.1:6379); .ci/run starts one when none is running.
describe('lib/stores change registry (the change feed\'s ids and horizon)', () => {
  const prefix = `im:test:changes:${process.pid}:${Date.now()}`;
  let redis: Redis;
  before(() => { redis = new Redis(process.env.REDIS_URL || 'redis://127.0.0.1:6379', { maxRetriesPerRequest: 2 }); });
  after(async () => {
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length) await redis.del(...keys);
    await redis.quit();
  });

  const kinds: Array<[string, (inflightMs?: number) => ChangeRegistry]> = [
    [ 'memory', (inflightMs = 10000) => new Stores(null, prefix).changeRegistry({ inflightMs }) ],
    [ 'redis', (inflightMs = 10000) => new Stores(redis, `${prefix}:${Math.random()}`).changeRegistry({ inflightMs }) ],
  ];
  for (const [ kind, make ] of kinds) {
    it(`${kind}: ids increase, are time-based, and count out a batch`, async () => {
      const r = make();
      const before = Date.now();
      const a = await r.allocate();
      const b = await r.allocate(3);
      const c = await r.allocate();
      assert.ok(a >= before * IDS_PER_MS && a < (Date.now() + 1) * IDS_PER_MS, `${a}`);
      assert.ok(b > a && c >= b + 3, JSON.stringify([ a, b, c ]));
    });

    it(`${kind}: the horizon stays below the oldest id in flight, and moves on once it is released`, async () => {
      const r = make();
      const first = await r.allocate();
      const second = await r.allocate();
      await r.release(second, new Map([[ 'c2', second ]]));
      const held = await r.state([ 'c2' ]);
      assert.strictEqual(held.horizon, first - 1, 'a reader may not pass the change still being written');
      assert.strictEqual(held.last.get('c2'), second);
      assert.strictEqual((await r.release(first, new Map([[ 'c1', first ]]))).late, false);
      const free = await r.state([ 'c1', 'c2', 'c3' ]);
      assert.ok(free.horizon >= second, JSON.stringify(free));
      assert.deepStrictEqual([ free.last.get('c1'), free.last.get('c2'), free.last.has('c3') ], [ first, second, false ]);
    });

    it(`${kind}: an id in flight longer than inflightMs stops holding readers back, and its writer is told it is late`, async () => {
      const r = make(50);
      const stuck = await r.allocate();
      await sleep(80);
      const later = await r.allocate();
      await r.release(later, new Map());
      assert.ok((await r.state([])).horizon >= later, 'the abandoned id no longer holds the horizon');
      assert.strictEqual((await r.release(stuck, new Map())).late, true);
    });

    it(`${kind}: since is at or below every id handed out after it`, async () => {
      const r = make();
      const s = await r.state([]);
      const id = await r.allocate();
      assert.ok(s.since <= id && (await r.state([])).since <= id);
    });
  }

  it('memory: a conversation forgotten by the LRU raises since past its last change', async () => {
    const r = new MemoryChangeRegistry({ inflightMs: 10000, max: 2 });
    const ids = [];
    for (const c of [ 'a', 'b', 'c' ]) {
      const id = await r.allocate();
      await r.release(id, new Map([[ c, id ]]));
      ids.push(id);
    }
    const s = await r.state([ 'a', 'b', 'c' ]);
    assert.strictEqual(s.last.has('a'), false);
    assert.ok(s.since >= ids[0], 'cursors before a\'s change must ask the store');
  });

  it('redis: ids keep growing when Redis loses the keys (a restart), and since moves past the loss', async () => {
    const p = `${prefix}:restart`;
    const r = new Stores(redis, p).changeRegistry({ inflightMs: 10000 });
    const before = await r.allocate();
    await r.release(before, new Map([[ 'c', before ]]));
    const keys = await redis.keys(`${p}*`);
    await redis.del(...keys);
    const after = await r.state([ 'c' ]);
    assert.ok(after.newest >= before && after.since >= before, JSON.stringify(after));
    assert.strictEqual(after.last.has('c'), false);
    assert.ok(await r.allocate() > before);
  });
});
