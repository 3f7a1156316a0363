import type { Collection } from 'mongodb';
import { LRUCache } from 'lru-cache';
import { membershipId, type MembershipDoc } from '../model/membership';
import type { KeyedMutex } from '../../lib/keyed-mutex';

interface Entry {
  id: string;
  user: string;
  seqs: Set<number>;
  sent: number;
  /** highest seq read (`to_reader`) to raise `readSeq` to */
  read: number;
  /** false once a write found no membership */
  member?: boolean;
  done?: boolean;
  waiters: Array<{ resolve: () => void; reject: (err: unknown) => void }>;
}

/** What this process last saw of a membership's delivery state; it only ever trails the truth. */
interface View {
  deliveredSeq: number;
  acked: number[];
}

const VIEWS_MAX = 100_000;
/** updates in flight at once: well under the connection pool and FerretDB's limits */
const CONCURRENCY = 8;

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
 * worker writes, on MongoDB, and FerretDB's one fast path. The per-user lock keeps this process's
 * writes to one membership one at a time (FerretDB updates are read-modify-write).
 */
export class DeliveryWriter {
  private pending = new Map<string, Entry>();
  /** the batch being written */
  private current: Entry[] = [];
  private readonly views = new LRUCache<string, View>({ max: VIEWS_MAX });
  private running = false;

  constructor(
    private readonly collection: () => Collection<MembershipDoc>,
    private readonly lock: KeyedMutex,
    private readonly onError: (err: unknown) => void,
    /** seqs (after, upTo] of a conversation became read by a user: the senders get receipts */
    private readonly onRead: (userId: string, conversationId: string, after: number, upTo: number) => Promise<void> = async () => undefined,
  ) {}

  /**
   * Raises the user's read cursor (`to_reader`); reads of one conversation that arrive together
   * become one update and one round of receipts. Resolves once stored; false when the user has no
   * place in the conversation.
   */
  markRead(userId: string, conversationId: string, seq: number): Promise<boolean> {
    return new Promise((resolve, reject) => {
      const entry = this.entry(userId, conversationId);
      entry.read = Math.max(entry.read, seq);
      entry.waiters.push({ resolve: () => resolve(entry.member !== false), reject });
      this.schedule();
    });
  }

  /** Marks seqs of a conversation delivered to `userId`; resolves once stored. */
  markAcked(userId: string, conversationId: string, seqs: number[]): Promise<void> {
    return new Promise((resolve, reject) => {
      const entry = this.entry(userId, conversationId);
      for (const s of seqs) entry.seqs.add(s);
      entry.waiters.push({ resolve, reject });
      this.schedule();
    });
  }

  /** The sender's own message counts as delivered to them, and as seen (unread counts). Not awaited. */
  markSent(userId: string, conversationId: string, seq: number) {
    const entry = this.entry(userId, conversationId);
    entry.seqs.add(seq);
    entry.sent = Math.max(entry.sent, seq);
    this.schedule();
  }

  /**
   * Resolves when this user's (or, without one, everyone's) queued and running writes are done: a
   * pull must see the user's own acks.
   */
  async settled(userId?: string): Promise<void> {
    do {
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
    this.views.set(doc._id, { deliveredSeq: doc.deliveredSeq, acked: (doc.acked ?? []).filter(s => s > doc.deliveredSeq) });
  }

  private entry(user: string, conversationId: string): Entry {
    const id = membershipId(user, conversationId);
    let entry = this.pending.get(id);
    if (!entry) this.pending.set(id, entry = { id, user, seqs: new Set(), sent: 0, read: 0, waiters: [] });
    return entry;
  }

  private schedule() {
    if (this.running) return;
    this.running = true;
    setImmediate(() => void this.drain());
  }

  private async drain() {
    while (this.pending.size) {
      const batch = this.current = [ ...this.pending.values() ];
      this.pending = new Map();
      for (let i = 0; i < batch.length; i += CONCURRENCY) {
        await Promise.all(batch.slice(i, i + CONCURRENCY).map(e => this.run(e)));
      }
      this.current = [];
    }
    this.running = false;
  }

  private run(entry: Entry): Promise<void> {
    return this.lock.run(entry.user, () => this.write(entry)).then(
      () => {
        entry.done = true;
        for (const w of entry.waiters) w.resolve();
      },
      err => {
        entry.done = true;
        this.onError(err);
        for (const w of entry.waiters) w.reject(err);
      });
  }

  private async write(entry: Entry) {
    if (entry.read) await this.writeRead(entry);
    if (entry.seqs.size || entry.sent) await this.writeDelivered(entry);
  }

  /** One `$max` on `readSeq`, by `_id`; the cursor before it says which messages are newly read. */
  private async writeRead(entry: Entry) {
    const res = await this.collection().findOneAndUpdate({ _id: entry.id }, { $max: { readSeq: entry.read } }, { returnDocument: 'before' });
    const before = (res as any)?.value as MembershipDoc | null;
    if (!before) {
      entry.member = false;
      return;
    }
    const after = Math.max(before.readSeq ?? 0, before.joinedSeq ?? 0);
    if (after < entry.read) await this.onRead(entry.user, before.conversationId, after, entry.read);
  }

  private async writeDelivered(entry: Entry) {
    const view = this.views.get(entry.id);
    const seqs = [ ...entry.seqs ];
    const max: Record<string, number> = {};
    if (entry.sent) max.sentSeq = entry.sent;
    const update: Record<string, unknown> = {};
    if (view) {
      const done = new Set([ ...view.acked, ...seqs ]);
      let delivered = view.deliveredSeq;
      while (done.has(delivered + 1)) delivered++;
      if (delivered > view.deliveredSeq) max.deliveredSeq = delivered;
      const rest = seqs.filter(s => s > delivered && !view.acked.includes(s));
      const covered = view.acked.filter(s => s <= delivered);
      // one update may not both add to and pull from `acked`: covered entries go in a later one
      if (rest.length) update.$addToSet = { acked: { $each: rest } };
      else if (covered.length) update.$pullAll = { acked: covered };
    } else if (seqs.length) {
      update.$addToSet = { acked: { $each: seqs } };
    }
    if (Object.keys(max).length) update.$max = max;
    if (!Object.keys(update).length) return;
    const res = await this.collection().findOneAndUpdate({ _id: entry.id }, update, { returnDocument: 'after' });
    const doc = (res as any)?.value ?? null;
    if (!doc) {
      // no such membership (the user left the room): nothing to mark
      this.views.delete(entry.id);
      entry.member = false;
      return;
    }
    this.observe(doc);
    const now = this.views.get(entry.id)!;
    if (now.acked.includes(now.deliveredSeq + 1) || (doc.acked ?? []).length !== now.acked.length) {
      // more to fold into deliveredSeq: one more update in the next flush
      this.entry(entry.user, doc.conversationId);
      this.schedule();
    }
  }
}
