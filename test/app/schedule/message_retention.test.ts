import assert from 'node:assert';
import mm from 'egg-mock';
import { app, connectChat, emitAck, signup } from '../../helpers';

const DAY = 24 * 3600 * 1000;

describe('app/schedule/message_retention', () => {
  /** a → b: 'old 1', 'old 2', 'new', pointers written */
  async function conversationOf3() {
    const [ a, b ] = await Promise.all([ signup(), signup() ]);
    const sa = await connectChat({ token: a.token });
    const sent = [];
    for (const content of [ 'old 1', 'old 2', 'new' ]) {
      sent.push((await emitAck(sa, 'to', { type: 1, to: b.id, content, fp: `${content}-${Date.now()}-${Math.random()}` })).data.payload);
    }
    await app.messages.flush();
    return { a, b, sa, sent };
  }

  /** the first two messages sent 8 days ago; a run with retentionDays 7 */
  async function twoOldRemoved() {
    const conv = await conversationOf3();
    await app.model.Message.updateMany({ _id: { $in: [ conv.sent[0]._id, conv.sent[1]._id ] } }, { $set: { sendTime: new Date(Date.now() - 8 * DAY) } });
    mm(app.config.message, 'retentionDays', 7);
    await app.runSchedule('message_retention');
    return conv;
  }

  /** all three messages sent 400 days ago; a run with `retentionDays` */
  async function allOld(retentionDays: number) {
    const conv = await conversationOf3();
    await app.model.Message.updateMany({ conversationId: conv.sent[0].conversationId }, { $set: { sendTime: new Date(Date.now() - 400 * DAY) } });
    mm(app.config.message, 'retentionDays', retentionDays);
    await app.runSchedule('message_retention');
    return conv;
  }

  it('removes only messages older than retentionDays', async () => {
    const { sent } = await twoOldRemoved();
    const left = await app.model.Message.find({ conversationId: sent[0].conversationId }).lean();
    assert.deepStrictEqual(left.map((m: any) => String(m._id)), [ sent[2]._id ]);
  });

  it('history no longer shows the removed messages', async () => {
    const { a, b, sa } = await twoOldRemoved();
    const history = await emitAck(sa, 'history_message', { timelineId: `${a.id}@${b.id}`, typeu: 1 });
    assert.deepStrictEqual(history.data.payload.map((m: any) => m.content), [ 'new' ]);
  });

  it('numbering goes on after a removal', async () => {
    const { b, sa } = await twoOldRemoved();
    const next = await emitAck(sa, 'to', { type: 1, to: b.id, content: 'later', fp: `later-${Date.now()}` });
    assert.strictEqual(next.data.payload.seq, 4);
  });

  it('retentionDays 0 keeps everything', async () => {
    const { sent } = await allOld(0);
    assert.strictEqual(await app.model.Message.countDocuments({ conversationId: sent[0].conversationId }), 3);
  });

  it('a conversation whose messages are all gone keeps its last seq and loses its last message', async () => {
    const { sent } = await allOld(365);
    assert.strictEqual(await app.model.Message.countDocuments({ conversationId: sent[0].conversationId }), 0);
    const conv = await app.model.Conversation.findById(sent[0].conversationId).lean<{ last?: unknown; lastMessage?: unknown; lastSeq: number }>();
    assert.strictEqual(conv!.last, undefined);
    assert.strictEqual(conv!.lastMessage, undefined);
    assert.strictEqual(conv!.lastSeq, 3);
  });

  it('a conversation whose messages are all gone leaves recent conversations', async () => {
    const { sa, sent } = await allOld(365);
    const recent = await emitAck(sa, 'recent_conversation');
    assert.ok(!recent.data.payload.some((c: any) => c.conversationId === sent[0].conversationId));
  });

  it('a message page whose newest message is older than retentionDays is removed', async () => {
    const conv = await conversationOf3();
    const pageId = `${conv.sent[0].conversationId}:0`;
    await app.model.MessagePage.updateOne({ _id: pageId }, { $set: { newest: new Date(Date.now() - 400 * DAY) } });
    mm(app.config.message, 'retentionDays', 365);
    await app.runSchedule('message_retention');
    assert.strictEqual(await app.model.MessagePage.countDocuments({ _id: pageId }), 0);
  });

  it('a message page with a message still kept stays', async () => {
    const { sent } = await twoOldRemoved();
    assert.strictEqual(await app.model.MessagePage.countDocuments({ _id: `${sent[0].conversationId}:0` }), 1);
  });
});
