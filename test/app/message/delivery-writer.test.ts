import assert from 'node:assert';
import type { Collection } from 'mongodb';
import { app } from '../../helpers';
import { DeliveryWriter } from '../../../app/message/delivery-writer';
import { membershipId } from '../../../lib/conversation-ids';
import type { MembershipDoc } from '../../../app/model/membership';

const fail = (err: unknown) => { throw err; };
let n = 0;
const user = () => `${Date.now().toString(16)}${(n++).toString(16)}`.padStart(24, '0');
const writer = () => new DeliveryWriter(() => app.model.Membership.collection as unknown as Collection<MembershipDoc>, fail);
/** A user's place in a conversation, as the committer or a room join makes it. */
async function place(readSeq = 0) {
  const u = user();
  const conversationId = `dw-${n++}`;
  await app.model.Membership.create({ _id: membershipId(u, conversationId), user: u, conversationId, typeu: 2, deliveredSeq: 0, acked: [], readSeq, sentSeq: 0, joinedSeq: 0, hidden: [] });
  return { u, conversationId, read: () => app.model.Membership.findById(membershipId(u, conversationId)).lean<MembershipDoc>() };
}

describe('app/message/delivery-writer', () => {
  before(() => app.ready());

  it('acks without a gap move the delivered cursor', async () => {
    const p = await place();
    await writer().markAcked(p.u, p.conversationId, [ 1, 2, 3 ]);
    const m = await p.read();
    assert.deepStrictEqual([ m!.deliveredSeq, m!.acked ], [ 3, [] ]);
  });

  it('an ack above a gap waits in `acked` and does not move the cursor', async () => {
    const p = await place();
    await writer().markAcked(p.u, p.conversationId, [ 3 ]);
    const m = await p.read();
    assert.deepStrictEqual([ m!.deliveredSeq, m!.acked ], [ 0, [ 3 ] ]);
  });

  it('filling the gap folds the waiting acks into the cursor', async () => {
    const p = await place();
    const w = writer();
    await w.markAcked(p.u, p.conversationId, [ 2, 3 ]);
    await w.markAcked(p.u, p.conversationId, [ 1 ]);
    await w.settled();
    assert.strictEqual((await p.read())!.deliveredSeq, 3);
  });

  it('the sender\'s own messages count as delivered to them', async () => {
    const p = await place();
    const w = writer();
    w.markSent(p.u, p.conversationId, 1);
    await w.markAcked(p.u, p.conversationId, [ 2 ]);
    assert.strictEqual((await p.read())!.deliveredSeq, 2);
  });

  it('a sender\'s own message is not written at once', async () => {
    const p = await place();
    writer().markSent(p.u, p.conversationId, 1);
    await new Promise(resolve => setTimeout(resolve, 300));
    const m = await p.read();
    assert.deepStrictEqual([ m!.deliveredSeq, m!.sentSeq ], [ 0, 0 ]);
  });

  it('a sender\'s own message goes with that membership\'s next ack, in one update', async () => {
    const p = await place();
    const w = writer();
    w.markSent(p.u, p.conversationId, 1);
    const updates: string[] = [];
    const client = app.mongoose.connection.getClient();
    const listener = (ev: any) => { if (ev.commandName === 'update' && ev.command.update === 'memberships') updates.push(ev.commandName); };
    client.on('commandStarted', listener);
    try {
      await w.markAcked(p.u, p.conversationId, [ 2 ]);
    } finally {
      client.off('commandStarted', listener);
    }
    const m = await p.read();
    assert.deepStrictEqual([ updates.length, m!.deliveredSeq, m!.sentSeq ], [ 1, 2, 1 ]);
  });

  it('settled() writes a sender\'s own message at once', async () => {
    const p = await place();
    const w = writer();
    w.markSent(p.u, p.conversationId, 1);
    const started = Date.now();
    await w.settled(p.u);
    assert.ok(Date.now() - started < 2500);
    assert.strictEqual((await p.read())!.sentSeq, 1);
  });

  it('with nothing else to go with, a sender\'s own message is written within 3 s', async () => {
    const p = await place();
    writer().markSent(p.u, p.conversationId, 1);
    let m = await p.read();
    for (let i = 0; i < 50 && !m!.sentSeq; i++) {
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
    await writer().hide(p.u, p.conversationId, id, 1);
    const m = await p.read();
    assert.deepStrictEqual([ m!.deliveredSeq, m!.hidden.map(String) ], [ 1, [ id ] ]);
  });
});
