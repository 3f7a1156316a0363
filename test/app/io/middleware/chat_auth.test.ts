import assert from 'node:assert';
import mm from 'egg-mock';
import { api, app, connect, connectOk, notWithin, signup, sleep, waitFor, type ClientVersion, type Transport } from '../../../helpers';

/** Expects the server to refuse the socket: im_error with `code`, then a disconnect. */
async function expectRefused(socket: any, code: number) {
  const [ err ] = await Promise.all([ waitFor(socket, 'im_error'), waitFor(socket, 'disconnect') ]);
  assert.strictEqual(err.code, code, JSON.stringify(err));
  assert.strictEqual(err.data.action, 'IMERROR');
  assert.ok(err.meta.msg);
  assert.strictEqual(typeof err.meta.timestamp, 'number');
  assert.strictEqual(socket.connected, false);
}

describe('/chat handshake (PROTOCOL §4)', () => {
  for (const version of [ 'v2', 'v4' ] as ClientVersion[]) {
    for (const transport of [ 'websocket', 'polling' ] as Transport[]) {
      it(`accepts a ${version} client over ${transport} with the signup token`, async () => {
        const u = await signup();
        const socket = await connectOk({ version, transport, token: u.token });
        assert.strictEqual(socket.connected, true);
      });
    }
  }

  it('accepts the token in query.token from a v4 client too', async () => {
    const u = await signup();
    await connectOk({ version: 'v4', query: { token: u.token } });
  });

  it('accepts a matching userId', async () => {
    const u = await signup();
    await connectOk({ token: u.token, query: { userId: u.id } });
  });

  for (const version of [ 'v2', 'v4' ] as ClientVersion[]) {
    it(`${version}: a missing token is im_error 20002 and a disconnect`, async () => {
      await expectRefused(await connect({ version }), 20002);
    });

    it(`${version}: a bad token is im_error 20001 and a disconnect`, async () => {
      await expectRefused(await connect({ version, token: 'not.a.token' }), 20001);
    });
  }

  it('a userId other than the token\'s is 20001', async () => {
    const [ a, b ] = await Promise.all([ signup(), signup() ]);
    await expectRefused(await connect({ token: a.token, query: { userId: b.id } }), 20001);
  });

  it('an unknown deviceType is 20002', async () => {
    const u = await signup();
    await expectRefused(await connect({ token: u.token, query: { deviceType: 'TOASTER' } }), 20002);
  });

  it('a token of a logged-out session is 20001', async () => {
    const u = await signup();
    await api('POST', '/api/logout', { token: u.token });
    await expectRefused(await connect({ version: 'v2', token: u.token }), 20001);
  });

  describe('device policy kick-same-device (default)', () => {
    /** a user's older MOBILE socket (v2) and a DESKTOP one, then a newer login on mobile */
    async function secondMobileLogin() {
      const u = await signup();
      const older = await connectOk({ version: 'v2', token: u.token, query: { deviceType: 'MOBILE' } });
      const otherClass = await connectOk({ version: 'v4', token: u.token, query: { deviceType: 'DESKTOP' } });
      const kicked = Promise.all([ waitFor(older, 'im_error'), waitFor(older, 'disconnect') ]);
      const otherQuiet = notWithin(otherClass, 'im_error', 400);
      const newer = await connectOk({ version: 'v4', token: u.token, query: { deviceType: 'mobile' } });
      return { kicked, newer, otherClass, otherQuiet };
    }

    it('a second login on the same device class kicks the older socket with 20004 and a disconnect', async () => {
      const { kicked } = await secondMobileLogin();
      const [ err ] = await kicked;
      assert.strictEqual(err.code, 20004);
    });

    it('the newer socket is not affected', async () => {
      const { kicked, newer } = await secondMobileLogin();
      await kicked;
      assert.strictEqual(newer.connected, true);
    });

    it('a socket of another device class stays', async () => {
      const { kicked, otherClass, otherQuiet } = await secondMobileLogin();
      await kicked;
      assert.ok(await otherQuiet);
      assert.strictEqual(otherClass.connected, true);
    });

    it('derives the device class from the user agent when none is given', async () => {
      const u = await signup();
      const phoneUa = 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148';
      const a = await connectOk({ version: 'v4', transport: 'polling', token: u.token, extraHeaders: { 'user-agent': phoneUa } });
      const kicked = waitFor(a, 'im_error');
      await connectOk({ version: 'v4', token: u.token, query: { deviceType: 'MOBILE' } });
      assert.strictEqual((await kicked).code, 20004);
    });

    it('other users are never kicked', async () => {
      const [ a, b ] = await Promise.all([ signup(), signup() ]);
      const sa = await connectOk({ token: a.token, query: { deviceType: 'WEB' } });
      await connectOk({ token: b.token, query: { deviceType: 'WEB' } });
      assert.ok(await notWithin(sa, 'im_error', 200));
    });
  });

  describe('other device policies', () => {
    it('single: any new login kicks all other sockets of the user', async () => {
      mm(app.config.auth, 'devicePolicy', 'single');
      const u = await signup();
      const desktop = await connectOk({ token: u.token, query: { deviceType: 'DESKTOP' } });
      const kicked = waitFor(desktop, 'im_error');
      await connectOk({ token: u.token, query: { deviceType: 'MOBILE' } });
      assert.strictEqual((await kicked).code, 20004);
    });

    it('allow-all: nobody is kicked', async () => {
      mm(app.config.auth, 'devicePolicy', 'allow-all');
      const u = await signup();
      const first = await connectOk({ token: u.token, query: { deviceType: 'WEB' } });
      await connectOk({ token: u.token, query: { deviceType: 'WEB' } });
      assert.ok(await notWithin(first, 'im_error', 200));
    });
  });

  describe('access token expiry', () => {
    for (const version of [ 'v2', 'v4' ] as ClientVersion[]) {
      it(`${version}: the next event after expiry gets im_error 20001 and a disconnect`, async () => {
        mm(app.config.auth, 'accessTokenTtl', 1);
        const u = await signup();
        const login = await api('POST', '/api/login', { body: { username: u.username, password: u.password } });
        assert.strictEqual(login.body.data.expiresIn, 1);
        const socket = await connectOk({ version, token: login.body.data.token });
        await sleep(1300);
        const refused = Promise.all([ waitFor(socket, 'im_error'), waitFor(socket, 'disconnect') ]);
        socket.emit('recent_conversation');
        const [ err ] = await refused;
        assert.strictEqual(err.code, 20001);
      });
    }

    it('an expired token cannot connect', async () => {
      mm(app.config.auth, 'accessTokenTtl', 1);
      const u = await signup();
      await sleep(1300);
      await expectRefused(await connect({ token: u.token }), 20001);
    });
  });
});
