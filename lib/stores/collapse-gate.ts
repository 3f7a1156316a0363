import type { Redis } from 'ioredis';
import { LRUCache } from 'lru-cache';

/**
 * "Once per window" per key, shared by every worker: the first `pass` of a key within `ms` gets
 * true, the others false until the window has passed (Web Push's one push per conversation per
 * `push.collapseS`). Redis `SET NX PX` when shared, else this process's memory.
 */
export interface CollapseGate {
  /** for each key, whether this call opened its window */
  pass(keys: string[], ms: number): Promise<boolean[]>;
}

/** keys remembered by one process (each for its window only) */
const MEMORY_MAX = 100_000;

export class MemoryCollapseGate implements CollapseGate {
  private readonly open = new LRUCache<string, true>({ max: MEMORY_MAX, ttlAutopurge: false });

  async pass(keys: string[], ms: number) {
    return keys.map(key => {
      if (this.open.has(key)) return false;
      this.open.set(key, true, { ttl: ms });
      return true;
    });
  }
}

export class RedisCollapseGate implements CollapseGate {
  constructor(private readonly redis: Redis, private readonly keyOf: (key: string) => string) {}

  async pass(keys: string[], ms: number) {
    if (!keys.length) return [];
    const pipeline = this.redis.pipeline();
    for (const key of keys) pipeline.set(this.keyOf(key), '1', 'PX', ms, 'NX');
    const replies = await pipeline.exec();
    return (replies ?? []).map(([ err, reply ]) => !err && reply === 'OK');
  }
}
