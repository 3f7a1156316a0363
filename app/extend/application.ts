import type { Application } from 'egg';
import { MessageCommitter } from '../../lib/message-committer';
import { tooManyRequests } from '../../lib/errors';
import { MemoryPresenceRegistry, RedisPresenceRegistry, type PresenceRegistry } from '../../lib/presence-registry';
import { RateLimiterMemory, RateLimiterRedis, type RateLimiterAbstract } from 'rate-limiter-flexible';

const LIMITERS = Symbol('limiters');
const COMMITTER = Symbol('messageCommitter');
const REGISTRY = Symbol('presenceRegistry');

export default {
  /**
   * A named rate limiter from config.rateLimit, shared across workers through Redis when configured.
   * Made once per process and per setting (a changed setting counts afresh). `memory` keeps the
   * count in this process: for keys that live in one process anyway, like a socket id.
   */
  limiter(this: Application, name: string, store: 'shared' | 'memory' = 'shared'): RateLimiterAbstract {
    const self = this as Application & { [LIMITERS]?: Map<string, RateLimiterAbstract> };
    const cache = self[LIMITERS] ??= new Map();
    const opts = (this.config.rateLimit as Record<string, { points: number; duration: number }>)[name];
    if (!opts) throw new Error(`no config.rateLimit.${name}`);
    const keyPrefix = `${this.config.redisPrefix}:rl:${name}:${opts.points}:${opts.duration}:${store}`;
    let limiter = cache.get(keyPrefix);
    if (!limiter) {
      limiter = this.redis && store === 'shared'
        ? new RateLimiterRedis({ storeClient: this.redis, keyPrefix, points: opts.points, duration: opts.duration })
        : new RateLimiterMemory({ keyPrefix, points: opts.points, duration: opts.duration });
      cache.set(keyPrefix, limiter);
    }
    return limiter;
  },

  /** Consumes one point of a named limiter for `key`; over the limit → 429 / 20009 with `retryAfter`. */
  async rateLimit(this: Application, name: string, key: string, store: 'shared' | 'memory' = 'shared') {
    try {
      await this.limiter(name, store).consume(key);
    } catch (res: any) {
      if (res instanceof Error) throw res;
      throw tooManyRequests(res.msBeforeNext);
    }
  },

  /** The process's group-commit queue for `to` (lib/message-committer.ts). */
  get messageCommitter(): MessageCommitter {
    const self = this as unknown as Application & { [COMMITTER]?: MessageCommitter };
    return self[COMMITTER] ??= new MessageCommitter(
      () => self.model as any,
      self.config.message.commitBatchMax,
      err => self.logger.error('[message] group commit failed: %s', (err as Error)?.stack || err),
    );
  },

  /** Sockets per user (lib/presence-registry.ts): in Redis when configured, so every worker agrees. */
  get presenceRegistry(): PresenceRegistry {
    const self = this as unknown as Application & { [REGISTRY]?: PresenceRegistry };
    const prefix = `${self.config.redisPrefix}:presence`;
    return self[REGISTRY] ??= self.redis ? new RedisPresenceRegistry(self.redis, { prefix, staleMs: self.config.presence.staleMs }) : new MemoryPresenceRegistry();
  },
};
