/**
 * REST with the server's envelope (PROTOCOL §2, §7): replies unwrapped to their `data`, refusals
 * thrown as `ApiError` with the contract's code, 429 / 20009 retried after `Retry-After`, and an
 * expired access token refreshed once (refresh tokens rotate and a reused one revokes the session, so
 * one refresh runs at a time: per client, and across browser tabs with Web Locks). With
 * `refreshAhead` the access token is rotated before it expires, so no request meets an expired one.
 */
import type { AuthResult, HttpEnvelope, Session as TokenPair } from '../../lib/schemas/wire';
import type { LoginInput, SignupInput } from '../../lib/schemas/auth';
import { ApiError, sleep } from './errors';
import { type KeyValueStore, MemoryStore } from './storage';

/**
 * The signed-in user's tokens, kept in the store so a restarted app stays signed in. `exp`: when the
 * access token expires (ms since the epoch; read from the token by `setSession`). An app may keep more
 * of its own in it (a refresh keeps every other field).
 */
export interface Session { userId: string; token: string; refreshToken: string; exp?: number }

export interface RestOptions {
  /** the server, e.g. `https://chat.example.com` (no trailing slash) */
  baseUrl: string;
  /** where the session (and the chat's change cursor) is kept; `localStorage` in browsers; default in memory */
  store?: KeyValueStore;
  /** defaults to the global fetch */
  fetch?: typeof fetch;
  /** how often a request refused with 20009 is tried again (default 3) */
  rateLimitRetries?: number;
  /** per request, ms (default 15000) */
  timeoutMs?: number;
  /** rotate the tokens a minute before the access token expires (at 80 % of a short lifetime); default false */
  refreshAhead?: boolean;
}

const SESSION_KEY = 'im.session';
/** a request whose token expires sooner than this refreshes it first */
const EXPIRING_MS = 30_000;

/** ms since the epoch when a JWT expires (its `exp` claim); unreadable → in a minute, so it is refreshed soon. */
export function expiryOf(token: string): number {
  try {
    const part = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    const exp = (JSON.parse(atob(part)) as { exp?: unknown }).exp;
    if (typeof exp === 'number') return exp * 1000;
  } catch { /* not a JWT */ }
  return Date.now() + 60_000;
}

export class RestClient {
  readonly baseUrl: string;
  readonly store: KeyValueStore;
  private readonly fetchFn: typeof fetch;
  private readonly retries: number;
  private readonly timeoutMs: number;
  private refreshing: Promise<void> | null = null;
  private listeners = new Set<(session: Session | null) => void>();
  private readonly refreshAhead: boolean;
  private aheadTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(opts: RestOptions) {
    this.baseUrl = opts.baseUrl.replace(/\/+$/, '');
    this.store = opts.store ?? new MemoryStore();
    // called unbound: a browser's fetch refuses a `this` other than the window
    this.fetchFn = opts.fetch ?? ((input, init) => fetch(input, init));
    this.retries = opts.rateLimitRetries ?? 3;
    this.timeoutMs = opts.timeoutMs ?? 15000;
    this.refreshAhead = opts.refreshAhead ?? false;
    this.scheduleRefresh();
  }

  /** the current session, if signed in */
  get session(): Session | null {
    const raw = this.store.getItem(SESSION_KEY);
    return raw ? JSON.parse(raw) as Session : null;
  }

  /** Use tokens obtained elsewhere (e.g. the server API's sessions, handed over by the app's backend). */
  setSession(session: Session | null) {
    if (session) {
      session = { ...session, exp: expiryOf(session.token) };
      this.store.setItem(SESSION_KEY, JSON.stringify(session));
    } else {
      this.store.removeItem(SESSION_KEY);
    }
    this.sessionChanged();
  }

  /**
   * Tells the listeners (and the refresh-ahead timer) that the session changed. `setSession` calls
   * it; an app calls it when the store changed elsewhere (another browser tab: the `storage` event).
   */
  sessionChanged() {
    this.scheduleRefresh();
    const session = this.session;
    for (const l of this.listeners) l(session);
  }

  /** With `refreshAhead`: a refresh a minute before expiry (at 80 % of a short lifetime), unless the tokens change first. */
  private scheduleRefresh() {
    clearTimeout(this.aheadTimer);
    const session = this.refreshAhead ? this.session : null;
    if (!session) return;
    const left = (session.exp ?? expiryOf(session.token)) - Date.now();
    const wait = Math.max(1000, Math.min(left - 60_000, left * 0.8));
    this.aheadTimer = setTimeout(() => {
      // another tab rotated them meanwhile: its tokens have their own schedule
      if (this.session?.token === session.token) this.refresh().catch(() => undefined);
      else this.scheduleRefresh();
    }, Math.min(wait, 2 ** 31 - 1));
  }

  /** Stops the refresh-ahead timer (an app that drops this client). */
  dispose() {
    clearTimeout(this.aheadTimer);
    this.listeners.clear();
  }

  /** Called whenever the session changes (login, refresh, logout, refused refresh). */
  onSession(listener: (session: Session | null) => void) {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async signup(input: SignupInput): Promise<AuthResult> {
    const result = await this.request<AuthResult>('POST', '/api/signup', input, { auth: false });
    this.setSession({ userId: result.user._id, token: result.token, refreshToken: result.refreshToken });
    return result;
  }

  async login(input: LoginInput): Promise<AuthResult> {
    const result = await this.request<AuthResult>('POST', '/api/login', input, { auth: false });
    this.setSession({ userId: result.user._id, token: result.token, refreshToken: result.refreshToken });
    return result;
  }

  /**
   * New tokens for the refresh token. Concurrent callers share one refresh (a refresh token is
   * single-use: two refreshes with it would revoke the session). A refused refresh ends the session.
   */
  refresh(): Promise<void> {
    const seen = this.session?.token;
    const run = async () => {
      // read under the lock: another tab sharing the store may have rotated the tokens just now,
      // and then those are used (rotating them again would only cost a round trip)
      const session = this.session;
      if (!session) throw new ApiError(20001, 'not signed in');
      if (session.token !== seen && (session.exp ?? 0) - Date.now() > 60_000) {
        this.sessionChanged();
        return;
      }
      try {
        const pair = await this.request<TokenPair>('POST', '/api/token/refresh', { refreshToken: session.refreshToken }, { auth: false });
        this.setSession({ ...session, token: pair.token, refreshToken: pair.refreshToken });
      } catch (err) {
        if (err instanceof ApiError && err.code === 20001) this.setSession(null);
        throw err;
      }
    };
    // browsers: one refresh at a time across the tabs sharing localStorage (Web Locks)
    const locks = (globalThis as { navigator?: { locks?: { request(name: string, fn: () => Promise<void>): Promise<void> } } }).navigator?.locks;
    this.refreshing ??= (locks ? locks.request('im.refresh', run) : run()).finally(() => { this.refreshing = null; });
    return this.refreshing;
  }

  async logout() {
    try {
      if (this.session) await this.request('POST', '/api/logout');
    } finally {
      this.setSession(null);
    }
  }

  /**
   * A JSON request; resolves with the envelope's `data`. `auth` (default true) sends the access token
   * and refreshes it once when the server says it expired.
   */
  async request<T = unknown>(method: string, path: string, body?: unknown, opts: { auth?: boolean } = {}): Promise<T> {
    const auth = opts.auth ?? true;
    let refreshed = false;
    const expiring = auth && this.session?.exp !== undefined && this.session.exp - Date.now() < EXPIRING_MS;
    if (expiring) await this.refresh().catch(() => undefined);
    for (let attempt = 0; ; attempt++) {
      const token = auth ? this.session?.token : undefined;
      if (auth && !token) throw new ApiError(20001, 'not signed in');
      const res = await this.fetchFn(`${this.baseUrl}${path}`, {
        method,
        headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...(token ? { authorization: `Bearer ${token}` } : {}) },
        body: body !== undefined ? JSON.stringify(body) : undefined,
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      let envelope: HttpEnvelope<T>;
      try {
        envelope = await res.json() as HttpEnvelope<T>;
      } catch {
        throw new ApiError(50000, `${method} ${path}: ${res.status} without a JSON envelope`, res.status);
      }
      if (envelope.code === 0) return envelope.data;
      const retryAfterMs = Number(res.headers.get('retry-after')) * 1000 || undefined;
      if (envelope.code === 20009 && attempt < this.retries) {
        await sleep(retryAfterMs ?? 1000);
        continue;
      }
      if (envelope.code === 20001 && auth && !refreshed && this.session?.refreshToken) {
        refreshed = true;
        // tokens rotated meanwhile (another request, another tab) are used as they are
        if (this.session.token === token) await this.refresh();
        continue;
      }
      throw new ApiError(envelope.code, envelope.msg, res.status, retryAfterMs);
    }
  }
}
