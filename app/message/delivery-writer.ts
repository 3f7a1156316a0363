import { ObjectId, type Collection } from 'mongodb';
import { LRUCache } from 'lru-cache';
import type { MembershipDoc } from '../model/membership';
import { membershipConversation, membershipId } from '../../lib/conversation-ids';
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

/** What this process last saw of a membership's delivery state; it only ever trails the truth. */
interface View {
  deliveredSeq: number;
  /** done seqs above `deliveredSeq` */
  acked: number[];
  /** entries of `acked` in the store that `deliveredSeq` covers now, to pull in a later update */
  stale: number[];
}

const VIEWS_MAX = 100_000;
/** updates in flight at once: well under the connection pool and FerretDB's limits */
const CONCURRENCY = 8;
/** flushes slower than this are followed by a pause as long, up to PAUSE_MAX_MS */
const PAUSE_AFTER_MS = 50;
/**
 * the longest pause: a flush of 1,000 memberships took 26 s under the bench's 1:1 load, and a pause
 * as long kept every ack waiting a minute (acks must be answered, not shed)
 */
const PAUSE_MAX_MS = 1000;
/**
 * how long a sender's own message may wait to be written to their membership: nobody waits for it
 * (reads of this user's state expedite it), and meanwhile it joins that membership's next ack or read
 */
const SENT_DEFER_MS = 3000;

/**
 * Delivery and read state writes, group-committed like the sends: acks (`c_message_ack`), reads
 * (`to_reader`) and the senders' own messages arriving while a flush runs are merged per
 * membership into the next flush, so a chatty room costs one update per member per flush, not one
 * per message. An ack or a read is answered only once its flush is stored.
 *
 * A seq is "done" for a user once they acked it or sent it. `deliveredSeq` only moves over done
 * seqs without a gap; done seqs above it wait in `acked`. Each update is computed from this
 * process's view of the membership, which only trails the truth (done-ness never reverts), and
 * applied with `$max` / `$addToSet` / `$pullAll` on a filter by `_id` alone: correct whichever
 * worker writes, on MongoDB, and FerretDB's one fast path. A flush writes its updates in bulk
 * (about 2 ms an update on FerretDB instead of 7 one by one). One flush runs at a time and holds one
 * update per membership, so this process never writes a membership twice at once (FerretDB applies
 * updates as read-modify-write).
 *
 * Nobody waits for a sender's own message to be marked (`markSent`), so it is written within
 * `SENT_DEFER_MS` rather than at once, with that membership's next ack or read if one comes meanwhile
 * (a one-to-one conversation then costs one membership update per message, not two). `settled()`
 * (a pull, the conversation list, shutdown) writes it at once.
 */
export class DeliveryWriter {
  private pending = new Map<string, Entry>();
  /** the batch being written */
  private current: Entry[] = [];
  private readonly views = new LRUCache<string, View>({ max: VIEWS_MAX });
  private running = false;
  /** the next deferred write's timer */
  private deferred: NodeJS.Timeout | null = null;

  constructor(
    private readonly collection: () => Collection<MembershipDoc>,
    private readonly onError: (err: unknown) => void,
  ) {}

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

  /** A membership read elsewhere (a pull) refreshes this process's view of it. */
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
    for (let batch = this.takeDue(); batch.length; batch = this.takeDue()) {
      const started = Date.now();
      this.current = batch;
      try {
        await this.flush(batch);
        for (const e of batch) this.finish(e);
      } catch (err) {
        this.onError(err);
        // the views were moved ahead for this flush: read them afresh next time
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
    this.running = false;
    this.armDeferred();
  }

  private finish(entry: Entry, err?: unknown) {
    if (entry.done) return;
    entry.done = true;
    for (const w of entry.waiters) (err ? w.reject(err) : w.resolve());
  }

  /**
   * One flush: reads first (each returns the cursor before it, for receipts), then the views this
   * process lacks (by `_id`), then every delivery update of the batch in bulk (chunks of 50).
   */
  private async flush(batch: Entry[]) {
    await inChunks(batch.filter(e => e.read), CONCURRENCY, e => this.writeRead(e));
    const writes = batch.filter(e => e.member !== false && (e.seqs.size || e.sent || e.mentions.size || e.unmention.size || e.settings || e.changeId));
    const delivered = writes.filter(e => e.seqs.size || e.sent);
    await inChunks(delivered.filter(e => !this.views.has(e.id)), CONCURRENCY, async e => {
      const doc = await this.collection().findOne({ _id: e.id }, { projection: { deliveredSeq: 1, acked: 1 } });
      if (doc) this.observe(doc);
      else e.member = false; // no such membership (the user left the room): nothing to mark
    });
    const ops: Array<{ updateOne: { filter: { _id: string }; update: Record<string, unknown> } }> = [];
    const followUps: Entry[] = [];
    for (const e of writes) {
      if (e.member === false) continue;
      const update = e.seqs.size || e.sent ? this.update(e) ?? {} : {};
      addFeatures(e, update);
      if (Object.keys(update).length) ops.push({ updateOne: { filter: { _id: e.id }, update } });
      const view = this.views.get(e.id);
      if (view?.stale.length || (e.mentions.size && e.unmention.size)) followUps.push(e);
    }
    await bulkWriteInChunks(this.collection() as any, ops);
    // covered entries left in `acked` go in an update of their own (one may not add and pull at once)
    for (const e of followUps) {
      const next = this.entry(e.user, membershipConversation(e.id));
      if (e.mentions.size) for (const s of e.unmention) next.unmention.add(s);
      this.later(next);
    }
  }

  /** The update for an entry, from this process's view (updated to what it will be). */
  private update(entry: Entry): Record<string, unknown> | null {
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
    const add: Record<string, unknown> = {};
    if (rest.length) add.acked = { $each: rest };
    else if (covered.length) update.$pullAll = { acked: covered };
    if (entry.hidden.size) add.hidden = { $each: [ ...entry.hidden ].map(id => new ObjectId(id)) };
    if (Object.keys(add).length) update.$addToSet = add;
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
    const res = await this.collection().findOneAndUpdate({ _id: entry.id }, { $max: { readSeq: entry.read } }, { returnDocument: 'before', includeResultMetadata: true });
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

/** §8's part of a membership update: mentions added (or, without any to add, stale ones taken out), settings, the user's last change. */
function addFeatures(e: Entry, update: Record<string, unknown>) {
  const add = (update.$addToSet ?? {}) as Record<string, unknown>;
  if (e.mentions.size) add.mentions = { $each: [ ...e.mentions ] };
  else if (e.unmention.size) update.$pullAll = { ...(update.$pullAll as object), mentions: [ ...e.unmention ] };
  if (Object.keys(add).length) update.$addToSet = add;
  if (e.settings) update.$set = { ...(update.$set as object), ...e.settings };
  if (e.changeId) update.$max = { ...(update.$max as object), lastChangeId: e.changeId };
}

/** Runs `fn` over `items`, `size` at a time. */
async function inChunks<T>(items: T[], size: number, fn: (item: T) => Promise<void>) {
  for (let i = 0; i < items.length; i += size) await Promise.all(items.slice(i, i + size).map(fn));
}
