/**
 * The production shape, for the integrity suite (npm run test:integrity): the compiled app started
 * with `egg-scripts start --sticky` (EGG_SERVER_ENV=prod) as separate process trees, our own Redis and
 * our own FerretDB on free loopback ports (so they can be paused, restarted, killed), users seeded
 * straight into the database, and real Socket.IO clients (v4 and v2) on several loopback source
 * addresses so that sticky mode spreads them over workers.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import mongoose from 'mongoose';
import { io as ioV4 } from 'socket.io-client';
import ioV2 from 'socket.io-client-v2';

// plain JS modules of the project and of a dependency, without type declarations
// eslint-disable-next-line @typescript-eslint/no-var-requires
const ferretdb = require('../../scripts/ferretdb');
// eslint-disable-next-line @typescript-eslint/no-var-requires
const jwt = require('jsonwebtoken');

const root = path.resolve(__dirname, '../..');
export const JWT_SECRET = crypto.randomBytes(32).toString('hex');
const COOKIE_KEYS = crypto.randomBytes(32).toString('hex');
export const sleep = (ms: number) => new Promise(resolve => setTimeout(resolve, ms));
export const log = (msg: string) => process.stdout.write(`      [integrity] ${msg}\n`);

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/** Resolves when `check` does, retrying every 100 ms; rejects after `ms`. */
export async function until<T>(what: string, check: () => Promise<T | undefined | null | false> | T | undefined | null | false, ms: number): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v) return v as T;
    } catch (err) { last = err; }
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms${last ? ` (${(last as Error).message})` : ''}`);
    await sleep(100);
  }
}

/** pid and its descendants, from /proc (the benchmark's helper). */
// eslint-disable-next-line @typescript-eslint/no-var-requires
export const processTree: (pid: number) => number[] = require('../../bench/lib').processTree;

const cmdline = (pid: number) => { try { return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' '); } catch { return ''; } };

/** Compiles the app (tsc, as production runs it) into run/integrity-build, once per process. */
let built: string | null = null;
export function build(): string {
  if (built) return built;
  const out = path.join(root, 'run', 'integrity-build');
  fs.rmSync(out, { recursive: true, force: true });
  // the generated typings (app.model, app.config, ...) must exist first
  execFileSync(path.join(root, 'node_modules', '.bin', 'ets'), [], { cwd: root, stdio: 'ignore' });
  execFileSync(path.join(root, 'node_modules', '.bin', 'tsc'), [ '-p', path.join(root, 'bench', 'tsconfig.json'), '--outDir', out ], { cwd: root, stdio: 'inherit' });
  const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
  pkg.egg = { typescript: false };
  fs.writeFileSync(path.join(out, 'package.json'), JSON.stringify(pkg, null, 2));
  fs.copyFileSync(path.join(root, 'lib/plugin/io/package.json'), path.join(out, 'lib/plugin/io/package.json'));
  return built = out;
}

/** Our own redis-server on a free port (never the machine's 6379), restartable on the same port. */
export class OwnRedis {
  private child: ChildProcess | null = null;
  port = 0;
  get url() { return `redis://127.0.0.1:${this.port}`; }

  async start() {
    this.port ||= await freePort();
    this.child = spawn('redis-server', [ '--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no' ], { stdio: 'ignore' });
    await until('redis answers', () => new Promise<boolean>(resolve => {
      const s = net.connect(this.port, '127.0.0.1');
      s.once('connect', () => { s.write('PING\r\n'); });
      s.once('data', d => { s.destroy(); resolve(String(d).startsWith('+PONG')); });
      s.once('error', () => { s.destroy(); resolve(false); });
    }), 5000);
  }

  async stop() {
    const c = this.child;
    this.child = null;
    if (!c || c.exitCode !== null) return;
    const gone = new Promise(resolve => c.once('exit', resolve));
    c.kill('SIGKILL');
    await gone;
  }
}

/**
 * A TCP proxy that delays every chunk by `ms` in each direction (order kept): Redis as far away as
 * another zone, so that whatever comes back from Redis arrives after the local work that follows it.
 */
export async function latencyProxy(targetPort: number, ms: number) {
  const conns = new Set<net.Socket>();
  const server = net.createServer(inbound => {
    const outbound = net.connect(targetPort, '127.0.0.1');
    for (const [ from, to ] of [ [ inbound, outbound ], [ outbound, inbound ] ]) {
      conns.add(from);
      from.on('data', chunk => setTimeout(() => { if (!to.destroyed) to.write(chunk); }, ms));
      from.on('close', () => { conns.delete(from); setTimeout(() => to.destroy(), ms); });
      from.on('error', () => from.destroy());
    }
  });
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `redis://127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    async close() {
      for (const c of conns) c.destroy();
      await new Promise(resolve => server.close(resolve));
    },
  };
}

/** Our own FerretDB (scripts/ferretdb.js) with its data in a temporary directory. */
export async function startDb(dbName = 'iminteg') {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'im-integrity-db-'));
  const db = await ferretdb.start({ dataDir, dbName, logFile: path.join(os.tmpdir(), 'im-integrity-ferretdb.log') });
  return {
    url: db.url as string,
    pid: db.pid as number,
    pause: () => process.kill(db.pid, 'SIGSTOP'),
    resume: () => process.kill(db.pid, 'SIGCONT'),
    async stop() {
      try { process.kill(db.pid, 'SIGCONT'); } catch { /* gone */ }
      await db.stop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export interface Cluster {
  url: string;
  port: number;
  pid: number;
  home: string;
  /** pids of the app workers (egg reforks a dead one) */
  workers(): number[];
  /** the end of common-error.log, for failure messages */
  errors(): string;
  stop(): Promise<void>;
}

/**
 * The compiled app the production way: `egg-scripts start --sticky --workers=N`, EGG_SERVER_ENV=prod.
 * Each cluster gets its own EGG_HOME (logs) and title.
 */
export async function startCluster(opts: { workers: number; mongoUrl: string; redisUrl: string; prefix?: string; env?: Record<string, string> }): Promise<Cluster> {
  const dir = build();
  const port = await freePort();
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'im-integrity-home-'));
  const env: Record<string, string> = {
    ...process.env as Record<string, string>, EGG_SERVER_ENV: 'prod', NODE_ENV: 'production', EGG_HOME: home,
    MONGODB_URL: opts.mongoUrl, REDIS_URL: opts.redisUrl, JWT_SECRET, PORT: String(port), HOST: '127.0.0.1',
    // production refuses to start without them (config/config.prod.ts)
    COOKIE_KEYS, CORS_ORIGIN: '*',
    // every client of the run comes from 127.0.0.2..9 and reconnects at random: the per-address
    // connection limits would refuse them (the suite is about delivery, not about those limits)
    RATE_LIMIT_CONNECTIONS: '1000000/60', MAX_SOCKETS_PER_ADDRESS: '1000000',
    ...opts.env,
  };
  if (opts.prefix) env.REDIS_PREFIX = opts.prefix; else delete env.REDIS_PREFIX;
  const title = `im-integrity-${process.pid}-${port}`;
  const child = spawn(path.join(root, 'node_modules', '.bin', 'egg-scripts'),
    [ 'start', `--workers=${opts.workers}`, '--sticky', `--port=${port}`, `--title=${title}`, dir ],
    { env, stdio: [ 'ignore', 'pipe', 'pipe' ], detached: true });
  let output = '';
  child.stdout!.on('data', d => { output += d; });
  child.stderr!.on('data', d => { output += d; });
  const exited = new Promise(resolve => child.once('exit', resolve));
  const cluster: Cluster = {
    url: `http://127.0.0.1:${port}`,
    port,
    pid: child.pid!,
    home,
    workers: () => processTree(child.pid!).filter(p => /app_worker/.test(cmdline(p))),
    errors: () => {
      try { return fs.readFileSync(path.join(home, 'logs', 'im-server', 'common-error.log'), 'utf8').slice(-3000); } catch { return ''; }
    },
    async stop() {
      if (child.exitCode !== null) return;
      try { process.kill(-child.pid!, 'SIGTERM'); } catch { /* gone */ }
      const t = setTimeout(() => { try { process.kill(-child.pid!, 'SIGKILL'); } catch { /* gone */ } }, 8000);
      await exited;
      clearTimeout(t);
      // workers may outlive the master by a moment
      for (let i = 0; i < 50 && cluster.workers().length; i++) await sleep(100);
    },
  };
  try {
    await until('cluster ready', async () => {
      if (child.exitCode !== null) throw new Error(`egg-scripts exited: ${output}`);
      const res = await fetch(`${cluster.url}/readyz`, { signal: AbortSignal.timeout(2000) });
      return res.ok && cluster.workers().length >= opts.workers;
    }, 60000);
  } catch (err) {
    await cluster.stop();
    throw new Error(`${(err as Error).message}\n${output}\n${cluster.errors()}`);
  }
  return cluster;
}

export interface SeededUser { id: string; username: string; token: string }

/** Users with live sessions (tokens signed like the server's), straight into the database. */
export async function seedUsers(mongoUrl: string, n: number, opts: { admin?: boolean } = {}): Promise<SeededUser[]> {
  const client = await mongoose.mongo.MongoClient.connect(mongoUrl);
  try {
    const db = client.db();
    const now = new Date();
    const tag = crypto.randomBytes(3).toString('hex');
    const users = Array.from({ length: n }, (_, i) => {
      const name = `integ${tag}${i}`;
      return {
        _id: new mongoose.mongo.ObjectId(), username: name, usernameLower: name, nickname: name, nicknameLower: name, avatar: '', intro: '',
        passwordHash: 'not-a-login-account', question: '', answerHash: '', profile: {}, role: opts.admin ? 'admin' : 'user', presence: 'online',
        createdAt: now, updatedAt: now,
      };
    });
    await db.collection('users').insertMany(users);
    // session ids are 128 random bits as 32 hex digits, like the server's (app/model/session.ts)
    const sessions = users.map(u => ({ _id: crypto.randomBytes(16).toString('hex'), user: u._id, rotatedHashes: [], refreshHash: 'x', revokedAt: null, revokedReason: '', expiresAt: new Date(Date.now() + 3600e3), userAgent: 'integrity', ip: '127.0.0.1', createdAt: now, updatedAt: now }));
    await db.collection<{ _id: string }>('sessions').insertMany(sessions);
    return users.map((u, i) => ({
      id: String(u._id), username: u.username,
      token: jwt.sign({ sub: String(u._id), sid: String(sessions[i]._id) }, JWT_SECRET, { algorithm: 'HS256', expiresIn: 3600 }),
    }));
  } finally {
    await client.close();
  }
}

/** A REST call against a cluster. */
export async function api(base: string, method: string, p: string, opts: { body?: unknown; token?: string } = {}) {
  const headers: Record<string, string> = {};
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  if (opts.body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${base}${p}`, { method, headers, body: opts.body === undefined ? undefined : JSON.stringify(opts.body), signal: AbortSignal.timeout(10000) });
  const text = await res.text();
  let body: any;
  try { body = JSON.parse(text); } catch { body = { raw: text }; }
  return { status: res.status, body };
}

export type AnySocket = any;

/** A /chat (or /sso) client: v4 (auth.token) or v2 (query.token), websocket, from `localAddress`. */
export function client(base: string, opts: { token?: string; version?: 'v2' | 'v4'; nsp?: string; query?: Record<string, string>; localAddress?: string } = {}): AnySocket {
  const url = `${base}${opts.nsp ?? '/chat'}`;
  const common: any = { path: '/ws', transports: [ 'websocket' ], forceNew: true, reconnection: false, timeout: 5000, localAddress: opts.localAddress };
  if ((opts.version ?? 'v4') === 'v4') return ioV4(url, { ...common, query: opts.query, auth: opts.token ? { token: opts.token } : {} });
  return ioV2(url, { ...common, query: { ...opts.query, ...(opts.token ? { token: opts.token } : {}) } });
}

export function waitFor<T = any>(socket: AnySocket, event: string, ms = 5000): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { socket.off(event, on); reject(new Error(`timed out after ${ms} ms waiting for "${event}"`)); }, ms);
    function on(arg: T) { clearTimeout(timer); resolve(arg); }
    socket.once(event, on);
  });
}

export function notWithin(socket: AnySocket, event: string, ms: number): Promise<boolean> {
  return new Promise(resolve => {
    const on = () => { clearTimeout(timer); resolve(false); };
    const timer = setTimeout(() => { socket.off(event, on); resolve(true); }, ms);
    socket.once(event, on);
  });
}

export function emitAck<T = any>(socket: AnySocket, event: string, payload?: unknown, ms = 5000): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ack for "${event}" within ${ms} ms`)), ms);
    const ack = (res: T) => { clearTimeout(timer); resolve(res); };
    if (payload === undefined) socket.emit(event, ack); else socket.emit(event, payload, ack);
  });
}

/** Connects and resolves once the server accepted the socket (connect, and no im_error right after). */
export async function connectOk(base: string, opts: Parameters<typeof client>[1] = {}): Promise<AnySocket> {
  const s = client(base, opts);
  try {
    const outcome = await Promise.race([
      waitFor(s, 'connect').then(() => 'connect'),
      waitFor(s, 'im_error').then(e => `im_error ${JSON.stringify(e)}`),
      waitFor(s, 'connect_error').then(e => `connect_error ${e?.message}`),
    ]);
    if (outcome !== 'connect') throw new Error(`socket refused: ${outcome}`);
    if (!await notWithin(s, 'im_error', 200)) throw new Error('socket refused after connect');
    return s;
  } catch (err) {
    s.close();
    throw err;
  }
}
