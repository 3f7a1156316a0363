import assert from 'node:assert';
import { api, emitAck, signup, sleep, type ClientVersion } from '../../../helpers';
import { makeRoom, ok, online, record, roomText, send, text } from '../../../message-helpers';

const pinned = async (token: string, timelineId: string, typeu: number) => {
  const res = await api('GET', `/api/messages/pinned?timelineId=${encodeURIComponent(timelineId)}&typeu=${typeu}`, { token });
  assert.strictEqual(res.status, 200, JSON.stringify(res.body));
  return res.body.data as any[];
};

/** §8 `to_pin` and `GET /api/messages/pinned`. */
describe('/chat to_pin and GET /api/messages/pinned (PROTOCOL §8)', () => {
  for (const version of [ 'v2', 'v4' ] as ClientVersion[]) {
    it(`${version}: either party of a c2c conversation pins; to_ack has pinnedBy; the other gets c_message_update`, async () => {
      const [ a, b ] = await Promise.all([ signup(), signup() ]);
      const [ sa, sb ] = await Promise.all([ online(a), online(b, version) ]);
      const m = await send(sa, text(b.id, 'remember this'));
      const updates = record(sa, 'c_message_update');
      const res = await emitAck(sb, 'to_pin', { _id: m._id, on: true });
      assert.deepStrictEqual([ res.code, res.data.action, res.data.payload.pinnedBy, res.data.payload.rev ], [ 0, 'CHAT_TO_ACK', b.id, 1 ]);
      assert.strictEqual((await updates.next(p => p._id === m._id)).data.payload.pinnedBy, b.id);
    });
  }

  it('on:false unpins: pinnedBy is gone', async () => {
    const [ a, b ] = await Promise.all([ signup(), signup() ]);
    const sa = await online(a);
    const m = await send(sa, text(b.id));
    await ok(sa, 'to_pin', { _id: m._id, on: true });
    const off = await ok(sa, 'to_pin', { _id: m._id, on: false });
    assert.deepStrictEqual([ off.pinnedBy, off.rev ], [ undefined, 2 ]);
    assert.deepStrictEqual(await pinned(a.token, m.timelineId, 1), []);
  });

  it('the list has the conversation\'s pinned messages, newest pin first, for both parties', async () => {
    const [ a, b ] = await Promise.all([ signup(), signup() ]);
    const sa = await online(a);
    const first = await send(sa, text(b.id, 'one'));
    const second = await send(sa, text(b.id, 'two'));
    await send(sa, text(b.id, 'three'));
    await ok(sa, 'to_pin', { _id: second._id, on: true });
    await sleep(5);
    await ok(sa, 'to_pin', { _id: first._id, on: true });
    const list = await pinned(b.token, `${b.id}@${a.id}`, 1);
    assert.deepStrictEqual(list.map(m => m.content), [ 'one', 'two' ]);
    assert.ok(list.every(m => m.pinnedBy === a.id));
  });

  it('in a room only the owner pins (20003 for others)', async () => {
    const [ owner, member ] = await Promise.all([ signup(), signup() ]);
    const roomId = await makeRoom(owner, [ member ]);
    const [ so, sm ] = await Promise.all([ online(owner), online(member) ]);
    const m = await send(sm, roomText(roomId, 'rules'));
    const refused = await emitAck(sm, 'to_pin', { _id: m._id, on: true });
    assert.deepStrictEqual([ refused.code, refused.data.action ], [ 20003, 'CHAT_TO_PIN' ]);
    assert.strictEqual((await ok(so, 'to_pin', { _id: m._id, on: true })).pinnedBy, owner.id);
    assert.deepStrictEqual((await pinned(member.token, roomId, 2)).map(x => x._id), [ m._id ]);
  });

  it('a stranger\'s pin is 20003, and the list of a conversation not theirs 10006', async () => {
    const [ a, b, c ] = await Promise.all([ signup(), signup(), signup() ]);
    const sa = await online(a);
    const m = await send(sa, text(b.id));
    assert.strictEqual((await emitAck(await online(c), 'to_pin', { _id: m._id, on: true })).code, 20003);
    const res = await api('GET', `/api/messages/pinned?timelineId=${m.timelineId}&typeu=1`, { token: c.token });
    assert.deepStrictEqual([ res.status, res.body.code ], [ 403, 10006 ]);
  });

  it('a recalled message is unpinned and leaves the list', async () => {
    const [ a, b ] = await Promise.all([ signup(), signup() ]);
    const sa = await online(a);
    const m = await send(sa, text(b.id));
    await ok(sa, 'to_pin', { _id: m._id, on: true });
    const recalled = await ok(sa, 'to_undo', { _id: m._id });
    assert.strictEqual(recalled.pinnedBy, undefined);
    assert.deepStrictEqual(await pinned(a.token, m.timelineId, 1), []);
    assert.strictEqual((await emitAck(sa, 'to_pin', { _id: m._id, on: true })).code, 20003);
  });

  it('a message hidden by a user is not in their list', async () => {
    const [ a, b ] = await Promise.all([ signup(), signup() ]);
    const sa = await online(a);
    const m = await send(sa, text(b.id));
    await ok(sa, 'to_pin', { _id: m._id, on: true });
    assert.strictEqual((await api('DELETE', `/api/messages/${m._id}`, { token: b.token })).status, 200);
    assert.deepStrictEqual(await pinned(b.token, m.timelineId, 1), []);
    assert.strictEqual((await pinned(a.token, m.timelineId, 1)).length, 1);
  });

  it('refusals: bad payloads 20002, an unknown message 10005, bad queries 400 / 20002', async () => {
    const a = await signup();
    const sa = await online(a);
    for (const bad of [ null, {}, { _id: '0123456789abcdef01234567' }, { _id: 'x', on: true } ]) assert.strictEqual((await emitAck(sa, 'to_pin', bad)).code, 20002);
    assert.strictEqual((await emitAck(sa, 'to_pin', { _id: '0123456789abcdef01234567', on: true })).code, 10005);
    for (const q of [ '', '?timelineId=x', '?typeu=1', `?timelineId=${a.id}&typeu=3`, `?timelineId=${a.id}&typeu=2&extra=1` ]) {
      const res = await api('GET', `/api/messages/pinned${q}`, { token: a.token });
      assert.deepStrictEqual([ res.status, res.body.code ], [ 400, 20002 ], q);
    }
  });
});
