/**
 * Test helpers: the app from egg-mock on a real HTTP server on an ephemeral loopback port,
 * REST through fetch, and real Socket.IO clients of both major versions. Every wait has a timeout.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { app } from 'egg-mock/bootstrap';
import { io as ioV4, Socket as SocketV4 } from 'socket.io-client';
import ioV2 from 'socket.io-client-v2';

export { app };

let serverPromise: Promise<string> | null = null;

/** Base URL of the app listening on 127.0.0.1:<ephemeral port> (one server per test process). */
export function baseUrl(): Promise<string> {
  serverPromise ??= (async () => {
    await app.ready();
    const server = http.createServer(app.callback());
    app.emit('server', server);
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve));
    after(() => new Promise<void>(resolve => server.close(() => resolve())));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  })();
  return serverPromise;
}

export interface ApiResponse<T = any> {
  status: number;
  body: { code: number; msg: string; data: T };
  headers: Headers;
}

/** A REST call. `body` is sent as JSON unless `raw` is given. */
export async function api<T = any>(method: string, path: string, opts: { body?: unknown; raw?: string; token?: string; headers?: Record<string, string> } = {}): Promise<ApiResponse<T>> {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  let body: string | undefined;
  if (opts.raw !== undefined) {
    body = opts.raw;
    headers['content-type'] ??= 'application/json';
  } else if (opts.body !== undefined) {
    body = JSON.stringify(opts.body);
    headers['content-type'] = 'application/json';
  }
  const res = await fetch(`${await baseUrl()}${path}`, { method, headers, body, signal: AbortSignal.timeout(10000) });
  const text = await res.text();
  let parsed: any;
  try { parsed = JSON.parse(text); } catch { parsed = { raw: text }; }
  return { status: res.status, body: parsed, headers: res.headers };
}

let counter = 0;
/** A username no other test uses. */
export const uniqueName = (prefix = 'u') => `${prefix}${Date.now().toString(36)}${(counter++).toString(36)}${Math.floor(Math.random() * 1e4)}`.slice(0, 32);

export interface TestUser {
  id: string;
  username: string;
  password: string;
  token: string;
  refreshToken: string;
}

/** Signs a new user up through the API. */
export async function signup(extra: Record<string, unknown> = {}): Promise<TestUser> {
  const username = uniqueName();
  const password = 'correct horse battery';
  const res = await api('POST', '/api/signup', { body: { username, password, ...extra } });
  if (res.status !== 201) throw new Error(`signup failed: ${res.status} ${JSON.stringify(res.body)}`);
  const { user, token, refreshToken } = res.body.data;
  return { id: user._id, username, password, token, refreshToken };
}

export type ClientVersion = 'v2' | 'v4';
export type Transport = 'websocket' | 'polling';

export interface ConnectOptions {
  version?: ClientVersion;
  transport?: Transport;
  token?: string;
  query?: Record<string, string>;
  nsp?: string;
  path?: string;
  extraHeaders?: Record<string, string>;
}

/** Any client socket: both versions share on/once/emit/off/connected/close. */
export type AnySocket = SocketV4 | any;

const sockets = new Set<AnySocket>();
afterEach(() => {
  for (const s of sockets) s.close();
  sockets.clear();
});

/**
 * Opens a client socket. v4 sends the token in `auth.token`, v2 in `query.token`, as the two
 * client generations do. The socket is closed after the test.
 */
export async function connect(opts: ConnectOptions = {}): Promise<AnySocket> {
  const url = `${await baseUrl()}${opts.nsp ?? '/chat'}`;
  const version = opts.version ?? 'v4';
  const common = {
    path: opts.path ?? '/ws',
    transports: [ opts.transport ?? 'websocket' ],
    forceNew: true,
    reconnection: false,
    timeout: 5000,
    extraHeaders: opts.extraHeaders,
  };
  let socket: AnySocket;
  if (version === 'v4') {
    socket = ioV4(url, { ...common, query: opts.query, auth: opts.token ? { token: opts.token } : {} });
  } else {
    const query = { ...opts.query, ...(opts.token ? { token: opts.token } : {}) };
    socket = ioV2(url, { ...common, query });
  }
  sockets.add(socket);
  return socket;
}

/** Resolves with the event's first argument, or rejects after `ms`. */
export function waitFor<T = any>(socket: AnySocket, event: string, ms = 3000): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.off(event, onEvent);
      reject(new Error(`timed out after ${ms} ms waiting for "${event}"`));
    }, ms);
    function onEvent(arg: T) {
      clearTimeout(timer);
      resolve(arg);
    }
    socket.once(event, onEvent);
  });
}

/** Resolves true if the event does NOT arrive within `ms`. */
export function notWithin(socket: AnySocket, event: string, ms = 300): Promise<boolean> {
  return new Promise(resolve => {
    const onEvent = () => { clearTimeout(timer); resolve(false); };
    const timer = setTimeout(() => { socket.off(event, onEvent); resolve(true); }, ms);
    socket.once(event, onEvent);
  });
}

/** Emits with an ack callback; rejects if no ack comes within `ms`. */
export function emitAck<T = any>(socket: AnySocket, event: string, payload?: unknown, ms = 3000): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ack for "${event}" within ${ms} ms`)), ms);
    const ack = (res: T) => { clearTimeout(timer); resolve(res); };
    if (payload === undefined) socket.emit(event, ack); else socket.emit(event, payload, ack);
  });
}

/** Connects and waits until the server has accepted the socket (connect and no im_error soon after). */
export async function connectOk(opts: ConnectOptions = {}): Promise<AnySocket> {
  const socket = await connect(opts);
  const outcome = await Promise.race([
    waitFor(socket, 'connect').then(() => 'connect'),
    waitFor(socket, 'im_error').then(e => `im_error ${JSON.stringify(e)}`),
    waitFor(socket, 'connect_error').then(e => `connect_error ${e?.message}`),
  ]);
  if (outcome !== 'connect') throw new Error(`socket refused: ${outcome}`);
  // the server accepts after checking the token; a refusal would follow the connect at once
  const refused = await Promise.race([
    waitFor(socket, 'im_error', 150).then(e => e, () => null),
  ]);
  if (refused) throw new Error(`socket refused after connect: ${JSON.stringify(refused)}`);
  return socket;
}

/**
 * Connects to /chat and resolves once the server has accepted the socket: its `c_online` snapshot
 * comes back only after connection middleware has finished (auth, rooms joined), and a refused
 * socket gets no reply. Faster than connectOk's wait for a refusal; it costs the socket one event
 * (mind a test that counts events or shrinks their limits).
 */
export async function connectChat(opts: ConnectOptions = {}): Promise<AnySocket> {
  const socket = await connect(opts);
  return new Promise((resolve, reject) => {
    const done = (err?: Error) => {
      clearTimeout(timer);
      socket.off('im_error', onRefused);
      socket.off('connect_error', onRefused);
      if (err) reject(err); else resolve(socket);
    };
    const onRefused = (e: any) => done(new Error(`socket refused: ${e?.message ?? JSON.stringify(e)}`));
    const timer = setTimeout(() => done(new Error('no c_online reply within 5000 ms')), 5000);
    socket.on('im_error', onRefused);
    socket.on('connect_error', onRefused);
    socket.emit('c_online', (reply: any) => done(reply?.code === 0 ? undefined : new Error(`socket refused: c_online answered ${JSON.stringify(reply)}`)));
  });
}

export const sleep = (ms: number) => new Promise(resolve => setTimeout(resolve, ms));
