import assert from 'node:assert';
import { Types } from 'mongoose';
import mm from 'egg-mock';
import { app, connectOk, emitAck, signup } from '../helpers';

/**
 * Issue #16 finding 5: `c_message_ack` naming hundreds of messages the server does not know made as
 * many database look-ups per event, all at once; one socket at its event rate took the connection
 * pool from everyone. Now look-ups of unknown messages are bounded per socket
 * (config.rateLimit.messageLookups, 20009 with retryAfterMs past it) and run a few at a time.
 */
const unknownIds = (n: number) => Array.from({ length: n }, () => ({ _id: new Types.ObjectId().toHexString() }));

describe('security: acks of unknown messages (finding 5)', () => {
  it('a socket acking more unknown messages than its look-up budget gets 20009 with retryAfterMs', async () => {
    mm(app.config.rateLimit, 'messageLookups', { points: 300, duration: 10 });
    const u = await signup();
    const s = await connectOk({ token: u.token });
    // 300 look-ups per 10 s here: one of two acks of 250 unknown ids is over it
    const replies = await Promise.all(Array.from({ length: 2 }, () => emitAck(s, 'c_message_ack', { data: unknownIds(250) }, 30000)));
    const refused = replies.find(r => r.code !== 0);
    assert.ok(refused, 'every ack was answered 0');
    assert.deepStrictEqual([ refused.code, refused.data.action, typeof refused.meta.retryAfterMs ], [ 20009, 'CHAT_MESSAGE_ACK', 'number' ]);
  });

  it('acks by fp count against the same budget', async () => {
    mm(app.config.rateLimit, 'messageLookups', { points: 300, duration: 10 });
    const u = await signup();
    const s = await connectOk({ token: u.token });
    const fps = (k: number) => Array.from({ length: 250 }, (_, i) => ({ fp: `nobody-${k}-${i}` }));
    const codes = (await Promise.all(Array.from({ length: 2 }, (_, k) => emitAck(s, 'c_message_ack', fps(k), 30000)))).map(r => r.code);
    assert.ok(codes.includes(20009), JSON.stringify(codes));
  });

  it('while one socket floods acks of unknown messages, another user\'s message is still stored and acked', async () => {
    const [ flooder, a, b ] = await Promise.all([ signup(), signup(), signup() ]);
    const s = await connectOk({ token: flooder.token });
    const flood = Promise.all(Array.from({ length: 20 }, () => emitAck(s, 'c_message_ack', unknownIds(500), 30000).catch(() => null)));
    const sa = await connectOk({ token: a.token });
    const reply = await emitAck(sa, 'to', { type: 1, to: b.id, content: 'still here', fp: `f5-${Date.now()}` }, 5000);
    assert.strictEqual(reply.code, 0);
    await flood;
  });
});
