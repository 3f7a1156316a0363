import assert from 'node:assert';
import type { IModel } from 'egg';
import { app, signup } from '../../helpers';
import { MessageEngine } from '../../../app/message/engine';
import { Stores } from '../../../lib/stores';
import type { ConversationDoc } from '../../../app/model/conversation';
import type { MessageDoc } from '../../../app/model/message';

/**
 * Two engines over one database stand for two worker processes without Redis: each has its own
 * seq counters and registry, so they collide on (conversationId, seq) and must recover through the
 * unique index.
 */
describe('app/message/engine: two processes on one database', () => {
  const fail = (msg: string, err: unknown) => { throw err ?? new Error(msg); };
  const worker = () => new MessageEngine({
    models: () => app.model as unknown as IModel,
    seqRegistry: new Stores(null, 'test').seqRegistry(),
    recent: new Stores(null, 'test').recentMessages({ maxBytes: 1 << 20 }),
    presence: () => app.presenceRegistry,
    outbox: app.outbox,
    config: app.config.message,
    spendLookups: async () => undefined,
    features: { changes: app.config.changes, search: app.config.search, roomLimit: () => app.config.presence.roomLimit },
    changeRegistry: new Stores(null, 'test').changeRegistry({ inflightMs: app.config.changes.inflightMs }),
    logError: fail,
    shared: true,
  });
  const msg = (to: string, fp: string) => ({ type: 1, to, content: fp, fp, typeu: 1 as const });

  it('sending into one conversation from both keeps seq gap-free and stores each fp once', async () => {
    await app.ready();
    const [ a, b ] = await Promise.all([ signup(), signup() ]);
    const p1 = worker();
    const p2 = worker();
    // both processes learn the conversation first, so their counters go stale together
    await p1.send(a.id, msg(b.id, 'warm-1'));
    await p2.send(b.id, msg(a.id, 'warm-2'));
    const results = await Promise.all([
      ...Array.from({ length: 30 }, (_, i) => p1.send(a.id, msg(b.id, `p1-${i}`))),
      ...Array.from({ length: 30 }, (_, i) => p2.send(b.id, msg(a.id, `p2-${i}`))),
    ]);
    const stored = await app.model.Message.find({ conversationId: results[0].conversationId }).sort({ seq: 1 }).lean<MessageDoc[]>();
    assert.deepStrictEqual(stored.map(m => m.seq), Array.from({ length: 62 }, (_, i) => i + 1));
    assert.strictEqual(new Set(stored.map(m => m.fp)).size, 62);
  });

  it('the same fp sent through both at once is stored once and both get that message', async () => {
    const [ a, b ] = await Promise.all([ signup(), signup() ]);
    const p1 = worker();
    const p2 = worker();
    await p1.send(a.id, msg(b.id, 'warm'));
    await p2.send(a.id, msg(b.id, 'warm'));
    const [ x, y ] = await Promise.all([ p1.send(a.id, msg(b.id, 'both')), p2.send(a.id, msg(b.id, 'both')) ]);
    assert.strictEqual(x._id, y._id);
    assert.strictEqual(await app.model.Message.countDocuments({ conversationId: x.conversationId, fp: 'both' }), 1);
  });

  it('the conversation pointer ends at the last seq once both have written it', async () => {
    const [ a, b ] = await Promise.all([ signup(), signup() ]);
    const p1 = worker();
    const p2 = worker();
    const first = await p1.send(a.id, msg(b.id, 'one'));
    await p2.send(b.id, msg(a.id, 'two'));
    await p1.send(a.id, msg(b.id, 'three'));
    // one after the other: FerretDB does not apply concurrent conditional updates atomically (MongoDB does)
    await p1.flush();
    await p2.flush();
    const conv = await app.model.Conversation.findById(first.conversationId).lean<ConversationDoc>();
    assert.strictEqual(conv!.lastSeq, 3);
  });

  it('a pointer left behind by a crash (messages stored, pointer not raised) is repaired by the next send', async () => {
    const [ a, b ] = await Promise.all([ signup(), signup() ]);
    const p1 = worker();
    const first = await p1.send(a.id, msg(b.id, 'one'));
    await p1.send(a.id, msg(b.id, 'two'));
    await p1.flush();
    await app.model.Conversation.updateOne({ _id: first.conversationId }, { $set: { lastSeq: 1 } });
    const next = await worker().send(b.id, msg(a.id, 'three'));
    assert.strictEqual(next.seq, 3);
  });
});
