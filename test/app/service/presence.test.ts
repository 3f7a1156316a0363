import assert from 'node:assert';
import mm from 'egg-mock';
import { api, app, connectChat, emitAck, notWithin, signup, uniqueName, waitFor, type ClientVersion } from '../../helpers';
import { befriend, record } from '../../social-helpers';

/** alice and bob are friends; bob is online and records c_online */
async function friendListening() {
  const [ alice, bob ] = await Promise.all([ signup(), signup() ]);
  await befriend(alice, bob);
  const sb = await connectChat({ token: bob.token });
  return { alice, bob, sb, heard: record(sb, 'c_online') };
}

/** The ids in `socket`'s own c_online snapshot. */
const snapshotOf = async (socket: any) => (await emitAck(socket, 'c_online')).data.payload.clients;

describe('presence: c_online to contacts only (PROTOCOL §4)', () => {
  it('a friend is told CHAT_ONLINE online when my first socket connects, with their online contacts', async () => {
    const { alice, heard } = await friendListening();
    await connectChat({ token: alice.token, query: { deviceType: 'WEB' } });
    const online = await heard.next(p => p.type === 'online' && p.current === alice.id);
    assert.strictEqual(online.data.action, 'CHAT_ONLINE');
    assert.deepStrictEqual(online.data.payload.clients, [ alice.id ], 'bob\'s online contacts');
  });

  it('a second socket arriving, or one of two leaving, tells nobody; I stay online', async () => {
    const { alice, sb, heard } = await friendListening();
    const web = await connectChat({ token: alice.token, query: { deviceType: 'WEB' } });
    await heard.next(p => p.type === 'online' && p.current === alice.id);
    const quiet = notWithin(sb, 'c_online', 300);
    await connectChat({ token: alice.token, query: { deviceType: 'MOBILE' } });
    web.close();
    assert.strictEqual(await quiet, true, 'a second socket arriving or one of two leaving changes nothing');
    assert.deepStrictEqual(await snapshotOf(sb), [ alice.id ]);
  });

  it('a friend is told offline when my last socket goes, with their online contacts', async () => {
    const { alice, sb, heard } = await friendListening();
    const web = await connectChat({ token: alice.token, query: { deviceType: 'WEB' } });
    await heard.next(p => p.type === 'online' && p.current === alice.id);
    web.close();
    const offline = await heard.next(p => p.type === 'offline' && p.current === alice.id);
    assert.deepStrictEqual(offline.data.payload.clients, []);
    assert.deepStrictEqual(await snapshotOf(sb), []);
  });

  it('someone who is not a contact is never told', async () => {
    const { alice, heard } = await friendListening();
    const stranger = await signup();
    const strangerHeard = record(await connectChat({ token: stranger.token }), 'c_online');
    const web = await connectChat({ token: alice.token });
    await heard.next(p => p.type === 'online' && p.current === alice.id);
    web.close();
    await heard.next(p => p.type === 'offline' && p.current === alice.id);
    assert.deepStrictEqual(strangerHeard.seen, [], 'never the whole namespace');
  });

  it('a replaced login (same device class) does not flap offline/online', async () => {
    const { alice, sb, heard } = await friendListening();
    await connectChat({ token: alice.token, query: { deviceType: 'WEB' } });
    await heard.next(p => p.type === 'online' && p.current === alice.id);
    const quiet = notWithin(sb, 'c_online', 300);
    await connectChat({ token: alice.token, query: { deviceType: 'WEB' } });
    assert.strictEqual(await quiet, true, JSON.stringify(heard.payloads()));
  });

  describe('rooms', () => {
    beforeEach(() => mm(app.config.presence, 'roomLimit', 2));

    it('a peer in a room within presence.roomLimit is a contact', async () => {
      const [ alice, bob ] = await Promise.all([ signup(), signup() ]);
      await api('POST', '/api/rooms', { token: alice.token, body: { name: uniqueName('Pair'), members: [ bob.id ] } });
      const heardByBob = record(await connectChat({ token: bob.token }), 'c_online');
      await connectChat({ token: alice.token });
      await heardByBob.next(p => p.type === 'online' && p.current === alice.id);
    });

    it('a room over presence.roomLimit gives no presence', async () => {
      const [ alice, carol, dave ] = await Promise.all([ signup(), signup(), signup() ]);
      await api('POST', '/api/rooms', { token: carol.token, body: { name: uniqueName('Big'), members: [ alice.id, dave.id ] } });
      const daveQuiet = notWithin(await connectChat({ token: dave.token }), 'c_online', 500);
      await connectChat({ token: alice.token });
      assert.strictEqual(await daveQuiet, true, 'a 3-member room is over a roomLimit of 2');
    });
  });

  describe('an invisible user', () => {
    async function invisibleFriend() {
      const [ alice, bob ] = await Promise.all([ signup(), signup() ]);
      await befriend(alice, bob);
      await api('PUT', '/api/users/me/presence', { token: alice.token, body: { presence: 'invisible' } });
      return { alice, sb: await connectChat({ token: bob.token }) };
    }

    it('connects and leaves unannounced', async () => {
      const { alice, sb } = await invisibleFriend();
      const quiet = notWithin(sb, 'c_online', 500);
      const sa = await connectChat({ token: alice.token });
      sa.close();
      assert.strictEqual(await quiet, true);
    });

    it('is not in friends\' snapshots while connected', async () => {
      const { alice, sb } = await invisibleFriend();
      await connectChat({ token: alice.token });
      assert.deepStrictEqual(await snapshotOf(sb), []);
    });
  });

  describe('emitting c_online', () => {
    /** me with an online and an offline friend */
    async function meWithFriends(version: ClientVersion) {
      const [ me, friend, offlineFriend ] = await Promise.all([ signup(), signup(), signup() ]);
      await befriend(me, friend);
      await befriend(me, offlineFriend);
      await connectChat({ token: friend.token });
      return { me, friend, socket: await connectChat({ token: me.token, version }) };
    }

    for (const version of [ 'v2', 'v4' ] as ClientVersion[]) {
      it(`${version}: with an ack callback gets my snapshot of online contacts`, async () => {
        const { me, friend, socket } = await meWithFriends(version);
        const acked = await emitAck(socket, 'c_online');
        assert.strictEqual(acked.code, 0);
        assert.strictEqual(acked.data.action, 'CHAT_ONLINE');
        assert.deepStrictEqual(acked.data.payload, { type: 'snapshot', current: me.id, clients: [ friend.id ] });
      });

      it(`${version}: without an ack callback gets the snapshot as the c_online event`, async () => {
        const { me, friend, socket } = await meWithFriends(version);
        const replied = waitFor(socket, 'c_online');
        socket.emit('c_online');
        assert.deepStrictEqual((await replied).data.payload, { type: 'snapshot', current: me.id, clients: [ friend.id ] });
      });
    }
  });
});
