import assert from 'node:assert';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import mm from 'egg-mock';
import { io as ioV4 } from 'socket.io-client';
import ioV2 from 'socket.io-client-v2';
import { emitAck, notWithin, sleep, waitFor } from '../../../helpers';

describe('lib/plugin/io: Socket.IO v4 with the egg-socket.io API', () => {
  let app: any;
  let server: http.Server;
  let url: string;
  const open: any[] = [];

  before(async () => {
    app = mm.app({ baseDir: 'apps/io-app' });
    await app.ready();
    server = http.createServer(app.callback());
    app.emit('server', server);
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    await app.close();
    await new Promise(resolve => server.close(resolve));
  });
  afterEach(() => { while (open.length) open.pop().close(); });

  function client(version: 'v2' | 'v4', transport: 'websocket' | 'polling', nsp: string, query: Record<string, string> = {}) {
    const make: any = version === 'v4' ? ioV4 : ioV2;
    const s = make(`${url}${nsp}`, { path: '/ws', transports: [ transport ], forceNew: true, reconnection: false, query });
    open.push(s);
    return s;
  }

  for (const version of [ 'v2', 'v4' ] as const) {
    for (const transport of [ 'websocket', 'polling' ] as const) {
      it(`a ${version} client over ${transport} connects and gets a routed event's ack`, async () => {
        const s = client(version, transport, '/gated', { name: `${version}-${transport}` });
        await waitFor(s, 'connect', 5000);
        // sent before connection middleware has finished: it waits for it
        const reply = await emitAck(s, 'echo', 42);
        assert.deepStrictEqual(reply, { pong: 42, name: `${version}-${transport}` });
      });
    }
  }

  it('serves the default namespace with a plain function handler', async () => {
    const s = client('v4', 'websocket', '/');
    await waitFor(s, 'connect');
    const reply = await emitAck(s, 'whoami');
    assert.strictEqual(reply.id, s.id);
  });

  it('connection middleware can refuse a socket after telling it why', async () => {
    const s = client('v4', 'websocket', '/gated', { deny: '1' });
    const [ reason ] = await Promise.all([ waitFor(s, 'refused'), waitFor(s, 'disconnect') ]);
    assert.strictEqual(reason, 'denied by gate');
    assert.strictEqual(s.connected, false);
  });

  it('a refused socket gets nothing routed', async () => {
    app.seen = [];
    const s = client('v2', 'websocket', '/gated', { deny: '1' });
    s.emit('shout', 'ignored');
    await waitFor(s, 'disconnect');
    await sleep(50);
    assert.deepStrictEqual(app.seen, []);
  });

  it('packet middleware sees every packet, routed or not, and can wrap the handler', async () => {
    app.seen = [];
    const s = client('v4', 'websocket', '/gated', { name: 'tapper' });
    await waitFor(s, 'connect');
    s.emit('shout', 'hey');
    assert.strictEqual(await waitFor(s, 'shouted'), 'HEY');
    s.emit('not-routed', 1);
    await emitAck(s, 'echo', 'x');
    assert.deepStrictEqual(app.seen, [ 'shout', 'not-routed', 'echo', 'handled:echo' ]);
  });

  it('code after `await next()` in connection middleware runs on disconnect', async () => {
    app.disconnects = [];
    const s = client('v4', 'polling', '/gated', { name: 'leaver' });
    await waitFor(s, 'connect');
    await emitAck(s, 'echo', 1);
    s.close();
    for (let i = 0; i < 40 && !app.disconnects.includes('leaver'); i++) await sleep(25);
    assert.deepStrictEqual(app.disconnects, [ 'leaver' ]);
  });

  it('unrouted events get no reply', async () => {
    const s = client('v4', 'websocket', '/gated');
    await waitFor(s, 'connect');
    s.emit('nothing-here', 1);
    assert.ok(await notWithin(s, 'shouted', 200));
  });
});
