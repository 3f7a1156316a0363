/**
 * Finding 11: connection floods. The default namespace `/` accepted anyone (no middleware checks
 * it); nothing capped the sockets of one user or one address; `/sso` sockets never expired and
 * `qrlogin` had no rate limit. Now `/` refuses everyone, open sockets are capped per user and per
 * address and new ones are rate-limited per address (each refusal: im_error 20009 with
 * meta.retryAfterMs, then the disconnect), `/sso` sockets end with their QR id, and `qrlogin` is
 * rate-limited per socket.
 */
import assert from 'node:assert';
import crypto from 'node:crypto';
import mm from 'egg-mock';
import type { MockApplication } from 'egg-mock';
import { api, app, connect, connectOk, emitAck, sleep, waitFor } from '../helpers';
import { appWithEnv, firstOf, serve, signupAt, socketAt } from './helpers';

/** a loopback address of its own, so counts kept in Redis by address never meet another run's */
const someLoopback = () => `127.${crypto.randomInt(1, 255)}.${crypto.randomInt(0, 256)}.${crypto.randomInt(2, 255)}`;

/** Opens a socket and says how it ended up: accepted, or refused with the im_error it got. */
async function outcome(socket: any): Promise<{ accepted: boolean; error?: any }> {
  // listening from the start: a refusal may arrive in the same read as the connect
  let error: any;
  socket.once('im_error', (e: any) => { error = e; });
  const first = await firstOf(socket, [ 'connect', 'connect_error', 'im_error' ], 5000);
  if (first.event !== 'connect' && first.event !== 'im_error') return { accepted: false, error: first };
  await sleep(300);
  return error ? { accepted: false, error } : { accepted: true };
}

function expectRateLimited(result: { accepted: boolean; error?: any }) {
  assert.strictEqual(result.accepted, false, 'accepted');
  assert.strictEqual(result.error?.code, 20009, JSON.stringify(result.error));
  assert.ok(result.error.meta.retryAfterMs > 0, JSON.stringify(result.error));
}

describe('security: connection floods are bounded (finding 11)', function() {
  this.timeout(60000);

  describe('the default namespace', () => {
    it('v4: a socket on "/" is refused (connect_error) and never connects', async () => {
      const socket = await connect({ nsp: '/' });
      const first = await firstOf(socket, [ 'connect', 'connect_error' ], 3000);
      assert.strictEqual(first.event, 'connect_error');
    });

    it('v2: a socket on "/" is disconnected at once', async () => {
      const socket = await connect({ nsp: '/', version: 'v2' });
      await waitFor(socket, 'disconnect', 3000);
      await sleep(200);
      assert.strictEqual(socket.connected, false);
    });

    it('v2 clients of /chat (put on "/" by the server too) connect and hear nothing of it', async () => {
      const u = await api('POST', '/api/signup', { body: { username: `d${crypto.randomBytes(6).toString('hex')}`, password: 'correct horse battery' } });
      const socket = await connect({ version: 'v2', token: u.body.data.token });
      const heard: string[] = [];
      for (const event of [ 'error', 'disconnect', 'im_error' ]) socket.on(event, () => heard.push(event));
      await waitFor(socket, 'connect');
      await sleep(500);
      assert.deepStrictEqual(heard, []);
      assert.strictEqual((await emitAck(socket, 'recent_conversation')).code, 0);
    });
  });

  describe('caps and rates per user and per address', () => {
    let other: MockApplication;
    let server: { url: string; close(): Promise<void> };
    const open: any[] = [];
    before(async () => {
      other = await appWithEnv({ DEVICE_POLICY: 'allow-all', MAX_SOCKETS_PER_USER: '3', MAX_SOCKETS_PER_ADDRESS: '4', RATE_LIMIT_CONNECTIONS: '6/60' });
      server = await serve(other);
    });
    afterEach(async () => {
      for (const s of open.splice(0)) s.close();
      await sleep(100); // the server sees the disconnects
    });
    after(async () => {
      await server?.close();
      await other?.close();
    });
    const socket = (opts: Parameters<typeof socketAt>[1]) => {
      const s = socketAt(server.url, opts);
      open.push(s);
      return s;
    };

    it('a user\'s 4th open /chat socket (MAX_SOCKETS_PER_USER=3) gets 20009 and is disconnected; the others stay', async () => {
      const u = await signupAt(server.url);
      const kept = [];
      for (let i = 0; i < 3; i++) {
        const s = socket({ token: u.token, localAddress: someLoopback() });
        assert.deepStrictEqual(await outcome(s), { accepted: true });
        kept.push(s);
      }
      const extra = socket({ token: u.token, localAddress: someLoopback() });
      expectRateLimited(await outcome(extra));
      await sleep(200);
      assert.deepStrictEqual(kept.map(s => s.connected), [ true, true, true ]);
    });

    it('an address\'s 5th open socket (MAX_SOCKETS_PER_ADDRESS=4) gets 20009; another address still connects', async () => {
      const from = someLoopback();
      for (let i = 0; i < 4; i++) {
        const u = await signupAt(server.url);
        assert.deepStrictEqual(await outcome(socket({ token: u.token, localAddress: from })), { accepted: true });
      }
      const u = await signupAt(server.url);
      expectRateLimited(await outcome(socket({ token: u.token, localAddress: from })));
      assert.deepStrictEqual(await outcome(socket({ token: u.token, localAddress: someLoopback() })), { accepted: true });
    });

    it('an address\'s 7th new socket in the window (RATE_LIMIT_CONNECTIONS=6/60) gets 20009, also after the others closed', async () => {
      const from = someLoopback();
      const u = await signupAt(server.url);
      for (let i = 0; i < 6; i++) {
        const s = socket({ token: u.token, localAddress: from });
        assert.deepStrictEqual(await outcome(s), { accepted: true });
        s.close();
      }
      await sleep(100);
      expectRateLimited(await outcome(socket({ token: u.token, localAddress: from })));
    });
  });

  describe('/sso', () => {
    it('a /sso socket is told 20006 and disconnected when its QR id expires', async () => {
      mm(app.config.qrcode, 'ttl', 2);
      const qr = await api('GET', '/api/qrcode');
      assert.strictEqual(qr.body.data.expiresIn, 2);
      const pc = await connectOk({ nsp: '/sso', query: { device_id: qr.body.data.deviceId } });
      const [ error ] = await Promise.all([ waitFor(pc, 'im_error', 5000), waitFor(pc, 'disconnect', 5000) ]);
      assert.strictEqual(error.code, 20006);
    });

    it('qrlogin is rate-limited per socket: past the limit 20009 with meta.retryAfterMs, and the socket stays', async () => {
      const qr = await api('GET', '/api/qrcode');
      const pc = await connectOk({ nsp: '/sso', query: { device_id: qr.body.data.deviceId } });
      const replies = [];
      for (let i = 0; i <= app.config.rateLimit.qrlogin.points; i++) replies.push(await emitAck(pc, 'qrlogin'));
      const last = replies.pop();
      assert.ok(replies.every(r => r.code === 0 && r.data.payload === 'pong'), JSON.stringify(replies));
      assert.strictEqual(last.code, 20009, JSON.stringify(last));
      assert.ok(last.meta.retryAfterMs > 0);
      assert.strictEqual(pc.connected, true);
    });
  });
});
