import assert from 'node:assert';
import type { IModel } from 'egg';
import { app, signup } from '../../helpers';
import { MessageCommitter } from '../../../app/message/committer';
import { SeqKnowledge } from '../../../app/message/seq-knowledge';
import { Stores } from '../../../lib/stores';
import { c2cConversationId, membershipId } from '../../../lib/conversation-ids';

const fail = (err: unknown) => { throw err; };
/** A committer of its own process: its own counters and (memory) registry. */
function committerOfAProcess() {
  const models = () => app.model as unknown as IModel;
  const seqs = new SeqKnowledge({ registry: new Stores(null, 'test').seqRegistry(), conversations: () => app.model.Conversation, messages: () => app.model.Message, onError: fail });
  return { committer: new MessageCommitter(models, seqs), seqs };
}
let n = 0;
const text = (to: string, fp = `cm-${Date.now()}-${n++}`) => ({ type: 1, to, content: fp, fp, typeu: 1 as const });

describe('app/message/committer', () => {
  before(() => app.ready());

  it('a first message creates the conversation and both members\' places in it', async () => {
    const [ a, b ] = await Promise.all([ signup(), signup() ]);
    const { committer } = committerOfAProcess();
    await committer.store([{ from: a.id, input: text(b.id) }]);
    const id = c2cConversationId(a.id, b.id);
    assert.ok(await app.model.Conversation.exists({ _id: id }));
    assert.strictEqual(await app.model.Membership.countDocuments({ _id: { $in: [ membershipId(a.id, id), membershipId(b.id, id) ] } }), 2);
  });

  it('allocates seqs in arrival order within a batch, 1 first', async () => {
    const [ a, b ] = await Promise.all([ signup(), signup() ]);
    const { committer } = committerOfAProcess();
    const outcomes = await committer.store([ text(b.id), text(b.id), text(b.id) ].map(input => ({ from: a.id, input })));
    assert.deepStrictEqual(outcomes.map(o => ('stored' in o ? o.stored.seq : null)), [ 1, 2, 3 ]);
  });

  it('answers an fp stored before with the earlier message instead of storing it again', async () => {
    const [ a, b ] = await Promise.all([ signup(), signup() ]);
    const { committer } = committerOfAProcess();
    const input = text(b.id);
    const [ first ] = await committer.store([{ from: a.id, input }]);
    const [ again ] = await committer.store([{ from: a.id, input }]);
    assert.ok('stored' in first && 'earlier' in again);
    assert.strictEqual(String(again.earlier._id), String(first.stored._id));
  });

  it('a seq another process took makes the send come back for a retry, and the next try goes past it', async () => {
    const [ a, b ] = await Promise.all([ signup(), signup() ]);
    const one = committerOfAProcess();
    const two = committerOfAProcess();
    await one.committer.store([{ from: a.id, input: text(b.id) }]); // seq 1; the pointer still says 0
    const input = text(a.id);
    const [ collided ] = await two.committer.store([{ from: b.id, input }]); // two counts from the pointer: 1 again
    assert.ok('retry' in collided);
    const [ retried ] = await two.committer.store([{ from: b.id, input }]);
    assert.ok('stored' in retried && retried.stored.seq === 2);
  });
});
