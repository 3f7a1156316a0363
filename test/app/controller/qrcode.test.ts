import assert from 'node:assert';
import mm from 'egg-mock';
import { api, app, connectOk, notWithin, signup, sleep, uniqueName, waitFor, type ClientVersion } from '../../helpers';

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

  for (const version of [ 'v2', 'v4' ] as ClientVersion[]) {
    it(`${version}: scan and confirm log the PC in as the phone's user, on a DESKTOP session`, async () => {
      const phone = await signup({ nickname: 'Phone Owner', email: `${uniqueName('p')}@example.com` });
      const { deviceId } = (await api('GET', '/api/qrcode')).body.data;
      const pc = await connectOk({ version, nsp: '/sso', query: { device_id: deviceId } });

      const scanned = waitFor(pc, 'qrlogin');
      const scan = await api('POST', '/api/qrcode/scan', { token: phone.token, body: { deviceId } });
      assert.strictEqual(scan.status, 200, JSON.stringify(scan.body));
      const s = await scanned;
      assert.strictEqual(s.code, 0);
      assert.strictEqual(s.data.action, 'SSO_QRLOGIN');
      assert.strictEqual(s.data.payload.status, 'scanned');
      assert.deepStrictEqual(Object.keys(s.data.payload.user).sort(), [ '_id', 'avatar', 'nickname' ]);
      assert.strictEqual(s.data.payload.user._id, phone.id);
      assert.strictEqual(s.data.payload.user.nickname, 'Phone Owner');
      assert.match(s.data.payload.user.avatar, /gravatar/);

      const confirmed = waitFor(pc, 'qrlogin');
      const confirm = await api('POST', '/api/qrcode/confirm', { token: phone.token, body: { deviceId } });
      assert.strictEqual(confirm.status, 200, JSON.stringify(confirm.body));
      const c = (await confirmed).data.payload;
      assert.strictEqual(c.status, 'confirmed');
      assert.strictEqual(c.user._id, phone.id);
      assert.ok(c.token && c.refreshToken);
      assert.notStrictEqual(c.token, phone.token);

      // the token is the phone's user's, on its own session: it opens /chat as DESKTOP and refreshes
      const desktop = await connectOk({ version, token: c.token, query: { deviceType: 'DESKTOP', userId: phone.id } });
      assert.strictEqual(desktop.connected, true);
      const validated = await api('POST', '/api/validate', { body: { token: c.token } });
      assert.strictEqual(validated.body.data.user._id, phone.id);
      const refreshed = await api('POST', '/api/token/refresh', { body: { refreshToken: c.refreshToken } });
      assert.strictEqual(refreshed.status, 200);

      // consumed: a second confirm is 404 / 20006 and the PC hears nothing more
      const quiet = notWithin(pc, 'qrlogin', 300);
      const again = await api('POST', '/api/qrcode/confirm', { token: phone.token, body: { deviceId } });
      assert.strictEqual(again.status, 404);
      assert.strictEqual(again.body.code, 20006);
      assert.ok(await quiet);
    });
  }

  it('two confirms racing: exactly one wins', async () => {
    const phone = await signup();
    const { deviceId } = (await api('GET', '/api/qrcode')).body.data;
    const results = await Promise.all([ 1, 2, 3 ].map(() => api('POST', '/api/qrcode/confirm', { token: phone.token, body: { deviceId } })));
    assert.deepStrictEqual(results.map(r => r.status).sort(), [ 200, 404, 404 ]);
  });

  it('an unknown id is 404 / 20006 for scan and confirm', async () => {
    const phone = await signup();
    for (const path of [ '/api/qrcode/scan', '/api/qrcode/confirm' ]) {
      for (const deviceId of [ 'a'.repeat(32), 'not-an-id' ]) {
        const res = await api('POST', path, { token: phone.token, body: { deviceId } });
        assert.strictEqual(res.status, 404, `${path} ${deviceId}`);
        assert.strictEqual(res.body.code, 20006);
      }
    }
  });

  it('an expired id is 404 / 20006', async () => {
    mm(app.config.qrcode, 'ttl', 1);
    const phone = await signup();
    const { deviceId, expiresIn } = (await api('GET', '/api/qrcode')).body.data;
    assert.strictEqual(expiresIn, 1);
    await sleep(1100);
    const res = await api('POST', '/api/qrcode/confirm', { token: phone.token, body: { deviceId } });
    assert.strictEqual(res.status, 404);
    assert.strictEqual(res.body.code, 20006);
  });

  it('scan and confirm need a logged-in phone: 401 / 20001', async () => {
    const { deviceId } = (await api('GET', '/api/qrcode')).body.data;
    for (const path of [ '/api/qrcode/scan', '/api/qrcode/confirm' ]) {
      const res = await api('POST', path, { body: { deviceId } });
      assert.strictEqual(res.status, 401);
      assert.strictEqual(res.body.code, 20001);
    }
    // the id was not consumed by the refused calls
    const phone = await signup();
    assert.strictEqual((await api('POST', '/api/qrcode/confirm', { token: phone.token, body: { deviceId } })).status, 200);
  });

  it('refuses a malformed body with 400 / 20002', async () => {
    const phone = await signup();
    for (const body of [ {}, { deviceId: { $ne: null } }, { deviceId: 'a'.repeat(32), extra: 1 } ]) {
      const res = await api('POST', '/api/qrcode/confirm', { token: phone.token, body });
      assert.strictEqual(res.status, 400, JSON.stringify(body));
      assert.strictEqual(res.body.code, 20002);
    }
  });
});
