import assert from 'node:assert';
import { api, notWithin, signup, sleep, waitFor, type TestUser } from '../../helpers';
import { makeRoom, ok, online, roomText, send, text } from '../../message-helpers';

/** A second login (session) of the same user. */
async function login(u: TestUser): Promise<TestUser> {
  const res = await api('POST', '/api/login', { body: { username: u.username, password: u.password } });
  assert.strictEqual(res.status, 200, JSON.stringify(res.body));
  return { ...u, token: res.body.data.token, refreshToken: res.body.data.refreshToken };
}

const patch = (token: string, timelineId: string, typeu: number, body: unknown) =>
  api('PATCH', `/api/conversations/${encodeURIComponent(timelineId)}?typeu=${typeu}`, { token, body });

/** §8 per-user conversation settings: `PATCH /api/conversations/:timelineId`, `conversation_update`, the list's new fields. */
describe('conversation settings (PROTOCOL §8)', () => {
  it('entries carry pinned, muted, archived (false) and mentions (0) by default', async () => {
    const [ a, b ] = await Promise.all([ signup(), signup() ]);
    await send(await online(a), text(b.id));
    const [ entry ] = (await api('GET', '/api/conversations', { token: b.token })).body.data;
    assert.deepStrictEqual([ entry.pinned, entry.muted, entry.archived, entry.mentions ], [ false, false, false, 0 ]);
  });

  it('PATCH sets this user\'s settings and answers the entry; the peer\'s are untouched', async () => {
    const [ a, b ] = await Promise.all([ signup(), signup() ]);
    const m = await send(await online(a), text(b.id));
    const res = await patch(b.token, `${b.id}@${a.id}`, 1, { pinned: true, muted: true });
    assert.strictEqual(res.status, 200, JSON.stringify(res.body));
    assert.deepStrictEqual([ res.body.data.conversationId, res.body.data.pinned, res.body.data.muted, res.body.data.archived ], [ m.conversationId, true, true, false ]);
    assert.strictEqual(res.body.data.lastMessage._id, m._id);
    const [ theirs ] = (await api('GET', '/api/conversations', { token: a.token })).body.data;
    assert.deepStrictEqual([ theirs.pinned, theirs.muted ], [ false, false ]);
    const [ mine ] = (await api('GET', '/api/conversations', { token: b.token })).body.data;
    assert.deepStrictEqual([ mine.pinned, mine.muted ], [ true, true ]);
  });

  it('pinned conversations come first, then newest first', async () => {
    const [ me, p1, p2, p3 ] = await Promise.all([ signup(), signup(), signup(), signup() ]);
    for (const p of [ p1, p2, p3 ]) {
      await send(await online(p), text(me.id, `from ${p.username}`));
      await sleep(5);
    }
    await patch(me.token, `${me.id}@${p1.id}`, 1, { pinned: true });
    const list = (await api('GET', '/api/conversations', { token: me.token })).body.data;
    assert.deepStrictEqual(list.map((c: any) => c.peer._id), [ p1.id, p3.id, p2.id ]);
  });

  it('archived stays until a new message comes, which un-archives it', async () => {
    const [ a, b ] = await Promise.all([ signup(), signup() ]);
    const sa = await online(a);
    await send(sa, text(b.id, 'one'));
    assert.strictEqual((await patch(b.token, `${b.id}@${a.id}`, 1, { archived: true })).body.data.archived, true);
    assert.strictEqual((await api('GET', '/api/conversations', { token: b.token })).body.data[0].archived, true);
    await send(sa, text(b.id, 'two'));
    assert.strictEqual((await api('GET', '/api/conversations', { token: b.token })).body.data[0].archived, false);
    assert.strictEqual((await patch(b.token, `${b.id}@${a.id}`, 1, { archived: false })).body.data.archived, false);
  });

  it('recent_conversation on the socket shows the settings too', async () => {
    const [ owner, m1 ] = await Promise.all([ signup(), signup() ]);
    const roomId = await makeRoom(owner, [ m1 ]);
    await send(await online(owner), roomText(roomId, 'hi'));
    await patch(m1.token, roomId, 2, { muted: true });
    const list = await ok(await online(m1, 'v2'), 'recent_conversation');
    assert.strictEqual(list.find((c: any) => c.conversationId === roomId).muted, true);
  });

  it('the user\'s other devices get conversation_update with the entry; the device of the calling login does not', async () => {
    const [ a, b ] = await Promise.all([ signup(), signup() ]);
    await send(await online(a), text(b.id));
    const other = await login(b);
    const sameLogin = await online(b, 'v4', 'WEB');
    const otherDevice = await online(other, 'v2', 'MOBILE');
    const update = waitFor(otherDevice, 'conversation_update');
    const quiet = notWithin(sameLogin, 'conversation_update', 500);
    const res = await patch(b.token, `${b.id}@${a.id}`, 1, { pinned: true });
    const env = await update;
    assert.deepStrictEqual([ env.code, env.data.action ], [ 0, 'CHAT_CONVERSATION_UPDATE' ]);
    assert.deepStrictEqual(env.data.payload, res.body.data);
    assert.ok(await quiet);
  });

  it('refusals: a conversation not yours 403 / 10006, a c2c one without a message yet 404 / 10005, bad input 400 / 20002', async () => {
    const [ a, b, c ] = await Promise.all([ signup(), signup(), signup() ]);
    await send(await online(a), text(b.id));
    const foreign = await patch(c.token, `${a.id}@${b.id}`, 1, { pinned: true });
    assert.deepStrictEqual([ foreign.status, foreign.body.code ], [ 403, 10006 ]);
    const none = await patch(c.token, `${c.id}@${a.id}`, 1, { pinned: true });
    assert.deepStrictEqual([ none.status, none.body.code ], [ 404, 10005 ]);
    for (const [ q, body ] of [ [ '?typeu=1', { pinned: 'yes' } ], [ '?typeu=1', { starred: true } ], [ '', { pinned: true } ], [ '?typeu=5', { pinned: true } ] ] as const) {
      const res = await api('PATCH', `/api/conversations/${b.id}@${a.id}${q}`, { token: b.token, body });
      assert.deepStrictEqual([ res.status, res.body.code ], [ 400, 20002 ], `${q} ${JSON.stringify(body)}`);
    }
  });
});
