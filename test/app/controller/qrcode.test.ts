import assert from 'node:assert';
import mm from 'egg-mock';
import { api, app, connectOk, notWithin, signup, sleep, uniqueName, waitFor, type ClientVersion, type TestUser } from '../../helpers';
import { expectError } from '../../social-helpers';

describe('QR-code login REST (PROTOCOL §5)', () => {
  describe('GET /api/qrcode', () => {
    it('gives a random 128-bit id that lives 120 s', async () => {
      const [ a, b ] = await Promise.all([ api('GET', '/api/qrcode'), api('GET', '/api/qrcode') ]);
      assert.strictEqual(a.status, 200);
      assert.strictEqual(a.body.code, 0);
      assert.match(a.body.data.deviceId, /^[0-9a-f]{32}$/);
      assert.strictEqual(a.body.data.expiresIn, 120);
      assert.notStrictEqual(a.body.data.deviceId, b.body.data.deviceId);
    });

    it('is rate-limited per client address: 429 / 20009 with Retry-After', async () => {
      mm(app.config.rateLimit, 'qrcode', { points: 2, duration: 60 });
      assert.strictEqual((await api('GET', '/api/qrcode')).status, 200);
      assert.strictEqual((await api('GET', '/api/qrcode')).status, 200);
      const res = await api('GET', '/api/qrcode');
      assert.strictEqual(res.status, 429);
      assert.strictEqual(res.body.code, 20009);
      assert.ok(Number(res.headers.get('retry-after')) > 0);
    });
  });

  describe('scan and confirm', () => {
    /** a phone user and a PC waiting on /sso with a fresh id */
    async function pcWaiting(version: ClientVersion = 'v4') {
      const phone = await signup({ nickname: 'Phone Owner', email: `${uniqueName('p')}@example.com` });
      const { deviceId } = (await api('GET', '/api/qrcode')).body.data;
      const pc = await connectOk({ version, nsp: '/sso', query: { device_id: deviceId } });
      return { phone, deviceId, pc };
    }
    const scan = (phone: TestUser, deviceId: string) => api('POST', '/api/qrcode/scan', { token: phone.token, body: { deviceId } });
    const confirm = (phone: TestUser, deviceId: string) => api('POST', '/api/qrcode/confirm', { token: phone.token, body: { deviceId } });

    for (const version of [ 'v2', 'v4' ] as ClientVersion[]) {
      it(`${version}: a scan tells the PC qrlogin scanned, with the phone user's public profile`, async () => {
        const { phone, deviceId, pc } = await pcWaiting(version);
        const scanned = waitFor(pc, 'qrlogin');
        const res = await scan(phone, deviceId);
        assert.strictEqual(res.status, 200, JSON.stringify(res.body));
        const s = await scanned;
        assert.strictEqual(s.code, 0);
        assert.strictEqual(s.data.action, 'SSO_QRLOGIN');
        assert.strictEqual(s.data.payload.status, 'scanned');
        assert.deepStrictEqual(Object.keys(s.data.payload.user).sort(), [ '_id', 'avatar', 'nickname' ]);
        assert.strictEqual(s.data.payload.user._id, phone.id);
        assert.strictEqual(s.data.payload.user.nickname, 'Phone Owner');
        assert.match(s.data.payload.user.avatar, /gravatar/);
      });

      it(`${version}: a confirm tells the PC qrlogin confirmed, with new tokens of the phone's user`, async () => {
        const { phone, deviceId, pc } = await pcWaiting(version);
        await scan(phone, deviceId);
        const confirmed = waitFor(pc, 'qrlogin');
        const res = await confirm(phone, deviceId);
        assert.strictEqual(res.status, 200, JSON.stringify(res.body));
        const c = (await confirmed).data.payload;
        assert.strictEqual(c.status, 'confirmed');
        assert.strictEqual(c.user._id, phone.id);
        assert.ok(c.token && c.refreshToken);
        assert.notStrictEqual(c.token, phone.token);
      });

      it(`${version}: the confirmed token opens /chat as the phone's user on DESKTOP`, async () => {
        const { phone, deviceId, pc } = await pcWaiting(version);
        const confirmed = waitFor(pc, 'qrlogin');
        await confirm(phone, deviceId);
        const { token } = (await confirmed).data.payload;
        const desktop = await connectOk({ version, token, query: { deviceType: 'DESKTOP', userId: phone.id } });
        assert.strictEqual(desktop.connected, true);
      });
    }

    it('the confirmed tokens are a session of the phone\'s user: the token validates, the refresh token refreshes', async () => {
      const { phone, deviceId, pc } = await pcWaiting();
      const confirmed = waitFor(pc, 'qrlogin');
      await confirm(phone, deviceId);
      const c = (await confirmed).data.payload;
      assert.strictEqual((await api('POST', '/api/validate', { body: { token: c.token } })).body.data.user._id, phone.id);
      assert.strictEqual((await api('POST', '/api/token/refresh', { body: { refreshToken: c.refreshToken } })).status, 200);
    });

    it('a confirm consumes the id: a second one is 404 / 20006 and the PC hears nothing more', async () => {
      const { phone, deviceId, pc } = await pcWaiting();
      const confirmed = waitFor(pc, 'qrlogin');
      await confirm(phone, deviceId);
      await confirmed;
      const quiet = notWithin(pc, 'qrlogin', 300);
      expectError(await confirm(phone, deviceId), 404, 20006);
      assert.ok(await quiet);
    });
  });

  it('two confirms racing: exactly one wins', async () => {
    const phone = await signup();
    const { deviceId } = (await api('GET', '/api/qrcode')).body.data;
    const results = await Promise.all([ 1, 2, 3 ].map(() => api('POST', '/api/qrcode/confirm', { token: phone.token, body: { deviceId } })));
    assert.deepStrictEqual(results.map(r => r.status).sort(), [ 200, 404, 404 ]);
  });

  for (const path of [ '/api/qrcode/scan', '/api/qrcode/confirm' ]) {
    for (const [ what, deviceId ] of [ [ 'an unknown id', 'a'.repeat(32) ], [ 'a malformed id', 'not-an-id' ] ]) {
      it(`${path}: ${what} is 404 / 20006`, async () => {
        const phone = await signup();
        expectError(await api('POST', path, { token: phone.token, body: { deviceId } }), 404, 20006);
      });
    }

    it(`${path} needs a logged-in phone: 401 / 20001`, async () => {
      const { deviceId } = (await api('GET', '/api/qrcode')).body.data;
      expectError(await api('POST', path, { body: { deviceId } }), 401, 20001);
    });
  }

  it('an expired id is 404 / 20006', async () => {
    mm(app.config.qrcode, 'ttl', 1);
    const phone = await signup();
    const { deviceId, expiresIn } = (await api('GET', '/api/qrcode')).body.data;
    assert.strictEqual(expiresIn, 1);
    await sleep(1100);
    expectError(await api('POST', '/api/qrcode/confirm', { token: phone.token, body: { deviceId } }), 404, 20006);
  });

  it('calls refused for want of a login do not consume the id', async () => {
    const { deviceId } = (await api('GET', '/api/qrcode')).body.data;
    for (const path of [ '/api/qrcode/scan', '/api/qrcode/confirm' ]) await api('POST', path, { body: { deviceId } });
    const phone = await signup();
    assert.strictEqual((await api('POST', '/api/qrcode/confirm', { token: phone.token, body: { deviceId } })).status, 200);
  });

  const malformed: Array<[string, unknown]> = [
    [ 'no deviceId', {} ],
    [ 'an operator for the deviceId', { deviceId: { $ne: null } } ],
    [ 'an unknown field', { deviceId: 'a'.repeat(32), extra: 1 } ],
  ];
  for (const [ what, body ] of malformed) {
    it(`refuses a body with ${what} with 400 / 20002`, async () => {
      const phone = await signup();
      expectError(await api('POST', '/api/qrcode/confirm', { token: phone.token, body }), 400, 20002);
    });
  }
});
