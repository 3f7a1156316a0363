import assert from 'node:assert';
import type { Collection } from 'mongodb';
import { app } from '../../helpers';
import { DeliveryWriter, withUnfolded } from '../../../app/message/delivery-writer';
import { membershipId } from '../../../lib/conversation-ids';
import type { MembershipDoc } from '../../../app/model/membership';
import { decodeEntries, type DeliveryBatchDoc } from '../../../app/model/delivery_batch';

const fail = (err: unknown) => { throw err; };
let n = 0;
const user = () => `${Date.now().toString(16)}${(n++).toString(16)}`.padStart(24, '0');
const writer = (shared = false) => new DeliveryWriter({
  memberships: () => app.model.Membership.collection as unknown as Collection<MembershipDoc>,
  batches: () => app.model.DeliveryBatch.collection as unknown as Collection<DeliveryBatchDoc>,
  shared,
  onError: fail,
});
/** A user's place in a conversation, as the committer or a room join makes it. */
async function place(readSeq = 0) {
  const u = user();
  const conversationId = `dw-${n++}`;
  await app.model.Membership.create({ _id: membershipId(u, conversationId), user: u, conversationId, typeu: 2, deliveredSeq: 0, acked: [], readSeq, sentSeq: 0, joinedSeq: 0, hidden: [] });
  return { u, conversationId, read: () => app.model.Membership.findById(membershipId(u, conversationId)).lean<MembershipDoc>() };
}

/** This membership's entries in the stored delivery batches. */
async function batched(p: { u: string; conversationId: string }) {
  const id = membershipId(p.u, p.conversationId);
  const docs = await app.model.DeliveryBatch.find({}, { data: 1 }).lean<DeliveryBatchDoc[]>();
  return docs.flatMap(d => decodeEntries(d.data)).filter(e => e.m === id);
}

describe('app/message/delivery-writer', () => {
  before(() => app.ready());

  it('acks without a gap move the delivered cursor', async () => {
    const p = await place();
    const w = writer();
    await w.markAcked(p.u, p.conversationId, [ 1, 2, 3 ]);
    await w.folded();
    const m = await p.read();
    assert.deepStrictEqual([ m!.deliveredSeq, m!.acked ], [ 3, [] ]);
  });

  it('an ack above a gap waits in `acked` and does not move the cursor', async () => {
    const p = await place();
    const w = writer();
    await w.markAcked(p.u, p.conversationId, [ 3 ]);
    await w.folded();
    const m = await p.read();
    assert.deepStrictEqual([ m!.deliveredSeq, m!.acked ], [ 0, [ 3 ] ]);
  });

  it('filling the gap folds the waiting acks into the cursor', async () => {
    const p = await place();
    const w = writer();
    await w.markAcked(p.u, p.conversationId, [ 2, 3 ]);
    await w.folded();
    await w.markAcked(p.u, p.conversationId, [ 1 ]);
    await w.folded();
    assert.strictEqual((await p.read())!.deliveredSeq, 3);
  });

  it('an ack is answered once its batch is stored, before the membership is written', async () => {
    const p = await place();
    const w = writer();
    await w.markAcked(p.u, p.conversationId, [ 1 ]);
    const [ m, entries ] = await Promise.all([ p.read(), batched(p) ]);
    assert.deepStrictEqual([ m!.deliveredSeq, entries.map(e => e.seqs) ], [ 0, [[ 1 ]] ]);
  });

  it('readers see acks not folded yet', async () => {
    const p = await place();
    const w = writer();
    await w.markAcked(p.u, p.conversationId, [ 1, 2, 4 ]);
    const unfolded = await w.unfoldedOf([ p.u ]);
    const m = withUnfolded((await p.read())!, unfolded.get(membershipId(p.u, p.conversationId)));
    assert.deepStrictEqual([ m.deliveredSeq, m.acked ], [ 2, [ 4 ] ]);
  });

  it('another process\'s unfolded acks are read from its batches when processes share the database', async () => {
    const p = await place();
    await writer(true).markAcked(p.u, p.conversationId, [ 1 ]);
    const unfolded = await writer(true).unfoldedOf([ p.u ]);
    assert.deepStrictEqual([ ...unfolded.get(membershipId(p.u, p.conversationId))?.seqs ?? [] ], [ 1 ]);
  });

  it('a folded batch is deleted', async () => {
    const p = await place();
    const w = writer();
    await w.markAcked(p.u, p.conversationId, [ 1 ]);
    await w.folded();
    assert.deepStrictEqual(await batched(p), []);
  });

  it('the acks of a few seconds fold into one membership update', async () => {
    const p = await place();
    const w = writer();
    const updates: unknown[] = [];
    const client = app.mongoose.connection.getClient();
    const listener = (ev: any) => { if (ev.commandName === 'update' && ev.command.update === 'memberships') updates.push(ev.command); };
    client.on('commandStarted', listener);
    try {
      for (let seq = 1; seq <= 5; seq++) await w.markAcked(p.u, p.conversationId, [ seq ]);
      await w.folded();
    } finally {
      client.off('commandStarted', listener);
    }
    assert.deepStrictEqual([ updates.length, (await p.read())!.deliveredSeq ], [ 1, 5 ]);
  });

  it('a batch left by a stopped process is adopted and folded', async () => {
    const p = await place();
    await writer().markAcked(p.u, p.conversationId, [ 1, 2 ]); // this writer stops here, its fold never runs
    const next = writer();
    assert.ok(await next.adopt(0) >= 1);
    await next.folded();
    const [ m, left ] = await Promise.all([ p.read(), batched(p) ]);
    assert.deepStrictEqual([ m!.deliveredSeq, left ], [ 2, [] ]);
  });

  it('the sender\'s own messages count as delivered to them', async () => {
    const p = await place();
    const w = writer();
    w.markSent(p.u, p.conversationId, 1);
    await w.markAcked(p.u, p.conversationId, [ 2 ]);
    await w.folded();
    assert.strictEqual((await p.read())!.deliveredSeq, 2);
  });

  it('a sender\'s own message is not written at once', async () => {
    const p = await place();
    writer().markSent(p.u, p.conversationId, 1);
    await new Promise(resolve => setTimeout(resolve, 300));
    const [ m, entries ] = await Promise.all([ p.read(), batched(p) ]);
    assert.deepStrictEqual([ m!.deliveredSeq, m!.sentSeq, entries ], [ 0, 0, [] ]);
  });

  it('a sender\'s own message goes with that membership\'s next ack, in one batch entry', async () => {
    const p = await place();
    const w = writer();
    w.markSent(p.u, p.conversationId, 1);
    await w.markAcked(p.u, p.conversationId, [ 2 ]);
    assert.deepStrictEqual((await batched(p)).map(e => [ [ ...e.seqs ].sort(), e.sent ]), [ [ [ 1, 2 ], 1 ] ]);
  });

  it('settled() stores a sender\'s own message at once', async () => {
    const p = await place();
    const w = writer();
    w.markSent(p.u, p.conversationId, 1);
    const started = Date.now();
    await w.settled(p.u);
    assert.ok(Date.now() - started < 2500);
    assert.strictEqual((await w.unfoldedOf([ p.u ])).get(membershipId(p.u, p.conversationId))?.sent, 1);
  });

  it('with nothing else to go with, a sender\'s own message is written within 3 s and folded a second later', async () => {
    const p = await place();
    writer().markSent(p.u, p.conversationId, 1);
    let m = await p.read();
    for (let i = 0; i < 80 && !m!.sentSeq; i++) {
      await new Promise(resolve => setTimeout(resolve, 100));
      m = await p.read();
    }
    assert.strictEqual(m!.sentSeq, 1);
  });

  it('a read says once what became read', async () => {
    const p = await place(2);
    const w = writer();
    const [ first, second ] = await Promise.all([ w.markRead(p.u, p.conversationId, 5), w.markRead(p.u, p.conversationId, 4) ]);
    assert.deepStrictEqual([ first.newlyRead, second.newlyRead ], [ { conversationId: p.conversationId, after: 2, upTo: 5 }, undefined ]);
  });

  it('a read never lowers the read cursor', async () => {
    const p = await place(6);
    const { newlyRead } = await writer().markRead(p.u, p.conversationId, 4);
    assert.deepStrictEqual([ newlyRead, (await p.read())!.readSeq ], [ undefined, 6 ]);
  });

  it('a read in a conversation the user has no place in says so', async () => {
    const { member } = await writer().markRead(user(), 'nowhere', 3);
    assert.strictEqual(member, false);
  });

  it('a hidden message is recorded and counts as delivered', async () => {
    const p = await place();
    const id = '0123456789abcdef01234567';
    const w = writer();
    await w.hide(p.u, p.conversationId, id, 1);
    await w.folded();
    const m = await p.read();
    assert.deepStrictEqual([ m!.deliveredSeq, m!.hidden.map(String) ], [ 1, [ id ] ]);
  });
});
