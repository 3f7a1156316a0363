import assert from 'node:assert';
import { api, app, connectOk, notWithin, signup, uniqueName } from '../../helpers';
import { expectError, record } from '../../social-helpers';

const socketsIn = async (room: string) => (await app.io.of('/chat').in(room).fetchSockets()).map(s => (s.data as { userId: string }).userId);

describe('REST rooms (PROTOCOL §7 "Rooms", g_notice)', () => {
  it('a room from create to dissolve: every member gets each g_notice', async () => {
    const [ owner, bob, carol ] = await Promise.all([ signup(), signup(), signup() ]);
    const [ so, sb, sc ] = await Promise.all([ owner, bob, carol ].map(u => connectOk({ token: u.token })));
    const [ no, nb, nc ] = [ so, sb, sc ].map(s => record(s, 'g_notice'));

    // created, with bob as an initial member
    const name = uniqueName('Room');
    const created = await api('POST', '/api/rooms', { token: owner.token, body: { name, intro: 'hi', members: [ bob.id ] } });
    assert.strictEqual(created.status, 201, JSON.stringify(created.body));
    const room = created.body.data;
    assert.strictEqual(room.owner, owner.id);
    assert.strictEqual(room.memberCount, 2);
    assert.strictEqual(room.visibility, 'public');
    for (const n of [ no, nb ]) {
      const e = await n.next(p => p.event === 'created');
      assert.strictEqual(e.data.action, 'CHAT_GROUP_NOTICE');
      assert.deepStrictEqual({ room: e.data.payload.room, user: e.data.payload.user, name: e.data.payload.changes.name }, { room: room._id, user: owner.id, name });
    }

    // carol joins (REST): her socket is in the room at once, and everyone hears it
    const joined = await api('POST', `/api/rooms/${room._id}/join`, { token: carol.token });
    assert.strictEqual(joined.status, 200);
    assert.deepStrictEqual((await socketsIn(`room:${room._id}`)).sort(), [ owner.id, bob.id, carol.id ].sort());
    for (const n of [ no, nb, nc ]) {
      const e = await n.next(p => p.event === 'join' && p.user === carol.id);
      assert.strictEqual(e.data.payload.newbie, undefined);
    }

    // owner updates the room
    const updated = await api('PATCH', `/api/rooms/${room._id}`, { token: owner.token, body: { intro: 'new intro', notice: 'be nice' } });
    assert.strictEqual(updated.status, 200);
    assert.strictEqual(updated.body.data.notice, 'be nice');
    for (const n of [ no, nb, nc ]) {
      const e = await n.next(p => p.event === 'update');
      assert.deepStrictEqual(e.data.payload.changes, { intro: 'new intro', notice: 'be nice' });
      assert.strictEqual(e.data.payload.user, owner.id);
    }

    // owner kicks bob: bob hears the kick, then leaves the socket room
    const kicked = await api('POST', `/api/rooms/${room._id}/members`, { token: owner.token, body: { remove: [ bob.id ] } });
    assert.strictEqual(kicked.status, 200);
    assert.deepStrictEqual(kicked.body.data.removed, [ bob.id ]);
    for (const n of [ no, nb, nc ]) await n.next(p => p.event === 'kick' && p.user === bob.id);
    assert.ok(!(await socketsIn(`room:${room._id}`)).includes(bob.id));

    // owner adds bob back: join with newbie
    const readded = await api('POST', `/api/rooms/${room._id}/members`, { token: owner.token, body: { add: [ bob.id ] } });
    assert.deepStrictEqual(readded.body.data.added, [ bob.id ], JSON.stringify(readded.body));
    assert.strictEqual(readded.body.data.memberCount, 3);
    const newbie = await nb.next(p => p.event === 'join' && p.user === bob.id && p.newbie === true);
    assert.ok(newbie);
    await nc.next(p => p.event === 'join' && p.user === bob.id && p.newbie === true);

    // owner hands over to carol
    await api('PATCH', `/api/rooms/${room._id}`, { token: owner.token, body: { owner: carol.id } });
    for (const n of [ no, nb, nc ]) await n.next(p => p.event === 'owner' && p.user === carol.id);
    expectError(await api('PATCH', `/api/rooms/${room._id}`, { token: owner.token, body: { intro: 'x' } }), 403, 10006);

    // bob leaves
    const left = await api('POST', `/api/rooms/${room._id}/leave`, { token: bob.token });
    assert.strictEqual(left.status, 200);
    for (const n of [ no, nb, nc ]) await n.next(p => p.event === 'leave' && p.user === bob.id);
    assert.ok(!(await socketsIn(`room:${room._id}`)).includes(bob.id));
    const bobQuiet = notWithin(sb, 'g_notice', 300);

    // carol (now owner) dissolves
    const gone = await api('DELETE', `/api/rooms/${room._id}`, { token: carol.token });
    assert.strictEqual(gone.status, 200);
    for (const n of [ no, nc ]) await n.next(p => p.event === 'dissolve' && p.user === carol.id);
    assert.strictEqual(await bobQuiet, true, 'bob left, so he hears no more notices');
    assert.deepStrictEqual(await socketsIn(`room:${room._id}`), []);
    expectError(await api('GET', `/api/rooms/${room._id}`, { token: owner.token }), 404, 10005);
    assert.strictEqual(await app.model.Conversation.countDocuments({ _id: room._id }), 0);
  });

  it('details split members into online and offline; lists count online users', async () => {
    const [ owner, bob ] = await Promise.all([ signup(), signup() ]);
    await connectOk({ token: owner.token });
    const name = uniqueName('Split');
    const room = (await api('POST', '/api/rooms', { token: owner.token, body: { name, members: [ bob.id ] } })).body.data;
    const details = await api('GET', `/api/rooms/${room._id}`, { token: bob.token });
    assert.strictEqual(details.status, 200);
    assert.deepStrictEqual(details.body.data.members.online.map((u: any) => u._id), [ owner.id ]);
    assert.strictEqual(details.body.data.members.online[0].presence, 'online');
    assert.deepStrictEqual(details.body.data.members.offline.map((u: any) => u._id), [ bob.id ]);
    assert.ok(!JSON.stringify(details.body).includes('passwordHash'));

    const mine = await api('GET', '/api/rooms?mine=1', { token: bob.token });
    assert.strictEqual(mine.status, 200);
    assert.deepStrictEqual(mine.body.data.docs.map((r: any) => r._id), [ room._id ]);
    assert.strictEqual(mine.body.data.docs[0].onlineUsers, 1);

    const pub = await api('GET', '/api/rooms?page=1&limit=2', { token: bob.token });
    assert.strictEqual(pub.status, 200);
    assert.strictEqual(pub.body.data.currentPage, 1);
    assert.ok(pub.body.data.docs.length <= 2);
    assert.ok(pub.body.data.docs.every((r: any) => r.visibility === 'public' && typeof r.onlineUsers === 'number'));
  });

  it('a private room refuses a stranger (join and details 403 / 10006); a member may add people', async () => {
    const [ owner, member, stranger ] = await Promise.all([ signup(), signup(), signup() ]);
    const room = (await api('POST', '/api/rooms', { token: owner.token, body: { name: uniqueName('Priv'), visibility: 'private', members: [ member.id ] } })).body.data;
    expectError(await api('POST', `/api/rooms/${room._id}/join`, { token: stranger.token }), 403, 10006);
    expectError(await api('GET', `/api/rooms/${room._id}`, { token: stranger.token }), 403, 10006);
    const publicList = await api('GET', '/api/rooms?limit=50', { token: stranger.token });
    assert.ok(!publicList.body.data.docs.some((r: any) => r._id === room._id));

    const ss = await connectOk({ token: stranger.token });
    const heard = record(ss, 'g_notice');
    const added = await api('POST', `/api/rooms/${room._id}/members`, { token: member.token, body: { add: [ stranger.id ] } });
    assert.strictEqual(added.status, 200, JSON.stringify(added.body));
    await heard.next(p => p.event === 'join' && p.user === stranger.id && p.newbie === true);
    assert.strictEqual((await api('GET', `/api/rooms/${room._id}`, { token: stranger.token })).status, 200);
    // members may add, only the owner removes
    expectError(await api('POST', `/api/rooms/${room._id}/members`, { token: member.token, body: { remove: [ stranger.id ] } }), 403, 10006);
  });

  it('room names are unique case-insensitively: 409 / 10004, on create and rename', async () => {
    const u = await signup();
    const name = uniqueName('Taken');
    assert.strictEqual((await api('POST', '/api/rooms', { token: u.token, body: { name } })).status, 201);
    expectError(await api('POST', '/api/rooms', { token: u.token, body: { name: name.toUpperCase() } }), 409, 10004);
    const other = (await api('POST', '/api/rooms', { token: u.token, body: { name: uniqueName('Other') } })).body.data;
    expectError(await api('PATCH', `/api/rooms/${other._id}`, { token: u.token, body: { name: name.toLowerCase() } }), 409, 10004);
  });

  it('when the owner leaves, the longest-standing member owns the room; the last one out dissolves it', async () => {
    const [ owner, bob, carol ] = await Promise.all([ signup(), signup(), signup() ]);
    const room = (await api('POST', '/api/rooms', { token: owner.token, body: { name: uniqueName('Own'), members: [ bob.id, carol.id ] } })).body.data;
    const sc = await connectOk({ token: carol.token });
    const heard = record(sc, 'g_notice');
    assert.strictEqual((await api('POST', `/api/rooms/${room._id}/leave`, { token: owner.token })).status, 200);
    await heard.next(p => p.event === 'owner' && p.user === bob.id);
    assert.strictEqual((await api('GET', `/api/rooms/${room._id}`, { token: carol.token })).body.data.owner, bob.id);
    await api('POST', `/api/rooms/${room._id}/leave`, { token: bob.token });
    await api('POST', `/api/rooms/${room._id}/leave`, { token: carol.token });
    expectError(await api('GET', `/api/rooms/${room._id}`, { token: carol.token }), 404, 10005);
  });

  it('the last place in a full room goes to one of two concurrent joins; the other is 403 / 10006', async () => {
    const max = app.config.room.maxMembers;
    app.config.room.maxMembers = 3;
    try {
      const [ owner, bob, carol, dave ] = await Promise.all([ signup(), signup(), signup(), signup() ]);
      const created = await api('POST', '/api/rooms', { token: owner.token, body: { name: uniqueName('Full'), members: [ bob.id ] } });
      const id = created.body.data._id;
      const results = await Promise.all([ carol, dave ].map(u => api('POST', `/api/rooms/${id}/join`, { token: u.token })));
      assert.deepStrictEqual(results.map(r => r.status).sort(), [ 200, 403 ]);
      assert.strictEqual(results.find(r => r.status === 403)!.body.code, 10006);
      const room = await app.model.Room.findById(id).lean<{ members: unknown[] }>();
      assert.strictEqual(room!.members.length, 3);
    } finally {
      app.config.room.maxMembers = max;
    }
  });

  it('a member removed by the owner cannot send to the room at once (20003)', async () => {
    const [ owner, bob ] = await Promise.all([ signup(), signup() ]);
    const created = await api('POST', '/api/rooms', { token: owner.token, body: { name: uniqueName('Kick'), members: [ bob.id ] } });
    const id = created.body.data._id;
    const sb = await connectOk({ token: bob.token });
    const kicked = await api('POST', `/api/rooms/${id}/members`, { token: owner.token, body: { remove: [ bob.id ] } });
    assert.strictEqual(kicked.status, 200);
    const res: any = await new Promise(resolve => sb.emit('to', { type: 1, typeu: 2, to: id, content: 'still here?', fp: uniqueName('fp') }, resolve));
    assert.strictEqual(res.code, 20003);
  });

  it('a user\'s sockets join all their rooms on connect', async () => {
    const [ owner, bob ] = await Promise.all([ signup(), signup() ]);
    const room = (await api('POST', '/api/rooms', { token: owner.token, body: { name: uniqueName('Con'), members: [ bob.id ] } })).body.data;
    await connectOk({ token: bob.token, version: 'v2' });
    assert.deepStrictEqual(await socketsIn(`room:${room._id}`), [ bob.id ]);
  });

  it('refuses bad input: bad ids 400 / 20002, unknown room 404 / 10005, unknown member 404 / 20005, non-owner 403', async () => {
    const [ owner, other ] = await Promise.all([ signup(), signup() ]);
    const missing = '0123456789abcdef01234567';
    expectError(await api('GET', '/api/rooms/nope', { token: owner.token }), 400, 20002);
    expectError(await api('POST', '/api/rooms/{"$ne":1}/join', { token: owner.token }), 400, 20002);
    expectError(await api('GET', `/api/rooms/${missing}`, { token: owner.token }), 404, 10005);
    expectError(await api('POST', `/api/rooms/${missing}/join`, { token: owner.token }), 404, 10005);
    expectError(await api('POST', '/api/rooms', { token: owner.token, body: { name: uniqueName('M'), members: [ missing ] } }), 404, 20005);
    expectError(await api('POST', '/api/rooms', { token: owner.token, body: { name: uniqueName('M'), members: [ 'x' ] } }), 400, 20002);
    expectError(await api('POST', '/api/rooms', { token: owner.token, body: { name: uniqueName('M'), owner: other.id } }), 400, 20002);
    expectError(await api('POST', '/api/rooms', { token: owner.token, body: { name: '' } }), 400, 20002);
    const room = (await api('POST', '/api/rooms', { token: owner.token, body: { name: uniqueName('Bad') } })).body.data;
    expectError(await api('PATCH', `/api/rooms/${room._id}`, { token: owner.token, body: { visibility: 'private' } }), 400, 20002);
    expectError(await api('PATCH', `/api/rooms/${room._id}`, { token: owner.token, body: { owner: other.id } }), 400, 20002);
    expectError(await api('DELETE', `/api/rooms/${room._id}`, { token: other.token }), 403, 10006);
    expectError(await api('POST', `/api/rooms/${room._id}/members`, { token: other.token, body: { add: [ other.id ] } }), 403, 10006);
    expectError(await api('POST', `/api/rooms/${room._id}/leave`, { token: other.token }), 403, 10006);
    expectError(await api('GET', '/api/rooms'), 401, 20001);
  });
});
