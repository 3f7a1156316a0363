import assert from 'node:assert';
import mm from 'egg-mock';
import { app, connectOk, emitAck, signup, type Transport } from '../../../helpers';

let fpCounter = 0;
const text = (to: string) => ({ type: 1, to, content: 'burst', fp: `burst-${Date.now()}-${fpCounter++}` });

/** Work in progress is bounded (config.chatPending): a flood cannot pile up waiting events. */
/** A burst of 40 sends over a per-socket bound of 2; returns the socket, the replies and the recipient. */
async function burst(transport: Transport) {
  mm(app.config, 'chatPending', { perSocket: 2, perProcess: 5000 });
  const [ a, b ] = await Promise.all([ signup(), signup() ]);
  const sa = await connectOk({ token: a.token, transport });
  const replies = await Promise.all(Array.from({ length: 40 }, () => emitAck(sa, 'to', text(b.id), 10000)));
  return { sa, b, replies, codes: replies.map(r => r.code) };
}

/** Work in progress is bounded (config.chatPending): a flood cannot pile up waiting events. */
describe('/chat packet middleware: events in progress are bounded', () => {
  for (const transport of [ 'websocket', 'polling' ] as Transport[]) {
    it(`${transport}: every event of a burst over the per-socket bound is answered, with code 0 or 20009 "too many events in progress"`, async () => {
      const { replies, codes } = await burst(transport);
      assert.ok(codes.every(c => c === 0 || c === 20009), JSON.stringify(codes));
      assert.ok(codes.includes(0), JSON.stringify(codes));
      for (const r of replies.filter(x => x.code === 20009)) assert.match(r.meta.msg, /too many events in progress/);
    });

    it(`${transport}: after such a burst the socket stays connected and sends`, async () => {
      const { sa, b } = await burst(transport);
      const later = await emitAck(sa, 'to', text(b.id), 10000);
      assert.strictEqual(later.code, 0, JSON.stringify(later));
      assert.strictEqual(sa.connected, true);
    });

    it(`${transport}: what a burst got acked is stored, and nothing refused is`, async () => {
      const { b, codes } = await burst(transport);
      const sb = await connectOk({ token: b.token });
      const pulled = await emitAck(sb, 'offline_message');
      assert.strictEqual(pulled.data.payload.length, codes.filter(c => c === 0).length);
    });
  }

  it('past the per-process bound events are refused with 20009 "server busy" in the event\'s action', async () => {
    mm(app.config, 'chatPending', { perSocket: 64, perProcess: 0 });
    const s = await connectOk({ token: (await signup()).token });
    const reply = await emitAck(s, 'recent_conversation');
    assert.strictEqual(reply.code, 20009);
    assert.strictEqual(reply.data.action, 'CHAT_PULL_RECENT_CONVERSATION');
    assert.match(reply.meta.msg, /server busy/);
  });

  it('a socket refused for the per-process bound stays, and is served once there is room', async () => {
    mm(app.config, 'chatPending', { perSocket: 64, perProcess: 0 });
    const s = await connectOk({ token: (await signup()).token });
    assert.strictEqual((await emitAck(s, 'recent_conversation')).code, 20009);
    mm.restore();
    assert.strictEqual((await emitAck(s, 'recent_conversation')).code, 0);
  });
});
