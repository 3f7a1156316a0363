import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { Service } from 'egg';
import { hash, verify, Algorithm } from '@node-rs/argon2';
import { AppError, ErrorCode, tooManyRequests } from '../../lib/errors';
import { KeyedMutex } from '../../lib/keyed-mutex';
import type { SessionDoc } from '../model/session';
import type { LoginInput, SignupInput } from '../../lib/schemas/auth';

export interface AccessClaims {
  userId: string;
  sessionId: string;
  /** expiry, seconds since the epoch */
  exp: number;
}

/** refresh-token rotation is a read-modify-write: one at a time per session in this process */
const rotationLock = new KeyedMutex();

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

/**
 * Tokens and sessions. A session starts at signup or login; its access tokens (JWT, short-lived)
 * carry its id, and its refresh token (opaque `<sessionId>.<secret>`, stored hashed) rotates on
 * every use. Presenting a refresh token that was already rotated away is reuse: the session is
 * revoked, which ends every token of that family.
 */
export default class AuthService extends Service {
  private get argon2Options() {
    return { algorithm: Algorithm.Argon2id, ...this.config.auth.argon2 };
  }

  hashSecret(secret: string) {
    return hash(secret, this.argon2Options);
  }

  /** A hash of a random string, verified against when the user does not exist, so timing does not tell. */
  private static dummyHash: Promise<string> | null = null;

  private async verifySecret(stored: string | undefined, secret: string) {
    if (!stored) {
      AuthService.dummyHash ??= this.hashSecret(randomBytes(16).toString('hex'));
      await verify(await AuthService.dummyHash, secret).catch(() => false);
      return false;
    }
    return verify(stored, secret).catch(() => false);
  }

  async signup(input: SignupInput) {
    await this.app.rateLimit('signup', this.ctx.ip);
    const [ passwordHash, answerHash ] = await Promise.all([
      this.hashSecret(input.password),
      input.answer ? this.hashAnswer(input.answer) : Promise.resolve(''),
    ]);
    const user = await this.service.user.create(input, { passwordHash, answerHash });
    return { user, ...await this.startSession(String(user._id)) };
  }

  async login(input: LoginInput) {
    const user = await this.service.user.findForLogin(input);
    // counted per account whatever identifier named it, or per identifier when there is no such account
    const accountKey = user ? `user:${user._id}` : `name:${(input.username ?? input.email ?? input.id ?? '').toLowerCase()}`;
    const known = await this.checkSecretLimited(user, accountKey, user?.passwordHash, input.password, 'wrong credentials');
    return { user: known, ...await this.startSession(String(known._id)) };
  }

  /** A new session of the user; `userAgent` names the client when it is not the caller (the server API's sign-ins). */
  async startSession(userId: string, userAgent?: string) {
    const { Session } = this.ctx.model;
    const secret = randomBytes(32).toString('base64url');
    const session = await Session.create({
      user: userId,
      refreshHash: sha256(secret),
      expiresAt: new Date(Date.now() + this.config.auth.refreshTokenTtl * 1000),
      userAgent: String(userAgent ?? (this.ctx.get('user-agent') || '')).slice(0, 256),
      ip: this.ctx.ip,
    });
    const sessionId = String(session._id);
    return {
      token: this.issueAccessToken(userId, sessionId),
      refreshToken: `${sessionId}.${secret}`,
      expiresIn: this.config.auth.accessTokenTtl,
    };
  }

  issueAccessToken(userId: string, sessionId: string) {
    return this.app.jwt.sign({ sub: userId, sid: sessionId }, this.config.jwt.secret, {
      algorithm: 'HS256',
      expiresIn: this.config.auth.accessTokenTtl,
    });
  }

  /** Checks signature, expiry and that the session is still live. Throws 20001 otherwise. */
  async verifyAccessToken(token: string): Promise<AccessClaims> {
    let payload: any;
    try {
      payload = this.app.jwt.verify(token, this.config.jwt.secret, { algorithms: [ 'HS256' ] });
    } catch {
      throw new AppError(ErrorCode.AUTH_FAILED, 'invalid or expired token');
    }
    if (!payload || typeof payload.sub !== 'string' || typeof payload.sid !== 'string' || !/^[0-9a-f]{24}$/.test(payload.sid)) {
      throw new AppError(ErrorCode.AUTH_FAILED, 'invalid token');
    }
    const session = await this.ctx.model.Session.findById(payload.sid, { user: 1, revokedAt: 1, expiresAt: 1 }).lean<SessionDoc>();
    if (!session || session.revokedAt || String(session.user) !== payload.sub || session.expiresAt.getTime() <= Date.now()) {
      throw new AppError(ErrorCode.AUTH_FAILED, 'session ended');
    }
    return { userId: payload.sub, sessionId: payload.sid, exp: payload.exp };
  }

  async refresh(refreshToken: string) {
    const [ sessionId, secret ] = refreshToken.split('.');
    if (!secret || !/^[0-9a-f]{24}$/.test(sessionId)) throw new AppError(ErrorCode.AUTH_FAILED, 'invalid refresh token');
    return rotationLock.run(sessionId, () => this.rotate(sessionId, secret));
  }

  private async rotate(sessionId: string, secret: string) {
    const { Session } = this.ctx.model;
    const session = await Session.findById(sessionId).lean<SessionDoc>();
    if (!session || session.revokedAt || session.expiresAt.getTime() <= Date.now()) {
      throw new AppError(ErrorCode.AUTH_FAILED, 'invalid refresh token');
    }
    const presented = sha256(secret);
    const nextSecret = randomBytes(32).toString('base64url');
    // compare-and-swap (atomic on MongoDB across processes): of two uses of one token only one
    // rotates it; the other is reuse
    const rotated = safeEqual(presented, session.refreshHash) && (await Session.updateOne(
      { _id: sessionId, refreshHash: presented, revokedAt: null },
      { $set: { refreshHash: sha256(nextSecret) } },
    )).modifiedCount === 1;
    if (!rotated) {
      await this.revokeSessions({ _id: sessionId }, 'refresh token reuse');
      throw new AppError(ErrorCode.AUTH_FAILED, 'refresh token was already used; the session is revoked');
    }
    const userId = String(session.user);
    return {
      token: this.issueAccessToken(userId, sessionId),
      refreshToken: `${sessionId}.${nextSecret}`,
      expiresIn: this.config.auth.accessTokenTtl,
    };
  }

  logout(sessionId: string) {
    return this.revokeSessions({ _id: sessionId }, 'logout');
  }

  /**
   * Ends the live sessions matching `filter` (one update for all of them): their tokens stop working
   * and their sockets are told (20001) and disconnected.
   */
  private async revokeSessions(filter: { _id: string } | { user: unknown }, reason: string) {
    const { Session } = this.ctx.model;
    const live = { ...filter, revokedAt: null };
    const ids = (await Session.find(live, { _id: 1 }).lean<Array<{ _id: unknown }>>()).map(s => String(s._id));
    if (!ids.length) return;
    await Session.updateMany(live, { $set: { revokedAt: new Date(), revokedReason: reason } });
    this.app.outbox.dropWith({ session: ids }, new AppError(ErrorCode.AUTH_FAILED, `session ended: ${reason}`));
  }

  async passwordQuestion(username: string) {
    const user = await this.service.user.findByUsername(username);
    if (!user) throw new AppError(ErrorCode.USER_NOT_EXIST, 'user does not exist');
    if (!user.question) throw new AppError(ErrorCode.FORBIDDEN, 'no security question is set', 409);
    return user.question;
  }

  async resetPassword(input: { username: string; answer: string; newPassword: string }) {
    const user = await this.service.user.findByUsername(input.username);
    // counted apart from login failures, so guessing answers does not lock the owner's login
    const accountKey = `reset:${user ? user._id : input.username.toLowerCase()}`;
    const known = await this.checkSecretLimited(user, accountKey, user?.answerHash || undefined, normalizeAnswer(input.answer), 'wrong answer');
    known.passwordHash = await this.hashSecret(input.newPassword);
    await known.save();
    // a reset ends every session of the account: whoever knew the old password is out
    await this.revokeSessions({ user: known._id }, 'password reset');
  }

  /**
   * Verifies a secret (password or security answer) under the failure limits: refused with 429 while
   * the client IP or the account is over its limit, 401 / 20007 when wrong (the failure is counted
   * for both), and on success the account's count is cleared. A missing account verifies against a
   * dummy hash and fails the same way, so neither the answer nor its timing tells that it is missing.
   * Returns the account, which exists once the check has passed.
   */
  private async checkSecretLimited<T>(account: T | null, accountKey: string, stored: string | undefined, secret: string, wrongMessage: string): Promise<T> {
    const ip = this.ctx.ip;
    const byIp = this.app.limiter('ipFailures');
    const byAccount = this.app.limiter('accountFailures');
    for (const [ limiter, key ] of [ [ byIp, ip ], [ byAccount, accountKey ] ] as const) {
      const res = await limiter.get(key);
      if (res && res.consumedPoints >= limiter.points) throw tooManyRequests(res.msBeforeNext, 'too many attempts, try again later');
    }
    if (!await this.verifySecret(stored, secret) || !account) {
      await Promise.all([ byIp.penalty(ip), byAccount.penalty(accountKey) ]);
      throw new AppError(ErrorCode.CODE_VALID_FAILED, wrongMessage);
    }
    await byAccount.delete(accountKey);
    return account;
  }

  /** Hash of a security answer, normalized the way resets compare it. */
  hashAnswer(answer: string) {
    return this.hashSecret(normalizeAnswer(answer));
  }
}

const normalizeAnswer = (answer: string) => answer.trim().toLowerCase();

function safeEqual(a: string, b: string) {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
