/**
 * How long a shed client should wait before trying again (`meta.retryAfterMs`, PROTOCOL §2): about
 * twice the time events take to be answered now (a moving average of the answers' latencies), within
 * bounds, spread by ±25 % so that the clients shed together do not all come back at the same moment.
 */
export class RetryAfter {
  private average = 0;

  constructor(private readonly minMs = 250, private readonly maxMs = 10_000) {}

  /** An event was answered after `ms`. */
  observe(ms: number) {
    // weight 1/32: a few hundred events move it, one slow event does not
    this.average = this.average ? this.average + (ms - this.average) / 32 : ms;
  }

  /** The wait to tell a client now, ms. */
  get ms(): number {
    const base = Math.min(this.maxMs, Math.max(this.minMs, 2 * this.average));
    return Math.round(base * (0.75 + Math.random() / 2));
  }
}
