import assert from 'node:assert';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import mm from 'egg-mock';
import { io as ioV4 } from 'socket.io-client';
import ioV2 from 'socket.io-client-v2';
import { emitAck, waitFor } from '../../../helpers';

// Needs Redis (REDIS_URL or 127.0.0.1:6379); .ci/run starts one when none is running.
describe('lib/plugin/io: with config.io.redis the Redis adapter spans instances', () => {
  const instances: Array<{ app: any; server: http.Server; url: string }> = [];
  const open: any[] = [];

  before(async () => {
    for (let i = 0; i < 2; i++) {
      const app = mm.app({ baseDir: 'apps/io-redis-app', cache: false });
      await app.ready();
      const server = http.createServer(app.callback());
      app.emit('server', server);
      await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve));
      instances.push({ app, server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` });
    }
  });
  after(async () => {
    while (open.length) open.pop().close();
    for (const { app, server } of instances) {
      await app.close();
      await new Promise(resolve => server.close(resolve));
    }
  });

  it('a room broadcast from one instance reaches a v2 client on the other; fetchSockets sees both', async () => {
    const room = `r${Date.now()}`;
    const a = ioV4(`${instances[0].url}/rooms`, { path: '/ws', transports: [ 'websocket' ], forceNew: true, reconnection: false });
    const b = ioV2(`${instances[1].url}/rooms`, { path: '/ws', transports: [ 'websocket' ], forceNew: true, reconnection: false });
    open.push(a, b);
    await Promise.all([ waitFor(a, 'connect'), waitFor(b, 'connect') ]);
    await emitAck(a, 'join', room);
    await emitAck(b, 'join', room);

    const heard = Promise.all([ waitFor(a, 'told'), waitFor(b, 'told') ]);
    a.emit('tell', room, 'across');
    assert.deepStrictEqual(await heard, [ 'across', 'across' ]);
    assert.strictEqual(await emitAck(b, 'count', room), 2);
  });
});
