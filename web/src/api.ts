/**
 * The page's REST client: the client package's (client/src/rest.ts: the envelope, a refresh shared by
 * the tabs with Web Locks, tokens rotated before they expire) over localStorage, so a reload or a
 * second tab keeps the session (docs/DECISIONS.md, "Web client"). What is the page's own: the device
 * class of the session, and uploads with progress.
 */
import type { HttpEnvelope, Upload } from '../../lib/schemas/wire';
import { ApiError } from '../../client/src/errors';
import { RestClient, type Session } from '../../client/src/rest';

export { ApiError };

/** `device`: the class the socket announces; a QR-code login is a DESKTOP session (PROTOCOL §5) */
type WebSession = Session & { device?: 'WEB' | 'DESKTOP' };

export const rest = new RestClient({ baseUrl: location.origin, store: localStorage, refreshAhead: true });

const session = () => rest.session as WebSession | null;
export const token = () => session()?.token ?? null;
export const signedIn = () => session() !== null;
export const deviceClass = () => session()?.device ?? 'WEB';
export const onSession = (fn: () => void) => rest.onSession(fn);

export function setSession(userId: string, accessToken: string, refreshToken: string, device?: WebSession['device']) {
  const next: WebSession = { userId, token: accessToken, refreshToken, device: device ?? session()?.device ?? 'WEB' };
  rest.setSession(next);
}

export const clearSession = () => rest.setSession(null);

// another tab logged in, out, or rotated the tokens
addEventListener('storage', e => {
  if (e.key === null || e.key === 'im.session') rest.sessionChanged();
});

/** An authenticated (when signed in) REST call; an expired token is refreshed once and the call retried. */
export const api = <T = unknown>(method: string, path: string, body?: unknown): Promise<T> =>
  rest.request<T>(method, path, body, { auth: signedIn() });

/** POST /api/upload with progress (fetch has no upload progress). */
export function upload(file: File, onProgress: (fraction: number) => void): Promise<Upload> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', '/api/upload');
    const t = token();
    if (t) xhr.setRequestHeader('authorization', `Bearer ${t}`);
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
