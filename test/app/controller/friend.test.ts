import assert from 'node:assert';
import mm from 'egg-mock';
import { api, app, connectOk, notWithin, signup } from '../../helpers';
import { befriend, expectError, record } from '../../social-helpers';

describe('REST friends and blocks (PROTOCOL §7, f_notice)', () => {
  afterEach(() => mm.restore());

  it('friend requests are rate-limited per user: 429 / 20009', async () => {
    mm(app.config.rateLimit, 'friendRequest', { points: 2, duration: 60 });
    const [ me, ...others ] = await Promise.all([ signup(), signup(), signup(), signup() ]);
    for (const other of others.slice(0, 2)) assert.strictEqual((await api('POST', '/api/friends/requests', { token: me.token, body: { to: other.id } })).status, 201);
    expectError(await api('POST', '/api/friends/requests', { token: me.token, body: { to: others[2].id } }), 429, 20009);
  });

  it('request → accept: f_notice request then agree, both lists show the friendship', async () => {
    const [ alice, bob ] = await Promise.all([ signup({ nickname: 'Alice' }), signup() ]);
    const [ sa, sb ] = await Promise.all([ connectOk({ token: alice.token }), connectOk({ token: bob.token, version: 'v2' }) ]);
    const [ na, nb ] = [ record(sa, 'f_notice'), record(sb, 'f_notice') ];

    const sent = await api('POST', '/api/friends/requests', { token: alice.token, body: { to: bob.id, message: 'hi bob' } });
    assert.strictEqual(sent.status, 201, JSON.stringify(sent.body));
    const request = await nb.next(p => p.type === 'request');
    assert.strictEqual(request.data.action, 'CHAT_FRIEND_NOTICE');
    assert.deepStrictEqual(request.data.payload, {
      type: 'request', message: 'hi bob', from: { _id: alice.id, username: alice.username, nickname: 'Alice', avatar: '' },
    });

    // a pending duplicate is 409 / 10004
    expectError(await api('POST', '/api/friends/requests', { token: alice.token, body: { to: bob.id } }), 409, 10004);

    const pending = await api('GET', '/api/friends/requests', { token: bob.token });
    assert.deepStrictEqual(pending.body.data.incoming.map((r: any) => [ r.from._id, r.message ]), [ [ alice.id, 'hi bob' ] ]);
    assert.deepStrictEqual(pending.body.data.outgoing, []);
    const mine = await api('GET', '/api/friends/requests', { token: alice.token });
    assert.deepStrictEqual(mine.body.data.outgoing.map((r: any) => r.to._id), [ bob.id ]);

    const accepted = await api('POST', `/api/friends/requests/${alice.id}/accept`, { token: bob.token, body: { message: 'sure' } });
    assert.strictEqual(accepted.status, 200, JSON.stringify(accepted.body));
    assert.strictEqual(accepted.body.data.user._id, alice.id);
    assert.strictEqual(accepted.body.data.presence, 'online');
    const agree = await na.next(p => p.type === 'agree');
    assert.strictEqual(agree.data.payload.from._id, bob.id);
    assert.strictEqual(agree.data.payload.message, 'sure');

    const list = await api('GET', '/api/friends', { token: alice.token });
    assert.strictEqual(list.status, 200);
    assert.deepStrictEqual(list.body.data.map((f: any) => [ f.user._id, f.group, f.alias, f.presence ]), [ [ bob.id, 'Friends', '', 'online' ] ]);
    assert.ok(!JSON.stringify(list.body).includes('passwordHash'));
    assert.deepStrictEqual((await api('GET', '/api/friends/requests', { token: bob.token })).body.data.incoming, []);
    expectError(await api('POST', '/api/friends/requests', { token: alice.token, body: { to: bob.id } }), 409, 10004);
  });

  it('request → refuse: f_notice refuse; the request is gone and may be sent again', async () => {
    const [ alice, bob ] = await Promise.all([ signup(), signup() ]);
    const sa = await connectOk({ token: alice.token });
    const na = record(sa, 'f_notice');
    await api('POST', '/api/friends/requests', { token: alice.token, body: { to: bob.id } });
    const refused = await api('POST', `/api/friends/requests/${alice.id}/refuse`, { token: bob.token, body: { message: 'no thanks' } });
    assert.strictEqual(refused.status, 200);
    const notice = await na.next(p => p.type === 'refuse');
    assert.strictEqual(notice.data.payload.from._id, bob.id);
    assert.strictEqual(notice.data.payload.message, 'no thanks');
    assert.deepStrictEqual((await api('GET', '/api/friends', { token: alice.token })).body.data, []);
    expectError(await api('POST', `/api/friends/requests/${alice.id}/refuse`, { token: bob.token }), 404, 10005);
    assert.strictEqual((await api('POST', '/api/friends/requests', { token: alice.token, body: { to: bob.id } })).status, 201);
  });

  it('PATCH sets my group and alias; DELETE removes both ways with f_notice removed', async () => {
    const [ alice, bob ] = await Promise.all([ signup(), signup() ]);
    await befriend(alice, bob);
    const patched = await api('PATCH', `/api/friends/${bob.id}`, { token: alice.token, body: { group: 'Work', alias: 'Bobby' } });
    assert.strictEqual(patched.status, 200);
    assert.deepStrictEqual([ patched.body.data.group, patched.body.data.alias ], [ 'Work', 'Bobby' ]);
    // bob's side is his own
    assert.deepStrictEqual((await api('GET', '/api/friends', { token: bob.token })).body.data.map((f: any) => f.alias), [ '' ]);
    expectError(await api('PATCH', `/api/friends/${bob.id}`, { token: alice.token, body: { role: 'x' } }), 400, 20002);

    const sb = await connectOk({ token: bob.token });
    const nb = record(sb, 'f_notice');
    assert.strictEqual((await api('DELETE', `/api/friends/${bob.id}`, { token: alice.token })).status, 200);
    const removed = await nb.next(p => p.type === 'removed');
    assert.strictEqual(removed.data.payload.from._id, alice.id);
    assert.deepStrictEqual((await api('GET', '/api/friends', { token: bob.token })).body.data, []);
    expectError(await api('DELETE', `/api/friends/${bob.id}`, { token: alice.token }), 404, 10005);
  });

  it('refuses bad friend input: bad id 400 / 20002, unknown user 404 / 20005, self 400, no request 404', async () => {
    const u = await signup();
    expectError(await api('POST', '/api/friends/requests', { token: u.token, body: { to: 'nope' } }), 400, 20002);
    expectError(await api('POST', '/api/friends/requests', { token: u.token, body: { to: { $ne: null } } }), 400, 20002);
    expectError(await api('POST', '/api/friends/requests', { token: u.token, body: { to: '0123456789abcdef01234567' } }), 404, 20005);
    expectError(await api('POST', '/api/friends/requests', { token: u.token, body: { to: u.id } }), 400, 20002);
    expectError(await api('POST', '/api/friends/requests/nope/accept', { token: u.token }), 400, 20002);
    expectError(await api('POST', '/api/friends/requests/0123456789abcdef01234567/accept', { token: u.token }), 404, 10005);
    expectError(await api('GET', '/api/friends'), 401, 20001);
  });

  it('blocks: listed, stop requests both ways, and the blocked user gets no presence of the blocker', async () => {
    const [ alice, bob ] = await Promise.all([ signup(), signup() ]);
    await befriend(alice, bob);
    const sb = await connectOk({ token: bob.token });
    const seen = record(sb, 'c_online');

    assert.strictEqual((await api('POST', `/api/blocks/${bob.id}`, { token: alice.token })).status, 201);
    const blocks = await api('GET', '/api/blocks', { token: alice.token });
    assert.deepStrictEqual(blocks.body.data.map((b: any) => b.user._id), [ bob.id ]);
    assert.ok(!JSON.stringify(blocks.body).includes('passwordHash'));
    expectError(await api('POST', '/api/friends/requests', { token: bob.token, body: { to: alice.id } }), 403, 10006);

    // alice comes online and changes presence: bob, blocked, hears nothing
    const quietPresence = notWithin(sb, 'presence', 400);
    const sa = await connectOk({ token: alice.token });
    await api('PUT', '/api/users/me/presence', { token: alice.token, body: { presence: 'busy' } });
    assert.strictEqual(await quietPresence, true);
    assert.ok(!seen.payloads().some(p => p.current === alice.id), JSON.stringify(seen.payloads()));
    // and alice shows offline in bob's friend list
    assert.deepStrictEqual((await api('GET', '/api/friends', { token: bob.token })).body.data.map((f: any) => f.presence), [ 'offline' ]);

    // unblocked: bob is told alice is online
    assert.strictEqual((await api('DELETE', `/api/blocks/${bob.id}`, { token: alice.token })).status, 200);
    await seen.next(p => p.type === 'online' && p.current === alice.id);
    assert.deepStrictEqual((await api('GET', '/api/blocks', { token: alice.token })).body.data, []);
    expectError(await api('DELETE', `/api/blocks/${bob.id}`, { token: alice.token }), 404, 10005);
    expectError(await api('POST', '/api/blocks/nope', { token: alice.token }), 400, 20002);
    expectError(await api('POST', '/api/blocks/0123456789abcdef01234567', { token: alice.token }), 404, 20005);
    sa.close();
  });

  it('a block while both are online shows the blocker offline to the blocked user', async () => {
    const [ alice, bob ] = await Promise.all([ signup(), signup() ]);
    await befriend(alice, bob);
    await connectOk({ token: alice.token });
    const sb = await connectOk({ token: bob.token });
    const seen = record(sb, 'c_online');
    await api('POST', `/api/blocks/${bob.id}`, { token: alice.token });
    const off = await seen.next(p => p.type === 'offline' && p.current === alice.id);
    assert.deepStrictEqual(off.data.payload.clients, []);
  });
});
