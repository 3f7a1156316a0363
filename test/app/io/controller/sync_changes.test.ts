import assert from 'node:assert';
import { api, app, emitAck, signup, waitFor, type ClientVersion } from '../../../helpers';
import { makeRoom, ok, online, roomText, send, text } from '../../../message-helpers';
import { IDS_PER_MS } from '../../../../lib/stores/change-registry';

/** Resolves once `check` does, polling; rejects after `ms`. */
async function until(check: () => Promise<boolean>, ms: number) {
  const deadline = Date.now() + ms;
  while (!await check()) {
    if (Date.now() > deadline) throw new Error(`not within ${ms} ms`);
    await new Promise(resolve => setTimeout(resolve, 100));
  }
}

/** §8 `sync_changes`: the change feed. */
describe('/chat sync_changes (PROTOCOL §8)', () => {
  for (const version of [ 'v2', 'v4' ] as ClientVersion[]) {
    it(`${version}: without a cursor the reply is {changes: [], cursor, more: false}`, async () => {
      const a = await signup();
      const res = await emitAck(await online(a, version), 'sync_changes');
      assert.deepStrictEqual([ res.code, res.data.action ], [ 0, 'CHAT_SYNC_CHANGES' ]);
      assert.deepStrictEqual(res.data.payload.changes, []);
      assert.strictEqual(res.data.payload.more, false);
      assert.match(res.data.payload.cursor, /^\d+$/);
    });

    it(`${version}: a device that was away learns the edit, reaction, pin and recall made meanwhile, each message once, as stored now`, async () => {
      const [ a, b ] = await Promise.all([ signup(), signup() ]);
      const sa = await online(a);
      const [ m1, m2, m3 ] = [ await send(sa, text(b.id, 'one')), await send(sa, text(b.id, 'two')), await send(sa, text(b.id, 'three')) ];
      const sb = await online(b, version);
      const { cursor } = await ok(sb, 'sync_changes', {});
      sb.close();
      await ok(sa, 'to_edit', { _id: m1._id, content: 'one!' });
      await ok(sa, 'to_react', { _id: m2._id, emoji: '👍', on: true });
      await ok(sa, 'to_pin', { _id: m2._id, on: true });
      await ok(sa, 'to_undo', { _id: m3._id });
      await ok(sa, 'to_edit', { _id: m1._id, content: 'one!!' });
      const back = await online(b, version);
      const page = await ok(back, 'sync_changes', { cursor });
      assert.strictEqual(page.more, false);
      // oldest change first, each message where its latest change is
      assert.deepStrictEqual(page.changes.map((m: any) => m._id), [ m2._id, m3._id, m1._id ]);
      assert.deepStrictEqual(page.changes.map((m: any) => m.rev), [ 2, 1, 2 ]);
      assert.strictEqual(page.changes[2].content, 'one!!');
      assert.deepStrictEqual([ page.changes[0].reactions[0].count, page.changes[0].pinnedBy ], [ 1, a.id ]);
      assert.strictEqual(page.changes[1].type, 10);
      assert.ok(BigInt(page.cursor) > BigInt(cursor));
    });
  }

  it('from the returned cursor nothing is new', async () => {
    const [ a, b ] = await Promise.all([ signup(), signup() ]);
    const sa = await online(a);
    const m = await send(sa, text(b.id));
    const { cursor } = await ok(sa, 'sync_changes');
    await ok(sa, 'to_edit', { _id: m._id, content: 'changed' });
    const page = await ok(sa, 'sync_changes', { cursor });
    assert.strictEqual(page.changes.length, 1);
    const again = await ok(sa, 'sync_changes', { cursor: page.cursor });
    assert.deepStrictEqual([ again.changes, again.cursor, again.more ], [ [], page.cursor, false ]);
  });

  it('a user\'s own hide is {_id, hidden: true} for that user only', async () => {
    const [ a, b ] = await Promise.all([ signup(), signup() ]);
    const sa = await online(a);
    const m = await send(sa, text(b.id));
    const sb = await online(b);
    const [ ca, cb ] = [ (await ok(sa, 'sync_changes')).cursor, (await ok(sb, 'sync_changes')).cursor ];
    assert.strictEqual((await api('DELETE', `/api/messages/${m._id}`, { token: b.token })).status, 200);
    assert.deepStrictEqual((await ok(sb, 'sync_changes', { cursor: cb })).changes, [{ _id: m._id, hidden: true }]);
    assert.deepStrictEqual((await ok(sa, 'sync_changes', { cursor: ca })).changes, []);
  });

  it('a message this user hid shows as hidden when it changes later', async () => {
    const [ a, b ] = await Promise.all([ signup(), signup() ]);
    const sa = await online(a);
    const m = await send(sa, text(b.id));
    await app.messages.hide(b.id, m._id);
    const sb = await online(b);
    const { cursor } = await ok(sb, 'sync_changes');
    await ok(sa, 'to_edit', { _id: m._id, content: 'edited' });
    assert.deepStrictEqual((await ok(sb, 'sync_changes', { cursor })).changes, [{ _id: m._id, hidden: true }]);
  });

  it('messages removed by retention are {_id, removed: true}', async () => {
    const [ a, b ] = await Promise.all([ signup(), signup() ]);
    const sa = await online(a);
    const old = await send(sa, text(b.id, 'old'));
    const fresh = await send(sa, text(b.id, 'fresh'));
    const sb = await online(b);
    const { cursor } = await ok(sb, 'sync_changes');
    await app.model.Message.updateOne({ _id: old._id }, { $set: { sendTime: new Date(Date.now() - 3 * 24 * 3600 * 1000) } });
    const original = app.config.message.retentionDays;
    app.config.message.retentionDays = 2;
    try {
      await app.runSchedule('message_retention');
    } finally {
      app.config.message.retentionDays = original;
    }
    const page = await ok(sb, 'sync_changes', { cursor });
    assert.deepStrictEqual(page.changes.filter((c: any) => c._id === old._id || c._id === fresh._id), [{ _id: old._id, removed: true }]);
  });

  it('a room member learns nothing of messages from before they joined', async () => {
    const [ owner, late ] = await Promise.all([ signup(), signup() ]);
    const roomId = await makeRoom(owner, []);
    const so = await online(owner);
    const before = await send(so, roomText(roomId, 'before'));
    await app.messages.joinRoom(roomId, [ late.id ]);
    await app.model.Room.updateOne({ _id: roomId }, { $addToSet: { members: late.id } });
    const sl = await online(late);
    const { cursor } = await ok(sl, 'sync_changes');
    const after = await send(so, roomText(roomId, 'after'));
    await ok(so, 'to_edit', { _id: before._id, content: 'before!' });
    await ok(so, 'to_edit', { _id: after._id, content: 'after!' });
    assert.deepStrictEqual((await ok(sl, 'sync_changes', { cursor })).changes.map((m: any) => m._id), [ after._id ]);
  });

  it('changes of conversations the user is not in are not theirs', async () => {
    const [ a, b, c ] = await Promise.all([ signup(), signup(), signup() ]);
    const sa = await online(a);
    const m = await send(sa, text(b.id));
    const sc = await online(c);
    const { cursor } = await ok(sc, 'sync_changes');
    await ok(sa, 'to_edit', { _id: m._id, content: 'private' });
    assert.deepStrictEqual((await ok(sc, 'sync_changes', { cursor })).changes, []);
  });

  it('pages: at most changes.pageSize per reply with more: true, in order, until done', async () => {
    const [ a, b ] = await Promise.all([ signup(), signup() ]);
    const sa = await online(a);
    const sent = [];
    for (let i = 0; i < 5; i++) sent.push(await send(sa, text(b.id, `m${i}`)));
    const sb = await online(b);
    const { cursor } = await ok(sb, 'sync_changes');
    for (const m of sent) await ok(sa, 'to_edit', { _id: m._id, content: `${m.content}!` });
    const original = app.config.changes.pageSize;
    app.config.changes.pageSize = 2;
    try {
      const seen: string[] = [];
      let at = cursor;
      for (let i = 0; i < 5; i++) {
        const res = await emitAck(sb, 'sync_changes', { cursor: at });
        seen.push(...res.data.payload.changes.map((m: any) => m._id));
        at = res.data.payload.cursor;
        assert.strictEqual(res.data.payload.more, seen.length < 5, JSON.stringify(res));
        if (!res.data.payload.more) break;
      }
      assert.deepStrictEqual(seen, sent.map(m => m._id));
    } finally {
      app.config.changes.pageSize = original;
    }
  });

  it('an unknown or too old cursor is 20002 with meta.msg', async () => {
    const a = await signup();
    const sa = await online(a);
    const future = String((Date.now() + 3600e3) * IDS_PER_MS);
    const tooOld = String((Date.now() - (app.config.changes.keepDays + 1) * 24 * 3600e3) * IDS_PER_MS);
    for (const cursor of [ future, tooOld, 'abc', '99999999999999999999', 5 ]) {
      const res = await emitAck(sa, 'sync_changes', { cursor });
      assert.deepStrictEqual([ res.code, res.data.action ], [ 20002, 'CHAT_SYNC_CHANGES' ], String(cursor));
      assert.ok(res.meta.msg, 'says why');
    }
  });

  it('a change whose record cannot be stored at once is still made, and its record comes a moment later', async () => {
    const [ a, b ] = await Promise.all([ signup(), signup() ]);
    const sa = await online(a);
    const m = await send(sa, text(b.id));
    const sb = await online(b);
    const { cursor } = await ok(sb, 'sync_changes');
    const collection = app.model.Change.collection;
    const insertOne = collection.insertOne;
    let failed = 0;
    collection.insertOne = (async () => { failed++; throw new Error('database unavailable (test)'); }) as never;
    try {
      assert.strictEqual((await ok(sa, 'to_edit', { _id: m._id, content: 'made anyway' })).content, 'made anyway');
    } finally {
      collection.insertOne = insertOne;
    }
    assert.strictEqual(failed, 1);
    await until(async () => (await ok(sb, 'sync_changes', { cursor })).changes.some((c: any) => c._id === m._id && c.content === 'made anyway'), 5000);
  });

  it('without an ack callback the reply comes as the sync_changes event', async () => {
    const a = await signup();
    const sa = await online(a, 'v2');
    const reply = waitFor(sa, 'sync_changes');
    sa.emit('sync_changes', {});
    assert.strictEqual((await reply).data.payload.more, false);
  });
});
