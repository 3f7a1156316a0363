/**
 * Finding 13: free objects (`profile`, message `extra`) were serialized to measure them before their
 * depth was checked, so a deeply nested one overflowed the stack: 500 and a stack trace in the log.
 * The depth is checked first now; such input is an ordinary 20002.
 */
import assert from 'node:assert';
import { api, connectOk, emitAck, signup, uniqueName, waitFor } from '../helpers';

/** `{"a":{"a":...}}` nested `depth` levels, as JSON text (what a client sends) */
const nestedJson = (depth: number) => `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;

describe('security: free objects are depth-checked before anything walks them (finding 13)', () => {
  it('signup with a profile nested 15,000 levels deep is 400 / 20002', async () => {
    const raw = `{"username":"${uniqueName('deep')}","password":"correct horse battery","profile":${nestedJson(15000)}}`;
    const res = await api('POST', '/api/signup', { raw });
    assert.strictEqual(res.status, 400, JSON.stringify(res.body).slice(0, 300));
    assert.strictEqual(res.body.code, 20002);
  });

  it('PATCH /api/users/me with such a profile is 400 / 20002', async () => {
    const u = await signup();
    const res = await api('PATCH', '/api/users/me', { token: u.token, raw: `{"profile":${nestedJson(15000)}}` });
    assert.strictEqual(res.status, 400, JSON.stringify(res.body).slice(0, 300));
    assert.strictEqual(res.body.code, 20002);
  });

  it('a `to` whose extra is nested 15,000 levels deep is answered 20002 and the socket keeps working', async () => {
    const [ a, b ] = await Promise.all([ signup(), signup() ]);
    const socket = await connectOk({ token: a.token });
    const refused = waitFor(socket, 'im_error', 5000);
    // written as the raw packet: the client library's own encoder recurses and cannot build it
    socket.io.engine.send(`2/chat,["to",{"to":"${b.id}","type":1,"content":"hi","fp":"deep-1","extra":${nestedJson(15000)}}]`);
    const error = await refused;
    assert.strictEqual(error.code, 20002, JSON.stringify(error).slice(0, 300));
    const sent = await emitAck(socket, 'to', { to: b.id, type: 1, content: 'hi', fp: 'deep-2', extra: { a: { b: 1 } } });
    assert.strictEqual(sent.code, 0, JSON.stringify(sent));
  });
});
