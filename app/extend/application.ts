import type { Application } from 'egg';
import { RateLimiterMemory, RateLimiterRedis, type RateLimiterAbstract } from 'rate-limiter-flexible';

const LIMITERS = Symbol('limiters');

export default {
  /**
   * A named rate limiter from config.rateLimit, shared across workers through Redis when configured.
   * Made once per process and per setting (a changed setting counts afresh).
   */
  limiter(this: Application, name: string): RateLimiterAbstract {
    const self = this as Application & { [LIMITERS]?: Map<string, RateLimiterAbstract> };
    const cache = self[LIMITERS] ??= new Map();
    const opts = (this.config.rateLimit as Record<string, { points: number; duration: number }>)[name];
    if (!opts) throw new Error(`no config.rateLimit.${name}`);
    const keyPrefix = `im:rl:${name}:${opts.points}:${opts.duration}`;
    let limiter = cache.get(keyPrefix);
    if (!limiter) {
      limiter = this.redis
        ? new RateLimiterRedis({ storeClient: this.redis, keyPrefix, points: opts.points, duration: opts.duration })
        : new RateLimiterMemory({ keyPrefix, points: opts.points, duration: opts.duration });
      cache.set(keyPrefix, limiter);
    }
    return limiter;
  },
};
