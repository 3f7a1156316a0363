'use strict';
/**
 * What both benchmarks share: building and starting our server the production way, the bare relay,
 * seeding accounts, reading a process tree's CPU and RSS from /proc, counting FerretDB's commands
 * from its Prometheus endpoint, and printing tables.
 *
 * Everything the benchmarks do to the server goes through the contract (PROTOCOL §4 and §7) except
 * one thing: accounts (users and their sessions) are written straight into the database, because
 * signing 1,000 users up costs 1,000 argon2 hashes and hits the signup rate limit. That touches the
 * auth model only, never the message path; the first token is checked through POST /api/validate so
 * a changed auth model fails the setup loudly instead of skewing the numbers.
 */
const { spawn, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const crypto = require('node:crypto');
const net = require('node:net');
const jwt = require('jsonwebtoken');
const { MongoClient, ObjectId } = require('mongodb');

const root = path.resolve(__dirname, '..');
const buildDir = path.join(__dirname, '.build');

const logger = tag => msg => process.stderr.write(`[${tag}] ${msg}\n`);
const sleep = ms => new Promise(r => setTimeout(r, ms));
const envNumber = (name, fallback) => {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n)) throw new Error(`${name} must be a number, got ${JSON.stringify(raw)}`);
  return n;
};

/** A setup step that did not complete: the benchmark stops with this message and exit code 1. */
class SetupError extends Error {}

const freePort = () => new Promise((resolve, reject) => {
  const srv = net.createServer();
  srv.unref();
  srv.once('error', reject);
  srv.listen(0, '127.0.0.1', () => { const { port } = srv.address(); srv.close(() => resolve(port)); });
});

async function waitForHttp(url, ms, gone = () => false) {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (gone()) throw new SetupError(`the server exited before ${url} answered`);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
      if (res.ok) return;
    } catch { /* not yet */ }
    await sleep(250);
  }
  throw new SetupError(`${url} did not answer within ${ms} ms`);
}

/** Compiles the TypeScript app into bench/.build (the tree stays untouched) as production runs it. */
function build() {
  fs.rmSync(buildDir, { recursive: true, force: true });
  // the typings of app.model, app.config and friends (generated, not committed) must exist first
  execFileSync(path.join(root, 'node_modules', '.bin', 'ets'), [], { cwd: root, stdio: 'ignore' });
  execFileSync(path.join(root, 'node_modules', '.bin', 'tsc'), [ '-p', path.join(__dirname, 'tsconfig.json') ], { cwd: root, stdio: 'inherit' });
  const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
  pkg.egg = { typescript: false };
  fs.writeFileSync(path.join(buildDir, 'package.json'), JSON.stringify(pkg, null, 2));
  fs.copyFileSync(path.join(root, 'lib/plugin/io/package.json'), path.join(buildDir, 'lib/plugin/io/package.json'));
}

function removeBuild() {
  fs.rmSync(buildDir, { recursive: true, force: true });
}

/** pid and the pids of all its descendants, from /proc. */
function processTree(pid) {
  const children = new Map();
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (!children.has(ppid)) children.set(ppid, []);
      children.get(ppid).push(Number(entry));
    } catch { /* gone */ }
  }
  const out = [];
  const walk = p => { out.push(p); for (const c of children.get(p) || []) walk(c); };
  walk(pid);
  return out;
}

const TICK = 100; // USER_HZ
/** CPU seconds (user + system) used so far by these processes. */
function cpuSeconds(pids) {
  let ticks = 0;
  for (const p of pids) {
    try {
      const stat = fs.readFileSync(`/proc/${p}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(f[11]) + Number(f[12]); // utime, stime
    } catch { /* gone */ }
  }
  return ticks / TICK;
}

function rssMb(pids) {
  let kb = 0;
  for (const p of pids) {
    try {
      const m = /VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${p}/status`, 'utf8'));
      if (m) kb += Number(m[1]);
    } catch { /* gone */ }
  }
  return kb / 1024;
}

/**
 * Users with live sessions, written straight into the database (see the note at the top), and
 * access tokens signed the way the server signs them ({sub: user, sid: session}).
 */
async function seedAccounts(mongoUrl, count, jwtSecret, prefix = 'bench') {
  const client = await MongoClient.connect(mongoUrl);
  try {
    const db = client.db();
    const now = new Date();
    const users = Array.from({ length: count }, (_, i) => {
      const name = `${prefix}${i}`;
      return {
        _id: new ObjectId(), username: name, usernameLower: name, nickname: name, nicknameLower: name, avatar: '', intro: '',
        passwordHash: 'not-a-login-account', question: '', answerHash: '', profile: {}, role: 'user', presence: 'online',
        createdAt: now, updatedAt: now,
      };
    });
    // session ids are 128 random bits as 32 hex digits, like the server's (app/model/session.ts)
    const sessions = users.map(u => ({
      _id: crypto.randomBytes(16).toString('hex'), user: u._id, refreshHash: crypto.randomBytes(16).toString('hex'), rotatedHashes: [], revokedAt: null, revokedReason: '',
      expiresAt: new Date(Date.now() + 24 * 3600e3), userAgent: 'bench', ip: '127.0.0.1', createdAt: now, updatedAt: now,
    }));
    // FerretDB: keep each command well below its 100-writes deadlock
    for (let i = 0; i < count; i += 40) {
      await db.collection('users').insertMany(users.slice(i, i + 40));
      await db.collection('sessions').insertMany(sessions.slice(i, i + 40));
    }
    return users.map((u, i) => ({
      id: String(u._id), username: u.username,
      token: jwt.sign({ sub: String(u._id), sid: String(sessions[i]._id) }, jwtSecret, { algorithm: 'HS256', expiresIn: 24 * 3600 }),
    }));
  } finally {
    await client.close();
  }
}

/** A JSON call to our REST API (PROTOCOL §7); throws unless the envelope says code 0. */
async function api(baseUrl, token, method, route, body) {
  const res = await fetch(`${baseUrl}${route}`, {
    method, signal: AbortSignal.timeout(60000),
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let json;
  try { json = JSON.parse(text); } catch { json = null; }
  if (!res.ok || !json || json.code !== 0) throw new Error(`${method} ${route} → HTTP ${res.status} ${text.slice(0, 300)}`);
  return json.data;
}

/** The seeded accounts must be accepted by the server, or every number after this is meaningless. */
async function checkAccount(baseUrl, user) {
  try {
    await api(baseUrl, user.token, 'POST', '/api/validate', { token: user.token });
  } catch (err) {
    throw new SetupError(`the server does not accept the seeded accounts (${err.message}); bench/lib.js seedAccounts() ` +
      'writes users and sessions the way app/model/user.ts and session.ts looked when it was written');
  }
}

/**
 * Our server as production runs it: egg-scripts, sticky, `workers` workers, prod config, no Redis.
 * A start that dies is tried again (twice): the ports are picked free but another process on this
 * machine may take one before the server binds it (egg-cluster's sticky port too).
 */
async function startOurs(options) {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOursOnce(options);
    } catch (err) {
      if (attempt >= 3 || !/exited before/.test(err.message)) throw err;
      process.stderr.write(`[bench] the server did not start (${err.message}); trying again\n`);
    }
  }
}

async function startOursOnce({ mongoUrl, jwtSecret, workers = 1, title = 'im-bench', metricsToken = process.env.METRICS_TOKEN }) {
  const port = await freePort();
  const env = {
    ...process.env, METRICS_TOKEN: metricsToken || '', EGG_SERVER_ENV: 'prod', NODE_ENV: 'production', MONGODB_URL: mongoUrl, JWT_SECRET: jwtSecret, PORT: String(port),
    HOST: '127.0.0.1', REDIS_URL: '',
    // production refuses to start without them (config/config.prod.ts)
    COOKIE_KEYS: crypto.randomBytes(32).toString('hex'), CORS_ORIGIN: '*',
    // every bench client comes from 127.0.0.1, a thousand at once: the per-address connection limits
    // would refuse them (the bench measures delivery, not those limits)
    RATE_LIMIT_CONNECTIONS: '1000000/60', MAX_SOCKETS_PER_ADDRESS: '1000000',
  };
  const child = spawn(path.join(root, 'node_modules', '.bin', 'egg-scripts'),
    [ 'start', `--workers=${workers}`, '--sticky', `--port=${port}`, `--title=${title}`, buildDir ],
    { env, stdio: [ 'ignore', 'pipe', 'pipe' ], detached: true });
  let output = '';
  child.stdout.on('data', d => { output += d; });
  child.stderr.on('data', d => { output += d; });
  const exited = new Promise(resolve => child.once('exit', resolve));
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    try { process.kill(-child.pid, 'SIGTERM'); } catch { return; }
    const t = setTimeout(() => { try { process.kill(-child.pid, 'SIGKILL'); } catch { /* gone */ } }, 10000);
    await exited;
    clearTimeout(t);
  };
  try {
    await waitForHttp(`http://127.0.0.1:${port}/readyz`, 90000, () => child.exitCode !== null || child.signalCode !== null);
  } catch (err) {
    process.stderr.write(output.split('\n').filter(l => /ERROR|Error|error/.test(l)).slice(-10).join('\n') + '\n');
    await stop();
    throw err;
  }
  return { url: `http://127.0.0.1:${port}`, pid: child.pid, stop, output: () => output };
}

/** The ceiling: bench/relay.js (Socket.IO 4, no auth, no storage). */
async function startRelay() {
  const child = spawn(process.execPath, [ path.join(__dirname, 'relay.js'), '0' ], { stdio: [ 'ignore', 'pipe', 'inherit' ] });
  const port = await new Promise((resolve, reject) => {
    child.stdout.once('data', d => resolve(Number(/listening (\d+)/.exec(String(d))[1])));
    child.once('exit', code => reject(new SetupError(`relay exited with ${code}`)));
  });
  const exited = new Promise(resolve => child.once('exit', resolve));
  return {
    url: `http://127.0.0.1:${port}`, pid: child.pid,
    stop: async () => { if (child.exitCode === null) { child.kill('SIGTERM'); await exited; } },
  };
}

// the driver's own traffic (handshakes, heartbeats, sessions), not work the application asked for
const MONITORING = new Set([ 'hello', 'isMaster', 'ismaster', 'ping', 'buildInfo', 'buildinfo', 'endSessions', 'saslStart', 'saslContinue', 'getParameter', 'unknown' ]);

/**
 * FerretDB's count of commands received, by command name, from its Prometheus endpoint
 * (`ferretdb_client_requests_total{command=...,opcode=...}`). Null when it cannot be read.
 */
async function dbCommands(metricsUrl) {
  if (!metricsUrl) return null;
  try {
    const res = await fetch(metricsUrl, { signal: AbortSignal.timeout(5000) });
    const text = await res.text();
    const counts = {};
    for (const m of text.matchAll(/^ferretdb_client_requests_total\{([^}]*)\}\s+([0-9.e+]+)$/gm)) {
      const command = /command="([^"]*)"/.exec(m[1])?.[1] ?? 'unknown';
      if (MONITORING.has(command)) continue;
      counts[command] = (counts[command] || 0) + Number(m[2]);
    }
    return counts;
  } catch {
    return null;
  }
}

/** b − a per command (commands that did not move are left out), and the total. */
function commandDelta(a, b) {
  if (!a || !b) return null;
  const by = {};
  let total = 0;
  for (const [ k, v ] of Object.entries(b)) {
    const d = v - (a[k] || 0);
    if (d > 0) { by[k] = d; total += d; }
  }
  return { total, by };
}

const describeCommands = delta => (delta ? Object.entries(delta.by).sort((x, y) => y[1] - x[1]).map(([ k, v ]) => `${k} ${v}`).join(', ') || 'none' : 'not available');

function percentile(sorted, p) {
  if (!sorted.length) return null;
  return sorted[Math.min(sorted.length - 1, Math.ceil(p / 100 * sorted.length) - 1)];
}

const fmt = (v, digits = 1) => (v === null || v === undefined || Number.isNaN(v) ? '-' : typeof v === 'number' ? v.toFixed(digits) : String(v));

/** A Markdown table. */
function table(head, body) {
  const rows = body.map(r => r.map(c => (c === null || c === undefined ? '-' : String(c))));
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map(b => b[i].length)));
  const line = cells => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
  return [ line(head), `|${widths.map(w => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line) ].join('\n');
}

/** The commit measured, for the printed footer. */
function commitId() {
  try {
    const head = execFileSync('git', [ 'rev-parse', '--short', 'HEAD' ], { cwd: root, encoding: 'utf8' }).trim();
    // only what the server and the benchmark are made of: an edited README does not change the numbers
    const dirty = execFileSync('git', [ 'status', '--porcelain', '--untracked-files=no', '--', 'app', 'lib', 'config', 'typings', 'bench', 'scripts', 'app.ts', 'agent.ts', 'package.json', 'package-lock.json' ],
      { cwd: root, encoding: 'utf8' }).trim();
    return dirty ? `${head}+changes` : head;
  } catch {
    return 'unknown';
  }
}

/** Database commands that read (the app's command timings count every command; these are the reads). */
const READS = new Set([ 'find', 'aggregate', 'count', 'distinct', 'getMore' ]);

/**
 * Our server's own database counters from its /metrics (METRICS_TOKEN): documents written and write
 * commands by `collection|op`, read commands by name. Null when the metrics are not served.
 */
async function appDbCounters(url, token) {
  if (!token) return null;
  try {
    const res = await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(5000) });
    if (!res.ok) return null;
    const text = await res.text();
    const out = { written: {}, commands: {}, reads: {} };
    const labels = s => Object.fromEntries([ ...s.matchAll(/(\w+)="([^"]*)"/g) ].map(m => [ m[1], m[2] ]));
    for (const m of text.matchAll(/^(im_db_documents_written_total|im_db_write_commands_total|im_db_command_duration_seconds_count)\{([^}]*)\}\s+([0-9.e+]+)$/gm)) {
      const l = labels(m[2]);
      const v = Number(m[3]);
      if (m[1] === 'im_db_documents_written_total') out.written[`${l.collection}|${l.op}`] = v;
      else if (m[1] === 'im_db_write_commands_total') out.commands[`${l.collection}|${l.op}`] = v;
      else if (READS.has(l.command)) out.reads[l.command] = (out.reads[l.command] || 0) + v;
    }
    return out;
  } catch {
    return null;
  }
}

/** b − a of appDbCounters samples. */
function appDbDelta(a, b) {
  if (!a || !b) return null;
  const diff = (x, y) => Object.fromEntries(Object.keys(y).map(k => [ k, y[k] - (x[k] || 0) ]).filter(([ , v ]) => v > 0));
  return { written: diff(a.written, b.written), commands: diff(a.commands, b.commands), reads: diff(a.reads, b.reads) };
}

/** The hottest functions (self time) of a V8 CPU profile (`Profiler.stop`'s or a .cpuprofile file's). */
function topSelfTime(prof, n = 25) {
  const self = new Map();
  const dt = (prof.endTime - prof.startTime) / prof.samples.length / 1000; // ms per sample
  const byId = new Map(prof.nodes.map(node => [ node.id, node ]));
  const counts = new Map();
  for (const sample of prof.samples) counts.set(sample, (counts.get(sample) || 0) + 1);
  let total = 0;
  for (const [ id, c ] of counts) {
    const node = byId.get(id);
    const where = node.callFrame.url ? node.callFrame.url.replace(/^.*node_modules\//, '').replace(/^file:\/\/.*bench\/\.build\//, '') : '';
    const key = `${node.callFrame.functionName || '(anonymous)'} ${where}:${node.callFrame.lineNumber + 1}`;
    self.set(key, (self.get(key) || 0) + c);
    total += c;
  }
  const top = [ ...self ].sort((a, b) => b[1] - a[1]).slice(0, n);
  return { sampledMs: Math.round(total * dt), lines: top.map(([ k, c ]) => `  ${(c / total * 100).toFixed(1).padStart(5)}%  ${k}`).join('\n') };
}

/** The functions that allocated most (self size) in a sampling heap profile (`HeapProfiler.stopSampling`'s). */
function topAllocations(prof, n = 25) {
  const self = new Map();
  let total = 0;
  const walk = node => {
    const where = node.callFrame.url ? node.callFrame.url.replace(/^.*node_modules\//, '').replace(/^file:\/\/.*bench\/\.build\//, '') : '';
    const key = `${node.callFrame.functionName || '(anonymous)'} ${where}:${node.callFrame.lineNumber + 1}`;
    self.set(key, (self.get(key) || 0) + node.selfSize);
    total += node.selfSize;
    for (const child of node.children || []) walk(child);
  };
  walk(prof.head);
  const top = [ ...self ].sort((a, b) => b[1] - a[1]).slice(0, n);
  return { totalMb: Math.round(total / 1048576), lines: top.map(([ k, b ]) => `  ${(b / total * 100).toFixed(1).padStart(5)}%  ${k}`).join('\n') };
}

/** The app worker among the server's processes (egg-cluster's app_worker.js). */
function appWorker(pids) {
  for (const p of pids) {
    try {
      if (fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').includes('app_worker')) return p;
    } catch { /* gone */ }
  }
  return null;
}

/** TCP ports a process listens on (from ss). */
function listeningPorts(pid) {
  const out = execFileSync('ss', [ '-ltnpH' ], { encoding: 'utf8' });
  return out.split('\n').filter(l => l.includes(`pid=${pid},`)).map(l => Number(/:(\d+)\s/.exec(l)?.[1])).filter(Boolean);
}

/**
 * The worker's V8 inspector (opened with SIGUSR1, on node's default 127.0.0.1:9229: an inspect
 * port given at start would make cluster give the worker an unusable one): full GCs,
 * process.memoryUsage() and the sampling heap profiler, over the DevTools protocol.
 */
async function inspect(pid) {
  const before = new Set(listeningPorts(pid));
  process.kill(pid, 'SIGUSR1');
  let port;
  for (let i = 0; i < 100 && !port; i++) {
    await sleep(100);
    port = listeningPorts(pid).find(p => !before.has(p));
  }
  if (!port) throw new Error('the worker opened no inspector port (is 127.0.0.1:9229 taken?)');
  const [ target ] = await (await fetch(`http://127.0.0.1:${port}/json/list`)).json();
  const WebSocket = require('ws');
  const ws = new WebSocket(target.webSocketDebuggerUrl, { maxPayload: 1 << 30 });
  await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject); });
  let id = 0;
  const pending = new Map();
  ws.on('message', data => {
    const msg = JSON.parse(String(data));
    const p = pending.get(msg.id);
    if (!p) return;
    pending.delete(msg.id);
    if (msg.error) p.reject(new Error(`${p.method}: ${msg.error.message}`)); else p.resolve(msg.result);
  });
  const call = (method, params = {}) => new Promise((resolve, reject) => {
    pending.set(++id, { resolve, reject, method });
    ws.send(JSON.stringify({ id, method, params }));
  });
  return {
    call,
    /** full GC (twice: the first may only schedule finalizers), then process.memoryUsage() in MB */
    async memoryAfterGc() {
      await call('HeapProfiler.collectGarbage');
      await call('HeapProfiler.collectGarbage');
      const r = await call('Runtime.evaluate', { expression: 'JSON.stringify(process.memoryUsage())', returnByValue: true });
      const m = JSON.parse(r.result.value);
      return Object.fromEntries(Object.entries(m).map(([ k, v ]) => [ k, v / 1048576 ]));
    },
    close: () => ws.close(),
  };
}

module.exports = {
  topSelfTime, topAllocations, appDbCounters, appDbDelta, appWorker, inspect,
  root, buildDir, logger, sleep, envNumber, SetupError, freePort, waitForHttp, build, removeBuild, processTree, cpuSeconds, rssMb,
  seedAccounts, api, checkAccount, startOurs, startRelay, dbCommands, commandDelta, describeCommands, percentile, fmt, table, commitId,
};
