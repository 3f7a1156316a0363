/**
 * Background deliveries that must not be lost (webhooks, Web Push): a queue kept in the database, so
 * a restart or a dead worker loses nothing, worked by every process.
 *
 * A job is a list of items for one target (a webhook's events, a batch of pushes), made by one
 * insert per flush rather than per message. It is stored as two documents with the same `_id`:
 *   - the head (`jobs`): how many attempts were claimed and when it is due (`runAt`); small, and
 *     only pending work is in its collection, so polling it stays cheap (on FerretDB every filter
 *     but an exact `_id` decodes the whole collection: the heads are all it decodes);
 *   - the body (`bodies`): the items as one deflated JSON blob, read and written by `_id` only.
 *     FerretDB's cost grows with every value and byte it converts: measured on 85 webhook events,
 *     a lookup by `_id` took 123 ms of its CPU with the items as documents, 6.6 ms as a JSON string
 *     and 2.4 ms deflated (qualities the delivery log's `results` share, kept as one JSON string).
 *
 * Claiming attempt n of a job takes two steps, each one round trip for all the jobs of a round:
 *   1. one bulk of conditional updates `{_id, attempts: n-1}` → `attempts: n, runAt: now + lease`:
 *      the lease keeps the job from being due while attempt n runs, and lets it come due again
 *      once the lease has passed if the worker died;
 *   2. one insert of the attempt records, `_id: "<job>:<n>"`. The `_id` is unique, so exactly one
 *      worker holds attempt n, on MongoDB and on FerretDB alike (whose conditional updates are
 *      read-modify-write and can all "win"). The record is also the delivery log.
 * (A process that works the queue takes the first attempt of the jobs it enqueues itself while it
 * has places: their heads are stored claimed, so nobody else can claim them before the lease ends.)
 * Whoever holds attempt n reads the body, delivers the items and then, conditionally on
 * `attempts: n` (a late worker whose lease passed cannot undo a newer attempt), deletes the job
 * when nothing is left or keeps the items to retry with exponential backoff until the job's retry
 * horizon. The head is written first and the body only when that matched, so a worker dying in
 * between leaves at worst items that are sent again (receivers de-duplicate by id), never lost.
 * A lease is longer than the worst time its items can take (each item has a hard deadline), so two
 * workers never send the same attempt, or two attempts of one job, at once.
 */
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import { Types, type Model } from 'mongoose';
import { writeErrorsOf } from './duplicate-key';

/**
 * Jobs claimed in one round at most: the claim's bulk runs beside the message path's bulks of
 * BULK_CHUNK, and FerretDB deadlocks at about 100 updates in flight (lib/bulk-write.ts).
 */
const CLAIM_MAX = 16;

/** One delivery of a job; the handler of its kind knows the rest of its fields. */
export interface JobItem {
  /** names the item in the log (a webhook event's id, a push's subscription and message) */
  ref: string;
}

/** A job's head: what the queue polls. */
export interface JobDoc {
  _id: Types.ObjectId;
  kind: string;
  /** the webhook's id, or `push` */
  target: string;
  /** items left in the body */
  size: number;
  /** attempts claimed so far */
  attempts: number;
  /** due from then on (while an attempt runs: when its lease ends) */
  runAt: Date;
  /** enqueued at: the retry horizon counts from here */
  firstAt: Date;
  lastError?: string;
}

const deflate = promisify(zlib.deflateRaw);
const inflate = promisify(zlib.inflateRaw);

/** A body's bytes: the items as JSON, deflated fast (webhook events shrink about 8×). */
function packItems(items: JobItem[]): Promise<Buffer> {
  return deflate(JSON.stringify(items), { level: 1 });
}

async function unpackItems(stored: JobBodyDoc['items']): Promise<JobItem[]> {
  const bytes = Buffer.isBuffer(stored) ? stored : Buffer.from(stored.buffer);
  return JSON.parse((await inflate(bytes)).toString('utf8')) as JobItem[];
}

/** The results an attempt record holds (none while it runs). */
export function attemptResults(attempt: Pick<AttemptDoc, 'results'>): ItemResult[] {
  return attempt.results ? JSON.parse(attempt.results) as ItemResult[] : [];
}

/** A job's items, kept apart from its head and read by `_id` only. */
export interface JobBodyDoc {
  _id: Types.ObjectId;
  /** the items: JSON, deflated (packItems) */
  items: Buffer | { buffer: Uint8Array };
}

/** A claimed job as its handler gets it: the head with its items. */
export type ClaimedJob = JobDoc & { items: JobItem[] };

export interface ItemResult {
  ref: string;
  outcome: 'ok' | 'retry' | 'drop';
  /** e.g. the webhook event's type */
  label?: string;
  status?: number;
  ms?: number;
  error?: string;
}

export interface AttemptDoc {
  _id: string;
  job: Types.ObjectId;
  kind: string;
  target: string;
  n: number;
  worker: string;
  startedAt: Date;
  finishedAt?: Date;
  /** `done` (nothing left), `retry` (some items wait for the next attempt), `gave-up` (past the horizon) */
  outcome?: 'done' | 'retry' | 'gave-up';
  /** the items' results, JSON (ItemResult[]): read them with attemptResults */
  results?: string;
}

export interface JobHandler {
  /** delivers the job's items (each bounded by `itemTimeoutMs`), answering each */
  deliver(job: ClaimedJob): Promise<ItemResult[]>;
  /** items of one job delivered at once */
  concurrency: number;
  itemTimeoutMs: number;
  /** how long after enqueueing a job's items are still retried */
  retryForMs: number;
}

export interface JobQueueOptions {
  jobs: () => Model<JobDoc>;
  bodies: () => Model<JobBodyDoc>;
  attempts: () => Model<AttemptDoc>;
  handlers: Record<string, JobHandler>;
  /** retry delay after attempt n: `baseMs × 2^(n-1)`, at most `maxMs`, ±20% (settings are read at each use) */
  backoff: () => { baseMs: number; maxMs: number };
  /** jobs this process works on at once */
  maxInFlight: () => number;
  pollMs: () => number;
  /** the results of each finished attempt (metrics) */
  onResults?: (kind: string, results: ItemResult[]) => void;
  logError: (msg: string, err: unknown) => void;
}

/** A new job: `runAt` defaults to now. */
export type NewJob = Pick<ClaimedJob, 'kind' | 'target' | 'items'> & { runAt?: Date };

export class JobQueue {
  /** this process, in the attempt records */
  readonly worker = `${process.pid}-${randomBytes(4).toString('hex')}`;
  private readonly inFlight = new Set<Promise<void>>();
  private timer: NodeJS.Timeout | null = null;
  private running = false;
  private polling: Promise<void> | null = null;
  private again = false;
  /** killed: no more claims and no completions (a test's stand-in for kill -9) */
  private dead = false;
  /** first attempts taken by an enqueue still storing its jobs */
  private starting = 0;

  constructor(private readonly opts: JobQueueOptions) {}

  /**
   * Stores jobs (one insert of bodies, then one of heads: a head is never due without its body).
   * While this process works the queue, it takes the first attempt of as many as it has places for
   * itself: their heads are stored already claimed (attempt 1, leased) and their items go out from
   * memory, which spares the claim and the body read; the attempt is logged when it ends. The rest
   * wait to be claimed, and this process's loop is nudged for them.
   */
  async enqueue(jobs: NewJob[]) {
    if (!jobs.length) return;
    const now = Date.now();
    const places = this.running && !this.dead ? Math.max(0, this.opts.maxInFlight() - this.inFlight.size - this.starting) : 0;
    const heads = jobs.map((j, i): JobDoc => {
      const head: JobDoc = { _id: new Types.ObjectId(), kind: j.kind, target: j.target, size: j.items.length, attempts: 0, runAt: j.runAt ?? new Date(now), firstAt: new Date(now) };
      if (i < places && !j.runAt && this.opts.handlers[j.kind]) Object.assign(head, { attempts: 1, runAt: new Date(now + this.leaseMs(head)) });
      return head;
    });
    const mine = heads.filter(h => h.attempts === 1).length;
    this.starting += mine;
    try {
      const bodies = await Promise.all(heads.map(async (h, i): Promise<JobBodyDoc> => ({ _id: h._id, items: await packItems(jobs[i].items) })));
      await this.opts.bodies().collection.insertMany(bodies as never[], { ordered: false });
      await this.opts.jobs().collection.insertMany(heads as never[], { ordered: false });
    } finally {
      this.starting -= mine;
    }
    heads.forEach((head, i) => {
      if (head.attempts === 1) this.track(this.run(head, jobs[i].items));
    });
    if (mine < heads.length) this.nudge();
  }

  /**
   * Removes bodies older than `olderThanMs` that have no head: left by a worker that died between
   * the two writes of an enqueue or of a finished job (the schedule calls it). Returns how many.
   */
  async removeOrphanBodies(olderThanMs: number, max = 1000): Promise<number> {
    const cutoff = Types.ObjectId.createFromTime(Math.floor((Date.now() - olderThanMs) / 1000));
    const old = await this.opts.bodies().find({ _id: { $lt: cutoff } }, { _id: 1 }).limit(max).lean<Array<{ _id: Types.ObjectId }>>();
    if (!old.length) return 0;
    const heads = await this.opts.jobs().find({ _id: { $in: old.map(b => b._id) } }, { _id: 1 }).lean<Array<{ _id: Types.ObjectId }>>();
    const held = new Set(heads.map(h => String(h._id)));
    const orphans = old.filter(b => !held.has(String(b._id))).map(b => b._id);
    if (!orphans.length) return 0;
    const { deletedCount } = await this.opts.bodies().deleteMany({ _id: { $in: orphans } });
    return deletedCount;
  }

  /** Jobs being delivered by this process. */
  get busy() {
    return this.inFlight.size;
  }

  /** Starts polling (every `pollMs`, and at once after a local enqueue). */
  start() {
    if (this.running || this.dead) return;
    this.running = true;
    this.schedule(0);
  }

  /** Stops polling and waits for the deliveries in flight (each is bounded by its deadlines). */
  async stop() {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.polling;
    await Promise.all([ ...this.inFlight ]);
  }

  /** Stops at once without finishing anything: its claims stay until their leases pass (tests). */
  kill() {
    this.dead = true;
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
  }

  /** Polls now (new work was enqueued here). */
  nudge() {
    if (!this.running) return;
    if (this.polling) {
      this.again = true;
      return;
    }
    this.schedule(0);
  }

  private schedule(ms: number) {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      this.polling = this.poll().finally(() => {
        this.polling = null;
        if (!this.running) return;
        const more = this.again;
        this.again = false;
        this.schedule(more ? 0 : this.opts.pollMs());
      });
    }, ms);
    this.timer.unref?.();
  }

  private async poll() {
    try {
      while (this.running && await this.claimRound() > 0 && this.inFlight.size < this.opts.maxInFlight()) { /* more may be due */ }
    } catch (err) {
      this.opts.logError('[queue] claiming jobs failed', err);
    }
  }

  /**
   * One round: claims due jobs up to the free places and starts delivering them. Returns how many
   * were claimed. Exposed for tests, which drive queues by hand.
   */
  async claimRound(): Promise<number> {
    const room = Math.min(CLAIM_MAX, this.opts.maxInFlight() - this.inFlight.size);
    if (room <= 0 || this.dead) return 0;
    const Jobs = this.opts.jobs();
    const now = Date.now();
    // only kinds this queue handles: older jobs of another kind (a handler no longer configured) would
    // fill every round and starve the rest
    const due = await Jobs.find({ runAt: { $lte: new Date(now) }, kind: { $in: Object.keys(this.opts.handlers) } }).sort({ runAt: 1 }).limit(room).lean<JobDoc[]>();
    const full = due.length === room;
    if (!due.length) return 0;
    // one bulk of at most CLAIM_MAX, not queued behind the message path's bulks (lib/bulk-write.ts):
    // waiting there stalled claims for seconds under load
    await Jobs.bulkWrite(due.map(j => ({
      updateOne: { filter: { _id: j._id, attempts: j.attempts }, update: { $set: { runAt: new Date(now + this.leaseMs(j)) }, $inc: { attempts: 1 } } },
    })), { ordered: false });
    const records: AttemptDoc[] = due.map(j => ({
      _id: `${j._id}:${j.attempts + 1}`, job: j._id, kind: j.kind, target: j.target, n: j.attempts + 1, worker: this.worker, startedAt: new Date(),
    }));
    const taken = await insertOwned(this.opts.attempts(), records);
    if (this.dead) return 0;
    let claimed = 0;
    due.forEach((job, i) => {
      if (!taken[i]) return;
      claimed++;
      // a full round may have left due jobs behind: a free place takes the next at once
      this.track(this.run({ ...job, attempts: job.attempts + 1 }), full);
    });
    return claimed;
  }

  /** Counts an attempt as in flight until it ends. */
  private track(attempt: Promise<void>, thenPoll = false) {
    const work = attempt.catch(err => this.opts.logError('[queue] job failed', err));
    this.inFlight.add(work);
    void work.finally(() => {
      this.inFlight.delete(work);
      if (thenPoll) this.nudge();
    });
  }

  /** The longest attempt `job` can take: its items in turns of `concurrency`, each within its deadline, and a turn to spare. */
  private leaseMs(job: JobDoc) {
    const h = this.opts.handlers[job.kind];
    return (Math.ceil(job.size / h.concurrency) + 1) * h.itemTimeoutMs;
  }

  /**
   * Attempt `head.attempts` of a job this process holds: its items (from the body, unless the
   * enqueue handed them over), delivered, the outcome stored. A claimed attempt has its record
   * already; a first attempt taken at enqueue writes it now.
   */
  private async run(head: JobDoc, handed?: JobItem[]) {
    const startedAt = new Date();
    const handler = this.opts.handlers[head.kind];
    let items = handed;
    if (!items) {
      const body = await this.opts.bodies().findOne({ _id: head._id }).lean<JobBodyDoc>();
      items = body ? await unpackItems(body.items) : [];
    }
    const job: ClaimedJob = { ...head, items };
    let results: ItemResult[];
    try {
      results = await handler.deliver(job);
    } catch (err) {
      results = job.items.map(i => ({ ref: i.ref, outcome: 'retry' as const, error: String((err as Error)?.message ?? err) }));
    }
    if (this.dead) return;
    const retry = new Set(results.filter(r => r.outcome === 'retry').map(r => r.ref));
    const left = job.items.filter(i => retry.has(i.ref));
    const delay = this.delayAfter(job.attempts);
    const gaveUp = left.length > 0 && Date.now() + delay - new Date(job.firstAt).getTime() > handler.retryForMs;
    const outcome: AttemptDoc['outcome'] = !left.length ? 'done' : gaveUp ? 'gave-up' : 'retry';
    const Jobs = this.opts.jobs();
    const Bodies = this.opts.bodies();
    const mine = { _id: job._id, attempts: job.attempts };
    if (outcome === 'retry') {
      const lastError = results.find(r => r.outcome === 'retry')?.error ?? '';
      const { matchedCount } = await Jobs.updateOne(mine, { $set: { size: left.length, runAt: new Date(Date.now() + delay), lastError: lastError.slice(0, 500) } });
      if (matchedCount) await Bodies.updateOne({ _id: job._id }, { $set: { items: await packItems(left) } });
    } else {
      const { deletedCount } = await Jobs.deleteOne(mine);
      if (deletedCount) await Bodies.deleteOne({ _id: job._id });
    }
    const finished = { finishedAt: new Date(), outcome, results: JSON.stringify(results) };
    const record = `${job._id}:${job.attempts}`;
    if (handed) await this.opts.attempts().collection.insertOne({ _id: record, job: job._id, kind: job.kind, target: job.target, n: job.attempts, worker: this.worker, startedAt, ...finished } as never);
    else await this.opts.attempts().updateOne({ _id: record }, { $set: finished });
    this.opts.onResults?.(job.kind, gaveUp ? results.map(r => (r.outcome === 'retry' ? { ...r, outcome: 'drop' as const } : r)) : results);
  }

  private delayAfter(attempt: number) {
    const { baseMs, maxMs } = this.opts.backoff();
    const plain = Math.min(maxMs, baseMs * 2 ** Math.min(attempt - 1, 30));
    return Math.round(plain * (0.8 + Math.random() * 0.4));
  }
}

/**
 * Inserts the records, each on its own (unordered); says which went in. A duplicate `_id` means
 * another worker holds that attempt.
 */
async function insertOwned(model: Model<AttemptDoc>, docs: AttemptDoc[]): Promise<boolean[]> {
  const owned = docs.map(() => true);
  try {
    await model.collection.insertMany(docs as never[], { ordered: false });
  } catch (err) {
    const errors = writeErrorsOf(err);
    if (!errors) throw err;
    for (const e of errors) {
      if ((e.code ?? e.err?.code) !== 11000) throw err;
      owned[e.index] = false;
    }
  }
  return owned;
}
