import assert from 'node:assert';
import { Redis } from 'ioredis';
import { Stores, type PresenceRegistry } from '../../../lib/stores';
import { sleep } from '../../helpers';

// The Redis half needs Redis (REDIS_URL or 127.0.0.1:6379); .ci/run starts one when none is running.
describe('lib/stores presence registry', () => {
  const prefix = `im:test:presence:${process.pid}:${Date.now()}`;
  let redis: Redis;
  before(() => { redis = new Redis(process.env.REDIS_URL || 'redis://127.0.0.1:6379', { maxRetriesPerRequest: 2 }); });
  after(async () => {
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length) await redis.del(...keys);
    await redis.quit();
  });

  const kinds: Array<[string, () => PresenceRegistry]> = [
    [ 'memory', () => new Stores(null, prefix).presenceRegistry({ staleMs: 60000 }) ],
    [ 'redis', () => new Stores(redis, `${prefix}:${Math.random()}`).presenceRegistry({ staleMs: 60000 }) ],
  ];
  for (const [ kind, make ] of kinds) {
    it(`${kind}: a user's first socket is "first", later ones are not`, async () => {
      const r = make();
      assert.strictEqual((await r.add('u1', 's1')).first, true);
      assert.strictEqual((await r.add('u1', 's2')).first, false);
      assert.strictEqual((await r.add('u2', 's3')).first, true);
    });

    it(`${kind}: removing a user's last socket is "last", an earlier one is not`, async () => {
      const r = make();
      await r.add('u1', 's1');
      await r.add('u1', 's2');
      assert.strictEqual(await r.remove('u1', 's1'), false);
      assert.strictEqual(await r.remove('u1', 's2'), true);
    });

    it(`${kind}: online() sees only users with a socket`, async () => {
      const r = make();
      await r.add('u1', 's1');
      await r.add('u1', 's2');
      await r.add('u2', 's3');
      assert.deepStrictEqual([ ...await r.online([ 'u1', 'u2', 'u3' ]) ].sort(), [ 'u1', 'u2' ]);
      await r.remove('u1', 's1');
      await r.remove('u1', 's2');
      assert.deepStrictEqual([ ...await r.online([ 'u1', 'u2' ]) ], [ 'u2' ]);
      assert.deepStrictEqual([ ...await r.online([]) ], []);
    });

    it(`${kind}: each connection of a user gets a higher number (the device policy kicks lower ones)`, async () => {
      const r = make();
      const one = await r.add('g1', 's1');
      const two = await r.add('g1', 's2');
      await r.remove('g1', 's1');
      const three = await r.add('g1', 's3');
      assert.ok(one.gen < two.gen && two.gen < three.gen, JSON.stringify([ one, two, three ]));
      assert.deepStrictEqual([ ...await r.online([ 'g1' ]) ], [ 'g1' ]);
    });

    it(`${kind}: numbers keep growing when the registry starts again empty (a Redis restart without persistence)`, async () => {
      const before = await make().add('g2', 's1');
      await sleep(2);
      const after = await make().add('g2', 's2'); // a fresh registry: nothing of the first one left
      assert.ok(after.gen > before.gen, JSON.stringify([ before, after ]));
    });
  }

  describe('redis: a socket its worker stopped vouching for goes stale, so a crash cannot keep a user online', () => {
    /** a registry where 'crashed' was not refreshed within staleMs and 'alive' was */
    async function afterACrash() {
      const r = new Stores(redis, `${prefix}:stale:${Math.random()}`).presenceRegistry({ staleMs: 150 });
      assert.strictEqual((await r.add('crashed', 'dead-socket')).first, true);
      assert.strictEqual((await r.add('alive', 'live-socket')).first, true);
      await sleep(100);
      await r.refresh([ { userId: 'alive', socketId: 'live-socket' } ]);
      await sleep(100);
      return r;
    }

    it('the stale user is offline; the refreshed one is online', async () => {
      const r = await afterACrash();
      assert.deepStrictEqual([ ...await r.online([ 'crashed', 'alive' ]) ], [ 'alive' ]);
    });

    it('the stale socket is dropped: the user\'s next socket is its first again', async () => {
      const r = await afterACrash();
      await r.online([ 'crashed' ]);
      assert.strictEqual((await r.add('crashed', 'new-socket')).first, true);
    });

    it('a refresh does not bring back a socket removed meanwhile', async () => {
      const r = await afterACrash();
      await r.remove('alive', 'live-socket');
      await r.refresh([ { userId: 'alive', socketId: 'live-socket' } ]);
      assert.deepStrictEqual([ ...await r.online([ 'alive' ]) ], []);
    });
  });
});
