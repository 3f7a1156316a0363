/**
 * Group commit for `to` (the hot path). Sends that arrive while a commit is in flight wait for the
 * next one, so the database sees a few round-trips per batch instead of several per message:
 *
 *   1. in parallel, small reads only: do the c2c peers exist (cached), did they block the sender,
 *      is the sender a member of the room (its membership, by `_id`), the last seq of conversations
 *      this process has no counter for (the seq registry, else the conversation by `_id`)
 *   2. new conversations (and a c2c pair's two memberships) are inserted, once per conversation
 *   3. seqs are allocated per conversation in arrival order, then ONE ordered insertMany
 *   4. the seq registry is raised, then the senders' promises resolve: they ack and deliver
 *
 * Idempotency rides on the unique (from, fp) index: a retry of a stored fp makes the insert fail at
 * that document, which is then looked up and answered as the stored message. One commit runs at a
 * time per process, so the in-memory counters need no lock. Across processes (several workers on
 * MongoDB) the unique (conversationId, seq) index decides: a collision stops the ordered insert,
 * the conversation's counter is reloaded and the unsent rest retried until the send's deadline.
 * Counters only ever move past stored messages, and the insert is ordered by (conversation, seq),
 * so every conversation stays gap-free.
 */
import { Types, type Model } from 'mongoose';
import { LRUCache } from 'lru-cache';
import { AppError, ErrorCode } from '../../lib/errors';
import { oid } from '../../lib/ids';
import { duplicateAt, insertIgnoringDuplicates } from '../../lib/duplicate-key';
import { c2cConversationId, toWire, type WireMessage } from '../../lib/timeline';
import type { SeqRegistry } from '../../lib/seq-registry';
import type { SendMessageInput } from '../../lib/schemas/message';
import type { MessageDoc } from '../model/message';
import type { ConversationDoc } from '../model/conversation';
import { membershipId, type MembershipDoc } from '../model/membership';
import { sendRefusal, type SendFacts } from './send-rules';
import type { PointerWriter } from './pointer-writer';
import type { DeliveryWriter } from './delivery-writer';
import type { RecentMessages } from './recent-messages';

export interface CommitModels {
  Message: Model<MessageDoc>;
  Conversation: Model<ConversationDoc>;
  Membership: Model<MembershipDoc>;
  User: Model<any>;
  Block: Model<any>;
  Room: Model<any>;
}

export interface SendRequest {
  from: string;
  input: SendMessageInput;
  /** the sending socket, which gets no `meta.sync` copy */
  socketId?: string;
}

export interface SendResult {
  /** the stored message as clients get it */
  message: WireMessage;
  /** the fp was already stored: nothing new was delivered */
  duplicate: boolean;
}

interface Pending extends SendRequest {
  key: string;
  conversationId: string;
  deadline: number;
  settled: boolean;
  waiters: Array<{ resolve: (r: SendResult) => void; reject: (e: unknown) => void }>;
}

export interface CommitterOptions {
  models: () => CommitModels;
  seqs: SeqRegistry;
  pointers: PointerWriter;
  delivery: DeliveryWriter;
  /** most sends stored by one insert */
  batchMax: number;
  /** a send not stored by then is answered 50000 (the client retries with its fp) */
  timeoutMs: number;
  logError: (msg: string, err: unknown) => void;
  /** the newest messages of active conversations, for the newest history page */
  history: RecentMessages;
  /** `c_message` for a message just stored (app/message/delivery.ts) */
  deliver: (message: WireMessage, exceptSocket?: string) => void;
}

/** how many conversations' counters, users known to exist, a process remembers */
const COUNTERS_MAX = 100_000;
const KNOWN_USERS_MAX = 100_000;
const RECENT_MAX = 100_000;

export class MessageCommitter {
  private queue: Pending[] = [];
  /** sends waiting in `queue` by (from, fp), so a retry that arrives meanwhile joins the first */
  private queued = new Map<string, Pending>();
  private running = false;
  /** last stored seq per conversation as this process knows it */
  private readonly lastSeq = new LRUCache<string, number>({ max: COUNTERS_MAX });
  /** conversations whose counter must be reloaded from the messages (after a collision) */
  private readonly stale = new Set<string>();
  /** users known to exist (accounts are never deleted) */
  private readonly knownUsers = new LRUCache<string, true>({ max: KNOWN_USERS_MAX });
  /** where recently stored messages are, by `_id`: acks and receipts name them, mostly soon after */
  readonly recent = new LRUCache<string, Pick<MessageDoc, '_id' | 'conversationId' | 'seq' | 'from'>>({ max: RECENT_MAX });

  constructor(private readonly opts: CommitterOptions) {}

  submit(req: SendRequest): Promise<SendResult> {
    const key = `${req.from}\0${req.input.fp}`;
    return new Promise((resolve, reject) => {
      const same = this.queued.get(key);
      if (same) {
        same.waiters.push({ resolve, reject });
        return;
      }
      const conversationId = req.input.typeu === 2 ? req.input.to : c2cConversationId(req.from, req.input.to);
      const pending: Pending = { ...req, key, conversationId, deadline: Date.now() + this.opts.timeoutMs, settled: false, waiters: [{ resolve, reject }] };
      this.queue.push(pending);
      this.queued.set(key, pending);
      const timer = setTimeout(() => {
        if (pending.settled) return;
        this.opts.logError(`[message] send ${req.from}/${req.input.fp} not stored within ${this.opts.timeoutMs} ms`, null);
        this.settle(pending, null, new AppError(ErrorCode.SERVER_ERROR, 'message could not be stored in time, retry with the same fp'));
      }, this.opts.timeoutMs);
      timer.unref?.();
      if (!this.running) {
        this.running = true;
        setImmediate(() => void this.drain());
      }
    });
  }

  /** The last stored seq of a conversation as far as this process knows (room joins start cursors there). */
  async lastSeqOf(conversationId: string): Promise<number> {
    const m = this.opts.models();
    const known = (await this.opts.seqs.get([ conversationId ])).get(conversationId);
    if (known !== undefined) return Math.max(known, this.lastSeq.get(conversationId) ?? 0);
    const [ newest ] = await m.Message.find({ conversationId }, { seq: 1 }).sort({ seq: -1 }).limit(1).lean<Array<{ seq: number }>>();
    return newest?.seq ?? 0;
  }

  /** Drops what this process remembers of a conversation (a dissolved room). */
  forget(conversationId: string) {
    this.lastSeq.delete(conversationId);
    this.stale.delete(conversationId);
  }

  /** The newest messages of active conversations (app/message/recent-messages.ts). */
  get history(): RecentMessages {
    return this.opts.history;
  }

  private async drain() {
    while (this.queue.length) {
      const batch = this.queue.splice(0, this.opts.batchMax);
      for (const p of batch) this.queued.delete(p.key);
      const live = batch.filter(p => !p.settled);
      if (!live.length) continue;
      try {
        await this.commit(live);
      } catch (err) {
        // the database failed: these senders get 50000 and retry with their fp
        this.opts.logError('[message] group commit failed', err);
        for (const p of live) this.settle(p, null, new AppError(ErrorCode.SERVER_ERROR, 'message could not be stored'));
      }
    }
    this.running = false;
  }

  private settle(p: Pending, result: SendResult | null, err?: unknown) {
    if (p.settled) return;
    p.settled = true;
    for (const w of p.waiters) (result ? w.resolve(result) : w.reject(err));
  }

  private async commit(batch: Pending[]) {
    const m = this.opts.models();
    const facts = await this.gatherFacts(m, batch);
    const newConversations = new Map<string, Pending>();
    const accepted: Pending[] = [];
    for (const p of batch) {
      const refusal = sendRefusal(p.from, p.input, facts);
      if (refusal) {
        this.settle(p, null, refusal);
        continue;
      }
      if (!this.lastSeq.has(p.conversationId)) newConversations.set(p.conversationId, p);
      accepted.push(p);
    }
    if (newConversations.size) await this.createConversations(m, [ ...newConversations.values() ]);

    const { stored, failed, rest } = await this.insert(m, this.allocate(accepted));
    const advanced = new Map<string, number>();
    const wires = stored.map(([ p, doc ]) => {
      this.lastSeq.set(doc.conversationId, doc.seq);
      advanced.set(doc.conversationId, doc.seq);
      const wire = toWire(doc);
      // delivered live before any pull can see it (pulls go by the registry, raised next): a pull
      // and its confirmed ack are never followed by the same message live
      this.opts.deliver(wire, p.socketId);
      return wire;
    });
    // pulls read the registry to know what is pending: it is raised before anyone is acked
    await this.opts.seqs.advance(advanced);
    const retry = rest.map(([ p ]) => p);
    if (failed) {
      const [ p, doc ] = failed;
      const earlier = await m.Message.findOne({ from: doc.from, fp: doc.fp }).lean<MessageDoc>();
      if (earlier) {
        await this.opts.seqs.advance(new Map([[ earlier.conversationId, earlier.seq ]]));
        this.settle(p, { message: toWire(earlier), duplicate: true });
      } else {
        // another process took this seq: count again from the conversation's newest message
        this.stale.add(p.conversationId);
        retry.unshift(p);
      }
    }
    stored.forEach(([ p, doc ], i) => {
      this.recent.set(String(doc._id), { _id: doc._id, conversationId: doc.conversationId, seq: doc.seq, from: doc.from });
      this.settle(p, { message: wires[i], duplicate: false });
    });
    const docs = stored.map(([ , doc ]) => doc);
    this.opts.history.append(wires).catch(err => this.opts.logError('[message] recent messages not cached', err));
    this.opts.pointers.mark(docs);
    for (const doc of docs) this.opts.delivery.markSent(String(doc.from), doc.conversationId, doc.seq);
    const now = Date.now();
    const again = retry.filter(p => !p.settled && p.deadline > now);
    if (again.length) {
      // back to the front, in their order, so a conversation's order of arrival is kept
      for (const p of again) this.queued.set(p.key, p);
      this.queue.unshift(...again);
    }
  }

  /** What the send rules need to know about this batch, read in parallel. */
  private async gatherFacts(m: CommitModels, batch: Pending[]): Promise<SendFacts> {
    const c2c = batch.filter(p => p.input.typeu !== 2);
    const c2g = batch.filter(p => p.input.typeu === 2);
    const peers = [ ...new Set(c2c.map(p => p.input.to)) ];
    const unknownPeers = peers.filter(id => !this.knownUsers.has(id));
    const roomSenders = [ ...new Set(c2g.map(p => membershipId(p.from, p.input.to))) ];
    const uncounted = [ ...new Set(batch.map(p => p.conversationId)) ].filter(id => !this.lastSeq.has(id) || this.stale.has(id));

    const [ existingPeers, blocks, memberships, counters ] = await Promise.all([
      unknownPeers.length ? m.User.find({ _id: { $in: unknownPeers.map(oid) } }, { _id: 1 }).lean<Array<{ _id: Types.ObjectId }>>() : [],
      peers.length ? m.Block.find({ user: { $in: peers.map(oid) }, blocked: { $in: [ ...new Set(c2c.map(p => oid(p.from))) ] } }, { user: 1, blocked: 1 }).lean<Array<{ user: Types.ObjectId; blocked: Types.ObjectId }>>() : [],
      // membership is the one truth of who is in a room: read fresh, by `_id`, so a change on any
      // worker holds for the very next send
      Promise.all(roomSenders.map(id => m.Membership.findById(id, { _id: 1 }).lean())),
      this.loadCounters(m, uncounted),
    ]);
    for (const u of existingPeers) this.knownUsers.set(String(u._id), true);
    for (const [ id, seq ] of counters) {
      this.lastSeq.set(id, seq);
      this.stale.delete(id);
    }
    const members = new Set(roomSenders.filter((_, i) => memberships[i]));
    const missingRooms = [ ...new Set(c2g.filter(p => !members.has(membershipId(p.from, p.input.to))).map(p => p.input.to)) ];
    const existingRooms = new Set<string>();
    await Promise.all(missingRooms.map(async id => {
      if (await m.Room.exists({ _id: oid(id) })) existingRooms.add(id);
    }));
    return {
      userExists: id => this.knownUsers.has(id),
      blocked: new Set(blocks.map(b => `${b.user}>${b.blocked}`)),
      isMember: (userId, roomId) => members.has(membershipId(userId, roomId)),
      // asked only for a sender who is not a member
      roomExists: roomId => existingRooms.has(roomId),
    };
  }

  /**
   * Last seq of conversations this process has no counter for: the registry, else the pointer on
   * the conversation (by `_id`); after a collision, the newest message (both may trail).
   * Absent from the result = a new conversation.
   */
  private async loadCounters(m: CommitModels, ids: string[]): Promise<Map<string, number>> {
    const result = new Map<string, number>();
    if (!ids.length) return result;
    const registry = await this.opts.seqs.get(ids);
    await Promise.all(ids.map(async id => {
      if (this.stale.has(id)) {
        const [ newest ] = await m.Message.find({ conversationId: id }, { seq: 1 }).sort({ seq: -1 }).limit(1).lean<Array<{ seq: number }>>();
        if (newest) result.set(id, Math.max(newest.seq, registry.get(id) ?? 0));
        else if (await m.Conversation.exists({ _id: id })) result.set(id, 0);
        return;
      }
      const known = registry.get(id);
      if (known !== undefined) return result.set(id, known);
      const conv = await m.Conversation.findById(id, { lastSeq: 1 }).lean<{ lastSeq: number }>();
      if (conv) result.set(id, conv.lastSeq);
    }));
    return result;
  }

  /**
   * Conversations seen for the first time: the document, and for c2c the two memberships (room
   * memberships are made when members join). Plain inserts whose duplicates are ignored: a racing
   * process made them first, which is as good.
   */
  private async createConversations(m: CommitModels, firsts: Pending[]) {
    const now = new Date();
    await insertIgnoringDuplicates(m.Conversation.collection, firsts.map(p => (p.input.typeu === 2
      ? { _id: p.conversationId, typeu: 2, room: oid(p.input.to), users: [], lastSeq: 0, updatedAt: now }
      : { _id: p.conversationId, typeu: 1, users: [ oid(p.from), oid(p.input.to) ], lastSeq: 0, updatedAt: now })));
    await insertIgnoringDuplicates(m.Membership.collection, firsts.filter(p => p.input.typeu !== 2).flatMap(p => [[ p.from, p.input.to ], [ p.input.to, p.from ]]
      .map(([ user, peer ]) => ({
        _id: membershipId(user, p.conversationId), user: oid(user), conversationId: p.conversationId, typeu: 1, peer: oid(peer),
        deliveredSeq: 0, acked: [], readSeq: 0, sentSeq: 0, joinedSeq: 0, hidden: [],
      }))));
    for (const p of firsts) if (!this.lastSeq.has(p.conversationId)) this.lastSeq.set(p.conversationId, 0);
  }

  /** Seqs in arrival order per conversation. */
  private allocate(accepted: Pending[]): Array<[Pending, MessageDoc]> {
    const next = new Map<string, number>();
    const now = new Date();
    return accepted.map(p => {
      const seq = (next.get(p.conversationId) ?? this.lastSeq.get(p.conversationId) ?? 0) + 1;
      next.set(p.conversationId, seq);
      const { input } = p;
      const doc: MessageDoc = {
        _id: new Types.ObjectId(),
        fp: input.fp,
        from: oid(p.from),
        to: oid(input.to),
        type: input.type,
        typeu: input.typeu,
        content: input.content,
        conversationId: p.conversationId,
        seq,
        sendTime: now,
      };
      if (input.extra !== undefined) doc.extra = input.extra;
      if (input.time !== undefined) doc.time = input.time;
      return [ p, doc ] as [Pending, MessageDoc];
    });
  }

  /**
   * One ordered insert, sorted by (conversation, seq), so a failure leaves each conversation with a
   * gap-free stored prefix: `stored` went in, `failed` is the document that hit a unique index,
   * `rest` was not attempted.
   */
  private async insert(m: CommitModels, docs: Array<[Pending, MessageDoc]>) {
    const sorted = [ ...docs ].sort(([ , a ], [ , b ]) => (a.conversationId < b.conversationId ? -1 : a.conversationId > b.conversationId ? 1 : a.seq - b.seq));
    if (!sorted.length) return { stored: sorted, failed: null, rest: sorted };
    try {
      await m.Message.collection.insertMany(sorted.map(([ , d ]) => d) as any[], { ordered: true });
      return { stored: sorted, failed: null, rest: [] };
    } catch (err: any) {
      const index = duplicateAt(err);
      if (index === null) throw err;
      return { stored: sorted.slice(0, index), failed: sorted[index], rest: sorted.slice(index + 1) };
    }
  }
}
