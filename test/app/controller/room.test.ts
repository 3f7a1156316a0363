import assert from 'node:assert';
import mm from 'egg-mock';
import { api, app, connectChat, emitAck, notWithin, signup, uniqueName, type TestUser } from '../../helpers';
import { expectError, record } from '../../social-helpers';

const MISSING = '0123456789abcdef01234567';
const socketsIn = async (roomId: string) => (await app.io.of('/chat').in(`room:${roomId}`).fetchSockets()).map(s => (s.data as { userId: string }).userId).sort();

/** A room made by `owner` with `members`; returns the created room. */
async function createRoom(owner: TestUser, members: TestUser[] = [], extra: Record<string, unknown> = {}) {
  const res = await api('POST', '/api/rooms', { token: owner.token, body: { name: uniqueName('Room'), members: members.map(m => m.id), ...extra } });
  assert.strictEqual(res.status, 201, JSON.stringify(res.body));
  return res.body.data;
}

/** Each user online with one socket, and the g_notices each socket gets. */
async function listening(users: TestUser[]) {
  const sockets = await Promise.all(users.map(u => connectChat({ token: u.token })));
  return { sockets, notices: sockets.map(s => record(s, 'g_notice')) };
}

const members = (...users: TestUser[]) => users.map(u => u.id).sort();
const roomPath = (room: { _id: string }, tail = '') => `/api/rooms/${room._id}${tail}`;

describe('REST rooms (PROTOCOL §7 "Rooms", g_notice)', () => {
  describe('POST /api/rooms', () => {
    it('creates a public room owned by its creator, with the initial members', async () => {
      const [ owner, bob ] = await Promise.all([ signup(), signup() ]);
      const room = await createRoom(owner, [ bob ], { intro: 'hi' });
      assert.strictEqual(room.owner, owner.id);
      assert.strictEqual(room.memberCount, 2);
      assert.strictEqual(room.visibility, 'public');
    });

    it('the creator and the initial members hear g_notice created with the room\'s name', async () => {
      const [ owner, bob ] = await Promise.all([ signup(), signup() ]);
      const { notices } = await listening([ owner, bob ]);
      const name = uniqueName('Room');
      const room = (await api('POST', '/api/rooms', { token: owner.token, body: { name, members: [ bob.id ] } })).body.data;
      for (const n of notices) {
        const e = await n.next(p => p.event === 'created');
        assert.strictEqual(e.data.action, 'CHAT_GROUP_NOTICE');
        assert.deepStrictEqual({ room: e.data.payload.room, user: e.data.payload.user, name: e.data.payload.changes.name }, { room: room._id, user: owner.id, name });
      }
    });

    it('names are unique case-insensitively: 409 / 10004', async () => {
      const u = await signup();
      const name = uniqueName('Taken');
      await createRoom(u, [], { name });
      expectError(await api('POST', '/api/rooms', { token: u.token, body: { name: name.toUpperCase() } }), 409, 10004);
    });
  });

  describe('GET /api/rooms and /api/rooms/:id', () => {
    let owner: TestUser;
    let bob: TestUser;
    let room: any;
    // the owner online, bob offline; the its only read
    before(async () => {
      [ owner, bob ] = await Promise.all([ signup(), signup() ]);
      room = await createRoom(owner, [ bob ]);
    });
    beforeEach(() => connectChat({ token: owner.token }));

    it('details split the members into online (with presence) and offline, without secrets', async () => {
      const details = await api('GET', roomPath(room), { token: bob.token });
      assert.strictEqual(details.status, 200);
      assert.deepStrictEqual(details.body.data.members.online.map((u: any) => u._id), [ owner.id ]);
      assert.strictEqual(details.body.data.members.online[0].presence, 'online');
      assert.deepStrictEqual(details.body.data.members.offline.map((u: any) => u._id), [ bob.id ]);
      assert.ok(!JSON.stringify(details.body).includes('passwordHash'));
    });

    it('mine=1 lists my rooms with their online users', async () => {
      const mine = await api('GET', '/api/rooms?mine=1', { token: bob.token });
      assert.strictEqual(mine.status, 200);
      assert.deepStrictEqual(mine.body.data.docs.map((r: any) => r._id), [ room._id ]);
      assert.strictEqual(mine.body.data.docs[0].onlineUsers, 1);
    });

    it('the public list pages public rooms with their online users', async () => {
      const pub = await api('GET', '/api/rooms?page=1&limit=2', { token: bob.token });
      assert.strictEqual(pub.status, 200);
      assert.strictEqual(pub.body.data.currentPage, 1);
      assert.ok(pub.body.data.docs.length <= 2);
      assert.ok(pub.body.data.docs.every((r: any) => r.visibility === 'public' && typeof r.onlineUsers === 'number'));
    });
  });

  describe('a private room', () => {
    let member: TestUser;
    let room: any;
    before(async () => {
      let owner: TestUser;
      [ owner, member ] = await Promise.all([ signup(), signup() ]);
      room = await createRoom(owner, [ member ], { name: uniqueName('Priv'), visibility: 'private' });
    });

    it('refuses a stranger\'s join with 403 / 10006', async () => {
      expectError(await api('POST', roomPath(room, '/join'), { token: (await signup()).token }), 403, 10006);
    });

    it('refuses a stranger its details with 403 / 10006', async () => {
      expectError(await api('GET', roomPath(room), { token: (await signup()).token }), 403, 10006);
    });

    it('is not in the public list', async () => {
      const list = await api('GET', '/api/rooms?limit=50', { token: (await signup()).token });
      assert.ok(!list.body.data.docs.some((r: any) => r._id === room._id));
    });

    it('a member may add people, who may then see it', async () => {
      const stranger = await signup();
      const added = await api('POST', roomPath(room, '/members'), { token: member.token, body: { add: [ stranger.id ] } });
      assert.strictEqual(added.status, 200, JSON.stringify(added.body));
      assert.strictEqual((await api('GET', roomPath(room), { token: stranger.token })).status, 200);
    });
  });

  describe('POST /api/rooms/:id/join', () => {
    it('the joiner\'s sockets are in the room at once', async () => {
      const [ owner, bob, carol ] = await Promise.all([ signup(), signup(), signup() ]);
      const room = await createRoom(owner, [ bob ]);
      await listening([ owner, bob, carol ]);
      assert.strictEqual((await api('POST', roomPath(room, '/join'), { token: carol.token })).status, 200);
      assert.deepStrictEqual(await socketsIn(room._id), members(owner, bob, carol));
    });

    it('every member, the joiner too, hears g_notice join without newbie', async () => {
      const [ owner, bob, carol ] = await Promise.all([ signup(), signup(), signup() ]);
      const room = await createRoom(owner, [ bob ]);
      const { notices } = await listening([ owner, bob, carol ]);
      await api('POST', roomPath(room, '/join'), { token: carol.token });
      for (const n of notices) {
        const e = await n.next(p => p.event === 'join' && p.user === carol.id);
        assert.strictEqual(e.data.payload.newbie, undefined);
      }
    });

    it('the last place in a full room goes to one of two concurrent joins; the other is 403 / 10006', async () => {
      mm(app.config.room, 'maxMembers', 3);
      const [ owner, bob, carol, dave ] = await Promise.all([ signup(), signup(), signup(), signup() ]);
      const room = await createRoom(owner, [ bob ]);
      const results = await Promise.all([ carol, dave ].map(u => api('POST', roomPath(room, '/join'), { token: u.token })));
      assert.deepStrictEqual(results.map(r => r.status).sort(), [ 200, 403 ]);
      assert.strictEqual(results.find(r => r.status === 403)!.body.code, 10006);
      assert.strictEqual((await api('GET', roomPath(room), { token: owner.token })).body.data.memberCount, 3);
    });
  });

  describe('PATCH /api/rooms/:id', () => {
    it('the owner\'s update is answered with the updated room', async () => {
      const owner = await signup();
      const room = await createRoom(owner);
      const updated = await api('PATCH', roomPath(room), { token: owner.token, body: { intro: 'new intro', notice: 'be nice' } });
      assert.strictEqual(updated.status, 200);
      assert.strictEqual(updated.body.data.notice, 'be nice');
    });

    it('members hear g_notice update with the changes and who made them', async () => {
      const [ owner, bob ] = await Promise.all([ signup(), signup() ]);
      const room = await createRoom(owner, [ bob ]);
      const { notices } = await listening([ owner, bob ]);
      await api('PATCH', roomPath(room), { token: owner.token, body: { intro: 'new intro', notice: 'be nice' } });
      for (const n of notices) {
        const e = await n.next(p => p.event === 'update');
        assert.deepStrictEqual(e.data.payload.changes, { intro: 'new intro', notice: 'be nice' });
        assert.strictEqual(e.data.payload.user, owner.id);
      }
    });

    it('a rename to a taken name, in any case, is 409 / 10004', async () => {
      const u = await signup();
      const name = uniqueName('Taken');
      await createRoom(u, [], { name });
      const other = await createRoom(u);
      expectError(await api('PATCH', roomPath(other), { token: u.token, body: { name: name.toLowerCase() } }), 409, 10004);
    });

    it('handing the room over: every member hears g_notice owner', async () => {
      const [ owner, bob, carol ] = await Promise.all([ signup(), signup(), signup() ]);
      const room = await createRoom(owner, [ bob, carol ]);
      const { notices } = await listening([ owner, bob, carol ]);
      assert.strictEqual((await api('PATCH', roomPath(room), { token: owner.token, body: { owner: carol.id } })).status, 200);
      for (const n of notices) await n.next(p => p.event === 'owner' && p.user === carol.id);
    });

    it('the former owner may no longer update the room: 403 / 10006', async () => {
      const [ owner, carol ] = await Promise.all([ signup(), signup() ]);
      const room = await createRoom(owner, [ carol ]);
      await api('PATCH', roomPath(room), { token: owner.token, body: { owner: carol.id } });
      expectError(await api('PATCH', roomPath(room), { token: owner.token, body: { intro: 'x' } }), 403, 10006);
    });
  });

  describe('POST /api/rooms/:id/members', () => {
    it('the owner removes a member: the reply lists who was removed', async () => {
      const [ owner, bob ] = await Promise.all([ signup(), signup() ]);
      const room = await createRoom(owner, [ bob ]);
      const kicked = await api('POST', roomPath(room, '/members'), { token: owner.token, body: { remove: [ bob.id ] } });
      assert.strictEqual(kicked.status, 200);
      assert.deepStrictEqual(kicked.body.data.removed, [ bob.id ]);
    });

    it('the removed member and the rest hear g_notice kick', async () => {
      const [ owner, bob, carol ] = await Promise.all([ signup(), signup(), signup() ]);
      const room = await createRoom(owner, [ bob, carol ]);
      const { notices } = await listening([ owner, bob, carol ]);
      await api('POST', roomPath(room, '/members'), { token: owner.token, body: { remove: [ bob.id ] } });
      for (const n of notices) await n.next(p => p.event === 'kick' && p.user === bob.id);
    });

    it('the removed member\'s sockets leave the room', async () => {
      const [ owner, bob ] = await Promise.all([ signup(), signup() ]);
      const room = await createRoom(owner, [ bob ]);
      await listening([ owner, bob ]);
      await api('POST', roomPath(room, '/members'), { token: owner.token, body: { remove: [ bob.id ] } });
      assert.deepStrictEqual(await socketsIn(room._id), [ owner.id ]);
    });

    it('a removed member cannot send to the room at once (20003)', async () => {
      const [ owner, bob ] = await Promise.all([ signup(), signup() ]);
      const room = await createRoom(owner, [ bob ]);
      const { sockets: [ sb ] } = await listening([ bob ]);
      assert.strictEqual((await api('POST', roomPath(room, '/members'), { token: owner.token, body: { remove: [ bob.id ] } })).status, 200);
      const res = await emitAck(sb, 'to', { type: 1, typeu: 2, to: room._id, content: 'still here?', fp: uniqueName('fp') });
      assert.strictEqual(res.code, 20003);
    });

    it('adding a member: the reply lists who was added and the new member count', async () => {
      const [ owner, bob ] = await Promise.all([ signup(), signup() ]);
      const room = await createRoom(owner);
      const added = await api('POST', roomPath(room, '/members'), { token: owner.token, body: { add: [ bob.id ] } });
      assert.deepStrictEqual(added.body.data.added, [ bob.id ], JSON.stringify(added.body));
      assert.strictEqual(added.body.data.memberCount, 2);
    });

    it('the added member and the others hear g_notice join with newbie', async () => {
      const [ owner, bob, carol ] = await Promise.all([ signup(), signup(), signup() ]);
      const room = await createRoom(owner, [ carol ]);
      const { notices } = await listening([ bob, carol ]);
      await api('POST', roomPath(room, '/members'), { token: owner.token, body: { add: [ bob.id ] } });
      for (const n of notices) await n.next(p => p.event === 'join' && p.user === bob.id && p.newbie === true);
    });

    it('only the owner removes: a member trying is 403 / 10006', async () => {
      const [ owner, member, other ] = await Promise.all([ signup(), signup(), signup() ]);
      const room = await createRoom(owner, [ member, other ]);
      expectError(await api('POST', roomPath(room, '/members'), { token: member.token, body: { remove: [ other.id ] } }), 403, 10006);
    });
  });

  describe('POST /api/rooms/:id/leave', () => {
    it('every member, the leaver too, hears g_notice leave', async () => {
      const [ owner, bob, carol ] = await Promise.all([ signup(), signup(), signup() ]);
      const room = await createRoom(owner, [ bob, carol ]);
      const { notices } = await listening([ owner, bob, carol ]);
      assert.strictEqual((await api('POST', roomPath(room, '/leave'), { token: bob.token })).status, 200);
      for (const n of notices) await n.next(p => p.event === 'leave' && p.user === bob.id);
    });

    it('the leaver\'s sockets leave the room and hear no more of it', async () => {
      const [ owner, bob ] = await Promise.all([ signup(), signup() ]);
      const room = await createRoom(owner, [ bob ]);
      const { sockets: [ , sb ] } = await listening([ owner, bob ]);
      await api('POST', roomPath(room, '/leave'), { token: bob.token });
      assert.deepStrictEqual(await socketsIn(room._id), [ owner.id ]);
      const bobQuiet = notWithin(sb, 'g_notice', 300);
      await api('PATCH', roomPath(room), { token: owner.token, body: { intro: 'after bob' } });
      assert.strictEqual(await bobQuiet, true, 'bob left, so he hears no more notices');
    });

    it('when the owner leaves, the longest-standing member owns the room, and members hear g_notice owner', async () => {
      const [ owner, bob, carol ] = await Promise.all([ signup(), signup(), signup() ]);
      const room = await createRoom(owner, [ bob, carol ]);
      const { notices: [ heard ] } = await listening([ carol ]);
      assert.strictEqual((await api('POST', roomPath(room, '/leave'), { token: owner.token })).status, 200);
      await heard.next(p => p.event === 'owner' && p.user === bob.id);
      assert.strictEqual((await api('GET', roomPath(room), { token: carol.token })).body.data.owner, bob.id);
    });

    it('the last member out dissolves the room', async () => {
      const [ owner, bob ] = await Promise.all([ signup(), signup() ]);
      const room = await createRoom(owner, [ bob ]);
      await api('POST', roomPath(room, '/leave'), { token: owner.token });
      await api('POST', roomPath(room, '/leave'), { token: bob.token });
      expectError(await api('GET', roomPath(room), { token: bob.token }), 404, 10005);
    });
  });

  describe('DELETE /api/rooms/:id', () => {
    it('members hear g_notice dissolve', async () => {
      const [ owner, bob ] = await Promise.all([ signup(), signup() ]);
      const room = await createRoom(owner, [ bob ]);
      const { notices } = await listening([ owner, bob ]);
      assert.strictEqual((await api('DELETE', roomPath(room), { token: owner.token })).status, 200);
      for (const n of notices) await n.next(p => p.event === 'dissolve' && p.user === owner.id);
    });

    it('the room is gone: no socket is in it, its details are 404 / 10005 and its conversation is removed', async () => {
      const [ owner, bob ] = await Promise.all([ signup(), signup() ]);
      const room = await createRoom(owner, [ bob ]);
      await listening([ owner, bob ]);
      await api('DELETE', roomPath(room), { token: owner.token });
      assert.deepStrictEqual(await socketsIn(room._id), []);
      expectError(await api('GET', roomPath(room), { token: owner.token }), 404, 10005);
      assert.strictEqual(await app.model.Conversation.countDocuments({ _id: room._id }), 0);
    });

    it('its messages and their message pages are removed', async () => {
      const owner = await signup();
      const room = await createRoom(owner, []);
      await app.messages.send(owner.id, { type: 1, typeu: 2, to: room._id, content: 'before the end', fp: `end-${Date.now()}` });
      await app.messages.flush();
      assert.strictEqual(await app.model.MessagePage.countDocuments({ _id: `${room._id}:0` }), 1);
      await api('DELETE', roomPath(room), { token: owner.token });
      assert.strictEqual(await app.model.Message.countDocuments({ conversationId: room._id }), 0);
      assert.strictEqual(await app.model.MessagePage.countDocuments({ _id: `${room._id}:0` }), 0);
    });
  });

  it('a user\'s sockets join all their rooms on connect', async () => {
    const [ owner, bob ] = await Promise.all([ signup(), signup() ]);
    const room = await createRoom(owner, [ bob ]);
    await connectChat({ token: bob.token, version: 'v2' });
    assert.deepStrictEqual(await socketsIn(room._id), [ bob.id ]);
  });

  describe('bad input', () => {
    let owner: TestUser;
    let other: TestUser;
    let room: any;
    before(async () => {
      [ owner, other ] = await Promise.all([ signup(), signup() ]);
      room = await createRoom(owner, [], { name: uniqueName('Bad') });
    });
    const cases: Array<[string, () => [string, string, unknown, TestUser | null], number, number]> = [
      [ 'a malformed room id', () => [ 'GET', '/api/rooms/nope', undefined, owner ], 400, 20002 ],
      [ 'an operator for the room id', () => [ 'POST', '/api/rooms/{"$ne":1}/join', undefined, owner ], 400, 20002 ],
      [ 'details of an unknown room', () => [ 'GET', `/api/rooms/${MISSING}`, undefined, owner ], 404, 10005 ],
      [ 'joining an unknown room', () => [ 'POST', `/api/rooms/${MISSING}/join`, undefined, owner ], 404, 10005 ],
      [ 'an initial member who does not exist', () => [ 'POST', '/api/rooms', { name: uniqueName('M'), members: [ MISSING ] }, owner ], 404, 20005 ],
      [ 'a malformed initial member', () => [ 'POST', '/api/rooms', { name: uniqueName('M'), members: [ 'x' ] }, owner ], 400, 20002 ],
      [ 'an owner in the create body', () => [ 'POST', '/api/rooms', { name: uniqueName('M'), owner: other.id }, owner ], 400, 20002 ],
      [ 'an empty name', () => [ 'POST', '/api/rooms', { name: '' }, owner ], 400, 20002 ],
      [ 'a visibility change (not updatable)', () => [ 'PATCH', roomPath(room), { visibility: 'private' }, owner ], 400, 20002 ],
      [ 'handing over to a non-member', () => [ 'PATCH', roomPath(room), { owner: other.id }, owner ], 400, 20002 ],
      [ 'a non-owner dissolving', () => [ 'DELETE', roomPath(room), undefined, other ], 403, 10006 ],
      [ 'a non-member adding members', () => [ 'POST', roomPath(room, '/members'), { add: [ other.id ] }, other ], 403, 10006 ],
      [ 'a non-member leaving', () => [ 'POST', roomPath(room, '/leave'), undefined, other ], 403, 10006 ],
      [ 'no token', () => [ 'GET', '/api/rooms', undefined, null ], 401, 20001 ],
    ];
    for (const [ what, request, status, code ] of cases) {
      it(`${what} is ${status} / ${code}`, async () => {
        const [ method, path, body, user ] = request();
        expectError(await api(method, path, { body, token: user?.token }), status, code);
      });
    }
  });
});
