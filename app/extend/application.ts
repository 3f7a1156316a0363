import type { Application } from 'egg';
import { MemoryPresenceRegistry, RedisPresenceRegistry, type PresenceRegistry } from '../../lib/presence-registry';
import { RateLimiterMemory, RateLimiterRedis, type RateLimiterAbstract } from 'rate-limiter-flexible';

const LIMITERS = Symbol('limiters');
const REGISTRY = Symbol('presenceRegistry');

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

  /** Sockets per user (lib/presence-registry.ts): in Redis when configured, so every worker agrees. */
  get presenceRegistry(): PresenceRegistry {
    const self = this as unknown as Application & { [REGISTRY]?: PresenceRegistry };
    const { redisPrefix: prefix, staleMs } = self.config.presence;
    return self[REGISTRY] ??= self.redis ? new RedisPresenceRegistry(self.redis, { prefix, staleMs }) : new MemoryPresenceRegistry();
  },
};
