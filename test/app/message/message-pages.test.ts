import assert from 'node:assert';
import { app, signup, type TestUser } from '../../helpers';
import { commandsDuring, describeCommands, quiet, type SeenCommand } from '../../db-commands';
import { ok, online } from '../../message-helpers';
import { Types } from 'mongoose';
import { c2cConversationId } from '../../../lib/conversation-ids';
import { PointerWriter } from '../../../app/message/pointer-writer';
import { MessagePages } from '../../../app/message/message-pages';
import { decodeEntry, type MessagePageDoc } from '../../../app/model/message_page';

/** more than the recent-messages cache answers for one conversation (100 pending) */
const AWAY_COUNT = 130;

/** an `_id` value, not an operator (`{$in: …}`) */
const isIdValue = (v: any) => typeof v === 'string' || v?._bsontype === 'ObjectId';
/** reads of the messages that are not exactly `{_id: <value>}` (on FerretDB, each a scan of all of them) */
const rangeReads = (seen: SeenCommand[]) => seen.filter(c => c.collection === 'messages' && c.name === 'find' &&
  !(c.filter && Object.keys(c.filter).length === 1 && isIdValue(c.filter._id)));
const bySeq = (a: any, b: any) => a.seq - b.seq;

/** Messages from a peer to `away`, sent while it was away (through the engine: past the `to` rate limit): more than the cache answers. */
async function awayConversation(count = AWAY_COUNT) {
  const [ away, peer ] = [ await signup(), await signup() ];
  const sent: any[] = [];
  for (let i = 0; i < count; i += 10) {
    sent.push(...await Promise.all(Array.from({ length: Math.min(10, count - i) }, (_, k) =>
      app.messages.send(peer.id, { type: 1, typeu: 1, to: away.id, content: `m${i + k}`, fp: `pages-${Date.now()}-${i + k}` }))));
  }
  return { away, peer, sent: sent.sort(bySeq), conversationId: c2cConversationId(away.id, peer.id) };
}

async function pullOf(away: TestUser) {
  const socket = await online(away);
  let messages: any[] = [];
  const seen = await commandsDuring(async () => { messages = await ok(socket, 'offline_message'); });
  return { messages, seen };
}

describe('message pages (an away user\'s pull past the recent-messages cache)', () => {
  it('the pages name every stored message by seq once the pointers are written', async () => {
    const { sent, conversationId } = await awayConversation(20);
    await quiet();
    const page = await app.model.MessagePage.findById(`${conversationId}:0`).lean<MessagePageDoc>();
    assert.ok(page, 'no page written');
    assert.deepStrictEqual(page.entries.map(decodeEntry).sort(bySeq).map(e => [ e.seq, e.id ]), sent.map(m => [ m.seq, m._id ]));
  });

  it('gets what is pending, oldest first, reading the messages by _id only', async () => {
    const { away, sent } = await awayConversation();
    const { messages, seen } = await pullOf(away);
    assert.deepStrictEqual(messages.map(m => m._id), sent.map(m => m._id));
    assert.deepStrictEqual(rangeReads(seen), [], describeCommands(seen));
  });

  it('entries the pointer writer has not written yet count too', async () => {
    const conversationId = `mp-${Date.now()}`;
    const pointers = new PointerWriter(() => app.model.Conversation, 10_000, err => { throw err; }, () => app.model.MessagePage);
    const pages = new MessagePages({ pages: () => app.model.MessagePage, messages: () => app.model.Message, pointers, filtersUseIndexes: () => false });
    const ids = [ 1, 2, 3 ].map(() => new Types.ObjectId());
    pointers.mark(ids.map((_id, i) => ({ _id, fp: `mp${i}`, from: new Types.ObjectId(), to: new Types.ObjectId(), type: 1, typeu: 1, content: '', conversationId, seq: i + 1, sendTime: new Date() })));
    const located = await pages.entries([{ conversationId, after: 1, upTo: 3 }]);
    assert.deepStrictEqual(located.get(conversationId)?.map(e => [ e.seq, e.id ]), [[ 2, String(ids[1]) ], [ 3, String(ids[2]) ]]);
  });

  it('messages the pages do not know (stored before them) are found by their seqs all the same', async () => {
    const { away, sent, conversationId } = await awayConversation();
    await quiet();
    await app.model.MessagePage.deleteMany({ _id: { $in: [ `${conversationId}:0` ] } });
    const { messages, seen } = await pullOf(away);
    assert.deepStrictEqual(messages.map(m => m._id), sent.map(m => m._id));
    assert.strictEqual(rangeReads(seen).length, 1, describeCommands(seen));
  });
});
