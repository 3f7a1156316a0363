import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { Service } from 'egg';
import { AppError, ErrorCode } from '../../lib/errors';
import type { QrRequest } from '../../lib/stores';

/** What we issue: 128 random bits as 32 hex digits; anything else cannot be one of ours. */
const DEVICE_ID = /^[0-9a-f]{32}$/;

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
  private get store() {
    return this.app.qrLogins;
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
    if (before && before !== socketId) this.app.outbox.dropWith({ sso: before }, new AppError(ErrorCode.DUPLICATE_CLIENT, 'replaced by a newer connection for this QR code'));
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
    if (socketId) this.app.outbox.send({ sso: socketId }, 'qrlogin', { status: 'scanned', user: publicUser(user) });
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
    this.app.outbox.send({ sso: socketId }, 'qrlogin', { status: 'confirmed', token, refreshToken, user: publicUser(user) });
    this.app.outbox.disconnect({ sso: socketId });
  }
}

const expired = () => new AppError(ErrorCode.CODE_EXPIRED, 'QR code is unknown or expired');

const publicUser = (user: { _id: unknown; nickname: string; avatar: string }) =>
  ({ _id: String(user._id), nickname: user.nickname, avatar: user.avatar });
