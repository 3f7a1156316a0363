/**
 * Stores a batch of accepted sends (the group commit's write, called by the engine):
 *
 *   1. conversations seen for the first time are inserted (and a c2c pair's two memberships)
 *   2. seqs are allocated per conversation in arrival order from the seq knowledge's counters
 *   3. ONE ordered insert of every message, sorted by (conversation, seq)
 *
 * Idempotency rides on the unique (from, fp) index: a retry of a stored fp makes the insert fail at
 * that document, which is then looked up and answered as the stored message. Across processes
 * (several workers on MongoDB) the unique (conversationId, seq) index decides: a collision stops
 * the ordered insert, the conversation's counter is marked stale and the unsent rest is retried.
 * Counters only ever move past stored messages, and the insert is ordered by (conversation, seq),
 * so every conversation stays gap-free. One batch runs at a time per process (the group commit),
 * so the counters need no lock.
 */
import { Types, type Model } from 'mongoose';
import { oid } from '../../lib/ids';
import { duplicateAt, insertIgnoringDuplicates } from '../../lib/duplicate-key';
import { conversationIdOf, isRoom, membershipId, TypeU } from '../../lib/conversation-ids';
import type { SendMessageInput } from '../../lib/schemas/message';
import { MessageType, type MessageDoc } from '../model/message';
import type { ConversationDoc } from '../model/conversation';
import type { MembershipDoc } from '../model/membership';
import type { SeqKnowledge } from './seq-knowledge';
import type { SendExtrasOf } from './send-extras';

export interface AcceptedSend {
  from: string;
  input: SendMessageInput;
  /** §8: the quote and mentions resolved by the send extras */
  extras?: SendExtrasOf;
}

/** What became of each send of a batch, in order. */
export type StoreOutcome =
  | { stored: MessageDoc }
  /** the fp was stored before: the stored message */
  | { earlier: MessageDoc }
  /** not attempted (another process took a seq first): send again */
  | { retry: true };

export class MessageCommitter {
  constructor(
    private readonly models: () => { Message: Model<MessageDoc>; Conversation: Model<ConversationDoc>; Membership: Model<MembershipDoc> },
    private readonly seqs: SeqKnowledge,
    /** §8 search: a text message's index terms, computed here in the batch (app/message/search-index.ts) */
    private readonly terms?: (content: string) => string[],
    /** memberships this process inserted, so their state is known without reading them */
    private readonly membershipsMade?: (docs: MembershipDoc[]) => void,
  ) {}

  async store(sends: AcceptedSend[]): Promise<StoreOutcome[]> {
    const conversationIds = sends.map(s => conversationIdOf(s.input.typeu, s.from, s.input.to));
    await this.seqs.prepare([ ...new Set(conversationIds) ]);
    const firsts = new Map<string, AcceptedSend>();
    sends.forEach((s, i) => {
      if (this.seqs.counter(conversationIds[i]) === undefined) firsts.set(conversationIds[i], s);
    });
    if (firsts.size) await this.createConversations(firsts);

    const docs = this.allocate(sends, conversationIds);
    const order = docs.map((_, i) => i).sort((a, b) => compareBySeq(docs[a], docs[b]));
    const outcomes: StoreOutcome[] = sends.map(() => ({ retry: true }));
    const failedAt = await this.insert(order.map(i => docs[i]));
    for (const [ k, i ] of order.entries()) {
      if (failedAt === null || k < failedAt) outcomes[i] = { stored: docs[i] };
    }
    if (failedAt !== null) {
      const i = order[failedAt];
      const doc = docs[i];
      const earlier = await this.models().Message.findOne({ from: doc.from, fp: doc.fp }).lean<MessageDoc>();
      if (earlier) outcomes[i] = { earlier };
      else this.seqs.collided(doc.conversationId);
    }
    return outcomes;
  }

  /**
   * Conversations seen for the first time: the document, and for c2c the two memberships (room
   * memberships are made when members join). Plain inserts whose duplicates are ignored: a racing
   * process made them first, which is as good.
   */
  private async createConversations(firsts: Map<string, AcceptedSend>) {
    const { Conversation, Membership } = this.models();
    const now = new Date();
    const sends = [ ...firsts ];
    await insertIgnoringDuplicates(Conversation.collection, sends.map(([ id, { from, input } ]) => (isRoom(input.typeu)
      ? { _id: id, typeu: TypeU.C2G, room: oid(input.to), users: [], lastSeq: 0, updatedAt: now }
      : { _id: id, typeu: TypeU.C2C, users: [ oid(from), oid(input.to) ], lastSeq: 0, updatedAt: now })));
    const made = await insertIgnoringDuplicates(Membership.collection, sends.filter(([ , s ]) => !isRoom(s.input.typeu)).flatMap(([ id, { from, input } ]) => [[ from, input.to ], [ input.to, from ]]
      .map(([ user, peer ]): MembershipDoc => ({
        _id: membershipId(user, id), user: oid(user), conversationId: id, typeu: TypeU.C2C, peer: oid(peer),
        deliveredSeq: 0, acked: [], readSeq: 0, sentSeq: 0, joinedSeq: 0, hidden: [],
      }))));
    this.membershipsMade?.(made);
    this.seqs.created([ ...firsts.keys() ]);
  }

  /** Seqs in arrival order per conversation. */
  private allocate(sends: AcceptedSend[], conversationIds: string[]): MessageDoc[] {
    const next = new Map<string, number>();
    const now = new Date();
    return sends.map(({ from, input, extras }, i) => {
      const conversationId = conversationIds[i];
      const seq = (next.get(conversationId) ?? this.seqs.counter(conversationId) ?? 0) + 1;
      next.set(conversationId, seq);
      const doc: MessageDoc = {
        _id: new Types.ObjectId(),
        fp: input.fp,
        from: oid(from),
        to: oid(input.to),
        type: input.type,
        typeu: input.typeu,
        content: input.content,
        conversationId,
        seq,
        sendTime: now,
      };
      if (input.extra !== undefined) doc.extra = input.extra;
      if (input.time !== undefined) doc.time = input.time;
      if (extras?.replyTo) doc.replyTo = extras.replyTo;
      if (extras?.mentions) doc.mentions = extras.mentions;
      if (this.terms && input.type === MessageType.TEXT) {
        const terms = this.terms(input.content);
        if (terms.length) doc.terms = terms;
      }
      return doc;
    });
  }

  /**
   * One ordered insert. Null when all went in; else the index of the document that hit a unique
   * index (those before it went in, those after were not attempted).
   */
  private async insert(docs: MessageDoc[]): Promise<number | null> {
    if (!docs.length) return null;
    try {
      await this.models().Message.collection.insertMany(docs as never[], { ordered: true });
      return null;
    } catch (err) {
      const index = duplicateAt(err);
      if (index === null) throw err;
      return index;
    }
  }
}

const compareBySeq = (a: MessageDoc, b: MessageDoc) => (a.conversationId < b.conversationId ? -1 : a.conversationId > b.conversationId ? 1 : a.seq - b.seq);
