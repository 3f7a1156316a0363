/**
 * Background deliveries that must not be lost (webhooks, Web Push): a queue kept in the database, so
 * a restart or a dead worker loses nothing, worked by every process.
 *
 * A job is a list of items for one target (a webhook's events, a batch of pushes), made by one
 * insert per flush rather than per message. Its document says how many attempts were claimed and
 * when it is due (`runAt`); only pending work is in the collection, so polling it stays cheap.
 *
 * Claiming attempt n of a job takes two writes per round, whatever the number of jobs:
 *   1. one bulk of conditional updates `{_id, attempts: n-1}` → `attempts: n, runAt: now + lease`:
 *      the lease keeps the job from being due while attempt n runs, and lets it come due again
 *      once the lease has passed if the worker died;
 *   2. one insert of the attempt records, `_id: "<job>:<n>"`. The `_id` is unique, so exactly one
 *      worker holds attempt n, on MongoDB and on FerretDB alike (whose conditional updates are
 *      read-modify-write and can all "win"). The record is also the delivery log.
 * Whoever holds attempt n delivers the job's items and then, conditionally on `attempts: n` (a
 * late worker whose lease passed cannot undo a newer attempt), deletes the job when nothing is left
 * or keeps the items to retry with exponential backoff until the job's retry horizon.
 * A lease is longer than the worst time its items can take (each item has a hard deadline), so two
 * workers never send the same attempt, or two attempts of one job, at once.
 */
import { randomBytes } from 'node:crypto';
import type { Model, Types } from 'mongoose';
import { bulkWriteInChunks } from './bulk-write';
import { writeErrorsOf } from './duplicate-key';

/** One delivery of a job; the handler of its kind knows the rest of its fields. */
export interface JobItem {
  /** names the item in the log (a webhook event's id, a push's subscription and message) */
  ref: string;
}

export interface JobDoc {
  _id: Types.ObjectId;
  kind: string;
  /** the webhook's id, or `push` */
  target: string;
  items: JobItem[];
  /** attempts claimed so far */
  attempts: number;
  /** due from then on (while an attempt runs: when its lease ends) */
  runAt: Date;
  /** enqueued at: the retry horizon counts from here */
  firstAt: Date;
  lastError?: string;
}

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
  results?: ItemResult[];
}

export interface JobHandler {
  /** delivers the job's items (each bounded by `itemTimeoutMs`), answering each */
  deliver(job: JobDoc): Promise<ItemResult[]>;
  /** items of one job delivered at once */
  concurrency: number;
  itemTimeoutMs: number;
  /** how long after enqueueing a job's items are still retried */
  retryForMs: number;
}

export interface JobQueueOptions {
  jobs: () => Model<JobDoc>;
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
export type NewJob = Pick<JobDoc, 'kind' | 'target' | 'items'> & { runAt?: Date };

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

  constructor(private readonly opts: JobQueueOptions) {}

  /** Stores jobs (one insert); this process's loop is nudged so they go out at once. */
  async enqueue(jobs: NewJob[]) {
    if (!jobs.length) return;
    const now = new Date();
    const docs = jobs.map((j): Omit<JobDoc, '_id'> => ({ kind: j.kind, target: j.target, items: j.items, attempts: 0, runAt: j.runAt ?? now, firstAt: now }));
    await this.opts.jobs().collection.insertMany(docs as never[], { ordered: false });
    this.nudge();
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
    const room = this.opts.maxInFlight() - this.inFlight.size;
    if (room <= 0 || this.dead) return 0;
    const Jobs = this.opts.jobs();
    const now = Date.now();
    const due = await Jobs.find({ runAt: { $lte: new Date(now) } }).sort({ runAt: 1 }).limit(room).lean<JobDoc[]>();
    const known = due.filter(j => this.opts.handlers[j.kind]);
    if (!known.length) return 0;
    await bulkWriteInChunks(Jobs, known.map(j => ({
      updateOne: { filter: { _id: j._id, attempts: j.attempts }, update: { $set: { runAt: new Date(now + this.leaseMs(j)) }, $inc: { attempts: 1 } } },
    })));
    const records: AttemptDoc[] = known.map(j => ({
      _id: `${j._id}:${j.attempts + 1}`, job: j._id, kind: j.kind, target: j.target, n: j.attempts + 1, worker: this.worker, startedAt: new Date(),
    }));
    const taken = await insertOwned(this.opts.attempts(), records);
    if (this.dead) return 0;
    let claimed = 0;
    known.forEach((job, i) => {
      if (!taken[i]) return;
      claimed++;
      const attempt = { ...job, attempts: job.attempts + 1 };
      const work = this.deliver(attempt).catch(err => this.opts.logError('[queue] job failed', err));
      this.inFlight.add(work);
      void work.finally(() => this.inFlight.delete(work));
    });
    return claimed;
  }

  /** The longest attempt `job` can take: its items in turns of `concurrency`, each within its deadline, and a turn to spare. */
  private leaseMs(job: JobDoc) {
    const h = this.opts.handlers[job.kind];
    return (Math.ceil(job.items.length / h.concurrency) + 1) * h.itemTimeoutMs;
  }

  private async deliver(job: JobDoc) {
    const handler = this.opts.handlers[job.kind];
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
    const mine = { _id: job._id, attempts: job.attempts };
    if (outcome === 'retry') {
      const lastError = results.find(r => r.outcome === 'retry')?.error ?? '';
      await Jobs.updateOne(mine, { $set: { items: left, runAt: new Date(Date.now() + delay), lastError: lastError.slice(0, 500) } });
    } else {
      await Jobs.deleteOne(mine);
    }
    await this.opts.attempts().updateOne({ _id: `${job._id}:${job.attempts}` }, { $set: { finishedAt: new Date(), outcome, results } });
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
