import type { Redis } from 'ioredis';
import { RateLimiterMemory, RateLimiterRedis, type RateLimiterAbstract } from 'rate-limiter-flexible';
import { MemorySeqRegistry, RedisSeqRegistry, type SeqRegistry } from './seq-registry';
import { MemoryRecentMessages, RedisRecentMessages, type RecentMessages } from './recent-messages';
import { MemoryPresenceRegistry, RedisPresenceRegistry, type PresenceRegistry } from './presence-registry';
import { MemoryQrLogins, RedisQrLogins, type QrLogins } from './qr-logins';
import { MemoryChangeRegistry, RedisChangeRegistry, type ChangeRegistry } from './change-registry';
import { MemoryCollapseGate, RedisCollapseGate, type CollapseGate } from './collapse-gate';

export type { SeqRegistry, RecentMessages, PresenceRegistry, QrLogins, ChangeRegistry, CollapseGate };
export type { QrRequest } from './qr-logins';

/** A rate limit: `points` per `duration` seconds. */
export interface Limit {
  points: number;
  duration: number;
}

/**
 * The one place that decides where shared state lives: in Redis when the deployment has one (every
 * worker and machine sees the same), else in this process's memory (one worker is then the whole
 * deployment, which app.ts enforces). Every Redis key starts with the deployment's prefix
 * (`REDIS_PREFIX`), built here by `key()` and nowhere else. Each store is made once per process by
 * its owner (app/extend/application.ts).
 */
export class Stores {
  constructor(readonly redis: Redis | null, readonly prefix: string) {}

  /** Whether stores are shared by every worker and machine (Redis), not this process's alone. */
  get shared(): boolean {
    return this.redis !== null;
  }

  /** A Redis key of this deployment: `<prefix>:<part>:<part>...`. */
  key(...parts: Array<string | number>): string {
    return [ this.prefix, ...parts ].join(':');
  }

  /** Each conversation's last stored seq. */
  seqRegistry(): SeqRegistry {
    return this.redis ? new RedisSeqRegistry(this.redis, this.key('lastseq')) : new MemorySeqRegistry();
  }

  /** The newest messages of active conversations. */
  recentMessages(opts: { maxBytes: number }): RecentMessages {
    // {…} is the key's hash tag: one conversation's list stays in one slot of a Redis Cluster
    return this.redis ? new RedisRecentMessages(this.redis, id => this.key('recent', `{${id}}`)) : new MemoryRecentMessages({ maxBytes: opts.maxBytes });
  }

  /** The change feed's ids, what is in flight and each conversation's last change (§8). */
  changeRegistry(opts: { inflightMs: number }): ChangeRegistry {
    // {feed}: the feed's keys share one hash slot, so its scripts run on a Redis Cluster too
    return this.redis ? new RedisChangeRegistry(this.redis, part => this.key('changes', '{feed}', part), opts) : new MemoryChangeRegistry(opts);
  }

  /** Each user's live sockets. */
  presenceRegistry(opts: { staleMs: number }): PresenceRegistry {
    return this.redis ? new RedisPresenceRegistry(this.redis, { key: id => this.key('presence', id), staleMs: opts.staleMs }) : new MemoryPresenceRegistry();
  }

  /** Pending QR-code logins and the socket waiting on each. */
  qrLogins(): QrLogins {
    return this.redis ? new RedisQrLogins(this.redis, id => this.key('qr', id)) : new MemoryQrLogins();
  }

  /** "Once per window" per key (Web Push collapsing). */
  collapseGate(name: string): CollapseGate {
    return this.redis ? new RedisCollapseGate(this.redis, key => this.key('gate', name, key)) : new MemoryCollapseGate();
  }

  /**
   * A rate limiter. `process` keeps the count in this process whatever the deployment: for keys that
   * live in one process anyway, like a socket id, where a Redis round trip would buy nothing.
   */
  rateLimiter(name: string, limit: Limit, scope: 'shared' | 'process' = 'shared'): RateLimiterAbstract {
    // the limit is part of the key: a changed setting counts afresh
    const keyPrefix = this.key('rl', name, limit.points, limit.duration, scope === 'shared' ? 'shared' : 'memory');
    const opts = { keyPrefix, points: limit.points, duration: limit.duration };
    return this.redis && scope === 'shared' ? new RateLimiterRedis({ storeClient: this.redis, ...opts }) : new RateLimiterMemory(opts);
  }
}
