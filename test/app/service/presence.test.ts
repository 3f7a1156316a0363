import assert from 'node:assert';
import mm from 'egg-mock';
import { api, app, connectOk, emitAck, notWithin, signup, uniqueName, waitFor, type ClientVersion } from '../../helpers';
import { befriend, record } from '../../social-helpers';

describe('presence: c_online to contacts only (PROTOCOL §4)', () => {
  afterEach(() => mm.restore());

  it('a friend is told online on the first socket and offline when the last one goes, never in between', async () => {
    const [ alice, bob, stranger ] = await Promise.all([ signup(), signup(), signup() ]);
    await befriend(alice, bob);
    const sb = await connectOk({ token: bob.token });
    const ss = await connectOk({ token: stranger.token });
    const [ heard, strangerHeard ] = [ record(sb, 'c_online'), record(ss, 'c_online') ];

    const web = await connectOk({ token: alice.token, query: { deviceType: 'WEB' } });
    const online = await heard.next(p => p.type === 'online' && p.current === alice.id);
    assert.strictEqual(online.data.action, 'CHAT_ONLINE');
    assert.deepStrictEqual(online.data.payload.clients, [ alice.id ], 'bob\'s online contacts');

    const mobile = await connectOk({ token: alice.token, query: { deviceType: 'MOBILE' } });
    const quiet = notWithin(sb, 'c_online', 300);
    web.close();
    assert.strictEqual(await quiet, true, 'a second socket arriving or one of two leaving changes nothing');

    assert.strictEqual((await app.presenceRegistry.online([ alice.id ])).has(alice.id), true);
    mobile.close();
    const offline = await heard.next(p => p.type === 'offline' && p.current === alice.id);
    assert.deepStrictEqual(offline.data.payload.clients, []);
    assert.strictEqual(heard.seen.filter(e => e.data.payload.current === alice.id).length, 2);
    assert.deepStrictEqual(strangerHeard.seen, [], 'never the whole namespace');
    assert.strictEqual((await app.presenceRegistry.online([ alice.id ])).has(alice.id), false);
  });

  it('a replaced login (same device class) does not flap offline/online', async () => {
    const [ alice, bob ] = await Promise.all([ signup(), signup() ]);
    await befriend(alice, bob);
    const sb = await connectOk({ token: bob.token });
    await connectOk({ token: alice.token, query: { deviceType: 'WEB' } });
    const heard = record(sb, 'c_online');
    await connectOk({ token: alice.token, query: { deviceType: 'WEB' } });
    assert.strictEqual(await notWithin(sb, 'c_online', 300), true, JSON.stringify(heard.payloads()));
  });

  it('peers in small rooms are contacts; rooms over presence.roomLimit give no presence', async () => {
    const [ alice, bob, carol, dave ] = await Promise.all([ signup(), signup(), signup(), signup() ]);
    mm(app.config.presence, 'roomLimit', 2);
    await api('POST', '/api/rooms', { token: alice.token, body: { name: uniqueName('Pair'), members: [ bob.id ] } });
    await api('POST', '/api/rooms', { token: carol.token, body: { name: uniqueName('Big'), members: [ alice.id, dave.id ] } });
    const [ sb, sd ] = await Promise.all([ connectOk({ token: bob.token }), connectOk({ token: dave.token }) ]);
    const heardByBob = record(sb, 'c_online');
    const daveQuiet = notWithin(sd, 'c_online', 500);
    await connectOk({ token: alice.token });
    await heardByBob.next(p => p.type === 'online' && p.current === alice.id);
    assert.strictEqual(await daveQuiet, true, 'a 3-member room is over a roomLimit of 2');
  });

  it('an invisible user connects and leaves unannounced', async () => {
    const [ alice, bob ] = await Promise.all([ signup(), signup() ]);
    await befriend(alice, bob);
    await api('PUT', '/api/users/me/presence', { token: alice.token, body: { presence: 'invisible' } });
    const sb = await connectOk({ token: bob.token });
    const quiet = notWithin(sb, 'c_online', 500);
    const sa = await connectOk({ token: alice.token });
    sa.close();
    assert.strictEqual(await quiet, true);
    const snap = await emitAck(sb, 'c_online');
    assert.deepStrictEqual(snap.data.payload.clients, []);
  });

  for (const version of [ 'v2', 'v4' ] as ClientVersion[]) {
    it(`${version}: emitting c_online gets my snapshot, by ack or as the c_online event`, async () => {
      const [ me, friend, offlineFriend ] = await Promise.all([ signup(), signup(), signup() ]);
      await befriend(me, friend);
      await befriend(me, offlineFriend);
      await connectOk({ token: friend.token });
      const socket = await connectOk({ token: me.token, version });

      const acked = await emitAck(socket, 'c_online');
      assert.strictEqual(acked.code, 0);
      assert.strictEqual(acked.data.action, 'CHAT_ONLINE');
      assert.deepStrictEqual(acked.data.payload, { type: 'snapshot', current: me.id, clients: [ friend.id ] });

      const replied = waitFor(socket, 'c_online');
      socket.emit('c_online');
      const event = await replied;
      assert.deepStrictEqual(event.data.payload, { type: 'snapshot', current: me.id, clients: [ friend.id ] });
    });
  }
});
