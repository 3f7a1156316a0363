/**
 * REST with the contract's envelope, and the session's tokens (where they live: docs/DECISIONS.md,
 * "Web client"). Access and refresh token are kept in localStorage so a reload or a second tab keeps
 * the session; refreshes are serialized across tabs (Web Locks) because refresh tokens rotate and a
 * reused one revokes the whole session.
 */
import type { HttpEnvelope, Upload } from '../../lib/schemas/wire';

export class ApiError extends Error {
  constructor(readonly code: number, message: string, readonly status = 0) {
    super(message);
  }
}

/** `device`: the class the socket announces; a QR-code login is a DESKTOP session (PROTOCOL §5) */
interface Session { token: string; refreshToken: string; exp: number; device: 'WEB' | 'DESKTOP' }

const KEY = 'im.session';
const listeners = new Set<() => void>();
let session: Session | null = load();
let timer: ReturnType<typeof setTimeout> | undefined;

function load(): Session | null {
  try {
    const s = JSON.parse(localStorage.getItem(KEY) ?? 'null') as Session | null;
    return s && typeof s.token === 'string' && typeof s.refreshToken === 'string' ? s : null;
  } catch {
    return null;
  }
}

/** ms since the epoch when a JWT expires (its `exp`); unreadable → soon, so it is refreshed. */
function expiryOf(token: string): number {
  try {
    const part = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    return JSON.parse(atob(part)).exp * 1000;
  } catch {
    return Date.now() + 60_000;
  }
}

function notify() {
  schedule();
  for (const fn of listeners) fn();
}

/** Refresh a minute before expiry (or at 80 % of a short lifetime). */
function schedule() {
  clearTimeout(timer);
  if (!session) return;
  const left = session.exp - Date.now();
  const wait = Math.max(1000, Math.min(left - 60_000, left * 0.8));
  timer = setTimeout(() => refresh().catch(() => undefined), Math.min(wait, 2 ** 31 - 1));
}

export const token = () => session?.token ?? null;
export const signedIn = () => session !== null;
export const deviceClass = () => session?.device ?? 'WEB';
export function onSession(fn: () => void) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

export function setSession(accessToken: string, refreshToken: string, device?: Session['device']) {
  session = { token: accessToken, refreshToken, exp: expiryOf(accessToken), device: device ?? session?.device ?? 'WEB' };
  localStorage.setItem(KEY, JSON.stringify(session));
  notify();
}

export function clearSession() {
  session = null;
  localStorage.removeItem(KEY);
  notify();
}

// another tab logged in, out, or rotated the tokens
addEventListener('storage', e => {
  if (e.key !== KEY) return;
  session = load();
  notify();
});
schedule();

async function call<T>(method: string, path: string, body?: unknown, auth?: string | null): Promise<T> {
  const headers: Record<string, string> = {};
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (auth) headers.authorization = `Bearer ${auth}`;
  let res: Response;
  try {
    res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch {
    throw new ApiError(0, 'the server cannot be reached');
  }
  let env: HttpEnvelope<T>;
  try {
    env = await res.json();
  } catch {
    throw new ApiError(50000, `the server answered ${res.status}`, res.status);
  }
  if (env.code !== 0) throw new ApiError(env.code, env.msg, res.status);
  return env.data;
}

let refreshing: Promise<void> | null = null;

/**
 * Rotates the tokens. Another tab may have done it a moment ago: then its tokens (in storage) are
 * taken instead. A refused refresh token (20001) ends the session here.
 */
export function refresh(): Promise<void> {
  refreshing ??= (async () => {
    const run = async () => {
      const stored = load();
      if (stored && session && stored.refreshToken !== session.refreshToken && stored.exp - Date.now() > 60_000) {
        session = stored;
        notify();
        return;
      }
      if (stored) session = stored;
      if (!session) throw new ApiError(20001, 'signed out', 401);
      try {
        const r = await call<{ token: string; refreshToken: string }>('POST', '/api/token/refresh', { refreshToken: session.refreshToken });
        setSession(r.token, r.refreshToken);
      } catch (err) {
        if (err instanceof ApiError && err.code === 20001) clearSession();
        throw err;
      }
    };
    if (navigator.locks) await navigator.locks.request('im-refresh', run); else await run();
  })().finally(() => { refreshing = null; });
  return refreshing;
}

/** An authenticated (when signed in) REST call; an expired token is refreshed once and the call retried. */
export async function api<T = unknown>(method: string, path: string, body?: unknown): Promise<T> {
  if (session && session.exp - Date.now() < 30_000) await refresh().catch(() => undefined);
  try {
    return await call<T>(method, path, body, session?.token);
  } catch (err) {
    if (!(err instanceof ApiError) || err.code !== 20001 || !session) throw err;
    await refresh();
    return call<T>(method, path, body, session?.token);
  }
}

/** POST /api/upload with progress (fetch has no upload progress). */
export function upload(file: File, onProgress: (fraction: number) => void): Promise<Upload> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', '/api/upload');
    if (session) xhr.setRequestHeader('authorization', `Bearer ${session.token}`);
    xhr.upload.onprogress = e => { if (e.lengthComputable) onProgress(e.loaded / e.total); };
    xhr.onerror = () => reject(new ApiError(0, 'upload failed: the server cannot be reached'));
    xhr.onload = () => {
      try {
        const env = JSON.parse(xhr.responseText) as HttpEnvelope<Upload>;
        if (env.code === 0) resolve(env.data); else reject(new ApiError(env.code, env.msg, xhr.status));
      } catch {
        reject(new ApiError(50000, `upload failed (${xhr.status})`, xhr.status));
      }
    };
    const form = new FormData();
    form.append('file', file);
    xhr.send(form);
  });
}
