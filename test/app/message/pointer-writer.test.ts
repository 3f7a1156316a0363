import assert from 'node:assert';
import { Types } from 'mongoose';
import { app } from '../../helpers';
import { PointerWriter } from '../../../app/message/pointer-writer';
import type { ConversationDoc } from '../../../app/model/conversation';
import type { MessageDoc } from '../../../app/model/message';

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
    assert.deepStrictEqual([ doc!.lastSeq, doc!.lastMessage?.seq, doc!.lastMessage?.content ], [ 2, 2, 'm2' ]);
  });

  it('never lowers a pointer another process raised', async () => {
    const c = await conversation();
    const ahead = writer();
    ahead.mark([ message(c.id, 5) ]);
    await ahead.flush();
    const behind = writer();
    behind.mark([ message(c.id, 4) ]);
    await behind.flush();
    assert.strictEqual((await c.read())!.lastMessage?.seq, 5);
  });

  it('has nothing pending once flushed', async () => {
    const c = await conversation();
    const w = writer();
    w.mark([ message(c.id, 1) ]);
    await w.flush();
    assert.strictEqual(w.pending([ c.id ]).size, 0);
  });
});
