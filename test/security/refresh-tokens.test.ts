/**
 * Finding 3: anyone could end anyone's session. `POST /api/token/refresh {refreshToken: "<sid>.<anything>"}`
 * took a wrong secret on a live session id for token reuse and revoked the session; session ids were
 * ObjectIds (a signup's was the user's public id + 2), and refresh had no rate limit. Now reuse means a
 * token this session really issued before; a wrong secret is only 401 / 20001; session ids are 128
 * random bits; and refresh is rate-limited per client address.
 */
import assert from 'node:assert';
import crypto from 'node:crypto';
import mm from 'egg-mock';
import { api, app, baseUrl, connectOk, notWithin, signup, waitFor } from '../helpers';
import { request } from './helpers';

const refresh = (refreshToken: string) => api('POST', '/api/token/refresh', { body: { refreshToken } });
const sessionOf = (refreshToken: string) => refreshToken.split('.')[0];

describe('security: refresh tokens and session ids (finding 3)', () => {
  it('a wrong secret for a live session id is 401 / 20001 and revokes nothing', async () => {
    const u = await signup();
    const socket = await connectOk({ token: u.token });
    const untouched = notWithin(socket, 'im_error', 500);
    const forged = await refresh(`${sessionOf(u.refreshToken)}.${crypto.randomBytes(32).toString('base64url')}`);
    assert.deepStrictEqual([ forged.status, forged.body.code ], [ 401, 20001 ]);
    assert.ok(await untouched, 'the session\'s socket was told it ended');
    assert.strictEqual((await api('POST', '/api/validate', { body: { token: u.token } })).status, 200);
    const real = await refresh(u.refreshToken);
    assert.strictEqual(real.status, 200, JSON.stringify(real.body));
  });

  it('a refresh token this session issued before, presented again, revokes the session (reuse)', async () => {
    const u = await signup();
    const rotated = await refresh(u.refreshToken);
    assert.strictEqual(rotated.status, 200);
    const socket = await connectOk({ token: rotated.body.data.token });
    const told = waitFor(socket, 'im_error');
    const replay = await refresh(u.refreshToken);
    assert.deepStrictEqual([ replay.status, replay.body.code ], [ 401, 20001 ]);
    assert.strictEqual((await told).code, 20001);
    // the whole family is gone: the newest token too
    assert.strictEqual((await refresh(rotated.body.data.refreshToken)).status, 401);
  });

  it('session ids are 128 random bits, unrelated to the user\'s id', async () => {
    const [ a, b ] = [ await signup(), await signup() ];
    for (const u of [ a, b ]) {
      assert.match(sessionOf(u.refreshToken), /^[0-9a-f]{32}$/);
      assert.ok(!sessionOf(u.refreshToken).startsWith(u.id.slice(0, 8)), 'shares the user id\'s timestamp');
    }
    assert.notStrictEqual(sessionOf(a.refreshToken).slice(0, 8), sessionOf(b.refreshToken).slice(0, 8));
  });

  it('refresh is rate-limited per client address: 429 / 20009 with Retry-After', async () => {
    mm(app.config.rateLimit, 'refresh', { points: 3, duration: 60 });
    const from = `127.${crypto.randomInt(1, 255)}.${crypto.randomInt(0, 256)}.${crypto.randomInt(2, 255)}`;
    const statuses: number[] = [];
    let last: any;
    for (let i = 0; i < 4; i++) {
      last = await request(await baseUrl(), 'POST', '/api/token/refresh', { from, body: { refreshToken: `${crypto.randomBytes(16).toString('hex')}.x` } });
      statuses.push(last.status);
    }
    assert.deepStrictEqual(statuses, [ 401, 401, 401, 429 ]);
    assert.strictEqual(last.body.code, 20009);
    assert.ok(Number(last.headers['retry-after']) > 0);
  });
});
