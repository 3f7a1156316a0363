import assert from 'node:assert';
import { baseUrl, connectOk, emitAck, signup, sleep, type TestUser } from '../../helpers';
import { commandsDuring, describeCommands, quiet } from '../../db-commands';

/**
 * Database commands per socket event (issue #9): the cost that carries over to MongoDB, and that
 * must not grow with what the store holds or with how many conversations a user has.
 */
let n = 0;
const text = (to: string, content = 'x') => ({ type: 1, to, content, fp: `bud-${Date.now()}-${n++}` });
const online = (u: TestUser) => connectOk({ token: u.token, query: { deviceType: 'WEB' } });

/** A user with `count` c2c conversations, each with a message from the peer that the user acked. */
async function userWithConversations(count: number) {
  const me = await signup();
  const peers = await Promise.all(Array.from({ length: count }, () => signup()));
  let mine = await online(me);
  const messages: any[] = [];
  for (const p of peers) {
    const s = await online(p);
    messages.push((await emitAck(s, 'to', text(me.id))).data.payload);
    s.close();
  }
  await emitAck(mine, 'c_message_ack', messages);
  await quiet();
  return {
    me, peers, messages,
    /** the user's socket (the suite closes every socket after each test) */
    async socket() {
      if (!mine.connected) mine = await online(me);
      return mine;
    },
  };
}

describe('database commands per event', () => {
  let one: Awaited<ReturnType<typeof userWithConversations>>;
  let fifty: Awaited<ReturnType<typeof userWithConversations>>;
  before(async function() {
    this.timeout(120000);
    one = await userWithConversations(1);
    fifty = await userWithConversations(50);
  });

  it('recent_conversation: at most 3, the same with 1 conversation and with 50', async () => {
    const [ s1, s50 ] = [ await one.socket(), await fifty.socket() ];
    const small = await commandsDuring(() => emitAck(s1, 'recent_conversation'));
    const large = await commandsDuring(() => emitAck(s50, 'recent_conversation'));
    assert.ok(small.length <= 3, describeCommands(small));
    assert.strictEqual(large.length, small.length, `${describeCommands(small)} vs ${describeCommands(large)}`);
    assert.ok(![ ...small, ...large ].some(c => c.collection === 'messages'), 'no read of the messages');
  });

  it('offline_message with nothing pending: at most 3, none on the messages', async () => {
    const socket = await fifty.socket();
    const seen = await commandsDuring(() => emitAck(socket, 'offline_message'));
    assert.ok(seen.length <= 3, describeCommands(seen));
    assert.ok(!seen.some(c => c.collection === 'messages'), describeCommands(seen));
  });

  it('offline_message with something recent pending: no read of the messages (the recent-messages cache has it)', async () => {
    const peer = await online(fifty.peers[7]);
    const sent = (await emitAck(peer, 'to', text(fifty.me.id, 'pending'))).data.payload;
    const socket = await fifty.socket();
    let pull: any;
    const seen = await commandsDuring(async () => { pull = await emitAck(socket, 'offline_message'); });
    assert.deepStrictEqual(pull.data.payload.map((m: any) => m._id), [ sent._id ]);
    assert.strictEqual(seen.filter(c => c.collection === 'messages').length, 0, describeCommands(seen));
    assert.ok(seen.length <= 3, describeCommands(seen));
  });

  it('history_message (newest page): at most 2', async () => {
    const timelineId = `${one.me.id}@${one.peers[0].id}`;
    const socket = await one.socket();
    const seen = await commandsDuring(() => emitAck(socket, 'history_message', { timelineId, typeu: 1, limit: 20 }));
    assert.ok(seen.length <= 2, describeCommands(seen));
  });

  it('to → to_ack to a known peer: one insert and at most one read before the ack', async () => {
    const peer = fifty.peers[3];
    const socket = await fifty.socket();
    await emitAck(socket, 'to', text(peer.id, 'warm'));
    await sleep(50);
    const seen = await commandsDuring(() => emitAck(socket, 'to', text(peer.id, 'measured')));
    const beforeAck = seen; // writers run after the ack: quiet() was not awaited inside
    assert.strictEqual(beforeAck.filter(c => c.name === 'insert').length, 1, describeCommands(seen));
    assert.ok(beforeAck.filter(c => c.name === 'find').length <= 1, describeCommands(seen));
  });

  it('c_message_ack of 20 messages in one conversation: one insert of a delivery batch, the membership not written before the ack', async () => {
    const peer = await online(one.peers[0]);
    const sent: any[] = [];
    for (let i = 0; i < 20; i++) sent.push((await emitAck(peer, 'to', text(one.me.id))).data.payload);
    const socket = await one.socket();
    const seen = await commandsDuring(() => emitAck(socket, 'c_message_ack', sent));
    assert.deepStrictEqual(seen.filter(c => c.name !== 'find').map(c => `${c.name}:${c.collection}`), [ 'insert:deliverybatches' ], describeCommands(seen));
    assert.ok(seen.filter(c => c.collection === 'memberships').length <= 1, describeCommands(seen));
    assert.ok(!seen.some(c => c.collection === 'messages'), describeCommands(seen));
  });

  it('the first c_message_ack of a new conversation: one insert of a delivery batch, no read of the membership (the commit made it)', async () => {
    const [ a, b ] = await Promise.all([ signup(), signup() ]);
    const [ sa, sb ] = await Promise.all([ online(a), online(b) ]);
    const sent = (await emitAck(sa, 'to', text(b.id))).data.payload;
    await quiet();
    const seen = await commandsDuring(() => emitAck(sb, 'c_message_ack', { _id: sent._id }));
    assert.deepStrictEqual(seen.map(c => `${c.name}:${c.collection}`), [ 'insert:deliverybatches' ], describeCommands(seen));
  });

  it('to_reader of an active conversation: one update, no read of the messages', async () => {
    const peer = await online(one.peers[0]);
    const sent = (await emitAck(peer, 'to', text(one.me.id, 'read me'))).data.payload;
    const socket = await one.socket();
    const receipt = new Promise(resolve => peer.once('to_reader', resolve));
    const seen = await commandsDuring(async () => {
      await emitAck(socket, 'to_reader', { _id: sent._id });
      await receipt;
    });
    assert.strictEqual(seen.length, 1, describeCommands(seen));
  });

  it('sync_changes with nothing changed: the memberships only, no read of the change records', async () => {
    const socket = await fifty.socket();
    const { data: { payload: { cursor } } } = await emitAck(socket, 'sync_changes');
    const seen = await commandsDuring(() => emitAck(socket, 'sync_changes', { cursor }));
    assert.ok(seen.length <= 1, describeCommands(seen));
    assert.ok(!seen.some(c => c.collection === 'changes' || c.collection === 'messages'), describeCommands(seen));
  });

  it('sync_changes with 2 of 50 conversations changed: one read of their records, their messages by _id', async () => {
    const socket = await fifty.socket();
    const { data: { payload: { cursor } } } = await emitAck(socket, 'sync_changes');
    for (const i of [ 11, 12 ]) {
      const peer = await online(fifty.peers[i]);
      assert.strictEqual((await emitAck(peer, 'to_react', { _id: fifty.messages[i]._id, emoji: '👍', on: true })).code, 0);
    }
    let page: any;
    const seen = await commandsDuring(async () => { page = await emitAck(socket, 'sync_changes', { cursor }); });
    assert.strictEqual(page.data.payload.changes.length, 2);
    assert.strictEqual(seen.filter(c => c.collection === 'changes').length, 1, describeCommands(seen));
    assert.ok(seen.filter(c => c.collection === 'messages').length <= 2, describeCommands(seen));
    assert.ok(seen.length <= 4, describeCommands(seen));
  });

  it('search in all of 50 conversations: the memberships and one read of the messages', async () => {
    const seen = await commandsDuring(async () => {
      const r = await fetch(`${await baseUrl()}/api/messages/search?q=pending`, { headers: { authorization: `Bearer ${fifty.me.token}` } });
      assert.strictEqual(r.status, 200);
    });
    // the auth middleware reads the session; the search: memberships, then the messages
    assert.ok(seen.filter(c => c.collection === 'messages').length === 1, describeCommands(seen));
    assert.ok(seen.length <= 3, describeCommands(seen));
  });

  it('connect (handshake, rooms, presence to contacts): at most 4 once the user\'s contacts are known', async () => {
    const socket = await fifty.socket();
    socket.close();
    await sleep(100);
    const seen = await commandsDuring(async () => {
      await online(fifty.me);
      await sleep(200); // the announce to contacts finishes after the handshake
    });
    assert.ok(seen.length <= 4, describeCommands(seen));
  });
});
