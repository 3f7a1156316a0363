import assert from 'node:assert';
import { api, connectOk, signup, uniqueName } from '../../helpers';
import { befriend, expectError, record } from '../../social-helpers';

const PUBLIC_KEYS = [ '_id', 'avatar', 'intro', 'nickname', 'username' ];

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

  it('PATCH /api/users/me changes allowed fields only', async () => {
    const u = await signup();
    const res = await api('PATCH', '/api/users/me', { token: u.token, body: { nickname: 'Neo', intro: 'hello', profile: { city: 'Zion' } } });
    assert.strictEqual(res.status, 200, JSON.stringify(res.body));
    assert.deepStrictEqual([ res.body.data.nickname, res.body.data.intro, res.body.data.profile ], [ 'Neo', 'hello', { city: 'Zion' } ]);
    for (const body of [ { role: 'admin' }, { password: 'new password 1' }, { _id: u.id }, { username: 'x' + u.username }, { presence: 'busy' }, { nickname: { $set: 1 } }, {}, { question: 'only a question' } ]) {
      expectError(await api('PATCH', '/api/users/me', { token: u.token, body }), 400, 20002);
    }
    const me = (await api('GET', '/api/users/me', { token: u.token })).body.data;
    assert.strictEqual(me.role, 'user');
    assert.strictEqual(me.username, u.username);
  });

  it('PATCH /api/users/me: a taken e-mail is 409 / 10004; a new security answer works for reset', async () => {
    const email = `${uniqueName('t')}@example.com`;
    await signup({ email });
    const u = await signup();
    expectError(await api('PATCH', '/api/users/me', { token: u.token, body: { email: email.toUpperCase(), currentPassword: u.password } }), 409, 10004);
    assert.strictEqual((await api('PATCH', '/api/users/me', { token: u.token, body: { question: 'colour?', answer: ' Blue ', currentPassword: u.password } })).status, 200);
    const reset = await api('POST', '/api/password/reset', { body: { username: u.username, answer: 'blue', newPassword: 'another password' } });
    assert.strictEqual(reset.status, 200, JSON.stringify(reset.body));
  });

  it('GET /api/users/:id shows public fields only; bad id 400 / 20002, unknown 404 / 20005', async () => {
    const [ me, other ] = await Promise.all([ signup(), signup({ email: `${uniqueName('p')}@example.com` }) ]);
    const res = await api('GET', `/api/users/${other.id}`, { token: me.token });
    assert.strictEqual(res.status, 200);
    assert.deepStrictEqual(Object.keys(res.body.data).sort(), PUBLIC_KEYS);
    expectError(await api('GET', '/api/users/not-an-id', { token: me.token }), 400, 20002);
    expectError(await api('GET', '/api/users/0123456789abcdef01234567', { token: me.token }), 404, 20005);
    expectError(await api('GET', `/api/users/${other.id}`), 401, 20001);
  });

  it('GET /api/users?q= matches username and nickname prefixes, case-insensitively, capped at 30', async () => {
    const prefix = uniqueName('S').slice(0, 14);
    const users = await Promise.all(Array.from({ length: 32 }, (_, i) => signup({ nickname: `${prefix}${String(i).padStart(2, '0')}` })));
    const me = users[0];
    const capped = await api('GET', `/api/users?q=${prefix.toLowerCase()}&limit=100`, { token: me.token });
    assert.strictEqual(capped.status, 200);
    assert.strictEqual(capped.body.data.length, 30);
    assert.ok(capped.body.data.every((u: any) => u.nickname.startsWith(prefix)));
    assert.deepStrictEqual(Object.keys(capped.body.data[0]).sort(), PUBLIC_KEYS);
    const few = await api('GET', `/api/users?q=${prefix}&limit=3`, { token: me.token });
    assert.strictEqual(few.body.data.length, 3);
    const byName = await api('GET', `/api/users?q=${encodeURIComponent(users[1].username.toUpperCase())}`, { token: me.token });
    assert.deepStrictEqual(byName.body.data.map((u: any) => u._id), [ users[1].id ]);
    // regular-expression characters are plain text
    assert.deepStrictEqual((await api('GET', `/api/users?q=${encodeURIComponent('.*')}`, { token: me.token })).body.data, []);
    expectError(await api('GET', '/api/users?q=', { token: me.token }), 400, 20002);
    expectError(await api('GET', `/api/users?q=${prefix}&limit=0`, { token: me.token }), 400, 20002);
  });

  it('PUT /api/users/me/presence reaches friends; invisible shows as offline', async () => {
    const [ alice, bob, stranger ] = await Promise.all([ signup(), signup(), signup() ]);
    await befriend(alice, bob);
    await connectOk({ token: alice.token });
    const [ sb, ss ] = await Promise.all([ connectOk({ token: bob.token }), connectOk({ token: stranger.token }) ]);
    const [ heard, strangerHeard ] = [ record(sb, 'presence'), record(ss, 'presence') ];
    const online = record(sb, 'c_online');

    const res = await api('PUT', '/api/users/me/presence', { token: alice.token, body: { presence: 'away' } });
    assert.strictEqual(res.status, 200);
    const away = await heard.next(p => p.presence === 'away');
    assert.strictEqual(away.data.action, 'CHAT_PRESENCE');
    assert.deepStrictEqual(away.data.payload, { id: alice.id, presence: 'away' });
    assert.deepStrictEqual((await api('GET', '/api/friends', { token: bob.token })).body.data.map((f: any) => f.presence), [ 'away' ]);

    await api('PUT', '/api/users/me/presence', { token: alice.token, body: { presence: 'invisible' } });
    await heard.next(p => p.presence === 'offline');
    await online.next(p => p.type === 'offline' && p.current === alice.id);
    assert.deepStrictEqual((await api('GET', '/api/friends', { token: bob.token })).body.data.map((f: any) => f.presence), [ 'offline' ]);
    assert.strictEqual((await api('GET', '/api/users/me', { token: alice.token })).body.data.presence, 'invisible');

    await api('PUT', '/api/users/me/presence', { token: alice.token, body: { presence: 'deep in thought' } });
    await heard.next(p => p.presence === 'deep in thought');
    await online.next(p => p.type === 'online' && p.current === alice.id);
    assert.deepStrictEqual(strangerHeard.seen, []);

    for (const body of [ { presence: 'x'.repeat(33) }, { presence: '' }, { presence: 'offline' }, { presence: 3 }, {} ]) {
      expectError(await api('PUT', '/api/users/me/presence', { token: alice.token, body }), 400, 20002);
    }
  });
});
