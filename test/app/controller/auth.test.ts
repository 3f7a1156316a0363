import assert from 'node:assert';
import mm from 'egg-mock';
import { api, app, connectOk, signup, uniqueName, waitFor, type TestUser } from '../../helpers';
import { expectError } from '../../social-helpers';

const login = (body: Record<string, unknown>) => api('POST', '/api/login', { body });
const validate = (token: string) => api('POST', '/api/validate', { body: token ? { token } : {} });
const refresh = (refreshToken: unknown) => api('POST', '/api/token/refresh', { body: { refreshToken } });

describe('REST auth and account (PROTOCOL §7)', () => {
  describe('POST /api/signup', () => {
    it('creates a user with a gravatar avatar and returns tokens, never hashes', async () => {
      const username = uniqueName('Sign');
      const res = await api('POST', '/api/signup', { body: { username, password: 'password123', email: `${username}@Example.com`, nickname: 'Sig', profile: { city: 'Oslo' } } });
      assert.strictEqual(res.status, 201);
      assert.strictEqual(res.body.code, 0);
      const { user, token, refreshToken } = res.body.data;
      assert.match(user._id, /^[0-9a-f]{24}$/);
      assert.strictEqual(user.username, username);
      assert.strictEqual(user.nickname, 'Sig');
      assert.deepStrictEqual(user.profile, { city: 'Oslo' });
      assert.match(user.avatar, /gravatar\.com\/avatar\/[0-9a-f]{32}/);
      assert.ok(token && refreshToken);
      const text = JSON.stringify(res.body);
      for (const secret of [ 'passwordHash', 'answerHash', 'password123' ]) assert.ok(!text.includes(secret), `response leaks ${secret}`);
    });

    it('refuses a taken username, case-insensitively, with 409 / 10004', async () => {
      const u = await signup();
      const res = await api('POST', '/api/signup', { body: { username: u.username.toUpperCase(), password: 'password123' } });
      assert.strictEqual(res.status, 409);
      assert.strictEqual(res.body.code, 10004);
    });

    it('refuses a taken e-mail with 409 / 10004', async () => {
      const email = `${uniqueName('m')}@example.com`;
      await signup({ email });
      const res = await api('POST', '/api/signup', { body: { username: uniqueName(), password: 'password123', email: email.toUpperCase() } });
      assert.strictEqual(res.status, 409);
      assert.strictEqual(res.body.code, 10004);
    });

    const bad: Array<[string, unknown]> = [
      [ 'a too short username', { username: 'ab', password: 'password123' } ],
      [ 'a too long username', { username: 'a'.repeat(33), password: 'password123' } ],
      [ 'a username with spaces', { username: 'bad name', password: 'password123' } ],
      [ 'a short password', { username: uniqueName(), password: 'short' } ],
      [ 'a missing password', { username: uniqueName() } ],
      [ 'a Mongo operator for the username', { username: { $ne: null }, password: 'password123' } ],
      [ 'a number for the username', { username: 12345, password: 'password123' } ],
      [ 'an unknown field', { username: uniqueName(), password: 'password123', role: 'admin' } ],
      [ 'a bad e-mail', { username: uniqueName(), password: 'password123', email: 'not-an-email' } ],
      [ 'a profile over 4 KiB', { username: uniqueName(), password: 'password123', profile: { x: 'y'.repeat(5000) } } ],
      [ 'a profile with operator keys', { username: uniqueName(), password: 'password123', profile: { $where: '1' } } ],
      [ 'a question without an answer', { username: uniqueName(), password: 'password123', question: 'pet?' } ],
      [ 'an array body', [ 1, 2 ] ],
    ];
    for (const [ what, body ] of bad) {
      it(`refuses ${what} with 400 / 20002`, async () => {
        const res = await api('POST', '/api/signup', { body });
        assert.strictEqual(res.status, 400, JSON.stringify(res.body));
        assert.strictEqual(res.body.code, 20002);
        assert.ok(res.body.msg);
      });
    }

    it('refuses malformed JSON with 400 / 20002', async () => {
      const res = await api('POST', '/api/signup', { raw: '{"username": "abc", ' });
      assert.strictEqual(res.status, 400);
      assert.strictEqual(res.body.code, 20002);
    });

    it('refuses an oversized body with 413 / 20002', async () => {
      const res = await api('POST', '/api/signup', { body: { username: uniqueName(), password: 'p'.repeat(200 * 1024) } });
      assert.strictEqual(res.status, 413);
      assert.strictEqual(res.body.code, 20002);
    });
  });

  describe('POST /api/login', () => {
    const identifiers: Array<[string, (u: TestUser, email: string) => Record<string, string>]> = [
      [ 'username', u => ({ username: u.username }) ],
      [ 'username in another case', u => ({ username: u.username.toUpperCase() }) ],
      [ 'e-mail', (_u, email) => ({ email }) ],
      [ 'id', u => ({ id: u.id }) ],
    ];
    for (const [ what, by ] of identifiers) {
      it(`logs in by ${what}: the user, tokens and expiresIn`, async () => {
        const email = `${uniqueName('e')}@example.com`;
        const u = await signup({ email });
        const res = await login({ ...by(u, email), password: u.password });
        assert.strictEqual(res.status, 200, JSON.stringify(res.body));
        assert.strictEqual(res.body.data.user._id, u.id);
        assert.ok(res.body.data.token && res.body.data.refreshToken);
        assert.strictEqual(res.body.data.expiresIn, app.config.auth.accessTokenTtl);
      });
    }

    it('gives the same 401 / 20007 for a wrong password and an unknown user', async () => {
      const u = await signup();
      const wrong = await login({ username: u.username, password: 'wrong password' });
      const unknown = await login({ username: uniqueName('nobody'), password: 'wrong password' });
      assert.strictEqual(wrong.status, 401);
      assert.strictEqual(unknown.status, 401);
      assert.deepStrictEqual(wrong.body, unknown.body);
      assert.strictEqual(wrong.body.code, 20007);
    });

    const refused: Array<[string, unknown]> = [
      [ 'an operator for the username', { username: { $gt: '' }, password: 'x' } ],
      [ 'two identifiers', { username: 'a', email: 'b', password: 'x' } ],
      [ 'no identifier', { password: 'x' } ],
      [ 'an operator for the password', { username: 'a', password: { $ne: 1 } } ],
    ];
    for (const [ what, body ] of refused) {
      it(`refuses ${what} with 400 / 20002`, async () => {
        expectError(await api('POST', '/api/login', { body }), 400, 20002);
      });
    }

    it('locks an account for 429 / 20009 after 5 failures, even with the right password and another identifier', async () => {
      const u = await signup();
      for (let i = 0; i < 5; i++) assert.strictEqual((await login({ username: u.username, password: `wrong-${i}-password` })).status, 401);
      const locked = await login({ id: u.id, password: u.password });
      expectError(locked, 429, 20009);
      assert.ok(Number(locked.headers.get('retry-after')) > 0);
    });
  });

  it('limits failures per client IP across accounts with 429 / 20009', async () => {
    mm(app.config.rateLimit, 'ipFailures', { points: 3, duration: 60 });
    const u = await signup();
    for (let i = 0; i < 3; i++) assert.strictEqual((await login({ username: uniqueName('ip'), password: 'whatever-password' })).status, 401);
    expectError(await login({ username: u.username, password: u.password }), 429, 20009);
  });

  describe('POST /api/validate', () => {
    it('returns the user for a token in the body', async () => {
      const u = await signup();
      const res = await validate(u.token);
      assert.strictEqual(res.status, 200);
      assert.strictEqual(res.body.data.user._id, u.id);
    });

    it('returns the user for a token in the Authorization header', async () => {
      const u = await signup();
      const res = await api('POST', '/api/validate', { token: u.token });
      assert.strictEqual(res.status, 200);
      assert.strictEqual(res.body.data.user.username, u.username);
    });

    const bad: Array<[string, (u: TestUser) => string]> = [
      [ 'a garbage token', () => 'garbage' ],
      [ 'a token with a forged signature', u => `${u.token.split('.').slice(0, 2).join('.')}.forgedsignature` ],
      [ 'no token', () => '' ],
    ];
    for (const [ what, token ] of bad) {
      it(`refuses ${what} with 401 / 20001`, async () => {
        expectError(await validate(token(await signup())), 401, 20001);
      });
    }
  });

  describe('POST /api/token/refresh', () => {
    it('rotates: a new refresh token and a working access token', async () => {
      const u = await signup();
      const first = await refresh(u.refreshToken);
      assert.strictEqual(first.status, 200);
      const { token, refreshToken } = first.body.data;
      assert.ok(token && refreshToken && refreshToken !== u.refreshToken);
      assert.strictEqual((await validate(token)).status, 200);
    });

    it('a used refresh token is refused the second time: 401 / 20001', async () => {
      const u = await signup();
      await refresh(u.refreshToken);
      expectError(await refresh(u.refreshToken), 401, 20001);
    });

    it('a reused refresh token revokes its family: the newest refresh token and every access token', async () => {
      const u = await signup();
      const { token, refreshToken } = (await refresh(u.refreshToken)).body.data;
      await refresh(u.refreshToken);
      assert.strictEqual((await refresh(refreshToken)).body.code, 20001);
      assert.strictEqual((await validate(token)).status, 401);
      assert.strictEqual((await validate(u.token)).status, 401);
    });

    it('two concurrent uses of one refresh token: at most one succeeds', async () => {
      const u = await signup();
      const results = await Promise.all([ 1, 2 ].map(() => refresh(u.refreshToken)));
      assert.ok(results.filter(r => r.status === 200).length <= 1);
    });

    it('refuses garbage with 20001', async () => {
      assert.strictEqual((await refresh('nope')).body.code, 20001);
    });

    it('refuses a wrong shape with 20002', async () => {
      assert.strictEqual((await refresh({ $ne: '' })).body.code, 20002);
    });

    it('does not touch other sessions of the same user', async () => {
      const u = await signup();
      const other = (await login({ username: u.username, password: u.password })).body.data;
      await refresh(u.refreshToken);
      await refresh(u.refreshToken); // reuse: revokes the signup session
      assert.strictEqual((await validate(other.token)).status, 200);
    });
  });

  describe('POST /api/logout', () => {
    /** a user with another session, and sockets of both sessions */
    async function twoSessions() {
      const u = await signup();
      const otherSession = (await login({ username: u.username, password: u.password })).body.data;
      const [ v2, v4, bystander ] = await Promise.all([
        connectOk({ version: 'v2', token: u.token, query: { deviceType: 'WEB' } }),
        connectOk({ version: 'v4', token: u.token, query: { deviceType: 'MOBILE' } }),
        connectOk({ token: otherSession.token, query: { deviceType: 'DESKTOP' } }),
      ]);
      return { u, otherSession, v2, v4, bystander };
    }

    it('the session\'s sockets (v2 and v4) get im_error 20001 and are disconnected', async () => {
      const { u, v2, v4 } = await twoSessions();
      const told = Promise.all([ v2, v4 ].map(s => Promise.all([ waitFor(s, 'im_error'), waitFor(s, 'disconnect') ])));
      assert.strictEqual((await api('POST', '/api/logout', { token: u.token })).status, 200);
      for (const [ err ] of await told) assert.strictEqual(err.code, 20001);
    });

    it('a socket of another session stays connected', async () => {
      const { u, v2, bystander } = await twoSessions();
      const told = waitFor(v2, 'disconnect');
      await api('POST', '/api/logout', { token: u.token });
      await told;
      assert.strictEqual(bystander.connected, true);
    });

    it('the access token is refused afterwards', async () => {
      const u = await signup();
      await api('POST', '/api/logout', { token: u.token });
      assert.strictEqual((await api('POST', '/api/logout', { token: u.token })).status, 401);
      assert.strictEqual((await validate(u.token)).body.code, 20001);
    });

    it('the refresh token is revoked', async () => {
      const u = await signup();
      await api('POST', '/api/logout', { token: u.token });
      assert.strictEqual((await refresh(u.refreshToken)).body.code, 20001);
    });

    it('other sessions of the user keep working', async () => {
      const u = await signup();
      const otherSession = (await login({ username: u.username, password: u.password })).body.data;
      await api('POST', '/api/logout', { token: u.token });
      assert.strictEqual((await validate(otherSession.token)).status, 200);
    });

    it('needs a token: 401 / 20001', async () => {
      expectError(await api('POST', '/api/logout'), 401, 20001);
    });
  });

  describe('GET /api/password/question', () => {
    it('returns the user\'s question', async () => {
      const u = await signup({ question: 'First pet?', answer: 'Rex' });
      const q = await api('GET', `/api/password/question?username=${u.username}`);
      assert.strictEqual(q.status, 200);
      assert.strictEqual(q.body.data.question, 'First pet?');
    });

    it('an unknown user is 404 / 20005', async () => {
      expectError(await api('GET', `/api/password/question?username=${uniqueName('ghost')}`), 404, 20005);
    });

    it('a user without a question is 409 / 10006', async () => {
      const none = await signup();
      expectError(await api('GET', `/api/password/question?username=${none.username}`), 409, 10006);
    });

    it('no username is 400 / 20002', async () => {
      expectError(await api('GET', '/api/password/question'), 400, 20002);
    });
  });

  describe('POST /api/password/reset', () => {
    const withQuestion = () => signup({ question: 'First pet?', answer: 'Rex' });
    const reset = (u: TestUser, answer: string, newPassword = 'brand new password') => api('POST', '/api/password/reset', { body: { username: u.username, answer, newPassword } });

    it('the right answer (case and spacing ignored) sets the new password in place of the old', async () => {
      const u = await withQuestion();
      assert.strictEqual((await reset(u, '  rex ')).status, 200);
      assert.strictEqual((await login({ username: u.username, password: u.password })).status, 401);
      assert.strictEqual((await login({ username: u.username, password: 'brand new password' })).status, 200);
    });

    it('ends the sessions made with the old password', async () => {
      const u = await withQuestion();
      await reset(u, 'Rex');
      assert.strictEqual((await validate(u.token)).status, 401);
    });

    it('a wrong answer is 401 / 20007 and leaves the password as it was', async () => {
      const u = await withQuestion();
      expectError(await reset(u, 'Max'), 401, 20007);
      assert.strictEqual((await login({ username: u.username, password: u.password })).status, 200);
    });

    it('after 5 wrong answers even the right one is 429 / 20009', async () => {
      const u = await withQuestion();
      for (let i = 0; i < 5; i++) expectError(await reset(u, `Max${i}`), 401, 20007);
      expectError(await reset(u, 'Rex'), 429, 20009);
      assert.strictEqual((await login({ username: u.username, password: u.password })).status, 200);
    });

    it('refuses a short new password with 400 / 20002', async () => {
      const u = await withQuestion();
      expectError(await reset(u, 'Rex', 'short'), 400, 20002);
    });
  });
});
