import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { Service } from 'egg';
import type { Application } from 'egg';
import { AppError, ErrorCode } from '../../lib/errors';
import { socketEnvelope, socketError } from '../../lib/envelope';
import { Actions } from '../../lib/actions';

/** What we issue: 128 random bits as 32 hex digits; anything else cannot be one of ours. */
const DEVICE_ID = /^[0-9a-f]{32}$/;

/** What the store keeps of a pending QR-code login: who asked (shown on the confirm page) and the PC's secret, hashed. */
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
interface QrStore {
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
 * Redis (every worker and machine sees the same ids): the request as JSON (SET EX, consumed with
 * GETDEL, Redis ≥ 6.2) and the waiting socket's id under a second key with the same lifetime. Each
 * command touches one key.
 */
const redisStore = (app: Application): QrStore => {
  const key = (deviceId: string) => `${app.config.redisPrefix}:qr:${deviceId}`;
  const socketKey = (deviceId: string) => `${key(deviceId)}:socket`;
  const redis = () => app.redis!;
  const parse = (raw: string | null) => (raw ? JSON.parse(raw) as QrRequest : null);
  return {
    async put(deviceId, request) { await redis().set(key(deviceId), JSON.stringify(request), 'PX', Math.max(1, request.expiresAt - Date.now())); },
    async get(deviceId) { return parse(await redis().get(key(deviceId))); },
    async consume(deviceId) { return parse(await redis().getdel(key(deviceId))); },
    async claimSocket(deviceId, socketId, ttlMs) { return (await redis().set(socketKey(deviceId), socketId, 'PX', Math.max(1, ttlMs), 'NX')) === 'OK'; },
    async replaceSocket(deviceId, socketId, ttlMs) {
      return await (redis() as unknown as { call(...args: unknown[]): Promise<string | null> }).call('SET', socketKey(deviceId), socketId, 'PX', Math.max(1, ttlMs), 'GET');
    },
    async socketOf(deviceId) { return redis().get(socketKey(deviceId)); },
    async takeSocket(deviceId) { return redis().getdel(socketKey(deviceId)); },
  };
};

/** One process without Redis: the requests and the waiting sockets, swept of expired ids whenever one is added. */
const requests = new Map<string, QrRequest>();
const waiting = new Map<string, { socketId: string; expiresAt: number }>();
const fresh = <T extends { expiresAt: number }>(map: Map<string, T>, deviceId: string) => {
  const entry = map.get(deviceId);
  if (entry && entry.expiresAt > Date.now()) return entry;
  map.delete(deviceId);
  return null;
};
const memoryStore: QrStore = {
  async put(deviceId, request) {
    const now = Date.now();
    for (const map of [ requests, waiting ] as Array<Map<string, { expiresAt: number }>>) {
      for (const [ id, entry ] of map) if (entry.expiresAt <= now) map.delete(id);
    }
    requests.set(deviceId, request);
  },
  async get(deviceId) { return fresh(requests, deviceId); },
  async consume(deviceId) {
    const request = fresh(requests, deviceId);
    requests.delete(deviceId);
    return request;
  },
  async claimSocket(deviceId, socketId, ttlMs) {
    if (fresh(waiting, deviceId)) return false;
    waiting.set(deviceId, { socketId, expiresAt: Date.now() + ttlMs });
    return true;
  },
  async replaceSocket(deviceId, socketId, ttlMs) {
    const before = fresh(waiting, deviceId)?.socketId ?? null;
    waiting.set(deviceId, { socketId, expiresAt: Date.now() + ttlMs });
    return before;
  },
  async socketOf(deviceId) { return fresh(waiting, deviceId)?.socketId ?? null; },
  async takeSocket(deviceId) {
    const socketId = fresh(waiting, deviceId)?.socketId ?? null;
    waiting.delete(deviceId);
    return socketId;
  },
};

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

function safeEqual(a: string, b: string) {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * QR-code login (PROTOCOL §5). The PC gets a random id and a secret only it holds, and waits on /sso;
 * the logged-in phone sees who asks (address, browser, time), then scans and confirms the id, and the
 * PC's one socket receives a new session of the phone's user and is closed. An id read off the screen
 * is not enough to receive it: only the first socket without the secret (the PC connects right after
 * asking, before the code is shown), or a socket with the secret, waits on an id.
 */
export default class QrcodeService extends Service {
  private get store(): QrStore {
    return this.app.redis ? redisStore(this.app) : memoryStore;
  }

  private get sso() {
    return this.app.io.of('/sso');
  }

  async create() {
    const deviceId = randomBytes(16).toString('hex');
    const secret = randomBytes(32).toString('base64url');
    const expiresIn = this.config.qrcode.ttl;
    const now = Date.now();
    await this.store.put(deviceId, {
      secretHash: sha256(secret),
      ip: this.ctx.ip,
      userAgent: String(this.ctx.get('user-agent') || '').slice(0, 256),
      requestedAt: now,
      expiresAt: now + expiresIn * 1000,
    });
    return { deviceId, expiresIn, secret };
  }

  /** A pending id's request, or null (an id we cannot have issued is simply unknown). */
  private async pending(deviceId: unknown): Promise<QrRequest | null> {
    return typeof deviceId === 'string' && DEVICE_ID.test(deviceId) ? this.store.get(deviceId) : null;
  }

  /**
   * The /sso handshake: may this socket wait on `deviceId`? With the secret it may at any time
   * before expiry, and replaces the socket that waited before (told 20004, then closed); without it
   * only the id's first socket may. Returns the ms until the id expires (the socket is closed then),
   * or null when refused (unknown, expired, wrong secret, or already claimed: 20006).
   */
  async attach(deviceId: unknown, secret: unknown, socketId: string): Promise<number | null> {
    const request = await this.pending(deviceId);
    if (!request) return null;
    const id = deviceId as string;
    const ttlMs = request.expiresAt - Date.now();
    if (ttlMs <= 0) return null;
    if (secret === undefined) return await this.store.claimSocket(id, socketId, ttlMs) ? ttlMs : null;
    if (typeof secret !== 'string' || !safeEqual(sha256(secret), request.secretHash)) return null;
    const before = await this.store.replaceSocket(id, socketId, ttlMs);
    if (before && before !== socketId) {
      this.sso.to(before).emit('im_error', socketError('IMERROR', ErrorCode.DUPLICATE_CLIENT, 'replaced by a newer connection for this QR code'));
      this.sso.in(before).disconnectSockets(true);
    }
    return ttlMs;
  }

  /** What the confirm page shows before the user acts: which computer asks, and when. */
  async describe(deviceId: string) {
    const request = await this.pending(deviceId);
    if (!request) throw expired();
    return {
      deviceId,
      ip: request.ip,
      userAgent: request.userAgent,
      requestedAt: request.requestedAt,
      expiresIn: Math.max(0, Math.ceil((request.expiresAt - Date.now()) / 1000)),
    };
  }

  /** The phone read the code: the PC may show who is about to log in. */
  async scan(deviceId: string, userId: string) {
    if (!await this.pending(deviceId)) throw expired();
    const user = await this.service.user.get(userId);
    const socketId = await this.store.socketOf(deviceId);
    if (socketId) this.sso.to(socketId).emit('qrlogin', socketEnvelope(Actions.qrlogin, { status: 'scanned', user: publicUser(user) }));
  }

  /**
   * The phone confirmed: the id is used up and the PC's socket gets a new DESKTOP session of the
   * phone's user, then is closed (it has nothing more to wait for).
   */
  async confirm(deviceId: string, userId: string) {
    if (!DEVICE_ID.test(deviceId) || !await this.store.consume(deviceId)) throw expired();
    const user = await this.service.user.get(userId);
    const { token, refreshToken } = await this.service.auth.startSession(userId);
    const socketId = await this.store.takeSocket(deviceId);
    if (!socketId) return;
    this.sso.to(socketId).emit('qrlogin', socketEnvelope(Actions.qrlogin, { status: 'confirmed', token, refreshToken, user: publicUser(user) }));
    this.sso.in(socketId).disconnectSockets(true);
  }
}

const expired = () => new AppError(ErrorCode.CODE_EXPIRED, 'QR code is unknown or expired');

const publicUser = (user: { _id: unknown; nickname: string; avatar: string }) =>
  ({ _id: String(user._id), nickname: user.nickname, avatar: user.avatar });
