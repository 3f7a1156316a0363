import assert from 'node:assert';
import { Types } from 'mongoose';
import { app } from '../../helpers';
import { SeqKnowledge } from '../../../app/message/seq-knowledge';
import { Stores, type SeqRegistry } from '../../../lib/stores';
import type { MessageDoc } from '../../../app/model/message';

const fail = (err: unknown) => { throw err; };
let n = 0;
const conversation = () => `seq-${Date.now()}-${n++}`;
function knowledge(registry: SeqRegistry = new Stores(null, 'test').seqRegistry()) {
  return new SeqKnowledge({ registry, conversations: () => app.model.Conversation, messages: () => app.model.Message, onError: fail, pointerIntervalMs: 10_000 });
}
const message = (conversationId: string, seq: number): MessageDoc => ({
  _id: new Types.ObjectId(), fp: `f${seq}-${n++}`, from: new Types.ObjectId(), to: new Types.ObjectId(), type: 1, typeu: 1, content: `m${seq}`, conversationId, seq, sendTime: new Date(),
});
const pointer = (id: string, lastSeq: number) => app.model.Conversation.create({ _id: id, typeu: 1, users: [], lastSeq, updatedAt: new Date() });

describe('app/message/seq-knowledge', () => {
  before(() => app.ready());

  describe('visible (what pulls go by)', () => {
    it('asks the registry first', async () => {
      const id = conversation();
      const registry = new Stores(null, 'test').seqRegistry();
      await registry.advance(new Map([[ id, 7 ]]));
      await pointer(id, 3);
      assert.strictEqual((await knowledge(registry).visible([ id ])).get(id), 7);
    });

    it('falls back to the conversation pointer when the registry does not know it', async () => {
      const id = conversation();
      await pointer(id, 3);
      assert.strictEqual((await knowledge().visible([ id ])).get(id), 3);
    });

    it('leaves out a conversation that does not exist', async () => {
      assert.strictEqual((await knowledge().visible([ conversation() ])).size, 0);
    });
  });

  describe('for allocation (the committer)', () => {
    it('has no counter for a conversation that does not exist', async () => {
      const seqs = knowledge();
      const id = conversation();
      await seqs.prepare([ id ]);
      assert.strictEqual(seqs.counter(id), undefined);
    });

    it('starts from the pointer, then keeps its own counter', async () => {
      const seqs = knowledge();
      const id = conversation();
      await pointer(id, 4);
      await seqs.prepare([ id ]);
      assert.strictEqual(seqs.counter(id), 4);
      await seqs.stored([ message(id, 5) ]);
      await app.model.Conversation.updateOne({ _id: id }, { $set: { lastSeq: 1 } });
      await seqs.prepare([ id ]);
      assert.strictEqual(seqs.counter(id), 5);
    });

    it('after a collision counts from the newest stored message', async () => {
      const seqs = knowledge();
      const id = conversation();
      await pointer(id, 1);
      await app.model.Message.insertMany([ message(id, 1), message(id, 2), message(id, 3) ]);
      await seqs.prepare([ id ]);
      assert.strictEqual(seqs.counter(id), 1);
      seqs.collided(id);
      assert.strictEqual(seqs.counter(id), undefined);
      await seqs.prepare([ id ]);
      assert.strictEqual(seqs.counter(id), 3);
    });
  });

  describe('stored', () => {
    it('raises the registry, so pulls see the new messages', async () => {
      const registry = new Stores(null, 'test').seqRegistry();
      const id = conversation();
      await knowledge(registry).stored([ message(id, 1), message(id, 2) ]);
      assert.strictEqual((await registry.get([ id ])).get(id), 2);
    });

    it('an earlier message found again raises the registry but not this process\'s pointer', async () => {
      const registry = new Stores(null, 'test').seqRegistry();
      const seqs = knowledge(registry);
      const id = conversation();
      await seqs.stored([ message(id, 4) ], false);
      assert.strictEqual((await registry.get([ id ])).get(id), 4);
      assert.strictEqual(seqs.pointers.pending([ id ]).size, 0);
    });
  });

  it('last: the newest stored message when the registry does not know the conversation', async () => {
    const id = conversation();
    await app.model.Message.insertMany([ message(id, 1), message(id, 2) ]);
    assert.strictEqual(await knowledge().last(id), 2);
  });

  it('heads: a pointer not written yet shows over the stored conversation', async () => {
    const seqs = knowledge();
    const id = conversation();
    await pointer(id, 1);
    await seqs.stored([ message(id, 2) ]);
    const head = (await seqs.heads([ id ])).get(id)!;
    assert.deepStrictEqual([ head.lastSeq, head.lastMessage?.seq ], [ 2, 2 ]);
  });
});
