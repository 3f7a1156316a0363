import assert from 'node:assert';
import { Types } from 'mongoose';
import { api, app, signup, type TestUser } from '../../helpers';
import { makeRoom, ok, online, roomText, send, text } from '../../message-helpers';

const search = async (u: TestUser, query: Record<string, string | number>) => {
  const qs = new URLSearchParams(Object.entries(query).map(([ k, v ]) => [ k, String(v) ])).toString();
  const res = await api('GET', `/api/messages/search?${qs}`, { token: u.token });
  assert.strictEqual(res.status, 200, JSON.stringify(res.body));
  return res.body.data as { docs: any[]; next?: string };
};
const contents = (r: { docs: any[] }) => r.docs.map(d => d.content);
/** the highlighted parts of a hit, as text */
const marked = (doc: any) => doc.highlights.map(([ s, e ]: [number, number]) => doc.content.slice(s, e));

/** §8 `GET /api/messages/search`. */
describe('GET /api/messages/search (PROTOCOL §8)', () => {
  let a: TestUser;
  let b: TestUser;
  const w = () => `w${Math.random().toString(36).slice(2, 8)}`; // a word no other test uses

  before(async () => {
    [ a, b ] = await Promise.all([ signup(), signup() ]);
  });

  it('every word of q must match (AND), newest first, each doc with highlights', async () => {
    const [ x, y ] = [ w(), w() ];
    const sa = await online(a);
    await send(sa, text(b.id, `${x} alone`));
    await send(sa, text(b.id, `${x} and ${y}`));
    await send(sa, text(b.id, `${y} ${x} again`));
    const r = await search(b, { q: `${x} ${y}` });
    assert.deepStrictEqual(contents(r), [ `${y} ${x} again`, `${x} and ${y}` ]);
    assert.deepStrictEqual(marked(r.docs[1]), [ x, y ]);
    assert.strictEqual(r.next, undefined);
  });

  it('Latin words match whole words, case- and accent-insensitively', async () => {
    const x = w();
    const sa = await online(a);
    await send(sa, text(b.id, `Un CAFÉ ${x}`));
    await send(sa, text(b.id, `decaffeinated ${x}x`));
    const r = await search(b, { q: `cafe ${x}` });
    assert.deepStrictEqual(contents(r), [ `Un CAFÉ ${x}` ]);
    assert.deepStrictEqual(marked(r.docs[0]), [ 'CAFÉ', x ]);
  });

  it('the last word is a prefix; the others are not', async () => {
    const x = w();
    const sa = await online(a);
    await send(sa, text(b.id, `${x}suffix hello`));
    assert.deepStrictEqual(contents(await search(b, { q: x })), [ `${x}suffix hello` ]);
    assert.deepStrictEqual(contents(await search(b, { q: `${x} hel` })), []);
    assert.deepStrictEqual(contents(await search(b, { q: `hello ${x}` })), [ `${x}suffix hello` ]);
  });

  it('a run of Chinese characters matches messages that contain that run, not the characters apart', async () => {
    const x = w();
    const sa = await online(a);
    await send(sa, text(b.id, `${x} 我们明天去北京开会`));
    await send(sa, text(b.id, `${x} 北方的京剧`));
    const r = await search(b, { q: `北京 ${x}` });
    assert.deepStrictEqual(contents(r), [ `${x} 我们明天去北京开会` ]);
    assert.deepStrictEqual(marked(r.docs[0]), [ x, '北京' ]);
  });

  it('Japanese and Korean runs match too, and a single CJK character may', async () => {
    const x = w();
    const sa = await online(a);
    await send(sa, text(b.id, `${x} 東京タワーに行きました`));
    await send(sa, text(b.id, `${x} 안녕하세요 여러분`));
    assert.deepStrictEqual(contents(await search(b, { q: `タワー ${x}` })), [ `${x} 東京タワーに行きました` ]);
    assert.deepStrictEqual(contents(await search(b, { q: `하세요 ${x}` })), [ `${x} 안녕하세요 여러분` ]);
    assert.deepStrictEqual(contents(await search(b, { q: `京 ${x}` })), [ `${x} 東京タワーに行きました` ]);
  });

  it('highlights are UTF-16 offsets into content', async () => {
    const x = w();
    const content = `😀👍 ${x} é`;
    await send(await online(a), text(b.id, content));
    const [ doc ] = (await search(b, { q: x })).docs;
    assert.deepStrictEqual(doc.highlights, [[ 5, 5 + x.length ]]);
  });

  it('pages: limit, next exactly when more remain, and before=next for the following page', async () => {
    const x = w();
    const sa = await online(a);
    for (let i = 0; i < 5; i++) await send(sa, text(b.id, `${x} number ${i}`));
    const first = await search(b, { q: x, limit: 2 });
    assert.deepStrictEqual(contents(first), [ `${x} number 4`, `${x} number 3` ]);
    assert.ok(first.next);
    const second = await search(b, { q: x, limit: 2, before: first.next! });
    assert.deepStrictEqual(contents(second), [ `${x} number 2`, `${x} number 1` ]);
    const third = await search(b, { q: x, limit: 2, before: second.next! });
    assert.deepStrictEqual(contents(third), [ `${x} number 0` ]);
    assert.strictEqual(third.next, undefined);
    const exact = await search(b, { q: x, limit: 5 });
    assert.deepStrictEqual([ exact.docs.length, exact.next ], [ 5, undefined ]);
  });

  it('timelineId and typeu narrow it to one conversation', async () => {
    const x = w();
    const c = await signup();
    const sb = await online(b);
    await send(sb, text(a.id, `${x} to a`));
    await send(sb, text(c.id, `${x} to c`));
    assert.deepStrictEqual(contents(await search(b, { q: x, timelineId: `${b.id}@${c.id}`, typeu: 1 })), [ `${x} to c` ]);
    assert.strictEqual((await search(b, { q: x })).docs.length, 2);
  });

  it('only what this user can see: not others\' conversations, not hidden, not recalled, not from before joining a room, not after leaving it', async () => {
    const x = w();
    const [ owner, late, stranger ] = await Promise.all([ signup(), signup(), signup() ]);
    const sa = await online(a);
    const hidden = await send(sa, text(b.id, `${x} hidden`));
    const recalled = await send(sa, text(b.id, `${x} recalled`));
    await send(sa, text(b.id, `${x} visible`));
    await api('DELETE', `/api/messages/${hidden._id}`, { token: b.token });
    await ok(sa, 'to_undo', { _id: recalled._id });
    assert.deepStrictEqual(contents(await search(b, { q: x })), [ `${x} visible` ]);
    assert.deepStrictEqual(contents(await search(a, { q: x })), [ `${x} visible`, `${x} hidden` ]);
    assert.deepStrictEqual(contents(await search(stranger, { q: x })), []);

    const roomId = await makeRoom(owner, []);
    const so = await online(owner);
    await send(so, roomText(roomId, `${x} before`));
    await app.messages.joinRoom(roomId, [ late.id ]);
    await app.model.Room.updateOne({ _id: roomId }, { $addToSet: { members: late.id } });
    await send(so, roomText(roomId, `${x} after`));
    assert.deepStrictEqual(contents(await search(late, { q: x })), [ `${x} after` ]);
    await app.messages.leaveRoom(roomId, [ late.id ]);
    assert.deepStrictEqual(contents(await search(late, { q: x })), []);
  });

  it('an edit is searched by its new words only', async () => {
    const [ x, y ] = [ w(), w() ];
    const sa = await online(a);
    const m = await send(sa, text(b.id, `${x} first`));
    await ok(sa, 'to_edit', { _id: m._id, content: `${y} second` });
    assert.deepStrictEqual(contents(await search(b, { q: x })), []);
    assert.deepStrictEqual(contents(await search(b, { q: y })), [ `${y} second` ]);
  });

  it('only text messages are found', async () => {
    const x = w();
    await send(await online(a), { type: 5, to: b.id, content: `${x} custom`, fp: `c-${Date.now()}` });
    assert.deepStrictEqual(contents(await search(b, { q: x })), []);
  });

  it('a query of no words finds nothing', async () => {
    assert.deepStrictEqual(await search(b, { q: '!!! ...' }), { docs: [] });
  });

  it('a search the store takes longer than search.maxTimeMs for is 503 / 50000 saying so', async () => {
    // enough messages that a scan outlasts 1 ms
    const { insertedIds } = await app.model.Message.collection.insertMany(Array.from({ length: 3000 }, (_, i) => ({
      fp: `filler-${Date.now()}-${i}`, from: new Types.ObjectId(), to: new Types.ObjectId(), type: 1, typeu: 1, content: 'filler',
      conversationId: `filler-${i % 50}`, seq: i + 1, sendTime: new Date(), terms: [ 'filler' ],
    })));
    const original = app.config.search.maxTimeMs;
    app.config.search.maxTimeMs = 1;
    try {
      const res = await api('GET', '/api/messages/search?q=filler', { token: b.token });
      assert.deepStrictEqual([ res.status, res.body.code ], [ 503, 50000 ], JSON.stringify(res.body));
      assert.match(res.body.msg, /took longer/);
    } finally {
      app.config.search.maxTimeMs = original;
      await app.model.Message.collection.deleteMany({ _id: { $in: Object.values(insertedIds) } });
    }
  });

  it('refusals are 400 / 20002: q empty or over 100 characters, limit over 50, a bad before, timelineId without typeu, unknown fields', async () => {
    for (const q of [ 'q=', `q=${'x'.repeat(101)}`, 'q=x&limit=51', 'q=x&limit=0', 'q=x&before=nope', `q=x&timelineId=${a.id}@${b.id}`, 'q=x&typeu=1', 'q=x&page=2', '' ]) {
      const res = await api('GET', `/api/messages/search?${q}`, { token: b.token });
      assert.deepStrictEqual([ res.status, res.body.code ], [ 400, 20002 ], q);
    }
    const foreign = await api('GET', `/api/messages/search?q=x&timelineId=${a.id}@0123456789abcdef01234567&typeu=1`, { token: b.token });
    assert.deepStrictEqual([ foreign.status, foreign.body.code ], [ 403, 10006 ]);
    assert.strictEqual((await api('GET', '/api/messages/search?q=x')).status, 401);
  });
});
