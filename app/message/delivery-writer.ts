import { ObjectId, type Collection } from 'mongodb';
import { LRUCache } from 'lru-cache';
import type { MembershipDoc } from '../model/membership';
import { decodeEntries, encodeEntries, type DeliveryBatchDoc } from '../model/delivery_batch';
import { membershipConversation, membershipId, membershipUser } from '../../lib/conversation-ids';
import { bulkWriteInChunks } from '../../lib/bulk-write';

/** What a stored read changed: seqs (after, upTo] of the conversation became read by the user. */
export interface NewlyRead {
  conversationId: string;
  after: number;
  upTo: number;
}

interface Entry {
  id: string;
  user: string;
  seqs: Set<number>;
  sent: number;
  /** highest seq read (`to_reader`) to raise `readSeq` to */
  read: number;
  /** messages the user deleted for themselves */
  hidden: Set<string>;
  // §8
  /** seqs of messages that mention the user, to add; and stale ones to take out (a later flush if both) */
  mentions: Set<number>;
  unmention: Set<number>;
  /** the user's conversation settings to set */
  settings: Record<string, unknown> | null;
  /** the newest change feed record of this user alone here (a hide) */
  changeId: number;
  /** when it must be written, ms since the epoch (0: at the next flush) */
  due: number;
  /** false once a write found no membership */
  member?: boolean;
  /** what the read write changed, handed to the first `markRead` caller (receipts go out once) */
  newlyRead?: NewlyRead;
  done?: boolean;
  waiters: Array<{ resolve: () => void; reject: (err: unknown) => void }>;
}

/** What this process last saw of a membership's stored delivery state; it only ever trails the truth. */
interface View {
  deliveredSeq: number;
  /** done seqs above `deliveredSeq` */
  acked: number[];
  /** entries of `acked` in the store that `deliveredSeq` covers now, to pull in a later update */
  stale: number[];
}

/** Done seqs of a membership stored in delivery batches and not yet folded into it. */
export interface Unfolded {
  seqs: Iterable<number>;
  sent: number;
}

/** A membership's batched delivery state waiting for its fold. */
interface FoldEntry {
  id: string;
  user: string;
  seqs: Set<number>;
  sent: number;
  /** the number (`batchNumber`) of the oldest of this process's batches holding it; Infinity: none */
  firstBatch: number;
  /** when to fold it, ms since the epoch */
  at: number;
}

const VIEWS_MAX = 100_000;
/** updates in flight at once: well under the connection pool and FerretDB's limits */
const CONCURRENCY = 8;
/** flushes slower than this are followed by a pause as long, up to PAUSE_MAX_MS */
const PAUSE_AFTER_MS = 50;
/** the longest pause: acks must be answered, not shed */
const PAUSE_MAX_MS = 1000;
/**
 * how long a sender's own message may wait to be written: nobody waits for it (reads of this
 * user's state expedite it), and meanwhile it joins that membership's next ack or read
 */
const SENT_DEFER_MS = 3000;
/** how long batched acks wait to be folded into their memberships: the acks of a busy one gather into one update */
const FOLD_AFTER_MS = 1000;
/**
 * memberships folded per turn of the writer; acks arriving meanwhile wait for the turn (a
 * 50-update bulk took 0.5–1 s on FerretDB under the bench's load)
 */
const FOLD_CHUNK = 25;
/** the fold's pause when it left due memberships to a running flush */
const FOLD_PAUSE_MS = 20;
/** a failed fold is tried again after this long */
const FOLD_RETRY_MS = 5000;
/** a delivery batch this old was left by a process that stopped before folding it (folds run within seconds) */
export const ORPHANED_AFTER_MS = 5 * 60_000;
/** batches adopted at most by one call of the schedule's adoption */
const ADOPT_MAX = 1000;
/** a delivery batch holds at most this many memberships (a flush of more writes several, in one insert) */
const BATCH_ENTRIES = 1000;

/**
 * Delivery and read state writes, group-committed like the sends: acks (`c_message_ack`), reads
 * (`to_reader`) and the senders' own messages arriving while a flush runs are merged per
 * membership into the next flush. An ack or a read is answered only once its flush is stored.
 *
 * A seq is "done" for a user once they acked it or sent it. `deliveredSeq` only moves over done
 * seqs without a gap; done seqs above it wait in `acked`. A flush appends the done seqs of all its
 * memberships as one delivery batch (one insert: on FerretDB every update is a transaction of its
 * own, and a thousand membership updates behind the message inserts kept acks waiting tens of
 * seconds), answers the acks, and folds the batch into the memberships about a second later,
 * FOLD_CHUNK memberships per turn, then deletes it. Readers of delivery state add what is not
 * folded yet (`unfoldedOf`, read before the memberships: a fold writes the membership before it
 * deletes the batch). Without other processes (no Redis) this process holds every unfolded batch in
 * memory and readers read none; with them, readers also read the batches of the users they read.
 * Batches left by a stopped process are adopted and folded (`adopt`).
 *
 * Each membership update is computed from this process's view of the membership, which only trails
 * the truth (done-ness never reverts), and applied with `$max` / `$addToSet` / `$pullAll` on a
 * filter by `_id` alone: correct whichever worker writes, on MongoDB, and FerretDB's one fast path.
 * Flushes and folds take turns, so this process never writes a membership twice at once (FerretDB
 * applies updates as read-modify-write).
 *
 * Nobody waits for a sender's own message to be marked (`markSent`), so it is written within
 * `SENT_DEFER_MS` rather than at once, with that membership's next ack or read if one comes meanwhile.
 * `settled()` (a pull, the conversation list, shutdown) writes it at once.
 */
export class DeliveryWriter {
  private pending = new Map<string, Entry>();
  /** the batch being written */
  private current: Entry[] = [];
  private readonly views = new LRUCache<string, View>({ max: VIEWS_MAX });
  /** batched state to fold, oldest first */
  private unfolded = new Map<string, FoldEntry>();
  /** the fold being written: still unfolded for readers */
  private folding: FoldEntry[] = [];
  /**
   * this process's batches not yet deleted, numbered in the order it took them: a batch goes once no
   * entry still to fold holds it, that is once its number is below every such entry's `firstBatch`
   * (one number per entry, however many batches it spans)
   */
  private live: Array<{ n: number; id: string }> = [];
  private liveIds = new Set<string>();
  private batchNumber = 0;
  /** fold everything now, not FOLD_AFTER_MS after (shutdown) */
  private foldAll = false;
  private foldRunning = false;
  private foldTimer: NodeJS.Timeout | null = null;
  private foldIdle: Array<() => void> = [];
  /** the fold chunk being written */
  private foldWrite: Promise<unknown> = Promise.resolve();
  /** memberships the running flush writes (reads, hides, settings, mentions): folds leave them for later */
  private writing = new Set<string>();
  private running = false;
  /** the next deferred write's timer */
  private deferred: NodeJS.Timeout | null = null;

  constructor(private readonly deps: {
    memberships: () => Collection<MembershipDoc>;
    batches: () => Collection<DeliveryBatchDoc>;
    /** other processes write batches too (Redis): readers read them */
    shared: boolean;
    onError: (err: unknown) => void;
  }) {}

  /**
   * Raises the user's read cursor (`to_reader`); reads of one conversation that arrive together
   * become one update. Resolves once stored: `member` false when the user has no place in the
   * conversation; `newlyRead` (to one of the callers of a flush) what became read, for receipts.
   */
  markRead(userId: string, conversationId: string, seq: number): Promise<{ member: boolean; newlyRead?: NewlyRead }> {
    return new Promise((resolve, reject) => {
      const entry = this.entry(userId, conversationId);
      entry.read = Math.max(entry.read, seq);
      entry.waiters.push({
        resolve: () => {
          const newlyRead = entry.newlyRead;
          entry.newlyRead = undefined;
          resolve({ member: entry.member !== false, newlyRead });
        },
        reject,
      });
      this.now(entry);
    });
  }

  /** Marks seqs of a conversation delivered to `userId`; resolves once stored, false when the user has no place there. */
  markAcked(userId: string, conversationId: string, seqs: number[]): Promise<boolean> {
    return new Promise((resolve, reject) => {
      const entry = this.entry(userId, conversationId);
      for (const s of seqs) entry.seqs.add(s);
      entry.waiters.push({ resolve: () => resolve(entry.member !== false), reject });
      this.now(entry);
    });
  }

  /**
   * Hides a message for this user (`DELETE /api/messages/:id`); it counts as delivered too, and
   * `changeId` is where the user's change feed finds it (§8). Resolves once stored.
   */
  hide(userId: string, conversationId: string, messageId: string, seq: number, changeId = 0): Promise<void> {
    return new Promise((resolve, reject) => {
      const entry = this.entry(userId, conversationId);
      entry.hidden.add(messageId);
      entry.seqs.add(seq);
      entry.changeId = Math.max(entry.changeId, changeId);
      entry.waiters.push({ resolve, reject });
      this.now(entry);
    });
  }

  /** A change of this user's alone in this conversation (§8 change feed), raised; resolves once stored. */
  raiseChange(userId: string, conversationId: string, changeId: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const entry = this.entry(userId, conversationId);
      entry.changeId = Math.max(entry.changeId, changeId);
      entry.waiters.push({ resolve, reject });
      this.now(entry);
    });
  }

  /** The user's settings of this conversation (§8: pinned, muted, archived); resolves once stored. */
  settings(userId: string, conversationId: string, settings: Record<string, unknown>): Promise<void> {
    return new Promise((resolve, reject) => {
      const entry = this.entry(userId, conversationId);
      entry.settings = { ...entry.settings, ...settings };
      entry.waiters.push({ resolve, reject });
      this.now(entry);
    });
  }

  /** A message mentions this user (§8); counted until read. Not awaited. */
  mention(userId: string, conversationId: string, seq: number) {
    const entry = this.entry(userId, conversationId);
    entry.mentions.add(seq);
    this.now(entry);
  }

  /** These mentions no longer count: read, or the message was recalled. Not awaited. */
  unmention(userId: string, conversationId: string, seqs: number[]) {
    if (!seqs.length) return;
    const entry = this.entry(userId, conversationId);
    for (const s of seqs) entry.unmention.add(s);
    this.now(entry);
  }

  /** The sender's own message counts as delivered to them, and as seen (unread counts). Not awaited. */
  markSent(userId: string, conversationId: string, seq: number) {
    const entry = this.entry(userId, conversationId);
    entry.seqs.add(seq);
    entry.sent = Math.max(entry.sent, seq);
    this.later(entry);
  }

  /**
   * Resolves when this user's (or, without one, everyone's) queued and running writes are done: a
   * pull must see the user's own acks.
   */
  async settled(userId?: string): Promise<void> {
    do {
      // deferred writes of theirs go now
      for (const e of this.pending.values()) if (e.due && (!userId || e.user === userId)) this.now(e);
      const waits: Array<Promise<void>> = [];
      for (const e of [ ...this.current, ...this.pending.values() ]) {
        if (!e.done && (!userId || e.user === userId)) waits.push(new Promise<void>(resolve => e.waiters.push({ resolve, reject: () => resolve() })));
      }
      if (!waits.length) return;
      await Promise.all(waits);
      // everyone's: also the follow-up updates those writes queued
    } while (!userId);
  }

  /**
   * Folds every batched ack into the memberships now (shutdown, tests), after `settled()`. Gives up
   * at the first failure (the batches stay, and are adopted by the next process).
   */
  async folded(): Promise<void> {
    await this.settled();
    this.foldAll = true;
    if (this.foldTimer) {
      clearTimeout(this.foldTimer);
      this.foldTimer = null;
    }
    while (this.foldAll && (this.unfolded.size || this.foldRunning)) {
      const idle = new Promise<void>(resolve => this.foldIdle.push(resolve));
      this.scheduleFold();
      await idle;
    }
    this.foldAll = false;
  }

  /**
   * The done seqs of these users' memberships that are stored in batches and not folded yet, by
   * membership id. Read it before the memberships: a fold writes the membership first and deletes
   * the batch after, so whatever the order of the two reads, one of them has each ack.
   */
  async unfoldedOf(users: string[]): Promise<Map<string, Unfolded>> {
    const out = new Map<string, { seqs: Set<number>; sent: number }>();
    const add = (id: string, seqs: Iterable<number>, sent = 0) => {
      const u = out.get(id);
      if (!u) return out.set(id, { seqs: new Set(seqs), sent });
      for (const s of seqs) u.seqs.add(s);
      u.sent = Math.max(u.sent, sent);
    };
    const wanted = new Set(users);
    if (this.deps.shared && users.length) {
      const filter = users.length === 1 ? { users: new ObjectId(users[0]) } : { users: { $in: users.map(u => new ObjectId(u)) } };
      for (const doc of await this.deps.batches().find(filter, { projection: { data: 1 } }).toArray()) {
        for (const e of decodeEntries(doc.data)) if (wanted.has(membershipUser(e.m))) add(e.m, e.seqs, e.sent);
      }
    }
    for (const f of this.folding) if (wanted.has(f.user)) add(f.id, f.seqs, f.sent);
    for (const f of this.unfolded.values()) if (wanted.has(f.user)) add(f.id, f.seqs, f.sent);
    return out;
  }

  /**
   * Takes over the delivery batches written more than `olderThanMs` ago that no process folded (it
   * stopped first), to fold them here (at most ADOPT_MAX a call); all of them with 0 (a single
   * process at its start: it must hold every one before it serves a read). Folding a batch twice
   * writes nothing new. Resolves with how many were found.
   */
  async adopt(olderThanMs: number): Promise<number> {
    const docs = olderThanMs > 0
      ? await this.deps.batches().find({ time: { $lt: new Date(Date.now() - olderThanMs) } }).limit(ADOPT_MAX).toArray()
      : await this.deps.batches().find({}).toArray();
    const now = Date.now();
    for (const doc of docs) {
      const id = String(doc._id);
      if (this.liveIds.has(id)) continue;
      const entries = decodeEntries(doc.data);
      if (!entries.length) {
        this.deleteBatches([ id ]).catch(err => this.deps.onError(err));
        continue;
      }
      const n = this.track(id);
      for (const e of entries) this.toFold(e.m, membershipUser(e.m), e.seqs, e.sent, n, now);
    }
    if (docs.length) this.scheduleFold();
    return docs.length;
  }

  /** A membership read elsewhere (a pull) refreshes this process's view of it: the stored document, not what batches add. */
  observe(doc: Pick<MembershipDoc, '_id' | 'deliveredSeq' | 'acked'>) {
    const prev = this.views.get(doc._id);
    if (prev && prev.deliveredSeq > doc.deliveredSeq) return;
    const acked = doc.acked ?? [];
    this.views.set(doc._id, { deliveredSeq: doc.deliveredSeq, acked: acked.filter(s => s > doc.deliveredSeq), stale: acked.filter(s => s <= doc.deliveredSeq) });
  }

  private entry(user: string, conversationId: string): Entry {
    const id = membershipId(user, conversationId);
    let entry = this.pending.get(id);
    if (!entry) this.pending.set(id, entry = { id, user, seqs: new Set(), sent: 0, read: 0, hidden: new Set(), mentions: new Set(), unmention: new Set(), settings: null, changeId: 0, due: Infinity, waiters: [] });
    return entry;
  }

  /** The entry goes with the next flush. */
  private now(entry: Entry) {
    entry.due = 0;
    this.schedule();
  }

  /** The entry goes within SENT_DEFER_MS (sooner if something else of it must go now). */
  private later(entry: Entry) {
    entry.due = Math.min(entry.due, Date.now() + SENT_DEFER_MS);
    this.armDeferred();
  }

  private schedule() {
    if (this.running) return;
    this.running = true;
    setImmediate(() => void this.drain());
  }

  /** A timer for the earliest deferred entry, when no flush runs (a running one arms it when done). */
  private armDeferred() {
    if (this.running || this.deferred || !this.pending.size) return;
    let first = Infinity;
    for (const e of this.pending.values()) first = Math.min(first, e.due);
    if (first === Infinity) return;
    this.deferred = setTimeout(() => {
      this.deferred = null;
      this.schedule();
    }, Math.max(0, first - Date.now()));
    this.deferred.unref();
  }

  /** The pending entries due now, taken out of `pending`. */
  private takeDue(): Entry[] {
    const now = Date.now();
    const due = [ ...this.pending.values() ].filter(e => e.due <= now);
    for (const e of due) this.pending.delete(e.id);
    return due;
  }

  private async drain() {
    for (let batch = this.takeDue(); batch.length; batch = this.takeDue()) await this.flushBatch(batch);
    this.running = false;
    this.armDeferred();
  }

  /** The fold runs beside the flushes (acks never wait for it) when its oldest entry is due. */
  private scheduleFold(minDelayMs = 0) {
    if (this.foldRunning || this.foldTimer) return;
    let at = Infinity;
    // kept oldest first, each due a fixed time after it came (retries later)
    for (const f of this.unfolded.values()) {
      at = this.foldAll ? 0 : f.at;
      break;
    }
    if (at === Infinity) return;
    this.foldTimer = setTimeout(() => {
      this.foldTimer = null;
      void this.foldLoop();
    }, Math.max(minDelayMs, at - Date.now()));
    this.foldTimer.unref();
  }

  private async foldLoop() {
    this.foldRunning = true;
    while (await this.foldSome());
    this.foldRunning = false;
    for (const resolve of this.foldIdle.splice(0)) resolve();
    // not at once: what is left may be due but written by the running flush
    this.scheduleFold(FOLD_PAUSE_MS);
  }

  private async flushBatch(batch: Entry[]) {
    const started = Date.now();
    this.current = batch;
    try {
      await this.flush(batch);
      for (const e of batch) this.finish(e);
    } catch (err) {
      this.deps.onError(err);
      for (const e of batch) {
        this.views.delete(e.id);
        this.finish(e, err);
      }
    }
    this.current = [];
    // a slow flush (a busy database) is followed by as long a pause: acks and reads gather into
    // fewer, larger flushes and the sends keep half of the database
    const took = Date.now() - started;
    if (took > PAUSE_AFTER_MS && this.pending.size) await new Promise(resolve => setTimeout(resolve, Math.min(took, PAUSE_MAX_MS)));
  }

  private finish(entry: Entry, err?: unknown) {
    if (entry.done) return;
    entry.done = true;
    for (const w of entry.waiters) (err ? w.reject(err) : w.resolve());
  }

  /**
   * One flush: reads first (each returns the cursor before it, for receipts), then the views this
   * process lacks (by `_id`: is the user a member?), then the done seqs of every membership as one
   * batch (one insert), then the rest of each membership's changes in bulk (chunks of 50).
   */
  private async flush(batch: Entry[]) {
    // the memberships this flush writes are not folded meanwhile, and wait for a fold writing them now
    this.writing = new Set(batch.filter(e => e.read || hasFeatures(e)).map(e => e.id));
    try {
      if (this.folding.some(f => this.writing.has(f.id))) await this.foldWrite.catch(() => undefined);
      await this.flushWrites(batch);
    } finally {
      this.writing = new Set();
    }
  }

  private async flushWrites(batch: Entry[]) {
    await inChunks(batch.filter(e => e.read), CONCURRENCY, e => this.writeRead(e));
    const delivered = batch.filter(e => e.member !== false && (e.seqs.size || e.sent));
    await inChunks(delivered.filter(e => !this.views.has(e.id)), CONCURRENCY, async e => {
      const doc = await this.deps.memberships().findOne({ _id: e.id }, { projection: { deliveredSeq: 1, acked: 1 } });
      if (doc) this.observe(doc);
      else e.member = false; // no such membership (the user left the room): nothing to mark
    });
    await this.append(delivered.filter(e => e.member !== false));
    const ops: Array<{ updateOne: { filter: { _id: string }; update: Record<string, unknown> } }> = [];
    for (const e of batch) {
      if (e.member === false) continue;
      const update = featuresUpdate(e);
      if (Object.keys(update).length) ops.push({ updateOne: { filter: { _id: e.id }, update } });
      // one may not add and pull mentions at once: the stale ones go in a later update
      if (e.mentions.size && e.unmention.size) {
        const next = this.entry(e.user, membershipConversation(e.id));
        for (const s of e.unmention) next.unmention.add(s);
        this.later(next);
      }
    }
    await bulkWriteInChunks(this.deps.memberships() as any, ops);
  }

  /** Stores the done seqs of these memberships as delivery batches (one insert) and queues their fold. */
  private async append(entries: Entry[]) {
    if (!entries.length) return;
    const time = new Date();
    const docs: DeliveryBatchDoc[] = [];
    const parts: Entry[][] = [];
    for (let i = 0; i < entries.length; i += BATCH_ENTRIES) {
      const part = entries.slice(i, i + BATCH_ENTRIES);
      parts.push(part);
      docs.push({
        _id: new ObjectId() as any,
        time,
        ...(this.deps.shared ? { users: [ ...new Set(part.map(e => e.user)) ].map(u => new ObjectId(u)) as any } : {}),
        data: encodeEntries(part.map(e => ({ m: e.id, seqs: [ ...e.seqs ], sent: e.sent }))),
      });
    }
    await this.deps.batches().insertMany(docs);
    const at = Date.now() + FOLD_AFTER_MS;
    docs.forEach((doc, i) => {
      const n = this.track(String(doc._id));
      for (const e of parts[i]) this.toFold(e.id, e.user, e.seqs, e.sent, n, at);
    });
    this.scheduleFold();
  }

  /** A batch of this process's from now on, numbered. */
  private track(id: string): number {
    const n = ++this.batchNumber;
    this.live.push({ n, id });
    this.liveIds.add(id);
    return n;
  }

  private toFold(id: string, user: string, seqs: Iterable<number>, sent: number, batch: number, at: number) {
    let f = this.unfolded.get(id);
    if (!f) this.unfolded.set(id, f = { id, user, seqs: new Set(), sent: 0, firstBatch: Infinity, at });
    for (const s of seqs) f.seqs.add(s);
    f.sent = Math.max(f.sent, sent);
    f.firstBatch = Math.min(f.firstBatch, batch);
  }

  /**
   * Folds the oldest due memberships (FOLD_CHUNK) into their documents, then deletes the batches
   * that have nothing left to fold. Resolves false when nothing was due.
   */
  private async foldSome(): Promise<boolean> {
    const now = Date.now();
    const chunk: FoldEntry[] = [];
    for (const f of this.unfolded.values()) {
      if (chunk.length >= FOLD_CHUNK || (f.at > now && !this.foldAll)) break;
      if (!this.writing.has(f.id)) chunk.push(f);
    }
    if (!chunk.length) return false;
    for (const f of chunk) this.unfolded.delete(f.id);
    this.folding = chunk;
    const written = this.foldChunk(chunk, now);
    // a flush that must write one of these memberships waits for this
    this.foldWrite = written.catch(() => undefined);
    await written;
    return true;
  }

  private async foldChunk(chunk: FoldEntry[], now: number) {
    const ops: Array<{ updateOne: { filter: { _id: string }; update: Record<string, unknown> } }> = [];
    try {
      const gone = new Set<string>();
      await inChunks(chunk.filter(f => !this.views.has(f.id)), CONCURRENCY, async f => {
        const doc = await this.deps.memberships().findOne({ _id: f.id }, { projection: { deliveredSeq: 1, acked: 1 } });
        if (doc) this.observe(doc);
        else gone.add(f.id); // the user left: nothing to fold
      });
      for (const f of chunk) {
        const update = gone.has(f.id) ? null : this.update(f);
        if (update) ops.push({ updateOne: { filter: { _id: f.id }, update } });
      }
      await bulkWriteInChunks(this.deps.memberships() as any, ops, 'background');
    } catch (err) {
      this.deps.onError(err);
      this.foldAll = false;
      for (const f of chunk) {
        this.views.delete(f.id);
        this.toFold(f.id, f.user, f.seqs, f.sent, f.firstBatch, now + FOLD_RETRY_MS);
      }
      this.folding = [];
      return;
    }
    this.folding = [];
    for (const f of chunk) {
      // covered entries left in `acked` go in an update of their own (one may not add and pull at once)
      if (this.views.get(f.id)?.stale.length) this.toFold(f.id, f.user, [], 0, Infinity, now + FOLD_AFTER_MS);
    }
    let oldestHeld = Infinity;
    for (const f of this.unfolded.values()) oldestHeld = Math.min(oldestHeld, f.firstBatch);
    let done = 0;
    while (done < this.live.length && this.live[done].n < oldestHeld) done++;
    if (!done) return;
    const ids = this.live.splice(0, done).map(b => b.id);
    for (const id of ids) this.liveIds.delete(id);
    // a batch not deleted (the database failed) is adopted again later: folding twice writes nothing new
    await this.deleteBatches(ids).catch(err => this.deps.onError(err));
  }

  private async deleteBatches(ids: string[]) {
    await bulkWriteInChunks(this.deps.batches() as any, ids.map(id => ({ deleteOne: { filter: { _id: new ObjectId(id) } } })), 'background');
  }

  /** The update folding an entry's done seqs into its membership, from this process's view (updated to what it will be). */
  private update(entry: { id: string; seqs: Set<number>; sent: number }): Record<string, unknown> | null {
    const view = this.views.get(entry.id)!;
    const seqs = [ ...entry.seqs ];
    const done = new Set([ ...view.acked, ...seqs ]);
    let delivered = view.deliveredSeq;
    while (done.has(delivered + 1)) delivered++;
    const max: Record<string, number> = {};
    if (entry.sent) max.sentSeq = entry.sent;
    if (delivered > view.deliveredSeq) max.deliveredSeq = delivered;
    const rest = seqs.filter(s => s > delivered && !view.acked.includes(s));
    const covered = [ ...view.stale, ...view.acked.filter(s => s <= delivered) ];
    const update: Record<string, unknown> = {};
    if (rest.length) update.$addToSet = { acked: { $each: rest } };
    else if (covered.length) update.$pullAll = { acked: covered };
    if (Object.keys(max).length) update.$max = max;
    this.views.set(entry.id, {
      deliveredSeq: delivered,
      acked: [ ...view.acked.filter(s => s > delivered), ...rest ],
      stale: rest.length ? covered : [],
    });
    return Object.keys(update).length ? update : null;
  }

  /** One `$max` on `readSeq`, by `_id`; the cursor before it says which messages are newly read. */
  private async writeRead(entry: Entry) {
    const res = await this.deps.memberships().findOneAndUpdate({ _id: entry.id }, { $max: { readSeq: entry.read } }, { returnDocument: 'before', includeResultMetadata: true });
    const before = res.value;
    if (!before) {
      entry.member = false;
      return;
    }
    const after = Math.max(before.readSeq ?? 0, before.joinedSeq ?? 0);
    if (after < entry.read) entry.newlyRead = { conversationId: before.conversationId, after, upTo: entry.read };
    // mentions now read no longer count: out of the list (§8)
    const read = (before.mentions ?? []).filter(s => s <= entry.read);
    if (read.length) this.unmention(entry.user, before.conversationId, read);
  }
}

/**
 * A membership as readers see it: its stored delivery state plus the done seqs not folded into it
 * yet (`deliveredSeq` moved over them without a gap, the rest in `acked`).
 */
export function withUnfolded<T extends Pick<MembershipDoc, 'deliveredSeq' | 'acked' | 'sentSeq'>>(doc: T, unfolded: Unfolded | undefined): T {
  if (!unfolded) return doc;
  const done = new Set(doc.acked ?? []);
  for (const s of unfolded.seqs) done.add(s);
  let delivered = doc.deliveredSeq;
  while (done.has(delivered + 1)) delivered++;
  return { ...doc, deliveredSeq: delivered, acked: [ ...done ].filter(s => s > delivered), sentSeq: Math.max(doc.sentSeq ?? 0, unfolded.sent) };
}

const hasFeatures = (e: Entry) => e.hidden.size || e.mentions.size || e.unmention.size || e.settings || e.changeId;

/** A membership's changes besides its delivery state: messages hidden, mentions added (or, without any to add, stale ones taken out), settings, the user's last change. */
function featuresUpdate(e: Entry): Record<string, unknown> {
  const update: Record<string, unknown> = {};
  const add: Record<string, unknown> = {};
  if (e.hidden.size) add.hidden = { $each: [ ...e.hidden ].map(id => new ObjectId(id)) };
  if (e.mentions.size) add.mentions = { $each: [ ...e.mentions ] };
  else if (e.unmention.size) update.$pullAll = { mentions: [ ...e.unmention ] };
  if (Object.keys(add).length) update.$addToSet = add;
  if (e.settings) update.$set = e.settings;
  if (e.changeId) update.$max = { lastChangeId: e.changeId };
  return update;
}

/** Runs `fn` over `items`, `size` at a time. */
async function inChunks<T>(items: T[], size: number, fn: (item: T) => Promise<void>) {
  for (let i = 0; i < items.length; i += size) await Promise.all(items.slice(i, i + size).map(fn));
}
