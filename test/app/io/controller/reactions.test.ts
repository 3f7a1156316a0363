import assert from 'node:assert';
import { app, emitAck, signup, type ClientVersion, type TestUser } from '../../../helpers';
import { makeRoom, ok, online, record, roomText, send, text } from '../../../message-helpers';

/** §8 `to_react`. */
describe('/chat to_react (PROTOCOL §8)', () => {
  for (const version of [ 'v2', 'v4' ] as ClientVersion[]) {
    it(`${version}: a reaction is answered to_ack with reactions [{emoji, count, users}] and rev +1`, async () => {
      const [ a, b ] = await Promise.all([ signup(), signup() ]);
      const [ sa, sb ] = await Promise.all([ online(a), online(b, version) ]);
      const m = await send(sa, text(b.id, 'nice'));
      const res = await emitAck(sb, 'to_react', { _id: m._id, emoji: '👍', on: true });
      assert.deepStrictEqual([ res.code, res.data.action ], [ 0, 'CHAT_TO_ACK' ]);
      assert.deepStrictEqual(res.data.payload.reactions, [{ emoji: '👍', count: 1, users: [ b.id ] }]);
      assert.strictEqual(res.data.payload.rev, 1);
    });

    it(`${version}: the other members' devices get c_message_update with the reactions`, async () => {
      const [ a, b ] = await Promise.all([ signup(), signup() ]);
      const [ sa, sb ] = await Promise.all([ online(a, version), online(b) ]);
      const m = await send(sa, text(b.id, 'nice'));
      const updates = record(sa, 'c_message_update');
      await ok(sb, 'to_react', { _id: m._id, emoji: '🎉', on: true });
      assert.deepStrictEqual((await updates.next(p => p._id === m._id)).data.payload.reactions, [{ emoji: '🎉', count: 1, users: [ b.id ] }]);
    });
  }

  it('on:false takes one\'s reaction back; the last one gone leaves no reactions', async () => {
    const [ a, b ] = await Promise.all([ signup(), signup() ]);
    const [ sa, sb ] = await Promise.all([ online(a), online(b) ]);
    const m = await send(sa, text(b.id));
    await ok(sa, 'to_react', { _id: m._id, emoji: '👍', on: true });
    await ok(sb, 'to_react', { _id: m._id, emoji: '👍', on: true });
    const less = await ok(sb, 'to_react', { _id: m._id, emoji: '👍', on: false });
    assert.deepStrictEqual(less.reactions, [{ emoji: '👍', count: 1, users: [ a.id ] }]);
    const none = await ok(sa, 'to_react', { _id: m._id, emoji: '👍', on: false });
    assert.strictEqual(none.reactions, undefined);
    assert.strictEqual(none.rev, 4);
  });

  it('reacting twice, or taking back what one never gave, changes nothing', async () => {
    const [ a, b ] = await Promise.all([ signup(), signup() ]);
    const sa = await online(a);
    const m = await send(sa, text(b.id));
    await ok(sa, 'to_react', { _id: m._id, emoji: '👍', on: true });
    const again = await ok(sa, 'to_react', { _id: m._id, emoji: '👍', on: true });
    assert.deepStrictEqual([ again.rev, again.reactions[0].count ], [ 1, 1 ]);
    assert.strictEqual((await ok(sa, 'to_react', { _id: m._id, emoji: '❤️', on: false })).rev, 1);
  });

  it('counts are exact while users names at most 20 of them', async function() {
    this.timeout(60000);
    const owner = await signup();
    const members: TestUser[] = await Promise.all(Array.from({ length: 24 }, () => signup()));
    const roomId = await makeRoom(owner, members);
    const so = await online(owner);
    const m = await send(so, roomText(roomId, 'vote'));
    for (const u of members) {
      const s = await online(u);
      await ok(s, 'to_react', { _id: m._id, emoji: '👍', on: true });
      s.close();
    }
    const last = await ok(so, 'to_react', { _id: m._id, emoji: '👍', on: true });
    assert.strictEqual(last.reactions[0].count, 25);
    assert.strictEqual(last.reactions[0].users.length, 20);
    assert.deepStrictEqual(last.reactions[0].users, members.slice(0, 20).map(u => u.id));
  });

  it('at most 20 distinct emoji on a message and 10 of one user\'s (20003 past them)', async () => {
    const [ a, b ] = await Promise.all([ signup(), signup() ]);
    const [ sa, sb ] = await Promise.all([ online(a), online(b) ]);
    const m = await send(sa, text(b.id));
    const emoji = Array.from({ length: 21 }, (_, i) => `e${i}`);
    for (const e of emoji.slice(0, 10)) await ok(sa, 'to_react', { _id: m._id, emoji: e, on: true });
    const eleventh = await emitAck(sa, 'to_react', { _id: m._id, emoji: emoji[10], on: true });
    assert.deepStrictEqual([ eleventh.code, eleventh.data.action ], [ 20003, 'CHAT_TO_REACT' ]);
    for (const e of emoji.slice(10, 20)) await ok(sb, 'to_react', { _id: m._id, emoji: e, on: true });
    assert.strictEqual((await emitAck(sb, 'to_react', { _id: m._id, emoji: emoji[20], on: true })).code, 20003, 'a 21st emoji');
    // an emoji already there is no new one: with one of theirs taken back, b may join a's
    await ok(sb, 'to_react', { _id: m._id, emoji: emoji[19], on: false });
    const shared = await ok(sb, 'to_react', { _id: m._id, emoji: emoji[0], on: true });
    assert.strictEqual(shared.reactions.find((r: any) => r.emoji === emoji[0]).count, 2);
  });

  it('someone who cannot see the message is refused with 20003: an outsider, a member who joined after it, one who hid it', async () => {
    const [ owner, early, late, outsider ] = await Promise.all([ signup(), signup(), signup(), signup() ]);
    const roomId = await makeRoom(owner, [ early ]);
    const so = await online(owner);
    const m = await send(so, roomText(roomId, 'before you came'));
    await app.messages.joinRoom(roomId, [ late.id ]);
    await app.model.Room.updateOne({ _id: roomId }, { $addToSet: { members: late.id } });
    for (const u of [ late, outsider ]) assert.strictEqual((await emitAck(await online(u), 'to_react', { _id: m._id, emoji: '👍', on: true })).code, 20003);
    const se = await online(early);
    await app.messages.hide(early.id, m._id);
    assert.strictEqual((await emitAck(se, 'to_react', { _id: m._id, emoji: '👍', on: true })).code, 20003);
  });

  it('a recalled message takes no reactions (20003), and its reactions are gone', async () => {
    const [ a, b ] = await Promise.all([ signup(), signup() ]);
    const [ sa, sb ] = await Promise.all([ online(a), online(b) ]);
    const m = await send(sa, text(b.id));
    await ok(sb, 'to_react', { _id: m._id, emoji: '👍', on: true });
    const recalled = await ok(sa, 'to_undo', { _id: m._id });
    assert.strictEqual(recalled.reactions, undefined);
    assert.strictEqual((await emitAck(sb, 'to_react', { _id: m._id, emoji: '👍', on: true })).code, 20003);
  });

  it('bad emoji and payloads are 20002: empty, over 16 bytes, with whitespace, not a string', async () => {
    const [ a, b ] = await Promise.all([ signup(), signup() ]);
    const sa = await online(a);
    const m = await send(sa, text(b.id));
    for (const emoji of [ '', '👍👍👍👍👍', 'a b', '👍\n', 5, null ]) {
      assert.strictEqual((await emitAck(sa, 'to_react', { _id: m._id, emoji, on: true })).code, 20002, JSON.stringify(emoji));
    }
    assert.strictEqual((await emitAck(sa, 'to_react', { _id: m._id, emoji: '👍' })).code, 20002, 'on is required');
    // a ZWJ family (18 bytes) is too long; a flag (8 bytes) is fine
    assert.strictEqual((await emitAck(sa, 'to_react', { _id: m._id, emoji: '👨‍👩‍👧', on: true })).code, 20002);
    assert.strictEqual((await ok(sa, 'to_react', { _id: m._id, emoji: '🇫🇷', on: true })).reactions[0].emoji, '🇫🇷');
  });

  it('reactions count against the socket\'s event rate (20009)', async () => {
    const original = app.config.rateLimit.socketEvents;
    app.config.rateLimit.socketEvents = { points: 5, duration: 2 };
    try {
      const [ a, b ] = await Promise.all([ signup(), signup() ]);
      const sa = await online(a);
      const m = await send(sa, text(b.id));
      const replies = await Promise.all(Array.from({ length: 8 }, (_, i) => emitAck(sa, 'to_react', { _id: m._id, emoji: `r${i}`, on: true })));
      assert.ok(replies.some(r => r.code === 20009), JSON.stringify(replies.map(r => r.code)));
    } finally {
      app.config.rateLimit.socketEvents = original;
    }
  });
});
