import type { Redis } from 'ioredis';

/** What is kept of a pending QR-code login: who asked (shown on the confirm page) and the PC's secret, hashed. */
export interface QrRequest {
  /** SHA-256 of the secret only the asking PC holds (hex) */
  secretHash: string;
  /** the asking client's address and user agent, and when it asked (ms) */
  ip: string;
  userAgent: string;
  requestedAt: number;
  /** when the id expires (ms) */
  expiresAt: number;
}

/**
 * Pending QR-code login ids: put with a lifetime, read, consumed exactly once, and the one /sso
 * socket that waits on each (claimed by the first secret-less socket, or replaced by one that holds
 * the secret). Every entry lives as long as its id.
 */
export interface QrLogins {
  put(deviceId: string, request: QrRequest): Promise<void>;
  get(deviceId: string): Promise<QrRequest | null>;
  /** the request, for the one caller that removed a live id; null for everyone else */
  consume(deviceId: string): Promise<QrRequest | null>;
  /** makes `socketId` the id's socket if it has none yet; false when another has claimed it */
  claimSocket(deviceId: string, socketId: string, ttlMs: number): Promise<boolean>;
  /** makes `socketId` the id's socket whatever held it; returns the one it replaced */
  replaceSocket(deviceId: string, socketId: string, ttlMs: number): Promise<string | null>;
  /** the id's socket, if any */
  socketOf(deviceId: string): Promise<string | null>;
  /** forgets the id's socket, returning it */
  takeSocket(deviceId: string): Promise<string | null>;
}

/**
 * Redis (every worker and machine sees the same ids): the request as JSON (SET PX, consumed with
 * GETDEL, Redis ≥ 6.2) and the waiting socket's id under a second key with the same lifetime. Each
 * command touches one key.
 */
export class RedisQrLogins implements QrLogins {
  /** `key(deviceId)`: the request's key */
  constructor(private readonly redis: Redis, private readonly key: (deviceId: string) => string) {}

  private socketKey(deviceId: string) {
    return `${this.key(deviceId)}:socket`;
  }

  async put(deviceId: string, request: QrRequest) {
    await this.redis.set(this.key(deviceId), JSON.stringify(request), 'PX', Math.max(1, request.expiresAt - Date.now()));
  }

  async get(deviceId: string) {
    return parse(await this.redis.get(this.key(deviceId)));
  }

  async consume(deviceId: string) {
    return parse(await this.redis.getdel(this.key(deviceId)));
  }

  async claimSocket(deviceId: string, socketId: string, ttlMs: number) {
    return (await this.redis.set(this.socketKey(deviceId), socketId, 'PX', Math.max(1, ttlMs), 'NX')) === 'OK';
  }

  async replaceSocket(deviceId: string, socketId: string, ttlMs: number) {
    // SET ... GET (Redis ≥ 6.2): ioredis has no typed overload for it
    return await this.redis.call('SET', this.socketKey(deviceId), socketId, 'PX', Math.max(1, ttlMs), 'GET') as string | null;
  }

  async socketOf(deviceId: string) {
    return this.redis.get(this.socketKey(deviceId));
  }

  async takeSocket(deviceId: string) {
    return this.redis.getdel(this.socketKey(deviceId));
  }
}

const parse = (raw: string | null) => (raw ? JSON.parse(raw) as QrRequest : null);

/** One process without Redis: the requests and the waiting sockets, swept of expired ids whenever one is added. */
export class MemoryQrLogins implements QrLogins {
  private readonly requests = new Map<string, QrRequest>();
  private readonly waiting = new Map<string, { socketId: string; expiresAt: number }>();

  async put(deviceId: string, request: QrRequest) {
    const now = Date.now();
    for (const map of [ this.requests, this.waiting ] as Array<Map<string, { expiresAt: number }>>) {
      for (const [ id, entry ] of map) if (entry.expiresAt <= now) map.delete(id);
    }
    this.requests.set(deviceId, request);
  }

  async get(deviceId: string) {
    return fresh(this.requests, deviceId);
  }

  async consume(deviceId: string) {
    const request = fresh(this.requests, deviceId);
    this.requests.delete(deviceId);
    return request;
  }

  async claimSocket(deviceId: string, socketId: string, ttlMs: number) {
    if (fresh(this.waiting, deviceId)) return false;
    this.waiting.set(deviceId, { socketId, expiresAt: Date.now() + ttlMs });
    return true;
  }

  async replaceSocket(deviceId: string, socketId: string, ttlMs: number) {
    const before = fresh(this.waiting, deviceId)?.socketId ?? null;
    this.waiting.set(deviceId, { socketId, expiresAt: Date.now() + ttlMs });
    return before;
  }

  async socketOf(deviceId: string) {
    return fresh(this.waiting, deviceId)?.socketId ?? null;
  }

  async takeSocket(deviceId: string) {
    const socketId = fresh(this.waiting, deviceId)?.socketId ?? null;
    this.waiting.delete(deviceId);
    return socketId;
  }
}

function fresh<T extends { expiresAt: number }>(map: Map<string, T>, deviceId: string): T | null {
  const entry = map.get(deviceId);
  if (entry && entry.expiresAt > Date.now()) return entry;
  map.delete(deviceId);
  return null;
}
