import assert from 'node:assert';
import { Types } from 'mongoose';
import { app, connectOk, emitAck, signup, waitFor, type TestUser } from '../../helpers';
import { encodeEntries } from '../../../app/model/delivery_batch';

/**
 * Delivery never skips (PROTOCOL §4 c_message_ack): only what a user acked counts as delivered to
 * them; an ack of a later message leaves an earlier unacked one in the next pull.
 */
let n = 0;
const text = (to: string, content: string) => ({ type: 1, to, content, fp: `dlv-${Date.now()}-${n++}` });
const online = (u: TestUser, version: 'v2' | 'v4' = 'v4') => connectOk({ version, token: u.token, query: { deviceType: 'WEB' } });
const ids = (pull: any) => pull.data.payload.map((m: any) => m._id);

describe('app/message delivery state', () => {
  it('acking only the newest message leaves the earlier ones in the next pull', async () => {
    const [ a, b ] = await Promise.all([ signup(), signup() ]);
    const sa = await online(a);
    const sent: any[] = [];
    for (let i = 0; i < 3; i++) sent.push((await emitAck(sa, 'to', text(b.id, `m${i}`))).data.payload);
    const sb = await online(b);
    assert.deepStrictEqual(ids(await emitAck(sb, 'offline_message')), sent.map(m => m._id));
    assert.strictEqual((await emitAck(sb, 'c_message_ack', sent[2])).code, 0);
    sb.close();
    const again = await online(b, 'v2');
    assert.deepStrictEqual(ids(await emitAck(again, 'offline_message')), [ sent[0]._id, sent[1]._id ]);
  });

  it('acks in any order: once every message is acked the pull is empty', async () => {
    const [ a, b ] = await Promise.all([ signup(), signup() ]);
    const sa = await online(a);
    const sent: any[] = [];
    for (let i = 0; i < 4; i++) sent.push((await emitAck(sa, 'to', text(b.id, `m${i}`))).data.payload);
    const sb = await online(b);
    await emitAck(sb, 'c_message_ack', [ sent[3], sent[1] ]);
    assert.deepStrictEqual(ids(await emitAck(sb, 'offline_message')), [ sent[0]._id, sent[2]._id ]);
    await emitAck(sb, 'c_message_ack', { data: [ sent[0] ] });
    await emitAck(sb, 'c_message_ack', { _id: sent[2]._id });
    assert.deepStrictEqual(ids(await emitAck(sb, 'offline_message')), []);
  });

  it('a message received live but not acked is pulled after a reconnect', async () => {
    const [ a, b ] = await Promise.all([ signup(), signup() ]);
    const [ sa, sb ] = await Promise.all([ online(a), online(b) ]);
    const first = waitFor(sb, 'c_message');
    const m1 = (await emitAck(sa, 'to', text(b.id, 'acked'))).data.payload;
    await first;
    await emitAck(sb, 'c_message_ack', m1);
    const second = waitFor(sb, 'c_message');
    const m2 = (await emitAck(sa, 'to', text(b.id, 'never acked'))).data.payload;
    assert.strictEqual((await second).data.payload._id, m2._id);
    sb.close();
    const back = await online(b);
    assert.deepStrictEqual(ids(await emitAck(back, 'offline_message')), [ m2._id ]);
  });

  it('a user\'s own messages never wait in their pull, and their acks advance past them', async () => {
    const [ a, b ] = await Promise.all([ signup(), signup() ]);
    const [ sa, sb ] = await Promise.all([ online(a), online(b) ]);
    const fromB = (await emitAck(sb, 'to', text(a.id, 'b1'))).data.payload;
    await emitAck(sa, 'to', text(b.id, 'a reply'));
    const fromB2 = (await emitAck(sb, 'to', text(a.id, 'b2'))).data.payload;
    await emitAck(sa, 'c_message_ack', [ fromB, fromB2 ]);
    assert.deepStrictEqual(ids(await emitAck(sa, 'offline_message')), []);
    const { app } = await import('../../helpers');
    await app.messages.flush(); // acks are folded into the memberships a moment after they are stored
    const doc = await app.model.Membership.findById(`${a.id}:${fromB.conversationId}`).lean<any>();
    assert.strictEqual(doc.deliveredSeq, 3, 'the cursor moved over the user\'s own message');
  });

  it('acks a stopped process stored but never folded count once the next process adopts its batches at start', async () => {
    const [ a, b ] = await Promise.all([ signup(), signup() ]);
    const m = (await emitAck(await online(a), 'to', text(b.id, 'acked before a crash'))).data.payload;
    // what a process killed between answering b's ack and folding it leaves behind
    await app.model.DeliveryBatch.create({ _id: new Types.ObjectId(), time: new Date(), data: encodeEntries([{ m: `${b.id}:${m.conversationId}`, seqs: [ m.seq ], sent: 0 }]) });
    await app.messages.adoptDeliveryBatches(true);
    assert.deepStrictEqual(ids(await emitAck(await online(b), 'offline_message')), []);
  });
});
