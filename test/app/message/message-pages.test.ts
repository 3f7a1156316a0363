import assert from 'node:assert';
import { Types } from 'mongoose';
import { app, signup, type TestUser } from '../../helpers';
import { commandsDuring, describeCommands, quiet, type SeenCommand } from '../../db-commands';
import { ok, online } from '../../message-helpers';
import { c2cConversationId } from '../../../lib/conversation-ids';
import { PointerWriter } from '../../../app/message/pointer-writer';
import { MessagePages } from '../../../app/message/message-pages';
import { decodeEntry, revKey, type MessagePageDoc } from '../../../app/model/message_page';
import type { MessageDoc } from '../../../app/model/message';

/** more than the recent-messages cache answers for one conversation (100 pending) */
const AWAY_COUNT = 130;

const messageReads = (seen: SeenCommand[]) => seen.filter(c => c.collection === 'messages');
const bySeq = (a: { seq: number }, b: { seq: number }) => a.seq - b.seq;

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

/** A pointer writer that does not flush by itself, and a page reader on it. */
function unflushed(keptSince = 0) {
  const pointers = new PointerWriter(() => app.model.Conversation, 10_000, err => { throw err; }, () => app.model.MessagePage);
  const pages = new MessagePages({ pages: () => app.model.MessagePage, messages: () => app.model.Message, pointers, keptSince: () => keptSince });
  let n = 0;
  const message = (conversationId: string, seq: number, sendTime = new Date()): MessageDoc => ({
    _id: new Types.ObjectId(), fp: `mp${n++}`, from: new Types.ObjectId(), to: new Types.ObjectId(), type: 1, typeu: 1, content: `m${seq}`, conversationId, seq, sendTime,
  });
  return { pointers, pages, message };
}

describe('message pages (an away user\'s pull past the recent-messages cache)', () => {
  it('the pages hold every stored message by seq once the pointers are written', async () => {
    const { sent, conversationId } = await awayConversation(20);
    await quiet();
    const page = await app.model.MessagePage.findById(`${conversationId}:0`).lean<MessagePageDoc>();
    assert.ok(page, 'no page written');
    assert.deepStrictEqual(page.entries.map(decodeEntry).sort(bySeq).map(e => [ e.seq, e._id, e.content ]), sent.map(m => [ m.seq, m._id, m.content ]));
  });

  it('gets what is pending, oldest first, without reading the messages', async () => {
    const { away, sent } = await awayConversation();
    const { messages, seen } = await pullOf(away);
    assert.deepStrictEqual(messages.map(m => m._id), sent.map(m => m._id));
    assert.deepStrictEqual(messageReads(seen), [], describeCommands(seen));
  });

  it('a change of a message raises its rev in the page and adds no copy (pages stay bounded)', async () => {
    const { peer, sent, conversationId } = await awayConversation(20);
    const recalled = await app.messages.recall(peer.id, { _id: sent[0]._id });
    await quiet();
    const page = await app.model.MessagePage.findById(`${conversationId}:0`).lean<MessagePageDoc>();
    assert.strictEqual(page?.entries.length, 20);
    assert.strictEqual(page?.revs?.[revKey(sent[0].seq)], recalled.rev);
  });

  it('a message recalled after it was stored comes as the recall marker', async () => {
    const { away, peer, sent } = await awayConversation();
    const recalled = await app.messages.recall(peer.id, { _id: sent[0]._id });
    const { messages } = await pullOf(away);
    assert.deepStrictEqual(messages[0], recalled);
  });

  it('messages the pages do not have (stored before them) are read from the messages', async () => {
    const { away, sent, conversationId } = await awayConversation();
    await quiet();
    await app.model.MessagePage.deleteMany({ _id: { $in: [ `${conversationId}:1` ] } });
    const { messages, seen } = await pullOf(away);
    assert.deepStrictEqual(messages.map(m => m._id), sent.map(m => m._id));
    assert.strictEqual(messageReads(seen).length, 1, describeCommands(seen));
  });

  it('messages the pointer writer has not written yet count too', async () => {
    const { pointers, pages, message } = unflushed();
    const conversationId = `mp-${Date.now()}`;
    const stored = [ 1, 2, 3 ].map(seq => message(conversationId, seq));
    pointers.mark(stored);
    const { messages, unread } = await pages.oldest([{ conversationId, after: 1, upTo: 3 }], 10);
    assert.deepStrictEqual(messages.map(m => m._id), [ String(stored[1]._id), String(stored[2]._id) ]);
    assert.deepStrictEqual(unread, []);
  });

  it('the oldest of several conversations by time, no more than asked', async () => {
    const { pointers, pages, message } = unflushed();
    const [ a, b ] = [ `mpa-${Date.now()}`, `mpb-${Date.now()}` ];
    const t = Date.now();
    pointers.mark([ message(a, 1, new Date(t)), message(a, 2, new Date(t + 30)), message(b, 1, new Date(t + 10)), message(b, 2, new Date(t + 20)) ]);
    const { messages } = await pages.oldest([{ conversationId: a, after: 0, upTo: 2 }, { conversationId: b, after: 0, upTo: 2 }], 3);
    assert.deepStrictEqual(messages.map(m => [ m.conversationId, m.seq ]), [[ a, 1 ], [ b, 1 ], [ b, 2 ]]);
  });

  it('copies of messages older than retention keeps are not shown', async () => {
    const { pointers, pages, message } = unflushed(Date.now() - 1000);
    const conversationId = `mpr-${Date.now()}`;
    pointers.mark([ message(conversationId, 1, new Date(Date.now() - 60_000)), message(conversationId, 2) ]);
    const { messages } = await pages.oldest([{ conversationId, after: 0, upTo: 2 }], 10);
    assert.deepStrictEqual(messages.map(m => m.seq), [ 2 ]);
  });
});
