import assert from 'node:assert';
import { api, app, connectOk, emitAck, notWithin, signup, sleep, waitFor, type AnySocket, type ClientVersion, type TestUser } from '../../../helpers';

let fpCounter = 0;
const fp = () => `fp-${Date.now()}-${fpCounter++}`;
const text = (to: string, content = 'hello', extra: Record<string, unknown> = {}) => ({ type: 1, to, content, fp: fp(), ...extra });

async function online(u: TestUser, version: ClientVersion = 'v4', deviceType = 'WEB'): Promise<AnySocket> {
  return connectOk({ version, token: u.token, query: { deviceType } });
}

/** Collects every `event` a socket receives. */
function collect(socket: AnySocket, event: string) {
  const got: any[] = [];
  socket.on(event, (e: any) => got.push(e));
  return got;
}

async function makeRoom(owner: TestUser, members: TestUser[]) {
  const room = await app.model.Room.create({
    name: `room-${fp()}`, nameLower: `room-${fp()}`, owner: owner.id, members: [ owner.id, ...members.map(m => m.id) ],
  });
  const id = String(room._id);
  await app.messages.joinRoom(id, [ owner.id, ...members.map(m => m.id) ]);
  return id;
}

describe('/chat messaging (PROTOCOL §4, §6)', () => {
  for (const version of [ 'v2', 'v4' ] as ClientVersion[]) {
    it(`${version}: to → to_ack (ack callback) with _id, seq, sendTime; the peer gets c_message`, async () => {
      const [ a, b ] = await Promise.all([ signup(), signup() ]);
      const [ sa, sb ] = await Promise.all([ online(a, version), online(b, version) ]);
      const incoming = waitFor(sb, 'c_message');
      const msg = text(b.id, 'hi there', { time: 123, extra: { k: 'v' } });
      const ack = await emitAck(sa, 'to', msg);
      assert.strictEqual(ack.code, 0, JSON.stringify(ack));
      assert.strictEqual(ack.data.action, 'CHAT_TO_ACK');
      const stored = ack.data.payload;
      assert.match(stored._id, /^[0-9a-f]{24}$/);
      assert.strictEqual(stored.seq, 1);
      assert.strictEqual(stored.fp, msg.fp);
      assert.strictEqual(stored.from, a.id);
      assert.strictEqual(stored.to, b.id);
      assert.strictEqual(stored.typeu, 1);
      assert.strictEqual(stored.content, 'hi there');
      assert.deepStrictEqual(stored.extra, { k: 'v' });
      assert.strictEqual(stored.time, 123);
      assert.strictEqual(stored.timelineId, `${a.id}@${b.id}`);
      assert.strictEqual(stored.conversationId, a.id < b.id ? `${a.id}@${b.id}` : `${b.id}@${a.id}`);
      assert.strictEqual(typeof stored.sendTime, 'number');
      const got = await incoming;
      assert.strictEqual(got.data.action, 'CHAT_MESSAGE');
      assert.strictEqual(got.code, 0);
      assert.deepStrictEqual(got.data.payload, stored);
      assert.strictEqual(got.meta.sync, undefined);
    });

    it(`${version}: without an ack callback the reply comes as the to_ack event`, async () => {
      const [ a, b ] = await Promise.all([ signup(), signup() ]);
      const sa = await online(a, version);
      const reply = waitFor(sa, 'to_ack');
      sa.emit('to', text(b.id));
      const env = await reply;
      assert.strictEqual(env.code, 0);
      assert.strictEqual(env.data.action, 'CHAT_TO_ACK');
      assert.strictEqual(env.data.payload.seq, 1);
    });
  }

  it('the sender\'s other devices get the message with meta.sync; the sending socket does not', async () => {
    const [ a, b ] = await Promise.all([ signup(), signup() ]);
    const phone = await online(a, 'v4', 'MOBILE');
    const desk = await online(a, 'v2', 'DESKTOP');
    await online(b);
    const sync = waitFor(desk, 'c_message');
    const quiet = notWithin(phone, 'c_message', 400);
    const ack = await emitAck(phone, 'to', text(b.id));
    const got = await sync;
    assert.strictEqual(got.meta.sync, true);
    assert.strictEqual(got.data.payload._id, ack.data.payload._id);
    assert.ok(await quiet, 'the sending socket must not get its own message back');
  });

  it('a retried fp returns the stored message again (same _id and seq) and is delivered once', async () => {
    const [ a, b ] = await Promise.all([ signup(), signup() ]);
    const [ sa, sb ] = await Promise.all([ online(a), online(b) ]);
    const received = collect(sb, 'c_message');
    const msg = text(b.id);
    const first = await emitAck(sa, 'to', msg);
    const again = await emitAck(sa, 'to', msg);
    // and a burst of the same fp in one tick (a client retrying on a flaky link)
    const burst = await Promise.all([ 1, 2, 3 ].map(() => emitAck(sa, 'to', msg)));
    for (const r of [ again, ...burst ]) {
      assert.strictEqual(r.code, 0);
      assert.strictEqual(r.data.payload._id, first.data.payload._id);
      assert.strictEqual(r.data.payload.seq, first.data.payload.seq);
    }
    await sleep(300);
    assert.strictEqual(received.length, 1);
    assert.strictEqual(await app.model.Message.countDocuments({ fp: msg.fp }), 1);
    // the next message still gets the next seq: the retry used none
    const next = await emitAck(sa, 'to', text(b.id));
    assert.strictEqual(next.data.payload.seq, first.data.payload.seq + 1);
  });

  it('seq is gap-free and strictly increasing under concurrent senders to one conversation', async () => {
    const [ a, b ] = await Promise.all([ signup(), signup() ]);
    const [ sa, sb ] = await Promise.all([ online(a), online(b, 'v2') ]);
    const n = 60;
    const acks = await Promise.all([
      ...Array.from({ length: n }, (_, i) => emitAck(sa, 'to', text(b.id, `a${i}`), 10000)),
      ...Array.from({ length: n }, (_, i) => emitAck(sb, 'to', text(a.id, `b${i}`), 10000)),
    ]);
    const seqs = acks.map(r => { assert.strictEqual(r.code, 0, JSON.stringify(r)); return r.data.payload.seq; }).sort((x, y) => x - y);
    assert.deepStrictEqual(seqs, Array.from({ length: 2 * n }, (_, i) => i + 1));
    // each sender's own messages keep the order they were sent in
    const aSeqs = acks.slice(0, n).map(r => r.data.payload.seq);
    assert.deepStrictEqual(aSeqs, [ ...aSeqs ].sort((x, y) => x - y));
    const stored = await app.model.Message.find({ conversationId: acks[0].data.payload.conversationId }).sort({ seq: 1 }).lean();
    assert.deepStrictEqual(stored.map((m: any) => m.seq), seqs);
  });

  it('offline messages arrive after reconnect, oldest first, and exactly once after ack', async () => {
    const [ a, b ] = await Promise.all([ signup(), signup() ]);
    const sa = await online(a);
    const sent: any[] = [];
    for (let i = 0; i < 3; i++) sent.push((await emitAck(sa, 'to', text(b.id, `m${i}`))).data.payload);

    const sb = await online(b, 'v2');
    const pull = await emitAck(sb, 'offline_message');
    assert.strictEqual(pull.code, 0);
    assert.strictEqual(pull.data.action, 'CHAT_PULL_OFFLINE_MESSAGE');
    assert.deepStrictEqual(pull.data.payload.map((m: any) => m._id), sent.map(m => m._id));
    assert.ok(!pull.meta.more);

    // not acked yet: a second pull (without an ack callback: the reply event) returns them again
    const again = waitFor(sb, 'offline_message');
    sb.emit('offline_message');
    assert.strictEqual((await again).data.payload.length, 3);

    const acked = await emitAck(sb, 'c_message_ack', { data: pull.data.payload });
    assert.strictEqual(acked.code, 0);
    assert.strictEqual(acked.data.action, 'CHAT_MESSAGE_ACK');
    assert.strictEqual(acked.data.payload, null);
    sb.close();

    const later = await online(b);
    const after = await emitAck(later, 'offline_message');
    assert.deepStrictEqual(after.data.payload, []);
    // a new message after the ack is the only one pending
    const fresh = (await emitAck(sa, 'to', text(b.id, 'new'))).data.payload;
    const last = await emitAck(later, 'offline_message');
    assert.deepStrictEqual(last.data.payload.map((m: any) => m._id), [ fresh._id ]);
    // acked by fp and by a bare message object both work
    await emitAck(later, 'c_message_ack', { fp: fresh.fp });
    assert.deepStrictEqual((await emitAck(later, 'offline_message')).data.payload, []);
  });

  it('a system notice sent while offline comes in offline_message among the messages until acked', async () => {
    const [ a, b ] = await Promise.all([ signup(), signup() ]);
    const sa = await online(a);
    const before = (await emitAck(sa, 'to', text(b.id, 'first'))).data.payload;
    await sleep(5);
    const notice = await app.messages.notify({ to: b.id, content: 'maintenance at 2am', event: 'maintenance' });
    await sleep(5);
    const after = (await emitAck(sa, 'to', text(b.id, 'second'))).data.payload;
    const sb = await online(b);
    const pull = (await emitAck(sb, 'offline_message')).data.payload;
    assert.deepStrictEqual(pull.map((m: any) => m._id), [ before._id, notice._id, after._id ]);
    assert.deepStrictEqual(pull[1], { _id: notice._id, content: 'maintenance at 2am', event: 'maintenance', from: 'system', time: notice.time });
    await emitAck(sb, 'c_message_ack', pull);
    assert.deepStrictEqual((await emitAck(sb, 'offline_message')).data.payload, []);
  });

  it('offline_message pages at 200 with meta.more', async () => {
    const [ a, b ] = await Promise.all([ signup(), signup() ]);
    const sa = await online(a);
    const original = app.config.rateLimit.socketEvents;
    app.config.rateLimit.socketEvents = { points: 1000, duration: 1 };
    try {
      const acks = await Promise.all(Array.from({ length: 205 }, (_, i) => emitAck(sa, 'to', text(b.id, `m${i}`), 10000)));
      assert.ok(acks.every(r => r.code === 0));
    } finally {
      app.config.rateLimit.socketEvents = original;
    }
    const sb = await online(b);
    const page = await emitAck(sb, 'offline_message');
    assert.strictEqual(page.data.payload.length, 200);
    assert.strictEqual(page.meta.more, true);
    assert.deepStrictEqual(page.data.payload.map((m: any) => m.seq), Array.from({ length: 200 }, (_, i) => i + 1));
    await emitAck(sb, 'c_message_ack', page.data.payload);
    const rest = await emitAck(sb, 'offline_message');
    assert.deepStrictEqual(rest.data.payload.map((m: any) => m.seq), [ 201, 202, 203, 204, 205 ]);
    assert.ok(!rest.meta.more);
  });

  it('refuses: a missing user 20005, a blocked sender 20003, a wrong from 20001, bad shapes 20002; the socket keeps working', async () => {
    const [ a, b ] = await Promise.all([ signup(), signup() ]);
    const sa = await online(a);
    const missing = await emitAck(sa, 'to', text('0123456789abcdef01234567'));
    assert.strictEqual(missing.code, 20005);
    assert.strictEqual(missing.data.action, 'CHAT_TO');

    await app.model.Block.create({ user: b.id, blocked: a.id });
    const blocked = await emitAck(sa, 'to', text(b.id));
    assert.strictEqual(blocked.code, 20003);
    assert.ok(blocked.data.payload, 'the offending fp is named');

    const forged = await emitAck(sa, 'to', text(b.id, 'x', { from: b.id }));
    assert.strictEqual(forged.code, 20001);

    const c = await signup();
    for (const bad of [
      null, 'to', 42, [], {}, { type: 1, to: c.id, content: 'x' }, // no fp
      { type: 1, to: c.id, content: 'x', fp: '' },
      { type: 1, to: c.id, content: 'x', fp: 'f'.repeat(65) },
      { type: 3, to: c.id, content: 'x', fp: fp(), typeu: 3 },
      { type: 9, to: c.id, content: 'x', fp: fp() },
      { type: 1, to: { $gt: '' }, content: 'x', fp: fp() },
      { type: 1, to: c.id, content: { $ne: 1 }, fp: fp() },
      { type: 1, to: c.id, content: 'x'.repeat(64 * 1024 + 1), fp: fp() },
      { type: 1, to: c.id, content: 'x', fp: fp(), extra: { big: 'y'.repeat(5000) } },
      { type: 1, to: c.id, content: 'x', fp: fp(), extra: { $where: 1 } },
    ]) {
      const r = await emitAck(sa, 'to', bad);
      assert.strictEqual(r.code, 20002, `${JSON.stringify(bad)?.slice(0, 80)} → ${JSON.stringify(r).slice(0, 200)}`);
      assert.strictEqual(r.data.action, 'CHAT_TO');
    }
    // without an ack the refusal is im_error
    const err = waitFor(sa, 'im_error');
    sa.emit('to', { nope: true });
    assert.strictEqual((await err).code, 20002);
    const ok = await emitAck(sa, 'to', text(c.id));
    assert.strictEqual(ok.code, 0);
    assert.strictEqual(sa.connected, true);
  });

  it('rate-limits a socket with 20009 and keeps it connected', async () => {
    const original = app.config.rateLimit.socketEvents;
    app.config.rateLimit.socketEvents = { points: 5, duration: 2 };
    try {
      const a = await signup();
      const sa = await online(a);
      const replies = await Promise.all(Array.from({ length: 8 }, () => emitAck(sa, 'recent_conversation')));
      const limited = replies.filter(r => r.code === 20009);
      assert.ok(limited.length >= 3, JSON.stringify(replies.map(r => r.code)));
      assert.strictEqual(limited[0].data.action, 'CHAT_PULL_RECENT_CONVERSATION');
      assert.strictEqual(sa.connected, true);
    } finally {
      app.config.rateLimit.socketEvents = original;
    }
  });

  it('recent_conversation: newest first, with the peer, the last message and unread counts', async () => {
    const [ a, b, c ] = await Promise.all([ signup(), signup(), signup() ]);
    const sa = await online(a);
    const [ sb, sc ] = await Promise.all([ online(b), online(c) ]);
    await emitAck(sb, 'to', text(a.id, 'from b 1'));
    await emitAck(sb, 'to', text(a.id, 'from b 2'));
    await emitAck(sa, 'to', text(b.id, 'my reply'));
    await emitAck(sb, 'to', text(a.id, 'from b 3'));
    await sleep(5);
    const last = (await emitAck(sc, 'to', text(a.id, 'from c'))).data.payload;
    const r = await emitAck(sa, 'recent_conversation');
    assert.strictEqual(r.code, 0);
    assert.strictEqual(r.data.action, 'CHAT_PULL_RECENT_CONVERSATION');
    const [ first, second ] = r.data.payload;
    assert.strictEqual(r.data.payload.length, 2);
    assert.strictEqual(first.timelineId, `${a.id}@${c.id}`);
    assert.strictEqual(first.typeu, 1);
    assert.strictEqual(first.peer._id, c.id);
    assert.strictEqual(first.peer.username, c.username);
    assert.strictEqual(first.peer.passwordHash, undefined);
    assert.strictEqual(first.lastMessage._id, last._id);
    assert.strictEqual(first.unread, 1);
    assert.strictEqual(second.peer._id, b.id);
    assert.strictEqual(second.unread, 1, 'what came before my reply counts as seen; my reply is not unread');
    assert.strictEqual(second.lastMessage.content, 'from b 3');
    assert.ok(first.updateTime >= second.updateTime);

    // the REST route answers the same
    const rest = await api('GET', '/api/conversations', { token: a.token });
    assert.strictEqual(rest.status, 200);
    assert.deepStrictEqual(rest.body.data.map((x: any) => x.conversationId), r.data.payload.map((x: any) => x.conversationId));

    // reading b's messages clears b's unread
    await emitAck(sa, 'to_reader', { timelineId: `${b.id}@${a.id}`, typeu: 1, seq: 4 });
    const after = (await emitAck(sa, 'recent_conversation')).data.payload;
    assert.strictEqual(after.find((x: any) => x.peer._id === b.id).unread, 0);
  });

  it('history_message: cursor mode and page mode, newest first; refusals', async () => {
    const [ a, b, c ] = await Promise.all([ signup(), signup(), signup() ]);
    const sa = await online(a);
    for (let i = 1; i <= 25; i++) await emitAck(sa, 'to', text(b.id, `m${i}`));
    const timelineId = `${b.id}@${a.id}`; // either order

    const newest = await emitAck(sa, 'history_message', { timelineId, typeu: 1 });
    assert.strictEqual(newest.code, 0);
    assert.strictEqual(newest.data.action, 'CHAT_PULL_HISTORY_MESSAGE');
    assert.deepStrictEqual(newest.data.payload.map((m: any) => m.seq), Array.from({ length: 20 }, (_, i) => 25 - i));
    const before = await emitAck(sa, 'history_message', { timelineId, typeu: 1, before: 6, limit: 3 });
    assert.deepStrictEqual(before.data.payload.map((m: any) => m.seq), [ 5, 4, 3 ]);

    const page1 = await emitAck(sa, 'history_message', { timelineId, typeu: 1, page: 1 });
    assert.strictEqual(page1.data.payload.currentPage, 1);
    assert.strictEqual(page1.data.payload.lastPage, 2);
    assert.strictEqual(page1.data.payload.docs[0].seq, 25);
    const page2 = await emitAck(sa, 'history_message', { timelineId, typeu: 1, page: 2 });
    assert.deepStrictEqual(page2.data.payload.docs.map((m: any) => m.seq), [ 5, 4, 3, 2, 1 ]);

    const reply = waitFor(sa, 'history_message');
    sa.emit('history_message', { timelineId, typeu: 1, limit: 1 });
    assert.strictEqual((await reply).data.payload[0].seq, 25);

    assert.strictEqual((await emitAck(sa, 'history_message', { typeu: 1 })).code, 20002);
    assert.strictEqual((await emitAck(sa, 'history_message', { timelineId })).code, 20002);
    assert.strictEqual((await emitAck(sa, 'history_message', { timelineId, typeu: 1, limit: 101 })).code, 20002);
    const sc = await online(c);
    const foreign = await emitAck(sc, 'history_message', { timelineId, typeu: 1 });
    assert.strictEqual(foreign.code, 10006);

    // REST: same answers, and a deleted message is hidden for me only
    const rest = await api('GET', `/api/messages?timelineId=${timelineId}&typeu=1&before=3`, { token: a.token });
    assert.strictEqual(rest.status, 200);
    assert.deepStrictEqual(rest.body.data.map((m: any) => m.seq), [ 2, 1 ]);
    const paged = await api('GET', `/api/messages?timelineId=${timelineId}&typeu=1&page=2`, { token: b.token });
    assert.strictEqual(paged.body.data.docs.length, 5);
    const del = await api('DELETE', `/api/messages/${rest.body.data[0]._id}`, { token: a.token });
    assert.strictEqual(del.status, 200);
    const mine = await api('GET', `/api/messages?timelineId=${timelineId}&typeu=1&before=3`, { token: a.token });
    assert.deepStrictEqual(mine.body.data.map((m: any) => m.seq), [ 1 ]);
    const theirs = await api('GET', `/api/messages?timelineId=${timelineId}&typeu=1&before=3`, { token: b.token });
    assert.deepStrictEqual(theirs.body.data.map((m: any) => m.seq), [ 2, 1 ]);
    assert.strictEqual((await api('DELETE', `/api/messages/${rest.body.data[1]._id}`, { token: c.token })).status, 404);
    assert.strictEqual((await api('DELETE', '/api/messages/nope', { token: a.token })).status, 400);
    assert.strictEqual((await api('GET', `/api/messages?timelineId=${timelineId}&typeu=1`, {})).status, 401);
    assert.strictEqual((await api('GET', `/api/messages?timelineId=${timelineId}&typeu=3`, { token: a.token })).body.code, 20002);
    assert.strictEqual((await api('GET', `/api/messages?timelineId=${timelineId}&typeu=1`, { token: c.token })).status, 403);
  });

  it('to_reader: the online sender gets receipts; receipts for an offline sender are queued for readed_message', async () => {
    const [ a, b ] = await Promise.all([ signup(), signup() ]);
    const [ sa, sb ] = await Promise.all([ online(a), online(b, 'v2') ]);
    const m1 = (await emitAck(sa, 'to', text(b.id, 'one'))).data.payload;
    const m2 = (await emitAck(sa, 'to', text(b.id, 'two'))).data.payload;

    const receipt = waitFor(sa, 'to_reader');
    const ok = await emitAck(sb, 'to_reader', { _id: m1._id });
    assert.strictEqual(ok.code, 0);
    assert.strictEqual(ok.data.payload, null);
    const live = await receipt;
    assert.strictEqual(live.data.action, 'CHAT_TO_READED');
    assert.deepStrictEqual(live.data.payload, [{ _id: m1._id, fp: m1.fp, timelineId: m1.timelineId, typeu: 1, seq: 1, readed: [ b.id ] }]);
    // reading the same again tells nobody twice
    const quiet = notWithin(sa, 'to_reader', 300);
    await emitAck(sb, 'to_reader', m1._id);
    assert.ok(await quiet);

    sa.close();
    await sleep(100);
    await emitAck(sb, 'to_reader', { timelineId: m2.timelineId, typeu: 1, seq: m2.seq });
    const back = await online(a);
    const queued = waitFor(back, 'to_reader');
    back.emit('readed_message');
    const env = await queued;
    assert.strictEqual(env.data.action, 'CHAT_TO_READED');
    assert.deepStrictEqual(env.data.payload, [{ _id: m2._id, fp: m2.fp, timelineId: m2.timelineId, typeu: 1, seq: 2, readed: [ b.id ] }]);
    const empty = await emitAck(back, 'readed_message');
    assert.deepStrictEqual(empty.data.payload, []);
    assert.strictEqual((await emitAck(sb, 'to_reader', { _id: '0123456789abcdef01234567' })).code, 10005);
  });

  it('to_typing reaches the peer\'s devices, not stored, acked with null', async () => {
    const [ a, b ] = await Promise.all([ signup(), signup() ]);
    const [ sa, sb ] = await Promise.all([ online(a), online(b, 'v2') ]);
    const typing = waitFor(sb, 'to_typing');
    const ack = await emitAck(sa, 'to_typing', { to: b.id, typeu: 1 });
    assert.strictEqual(ack.code, 0);
    assert.strictEqual(ack.data.payload, null);
    const got = await typing;
    assert.strictEqual(got.data.action, 'CHAT_TO_TYPING');
    assert.deepStrictEqual(got.data.payload, { timelineId: `${a.id}@${b.id}`, from: a.id });
    // typeu 2 is room typing since §8: a user id is no room of theirs
    assert.strictEqual((await emitAck(sa, 'to_typing', { to: b.id, typeu: 2 })).code, 20003);
    assert.strictEqual((await emitAck(sa, 'to_typing', { to: b.id, typeu: 3 })).code, 20002);
    const replies = await Promise.all(Array.from({ length: 8 }, () => emitAck(sa, 'to_typing', { to: b.id })));
    assert.ok(replies.some(r => r.code === 20009), 'typing is rate-limited');
  });

  it('to_undo: within the window the message becomes a recall marker for everyone; after it, 20003', async () => {
    const [ a, b ] = await Promise.all([ signup(), signup() ]);
    const [ sa, sb ] = await Promise.all([ online(a), online(b) ]);
    const desk = await online(a, 'v2', 'DESKTOP');
    const delivered = Promise.all([ waitFor(sb, 'c_message'), waitFor(desk, 'c_message') ]);
    const original = (await emitAck(sa, 'to', text(b.id, 'oops'))).data.payload;
    await delivered;

    const recalled = waitFor(sb, 'c_message');
    const synced = waitFor(desk, 'c_message');
    const ack = await emitAck(sa, 'to_undo', { _id: original._id });
    assert.strictEqual(ack.code, 0, JSON.stringify(ack));
    assert.strictEqual(ack.data.action, 'CHAT_TO_ACK');
    assert.strictEqual(ack.data.payload._id, original._id);
    assert.strictEqual(ack.data.payload.type, 10);
    assert.strictEqual(ack.data.payload.content, '');
    const got = await recalled;
    assert.strictEqual(got.data.payload._id, original._id);
    assert.strictEqual(got.data.payload.fp, original.fp);
    assert.strictEqual(got.data.payload.type, 10);
    assert.strictEqual((await synced).meta.sync, true);
    const history = await emitAck(sb, 'history_message', { timelineId: original.timelineId, typeu: 1 });
    assert.strictEqual(history.data.payload[0].type, 10);

    // an image recalled by fp becomes 21
    const image = (await emitAck(sa, 'to', { type: 2, to: b.id, content: '/files/x', fp: fp() })).data.payload;
    const byFp = await emitAck(sa, 'to_undo', { fp: image.fp });
    assert.strictEqual(byFp.data.payload.type, 21);

    // too late
    const old = (await emitAck(sa, 'to', text(b.id, 'old'))).data.payload;
    await app.model.Message.updateOne({ _id: old._id }, { $set: { sendTime: new Date(Date.now() - 121_000) } });
    const late = await emitAck(sa, 'to_undo', { _id: old._id });
    assert.strictEqual(late.code, 20003);
    assert.strictEqual(late.data.action, 'CHAT_TO_UNDO');
    // not yours
    const notMine = await emitAck(sb, 'to_undo', { _id: image._id });
    assert.strictEqual(notMine.code, 20003);
    const unknown = await emitAck(sa, 'to_undo', { _id: '0123456789abcdef01234567' });
    assert.strictEqual(unknown.code, 10005);
    const noRef = await emitAck(sa, 'to_undo', {});
    assert.strictEqual(noRef.code, 20002);
  });

  describe('rooms (typeu 2)', () => {
    it('a room message is stored once and reaches every member socket but the sender, with sync to the sender\'s other device', async () => {
      const [ owner, m1, m2, outsider ] = await Promise.all([ signup(), signup(), signup(), signup() ]);
      const roomId = await makeRoom(owner, [ m1, m2 ]);
      const so = await online(owner);
      const soDesk = await online(owner, 'v2', 'DESKTOP');
      const [ s1, s2, sx ] = await Promise.all([ online(m1, 'v2'), online(m2), online(outsider) ]);
      // no explicit join: a socket joins its rooms on connect
      const got1 = waitFor(s1, 'c_message');
      const got2 = waitFor(s2, 'c_message');
      const sync = waitFor(soDesk, 'c_message');
      const quietOwner = notWithin(so, 'c_message', 400);
      const quietOutsider = notWithin(sx, 'c_message', 400);
      const ack = await emitAck(so, 'to', { type: 1, to: roomId, typeu: 2, content: 'hello room', fp: fp() });
      assert.strictEqual(ack.code, 0, JSON.stringify(ack));
      const stored = ack.data.payload;
      assert.strictEqual(stored.conversationId, roomId);
      assert.strictEqual(stored.timelineId, roomId);
      assert.strictEqual(stored.seq, 1);
      assert.deepStrictEqual((await got1).data.payload, stored);
      assert.deepStrictEqual((await got2).data.payload, stored);
      assert.strictEqual((await sync).meta.sync, true);
      assert.ok(await quietOwner);
      assert.ok(await quietOutsider);
      assert.strictEqual(await app.model.Message.countDocuments({ conversationId: roomId }), 1);

      // non-member 20003, unknown room 20005
      assert.strictEqual((await emitAck(sx, 'to', { type: 1, to: roomId, typeu: 2, content: 'x', fp: fp() })).code, 20003);
      assert.strictEqual((await emitAck(sx, 'to', { type: 1, to: '0123456789abcdef01234567', typeu: 2, content: 'x', fp: fp() })).code, 20005);
      // history is for members only
      assert.strictEqual((await emitAck(sx, 'history_message', { timelineId: roomId, typeu: 2 })).code, 10006);
      assert.strictEqual((await emitAck(s1, 'history_message', { timelineId: roomId, typeu: 2 })).data.payload[0]._id, stored._id);
    });

    it('room messages wait in offline_message for members who were away; a newcomer does not get the past', async () => {
      const [ owner, away ] = await Promise.all([ signup(), signup() ]);
      const roomId = await makeRoom(owner, [ away ]);
      const so = await online(owner);
      const sent = (await emitAck(so, 'to', { type: 1, to: roomId, typeu: 2, content: 'while away', fp: fp() })).data.payload;
      const late = await signup();
      await app.model.Room.updateOne({ _id: roomId }, { $addToSet: { members: late.id } });
      await app.messages.joinRoom(roomId, [ late.id ]);

      const sa = await online(away);
      const pull = await emitAck(sa, 'offline_message');
      assert.deepStrictEqual(pull.data.payload.map((m: any) => m._id), [ sent._id ]);
      const sl = await online(late);
      assert.deepStrictEqual((await emitAck(sl, 'offline_message')).data.payload, []);
      assert.deepStrictEqual((await emitAck(sl, 'history_message', { timelineId: roomId, typeu: 2 })).data.payload, []);
      const conv = (await emitAck(sa, 'recent_conversation')).data.payload.find((c: any) => c.conversationId === roomId);
      assert.strictEqual(conv.typeu, 2);
      assert.strictEqual(conv.room._id, roomId);
      assert.strictEqual(conv.unread, 1);
    });

    it('the room owner may recall any member\'s message at any time', async () => {
      const [ owner, member ] = await Promise.all([ signup(), signup() ]);
      const roomId = await makeRoom(owner, [ member ]);
      const [ so, sm ] = await Promise.all([ online(owner), online(member) ]);
      const msg = (await emitAck(sm, 'to', { type: 2, to: roomId, typeu: 2, content: '/files/y', fp: fp() })).data.payload;
      await app.model.Message.updateOne({ _id: msg._id }, { $set: { sendTime: new Date(Date.now() - 3600_000) } });
      assert.strictEqual((await emitAck(sm, 'to_undo', { _id: msg._id })).code, 20003);
      const r = await emitAck(so, 'to_undo', { _id: msg._id });
      assert.strictEqual(r.code, 0);
      assert.strictEqual(r.data.payload.type, 21);
    });
  });
});
