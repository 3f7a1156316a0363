import assert from 'node:assert';
import mm from 'egg-mock';
import { api, app, connectChat, connectOk, emitAck, notWithin, signup, sleep, uniqueName, waitFor, type AnySocket, type ClientVersion, type TestUser } from '../../../helpers';

let fpCounter = 0;
const fp = () => `fp-${Date.now()}-${fpCounter++}`;
const text = (to: string, content = 'hello', extra: Record<string, unknown> = {}) => ({ type: 1, to, content, fp: fp(), ...extra });
const image = (to: string, typeu = 1) => ({ type: 2, to, typeu, content: '/files/x', fp: fp() });
const toRoom = (roomId: string, content = 'hello room') => ({ type: 1, to: roomId, typeu: 2, content, fp: fp() });
const UNKNOWN_ID = '0123456789abcdef01234567';

const ids = (messages: any[]) => messages.map(m => m._id);
const seqs = (messages: any[]) => messages.map(m => m.seq);
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

async function online(u: TestUser, version: ClientVersion = 'v4', deviceType = 'WEB'): Promise<AnySocket> {
  return connectChat({ version, token: u.token, query: { deviceType } });
}

/** Two new users, each with one socket. */
async function pair(versions: [ClientVersion, ClientVersion] = [ 'v4', 'v4' ]) {
  const [ a, b ] = await Promise.all([ signup(), signup() ]);
  const [ sa, sb ] = await Promise.all([ online(a, versions[0]), online(b, versions[1]) ]);
  return { a, b, sa, sb };
}

/** Sends one message and returns the stored message of its ack. */
async function send(socket: AnySocket, msg: Record<string, unknown>) {
  const ack = await emitAck(socket, 'to', msg);
  assert.strictEqual(ack.code, 0, JSON.stringify(ack));
  return ack.data.payload;
}

/** Sends `n` texts one after the other and returns the stored messages. */
async function sendMany(socket: AnySocket, to: string, n: number) {
  const sent: any[] = [];
  for (let i = 1; i <= n; i++) sent.push(await send(socket, text(to, `m${i}`)));
  return sent;
}

/** Sends the same message five times: twice in a row, then three at once (a client retrying on a flaky link). */
async function sendWithRetries(socket: AnySocket, msg: Record<string, unknown>) {
  const first = await emitAck(socket, 'to', msg);
  const again = await emitAck(socket, 'to', msg);
  const burst = await Promise.all([ 1, 2, 3 ].map(() => emitAck(socket, 'to', msg)));
  return [ first, again, ...burst ];
}

/** Collects every `event` a socket receives. */
function collect(socket: AnySocket, event: string) {
  const got: any[] = [];
  socket.on(event, (e: any) => got.push(e));
  return got;
}

/** A room made through the REST API; `members` join the owner. */
async function makeRoom(owner: TestUser, members: TestUser[]) {
  const res = await api('POST', '/api/rooms', { token: owner.token, body: { name: uniqueName('room'), members: members.map(m => m.id) } });
  assert.strictEqual(res.status, 201, JSON.stringify(res.body));
  return res.body.data._id as string;
}

describe('/chat messaging (PROTOCOL §4, §6)', () => {
  describe('to (c2c)', () => {
    for (const version of [ 'v2', 'v4' ] as ClientVersion[]) {
      it(`${version}: the ack callback gets to_ack with the stored message`, async () => {
        const { a, b, sa } = await pair([ version, version ]);
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
      });

      it(`${version}: the peer gets c_message with the stored message and no meta.sync`, async () => {
        const { b, sa, sb } = await pair([ version, version ]);
        const incoming = waitFor(sb, 'c_message');
        const stored = await send(sa, text(b.id, 'hi there', { time: 123, extra: { k: 'v' } }));
        const got = await incoming;
        assert.strictEqual(got.code, 0);
        assert.strictEqual(got.data.action, 'CHAT_MESSAGE');
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

    describe('the sender\'s other devices', () => {
      let b: TestUser;
      let phone: AnySocket;
      let desk: AnySocket;
      beforeEach(async () => {
        let a: TestUser;
        [ a, b ] = await Promise.all([ signup(), signup() ]);
        phone = await online(a, 'v4', 'MOBILE');
        desk = await online(a, 'v2', 'DESKTOP');
        await online(b);
      });

      it('get the message as c_message with meta.sync', async () => {
        const sync = waitFor(desk, 'c_message');
        const stored = await send(phone, text(b.id));
        const got = await sync;
        assert.strictEqual(got.meta.sync, true);
        assert.strictEqual(got.data.payload._id, stored._id);
      });

      it('but the sending socket does not get its own message back', async () => {
        const quiet = notWithin(phone, 'c_message', 400);
        await send(phone, text(b.id));
        assert.ok(await quiet, 'the sending socket got its own message back');
      });
    });
  });

  describe('to: a retried fp', () => {
    it('returns the stored message again, with the same _id and seq', async () => {
      const { b, sa } = await pair();
      const msg = text(b.id);
      const first = await emitAck(sa, 'to', msg);
      const again = await emitAck(sa, 'to', msg);
      assert.strictEqual(again.code, 0);
      assert.strictEqual(again.data.payload._id, first.data.payload._id);
      assert.strictEqual(again.data.payload.seq, first.data.payload.seq);
    });

    it('sent several times in one tick gets one stored message in every reply', async () => {
      const { b, sa } = await pair();
      const msg = text(b.id);
      const burst = await Promise.all([ 1, 2, 3 ].map(() => emitAck(sa, 'to', msg)));
      assert.deepStrictEqual(burst.map(r => r.code), [ 0, 0, 0 ]);
      assert.strictEqual(new Set(burst.map(r => r.data.payload._id)).size, 1);
      assert.strictEqual(new Set(burst.map(r => r.data.payload.seq)).size, 1);
    });

    it('is delivered to the peer once', async () => {
      const { b, sa, sb } = await pair();
      const received = collect(sb, 'c_message');
      await sendWithRetries(sa, text(b.id));
      await sleep(300);
      assert.strictEqual(received.length, 1);
    });

    it('is stored once', async () => {
      const { b, sa } = await pair();
      const [ first ] = await sendWithRetries(sa, text(b.id));
      const history = await emitAck(sa, 'history_message', { timelineId: first.data.payload.timelineId, typeu: 1 });
      assert.deepStrictEqual(ids(history.data.payload), [ first.data.payload._id ]);
    });

    it('uses no seq: the next message gets the next one', async () => {
      const { b, sa } = await pair();
      const [ first ] = await sendWithRetries(sa, text(b.id));
      const next = await send(sa, text(b.id));
      assert.strictEqual(next.seq, first.data.payload.seq + 1);
    });
  });

  describe('to: seq under concurrent senders to one conversation', () => {
    const n = 60;
    let a: TestUser;
    let timelineId: string;
    let acks: any[];
    // one burst from both sides at once; the its below only read its outcome
    before(async () => {
      const users = await pair([ 'v4', 'v2' ]);
      a = users.a;
      timelineId = `${users.a.id}@${users.b.id}`;
      acks = await Promise.all([
        ...Array.from({ length: n }, (_, i) => emitAck(users.sa, 'to', text(users.b.id, `a${i}`), 10000)),
        ...Array.from({ length: n }, (_, i) => emitAck(users.sb, 'to', text(users.a.id, `b${i}`), 10000)),
      ]);
    });

    it('every message is acked, and the seqs are exactly 1..2n: none skipped, none twice', () => {
      for (const r of acks) assert.strictEqual(r.code, 0, JSON.stringify(r));
      assert.deepStrictEqual(acks.map(r => r.data.payload.seq).sort((x, y) => x - y), range(1, 2 * n));
    });

    it('each sender\'s messages keep the order they were sent in', () => {
      const aSeqs = acks.slice(0, n).map(r => r.data.payload.seq);
      assert.deepStrictEqual(aSeqs, [ ...aSeqs ].sort((x, y) => x - y));
    });

    it('history holds every acked message under its acked seq', async () => {
      const sa = await online(a);
      const newest = (await emitAck(sa, 'history_message', { timelineId, typeu: 1, limit: 100 })).data.payload;
      const older = (await emitAck(sa, 'history_message', { timelineId, typeu: 1, limit: 100, before: newest.at(-1).seq })).data.payload;
      const bySeq = (x: [number, string], y: [number, string]) => x[0] - y[0];
      const stored = [ ...newest, ...older ].map((m): [number, string] => [ m.seq, m._id ]).sort(bySeq);
      const acked = acks.map((r): [number, string] => [ r.data.payload.seq, r.data.payload._id ]).sort(bySeq);
      assert.deepStrictEqual(stored, acked);
    });
  });

  describe('offline_message and c_message_ack', () => {
    /** a sends `n` messages to b while b is offline */
    async function awayWith(n: number) {
      const [ a, b ] = await Promise.all([ signup(), signup() ]);
      const sa = await online(a);
      const sent = await sendMany(sa, b.id, n);
      return { a, b, sa, sent };
    }

    it('v2: the pull returns the messages sent while the user was away, oldest first, without meta.more', async () => {
      const { b, sent } = await awayWith(3);
      const sb = await online(b, 'v2');
      const pull = await emitAck(sb, 'offline_message');
      assert.strictEqual(pull.code, 0);
      assert.strictEqual(pull.data.action, 'CHAT_PULL_OFFLINE_MESSAGE');
      assert.deepStrictEqual(ids(pull.data.payload), ids(sent));
      assert.ok(!pull.meta.more);
    });

    it('the messages are pulled again until they are acked', async () => {
      const { b, sent } = await awayWith(3);
      const sb = await online(b, 'v2');
      await emitAck(sb, 'offline_message');
      const again = await emitAck(sb, 'offline_message');
      assert.deepStrictEqual(ids(again.data.payload), ids(sent));
    });

    it('without an ack callback the pull replies with the offline_message event', async () => {
      const { b, sent } = await awayWith(3);
      const sb = await online(b, 'v2');
      const reply = waitFor(sb, 'offline_message');
      sb.emit('offline_message');
      const env = await reply;
      assert.strictEqual(env.data.action, 'CHAT_PULL_OFFLINE_MESSAGE');
      assert.deepStrictEqual(ids(env.data.payload), ids(sent));
    });

    it('c_message_ack of {data: [...]} is answered with code 0, CHAT_MESSAGE_ACK and payload null', async () => {
      const { b } = await awayWith(3);
      const sb = await online(b, 'v2');
      const pull = await emitAck(sb, 'offline_message');
      const acked = await emitAck(sb, 'c_message_ack', { data: pull.data.payload });
      assert.strictEqual(acked.code, 0);
      assert.strictEqual(acked.data.action, 'CHAT_MESSAGE_ACK');
      assert.strictEqual(acked.data.payload, null);
    });

    it('acked messages are not pulled again, also on a later connection', async () => {
      const { b } = await awayWith(3);
      const sb = await online(b, 'v2');
      const pull = await emitAck(sb, 'offline_message');
      await emitAck(sb, 'c_message_ack', { data: pull.data.payload });
      sb.close();
      const later = await online(b);
      assert.deepStrictEqual((await emitAck(later, 'offline_message')).data.payload, []);
    });

    it('an array of messages acks them all', async () => {
      const { b } = await awayWith(3);
      const sb = await online(b);
      const pull = await emitAck(sb, 'offline_message');
      await emitAck(sb, 'c_message_ack', pull.data.payload);
      assert.deepStrictEqual((await emitAck(sb, 'offline_message')).data.payload, []);
    });

    it('after an ack, a new message is the only one pending', async () => {
      const { b, sa } = await awayWith(3);
      const sb = await online(b);
      await emitAck(sb, 'c_message_ack', (await emitAck(sb, 'offline_message')).data.payload);
      const fresh = await send(sa, text(b.id, 'new'));
      assert.deepStrictEqual(ids((await emitAck(sb, 'offline_message')).data.payload), [ fresh._id ]);
    });

    it('a message is acked by its fp alone', async () => {
      const { b, sent } = await awayWith(1);
      const sb = await online(b);
      await emitAck(sb, 'c_message_ack', { fp: sent[0].fp });
      assert.deepStrictEqual((await emitAck(sb, 'offline_message')).data.payload, []);
    });

    describe('system notices', () => {
      /** a message, a notice, a message, each sent to b while b is offline */
      async function noticeBetweenMessages() {
        const [ a, b ] = await Promise.all([ signup(), signup() ]);
        const sa = await online(a);
        const before = await send(sa, text(b.id, 'first'));
        await sleep(5);
        const notice = await app.messages.notify({ to: b.id, content: 'maintenance at 2am', event: 'maintenance' });
        await sleep(5);
        const after = await send(sa, text(b.id, 'second'));
        return { b, before, notice, after };
      }

      it('a notice sent while away is pulled among the messages in time order, in its own shape', async () => {
        const { b, before, notice, after } = await noticeBetweenMessages();
        const sb = await online(b);
        const pull = (await emitAck(sb, 'offline_message')).data.payload;
        assert.deepStrictEqual(ids(pull), [ before._id, notice._id, after._id ]);
        assert.deepStrictEqual(pull[1], { _id: notice._id, content: 'maintenance at 2am', event: 'maintenance', from: 'system', time: notice.time });
      });

      it('acking a pull that holds a notice acks the notice too', async () => {
        const { b } = await noticeBetweenMessages();
        const sb = await online(b);
        await emitAck(sb, 'c_message_ack', (await emitAck(sb, 'offline_message')).data.payload);
        assert.deepStrictEqual((await emitAck(sb, 'offline_message')).data.payload, []);
      });
    });

    describe('paging', () => {
      /** 205 messages to b, sent at once (the event rate limit raised for it) */
      async function away205() {
        mm(app.config.rateLimit, 'socketEvents', { points: 1000, duration: 1 });
        const [ a, b ] = await Promise.all([ signup(), signup() ]);
        const sa = await online(a);
        const acks = await Promise.all(Array.from({ length: 205 }, (_, i) => emitAck(sa, 'to', text(b.id, `m${i}`), 10000)));
        assert.ok(acks.every(r => r.code === 0), JSON.stringify(acks.filter(r => r.code !== 0)[0]));
        return b;
      }

      it('a pull returns the oldest 200 with meta.more', async () => {
        const sb = await online(await away205());
        const page = await emitAck(sb, 'offline_message');
        assert.deepStrictEqual(seqs(page.data.payload), range(1, 200));
        assert.strictEqual(page.meta.more, true);
      });

      it('after a full page is acked the next pull returns the rest without meta.more', async () => {
        const sb = await online(await away205());
        await emitAck(sb, 'c_message_ack', (await emitAck(sb, 'offline_message')).data.payload);
        const rest = await emitAck(sb, 'offline_message');
        assert.deepStrictEqual(seqs(rest.data.payload), range(201, 205));
        assert.ok(!rest.meta.more);
      });
    });
  });

  describe('to: refusals', () => {
    it('a message to a user who does not exist is 20005 in CHAT_TO', async () => {
      const { sa } = await pair();
      const r = await emitAck(sa, 'to', text(UNKNOWN_ID));
      assert.strictEqual(r.code, 20005);
      assert.strictEqual(r.data.action, 'CHAT_TO');
    });

    it('a message to a user who blocked the sender is 20003 naming its fp', async () => {
      const { a, b, sa } = await pair();
      assert.strictEqual((await api('POST', `/api/blocks/${a.id}`, { token: b.token })).status, 201);
      const msg = text(b.id);
      const r = await emitAck(sa, 'to', msg);
      assert.strictEqual(r.code, 20003);
      assert.strictEqual(r.data.payload, msg.fp);
    });

    it('a from other than the sender is 20001', async () => {
      const { b, sa } = await pair();
      assert.strictEqual((await emitAck(sa, 'to', text(b.id, 'x', { from: b.id }))).code, 20001);
    });

    describe('a malformed message is 20002 in CHAT_TO', () => {
      let a: TestUser;
      let c: TestUser;
      before(async () => { [ a, c ] = await Promise.all([ signup(), signup() ]); });
      const bad: Array<[string, () => unknown]> = [
        [ 'null', () => null ],
        [ 'a string', () => 'to' ],
        [ 'a number', () => 42 ],
        [ 'an array', () => [] ],
        [ 'an empty object', () => ({}) ],
        [ 'no fp', () => ({ type: 1, to: c.id, content: 'x' }) ],
        [ 'an empty fp', () => ({ type: 1, to: c.id, content: 'x', fp: '' }) ],
        [ 'an fp over 64 characters', () => ({ type: 1, to: c.id, content: 'x', fp: 'f'.repeat(65) }) ],
        [ 'typeu 3 (system)', () => ({ type: 3, to: c.id, content: 'x', fp: fp(), typeu: 3 }) ],
        [ 'an unknown type', () => ({ type: 9, to: c.id, content: 'x', fp: fp() }) ],
        [ 'an operator for to', () => ({ type: 1, to: { $gt: '' }, content: 'x', fp: fp() }) ],
        [ 'an operator for content', () => ({ type: 1, to: c.id, content: { $ne: 1 }, fp: fp() }) ],
        [ 'content over 64 KiB', () => ({ type: 1, to: c.id, content: 'x'.repeat(64 * 1024 + 1), fp: fp() }) ],
        [ 'extra over 4 KiB', () => ({ type: 1, to: c.id, content: 'x', fp: fp(), extra: { big: 'y'.repeat(5000) } }) ],
        [ 'an operator key in extra', () => ({ type: 1, to: c.id, content: 'x', fp: fp(), extra: { $where: 1 } }) ],
      ];
      for (const [ what, payload ] of bad) {
        it(what, async () => {
          const sa = await online(a);
          const r = await emitAck(sa, 'to', payload());
          assert.strictEqual(r.code, 20002, JSON.stringify(r).slice(0, 200));
          assert.strictEqual(r.data.action, 'CHAT_TO');
        });
      }
    });

    it('without an ack callback a refusal comes as im_error', async () => {
      const { sa } = await pair();
      const err = waitFor(sa, 'im_error');
      sa.emit('to', { nope: true });
      assert.strictEqual((await err).code, 20002);
    });

    it('after refusals the socket stays connected and sends', async () => {
      const { a, b, sa } = await pair();
      await api('POST', `/api/blocks/${a.id}`, { token: b.token });
      const c = await signup();
      const refused = [
        await emitAck(sa, 'to', text(UNKNOWN_ID)),
        await emitAck(sa, 'to', text(b.id)),
        await emitAck(sa, 'to', text(c.id, 'x', { from: c.id })),
        await emitAck(sa, 'to', { type: 1, to: c.id }),
      ];
      assert.deepStrictEqual(refused.map(r => r.code), [ 20005, 20003, 20001, 20002 ]);
      assert.strictEqual((await emitAck(sa, 'to', text(c.id))).code, 0);
      assert.strictEqual(sa.connected, true);
    });
  });

  it('a socket over its event rate gets 20009 in the event\'s action and stays connected', async () => {
    mm(app.config.rateLimit, 'socketEvents', { points: 5, duration: 2 });
    const a = await signup();
    const sa = await connectOk({ token: a.token }); // connectChat would spend one of the 5 events
    const replies = await Promise.all(Array.from({ length: 8 }, () => emitAck(sa, 'recent_conversation')));
    const limited = replies.filter(r => r.code === 20009);
    assert.ok(limited.length >= 3, JSON.stringify(replies.map(r => r.code)));
    assert.strictEqual(limited[0].data.action, 'CHAT_PULL_RECENT_CONVERSATION');
    assert.strictEqual(sa.connected, true);
  });

  describe('recent_conversation', () => {
    let a: TestUser;
    let b: TestUser;
    let c: TestUser;
    let lastOfC: any;
    // b sends 2, a replies, b sends 1 more; then c sends 1. The its only read.
    before(async () => {
      [ a, b, c ] = await Promise.all([ signup(), signup(), signup() ]);
      const [ sa, sb, sc ] = await Promise.all([ online(a), online(b), online(c) ]);
      await send(sb, text(a.id, 'from b 1'));
      await send(sb, text(a.id, 'from b 2'));
      await send(sa, text(b.id, 'my reply'));
      await send(sb, text(a.id, 'from b 3'));
      await sleep(5);
      lastOfC = await send(sc, text(a.id, 'from c'));
    });
    const recent = async () => emitAck(await online(a), 'recent_conversation');

    it('replies in CHAT_PULL_RECENT_CONVERSATION with the conversations newest first', async () => {
      const r = await recent();
      assert.strictEqual(r.code, 0);
      assert.strictEqual(r.data.action, 'CHAT_PULL_RECENT_CONVERSATION');
      assert.deepStrictEqual(r.data.payload.map((x: any) => x.peer._id), [ c.id, b.id ]);
      assert.ok(r.data.payload[0].updateTime >= r.data.payload[1].updateTime);
    });

    it('an entry has the timelineId from me, typeu 1, the peer\'s public profile and the last message', async () => {
      const [ first, second ] = (await recent()).data.payload;
      assert.strictEqual(first.timelineId, `${a.id}@${c.id}`);
      assert.strictEqual(first.typeu, 1);
      assert.strictEqual(first.peer._id, c.id);
      assert.strictEqual(first.peer.username, c.username);
      assert.strictEqual(first.peer.passwordHash, undefined);
      assert.strictEqual(first.lastMessage._id, lastOfC._id);
      assert.strictEqual(second.lastMessage.content, 'from b 3');
    });

    it('unread counts the peer\'s messages after my last message in the conversation', async () => {
      const [ first, second ] = (await recent()).data.payload;
      assert.strictEqual(first.unread, 1);
      assert.strictEqual(second.unread, 1, 'what came before my reply counts as seen; my reply is not unread');
    });

    it('reading the conversation up to its last seq clears its unread count', async () => {
      const [ x, y ] = await Promise.all([ signup(), signup() ]);
      const sy = await online(y);
      await sendMany(sy, x.id, 2);
      const sx = await online(x);
      await emitAck(sx, 'to_reader', { timelineId: `${y.id}@${x.id}`, typeu: 1, seq: 2 });
      const [ entry ] = (await emitAck(sx, 'recent_conversation')).data.payload;
      assert.strictEqual(entry.unread, 0);
    });
  });

  describe('history_message', () => {
    let a: TestUser;
    let b: TestUser;
    let timelineId: string;
    // 25 messages from a to b; the its only read them
    before(async () => {
      [ a, b ] = await Promise.all([ signup(), signup() ]);
      await sendMany(await online(a), b.id, 25);
      timelineId = `${b.id}@${a.id}`; // the other order than the stored one: either is accepted
    });
    const history = async (request: Record<string, unknown>, user = a) => emitAck(await online(user), 'history_message', request);

    it('by default replies in CHAT_PULL_HISTORY_MESSAGE with the newest 20, newest first', async () => {
      const r = await history({ timelineId, typeu: 1 });
      assert.strictEqual(r.code, 0);
      assert.strictEqual(r.data.action, 'CHAT_PULL_HISTORY_MESSAGE');
      assert.deepStrictEqual(seqs(r.data.payload), range(6, 25).reverse());
    });

    it('accepts the c2c timelineId in either order', async () => {
      const [ asStored, reversed ] = [ await history({ timelineId: `${a.id}@${b.id}`, typeu: 1 }), await history({ timelineId, typeu: 1 }) ];
      assert.deepStrictEqual(ids(asStored.data.payload), ids(reversed.data.payload));
    });

    it('before and limit: that many messages older than before, newest first', async () => {
      assert.deepStrictEqual(seqs((await history({ timelineId, typeu: 1, before: 6, limit: 3 })).data.payload), [ 5, 4, 3 ]);
    });

    it('page 1 has the newest 20 with currentPage and lastPage', async () => {
      const { payload } = (await history({ timelineId, typeu: 1, page: 1 })).data;
      assert.strictEqual(payload.currentPage, 1);
      assert.strictEqual(payload.lastPage, 2);
      assert.deepStrictEqual(seqs(payload.docs), range(6, 25).reverse());
    });

    it('the last page has the oldest, newest first', async () => {
      assert.deepStrictEqual(seqs((await history({ timelineId, typeu: 1, page: 2 })).data.payload.docs), [ 5, 4, 3, 2, 1 ]);
    });

    it('without an ack callback the reply comes as the history_message event', async () => {
      const sa = await online(a);
      const reply = waitFor(sa, 'history_message');
      sa.emit('history_message', { timelineId, typeu: 1, limit: 1 });
      assert.deepStrictEqual(seqs((await reply).data.payload), [ 25 ]);
    });

    const refused: Array<[string, () => Record<string, unknown>]> = [
      [ 'no timelineId', () => ({ typeu: 1 }) ],
      [ 'no typeu', () => ({ timelineId }) ],
      [ 'a limit over 100', () => ({ timelineId, typeu: 1, limit: 101 }) ],
    ];
    for (const [ what, request ] of refused) {
      it(`refuses ${what} with 20002`, async () => {
        assert.strictEqual((await history(request())).code, 20002);
      });
    }

    it('a user who is not part of the conversation gets 10006', async () => {
      assert.strictEqual((await history({ timelineId, typeu: 1 }, await signup())).code, 10006);
    });
  });

  describe('to_reader and readed_message', () => {
    it('to_reader is answered with code 0 and payload null', async () => {
      const { b, sa, sb } = await pair([ 'v4', 'v2' ]);
      const m1 = await send(sa, text(b.id, 'one'));
      const ok = await emitAck(sb, 'to_reader', { _id: m1._id });
      assert.strictEqual(ok.code, 0);
      assert.strictEqual(ok.data.payload, null);
    });

    it('the online sender gets a CHAT_TO_READED receipt naming the message and the reader', async () => {
      const { b, sa, sb } = await pair([ 'v4', 'v2' ]);
      const m1 = await send(sa, text(b.id, 'one'));
      const receipt = waitFor(sa, 'to_reader');
      await emitAck(sb, 'to_reader', { _id: m1._id });
      const live = await receipt;
      assert.strictEqual(live.data.action, 'CHAT_TO_READED');
      assert.deepStrictEqual(live.data.payload, [{ _id: m1._id, fp: m1.fp, timelineId: m1.timelineId, typeu: 1, seq: 1, readed: [ b.id ] }]);
    });

    it('reading a message again (here by its bare id) sends no second receipt', async () => {
      const { b, sa, sb } = await pair([ 'v4', 'v2' ]);
      const m1 = await send(sa, text(b.id, 'one'));
      const first = waitFor(sa, 'to_reader');
      await emitAck(sb, 'to_reader', { _id: m1._id });
      await first;
      const quiet = notWithin(sa, 'to_reader', 300);
      await emitAck(sb, 'to_reader', m1._id);
      assert.ok(await quiet);
    });

    it('receipts made while the sender is offline are queued for readed_message; those delivered live are not', async () => {
      const { a, b, sa, sb } = await pair([ 'v4', 'v2' ]);
      const m1 = await send(sa, text(b.id, 'one'));
      const m2 = await send(sa, text(b.id, 'two'));
      const live = waitFor(sa, 'to_reader');
      await emitAck(sb, 'to_reader', { _id: m1._id });
      await live;
      sa.close();
      await sleep(100);
      await emitAck(sb, 'to_reader', { timelineId: m2.timelineId, typeu: 1, seq: m2.seq });
      const back = await online(a);
      const queued = waitFor(back, 'to_reader');
      back.emit('readed_message');
      const env = await queued;
      assert.strictEqual(env.data.action, 'CHAT_TO_READED');
      assert.deepStrictEqual(env.data.payload, [{ _id: m2._id, fp: m2.fp, timelineId: m2.timelineId, typeu: 1, seq: 2, readed: [ b.id ] }]);
    });

    it('readed_message empties the queue: the next one replies []', async () => {
      const { a, b, sa, sb } = await pair([ 'v4', 'v2' ]);
      const m1 = await send(sa, text(b.id, 'one'));
      sa.close();
      await sleep(100);
      await emitAck(sb, 'to_reader', { _id: m1._id });
      const back = await online(a);
      assert.strictEqual((await emitAck(back, 'readed_message')).data.payload.length, 1);
      assert.deepStrictEqual((await emitAck(back, 'readed_message')).data.payload, []);
    });

    it('reading an unknown message is 10005', async () => {
      const { sb } = await pair();
      assert.strictEqual((await emitAck(sb, 'to_reader', { _id: UNKNOWN_ID })).code, 10005);
    });
  });

  describe('to_typing', () => {
    it('is answered with code 0 and payload null', async () => {
      const { b, sa } = await pair([ 'v4', 'v2' ]);
      const ack = await emitAck(sa, 'to_typing', { to: b.id, typeu: 1 });
      assert.strictEqual(ack.code, 0);
      assert.strictEqual(ack.data.payload, null);
    });

    it('the peer gets CHAT_TO_TYPING with the timeline and the typer', async () => {
      const { a, b, sa, sb } = await pair([ 'v4', 'v2' ]);
      const typing = waitFor(sb, 'to_typing');
      await emitAck(sa, 'to_typing', { to: b.id, typeu: 1 });
      const got = await typing;
      assert.strictEqual(got.data.action, 'CHAT_TO_TYPING');
      assert.deepStrictEqual(got.data.payload, { timelineId: `${a.id}@${b.id}`, from: a.id });
    });

    it('is c2c only: typeu 2 is 20002', async () => {
      const { b, sa } = await pair();
      assert.strictEqual((await emitAck(sa, 'to_typing', { to: b.id, typeu: 2 })).code, 20002);
    });

    it('is rate-limited with 20009', async () => {
      const { b, sa } = await pair();
      const replies = await Promise.all(Array.from({ length: 8 }, () => emitAck(sa, 'to_typing', { to: b.id })));
      assert.ok(replies.some(r => r.code === 20009), JSON.stringify(replies.map(r => r.code)));
    });
  });

  describe('to_undo', () => {
    /** a (with a second device) and b, all online, and a text from a delivered to b and a's desk */
    async function delivered() {
      const { a, b, sa, sb } = await pair();
      const desk = await online(a, 'v2', 'DESKTOP');
      const arrived = Promise.all([ waitFor(sb, 'c_message'), waitFor(desk, 'c_message') ]);
      const original = await send(sa, text(b.id, 'oops'));
      await arrived;
      return { a, b, sa, sb, desk, original };
    }

    it('the sender gets to_ack with the message turned into a recall marker: type 10, content emptied', async () => {
      const { sa, original } = await delivered();
      const ack = await emitAck(sa, 'to_undo', { _id: original._id });
      assert.strictEqual(ack.code, 0, JSON.stringify(ack));
      assert.strictEqual(ack.data.action, 'CHAT_TO_ACK');
      assert.strictEqual(ack.data.payload._id, original._id);
      assert.strictEqual(ack.data.payload.type, 10);
      assert.strictEqual(ack.data.payload.content, '');
    });

    it('the peer gets the recall marker as c_message with the same _id and fp', async () => {
      const { sa, sb, original } = await delivered();
      const recalled = waitFor(sb, 'c_message');
      await emitAck(sa, 'to_undo', { _id: original._id });
      const got = await recalled;
      assert.strictEqual(got.data.payload._id, original._id);
      assert.strictEqual(got.data.payload.fp, original.fp);
      assert.strictEqual(got.data.payload.type, 10);
    });

    it('the sender\'s other device gets the recall marker with meta.sync', async () => {
      const { sa, desk, original } = await delivered();
      const synced = waitFor(desk, 'c_message');
      await emitAck(sa, 'to_undo', { _id: original._id });
      const got = await synced;
      assert.strictEqual(got.meta.sync, true);
      assert.strictEqual(got.data.payload.type, 10);
    });

    it('history shows the recall marker', async () => {
      const { sa, sb, original } = await delivered();
      await emitAck(sa, 'to_undo', { _id: original._id });
      const history = await emitAck(sb, 'history_message', { timelineId: original.timelineId, typeu: 1 });
      assert.strictEqual(history.data.payload[0].type, 10);
    });

    it('a message that is not text, recalled by its fp, becomes type 21', async () => {
      const { b, sa } = await pair();
      const img = await send(sa, image(b.id));
      const byFp = await emitAck(sa, 'to_undo', { fp: img.fp });
      assert.strictEqual(byFp.code, 0, JSON.stringify(byFp));
      assert.strictEqual(byFp.data.payload.type, 21);
    });

    it('after the recall window it is 20003 in CHAT_TO_UNDO', async () => {
      mm(app.config.message, 'recallWindow', 0);
      const { b, sa } = await pair();
      const old = await send(sa, text(b.id, 'old'));
      await sleep(10);
      const late = await emitAck(sa, 'to_undo', { _id: old._id });
      assert.strictEqual(late.code, 20003);
      assert.strictEqual(late.data.action, 'CHAT_TO_UNDO');
    });

    it('someone else\'s message is 20003', async () => {
      const { b, sa, sb } = await pair();
      const img = await send(sa, image(b.id));
      assert.strictEqual((await emitAck(sb, 'to_undo', { _id: img._id })).code, 20003);
    });

    it('an unknown message is 10005', async () => {
      const { sa } = await pair();
      assert.strictEqual((await emitAck(sa, 'to_undo', { _id: UNKNOWN_ID })).code, 10005);
    });

    it('neither _id nor fp is 20002', async () => {
      const { sa } = await pair();
      assert.strictEqual((await emitAck(sa, 'to_undo', {})).code, 20002);
    });
  });

  describe('rooms (typeu 2)', () => {
    /** a room of owner, m1 and m2; everyone online (sockets join their rooms on connect), m1 on v2 */
    async function roomOnline() {
      const [ owner, m1, m2, outsider ] = await Promise.all([ signup(), signup(), signup(), signup() ]);
      const roomId = await makeRoom(owner, [ m1, m2 ]);
      const so = await online(owner);
      const soDesk = await online(owner, 'v2', 'DESKTOP');
      const [ s1, s2, sx ] = await Promise.all([ online(m1, 'v2'), online(m2), online(outsider) ]);
      return { roomId, so, soDesk, s1, s2, sx };
    }

    it('the sender\'s ack has the room as conversationId and timelineId, and seq 1', async () => {
      const { roomId, so } = await roomOnline();
      const stored = await send(so, toRoom(roomId));
      assert.strictEqual(stored.conversationId, roomId);
      assert.strictEqual(stored.timelineId, roomId);
      assert.strictEqual(stored.seq, 1);
    });

    it('every member\'s socket (v2 and v4) gets the stored message as c_message', async () => {
      const { roomId, so, s1, s2 } = await roomOnline();
      const got = Promise.all([ waitFor(s1, 'c_message'), waitFor(s2, 'c_message') ]);
      const stored = await send(so, toRoom(roomId));
      for (const env of await got) assert.deepStrictEqual(env.data.payload, stored);
    });

    it('the sender\'s other device gets it with meta.sync', async () => {
      const { roomId, so, soDesk } = await roomOnline();
      const sync = waitFor(soDesk, 'c_message');
      const stored = await send(so, toRoom(roomId));
      const got = await sync;
      assert.strictEqual(got.meta.sync, true);
      assert.strictEqual(got.data.payload._id, stored._id);
    });

    it('neither the sending socket nor a non-member gets it', async () => {
      const { roomId, so, sx } = await roomOnline();
      const quietOwner = notWithin(so, 'c_message', 400);
      const quietOutsider = notWithin(sx, 'c_message', 400);
      await send(so, toRoom(roomId));
      assert.ok(await quietOwner, 'the sending socket got its own message');
      assert.ok(await quietOutsider, 'a non-member got the message');
    });

    it('it is stored once: a member\'s history holds it', async () => {
      const { roomId, so, s1 } = await roomOnline();
      const stored = await send(so, toRoom(roomId));
      assert.deepStrictEqual(ids((await emitAck(s1, 'history_message', { timelineId: roomId, typeu: 2 })).data.payload), [ stored._id ]);
    });

    it('a non-member cannot send to the room: 20003', async () => {
      const { roomId, sx } = await roomOnline();
      assert.strictEqual((await emitAck(sx, 'to', toRoom(roomId, 'x'))).code, 20003);
    });

    it('a room that does not exist is 20005', async () => {
      const { sa } = await pair();
      assert.strictEqual((await emitAck(sa, 'to', toRoom(UNKNOWN_ID, 'x'))).code, 20005);
    });

    it('a non-member cannot read the room\'s history: 10006', async () => {
      const { roomId, so, sx } = await roomOnline();
      await send(so, toRoom(roomId));
      assert.strictEqual((await emitAck(sx, 'history_message', { timelineId: roomId, typeu: 2 })).code, 10006);
    });

    describe('members who were away', () => {
      /** a room of owner and `away`; the owner sends one message while `away` is offline */
      async function sentWhileAway() {
        const [ owner, away ] = await Promise.all([ signup(), signup() ]);
        const roomId = await makeRoom(owner, [ away ]);
        const sent = await send(await online(owner), toRoom(roomId, 'while away'));
        return { owner, away, roomId, sent };
      }

      /** a user added to the room after `sent` */
      async function newcomer(owner: TestUser, roomId: string) {
        const late = await signup();
        const added = await api('POST', `/api/rooms/${roomId}/members`, { token: owner.token, body: { add: [ late.id ] } });
        assert.strictEqual(added.status, 200, JSON.stringify(added.body));
        return late;
      }

      it('pull the room\'s messages from offline_message', async () => {
        const { away, sent } = await sentWhileAway();
        const pull = await emitAck(await online(away), 'offline_message');
        assert.deepStrictEqual(ids(pull.data.payload), [ sent._id ]);
      });

      it('see the room in recent_conversation with typeu 2, the room and their unread count', async () => {
        const { away, roomId } = await sentWhileAway();
        const conv = (await emitAck(await online(away), 'recent_conversation')).data.payload.find((x: any) => x.conversationId === roomId);
        assert.strictEqual(conv.typeu, 2);
        assert.strictEqual(conv.room._id, roomId);
        assert.strictEqual(conv.unread, 1);
      });

      it('a member who joins later does not pull what came before', async () => {
        const { owner, roomId } = await sentWhileAway();
        const late = await newcomer(owner, roomId);
        assert.deepStrictEqual((await emitAck(await online(late), 'offline_message')).data.payload, []);
      });

      it('a member who joins later does not see what came before in history', async () => {
        const { owner, roomId } = await sentWhileAway();
        const late = await newcomer(owner, roomId);
        assert.deepStrictEqual((await emitAck(await online(late), 'history_message', { timelineId: roomId, typeu: 2 })).data.payload, []);
      });
    });

    describe('recall', () => {
      /** a member's image in a room, past the recall window */
      async function oldMemberImage() {
        mm(app.config.message, 'recallWindow', 0);
        const [ owner, member ] = await Promise.all([ signup(), signup() ]);
        const roomId = await makeRoom(owner, [ member ]);
        const [ so, sm ] = await Promise.all([ online(owner), online(member) ]);
        const msg = await send(sm, image(roomId, 2));
        await sleep(10);
        return { so, sm, msg };
      }

      it('a member cannot recall their message after the window: 20003', async () => {
        const { sm, msg } = await oldMemberImage();
        assert.strictEqual((await emitAck(sm, 'to_undo', { _id: msg._id })).code, 20003);
      });

      it('the owner may recall any member\'s message at any time', async () => {
        const { so, msg } = await oldMemberImage();
        const r = await emitAck(so, 'to_undo', { _id: msg._id });
        assert.strictEqual(r.code, 0, JSON.stringify(r));
        assert.strictEqual(r.data.payload.type, 21);
      });
    });
  });
});
