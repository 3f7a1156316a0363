import assert from 'node:assert';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import mm from 'egg-mock';
import { io as ioV4 } from 'socket.io-client';
import ioV2 from 'socket.io-client-v2';
import { emitAck, notWithin, waitFor } from '../../../helpers';

interface Instance { app: any; server: http.Server; url: string }

/** An instance of the fixture app on its own port; `key` is its deployment's channel prefix. */
async function start(key: string, sharded = false): Promise<Instance> {
  process.env.IO_TEST_KEY = key;
  process.env.IO_TEST_SHARDED = sharded ? '1' : '';
  try {
    const app = mm.app({ baseDir: 'apps/io-redis-app', cache: false });
    await app.ready();
    const server = http.createServer(app.callback());
    app.emit('server', server);
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve));
    return { app, server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
  } finally {
    delete process.env.IO_TEST_KEY;
    delete process.env.IO_TEST_SHARDED;
  }
}

// Needs Redis (REDIS_URL or 127.0.0.1:6379); .ci/run starts one when none is running.
describe('lib/plugin/io: with config.io.redis the Redis adapter spans instances', () => {
  const instances: Instance[] = [];
  const open: any[] = [];
  const unique = `io-test-${process.pid}-${Date.now()}`;
  const client = (url: string, v: 'v2' | 'v4' = 'v4') => {
    const s = (v === 'v4' ? ioV4 : ioV2)(`${url}/rooms`, { path: '/ws', transports: [ 'websocket' ], forceNew: true, reconnection: false });
    open.push(s);
    return s;
  };

  before(async () => {
    // two instances of deployment A, one of deployment B (another key on the same Redis), two of a sharded deployment
    instances.push(await start(`${unique}-a`), await start(`${unique}-a`), await start(`${unique}-b`));
    instances.push(await start(`${unique}-s`, true), await start(`${unique}-s`, true));
  });
  after(async () => {
    while (open.length) open.pop().close();
    for (const { app, server } of instances) {
      await app.close();
      await new Promise(resolve => server.close(resolve));
    }
  });

  /** a (v4) on the first instance and b (v2) on the second, both in a new room */
  async function acrossInstances() {
    const room = `r${Date.now()}${Math.random()}`;
    const a = client(instances[0].url);
    const b = client(instances[1].url, 'v2');
    await Promise.all([ waitFor(a, 'connect'), waitFor(b, 'connect') ]);
    await emitAck(a, 'join', room);
    await emitAck(b, 'join', room);
    return { room, a, b };
  }

  it('a room broadcast from one instance reaches a v2 client on the other', async () => {
    const { room, a, b } = await acrossInstances();
    const heard = Promise.all([ waitFor(a, 'told'), waitFor(b, 'told') ]);
    a.emit('tell', room, 'across');
    assert.deepStrictEqual(await heard, [ 'across', 'across' ]);
  });

  it('fetchSockets sees the room\'s sockets on every instance', async () => {
    const { room, b } = await acrossInstances();
    assert.strictEqual(await emitAck(b, 'count', room), 2);
  });

  // With the Redis adapter, socketsJoin() is a request published to Redis, so even this instance's
  // sockets join only when it comes back: a broadcast to the room at once misses them. The app's
  // remedy (app/io/outbox.ts `alsoUsers`, used by room notices right after a join): send to the room
  // and the joined sockets' own rooms together; Socket.IO delivers to each socket once.
  it('a socketsJoin followed at once by a broadcast to the room and the joiner reaches the joiner exactly once', async () => {
    const a = client(instances[0].url);
    await waitFor(a, 'connect');
    let told = 0;
    a.on('told', () => told++);
    a.emit('joinAllAndTell', `r${Date.now()}${Math.random()}`, 'welcome');
    await notWithin(a, 'never', 1000);
    assert.strictEqual(told, 1);
  });

  it('another deployment (another key) on the same Redis hears none of the broadcasts', async () => {
    const room = `r${Date.now()}`;
    const a = client(instances[0].url);
    const sameDeployment = client(instances[1].url);
    const other = client(instances[2].url);
    await Promise.all([ a, sameDeployment, other ].map(s => waitFor(s, 'connect')));
    for (const s of [ a, sameDeployment, other ]) await emitAck(s, 'join', room);

    const heard = waitFor(sameDeployment, 'told');
    const silent = notWithin(other, 'told', 500);
    a.emit('tell', room, 'only for A');
    assert.strictEqual(await heard, 'only for A');
    assert.strictEqual(await silent, true);
    assert.strictEqual(await emitAck(a, 'count', room), 2);
    assert.strictEqual(await emitAck(other, 'count', room), 1);
  });

  it('sharded mode (Redis 7 sharded pub/sub) carries broadcasts across instances too', async () => {
    const room = `r${Date.now()}`;
    const a = client(instances[3].url);
    const b = client(instances[4].url, 'v2');
    await Promise.all([ waitFor(a, 'connect'), waitFor(b, 'connect') ]);
    await emitAck(a, 'join', room);
    await emitAck(b, 'join', room);
    const heard = waitFor(b, 'told');
    a.emit('tell', room, 'sharded');
    assert.strictEqual(await heard, 'sharded');
    assert.strictEqual(await emitAck(b, 'count', room), 2);
  });
});
