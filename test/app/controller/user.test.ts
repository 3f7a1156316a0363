import assert from 'node:assert';
import { api, connectChat, signup, uniqueName, type TestUser } from '../../helpers';
import { befriend, expectError, record } from '../../social-helpers';

const PUBLIC_KEYS = [ '_id', 'avatar', 'intro', 'nickname', 'username' ];

const me = async (u: TestUser) => (await api('GET', '/api/users/me', { token: u.token })).body.data;
const setPresence = (u: TestUser, presence: unknown) => api('PUT', '/api/users/me/presence', { token: u.token, body: { presence } });
const friendPresences = async (u: TestUser) => (await api('GET', '/api/friends', { token: u.token })).body.data.map((f: any) => f.presence);

describe('REST users and presence (PROTOCOL §7 "Users and presence")', () => {
  it('GET /api/users/me returns my account without secrets', async () => {
    const u = await signup({ email: `${uniqueName('m')}@example.com`, question: 'pet?', answer: 'Rex' });
    const res = await api('GET', '/api/users/me', { token: u.token });
    assert.strictEqual(res.status, 200);
    assert.strictEqual(res.body.data._id, u.id);
    assert.strictEqual(res.body.data.role, 'user');
    const text = JSON.stringify(res.body);
    for (const secret of [ 'passwordHash', 'answerHash', 'usernameLower' ]) assert.ok(!text.includes(secret), secret);
  });

  describe('PATCH /api/users/me', () => {
    it('changes nickname, intro and profile', async () => {
      const u = await signup();
      const res = await api('PATCH', '/api/users/me', { token: u.token, body: { nickname: 'Neo', intro: 'hello', profile: { city: 'Zion' } } });
      assert.strictEqual(res.status, 200, JSON.stringify(res.body));
      assert.deepStrictEqual([ res.body.data.nickname, res.body.data.intro, res.body.data.profile ], [ 'Neo', 'hello', { city: 'Zion' } ]);
    });

    const refused: Array<[string, (u: TestUser) => unknown]> = [
      [ 'the role', () => ({ role: 'admin' }) ],
      [ 'the password', () => ({ password: 'new password 1' }) ],
      [ 'the id', u => ({ _id: u.id }) ],
      [ 'the username', u => ({ username: 'x' + u.username }) ],
      [ 'the presence (it has its own route)', () => ({ presence: 'busy' }) ],
      [ 'an operator for a field', () => ({ nickname: { $set: 1 } }) ],
      [ 'nothing', () => ({}) ],
      [ 'a security question without its answer', () => ({ question: 'only a question' }) ],
    ];
    for (const [ what, body ] of refused) {
      it(`refuses ${what} with 400 / 20002`, async () => {
        const u = await signup();
        expectError(await api('PATCH', '/api/users/me', { token: u.token, body: body(u) }), 400, 20002);
      });
    }

    it('a refused change changes nothing', async () => {
      const u = await signup();
      const before = await me(u);
      await api('PATCH', '/api/users/me', { token: u.token, body: { role: 'admin', nickname: 'Neo' } });
      await api('PATCH', '/api/users/me', { token: u.token, body: { username: 'x' + u.username } });
      const after = await me(u);
      assert.deepStrictEqual([ after.role, after.username, after.nickname ], [ 'user', u.username, before.nickname ]);
    });

    it('a taken e-mail, in any case, is 409 / 10004', async () => {
      const email = `${uniqueName('t')}@example.com`;
      await signup({ email });
      const u = await signup();
      expectError(await api('PATCH', '/api/users/me', { token: u.token, body: { email: email.toUpperCase() } }), 409, 10004);
    });

    it('a new security question and answer is what a password reset then asks', async () => {
      const u = await signup();
      assert.strictEqual((await api('PATCH', '/api/users/me', { token: u.token, body: { question: 'colour?', answer: ' Blue ' } })).status, 200);
      const reset = await api('POST', '/api/password/reset', { body: { username: u.username, answer: 'blue', newPassword: 'another password' } });
      assert.strictEqual(reset.status, 200, JSON.stringify(reset.body));
    });
  });

  describe('GET /api/users/:id', () => {
    let viewer: TestUser;
    let other: TestUser;
    before(async () => { [ viewer, other ] = await Promise.all([ signup(), signup({ email: `${uniqueName('p')}@example.com` }) ]); });

    it('shows public fields only', async () => {
      const res = await api('GET', `/api/users/${other.id}`, { token: viewer.token });
      assert.strictEqual(res.status, 200);
      assert.deepStrictEqual(Object.keys(res.body.data).sort(), PUBLIC_KEYS);
    });

    it('a malformed id is 400 / 20002', async () => {
      expectError(await api('GET', '/api/users/not-an-id', { token: viewer.token }), 400, 20002);
    });

    it('an unknown user is 404 / 20005', async () => {
      expectError(await api('GET', '/api/users/0123456789abcdef01234567', { token: viewer.token }), 404, 20005);
    });

    it('no token is 401 / 20001', async () => {
      expectError(await api('GET', `/api/users/${other.id}`), 401, 20001);
    });
  });

  describe('GET /api/users?q=', () => {
    let prefix: string;
    let users: TestUser[];
    // 32 users whose nicknames share a prefix; the its only search
    before(async () => {
      prefix = uniqueName('S').slice(0, 14);
      users = await Promise.all(Array.from({ length: 32 }, (_, i) => signup({ nickname: `${prefix}${String(i).padStart(2, '0')}` })));
    });
    const search = (query: string) => api('GET', `/api/users?${query}`, { token: users[0].token });

    it('matches nickname prefixes case-insensitively, public fields only, at most 30', async () => {
      const capped = await search(`q=${prefix.toLowerCase()}&limit=100`);
      assert.strictEqual(capped.status, 200);
      assert.strictEqual(capped.body.data.length, 30);
      assert.ok(capped.body.data.every((u: any) => u.nickname.startsWith(prefix)));
      assert.deepStrictEqual(Object.keys(capped.body.data[0]).sort(), PUBLIC_KEYS);
    });

    it('limit caps the matches', async () => {
      assert.strictEqual((await search(`q=${prefix}&limit=3`)).body.data.length, 3);
    });

    it('matches usernames case-insensitively', async () => {
      const byName = await search(`q=${encodeURIComponent(users[1].username.toUpperCase())}`);
      assert.deepStrictEqual(byName.body.data.map((u: any) => u._id), [ users[1].id ]);
    });

    it('treats regular-expression characters as plain text', async () => {
      assert.deepStrictEqual((await search(`q=${encodeURIComponent('.*')}`)).body.data, []);
    });

    it('an empty q is 400 / 20002', async () => {
      expectError(await search('q='), 400, 20002);
    });

    it('a limit of 0 is 400 / 20002', async () => {
      expectError(await search(`q=${prefix}&limit=0`), 400, 20002);
    });
  });

  describe('PUT /api/users/me/presence', () => {
    /** alice online and friends with bob, whose socket records presence and c_online */
    async function friendsOnline() {
      const [ alice, bob ] = await Promise.all([ signup(), signup() ]);
      await befriend(alice, bob);
      await connectChat({ token: alice.token });
      const sb = await connectChat({ token: bob.token });
      return { alice, bob, presence: record(sb, 'presence'), online: record(sb, 'c_online') };
    }

    it('a friend hears CHAT_PRESENCE with my new presence', async () => {
      const { alice, presence } = await friendsOnline();
      const res = await setPresence(alice, 'away');
      assert.strictEqual(res.status, 200);
      const away = await presence.next(p => p.presence === 'away');
      assert.strictEqual(away.data.action, 'CHAT_PRESENCE');
      assert.deepStrictEqual(away.data.payload, { id: alice.id, presence: 'away' });
    });

    it('my friends list my presence', async () => {
      const { alice, bob } = await friendsOnline();
      await setPresence(alice, 'away');
      assert.deepStrictEqual(await friendPresences(bob), [ 'away' ]);
    });

    it('invisible: friends hear me go offline (presence and c_online)', async () => {
      const { alice, presence, online } = await friendsOnline();
      await setPresence(alice, 'invisible');
      await presence.next(p => p.presence === 'offline');
      await online.next(p => p.type === 'offline' && p.current === alice.id);
    });

    it('invisible: friends list me as offline; I see myself invisible', async () => {
      const { alice, bob } = await friendsOnline();
      await setPresence(alice, 'invisible');
      assert.deepStrictEqual(await friendPresences(bob), [ 'offline' ]);
      assert.strictEqual((await me(alice)).presence, 'invisible');
    });

    it('from invisible to a custom presence: friends hear it and that I am online again', async () => {
      const { alice, presence, online } = await friendsOnline();
      await setPresence(alice, 'invisible');
      await online.next(p => p.type === 'offline' && p.current === alice.id);
      await setPresence(alice, 'deep in thought');
      await presence.next(p => p.presence === 'deep in thought');
      await online.next(p => p.type === 'online' && p.current === alice.id);
    });

    it('someone who is not a friend hears nothing', async () => {
      const { alice, presence } = await friendsOnline();
      const stranger = await signup();
      const strangerHeard = record(await connectChat({ token: stranger.token }), 'presence');
      for (const p of [ 'away', 'invisible', 'deep in thought' ]) await setPresence(alice, p);
      await presence.next(p => p.presence === 'deep in thought');
      assert.deepStrictEqual(strangerHeard.seen, []);
    });

    const bad: Array<[string, unknown]> = [
      [ 'over 32 characters', 'x'.repeat(33) ],
      [ 'empty', '' ],
      [ '"offline" (that is what invisible shows)', 'offline' ],
      [ 'not a string', 3 ],
      [ 'missing', undefined ],
    ];
    for (const [ what, presence ] of bad) {
      it(`a presence ${what} is 400 / 20002`, async () => {
        const u = await signup();
        expectError(await setPresence(u, presence), 400, 20002);
      });
    }
  });
});
