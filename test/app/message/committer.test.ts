import assert from 'node:assert';
import { app, signup } from '../../helpers';
import { MessageCommitter } from '../../../app/message/committer';
import { PointerWriter } from '../../../app/message/pointer-writer';
import { DeliveryWriter } from '../../../app/message/delivery-writer';
import { MemorySeqRegistry } from '../../../lib/seq-registry';
import { MemoryRecentMessages } from '../../../app/message/recent-messages';

/**
 * Two committers over one database stand for two worker processes: each has its own in-memory
 * seq counters, so they collide on (conversationId, seq) and must recover through the unique index.
 */
describe('app/message/committer', () => {
  const fail = (err: unknown) => { throw err; };
  /** a process of its own: its own counters, registry (no Redis) and writers */
  const committer = () => {
    const pointers = new PointerWriter(() => app.model.Conversation, 200, fail);
    const c = new MessageCommitter({
      models: () => app.model as any,
      seqs: new MemorySeqRegistry(),
      pointers,
      delivery: new DeliveryWriter(() => app.model.Membership.collection as any, fail),
      batchMax: 1000,
      timeoutMs: 10000,
      logError: fail,
      history: new MemoryRecentMessages(),
      deliver: () => undefined,
    });
    return Object.assign(c, { flushPointers: () => pointers.flush() });
  };
  const msg = (to: string, fp: string) => ({ type: 1, to, content: fp, fp, typeu: 1 as const });

  it('two processes sending into one conversation keep seq gap-free and each fp stored once', async () => {
    await app.ready();
    const [ a, b ] = await Promise.all([ signup(), signup() ]);
    const p1 = committer();
    const p2 = committer();
    // both processes learn the conversation first, so their counters go stale together
    await p1.submit({ from: a.id, input: msg(b.id, 'warm-1') });
    await p2.submit({ from: b.id, input: msg(a.id, 'warm-2') });
    const results = await Promise.all([
      ...Array.from({ length: 30 }, (_, i) => p1.submit({ from: a.id, input: msg(b.id, `p1-${i}`) })),
      ...Array.from({ length: 30 }, (_, i) => p2.submit({ from: b.id, input: msg(a.id, `p2-${i}`) })),
      // the same fp through both processes at once: stored once, both get the same message
      p1.submit({ from: a.id, input: msg(b.id, 'both') }),
      p2.submit({ from: a.id, input: msg(b.id, 'both') }),
    ]);
    const [ x, y ] = results.slice(-2);
    assert.strictEqual(String(x.message._id), String(y.message._id));
    const conversationId = results[0].message.conversationId;
    const stored = await app.model.Message.find({ conversationId }).sort({ seq: 1 }).lean();
    assert.deepStrictEqual(stored.map((m: any) => m.seq), Array.from({ length: stored.length }, (_, i) => i + 1));
    assert.strictEqual(stored.length, 2 + 60 + 1);
    assert.strictEqual(new Set(stored.map((m: any) => m.fp)).size, stored.length);
    // one after the other: FerretDB does not apply concurrent conditional updates atomically (MongoDB does)
    await p1.flushPointers();
    await p2.flushPointers();
    const conv = await app.model.Conversation.findById(conversationId).lean<{ lastSeq: number }>();
    assert.strictEqual(conv!.lastSeq, stored.length);
  });

  it('a pointer left behind by a crash (messages stored, pointer not raised) is repaired by the next send', async () => {
    const [ a, b ] = await Promise.all([ signup(), signup() ]);
    const p1 = committer();
    const first = await p1.submit({ from: a.id, input: msg(b.id, 'one') });
    await p1.submit({ from: a.id, input: msg(b.id, 'two') });
    await p1.flushPointers();
    await app.model.Conversation.updateOne({ _id: first.message.conversationId }, { $set: { lastSeq: 1 } });
    const next = await committer().submit({ from: b.id, input: msg(a.id, 'three') });
    assert.strictEqual(next.message.seq, 3);
  });
});
