import assert from 'node:assert';
import { app, connectOk, emitAck, signup } from '../../helpers';

describe('app/schedule/message_retention', () => {
  const original = () => app.config.message.retentionDays;
  let saved = 0;
  beforeEach(() => { saved = original(); });
  afterEach(() => { app.config.message.retentionDays = saved; });

  async function conversationOf3() {
    const [ a, b ] = await Promise.all([ signup(), signup() ]);
    const sa = await connectOk({ token: a.token });
    const sent = [];
    for (const content of [ 'old 1', 'old 2', 'new' ]) {
      sent.push((await emitAck(sa, 'to', { type: 1, to: b.id, content, fp: `${content}-${Date.now()}-${Math.random()}` })).data.payload);
    }
    await app.messages.flush();
    return { a, b, sa, sent };
  }

  it('removes only messages older than retentionDays, and what points at them', async () => {
    const { a, b, sa, sent } = await conversationOf3();
    const longAgo = new Date(Date.now() - 8 * 24 * 3600 * 1000);
    await app.model.Message.updateMany({ _id: { $in: [ sent[0]._id, sent[1]._id ] } }, { $set: { sendTime: longAgo } });
    app.config.message.retentionDays = 7;
    await app.runSchedule('message_retention');

    const left = await app.model.Message.find({ conversationId: sent[0].conversationId }).lean();
    assert.deepStrictEqual(left.map((m: any) => String(m._id)), [ sent[2]._id ]);
    const history = await emitAck(sa, 'history_message', { timelineId: `${a.id}@${b.id}`, typeu: 1 });
    assert.deepStrictEqual(history.data.payload.map((m: any) => m.content), [ 'new' ]);
    // numbering goes on after the removal
    const next = await emitAck(sa, 'to', { type: 1, to: b.id, content: 'later', fp: `later-${Date.now()}` });
    assert.strictEqual(next.data.payload.seq, 4);
  });

  it('drops a conversation whose messages are all gone from recent conversations; 0 keeps everything', async () => {
    const { sa, sent } = await conversationOf3();
    const longAgo = new Date(Date.now() - 400 * 24 * 3600 * 1000);
    await app.model.Message.updateMany({ conversationId: sent[0].conversationId }, { $set: { sendTime: longAgo } });

    app.config.message.retentionDays = 0;
    await app.runSchedule('message_retention');
    assert.strictEqual(await app.model.Message.countDocuments({ conversationId: sent[0].conversationId }), 3);

    app.config.message.retentionDays = 365;
    await app.runSchedule('message_retention');
    assert.strictEqual(await app.model.Message.countDocuments({ conversationId: sent[0].conversationId }), 0);
    const conv = await app.model.Conversation.findById(sent[0].conversationId).lean<{ lastMessage?: unknown; lastSeq: number }>();
    assert.strictEqual(conv!.lastMessage, undefined);
    assert.strictEqual(conv!.lastSeq, 3);
    const recent = await emitAck(sa, 'recent_conversation');
    assert.ok(!recent.data.payload.some((c: any) => c.conversationId === sent[0].conversationId));
  });
});
