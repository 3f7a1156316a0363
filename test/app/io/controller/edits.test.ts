import assert from 'node:assert';
import { app, emitAck, notWithin, signup, waitFor, type ClientVersion } from '../../../helpers';
import { makeRoom, ok, online, record, roomText, send, text } from '../../../message-helpers';

/** §8 `to_edit`, and `c_message_update` after a change (PROTOCOL §8). */
describe('/chat to_edit (PROTOCOL §8)', () => {
  for (const version of [ 'v2', 'v4' ] as ClientVersion[]) {
    it(`${version}: the sender's edit is answered to_ack with the new content, editedAt and rev 1`, async () => {
      const [ a, b ] = await Promise.all([ signup(), signup() ]);
      const sa = await online(a, version);
      const m = await send(sa, text(b.id, 'helo'));
      assert.strictEqual(m.rev, 0);
      const res = await emitAck(sa, 'to_edit', { _id: m._id, content: 'hello' });
      assert.strictEqual(res.code, 0, JSON.stringify(res));
      assert.strictEqual(res.data.action, 'CHAT_TO_ACK');
      const edited = res.data.payload;
      assert.deepStrictEqual([ edited._id, edited.seq, edited.content, edited.rev ], [ m._id, m.seq, 'hello', 1 ]);
      assert.ok(edited.editedAt >= m.sendTime);
    });

    it(`${version}: the peer and the sender's other devices get c_message_update with the whole message; the editing socket does not`, async () => {
      const [ a, b ] = await Promise.all([ signup(), signup() ]);
      const phone = await online(a, version, 'MOBILE');
      const desk = await online(a, 'v4', 'DESKTOP');
      const sb = await online(b, version);
      const m = await send(phone, text(b.id, 'first'));
      const [ toPeer, toDesk ] = [ waitFor(sb, 'c_message_update'), waitFor(desk, 'c_message_update') ];
      const quiet = notWithin(phone, 'c_message_update', 500);
      const edited = await ok(phone, 'to_edit', { _id: m._id, content: 'second' });
      for (const env of await Promise.all([ toPeer, toDesk ])) {
        assert.strictEqual(env.code, 0);
        assert.strictEqual(env.data.action, 'CHAT_MESSAGE_UPDATE');
        assert.deepStrictEqual(env.data.payload, edited);
      }
      assert.ok(await quiet, 'the acting socket gets its reply instead');
    });
  }

  it('without an ack callback the reply comes as the to_ack event', async () => {
    const [ a, b ] = await Promise.all([ signup(), signup() ]);
    const sa = await online(a);
    const m = await send(sa, text(b.id, 'x'));
    const reply = waitFor(sa, 'to_ack');
    sa.emit('to_edit', { _id: m._id, content: 'y' });
    const env = await reply;
    assert.deepStrictEqual([ env.code, env.data.action, env.data.payload.content ], [ 0, 'CHAT_TO_ACK', 'y' ]);
  });

  it('history and the conversation list show the edited content', async () => {
    const [ a, b ] = await Promise.all([ signup(), signup() ]);
    const sa = await online(a);
    const m = await send(sa, text(b.id, 'before'));
    await ok(sa, 'to_edit', { _id: m._id, content: 'after' });
    const sb = await online(b);
    const history = await ok(sb, 'history_message', { timelineId: m.timelineId, typeu: 1 });
    assert.deepStrictEqual([ history[0].content, history[0].rev ], [ 'after', 1 ]);
    const list = await ok(sb, 'recent_conversation');
    assert.strictEqual(list[0].lastMessage.content, 'after');
    await app.messages.flush();
    const stored = await ok(sb, 'recent_conversation');
    assert.strictEqual(stored[0].lastMessage.content, 'after');
  });

  it('editing someone else\'s message is refused with 20003', async () => {
    const [ a, b ] = await Promise.all([ signup(), signup() ]);
    const [ sa, sb ] = await Promise.all([ online(a), online(b) ]);
    const m = await send(sa, text(b.id, 'mine'));
    const res = await emitAck(sb, 'to_edit', { _id: m._id, content: 'yours' });
    assert.deepStrictEqual([ res.code, res.data.action ], [ 20003, 'CHAT_TO_EDIT' ]);
  });

  it('editing after message.editWindowS is refused with 20003', async () => {
    const [ a, b ] = await Promise.all([ signup(), signup() ]);
    const sa = await online(a);
    const m = await send(sa, text(b.id, 'old'));
    await app.model.Message.updateOne({ _id: m._id }, { $set: { sendTime: new Date(Date.now() - (app.config.message.editWindowS + 5) * 1000) } });
    assert.strictEqual((await emitAck(sa, 'to_edit', { _id: m._id, content: 'new' })).code, 20003);
  });

  it('editWindowS 0 lets a sender edit at any time', async () => {
    const [ a, b ] = await Promise.all([ signup(), signup() ]);
    const sa = await online(a);
    const m = await send(sa, text(b.id, 'old'));
    await app.model.Message.updateOne({ _id: m._id }, { $set: { sendTime: new Date(Date.now() - 400 * 24 * 3600 * 1000) } });
    const original = app.config.message.editWindowS;
    app.config.message.editWindowS = 0;
    try {
      assert.strictEqual((await ok(sa, 'to_edit', { _id: m._id, content: 'new' })).content, 'new');
    } finally {
      app.config.message.editWindowS = original;
    }
  });

  it('only text messages can be edited (20003), recalled ones neither', async () => {
    const [ a, b ] = await Promise.all([ signup(), signup() ]);
    const sa = await online(a);
    const image = await send(sa, { type: 2, to: b.id, content: '/files/x', fp: `img-${Date.now()}` });
    assert.strictEqual((await emitAck(sa, 'to_edit', { _id: image._id, content: 'text now' })).code, 20003);
    const m = await send(sa, text(b.id, 'gone soon'));
    await ok(sa, 'to_undo', { _id: m._id });
    assert.strictEqual((await emitAck(sa, 'to_edit', { _id: m._id, content: 'back' })).code, 20003);
  });

  it('an unknown message is 10005; bad payloads are 20002 and the socket keeps working', async () => {
    const [ a, b ] = await Promise.all([ signup(), signup() ]);
    const sa = await online(a);
    assert.strictEqual((await emitAck(sa, 'to_edit', { _id: '0123456789abcdef01234567', content: 'x' })).code, 10005);
    for (const bad of [ null, {}, { _id: 'nope', content: 'x' }, { _id: '0123456789abcdef01234567' }, { _id: '0123456789abcdef01234567', content: 'x'.repeat(64 * 1024 + 1) }, { _id: { $gt: '' }, content: 'x' } ]) {
      assert.strictEqual((await emitAck(sa, 'to_edit', bad)).code, 20002, JSON.stringify(bad)?.slice(0, 60));
    }
    assert.ok((await send(sa, text(b.id))).seq >= 1);
  });

  it('the same content again changes nothing (rev stays, nobody is told)', async () => {
    const [ a, b ] = await Promise.all([ signup(), signup() ]);
    const [ sa, sb ] = await Promise.all([ online(a), online(b) ]);
    const m = await send(sa, text(b.id, 'same'));
    const quiet = notWithin(sb, 'c_message_update', 400);
    const res = await ok(sa, 'to_edit', { _id: m._id, content: 'same' });
    assert.strictEqual(res.rev, 0);
    assert.ok(await quiet);
  });

  it('in a room, every member\'s devices get c_message_update', async () => {
    const [ owner, m1, m2 ] = await Promise.all([ signup(), signup(), signup() ]);
    const roomId = await makeRoom(owner, [ m1, m2 ]);
    const [ so, s1, s2 ] = await Promise.all([ online(owner), online(m1, 'v2'), online(m2) ]);
    const m = await send(s1, roomText(roomId, 'typo'));
    const updates = [ record(so, 'c_message_update'), record(s2, 'c_message_update') ];
    await ok(s1, 'to_edit', { _id: m._id, content: 'fixed' });
    for (const r of updates) assert.strictEqual((await r.next(p => p._id === m._id)).data.payload.content, 'fixed');
  });

  it('recall also sends c_message_update (and keeps c_message as before)', async () => {
    const [ a, b ] = await Promise.all([ signup(), signup() ]);
    const [ sa, sb ] = await Promise.all([ online(a), online(b, 'v2') ]);
    const m = await send(sa, text(b.id, 'oops'));
    const messages = record(sb, 'c_message');
    const updates = record(sb, 'c_message_update');
    const recalled = await ok(sa, 'to_undo', { _id: m._id });
    assert.deepStrictEqual([ recalled.type, recalled.content, recalled.rev ], [ 10, '', 1 ]);
    assert.deepStrictEqual((await updates.next(p => p._id === m._id)).data.payload, recalled);
    assert.strictEqual((await messages.next(p => p._id === m._id && p.type === 10)).data.payload.fp, m.fp);
  });
});
