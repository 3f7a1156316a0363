import assert from 'node:assert';
import { api, connectChat, emitAck, signup, type TestUser } from '../../helpers';

let fpCounter = 0;
const text = (to: string, content: string) => ({ type: 1, to, content, fp: `rest-${Date.now()}-${fpCounter++}` });
const seqs = (messages: any[]) => messages.map(m => m.seq);

/** a sends `n` texts to b over a socket; returns the stored messages. */
async function conversation(a: TestUser, b: TestUser, n: number) {
  const socket = await connectChat({ token: a.token });
  const sent: any[] = [];
  for (let i = 1; i <= n; i++) {
    const ack = await emitAck(socket, 'to', text(b.id, `m${i}`));
    assert.strictEqual(ack.code, 0, JSON.stringify(ack));
    sent.push(ack.data.payload);
  }
  return sent;
}

describe('REST conversations and history (PROTOCOL §7 "Messages")', () => {
  it('GET /api/conversations lists the same conversations in the same order as recent_conversation', async () => {
    const [ a, b, c ] = await Promise.all([ signup(), signup(), signup() ]);
    await conversation(b, a, 2);
    await conversation(c, a, 1);
    const rest = await api('GET', '/api/conversations', { token: a.token });
    assert.strictEqual(rest.status, 200);
    const socket = await emitAck(await connectChat({ token: a.token }), 'recent_conversation');
    assert.deepStrictEqual(rest.body.data.map((x: any) => x.conversationId), socket.data.payload.map((x: any) => x.conversationId));
    assert.strictEqual(rest.body.data.length, 2);
  });

  describe('GET /api/messages', () => {
    let a: TestUser;
    let b: TestUser;
    let timelineId: string;
    // 25 messages from a to b; the its only read them
    before(async () => {
      [ a, b ] = await Promise.all([ signup(), signup() ]);
      await conversation(a, b, 25);
      timelineId = `${b.id}@${a.id}`;
    });

    it('before: the older messages, newest first (as history_message)', async () => {
      const res = await api('GET', `/api/messages?timelineId=${timelineId}&typeu=1&before=3`, { token: a.token });
      assert.strictEqual(res.status, 200);
      assert.deepStrictEqual(seqs(res.body.data), [ 2, 1 ]);
    });

    it('page: that page of 20, for either participant', async () => {
      const res = await api('GET', `/api/messages?timelineId=${timelineId}&typeu=1&page=2`, { token: b.token });
      assert.strictEqual(res.status, 200);
      assert.deepStrictEqual(seqs(res.body.data.docs), [ 5, 4, 3, 2, 1 ]);
    });

    it('without a token is 401', async () => {
      assert.strictEqual((await api('GET', `/api/messages?timelineId=${timelineId}&typeu=1`)).status, 401);
    });

    it('a typeu clients cannot use is 400 / 20002', async () => {
      const res = await api('GET', `/api/messages?timelineId=${timelineId}&typeu=3`, { token: a.token });
      assert.strictEqual(res.status, 400);
      assert.strictEqual(res.body.code, 20002);
    });

    it('a user who is not part of the conversation gets 403', async () => {
      const c = await signup();
      assert.strictEqual((await api('GET', `/api/messages?timelineId=${timelineId}&typeu=1`, { token: c.token })).status, 403);
    });
  });

  describe('DELETE /api/messages/:id', () => {
    it('hides the message from my history only', async () => {
      const [ a, b ] = await Promise.all([ signup(), signup() ]);
      const [ first, second ] = await conversation(a, b, 3);
      const del = await api('DELETE', `/api/messages/${second._id}`, { token: a.token });
      assert.strictEqual(del.status, 200);
      const history = (user: TestUser) => api('GET', `/api/messages?timelineId=${first.timelineId}&typeu=1&before=3`, { token: user.token });
      assert.deepStrictEqual(seqs((await history(a)).body.data), [ 1 ]);
      assert.deepStrictEqual(seqs((await history(b)).body.data), [ 2, 1 ]);
    });

    it('a message of a conversation I am not part of is 404', async () => {
      const [ a, b, c ] = await Promise.all([ signup(), signup(), signup() ]);
      const [ msg ] = await conversation(a, b, 1);
      assert.strictEqual((await api('DELETE', `/api/messages/${msg._id}`, { token: c.token })).status, 404);
    });

    it('a malformed id is 400', async () => {
      const a = await signup();
      assert.strictEqual((await api('DELETE', '/api/messages/nope', { token: a.token })).status, 400);
    });
  });
});
