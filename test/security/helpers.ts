/**
 * Helpers of the security suite: a second app of this project started with its own environment (for
 * limits and settings the suite's app does not have), served on its own loopback port, and HTTP from a
 * chosen loopback address (127.0.0.2, 127.0.0.3, ...) so per-address limits see different clients.
 */
import { spawn } from 'node:child_process';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import path from 'node:path';
import mm from 'egg-mock';
import type { MockApplication } from 'egg-mock';
import { io as ioV4 } from 'socket.io-client';
import ioV2 from 'socket.io-client-v2';

/** A second app of this project, started with extra environment variables (restored afterwards). */
export async function appWithEnv(vars: Record<string, string | undefined>): Promise<MockApplication> {
  const saved = Object.fromEntries(Object.keys(vars).map(k => [ k, process.env[k] ]));
  for (const [ k, v ] of Object.entries(vars)) {
    if (v === undefined) delete process.env[k]; else process.env[k] = v;
  }
  try {
    // clean: false keeps the suite app's logs; cache: false makes a new app rather than the suite's
    const other = mm.app({ baseDir: process.cwd(), cache: false, clean: false } as any);
    try {
      await other.ready();
    } catch (err) {
      await other.close();
      throw err;
    }
    return other;
  } finally {
    for (const [ k, v ] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k]; else process.env[k] = v;
    }
  }
}

/** Serves an app on 127.0.0.1:<ephemeral port> (Socket.IO attached); returns its base URL and a stop. */
export async function serve(app: MockApplication): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer(app.callback());
  app.emit('server', server);
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>(resolve => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

export interface Reply<T = any> {
  status: number;
  body: { code: number; msg: string; data: T };
  headers: http.IncomingHttpHeaders;
}

/**
 * A REST call to `base` from the loopback address `from` (default 127.0.0.1), JSON in and out.
 * node:http rather than fetch because fetch cannot choose the local address.
 */
export function request<T = any>(base: string, method: string, path: string,
  opts: { body?: unknown; token?: string; headers?: Record<string, string>; from?: string; timeoutMs?: number } = {}): Promise<Reply<T>> {
  const url = new URL(path, base);
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  const payload = opts.body === undefined ? undefined : JSON.stringify(opts.body);
  if (payload !== undefined) headers['content-type'] = 'application/json';
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers, localAddress: opts.from, agent: false, timeout: opts.timeoutMs ?? 10000 }, res => {
      const chunks: Buffer[] = [];
      res.on('data', c => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let body: any;
        try { body = JSON.parse(text); } catch { body = { raw: text }; }
        resolve({ status: res.statusCode!, body, headers: res.headers });
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${path}: no answer within ${opts.timeoutMs ?? 10000} ms`)));
    req.on('error', reject);
    req.end(payload);
  });
}

/** A Socket.IO client of `base` (v4: auth, v2: query), websocket only, closed by the caller. */
export function socketAt(base: string, opts: { nsp?: string; version?: 'v2' | 'v4'; token?: string; query?: Record<string, string>; auth?: Record<string, string>; localAddress?: string } = {}): any {
  const url = `${base}${opts.nsp ?? '/chat'}`;
  const common: any = { path: '/ws', transports: [ 'websocket' ], forceNew: true, reconnection: false, timeout: 5000, localAddress: opts.localAddress };
  if ((opts.version ?? 'v4') === 'v4') return ioV4(url, { ...common, query: opts.query, auth: { ...opts.auth, ...(opts.token ? { token: opts.token } : {}) } });
  return ioV2(url, { ...common, query: { ...opts.query, ...(opts.token ? { token: opts.token } : {}) } });
}

/** Signs a user up on `base` (from 127.0.0.1). */
export async function signupAt(base: string, extra: Record<string, unknown> = {}) {
  const username = `s${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;
  const password = 'correct horse battery';
  const res = await request(base, 'POST', '/api/signup', { body: { username, password, ...extra } });
  if (res.status !== 201) throw new Error(`signup failed: ${res.status} ${JSON.stringify(res.body)}`);
  return { id: res.body.data.user._id as string, username, password, token: res.body.data.token as string, refreshToken: res.body.data.refreshToken as string };
}

/** The first of `events` the socket receives within `ms` (with its argument), or 'timeout'. */
export function firstOf(socket: any, events: string[], ms = 3000): Promise<{ event: string; arg?: any }> {
  return new Promise(resolve => {
    const handlers = new Map<string, (arg: any) => void>();
    const done = (result: { event: string; arg?: any }) => {
      clearTimeout(timer);
      for (const [ e, h ] of handlers) socket.off(e, h);
      resolve(result);
    };
    const timer = setTimeout(() => done({ event: 'timeout' }), ms);
    for (const event of events) {
      const h = (arg: any) => done({ event, arg });
      handlers.set(event, h);
      socket.on(event, h);
    }
  });
}

/**
 * This project's app in a process of its own (`egg-bin dev`, one worker, TypeScript through
 * esbuild-register) on a free loopback port, for a test whose failure would stop the server's event
 * loop: in the suite's own process that would stop mocha's timers too, and the test could only hang.
 */
export async function startChildApp(env: Record<string, string> = {}): Promise<{ url: string; stop(): Promise<void> }> {
  const port = await new Promise<number>((resolve, reject) => {
    const probe = net.createServer().listen(0, '127.0.0.1', () => {
      const { port: free } = probe.address() as AddressInfo;
      probe.close(() => resolve(free));
    }).on('error', reject);
  });
  const root = path.resolve(__dirname, '../..');
  const child = spawn(path.join(root, 'node_modules', '.bin', 'egg-bin'),
    [ 'dev', '--tscompiler=esbuild-register', `--port=${port}`, '--workers=1' ],
    { cwd: root, env: { ...process.env, EGG_SERVER_ENV: 'local', HOST: '127.0.0.1', ...env }, stdio: [ 'ignore', 'pipe', 'pipe' ], detached: true });
  let output = '';
  child.stdout!.on('data', d => { output = (output + d).slice(-4000); });
  child.stderr!.on('data', d => { output = (output + d).slice(-4000); });
  const exited = new Promise<void>(resolve => child.once('exit', () => resolve()));
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    // the whole process group: the master, its agent and worker (a hung worker ignores SIGTERM)
    try { process.kill(-child.pid!, 'SIGKILL'); } catch { /* gone */ }
    await exited;
  };
  const deadline = Date.now() + 90000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the app exited: ${output}`);
    try {
      const res = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(1000) });
      if (res.ok) return { url, stop };
    } catch { /* not up yet */ }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`the app did not start within 90 s: ${output}`);
    }
    await new Promise(resolve => setTimeout(resolve, 300));
  }
}
