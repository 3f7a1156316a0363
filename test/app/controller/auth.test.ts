import assert from 'node:assert';
import mm from 'egg-mock';
import { api, app, connectOk, signup, uniqueName, waitFor } from '../../helpers';

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
    it('logs in by username, e-mail or id', async () => {
      const email = `${uniqueName('e')}@example.com`;
      const u = await signup({ email });
      for (const by of [ { username: u.username }, { username: u.username.toUpperCase() }, { email }, { id: u.id } ]) {
        const res = await api('POST', '/api/login', { body: { ...by, password: u.password } });
        assert.strictEqual(res.status, 200, JSON.stringify(by));
        assert.strictEqual(res.body.data.user._id, u.id);
        assert.ok(res.body.data.token && res.body.data.refreshToken);
        assert.strictEqual(res.body.data.expiresIn, app.config.auth.accessTokenTtl);
      }
    });

    it('gives the same 401 / 20007 for a wrong password and an unknown user', async () => {
      const u = await signup();
      const wrong = await api('POST', '/api/login', { body: { username: u.username, password: 'wrong password' } });
      const unknown = await api('POST', '/api/login', { body: { username: uniqueName('nobody'), password: 'wrong password' } });
      assert.strictEqual(wrong.status, 401);
      assert.strictEqual(unknown.status, 401);
      assert.deepStrictEqual(wrong.body, unknown.body);
      assert.strictEqual(wrong.body.code, 20007);
    });

    it('refuses operators and ambiguous identifiers with 400 / 20002', async () => {
      for (const body of [ { username: { $gt: '' }, password: 'x' }, { username: 'a', email: 'b', password: 'x' }, { password: 'x' }, { username: 'a', password: { $ne: 1 } } ]) {
        const res = await api('POST', '/api/login', { body });
        assert.strictEqual(res.status, 400, JSON.stringify(body));
        assert.strictEqual(res.body.code, 20002);
      }
    });

    it('after 5 failures for an account, an address waits between attempts: 429 / 20009 too early, even with the right password', async () => {
      const u = await signup();
      for (let i = 0; i < 6; i++) {
        const res = await api('POST', '/api/login', { body: { username: u.username, password: `wrong-${i}-password` } });
        assert.strictEqual(res.status, 401, `attempt ${i + 1}`);
      }
      // the account is counted whichever identifier names it; the 6th failure started this address's wait
      const early = await api('POST', '/api/login', { body: { id: u.id, password: u.password } });
      assert.deepStrictEqual([ early.status, early.body.code ], [ 429, 20009 ]);
      const wait = Number(early.headers.get('retry-after'));
      assert.ok(wait > 0 && wait <= app.config.auth.failureDelayMs / 1000, String(wait));
    });
  });

  it('limits failures per client IP across accounts with 429 / 20009', async () => {
    mm(app.config.rateLimit, 'ipFailures', { points: 3, duration: 60 });
    const u = await signup();
    for (let i = 0; i < 3; i++) {
      const res = await api('POST', '/api/login', { body: { username: uniqueName('ip'), password: 'whatever-password' } });
      assert.strictEqual(res.status, 401);
    }
    const blocked = await api('POST', '/api/login', { body: { username: u.username, password: u.password } });
    assert.deepStrictEqual([ blocked.status, blocked.body.code ], [ 429, 20009 ]);
  });

  describe('POST /api/validate', () => {
    it('returns the user for a token in the body or the Authorization header', async () => {
      const u = await signup();
      const byBody = await api('POST', '/api/validate', { body: { token: u.token } });
      assert.strictEqual(byBody.status, 200);
      assert.strictEqual(byBody.body.data.user._id, u.id);
      const byHeader = await api('POST', '/api/validate', { token: u.token });
      assert.strictEqual(byHeader.body.data.user.username, u.username);
    });

    it('refuses a bad, forged or missing token with 401 / 20001', async () => {
      const u = await signup();
      const [ h, p ] = u.token.split('.');
      for (const token of [ 'garbage', `${h}.${p}.forgedsignature`, '' ]) {
        const res = await api('POST', '/api/validate', { body: token ? { token } : {} });
        assert.strictEqual(res.status, 401, token);
        assert.strictEqual(res.body.code, 20001);
      }
    });
  });

  describe('POST /api/token/refresh', () => {
    it('rotates the refresh token; a reused one is refused and revokes the family', async () => {
      const u = await signup();
      const first = await api('POST', '/api/token/refresh', { body: { refreshToken: u.refreshToken } });
      assert.strictEqual(first.status, 200);
      const { token, refreshToken } = first.body.data;
      assert.ok(token && refreshToken && refreshToken !== u.refreshToken);
      assert.strictEqual((await api('POST', '/api/validate', { body: { token } })).status, 200);

      const reuse = await api('POST', '/api/token/refresh', { body: { refreshToken: u.refreshToken } });
      assert.strictEqual(reuse.status, 401);
      assert.strictEqual(reuse.body.code, 20001);
      // the whole family is gone: the newest refresh token and the access tokens too
      assert.strictEqual((await api('POST', '/api/token/refresh', { body: { refreshToken } })).body.code, 20001);
      assert.strictEqual((await api('POST', '/api/validate', { body: { token } })).status, 401);
      assert.strictEqual((await api('POST', '/api/validate', { body: { token: u.token } })).status, 401);
    });

    it('two concurrent uses of one refresh token: at most one succeeds', async () => {
      const u = await signup();
      const results = await Promise.all([ 1, 2 ].map(() => api('POST', '/api/token/refresh', { body: { refreshToken: u.refreshToken } })));
      assert.ok(results.filter(r => r.status === 200).length <= 1);
    });

    it('refuses garbage with 401 / 20001 and a wrong shape with 400 / 20002', async () => {
      assert.strictEqual((await api('POST', '/api/token/refresh', { body: { refreshToken: 'nope' } })).body.code, 20001);
      assert.strictEqual((await api('POST', '/api/token/refresh', { body: { refreshToken: { $ne: '' } } })).body.code, 20002);
    });

    it('does not touch other sessions of the same user', async () => {
      const u = await signup();
      const other = (await api('POST', '/api/login', { body: { username: u.username, password: u.password } })).body.data;
      await api('POST', '/api/token/refresh', { body: { refreshToken: u.refreshToken } });
      await api('POST', '/api/token/refresh', { body: { refreshToken: u.refreshToken } }); // reuse: revokes the signup session
      assert.strictEqual((await api('POST', '/api/validate', { body: { token: other.token } })).status, 200);
    });
  });

  describe('POST /api/logout', () => {
    it('ends the session: access token refused, refresh revoked, its sockets told 20001', async () => {
      const u = await signup();
      const otherSession = (await api('POST', '/api/login', { body: { username: u.username, password: u.password } })).body.data;
      const v2 = await connectOk({ version: 'v2', token: u.token, query: { deviceType: 'WEB' } });
      const v4 = await connectOk({ version: 'v4', token: u.token, query: { deviceType: 'MOBILE' } });
      const bystander = await connectOk({ token: otherSession.token, query: { deviceType: 'DESKTOP' } });
      const told = Promise.all([ v2, v4 ].map(s => Promise.all([ waitFor(s, 'im_error'), waitFor(s, 'disconnect') ])));

      const res = await api('POST', '/api/logout', { token: u.token });
      assert.strictEqual(res.status, 200);
      for (const [ err ] of await told) assert.strictEqual(err.code, 20001);
      assert.strictEqual(bystander.connected, true);

      assert.strictEqual((await api('POST', '/api/logout', { token: u.token })).status, 401);
      assert.strictEqual((await api('POST', '/api/validate', { body: { token: u.token } })).body.code, 20001);
      assert.strictEqual((await api('POST', '/api/token/refresh', { body: { refreshToken: u.refreshToken } })).body.code, 20001);
      assert.strictEqual((await api('POST', '/api/validate', { body: { token: otherSession.token } })).status, 200);
    });

    it('needs a token: 401 / 20001', async () => {
      const res = await api('POST', '/api/logout');
      assert.strictEqual(res.status, 401);
      assert.strictEqual(res.body.code, 20001);
    });
  });

  describe('password question and reset', () => {
    it('returns the question; 404 / 20005 for an unknown user; 409 / 10006 when none is set', async () => {
      const u = await signup({ question: 'First pet?', answer: 'Rex' });
      const q = await api('GET', `/api/password/question?username=${u.username}`);
      assert.strictEqual(q.status, 200);
      assert.strictEqual(q.body.data.question, 'First pet?');
      const unknown = await api('GET', `/api/password/question?username=${uniqueName('ghost')}`);
      assert.deepStrictEqual([ unknown.status, unknown.body.code ], [ 404, 20005 ]);
      const none = await signup();
      const noQuestion = await api('GET', `/api/password/question?username=${none.username}`);
      assert.deepStrictEqual([ noQuestion.status, noQuestion.body.code ], [ 409, 10006 ]);
      const missing = await api('GET', '/api/password/question');
      assert.deepStrictEqual([ missing.status, missing.body.code ], [ 400, 20002 ]);
    });

    it('resets with the right answer (case and spacing ignored) and ends old sessions', async () => {
      const u = await signup({ question: 'First pet?', answer: 'Rex' });
      const res = await api('POST', '/api/password/reset', { body: { username: u.username, answer: '  rex ', newPassword: 'brand new password' } });
      assert.strictEqual(res.status, 200);
      assert.strictEqual((await api('POST', '/api/login', { body: { username: u.username, password: u.password } })).status, 401);
      assert.strictEqual((await api('POST', '/api/login', { body: { username: u.username, password: 'brand new password' } })).status, 200);
      assert.strictEqual((await api('POST', '/api/validate', { body: { token: u.token } })).status, 401);
    });

    it('refuses a wrong answer with 401 / 20007 and rate-limits it with 429 / 20009', async () => {
      const u = await signup({ question: 'First pet?', answer: 'Rex' });
      for (let i = 0; i < 6; i++) {
        const res = await api('POST', '/api/password/reset', { body: { username: u.username, answer: `Max${i}`, newPassword: 'brand new password' } });
        assert.deepStrictEqual([ res.status, res.body.code ], [ 401, 20007 ]);
      }
      const locked = await api('POST', '/api/password/reset', { body: { username: u.username, answer: 'Rex', newPassword: 'brand new password' } });
      assert.deepStrictEqual([ locked.status, locked.body.code ], [ 429, 20009 ]);
      assert.strictEqual((await api('POST', '/api/login', { body: { username: u.username, password: u.password } })).status, 200);
    });

    it('refuses a short new password with 400 / 20002', async () => {
      const u = await signup({ question: 'First pet?', answer: 'Rex' });
      const res = await api('POST', '/api/password/reset', { body: { username: u.username, answer: 'Rex', newPassword: 'short' } });
      assert.deepStrictEqual([ res.status, res.body.code ], [ 400, 20002 ]);
    });
  });
});
