/**
 * Finding 10: an access token's expiry was checked only when the socket sent an event, so a socket that
 * only listened kept receiving messages after its token expired. Each /chat socket now has a timer for
 * its token's end: im_error 20001, then the disconnect, whether or not it ever sends anything.
 */
import assert from 'node:assert';
import { app, connectOk, emitAck, notWithin, signup, sleep, waitFor, type ClientVersion } from '../helpers';
import * as jwt from 'jsonwebtoken';

/** A token of `u`'s real session that expires in `seconds` (signed as the server signs its own). */
function shortToken(u: { id: string; refreshToken: string }, seconds: number) {
  const sessionId = u.refreshToken.split('.')[0];
  return jwt.sign({ sub: u.id, sid: sessionId }, app.config.jwt.secret, { algorithm: 'HS256', expiresIn: seconds });
}

describe('security: a /chat socket is closed when its access token expires (finding 10)', () => {
  for (const version of [ 'v2', 'v4' ] as ClientVersion[]) {
    it(`${version}: a socket that only listens gets im_error 20001 and is disconnected at expiry`, async () => {
      const u = await signup();
      const socket = await connectOk({ version, token: shortToken(u, 2) });
      const [ error ] = await Promise.all([ waitFor(socket, 'im_error', 5000), waitFor(socket, 'disconnect', 5000) ]);
      assert.strictEqual(error.code, 20001);
      assert.strictEqual(socket.connected, false);
    });
  }

  it('after expiry the socket receives no more messages', async () => {
    const [ listener, sender ] = await Promise.all([ signup(), signup() ]);
    const quiet = await connectOk({ token: shortToken(listener, 2) });
    const talker = await connectOk({ token: sender.token });
    await waitFor(quiet, 'disconnect', 5000);
    const none = notWithin(quiet, 'c_message', 500);
    const ack = await emitAck(talker, 'to', { to: listener.id, type: 1, content: 'after expiry', fp: `exp-${Date.now()}` });
    assert.strictEqual(ack.code, 0);
    assert.ok(await none);
  });

  it('a socket whose token is still valid stays connected', async () => {
    const u = await signup();
    const socket = await connectOk({ token: shortToken(u, 60) });
    await sleep(1500);
    assert.strictEqual(socket.connected, true);
    const reply = await emitAck(socket, 'recent_conversation');
    assert.strictEqual(reply.code, 0);
  });
});
