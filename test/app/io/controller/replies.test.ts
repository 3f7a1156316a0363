import assert from 'node:assert';
import { app, emitAck, signup, waitFor, type ClientVersion } from '../../../helpers';
import { makeRoom, ok, online, record, roomText, send, text } from '../../../message-helpers';

/** §8 `to` with `replyTo` and `mentions`. */
describe('/chat replies and mentions (PROTOCOL §8)', () => {
  describe('replyTo', () => {
    for (const version of [ 'v2', 'v4' ] as ClientVersion[]) {
      it(`${version}: a reply stores {_id, from, type, excerpt} and the peer gets it so`, async () => {
        const [ a, b ] = await Promise.all([ signup(), signup() ]);
        const [ sa, sb ] = await Promise.all([ online(a), online(b, version) ]);
        const original = await send(sa, text(b.id, 'lunch at noon?'));
        const incoming = waitFor(sa, 'c_message');
        const reply = await send(sb, text(a.id, 'yes', { replyTo: original._id }));
        assert.deepStrictEqual(reply.replyTo, { _id: original._id, from: a.id, type: 1, excerpt: 'lunch at noon?' });
        assert.deepStrictEqual((await incoming).data.payload.replyTo, reply.replyTo);
      });
    }

    it('the excerpt is the first 100 characters of a text message (whole characters)', async () => {
      const [ a, b ] = await Promise.all([ signup(), signup() ]);
      const sa = await online(a);
      const long = '😀'.repeat(60) + 'x'.repeat(100);
      const original = await send(sa, text(b.id, long));
      const reply = await send(await online(b), text(a.id, 'ok', { replyTo: original._id }));
      assert.strictEqual(reply.replyTo.excerpt, [ ...long ].slice(0, 100).join(''));
    });

    it('a reply to another type has an empty excerpt', async () => {
      const [ a, b ] = await Promise.all([ signup(), signup() ]);
      const sa = await online(a);
      const image = await send(sa, { type: 2, to: b.id, content: '/files/abc', fp: `i-${Date.now()}` });
      const reply = await send(await online(b), text(a.id, 'pretty', { replyTo: image._id }));
      assert.deepStrictEqual(reply.replyTo, { _id: image._id, from: a.id, type: 2, excerpt: '' });
    });

    it('once the original is recalled, every reader of the reply sees excerpt \'\' (history and c_message_update)', async () => {
      const [ a, b ] = await Promise.all([ signup(), signup() ]);
      const [ sa, sb ] = await Promise.all([ online(a), online(b) ]);
      const original = await send(sa, text(b.id, 'secret'));
      const reply = await send(sb, text(a.id, 'got it', { replyTo: original._id }));
      const updates = record(sa, 'c_message_update');
      await ok(sa, 'to_undo', { _id: original._id });
      const update = await updates.next(p => p._id === reply._id);
      assert.deepStrictEqual(update.data.payload.replyTo, { _id: original._id, from: a.id, type: 1, excerpt: '' });
      for (const s of [ sa, sb ]) {
        const history = await ok(s, 'history_message', { timelineId: reply.timelineId, typeu: 1 });
        assert.strictEqual(history.find((m: any) => m._id === reply._id).replyTo.excerpt, '');
      }
    });

    it('a reply to a message that was already recalled quotes nothing', async () => {
      const [ a, b ] = await Promise.all([ signup(), signup() ]);
      const sa = await online(a);
      const original = await send(sa, text(b.id, 'gone'));
      await ok(sa, 'to_undo', { _id: original._id });
      const reply = await send(await online(b), text(a.id, 'what was it?', { replyTo: original._id }));
      assert.deepStrictEqual(reply.replyTo, { _id: original._id, from: a.id, type: 10, excerpt: '' });
    });

    it('replyTo must be a message of the same conversation the sender can see, else 20003', async () => {
      const [ a, b, c ] = await Promise.all([ signup(), signup(), signup() ]);
      const [ sa, sc ] = await Promise.all([ online(a), online(c) ]);
      const elsewhere = await send(sc, text(b.id, 'not yours'));
      const other = await emitAck(sa, 'to', text(b.id, 'x', { replyTo: elsewhere._id }));
      assert.deepStrictEqual([ other.code, other.data.action ], [ 20003, 'CHAT_TO' ]);
      assert.strictEqual((await emitAck(sa, 'to', text(b.id, 'x', { replyTo: '0123456789abcdef01234567' }))).code, 20003);
      // a room message from before the sender joined
      const [ owner, late ] = await Promise.all([ signup(), signup() ]);
      const roomId = await makeRoom(owner, []);
      const early = await send(await online(owner), roomText(roomId, 'before'));
      await app.messages.joinRoom(roomId, [ late.id ]);
      await app.model.Room.updateOne({ _id: roomId }, { $addToSet: { members: late.id } });
      assert.strictEqual((await emitAck(await online(late), 'to', roomText(roomId, 'x', { replyTo: early._id }))).code, 20003);
      // a message the sender hid
      const mine = await send(sa, text(b.id, 'hide me'));
      await app.messages.hide(a.id, mine._id);
      assert.strictEqual((await emitAck(sa, 'to', text(b.id, 'x', { replyTo: mine._id }))).code, 20003);
    });

    it('a bad replyTo is 20002', async () => {
      const [ a, b ] = await Promise.all([ signup(), signup() ]);
      const sa = await online(a);
      for (const replyTo of [ 'nope', 5, { $gt: '' } ]) assert.strictEqual((await emitAck(sa, 'to', text(b.id, 'x', { replyTo }))).code, 20002);
    });
  });

  describe('mentions', () => {
    it('room mentions keep members only (others and the sender dropped)', async () => {
      const [ owner, m1, m2, outsider ] = await Promise.all([ signup(), signup(), signup(), signup() ]);
      const roomId = await makeRoom(owner, [ m1, m2 ]);
      const s1 = await online(m1);
      const incoming = waitFor(await online(m2), 'c_message');
      const sent = await send(s1, roomText(roomId, '@m2 @outsider', { mentions: [ m2.id, outsider.id, m1.id, m2.id ] }));
      assert.deepStrictEqual(sent.mentions, [ m2.id ]);
      assert.deepStrictEqual((await incoming).data.payload.mentions, [ m2.id ]);
    });

    it('the owner may mention all', async () => {
      const [ owner, m1 ] = await Promise.all([ signup(), signup() ]);
      const roomId = await makeRoom(owner, [ m1 ]);
      assert.deepStrictEqual((await send(await online(owner), roomText(roomId, 'everyone!', { mentions: [ 'all' ] }))).mentions, [ 'all' ]);
    });

    it('a member who is not the owner mentioning all is refused with 20003', async () => {
      const [ owner, m1 ] = await Promise.all([ signup(), signup() ]);
      const roomId = await makeRoom(owner, [ m1 ]);
      const res = await emitAck(await online(m1), 'to', roomText(roomId, 'everyone!', { mentions: [ 'all' ] }));
      assert.deepStrictEqual([ res.code, res.data.action ], [ 20003, 'CHAT_TO' ]);
    });

    it('mentions in a c2c message are dropped', async () => {
      const [ a, b ] = await Promise.all([ signup(), signup() ]);
      assert.strictEqual((await send(await online(a), text(b.id, 'hi', { mentions: [ b.id ] }))).mentions, undefined);
    });

    it('bad mentions are 20002: not ids, more than 50', async () => {
      const [ owner, m1 ] = await Promise.all([ signup(), signup() ]);
      const roomId = await makeRoom(owner, [ m1 ]);
      const so = await online(owner);
      for (const mentions of [ 'all', [ 'everyone' ], [ { $ne: 1 } ], Array.from({ length: 51 }, () => m1.id) ]) {
        assert.strictEqual((await emitAck(so, 'to', roomText(roomId, 'x', { mentions }))).code, 20002, JSON.stringify(mentions).slice(0, 40));
      }
    });

    it('recent_conversation counts unread messages that mention the user or all, until read', async () => {
      const [ owner, m1, m2 ] = await Promise.all([ signup(), signup(), signup() ]);
      const roomId = await makeRoom(owner, [ m1, m2 ]);
      const so = await online(owner);
      const s1 = await online(m1);
      await send(so, roomText(roomId, 'hi @m1', { mentions: [ m1.id ] }));
      await send(so, roomText(roomId, 'no mention'));
      await send(s1, roomText(roomId, 'hi @m2', { mentions: [ m2.id ] }));
      const last = await send(so, roomText(roomId, '@all meeting', { mentions: [ 'all' ] }));
      const s2 = await online(m2);
      const entry = async (s: any) => (await ok(s, 'recent_conversation')).find((c: any) => c.conversationId === roomId);
      assert.strictEqual((await entry(s2)).mentions, 2, 'm2: mentioned once, plus all');
      assert.strictEqual((await entry(s1)).mentions, 1, 'm1 wrote after its own mention (seen), not after all');
      assert.strictEqual((await entry(so)).mentions, 0, 'the owner\'s own all');
      await ok(s2, 'to_reader', { _id: last._id });
      assert.strictEqual((await entry(s2)).mentions, 0);
    });

    it('a recalled mention no longer counts', async () => {
      const [ owner, m1 ] = await Promise.all([ signup(), signup() ]);
      const roomId = await makeRoom(owner, [ m1 ]);
      const so = await online(owner);
      const m = await send(so, roomText(roomId, 'hey @m1', { mentions: [ m1.id ] }));
      await ok(so, 'to_undo', { _id: m._id });
      await app.messages.flush();
      const list = await ok(await online(m1), 'recent_conversation');
      assert.strictEqual(list.find((c: any) => c.conversationId === roomId).mentions, 0);
    });

    it('a message with mentions counts once more against the socket\'s event rate', async () => {
      const original = app.config.rateLimit.socketEvents;
      app.config.rateLimit.socketEvents = { points: 6, duration: 2 };
      try {
        const [ owner, m1 ] = await Promise.all([ signup(), signup() ]);
        const roomId = await makeRoom(owner, [ m1 ]);
        const so = await online(owner);
        const codes: number[] = [];
        for (let i = 0; i < 4; i++) codes.push((await emitAck(so, 'to', roomText(roomId, '@m1', { mentions: [ m1.id ] }))).code);
        // 2 points each: the fourth finds 6 spent
        assert.deepStrictEqual(codes, [ 0, 0, 0, 20009 ]);
      } finally {
        app.config.rateLimit.socketEvents = original;
      }
    });
  });
});
