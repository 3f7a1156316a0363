/**
 * A small key/value store with expiry, shared by every worker and machine when Redis is
 * configured and kept in this process otherwise (the app then runs one worker). Values are strings.
 */
import type { Redis } from 'ioredis';

export interface KvStore {
  get(key: string): Promise<string | null>;
  set(key: string, value: string, ttlSeconds: number): Promise<void>;
  /** reads and deletes in one step: a value can be taken once (single-use codes) */
  take(key: string): Promise<string | null>;
  del(key: string): Promise<void>;
  close(): Promise<void>;
}

export class RedisKv implements KvStore {
  constructor(private readonly redis: Redis, private readonly prefix = 'im:') {}
  get(key: string) { return this.redis.get(this.prefix + key); }
  async set(key: string, value: string, ttlSeconds: number) {
    await this.redis.set(this.prefix + key, value, 'EX', Math.max(1, Math.ceil(ttlSeconds)));
  }
  take(key: string) { return this.redis.getdel(this.prefix + key); }
  async del(key: string) { await this.redis.del(this.prefix + key); }
  async close() { /* the client is owned by the app */ }
}

export class MemoryKv implements KvStore {
  private readonly map = new Map<string, { value: string; expiresAt: number }>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(sweepMs = 60_000) {
    // expired keys are dropped on read; the sweep bounds memory for keys nobody reads again
    this.sweeper = setInterval(() => this.sweep(), sweepMs);
    this.sweeper.unref();
  }

  async get(key: string) {
    const e = this.map.get(key);
    if (!e) return null;
    if (e.expiresAt <= Date.now()) {
      this.map.delete(key);
      return null;
    }
    return e.value;
  }

  async set(key: string, value: string, ttlSeconds: number) {
    this.map.set(key, { value, expiresAt: Date.now() + ttlSeconds * 1000 });
  }

  async take(key: string) {
    const v = await this.get(key);
    this.map.delete(key);
    return v;
  }

  async del(key: string) { this.map.delete(key); }

  async close() { clearInterval(this.sweeper); }

  private sweep() {
    const now = Date.now();
    for (const [ k, e ] of this.map) if (e.expiresAt <= now) this.map.delete(k);
  }
}
