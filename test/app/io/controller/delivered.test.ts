import assert from 'node:assert';
import { api, app, emitAck, notWithin, signup, waitFor, type ClientVersion } from '../../../helpers';
import { makeRoom, ok, online, record, roomText, send, text } from '../../../message-helpers';

/** §8 `to_delivered` ticks, `delivered` in c2c history, and room `to_typing`. */
describe('/chat to_delivered and room typing (PROTOCOL §8)', () => {
  for (const version of [ 'v2', 'v4' ] as ClientVersion[]) {
    it(`${version}: when the peer acks, the sender's devices get to_delivered [{_id, fp, timelineId, typeu, seq, delivered}]`, async () => {
      const [ a, b ] = await Promise.all([ signup(), signup() ]);
      const [ sa, sb ] = await Promise.all([ online(a, version), online(b) ]);
      const m = await send(sa, text(b.id));
      const tick = waitFor(sa, 'to_delivered');
      await ok(sb, 'c_message_ack', { _id: m._id });
      const env = await tick;
      assert.deepStrictEqual([ env.code, env.data.action ], [ 0, 'CHAT_MESSAGE_DELIVERED' ]);
      assert.deepStrictEqual(env.data.payload, [{ _id: m._id, fp: m.fp, timelineId: m.timelineId, typeu: 1, seq: m.seq, delivered: [ b.id ] }]);
    });
  }

  it('acks that come together are one to_delivered (coalesced)', async () => {
    const [ a, b ] = await Promise.all([ signup(), signup() ]);
    const [ sa, sb ] = await Promise.all([ online(a), online(b) ]);
    const sent = [ await send(sa, text(b.id, '1')), await send(sa, text(b.id, '2')), await send(sa, text(b.id, '3')) ];
    const ticks = record(sa, 'to_delivered');
    await Promise.all(sent.map(m => ok(sb, 'c_message_ack', { _id: m._id })));
    await ticks.next(p => p.length === 3);
    assert.strictEqual(ticks.seen.length, 1, JSON.stringify(ticks.payloads()));
  });

  it('acks of a pull tick too; nobody is ticked for their own messages', async () => {
    const [ a, b ] = await Promise.all([ signup(), signup() ]);
    const sa = await online(a);
    const m = await send(sa, text(b.id, 'while you were away'));
    const sb = await online(b);
    const quiet = notWithin(sb, 'to_delivered', 400);
    const pulled = await ok(sb, 'offline_message');
    const tick = waitFor(sa, 'to_delivered');
    await ok(sb, 'c_message_ack', pulled);
    assert.deepStrictEqual((await tick).data.payload.map((t: any) => t._id), [ m._id ]);
    assert.ok(await quiet);
  });

  it('in a room of at most presence.roomLimit members, the sender learns who acked', async () => {
    const [ owner, m1, m2 ] = await Promise.all([ signup(), signup(), signup() ]);
    const roomId = await makeRoom(owner, [ m1, m2 ]);
    const [ so, s1, s2 ] = await Promise.all([ online(owner), online(m1), online(m2) ]);
    const m = await send(so, roomText(roomId, 'hello room'));
    const ticks = record(so, 'to_delivered');
    await ok(s1, 'c_message_ack', { _id: m._id });
    await ok(s2, 'c_message_ack', { _id: m._id });
    const all = async () => { await ticks.next(() => ticks.payloads().flat().flatMap((t: any) => t.delivered).length >= 2); return ticks.payloads().flat(); };
    const got = await all();
    assert.deepStrictEqual(got.flatMap((t: any) => t.delivered).sort(), [ m1.id, m2.id ].sort());
    assert.ok(got.every((t: any) => t._id === m._id && t.timelineId === roomId && t.typeu === 2));
  });

  it('a room of more than presence.roomLimit members gets no ticks', async () => {
    const original = app.config.presence.roomLimit;
    const [ owner, m1, m2 ] = await Promise.all([ signup(), signup(), signup() ]);
    const roomId = await makeRoom(owner, [ m1, m2 ]);
    app.config.presence.roomLimit = 2;
    try {
      const [ so, s1 ] = await Promise.all([ online(owner), online(m1) ]);
      const m = await send(so, roomText(roomId, 'big room'));
      const quiet = notWithin(so, 'to_delivered', 500);
      await ok(s1, 'c_message_ack', { _id: m._id });
      assert.ok(await quiet);
    } finally {
      app.config.presence.roomLimit = original;
    }
  });

  it('c2c history marks the reader\'s own messages delivered (false until the peer acked), others carry nothing', async () => {
    const [ a, b ] = await Promise.all([ signup(), signup() ]);
    const [ sa, sb ] = await Promise.all([ online(a), online(b) ]);
    const first = await send(sa, text(b.id, 'first'));
    const second = await send(sa, text(b.id, 'second'));
    const fromB = await send(sb, text(a.id, 'reply'));
    await ok(sb, 'c_message_ack', { _id: first._id });
    await app.messages.flush();
    const history = await ok(sa, 'history_message', { timelineId: first.timelineId, typeu: 1 });
    const byId = new Map(history.map((m: any) => [ m._id, m ]));
    assert.strictEqual((byId.get(first._id) as any).delivered, true);
    assert.strictEqual((byId.get(second._id) as any).delivered, false);
    assert.strictEqual((byId.get(fromB._id) as any).delivered, undefined);
    const rest = await api('GET', `/api/messages?timelineId=${first.timelineId}&typeu=1&page=1`, { token: a.token });
    assert.deepStrictEqual(rest.body.data.docs.filter((m: any) => m.from === a.id).map((m: any) => m.delivered), [ false, true ]);
  });

  describe('room to_typing', () => {
    for (const version of [ 'v2', 'v4' ] as ClientVersion[]) {
      it(`${version}: {to: roomId, typeu: 2} reaches the other members as {timelineId: roomId, from}`, async () => {
        const [ owner, m1 ] = await Promise.all([ signup(), signup() ]);
        const roomId = await makeRoom(owner, [ m1 ]);
        const [ so, s1 ] = await Promise.all([ online(owner, version), online(m1) ]);
        const typing = waitFor(s1, 'to_typing');
        const quiet = notWithin(so, 'to_typing', 400);
        const res = await emitAck(so, 'to_typing', { to: roomId, typeu: 2 });
        assert.deepStrictEqual([ res.code, res.data.payload ], [ 0, null ]);
        const env = await typing;
        assert.deepStrictEqual([ env.data.action, env.data.payload ], [ 'CHAT_TO_TYPING', { timelineId: roomId, from: owner.id } ]);
        assert.ok(await quiet, 'the typer is not told');
      });
    }

    it('a non-member is refused with 20003', async () => {
      const [ owner, outsider ] = await Promise.all([ signup(), signup() ]);
      const roomId = await makeRoom(owner, []);
      assert.strictEqual((await emitAck(await online(outsider), 'to_typing', { to: roomId, typeu: 2 })).code, 20003);
    });

    it('rooms of more than presence.roomLimit members get no typing', async () => {
      const [ owner, m1, m2 ] = await Promise.all([ signup(), signup(), signup() ]);
      const roomId = await makeRoom(owner, [ m1, m2 ]);
      const original = app.config.presence.roomLimit;
      app.config.presence.roomLimit = 2;
      try {
        const [ so, s1 ] = await Promise.all([ online(owner), online(m1) ]);
        const quiet = notWithin(s1, 'to_typing', 400);
        assert.strictEqual((await emitAck(so, 'to_typing', { to: roomId, typeu: 2 })).code, 0);
        assert.ok(await quiet);
      } finally {
        app.config.presence.roomLimit = original;
      }
    });
  });
});
