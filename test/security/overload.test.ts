import assert from 'node:assert';
import mm from 'egg-mock';
import { app, connectOk, emitAck, signup, type AnySocket } from '../helpers';
import { text } from '../message-helpers';

/**
 * Issue #19: overload is back-pressure, not errors (PROTOCOL §2). What is shed gets 20009 with
 * `meta.retryAfterMs`; nothing is answered 50000 for being busy; acks are never refused for the work
 * in progress. The caps are made tiny here (config.chatPending) so that a burst of a test overloads.
 */
const BURST = 40;

/** Alice's and Bob's sockets, and Bob. */
async function pair() {
  const [ a, b ] = await Promise.all([ signup(), signup() ]);
  const [ sa, sb ] = await Promise.all([ connectOk({ token: a.token }), connectOk({ token: b.token }) ]);
  return { b, sa, sb };
}

const burstOf = (s: AnySocket, to: string) => Promise.all(Array.from({ length: BURST }, () => emitAck(s, 'to', text(to, 'burst'), 15000)));

describe('security: overload is shed with 20009 and retryAfterMs (issue #19)', () => {
  it('a burst over the per-socket bound: every refusal is 20009 with meta.retryAfterMs, none 50000', async () => {
    mm(app.config, 'chatPending', { perSocket: 2, perProcess: 5000 });
    const { b, sa } = await pair();
    const replies = await burstOf(sa, b.id);
    const refused = replies.filter(r => r.code !== 0);
    assert.ok(refused.length > 0, 'nothing was refused: the burst did not overload');
    for (const r of refused) assert.ok(r.code === 20009 && r.meta.retryAfterMs > 0, JSON.stringify(r));
  });

  it('past the per-process bound the refusal carries meta.retryAfterMs', async () => {
    mm(app.config, 'chatPending', { perSocket: 64, perProcess: 0 });
    const { b, sa } = await pair();
    const reply = await emitAck(sa, 'to', text(b.id), 5000);
    assert.deepStrictEqual([ reply.code, reply.data.action, typeof reply.meta.retryAfterMs ], [ 20009, 'CHAT_TO', 'number' ]);
    assert.ok(reply.meta.retryAfterMs > 0);
  });

  it('acks are taken past both bounds: a burst of acks is answered 0, every one', async () => {
    const { b, sa, sb } = await pair();
    const stored = (await burstOf(sa, b.id)).map(r => r.data.payload);
    mm(app.config, 'chatPending', { perSocket: 1, perProcess: 0 });
    const codes = (await Promise.all(stored.map(m => emitAck(sb, 'c_message_ack', { _id: m._id }, 15000)))).map(r => r.code);
    assert.deepStrictEqual(codes, stored.map(() => 0));
  });

  it('acks taken past the bounds are stored: the pull that follows is empty', async () => {
    const { b, sa, sb } = await pair();
    const stored = (await burstOf(sa, b.id)).map(r => r.data.payload);
    mm(app.config, 'chatPending', { perSocket: 1, perProcess: 0 });
    await Promise.all(stored.map(m => emitAck(sb, 'c_message_ack', { _id: m._id }, 15000)));
    mm.restore();
    const pulled = await emitAck(sb, 'offline_message', undefined, 5000);
    assert.deepStrictEqual([ pulled.code, pulled.data.payload.length ], [ 0, 0 ]);
  });

  it('reads (to_reader) are taken past both bounds', async () => {
    const { b, sa, sb } = await pair();
    const m = (await emitAck(sa, 'to', text(b.id), 5000)).data.payload;
    mm(app.config, 'chatPending', { perSocket: 1, perProcess: 0 });
    const reply = await emitAck(sb, 'to_reader', { _id: m._id }, 5000);
    assert.strictEqual(reply.code, 0, JSON.stringify(reply));
  });

  it('a send not stored within replyTimeoutMs is answered 20009 with retryAfterMs, not 50000', async () => {
    const { b, sa } = await pair();
    mm(app.config.message, 'replyTimeoutMs', 1);
    const reply = await emitAck(sa, 'to', text(b.id), 5000);
    assert.deepStrictEqual([ reply.code, typeof reply.meta.retryAfterMs ], [ 20009, 'number' ]);
  });

  it('the retry of a send answered 20009 for its deadline, with the same fp, is answered 0 and stored once', async () => {
    const { b, sa, sb } = await pair();
    const message = text(b.id, 'late');
    mm(app.config.message, 'replyTimeoutMs', 1);
    assert.strictEqual((await emitAck(sa, 'to', message, 5000)).code, 20009);
    mm.restore();
    const retried = await emitAck(sa, 'to', message, 5000);
    assert.strictEqual(retried.code, 0, JSON.stringify(retried));
    const pulled = (await emitAck(sb, 'offline_message', undefined, 5000)).data.payload;
    assert.strictEqual(pulled.filter((m: { fp: string }) => m.fp === message.fp).length, 1);
  });
});
