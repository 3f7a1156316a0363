/**
 * Group commit for `to` (the hot path). Sends that arrive while a commit is in flight wait for the
 * next one, so the database sees a few round-trips per batch instead of several per message:
 *
 *   1. in parallel, on small collections only: do the c2c peers exist (cached), did they block the
 *      sender, is the sender in the room, what is the last seq of conversations not seen before
 *   2. new conversations (and a c2c pair's two memberships) are inserted, once per conversation
 *   3. seqs are allocated per conversation in arrival order, then ONE ordered insertMany
 *   4. the senders' promises resolve (the write is durable): they ack and deliver, in seq order
 *
 * Idempotency rides on the unique (from, fp) index instead of a read before every insert: a retry
 * of a stored fp makes the insert fail at that document, which is then looked up and answered as
 * the stored message. One commit runs at a time per process, so the in-memory seq counters need no
 * lock. Across processes (several workers on MongoDB) the unique (conversationId, seq) index is the
 * arbiter: a collision stops the ordered insert, the conversation reloads its last seq from its
 * newest message and the sends not stored are retried. Because the insert is ordered by
 * (conversation, seq), whatever did get stored is a gap-free prefix.
 *
 * The conversations' `lastSeq`/`lastMessage` pointers (for `recent_conversation`) are written
 * after the acks, coalesced per conversation: delivery state never depends on them.
 */
import { Types, type Model } from 'mongoose';
import { AppError, ErrorCode } from './errors';
import { oid } from './ids';
import { bulkWriteInChunks } from './bulk-write';
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
const ROOM_TTL_MS = 1000;
const KNOWN_USERS_MAX = 100_000;

/**
 * Writes conversations' `lastSeq`/`lastMessage`/`updatedAt` after the fact, coalesced: a busy
 * conversation costs one update per interval, not one per message. Pointers only ever rise.
 */
class PointerWriter {
  private dirty = new Map<string, MessageDoc>();
  private timer: NodeJS.Timeout | null = null;
  private writing: Promise<void> | null = null;
  private nextDelay: number;

  constructor(private readonly models: () => CommitModels, private readonly intervalMs: number, private readonly onError: (err: unknown) => void) {
    this.nextDelay = intervalMs;
  }

  mark(messages: MessageDoc[]) {
    for (const m of messages) {
      const prev = this.dirty.get(m.conversationId);
      if (!prev || prev.seq < m.seq) this.dirty.set(m.conversationId, m);
    }
    if (this.dirty.size && !this.timer) this.timer = setTimeout(() => void this.flush(), this.nextDelay);
  }

  /** Writes what is pending now (also called on shutdown). */
  async flush() {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.writing;
    const batch = [ ...this.dirty.values() ];
    this.dirty.clear();
    if (!batch.length) return;
    const started = Date.now();
    this.writing = (async () => {
      await bulkWriteInChunks(this.models().Conversation, batch.map(msg => ({
        updateOne: {
          filter: { _id: msg.conversationId, lastSeq: { $lt: msg.seq } },
          update: { $set: { lastSeq: msg.seq, lastMessage: msg._id, updatedAt: msg.sendTime } },
        },
      })));
    })().catch(this.onError).finally(() => { this.writing = null; });
    await this.writing;
    // pointers never take more than about a third of the database's time: after a slow flush
    // (FerretDB: ~1 ms per conversation) the next one waits twice as long
    this.nextDelay = Math.max(this.intervalMs, 2 * (Date.now() - started));
    if (this.dirty.size && !this.timer) this.timer = setTimeout(() => void this.flush(), this.nextDelay);
  }
}

export class MessageCommitter {
  private queue: Pending[] = [];
  /** sends waiting in `queue` by (from, fp), so a retry that arrives meanwhile joins the first */
  private queued = new Map<string, Pending>();
  private running = false;
  /** last stored seq per conversation this process has seen */
  private lastSeq = new Map<string, number>();
  /** conversations whose counter must be reloaded from the messages (after a collision) */
  private stale = new Set<string>();
  /** members of rooms messaged lately */
  private roomMembers = new Map<string, { members: Set<string>; until: number }>();
  /** users known to exist (accounts are never deleted) */
  private knownUsers = new Set<string>();

  private readonly pointers: PointerWriter;

  constructor(
    private readonly models: () => CommitModels,
    private readonly batchMax: number,
    private readonly onError: (err: unknown) => void,
    pointerIntervalMs = 200,
  ) {
    this.pointers = new PointerWriter(models, pointerIntervalMs, onError);
  }

  /** Writes the pending conversation pointers now (shutdown, tests). */
  flushPointers() {
    return this.pointers.flush();
  }

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

  /** Drops what this process remembers of a conversation: a room's members changed, or it was dissolved. */
  forget(conversationId: string) {
    this.lastSeq.delete(conversationId);
    this.stale.delete(conversationId);
    this.roomMembers.delete(conversationId);
  }

  /**
   * Room members, kept for ROOM_TTL_MS: reading a room of 500 members for every small batch was the
   * fan-out path's largest cost. This process forgets a room as soon as its members change (the room
   * hooks call `forget`); another worker's change is seen within ROOM_TTL_MS.
   */
  private async loadRooms(m: CommitModels, ids: string[]): Promise<Map<string, Set<string>>> {
    const now = Date.now();
    const missing = ids.filter(id => (this.roomMembers.get(id)?.until ?? 0) <= now);
    if (missing.length) {
      const rooms = await m.Room.find({ _id: { $in: missing.map(id => oid(id)) } }, { members: 1 })
        .lean<Array<{ _id: Types.ObjectId; members: Types.ObjectId[] }>>();
      for (const id of missing) this.roomMembers.delete(id);
      for (const r of rooms) this.roomMembers.set(String(r._id), { members: new Set(r.members.map(String)), until: now + ROOM_TTL_MS });
    }
    const result = new Map<string, Set<string>>();
    for (const id of ids) {
      const room = this.roomMembers.get(id);
      if (room) result.set(id, room.members);
    }
    return result;
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

    const [ existingPeers, blocks, rooms, counters ] = await Promise.all([
      unknownPeers.length ? m.User.find({ _id: { $in: unknownPeers.map(oid) } }, { _id: 1 }).lean<Array<{ _id: Types.ObjectId }>>() : [],
      peers.length ? m.Block.find({ user: { $in: peers.map(oid) }, blocked: { $in: [ ...new Set(c2c.map(p => oid(p.from))) ] } }, { user: 1, blocked: 1 }).lean<Array<{ user: Types.ObjectId; blocked: Types.ObjectId }>>() : [],
      this.loadRooms(m, roomIds),
      this.loadCounters(m, uncounted),
    ]);
    for (const u of existingPeers) this.knownUsers.add(String(u._id));
    if (this.knownUsers.size > KNOWN_USERS_MAX) this.knownUsers.clear();
    for (const [ id, seq ] of counters) {
      this.lastSeq.set(id, seq);
      this.stale.delete(id);
    }

    const blocked = new Set(blocks.map(b => `${b.user}>${b.blocked}`));
    const members = rooms;
    const newConversations = new Map<string, Pending>();
    const accepted: Pending[] = [];
    for (const p of batch) {
      const refusal = this.refusal(p, members, blocked);
      if (refusal) {
        this.settle(p, null, refusal);
        continue;
      }
      if (!this.lastSeq.has(p.conversationId)) newConversations.set(p.conversationId, p);
      accepted.push(p);
    }
    if (newConversations.size) await this.createConversations(m, [ ...newConversations.values() ]);

    const docs = this.allocate(accepted);
    const { stored, failed, rest } = await this.insert(m, docs);
    for (const [ , doc ] of stored) this.lastSeq.set(doc.conversationId, doc.seq);
    const retry = rest.map(([ p ]) => p);
    if (failed) {
      const [ p, doc ] = failed;
      const earlier = await m.Message.findOne({ from: doc.from, fp: doc.fp }).lean<MessageDoc>();
      if (earlier) {
        this.settle(p, { message: earlier, duplicate: true });
      } else {
        // another process took this seq: count again from the conversation's newest message
        this.stale.add(p.conversationId);
        if (++p.attempts >= MAX_ATTEMPTS) this.settle(p, null, new AppError(ErrorCode.SERVER_ERROR, 'message could not be stored'));
        else retry.unshift(p);
      }
    }
    for (const [ p, doc ] of stored) this.settle(p, { message: doc, duplicate: false });
    this.pointers.mark(stored.map(([ , doc ]) => doc));
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
   * Last seq of conversations this process has no counter for: from the pointer, or, after a
   * collision, from the newest message (the pointer may trail). Absent from the result = new.
   */
  private async loadCounters(m: CommitModels, ids: string[]): Promise<Map<string, number>> {
    const result = new Map<string, number>();
    if (!ids.length) return result;
    const convs = await m.Conversation.find({ _id: { $in: ids } }, { lastSeq: 1 }).lean<Array<{ _id: string; lastSeq: number }>>();
    for (const c of convs) result.set(c._id, c.lastSeq);
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
    // plain inserts (duplicates from a racing process are ignored): upserts would each be a
    // read-then-write round on FerretDB
    await insertIgnoringDuplicates(m.Conversation, firsts.map(p => (p.input.typeu === 2
      ? { _id: p.conversationId, typeu: 2, room: oid(p.input.to), users: [], lastSeq: 0, updatedAt: now }
      : { _id: p.conversationId, typeu: 1, users: [ oid(p.from), oid(p.input.to) ], lastSeq: 0, updatedAt: now })));
    await insertIgnoringDuplicates(m.Membership, firsts.filter(p => p.input.typeu !== 2).flatMap(p => [[ p.from, p.input.to ], [ p.input.to, p.from ]]
      .map(([ user, peer ]) => ({ user: oid(user), conversationId: p.conversationId, typeu: 1, peer: oid(peer), deliveredSeq: 0, readSeq: 0, joinedSeq: 0, hidden: [] }))));
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

/** Where an ordered insert stopped on a duplicate key; null for any other failure. */
function duplicateAt(err: any): number | null {
  const first = (err?.writeErrors ?? err?.result?.writeErrors)?.[0];
  const code = first?.code ?? first?.err?.code;
  return code === 11000 && typeof first.index === 'number' ? first.index : null;
}

/** Inserts, skipping documents whose unique key already exists (another process made them first). */
async function insertIgnoringDuplicates(model: Model<any>, docs: object[]) {
  if (!docs.length) return;
  try {
    await model.collection.insertMany(docs as any[], { ordered: false });
  } catch (err: any) {
    const errors = err?.writeErrors ?? err?.result?.writeErrors;
    if (!Array.isArray(errors) || !errors.every((e: any) => (e.code ?? e.err?.code) === 11000)) throw err;
  }
}
