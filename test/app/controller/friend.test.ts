import assert from 'node:assert';
import mm from 'egg-mock';
import { api, app, connectChat, notWithin, signup, type TestUser } from '../../helpers';
import { befriend, expectError, record } from '../../social-helpers';

const MISSING = '0123456789abcdef01234567';
const request = (from: TestUser, to: TestUser, message?: string) => api('POST', '/api/friends/requests', { token: from.token, body: { to: to.id, message } });
const friendsOf = async (u: TestUser) => (await api('GET', '/api/friends', { token: u.token })).body.data;
const blocksOf = async (u: TestUser) => (await api('GET', '/api/blocks', { token: u.token })).body.data;
const block = (blocker: TestUser, blocked: TestUser) => api('POST', `/api/blocks/${blocked.id}`, { token: blocker.token });

describe('REST friends and blocks (PROTOCOL §7, f_notice)', () => {
  it('friend requests are rate-limited per user: 429 / 20009', async () => {
    mm(app.config.rateLimit, 'friendRequest', { points: 2, duration: 60 });
    const [ me, ...others ] = await Promise.all([ signup(), signup(), signup(), signup() ]);
    for (const other of others.slice(0, 2)) assert.strictEqual((await request(me, other)).status, 201);
    expectError(await request(me, others[2]), 429, 20009);
  });

  describe('POST /api/friends/requests', () => {
    it('the recipient hears f_notice request with the sender\'s public profile and message', async () => {
      const [ alice, bob ] = await Promise.all([ signup({ nickname: 'Alice' }), signup() ]);
      const nb = record(await connectChat({ token: bob.token, version: 'v2' }), 'f_notice');
      const sent = await request(alice, bob, 'hi bob');
      assert.strictEqual(sent.status, 201, JSON.stringify(sent.body));
      const notice = await nb.next(p => p.type === 'request');
      assert.strictEqual(notice.data.action, 'CHAT_FRIEND_NOTICE');
      assert.deepStrictEqual(notice.data.payload, {
        type: 'request', message: 'hi bob', from: { _id: alice.id, username: alice.username, nickname: 'Alice', avatar: '' },
      });
    });

    it('a second request while one is pending is 409 / 10004', async () => {
      const [ alice, bob ] = await Promise.all([ signup(), signup() ]);
      await request(alice, bob);
      expectError(await request(alice, bob), 409, 10004);
    });

    it('a request to a friend is 409 / 10004', async () => {
      const [ alice, bob ] = await Promise.all([ signup(), signup() ]);
      await befriend(alice, bob);
      expectError(await request(alice, bob), 409, 10004);
    });

    it('a user blocked by the recipient cannot send one: 403 / 10006', async () => {
      const [ alice, bob ] = await Promise.all([ signup(), signup() ]);
      await block(alice, bob);
      expectError(await request(bob, alice), 403, 10006);
    });
  });

  describe('GET /api/friends/requests', () => {
    it('lists a pending request as incoming for the recipient and outgoing for the sender', async () => {
      const [ alice, bob ] = await Promise.all([ signup(), signup() ]);
      await request(alice, bob, 'hi bob');
      const bobs = (await api('GET', '/api/friends/requests', { token: bob.token })).body.data;
      assert.deepStrictEqual(bobs.incoming.map((r: any) => [ r.from._id, r.message ]), [ [ alice.id, 'hi bob' ] ]);
      assert.deepStrictEqual(bobs.outgoing, []);
      const alices = (await api('GET', '/api/friends/requests', { token: alice.token })).body.data;
      assert.deepStrictEqual(alices.outgoing.map((r: any) => r.to._id), [ bob.id ]);
    });

    it('an accepted request is no longer listed', async () => {
      const [ alice, bob ] = await Promise.all([ signup(), signup() ]);
      await befriend(alice, bob);
      assert.deepStrictEqual((await api('GET', '/api/friends/requests', { token: bob.token })).body.data.incoming, []);
    });
  });

  describe('POST /api/friends/requests/:userId/accept', () => {
    it('answers with the new friend and their presence', async () => {
      const [ alice, bob ] = await Promise.all([ signup(), signup() ]);
      await connectChat({ token: alice.token });
      await request(alice, bob);
      const accepted = await api('POST', `/api/friends/requests/${alice.id}/accept`, { token: bob.token, body: { message: 'sure' } });
      assert.strictEqual(accepted.status, 200, JSON.stringify(accepted.body));
      assert.strictEqual(accepted.body.data.user._id, alice.id);
      assert.strictEqual(accepted.body.data.presence, 'online');
    });

    it('the requester hears f_notice agree from the accepter, with the message', async () => {
      const [ alice, bob ] = await Promise.all([ signup(), signup() ]);
      const na = record(await connectChat({ token: alice.token }), 'f_notice');
      await request(alice, bob);
      await api('POST', `/api/friends/requests/${alice.id}/accept`, { token: bob.token, body: { message: 'sure' } });
      const agree = await na.next(p => p.type === 'agree');
      assert.strictEqual(agree.data.payload.from._id, bob.id);
      assert.strictEqual(agree.data.payload.message, 'sure');
    });
  });

  it('GET /api/friends lists a friend with the default group, no alias and their presence, without secrets', async () => {
    const [ alice, bob ] = await Promise.all([ signup(), signup() ]);
    await connectChat({ token: bob.token });
    await befriend(alice, bob);
    const list = await api('GET', '/api/friends', { token: alice.token });
    assert.strictEqual(list.status, 200);
    assert.deepStrictEqual(list.body.data.map((f: any) => [ f.user._id, f.group, f.alias, f.presence ]), [ [ bob.id, 'Friends', '', 'online' ] ]);
    assert.ok(!JSON.stringify(list.body).includes('passwordHash'));
  });

  describe('POST /api/friends/requests/:userId/refuse', () => {
    it('the requester hears f_notice refuse from the refuser, with the message, and has no new friend', async () => {
      const [ alice, bob ] = await Promise.all([ signup(), signup() ]);
      const na = record(await connectChat({ token: alice.token }), 'f_notice');
      await request(alice, bob);
      const refused = await api('POST', `/api/friends/requests/${alice.id}/refuse`, { token: bob.token, body: { message: 'no thanks' } });
      assert.strictEqual(refused.status, 200);
      const notice = await na.next(p => p.type === 'refuse');
      assert.strictEqual(notice.data.payload.from._id, bob.id);
      assert.strictEqual(notice.data.payload.message, 'no thanks');
      assert.deepStrictEqual(await friendsOf(alice), []);
    });

    it('the refused request is gone: refusing it again is 404 / 10005', async () => {
      const [ alice, bob ] = await Promise.all([ signup(), signup() ]);
      await request(alice, bob);
      await api('POST', `/api/friends/requests/${alice.id}/refuse`, { token: bob.token });
      expectError(await api('POST', `/api/friends/requests/${alice.id}/refuse`, { token: bob.token }), 404, 10005);
    });

    it('after a refusal the request may be sent again', async () => {
      const [ alice, bob ] = await Promise.all([ signup(), signup() ]);
      await request(alice, bob);
      await api('POST', `/api/friends/requests/${alice.id}/refuse`, { token: bob.token });
      assert.strictEqual((await request(alice, bob)).status, 201);
    });
  });

  describe('PATCH /api/friends/:id', () => {
    it('sets my group and alias for the friend', async () => {
      const [ alice, bob ] = await Promise.all([ signup(), signup() ]);
      await befriend(alice, bob);
      const patched = await api('PATCH', `/api/friends/${bob.id}`, { token: alice.token, body: { group: 'Work', alias: 'Bobby' } });
      assert.strictEqual(patched.status, 200);
      assert.deepStrictEqual([ patched.body.data.group, patched.body.data.alias ], [ 'Work', 'Bobby' ]);
    });

    it('leaves the friend\'s side of the friendship as it was', async () => {
      const [ alice, bob ] = await Promise.all([ signup(), signup() ]);
      await befriend(alice, bob);
      await api('PATCH', `/api/friends/${bob.id}`, { token: alice.token, body: { group: 'Work', alias: 'Bobby' } });
      assert.deepStrictEqual((await friendsOf(bob)).map((f: any) => f.alias), [ '' ]);
    });

    it('an unknown field is 400 / 20002', async () => {
      const [ alice, bob ] = await Promise.all([ signup(), signup() ]);
      await befriend(alice, bob);
      expectError(await api('PATCH', `/api/friends/${bob.id}`, { token: alice.token, body: { role: 'x' } }), 400, 20002);
    });
  });

  describe('DELETE /api/friends/:id', () => {
    it('removes the friendship both ways; the other hears f_notice removed', async () => {
      const [ alice, bob ] = await Promise.all([ signup(), signup() ]);
      await befriend(alice, bob);
      const nb = record(await connectChat({ token: bob.token }), 'f_notice');
      assert.strictEqual((await api('DELETE', `/api/friends/${bob.id}`, { token: alice.token })).status, 200);
      const removed = await nb.next(p => p.type === 'removed');
      assert.strictEqual(removed.data.payload.from._id, alice.id);
      assert.deepStrictEqual(await friendsOf(bob), []);
      assert.deepStrictEqual(await friendsOf(alice), []);
    });

    it('someone who is not a friend is 404 / 10005', async () => {
      const [ alice, bob ] = await Promise.all([ signup(), signup() ]);
      expectError(await api('DELETE', `/api/friends/${bob.id}`, { token: alice.token }), 404, 10005);
    });
  });

  describe('bad friend input', () => {
    let u: TestUser;
    before(async () => { u = await signup(); });
    const cases: Array<[string, () => [string, string, unknown, string | undefined], number, number]> = [
      [ 'a malformed recipient', () => [ 'POST', '/api/friends/requests', { to: 'nope' }, u.token ], 400, 20002 ],
      [ 'an operator for the recipient', () => [ 'POST', '/api/friends/requests', { to: { $ne: null } }, u.token ], 400, 20002 ],
      [ 'a recipient who does not exist', () => [ 'POST', '/api/friends/requests', { to: MISSING }, u.token ], 404, 20005 ],
      [ 'a request to oneself', () => [ 'POST', '/api/friends/requests', { to: u.id }, u.token ], 400, 20002 ],
      [ 'accepting with a malformed id', () => [ 'POST', '/api/friends/requests/nope/accept', undefined, u.token ], 400, 20002 ],
      [ 'accepting a request nobody sent', () => [ 'POST', `/api/friends/requests/${MISSING}/accept`, undefined, u.token ], 404, 10005 ],
      [ 'no token', () => [ 'GET', '/api/friends', undefined, undefined ], 401, 20001 ],
    ];
    for (const [ what, call, status, code ] of cases) {
      it(`${what} is ${status} / ${code}`, async () => {
        const [ method, path, body, token ] = call();
        expectError(await api(method, path, { body, token }), status, code);
      });
    }
  });

  describe('blocks', () => {
    it('GET /api/blocks lists whom I blocked, without secrets', async () => {
      const [ alice, bob ] = await Promise.all([ signup(), signup() ]);
      assert.strictEqual((await block(alice, bob)).status, 201);
      const blocks = await api('GET', '/api/blocks', { token: alice.token });
      assert.deepStrictEqual(blocks.body.data.map((b: any) => b.user._id), [ bob.id ]);
      assert.ok(!JSON.stringify(blocks.body).includes('passwordHash'));
    });

    describe('the blocked user gets no presence of the blocker', () => {
      let alice: TestUser;
      let bob: TestUser;
      let seen: ReturnType<typeof record>;
      let sb: any;
      beforeEach(async () => {
        [ alice, bob ] = await Promise.all([ signup(), signup() ]);
        await befriend(alice, bob);
        sb = await connectChat({ token: bob.token });
        seen = record(sb, 'c_online');
        await block(alice, bob);
      });

      it('no c_online when the blocker comes online, no presence when they change it', async () => {
        const quietPresence = notWithin(sb, 'presence', 400);
        await connectChat({ token: alice.token });
        await api('PUT', '/api/users/me/presence', { token: alice.token, body: { presence: 'busy' } });
        assert.strictEqual(await quietPresence, true);
        assert.ok(!seen.payloads().some(p => p.current === alice.id), JSON.stringify(seen.payloads()));
      });

      it('the blocker shows offline in the blocked user\'s friend list', async () => {
        await connectChat({ token: alice.token });
        assert.deepStrictEqual((await friendsOf(bob)).map((f: any) => f.presence), [ 'offline' ]);
      });

      it('after an unblock the blocked user is told the blocker is online', async () => {
        await connectChat({ token: alice.token });
        assert.strictEqual((await api('DELETE', `/api/blocks/${bob.id}`, { token: alice.token })).status, 200);
        await seen.next(p => p.type === 'online' && p.current === alice.id);
      });
    });

    it('a block while both are online shows the blocker offline to the blocked user', async () => {
      const [ alice, bob ] = await Promise.all([ signup(), signup() ]);
      await befriend(alice, bob);
      await connectChat({ token: alice.token });
      const seen = record(await connectChat({ token: bob.token }), 'c_online');
      await block(alice, bob);
      const off = await seen.next(p => p.type === 'offline' && p.current === alice.id);
      assert.deepStrictEqual(off.data.payload.clients, []);
    });

    it('DELETE /api/blocks/:id unlists the block', async () => {
      const [ alice, bob ] = await Promise.all([ signup(), signup() ]);
      await block(alice, bob);
      await api('DELETE', `/api/blocks/${bob.id}`, { token: alice.token });
      assert.deepStrictEqual(await blocksOf(alice), []);
    });

    it('unblocking someone not blocked is 404 / 10005', async () => {
      const [ alice, bob ] = await Promise.all([ signup(), signup() ]);
      expectError(await api('DELETE', `/api/blocks/${bob.id}`, { token: alice.token }), 404, 10005);
    });

    it('blocking a malformed id is 400 / 20002', async () => {
      const alice = await signup();
      expectError(await api('POST', '/api/blocks/nope', { token: alice.token }), 400, 20002);
    });

    it('blocking a user who does not exist is 404 / 20005', async () => {
      const alice = await signup();
      expectError(await api('POST', `/api/blocks/${MISSING}`, { token: alice.token }), 404, 20005);
    });
  });
});
