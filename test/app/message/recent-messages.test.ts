import assert from 'node:assert';
import { connectOk, emitAck, signup, type TestUser } from '../../helpers';
import { commandsDuring, describeCommands } from '../../db-commands';

/** The newest history page of an active conversation comes from memory, and is the same as the store's. */
let n = 0;
const text = (to: string, content: string) => ({ type: 1, to, content, fp: `rm-${Date.now()}-${n++}` });
const online = (u: TestUser) => connectOk({ token: u.token, query: { deviceType: 'WEB' } });
const seqs = (r: any) => r.data.payload.map((m: any) => m.seq);

describe('app/message recent messages', () => {
  it('the newest page of an active conversation reads no message from the store', async () => {
    const [ a, b ] = await Promise.all([ signup(), signup() ]);
    const sa = await online(a);
    for (let i = 0; i < 30; i++) await emitAck(sa, 'to', text(b.id, `m${i}`));
    let page: any;
    const seen = await commandsDuring(async () => {
      page = await emitAck(sa, 'history_message', { timelineId: `${a.id}@${b.id}`, typeu: 1, limit: 20 });
    });
    assert.deepStrictEqual(seqs(page), Array.from({ length: 20 }, (_, i) => 30 - i));
    assert.ok(!seen.some(c => c.collection === 'messages'), describeCommands(seen));
  });

  it('pages older than what memory holds come from the store, in order', async function() {
    this.timeout(60000);
    const [ a, b ] = await Promise.all([ signup(), signup() ]);
    const sa = await online(a);
    for (let i = 0; i < 130; i++) {
      // under the per-socket limit of 100 events a second
      if (i % 80 === 79) await new Promise(resolve => setTimeout(resolve, 1000));
      assert.strictEqual((await emitAck(sa, 'to', text(b.id, `m${i}`))).code, 0);
    }
    const page = await emitAck(sa, 'history_message', { timelineId: `${a.id}@${b.id}`, typeu: 1, before: 15, limit: 20 });
    assert.deepStrictEqual(seqs(page), Array.from({ length: 14 }, (_, i) => 14 - i));
  });

  it('a recalled message shows as the recall marker in the newest page', async () => {
    const [ a, b ] = await Promise.all([ signup(), signup() ]);
    const sa = await online(a);
    const sent = (await emitAck(sa, 'to', text(b.id, 'oops'))).data.payload;
    await emitAck(sa, 'to', text(b.id, 'after'));
    assert.strictEqual((await emitAck(sa, 'to_undo', { _id: sent._id })).code, 0);
    const page = await emitAck(sa, 'history_message', { timelineId: `${a.id}@${b.id}`, typeu: 1 });
    const recalled = page.data.payload.find((m: any) => m._id === sent._id);
    assert.strictEqual(recalled.type, 10);
    assert.strictEqual(recalled.content, '');
  });
});
