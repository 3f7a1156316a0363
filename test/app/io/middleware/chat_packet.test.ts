import assert from 'node:assert';
import mm from 'egg-mock';
import { app, connectOk, emitAck, signup, type Transport } from '../../../helpers';

let fpCounter = 0;
const text = (to: string) => ({ type: 1, to, content: 'burst', fp: `burst-${Date.now()}-${fpCounter++}` });

/** Work in progress is bounded (config.chatPending): a flood cannot pile up waiting events. */
describe('/chat packet middleware: events in progress are bounded', () => {
  for (const transport of [ 'websocket', 'polling' ] as Transport[]) {
    it(`${transport}: a burst over the per-socket bound is answered in full (code 0 or 20009), the socket keeps working and what was acked is stored`, async () => {
      mm(app.config, 'chatPending', { perSocket: 2, perProcess: 5000 });
      const [ a, b ] = await Promise.all([ signup(), signup() ]);
      const sa = await connectOk({ token: a.token, transport });
      const replies = await Promise.all(Array.from({ length: 40 }, () => emitAck(sa, 'to', text(b.id), 10000)));
      const codes = replies.map(r => r.code);
      assert.ok(codes.every(c => c === 0 || c === 20009), JSON.stringify(codes));
      assert.ok(codes.includes(0), JSON.stringify(codes));
      for (const r of replies.filter(x => x.code === 20009)) assert.match(r.meta.msg, /too many events in progress/);
      const later = await emitAck(sa, 'to', text(b.id), 10000);
      assert.strictEqual(later.code, 0, JSON.stringify(later));
      assert.strictEqual(sa.connected, true);
      const sb = await connectOk({ token: b.token });
      const pulled = await emitAck(sb, 'offline_message');
      assert.strictEqual(pulled.data.payload.length, codes.filter(c => c === 0).length + 1);
    });
  }

  it('past the per-process bound events are refused with 20009 "server busy" and the socket stays', async () => {
    mm(app.config, 'chatPending', { perSocket: 64, perProcess: 0 });
    const u = await signup();
    const s = await connectOk({ token: u.token });
    const reply = await emitAck(s, 'recent_conversation');
    assert.strictEqual(reply.code, 20009);
    assert.strictEqual(reply.data.action, 'CHAT_PULL_RECENT_CONVERSATION');
    assert.match(reply.meta.msg, /server busy/);
    mm.restore();
    assert.strictEqual((await emitAck(s, 'recent_conversation')).code, 0);
  });
});
