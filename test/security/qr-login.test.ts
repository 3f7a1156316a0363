/**
 * Finding 2: QR login handed the session to every socket that knew the device id. Two /sso sockets on
 * one device_id (the PC's, and anyone's who read the id off the screen or from the #/qr/<id> link) both
 * received `token` and `refreshToken` on confirm. Now GET /api/qrcode also gives a secret only the PC
 * holds; without it only the id's first socket may wait (the PC connects before the code is shown);
 * with it the PC may reconnect and replaces its earlier socket; `scanned` and `confirmed` go to that
 * one socket, which is closed after `confirmed`. The confirm page learns which computer asks
 * (GET /api/qrcode/:id) without scanning.
 */
import assert from 'node:assert';
import { api, connect, connectOk, notWithin, signup, waitFor, type ClientVersion } from '../helpers';

const qrcode = async () => (await api('GET', '/api/qrcode', { headers: { 'user-agent': 'Mozilla/5.0 (X11; Linux x86_64) TestBrowser/1.0' } })).body.data;

/** A socket refused at the handshake: its im_error code. */
async function refusal(socket: any) {
  const [ error ] = await Promise.all([ waitFor(socket, 'im_error'), waitFor(socket, 'disconnect') ]);
  return error.code;
}

describe('security: a QR login goes to the computer that asked, and to no one else (finding 2)', () => {
  it('GET /api/qrcode gives the PC a secret of at least 128 bits besides the id', async () => {
    const { deviceId, secret } = await qrcode();
    assert.match(deviceId, /^[0-9a-f]{32}$/);
    assert.ok(typeof secret === 'string' && Buffer.from(secret, 'base64url').length >= 16, String(secret));
  });

  for (const version of [ 'v2', 'v4' ] as ClientVersion[]) {
    it(`${version}: a second socket on the id without the secret (an eavesdropper) is refused with 20006`, async () => {
      const { deviceId } = await qrcode();
      await connectOk({ version, nsp: '/sso', query: { device_id: deviceId } });
      const eavesdropper = await connect({ version, nsp: '/sso', query: { device_id: deviceId } });
      assert.strictEqual(await refusal(eavesdropper), 20006);
    });
  }

  it('a socket with a wrong secret is refused with 20006', async () => {
    const { deviceId } = await qrcode();
    const wrong = await connect({ nsp: '/sso', query: { device_id: deviceId, secret: 'guessed' } });
    assert.strictEqual(await refusal(wrong), 20006);
  });

  it('only the PC\'s socket hears `scanned` and gets the tokens on confirm, and it is closed afterwards', async () => {
    const phone = await signup();
    const { deviceId, secret } = await qrcode();
    // the eavesdropper got in first (without the secret); the PC, holding the secret, replaces it
    const eavesdropper = await connectOk({ nsp: '/sso', query: { device_id: deviceId } });
    const replaced = waitFor(eavesdropper, 'im_error');
    const pc = await connectOk({ nsp: '/sso', query: { device_id: deviceId, secret } });
    assert.strictEqual((await replaced).code, 20004);
    const eavesdropperHears = notWithin(eavesdropper, 'qrlogin', 800);

    const scanned = waitFor(pc, 'qrlogin');
    assert.strictEqual((await api('POST', '/api/qrcode/scan', { token: phone.token, body: { deviceId } })).status, 200);
    assert.strictEqual((await scanned).data.payload.status, 'scanned');
    const confirmed = waitFor(pc, 'qrlogin');
    const closed = waitFor(pc, 'disconnect');
    assert.strictEqual((await api('POST', '/api/qrcode/confirm', { token: phone.token, body: { deviceId } })).status, 200);
    const tokens = (await confirmed).data.payload;
    assert.strictEqual(tokens.status, 'confirmed');
    assert.ok(tokens.token && tokens.refreshToken);
    await closed;
    assert.ok(await eavesdropperHears, 'the eavesdropper heard the login');
  });

  it('v2: the PC may send the secret in the query and reconnect with it', async () => {
    const { deviceId, secret } = await qrcode();
    const first = await connectOk({ version: 'v2', nsp: '/sso', query: { device_id: deviceId, secret } });
    const gone = waitFor(first, 'disconnect');
    await connectOk({ version: 'v2', nsp: '/sso', query: { device_id: deviceId, secret } });
    await gone;
  });

  it('a legacy PC that sends only device_id still logs in', async () => {
    const phone = await signup();
    const { deviceId } = await qrcode();
    const pc = await connectOk({ version: 'v2', nsp: '/sso', query: { device_id: deviceId } });
    const confirmed = waitFor(pc, 'qrlogin');
    assert.strictEqual((await api('POST', '/api/qrcode/confirm', { token: phone.token, body: { deviceId } })).status, 200);
    assert.strictEqual((await confirmed).data.payload.status, 'confirmed');
  });

  it('GET /api/qrcode/:id tells a signed-in user which computer asks (address, browser, time) without telling the PC anything', async () => {
    const phone = await signup();
    const before = Date.now();
    const { deviceId } = await qrcode();
    const pc = await connectOk({ nsp: '/sso', query: { device_id: deviceId } });
    const quiet = notWithin(pc, 'qrlogin', 400);
    const res = await api('GET', `/api/qrcode/${deviceId}`, { token: phone.token });
    assert.strictEqual(res.status, 200, JSON.stringify(res.body));
    assert.strictEqual(res.body.data.ip, '127.0.0.1');
    assert.match(res.body.data.userAgent, /TestBrowser\/1\.0/);
    assert.ok(res.body.data.requestedAt >= before - 1000 && res.body.data.requestedAt <= Date.now());
    assert.ok(await quiet, 'reading who asks must not scan');
    assert.strictEqual((await api('GET', `/api/qrcode/${deviceId}`)).status, 401);
    assert.strictEqual((await api('GET', `/api/qrcode/${'0'.repeat(32)}`, { token: phone.token })).body.code, 20006);
  });
});
