import { createHash, createSecretKey, randomBytes, timingSafeEqual, type KeyObject } from 'node:crypto';
import * as jwt from 'jsonwebtoken';
import { Service, type Application } from 'egg';
import { CoalescingLoader, findByIds } from '../../lib/coalescing-loader';
import { hash, verify, Algorithm } from '@node-rs/argon2';
import { AppError, ErrorCode } from '../../lib/errors';
import { KeyedMutex } from '../../lib/keyed-mutex';
import { ROTATED_KEPT, SESSION_ID, type SessionDoc } from '../model/session';
import type { LoginInput, SignupInput } from '../../lib/schemas/auth';

export interface AccessClaims {
  userId: string;
  sessionId: string;
  /** expiry, seconds since the epoch */
  exp: number;
}

/** refresh-token rotation is a read-modify-write: one at a time per session in this process */
const rotationLock = new KeyedMutex();

type SessionState = Pick<SessionDoc, '_id' | 'user' | 'revokedAt' | 'expiresAt'>;

/**
 * Sessions read for access-token checks, per app: the checks of a connect storm that arrive while a
 * read is in flight share the next one (one `$in` instead of a read each, which queued for the
 * connection pool past its bound), no caching: a revoked session is seen at once.
 */
const sessionReads = new WeakMap<Application, CoalescingLoader<string, SessionState>>();

function sessionReader(app: Application) {
  let loader = sessionReads.get(app);
  if (!loader) {
    const Session = app.model.Session;
    sessionReads.set(app, loader = new CoalescingLoader<string, SessionState>(ids => findByIds(ids,
      id => Session.findById(id, { user: 1, revokedAt: 1, expiresAt: 1 }).lean<SessionState>(),
      many => Session.find({ _id: { $in: many } }, { user: 1, revokedAt: 1, expiresAt: 1 }).lean<SessionState[]>())));
  }
  return loader;
}

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

/**
 * The token secret as a key object, made once: given a string, jsonwebtoken first tries it as a PEM
 * public key and fails (an OpenSSL parse and a thrown error) on every call, 0.6 ms a verify against
 * 0.02 ms, a quarter of a connection's CPU in the bench's storm.
 */
const tokenKeys = new Map<string, KeyObject>();
function tokenKey(secret: string): KeyObject {
  let key = tokenKeys.get(secret);
  if (!key) tokenKeys.set(secret, key = createSecretKey(Buffer.from(secret)));
  return key;
}

/**
 * Tokens and sessions. A session starts at signup or login; its access tokens (JWT, short-lived)
 * carry its random id, and its refresh token (opaque `<sessionId>.<secret>`, stored hashed) rotates
 * on every use. Presenting a refresh token that this session issued before is reuse: the session is
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
    const [ passwordHash, answerHash ] = await Promise.all([
      this.hashSecret(input.password),
      input.answer ? this.hashAnswer(input.answer) : Promise.resolve(''),
    ]);
    const user = await this.service.user.create(input, { passwordHash, answerHash });
    return { user, ...await this.startSession(String(user._id)) };
  }

  async login(input: LoginInput) {
    const user = await this.service.user.findForLogin(input);
    const known = await this.checkSecret(user, user?.passwordHash, input.password, 'wrong credentials');
    return { user: known, ...await this.startSession(String(known._id)) };
  }

  /**
   * The account a password or security-answer check is about, as a rate-limit key (config/rate-limits.ts):
   * the signed-in caller's own (`me`), else the one the body names by username, e-mail or id, counted
   * by its id whatever identifier named it, or by the identifier when there is no such account (so
   * the answer does not tell which exist). Null for a body that names none (validation refuses it).
   */
  async accountKey(body: unknown, me?: string): Promise<string | null> {
    if (me) return `user:${me}`;
    const b = (body && typeof body === 'object' ? body : {}) as Record<string, unknown>;
    const named = ([ 'username', 'email', 'id' ] as const).find(k => typeof b[k] === 'string');
    if (!named) return null;
    const user = await this.service.user.findForLogin({ [named]: b[named] as string });
    return user ? `user:${user._id}` : `name:${(b[named] as string).trim().toLowerCase().slice(0, 254)}`;
  }

  /** A new session of the user; `userAgent` names the client when it is not the caller (the server API's sign-ins). */
  async startSession(userId: string, userAgent?: string) {
    const { Session } = this.ctx.model;
    const secret = randomBytes(32).toString('base64url');
    const session = await Session.create({
      _id: randomBytes(16).toString('hex'),
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
    return jwt.sign({ sub: userId, sid: sessionId }, tokenKey(this.config.jwt.secret), {
      algorithm: 'HS256',
      expiresIn: this.config.auth.accessTokenTtl,
    });
  }

  /** Checks signature, expiry and that the session is still live. Throws 20001 otherwise. */
  async verifyAccessToken(token: string): Promise<AccessClaims> {
    let payload: any;
    try {
      payload = jwt.verify(token, tokenKey(this.config.jwt.secret), { algorithms: [ 'HS256' ] });
    } catch {
      throw new AppError(ErrorCode.AUTH_FAILED, 'invalid or expired token');
    }
    if (!payload || typeof payload.sub !== 'string' || typeof payload.sid !== 'string' || !SESSION_ID.test(payload.sid)) {
      throw new AppError(ErrorCode.AUTH_FAILED, 'invalid token');
    }
    const session = await sessionReader(this.app).load(payload.sid);
    if (!session || session.revokedAt || String(session.user) !== payload.sub || session.expiresAt.getTime() <= Date.now()) {
      throw new AppError(ErrorCode.AUTH_FAILED, 'session ended');
    }
    return { userId: payload.sub, sessionId: payload.sid, exp: payload.exp };
  }

  async refresh(refreshToken: string) {
    const [ sessionId, secret ] = refreshToken.split('.');
    if (!secret || !SESSION_ID.test(sessionId)) throw new AppError(ErrorCode.AUTH_FAILED, 'invalid refresh token');
    return rotationLock.run(sessionId, () => this.rotate(sessionId, secret));
  }

  /**
   * Rotates the session's refresh token. The current token → new tokens. A token this session issued
   * before (or the current one, used twice at once: the second use loses the swap) → reuse: someone
   * else holds it, so the session is revoked. Anything else is just a wrong token (401 / 20001) and
   * changes nothing: a guess at a session id must not end someone's session.
   */
  private async rotate(sessionId: string, secret: string) {
    const { Session } = this.ctx.model;
    const session = await Session.findById(sessionId).lean<SessionDoc>();
    if (!session || session.revokedAt || session.expiresAt.getTime() <= Date.now()) {
      throw new AppError(ErrorCode.AUTH_FAILED, 'invalid refresh token');
    }
    const presented = sha256(secret);
    const earlier = session.rotatedHashes ?? [];
    if (safeEqual(presented, session.refreshHash)) {
      const nextSecret = randomBytes(32).toString('base64url');
      // compare-and-swap (atomic on MongoDB across processes): of two uses of one token only one rotates it
      const { modifiedCount } = await Session.updateOne(
        { _id: sessionId, refreshHash: presented, revokedAt: null },
        { $set: { refreshHash: sha256(nextSecret), rotatedHashes: [ ...earlier, presented ].slice(-ROTATED_KEPT) } },
      );
      if (modifiedCount === 1) {
        const userId = String(session.user);
        return {
          token: this.issueAccessToken(userId, sessionId),
          refreshToken: `${sessionId}.${nextSecret}`,
          expiresIn: this.config.auth.accessTokenTtl,
        };
      }
    } else if (!earlier.some(h => safeEqual(presented, h))) {
      throw new AppError(ErrorCode.AUTH_FAILED, 'invalid refresh token');
    }
    await this.revokeSessions({ _id: sessionId }, 'refresh token reuse');
    throw new AppError(ErrorCode.AUTH_FAILED, 'refresh token was already used; the session is revoked');
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
    const known = await this.checkSecret(user, user?.answerHash || undefined, normalizeAnswer(input.answer), 'wrong answer');
    known.passwordHash = await this.hashSecret(input.newPassword);
    await known.save();
    // a reset ends every session of the account: whoever knew the old password is out
    await this.revokeSessions({ user: known._id }, 'password reset');
  }

  /** Whether `password` is the user's (PATCH /api/users/me asks for it before sensitive changes): 401 / 20007 when not. */
  async checkPassword(userId: string, password: string) {
    const user = await this.ctx.model.User.findById(userId, { passwordHash: 1 });
    await this.checkSecret(user, user?.passwordHash, password, 'wrong current password');
  }

  /**
   * Verifies a secret (password or security answer): 401 / 20007 when wrong. A missing account
   * verifies against a dummy hash and fails the same way, so neither the answer nor its timing tells
   * that it is missing. Returns the account, which exists once the check has passed. The failure
   * limits are the route's (config/rate-limits.ts), consumed before this runs.
   */
  private async checkSecret<T>(account: T | null, stored: string | undefined, secret: string, wrongMessage: string): Promise<T> {
    if (!await this.verifySecret(stored, secret) || !account) throw new AppError(ErrorCode.CODE_VALID_FAILED, wrongMessage);
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
