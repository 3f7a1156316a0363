/**
 * Group commit: requests that arrive while a batch is being committed wait for the next batch, so
 * the database sees a few round-trips per batch instead of several per request. One batch runs at a
 * time per instance. A request with the key of one still waiting joins it (a client's retry).
 * Each request has a deadline: past it, it is answered with `timeoutError()` whatever happens later.
 * `commit` answers each request of the batch, in order: a result, an error, or "retry" (it goes back
 * to the front of the queue, in order, while its deadline allows).
 */
export type Outcome<R> = { ok: R } | { error: unknown } | { retry: true };

export interface GroupCommitOptions<Q, R> {
  commit: (batch: Q[]) => Promise<Array<Outcome<R>>>;
  key: (request: Q) => string;
  /** most requests in one batch */
  batchMax: number;
  timeoutMs: number;
  /** what a request gets when its deadline passes (logged by the caller if it wants) */
  timeoutError: (request: Q) => unknown;
  /** what every request of a batch gets when `commit` throws */
  failureError: (err: unknown) => unknown;
}

interface Pending<Q, R> {
  request: Q;
  key: string;
  deadline: number;
  settled: boolean;
  timer?: NodeJS.Timeout;
  waiters: Array<{ resolve: (r: R) => void; reject: (e: unknown) => void }>;
}

export class GroupCommit<Q, R> {
  private queue: Array<Pending<Q, R>> = [];
  private readonly waiting = new Map<string, Pending<Q, R>>();
  private running = false;

  constructor(private readonly opts: GroupCommitOptions<Q, R>) {}

  /** Requests waiting or being committed. */
  get size() {
    return this.queue.length;
  }

  submit(request: Q): Promise<R> {
    const key = this.opts.key(request);
    return new Promise((resolve, reject) => {
      const same = this.waiting.get(key);
      if (same) {
        same.waiters.push({ resolve, reject });
        return;
      }
      const pending: Pending<Q, R> = { request, key, deadline: Date.now() + this.opts.timeoutMs, settled: false, waiters: [{ resolve, reject }] };
      this.queue.push(pending);
      this.waiting.set(key, pending);
      pending.timer = setTimeout(() => {
        if (!pending.settled) this.settle(pending, { error: this.opts.timeoutError(request) });
      }, this.opts.timeoutMs);
      pending.timer.unref?.();
      if (!this.running) {
        this.running = true;
        setImmediate(() => void this.drain());
      }
    });
  }

  private async drain() {
    while (this.queue.length) {
      const batch = this.queue.splice(0, this.opts.batchMax);
      for (const p of batch) this.waiting.delete(p.key);
      const live = batch.filter(p => !p.settled);
      if (!live.length) continue;
      let outcomes: Array<Outcome<R>>;
      try {
        outcomes = await this.opts.commit(live.map(p => p.request));
      } catch (err) {
        const error = this.opts.failureError(err);
        for (const p of live) this.settle(p, { error });
        continue;
      }
      const now = Date.now();
      const again = live.filter((p, i) => {
        const outcome = outcomes[i];
        if (!('retry' in outcome)) this.settle(p, outcome);
        return 'retry' in outcome && !p.settled && p.deadline > now;
      });
      if (again.length) {
        // back to the front, in their order, so the order of arrival is kept
        for (const p of again) this.waiting.set(p.key, p);
        this.queue.unshift(...again);
      }
    }
    this.running = false;
  }

  private settle(p: Pending<Q, R>, outcome: { ok: R } | { error: unknown }) {
    if (p.settled) return;
    p.settled = true;
    clearTimeout(p.timer);
    for (const w of p.waiters) ('ok' in outcome ? w.resolve(outcome.ok) : w.reject(outcome.error));
  }
}
