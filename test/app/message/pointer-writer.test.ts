import assert from 'node:assert';
import { Types } from 'mongoose';
import { app, sleep } from '../../helpers';
import { PointerWriter } from '../../../app/message/pointer-writer';
import type { ConversationDoc } from '../../../app/model/conversation';
import { toWire, type MessageDoc } from '../../../app/model/message';

const fail = (err: unknown) => { throw err; };
let n = 0;
const message = (conversationId: string, seq: number): MessageDoc => ({
  _id: new Types.ObjectId(), fp: `p${n++}`, from: new Types.ObjectId(), to: new Types.ObjectId(), type: 1, typeu: 1, content: `m${seq}`, conversationId, seq, sendTime: new Date(Date.now() + seq),
});
async function conversation() {
  const id = `pw-${Date.now()}-${n++}`;
  await app.model.Conversation.create({ _id: id, typeu: 1, users: [], lastSeq: 0, updatedAt: new Date(0) });
  return { id, read: () => app.model.Conversation.findById(id).lean<ConversationDoc>() };
}
const writer = () => new PointerWriter(() => app.model.Conversation, 10_000, fail);

describe('app/message/pointer-writer', () => {
  before(() => app.ready());

  it('keeps the newest message of a conversation among several marks', async () => {
    const c = await conversation();
    const w = writer();
    w.mark([ message(c.id, 2), message(c.id, 3), message(c.id, 1) ]);
    assert.strictEqual(w.pending([ c.id ]).get(c.id)?.seq, 3);
  });

  it('writes the last seq and the last message on flush', async () => {
    const c = await conversation();
    const w = writer();
    w.mark([ message(c.id, 1), message(c.id, 2) ]);
    await w.flush();
    const doc = await c.read();
    assert.deepStrictEqual([ doc!.lastSeq, doc!.last?.seq, doc!.last?.message.content ], [ 2, 2, 'm2' ]);
  });

  it('never lowers a pointer another process raised', async () => {
    const c = await conversation();
    const ahead = writer();
    ahead.mark([ message(c.id, 5) ]);
    await ahead.flush();
    const behind = writer();
    behind.mark([ message(c.id, 4) ]);
    await behind.flush();
    assert.strictEqual((await c.read())!.last?.message.seq, 5);
  });

  it('raises the last message at a later flush (FerretDB stores a nested _id first)', async () => {
    const c = await conversation();
    const w = writer();
    w.mark([ message(c.id, 1) ]);
    await w.flush();
    w.mark([ message(c.id, 2) ]);
    await w.flush();
    assert.strictEqual((await c.read())!.last?.message.content, 'm2');
  });

  it('takes a later revision of the last message, and not a change of an older one', async () => {
    const c = await conversation();
    const w = writer();
    const m2 = message(c.id, 2);
    w.mark([ message(c.id, 1), m2 ]);
    await w.flush();
    w.changed({ ...toWire(m2), content: 'm2 edited', rev: 1 });
    await w.flush();
    w.changed({ ...toWire(message(c.id, 1)), content: 'm1 edited', rev: 3 });
    await w.flush();
    const doc = await c.read();
    assert.deepStrictEqual([ doc!.last?.message.content, doc!.last?.rev ], [ 'm2 edited', 1 ]);
  });

  it('has nothing pending once flushed', async () => {
    const c = await conversation();
    const w = writer();
    w.mark([ message(c.id, 1) ]);
    await w.flush();
    assert.strictEqual(w.pending([ c.id ]).size, 0);
  });

  it('a removed message that is the last one leaves the conversation without a last message, its last seq kept', async () => {
    const c = await conversation();
    const w = writer();
    const m = message(c.id, 1);
    w.mark([ m ]);
    await w.flush();
    w.removed(c.id, [ String(m._id) ]);
    await w.flush();
    const doc = await c.read();
    assert.deepStrictEqual([ doc!.last, doc!.lastSeq ], [ undefined, 1 ]);
  });

  it('a removed message that is no longer the last one leaves the last one alone', async () => {
    const c = await conversation();
    const w = writer();
    const old = message(c.id, 1);
    w.mark([ old ]);
    await w.flush();
    w.mark([ message(c.id, 2) ]);
    w.removed(c.id, [ String(old._id) ]);
    await w.flush();
    assert.strictEqual((await c.read())!.last?.message.content, 'm2');
  });

  /** A writer whose bulk writes take 300 ms more: another flush runs while one is being written. */
  const slowWriter = () => new PointerWriter(() => ({
    bulkWrite: async (...args: Parameters<typeof app.model.Conversation.bulkWrite>) => {
      await sleep(300);
      return app.model.Conversation.bulkWrite(...args);
    },
  }) as unknown as typeof app.model.Conversation, 10_000, fail);

  it('a flush called while another writes returns only once that write is stored', async () => {
    const c = await conversation();
    const w = slowWriter();
    w.mark([ message(c.id, 1) ]);
    const first = w.flush();
    await w.flush();
    assert.strictEqual((await c.read())!.lastSeq, 1, 'stored when the second flush returned');
    await first;
  });

  it('a message being written still counts as pending after a flush that found nothing new', async () => {
    const c = await conversation();
    const w = slowWriter();
    w.mark([ message(c.id, 1) ]);
    const first = w.flush();
    const second = w.flush();
    // the second flush has nothing of its own; until the first's write is stored, readers still see the message here
    await Promise.race([ second, sleep(100) ]);
    assert.ok((await c.read())!.lastSeq === 1 || w.pending([ c.id ]).get(c.id)?.seq === 1, 'neither stored nor pending');
    await Promise.all([ first, second ]);
  });
});
