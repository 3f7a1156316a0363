import { randomBytes } from 'node:crypto';
import { Service } from 'egg';
import type { Application } from 'egg';
import { AppError, ErrorCode } from '../../lib/errors';
import { socketEnvelope } from '../../lib/envelope';
import { Actions } from '../../lib/actions';
import { socketRooms as rooms } from '../../lib/socket-rooms';

/** What we issue: 128 random bits as 32 hex digits; anything else cannot be one of ours. */
const DEVICE_ID = /^[0-9a-f]{32}$/;

/** Pending QR-code login ids: put with a lifetime, looked up, consumed exactly once. */
interface QrStore {
  put(deviceId: string, ttlSeconds: number): Promise<void>;
  exists(deviceId: string): Promise<boolean>;
  /** ms until the id expires; 0 when it is unknown or gone */
  ttlMs(deviceId: string): Promise<number>;
  /** true for the one caller that removed a live id */
  consume(deviceId: string): Promise<boolean>;
}

/** Redis (every worker and machine sees the same ids): SET EX, and GETDEL as the atomic consume (Redis ≥ 6.2). */
const redisStore = (app: Application): QrStore => {
  const key = (deviceId: string) => `${app.config.redisPrefix}:qr:${deviceId}`;
  return {
    async put(deviceId, ttl) { await app.redis!.set(key(deviceId), '1', 'EX', ttl); },
    async exists(deviceId) { return (await app.redis!.exists(key(deviceId))) === 1; },
    async ttlMs(deviceId) { return Math.max(0, await app.redis!.pttl(key(deviceId))); },
    async consume(deviceId) { return (await app.redis!.getdel(key(deviceId))) !== null; },
  };
};

/** One process without Redis: a map of expiry times, swept when an id is added so it stays bounded. */
const memory = new Map<string, number>();
const memoryStore: QrStore = {
  async put(deviceId, ttl) {
    const now = Date.now();
    for (const [ id, expiresAt ] of memory) if (expiresAt <= now) memory.delete(id);
    memory.set(deviceId, now + ttl * 1000);
  },
  async exists(deviceId) { return (memory.get(deviceId) ?? 0) > Date.now(); },
  async ttlMs(deviceId) { return Math.max(0, (memory.get(deviceId) ?? 0) - Date.now()); },
  async consume(deviceId) {
    const live = (memory.get(deviceId) ?? 0) > Date.now();
    memory.delete(deviceId);
    return live;
  },
};

/**
 * QR-code login (PROTOCOL §5). The PC gets a random id and waits on /sso in the room `qr:<id>`;
 * the logged-in phone scans and confirms it, and the PC receives a new session of the phone's user.
 * Rooms reach the PC's socket from any worker (Redis adapter), and the id store is shared the same way.
 */
export default class QrcodeService extends Service {
  private get store(): QrStore {
    return this.app.redis ? redisStore(this.app) : memoryStore;
  }

  async create() {
    const deviceId = randomBytes(16).toString('hex');
    const expiresIn = this.config.qrcode.ttl;
    await this.store.put(deviceId, expiresIn);
    return { deviceId, expiresIn };
  }

  /** Whether a PC may wait on this id (the /sso handshake). */
  async isPending(deviceId: unknown): Promise<boolean> {
    return typeof deviceId === 'string' && DEVICE_ID.test(deviceId) && this.store.exists(deviceId);
  }

  /** ms until a pending id expires (its /sso socket is closed then); 0 when it is not pending. */
  async remainingMs(deviceId: string): Promise<number> {
    return DEVICE_ID.test(deviceId) ? this.store.ttlMs(deviceId) : 0;
  }

  /** The phone read the code: the PC may show who is about to log in. */
  async scan(deviceId: string, userId: string) {
    if (!await this.isPending(deviceId)) throw expired();
    const user = await this.service.user.get(userId);
    this.notify(deviceId, { status: 'scanned', user: publicUser(user) });
  }

  /** The phone confirmed: the id is used up and the PC gets a new DESKTOP session of the phone's user. */
  async confirm(deviceId: string, userId: string) {
    if (!DEVICE_ID.test(deviceId) || !await this.store.consume(deviceId)) throw expired();
    const user = await this.service.user.get(userId);
    const { token, refreshToken } = await this.service.auth.startSession(userId);
    this.notify(deviceId, { status: 'confirmed', token, refreshToken, user: publicUser(user) });
  }

  private notify(deviceId: string, payload: unknown) {
    this.app.io.of('/sso').to(rooms.qr(deviceId)).emit('qrlogin', socketEnvelope(Actions.qrlogin, payload));
  }
}

const expired = () => new AppError(ErrorCode.CODE_EXPIRED, 'QR code is unknown or expired');

const publicUser = (user: { _id: unknown; nickname: string; avatar: string }) =>
  ({ _id: String(user._id), nickname: user.nickname, avatar: user.avatar });
