/**
 * The rate limits of config/rate-limits.ts, applied: one limiter object per named limit (from
 * rate-limiter-flexible: Redis when configured, so every worker shares the count; memory otherwise,
 * and always for keys that live in one process, like a socket), consumed by the HTTP middleware
 * (app/middleware/rate_limit.ts) and the socket middleware (app/io/middleware). Nothing else
 * consumes a limit.
 */
import { RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import { tooManyRequests } from './errors';
import type { Limit, Stores } from './stores';

export type { Limit };

/** What one use of a limit counts per (config/rate-limits.ts). */
export type LimitKey = 'ip' | 'user' | 'socket' | 'account' | 'apiKey';

/** One limit applied to a route or an event (config/rate-limits.ts). */
export interface LimitUse<Name extends string = string> {
  /** a key of config.rateLimit */
  limit: Name;
  /** what the count is per: the client's address, the signed-in user, the socket, the account a password is checked for, or the server API key */
  by: LimitKey;
  /** `memory`: counted in this process even with Redis (for keys that live in one process: sockets) */
  store?: 'memory';
  /**
   * counts failures of a secret check: consumed before the request runs (so parallel requests cannot
   * slip past the check) and given back unless the request ended in a wrong password or answer (20007)
   */
  failuresOnly?: true;
  /**
   * Progressive delay instead of a refusal for the window: the first `points` uses in the window are
   * free; after that each use from one client address waits `delayMs × 2^(n-1)` (n = uses past
   * `points`, capped at the window) after the previous one from that address. Other addresses have
   * their own turn, so a guesser elsewhere does not lock the owner out.
   */
  progressive?: true;
  /** keeps counts of one limit apart by purpose (login and password-reset failures) */
  scope?: string;
  /** applies only when the request body (or the event's payload) has this field (PATCH /api/users/me with `currentPassword`, `to` with `mentions`) */
  whenBodyHas?: string;
}

/** A consumed point that can be given back (for `failuresOnly`: a request that did not fail its check). */
export interface Taken {
  refund(): Promise<void>;
}

const NOTHING: Taken = { refund: async () => undefined };

/**
 * Fixed windows counted in this process per socket, synchronously, the count going with the socket:
 * the `*` limit is consumed by every socket event, where the library's promise per use (and its
 * timer per key and window) showed in the allocation profile of the message path. Counts as the
 * library's memory limiter does (a fixed window of `duration` seconds, no blocking beyond it).
 */
class SocketWindows {
  private readonly windows = new WeakMap<object, { resetAt: number; used: number }>();

  constructor(private readonly limit: Limit) {}

  /** ms until the window resets when this use is over the limit, else 0 */
  take(socket: object, points: number): number {
    const now = Date.now();
    let w = this.windows.get(socket);
    if (!w || w.resetAt <= now) this.windows.set(socket, w = { resetAt: now + this.limit.duration * 1000, used: 0 });
    w.used += points;
    return w.used > this.limit.points ? w.resetAt - now : 0;
  }
}

/** Whether a use is counted per socket in this process, and so taken with `takeForSocket`. */
export const countedPerSocket = (use: LimitUse) => use.by === 'socket' && use.store === 'memory' && !use.progressive && !use.failuresOnly;

export class RateLimits {
  private readonly limiters = new Map<string, RateLimiterAbstract>();
  /** per limit (and scope), the windows of its current setting (a changed setting is a new object: counts afresh) */
  private readonly socketWindows = new Map<string, { limit: Limit; windows: SocketWindows }>();

  constructor(private readonly opts: {
    /** where the counts live (Redis when configured) */
    stores: Stores;
    /** config.rateLimit, read on each use so a changed setting applies (and counts afresh) */
    limits: () => Record<string, Limit>;
    /** the first delay of a progressive limit, ms (doubles with each further use) */
    delayMs: () => number;
  }) {}

  /**
   * Consumes `points` (one) of `use` for `key` (already scoped); over the limit → 429 / 20009 with the
   * time to wait (`tooManyRequests`). `address` is the client's, for progressive limits.
   */
  async take(use: LimitUse, key: string, address: string, points = 1): Promise<Taken> {
    const limit = this.opts.limits()[use.limit];
    if (!limit) throw new Error(`no config.rateLimit.${use.limit}`);
    const scoped = use.scope ? `${use.scope}:${key}` : key;
    if (use.progressive) return this.takeProgressive(use, limit, scoped, address);
    const limiter = this.limiter(use.limit, limit, use.store);
    try {
      await limiter.consume(scoped, points);
    } catch (res) {
      throw refusal(res);
    }
    return use.failuresOnly ? refunder(limiter, scoped) : NOTHING;
  }

  /**
   * Consumes `points` of a use counted per socket in this process (`by: 'socket'`, `store: 'memory'`)
   * at once; over the limit → 20009 with the time to wait (`tooManyRequests`), thrown.
   */
  takeForSocket(use: LimitUse, socket: object, points = 1): void {
    const limit = this.opts.limits()[use.limit];
    if (!limit) throw new Error(`no config.rateLimit.${use.limit}`);
    // uses of one limit share its count (`to` with mentions counts twice against the event rate)
    const key = use.scope ? `${use.scope}:${use.limit}` : use.limit;
    let counted = this.socketWindows.get(key);
    if (counted?.limit !== limit) this.socketWindows.set(key, counted = { limit, windows: new SocketWindows(limit) });
    const waitMs = counted.windows.take(socket, points);
    if (waitMs) throw tooManyRequests(waitMs);
  }

  private async takeProgressive(use: LimitUse, limit: Limit, key: string, address: string): Promise<Taken> {
    // the count never refuses by itself: it says how many uses the window has seen
    const count = this.limiter(use.limit, { points: Number.MAX_SAFE_INTEGER, duration: limit.duration }, use.store);
    let consumed: number;
    try {
      consumed = (await count.consume(key)).consumedPoints;
    } catch (res) {
      throw refusal(res);
    }
    const taken = use.failuresOnly ? refunder(count, key) : NOTHING;
    const past = consumed - limit.points;
    if (past <= 0) return taken;
    // one turn per address at a time: a turn blocks that address's next use for the delay
    const delaySeconds = Math.min(limit.duration, Math.ceil(this.opts.delayMs() * 2 ** Math.min(past - 1, 30) / 1000));
    const gate = this.limiter(`${use.limit}:turn`, { points: 1, duration: limit.duration }, use.store);
    try {
      await gate.consume(`${key}|${address}`, 1, { customDuration: delaySeconds });
    } catch (res) {
      throw refusal(res, 'too many attempts, try again later');
    }
    return taken;
  }

  /** One limiter per name, setting and store (a changed setting counts afresh). */
  private limiter(name: string, limit: Limit, store?: 'memory'): RateLimiterAbstract {
    const key = `${name}:${limit.points}:${limit.duration}:${store ?? 'shared'}`;
    let limiter = this.limiters.get(key);
    if (!limiter) this.limiters.set(key, limiter = this.opts.stores.rateLimiter(name, limit, store === 'memory' ? 'process' : 'shared'));
    return limiter;
  }
}

function refunder(limiter: RateLimiterAbstract, key: string): Taken {
  return { refund: async () => { await limiter.reward(key, 1); } };
}

/** A limiter's rejection as 429 / 20009; a store failure stays an error (500). */
function refusal(res: unknown, message?: string) {
  if (res instanceof RateLimiterRes) return tooManyRequests(res.msBeforeNext, message);
  return res;
}

/**
 * Consumes each of `uses` for the key `keyOf` gives (null: the use does not apply); the first one
 * over its limit throws 429 / 20009. What was taken (also before a refusal) is pushed to `taken`.
 */
export async function takeAll(limits: RateLimits, uses: readonly LimitUse[], keyOf: (use: LimitUse) => string | null | Promise<string | null>,
  address: string, taken: Taken[] = []): Promise<Taken[]> {
  for (const use of uses) {
    const found = keyOf(use);
    // most keys are known at once: awaiting those would cost a promise per event
    const key = found instanceof Promise ? await found : found;
    if (key !== null) taken.push(await limits.take(use, key, address));
  }
  return taken;
}
