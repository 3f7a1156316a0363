/**
 * Group commit for `to` (the hot path). Sends that arrive while a commit is in flight wait for the
 * next one, so the database sees a handful of round-trips per batch instead of several per message:
 *
 *   1. in parallel: which (from, fp) are already stored (idempotent retries), do the c2c peers exist,
 *      did they block the sender, is the sender in the room, what is each new conversation's last seq
 *   2. new c2c conversations and their two memberships are created (once per pair)
 *   3. seqs are allocated per conversation in arrival order, then ONE ordered insertMany
 *   4. ONE bulkWrite raises the conversations' lastSeq pointers (offline pulls read them)
 *   5. only then the senders' promises resolve (the write is durable): they ack and deliver, in seq order
 *
 * One commit runs at a time per process, so the in-memory seq counters need no lock. Across
 * processes (several workers on MongoDB) the unique (conversationId, seq) index is the arbiter: a
 * collision stops the ordered insert, the conversations involved reload their last seq from the
 * messages themselves (the truth, not the pointer) and the sends not stored are retried. Because
 * the insert is ordered by (conversation, seq), whatever did get stored is a gap-free prefix.
 */
import type { Model, Types } from 'mongoose';
import { Types as MTypes } from 'mongoose';
import { AppError, ErrorCode } from './errors';
import type { MessageDoc } from '../app/model/message';
import type { ConversationDoc } from '../app/model/conversation';
import type { SendMessageInput } from './schemas/message';
import { c2cConversationId } from './timeline';

export interface CommitModels {
  Message: Model<MessageDoc>;
  Conversation: Model<ConversationDoc>;
  Membership: Model<any>;
  User: Model<any>;
  Block: Model<any>;
  Room: Model<any>;
}

export interface SendRequest {
  from: string;
  input: SendMessageInput;
}

export interface SendResult {
  message: MessageDoc;
  /** the fp was already stored: nothing new was delivered */
  duplicate: boolean;
}

interface Pending extends SendRequest {
  key: string;
  conversationId: string;
  attempts: number;
  waiters: Array<{ resolve: (r: SendResult) => void; reject: (e: unknown) => void }>;
}

const MAX_ATTEMPTS = 5;
const KNOWN_USERS_MAX = 100_000;

export class MessageCommitter {
  private queue: Pending[] = [];
  /** sends waiting in `queue` by (from, fp), so a retry that arrives meanwhile joins the first */
  private queued = new Map<string, Pending>();
  private running = false;
  /** last stored seq per conversation this process has seen */
  private lastSeq = new Map<string, number>();
  /** conversations whose counter must be reloaded from the messages (after a collision) */
  private stale = new Set<string>();
  /** users known to exist (accounts are never deleted) */
  private knownUsers = new Set<string>();

  constructor(
    private readonly models: () => CommitModels,
    private readonly batchMax: number,
    private readonly onError: (err: unknown) => void,
  ) {}

  submit(req: SendRequest): Promise<SendResult> {
    const key = `${req.from}\0${req.input.fp}`;
    return new Promise((resolve, reject) => {
      const same = this.queued.get(key);
      if (same) {
        same.waiters.push({ resolve, reject });
        return;
      }
      const conversationId = req.input.typeu === 2 ? req.input.to : c2cConversationId(req.from, req.input.to);
      const pending: Pending = { ...req, key, conversationId, attempts: 0, waiters: [{ resolve, reject }] };
      this.queue.push(pending);
      this.queued.set(key, pending);
      if (!this.running) {
        this.running = true;
        setImmediate(() => void this.drain());
      }
    });
  }

  /** Drops what this process remembers of a conversation (a dissolved room). */
  forget(conversationId: string) {
    this.lastSeq.delete(conversationId);
    this.stale.delete(conversationId);
  }

  private async drain() {
    while (this.queue.length) {
      const batch = this.queue.splice(0, this.batchMax);
      for (const p of batch) this.queued.delete(p.key);
      try {
        await this.commit(batch);
      } catch (err) {
        // an unexpected failure (database gone): the batch's senders get an error and retry
        this.onError(err);
        for (const p of batch) this.settle(p, null, new AppError(ErrorCode.SERVER_ERROR, 'message could not be stored'));
      }
    }
    this.running = false;
  }

  private settle(p: Pending, result: SendResult | null, err?: unknown) {
    for (const w of p.waiters) (result ? w.resolve(result) : w.reject(err));
  }

  private async commit(batch: Pending[]) {
    const m = this.models();
    const c2c = batch.filter(p => p.input.typeu !== 2);
    const c2g = batch.filter(p => p.input.typeu === 2);
    const peers = [ ...new Set(c2c.map(p => p.input.to)) ];
    const unknownPeers = peers.filter(id => !this.knownUsers.has(id));
    const roomIds = [ ...new Set(c2g.map(p => p.input.to)) ];
    const uncounted = [ ...new Set(batch.map(p => p.conversationId)) ].filter(id => !this.lastSeq.has(id) || this.stale.has(id));
    const oid = (id: string) => new MTypes.ObjectId(id);

    const [ prior, existingPeers, blocks, rooms, pointers ] = await Promise.all([
      m.Message.find({ from: { $in: [ ...new Set(batch.map(p => oid(p.from))) ] }, fp: { $in: batch.map(p => p.input.fp) } }).lean<MessageDoc[]>(),
      unknownPeers.length ? m.User.find({ _id: { $in: unknownPeers.map(oid) } }, { _id: 1 }).lean<Array<{ _id: Types.ObjectId }>>() : [],
      peers.length ? m.Block.find({ user: { $in: peers.map(oid) }, blocked: { $in: [ ...new Set(c2c.map(p => oid(p.from))) ] } }, { user: 1, blocked: 1 }).lean<Array<{ user: Types.ObjectId; blocked: Types.ObjectId }>>() : [],
      roomIds.length ? m.Room.find({ _id: { $in: roomIds.map(oid) } }, { members: 1 }).lean<Array<{ _id: Types.ObjectId; members: Types.ObjectId[] }>>() : [],
      this.loadCounters(m, uncounted),
    ]);
    for (const u of existingPeers) this.knownUsers.add(String(u._id));
    if (this.knownUsers.size > KNOWN_USERS_MAX) this.knownUsers.clear();

    const storedByKey = new Map(prior.map(s => [ `${s.from}\0${s.fp}`, s ]));
    const blocked = new Set(blocks.map(b => `${b.user}>${b.blocked}`));
    const members = new Map(rooms.map(r => [ String(r._id), new Set(r.members.map(String)) ]));
    const newConversations = new Map<string, Pending>();

    const accepted: Pending[] = [];
    const duplicates: Array<[Pending, SendResult]> = [];
    for (const p of batch) {
      const earlier = storedByKey.get(p.key);
      if (earlier) {
        duplicates.push([ p, { message: earlier, duplicate: true }]);
        continue;
      }
      const refusal = this.refusal(p, members, blocked);
      if (refusal) {
        this.settle(p, null, refusal);
        continue;
      }
      if (!pointers.has(p.conversationId) && !this.lastSeq.has(p.conversationId)) {
        newConversations.set(p.conversationId, p);
      }
      accepted.push(p);
    }
    for (const [ id, seq ] of pointers) {
      this.lastSeq.set(id, Math.max(seq, this.stale.has(id) ? 0 : this.lastSeq.get(id) ?? 0));
      this.stale.delete(id);
    }
    if (newConversations.size) await this.createConversations(m, [ ...newConversations.values() ]);

    const docs = this.allocate(accepted);
    const inserted = await this.insert(m, docs);
    const stored: Array<[Pending, SendResult]> = [];
    const retry: Pending[] = [];
    docs.forEach((doc, i) => {
      const p = accepted[i];
      if (inserted.has(String(doc._id))) {
        stored.push([ p, { message: doc, duplicate: false }]);
        this.lastSeq.set(doc.conversationId, Math.max(this.lastSeq.get(doc.conversationId) ?? 0, doc.seq));
      } else {
        this.stale.add(p.conversationId);
        if (++p.attempts >= MAX_ATTEMPTS) this.settle(p, null, new AppError(ErrorCode.SERVER_ERROR, 'message could not be stored'));
        else retry.push(p);
      }
    });

    // acks wait for the pointers too: an acked message must be visible to offline pulls
    await this.raisePointers(m, [ ...stored, ...duplicates ].map(([ , r ]) => r.message));
    for (const [ p, r ] of duplicates) this.settle(p, r);
    for (const [ p, r ] of stored) this.settle(p, r);
    if (retry.length) {
      // back to the front, in their order, so a conversation's order of arrival is kept
      for (const p of retry) this.queued.set(p.key, p);
      this.queue.unshift(...retry);
    }
  }

  private refusal(p: Pending, members: Map<string, Set<string>>, blocked: Set<string>): AppError | null {
    const { input, from } = p;
    if (input.typeu === 2) {
      const room = members.get(input.to);
      if (!room) return new AppError(ErrorCode.USER_NOT_EXIST, 'room does not exist');
      if (!room.has(from)) return new AppError(ErrorCode.CHAT_FAILED, 'not a member of this room');
      return null;
    }
    if (input.to === from) return new AppError(ErrorCode.CHAT_FAILED, 'cannot send a message to yourself');
    if (!this.knownUsers.has(input.to)) return new AppError(ErrorCode.USER_NOT_EXIST, 'user does not exist');
    if (blocked.has(`${input.to}>${from}`)) return new AppError(ErrorCode.CHAT_FAILED, 'this user does not accept your messages');
    return null;
  }

  /**
   * Last seq of conversations this process has no counter for (from the pointer) or whose counter
   * collided (from the messages themselves). A conversation absent from the result does not exist.
   */
  private async loadCounters(m: CommitModels, ids: string[]): Promise<Map<string, number>> {
    const result = new Map<string, number>();
    if (!ids.length) return result;
    const convs = await m.Conversation.find({ _id: { $in: ids } }, { lastSeq: 1 }).lean<Array<{ _id: string; lastSeq: number }>>();
    for (const c of convs) result.set(c._id, c.lastSeq);
    // the pointer can trail the messages (a crash between insert and pointer update): a collision
    // then marks the conversation stale and its counter is read from the newest message
    const newest = await Promise.all(ids.filter(id => this.stale.has(id)).map(id =>
      m.Message.find({ conversationId: id }, { seq: 1 }).sort({ seq: -1 }).limit(1).lean<Array<{ seq: number }>>()
        .then(r => [ id, r[0]?.seq ?? 0 ] as const)));
    for (const [ id, seq ] of newest) result.set(id, Math.max(result.get(id) ?? 0, seq));
    return result;
  }

  /**
   * Conversations seen for the first time: the document, and for c2c the two memberships (room
   * memberships are made by the room hooks). Upserts, so a race with another process is harmless.
   */
  private async createConversations(m: CommitModels, firsts: Pending[]) {
    const now = new Date();
    const oid = (id: string) => new MTypes.ObjectId(id);
    await m.Conversation.bulkWrite(firsts.map(p => ({
      updateOne: {
        filter: { _id: p.conversationId },
        update: {
          $setOnInsert: p.input.typeu === 2
            ? { typeu: 2, room: oid(p.input.to), users: [], lastSeq: 0, updatedAt: now }
            : { typeu: 1, users: [ oid(p.from), oid(p.input.to) ], lastSeq: 0, updatedAt: now },
        },
        upsert: true,
      },
    })), { ordered: false });
    const pairs = firsts.filter(p => p.input.typeu !== 2);
    if (pairs.length) {
      await m.Membership.bulkWrite(pairs.flatMap(p => [[ p.from, p.input.to ], [ p.input.to, p.from ]].map(([ user, peer ]) => ({
        updateOne: {
          filter: { user: oid(user), conversationId: p.conversationId },
          update: { $setOnInsert: { typeu: 1, peer: oid(peer), deliveredSeq: 0, readSeq: 0, joinedSeq: 0, hidden: [] } },
          upsert: true,
        },
      }))), { ordered: false });
    }
    for (const p of firsts) if (!this.lastSeq.has(p.conversationId)) this.lastSeq.set(p.conversationId, 0);
  }

  /** Seqs in arrival order per conversation; docs come back in the order of `accepted`. */
  private allocate(accepted: Pending[]): MessageDoc[] {
    const next = new Map<string, number>();
    const now = new Date();
    return accepted.map(p => {
      const seq = (next.get(p.conversationId) ?? this.lastSeq.get(p.conversationId) ?? 0) + 1;
      next.set(p.conversationId, seq);
      const { input } = p;
      const doc: MessageDoc = {
        _id: new MTypes.ObjectId(),
        fp: input.fp,
        from: new MTypes.ObjectId(p.from),
        to: new MTypes.ObjectId(input.to),
        type: input.type,
        typeu: input.typeu,
        content: input.content,
        conversationId: p.conversationId,
        seq,
        sendTime: now,
      };
      if (input.extra !== undefined) doc.extra = input.extra;
      if (input.time !== undefined) doc.time = input.time;
      return doc;
    });
  }

  /**
   * One ordered insert, sorted by (conversation, seq) so that a failure leaves each conversation
   * with a gap-free stored prefix. Returns the ids that are stored; when the insert failed part-way
   * that is asked of the database rather than read from the driver's error.
   */
  private async insert(m: CommitModels, docs: MessageDoc[]): Promise<Set<string>> {
    if (!docs.length) return new Set();
    const sorted = [ ...docs ].sort((a, b) => (a.conversationId < b.conversationId ? -1 : a.conversationId > b.conversationId ? 1 : a.seq - b.seq));
    try {
      await m.Message.collection.insertMany(sorted as any[], { ordered: true });
      return new Set(docs.map(d => String(d._id)));
    } catch (err: any) {
      if (!isWriteConflict(err)) throw err;
      const found = await m.Message.find({ _id: { $in: docs.map(d => d._id) } }, { _id: 1 }).lean<Array<{ _id: Types.ObjectId }>>();
      return new Set(found.map(f => String(f._id)));
    }
  }

  private async raisePointers(m: CommitModels, messages: MessageDoc[]) {
    const newest = new Map<string, MessageDoc>();
    for (const message of messages) {
      const prev = newest.get(message.conversationId);
      if (!prev || prev.seq < message.seq) newest.set(message.conversationId, message);
    }
    if (!newest.size) return;
    await m.Conversation.bulkWrite([ ...newest.values() ].map(msg => ({
      updateOne: {
        // only ever raised: a late or duplicate write never moves it back
        filter: { _id: msg.conversationId, lastSeq: { $lt: msg.seq } },
        update: { $set: { lastSeq: msg.seq, lastMessage: msg._id, updatedAt: msg.sendTime } },
      },
    })), { ordered: false });
  }
}

/** A duplicate key (another process took the seq, or stored the same fp first). */
function isWriteConflict(err: any): boolean {
  if (err?.code === 11000) return true;
  const errors = err?.writeErrors ?? err?.result?.writeErrors ?? err?.errorResponse?.writeErrors;
  return Array.isArray(errors) && errors.length > 0 && errors.every((e: any) => (e.code ?? e.err?.code) === 11000);
}
