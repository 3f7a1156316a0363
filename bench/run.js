'use strict';
/**
 * npm run bench: our server (one worker, production config, `egg-scripts start --sticky`, the
 * embedded FerretDB) against a bare Socket.IO relay (bench/relay.js), both driven by the same load
 * from a separate process (bench/load.js) on loopback:
 *   1:1     1,000 connected users in 500 pairs, every user sending to its pair with a window of
 *           in-flight messages
 *   fan-out one room of 500 members, a few senders
 * Prints messages delivered per second, to_ack and end-to-end latency, lost and duplicated, the
 * server's CPU and peak RSS, and the ratio of ours to the relay.
 *
 * Options (environment): BENCH_SECONDS (measured seconds per run, default 10), BENCH_WINDOW (1:1
 * in-flight window per sender, default 4), BENCH_ROOM_SENDERS (default 5), BENCH_PROFILE=1 (write
 * CPU profiles of our server to bench/.profile and print its hottest functions).
 */
const { spawn, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const crypto = require('node:crypto');
const net = require('node:net');
const jwt = require('jsonwebtoken');
const { MongoClient, ObjectId } = require('mongodb');
const ferretdb = require('../scripts/ferretdb');

const root = path.resolve(__dirname, '..');
const buildDir = path.join(__dirname, '.build');
const profileDir = path.join(__dirname, '.profile');
const SECONDS = Number(process.env.BENCH_SECONDS || 10);
const WINDOW = Number(process.env.BENCH_WINDOW || 4);
const ROOM_SENDERS = Number(process.env.BENCH_ROOM_SENDERS || 5);
const PROFILE = process.env.BENCH_PROFILE === '1';
const PAIRS_USERS = 1000;
const ROOM_MEMBERS = 500;
const JWT_SECRET = crypto.randomBytes(32).toString('hex');
const log = msg => process.stderr.write(`[bench] ${msg}\n`);

const freePort = () => new Promise((resolve, reject) => {
  const srv = net.createServer();
  srv.unref();
  srv.once('error', reject);
  srv.listen(0, '127.0.0.1', () => { const { port } = srv.address(); srv.close(() => resolve(port)); });
});

async function waitForHttp(url, ms) {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
      if (res.ok) return;
    } catch { /* not yet */ }
    await new Promise(r => setTimeout(r, 250));
  }
  throw new Error(`${url} did not answer within ${ms} ms`);
}

/** Compiles the TypeScript app into bench/.build (the tree stays untouched) as production runs it. */
function build() {
  fs.rmSync(buildDir, { recursive: true, force: true });
  execFileSync(path.join(root, 'node_modules', '.bin', 'tsc'), [ '-p', path.join(__dirname, 'tsconfig.json') ], { cwd: root, stdio: 'inherit' });
  const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
  pkg.egg = { typescript: false };
  fs.writeFileSync(path.join(buildDir, 'package.json'), JSON.stringify(pkg, null, 2));
  fs.copyFileSync(path.join(root, 'lib/plugin/io/package.json'), path.join(buildDir, 'lib/plugin/io/package.json'));
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

/** Seeds users with live sessions (tokens signed like the server's) and one room, straight into the database. */
async function seed(mongoUrl) {
  const client = await MongoClient.connect(mongoUrl);
  const db = client.db();
  const now = new Date();
  const users = Array.from({ length: PAIRS_USERS }, (_, i) => {
    const name = `bench${i}`;
    return {
      _id: new ObjectId(), username: name, usernameLower: name, nickname: name, nicknameLower: name, avatar: '', intro: '',
      passwordHash: 'not-a-login-account', question: '', answerHash: '', profile: {}, role: 'user', presence: 'online',
      createdAt: now, updatedAt: now,
    };
  });
  await db.collection('users').insertMany(users);
  const sessions = users.map(u => ({ _id: new ObjectId(), user: u._id, refreshHash: 'x', revokedAt: null, revokedReason: '', expiresAt: new Date(Date.now() + 3600e3), userAgent: 'bench', ip: '127.0.0.1', createdAt: now, updatedAt: now }));
  await db.collection('sessions').insertMany(sessions);
  const members = users.slice(0, ROOM_MEMBERS);
  const roomId = new ObjectId();
  await db.collection('rooms').insertOne({
    _id: roomId, name: 'bench-room', nameLower: 'bench-room', intro: '', notice: '', avatar: '', visibility: 'public',
    owner: members[0]._id, members: members.map(m => m._id), createdAt: now, updatedAt: now,
  });
  await db.collection('conversations').insertOne({ _id: String(roomId), typeu: 2, room: roomId, users: [], lastSeq: 0, updatedAt: now });
  await db.collection('memberships').insertMany(members.map(m => ({
    user: m._id, conversationId: String(roomId), typeu: 2, room: roomId, deliveredSeq: 0, readSeq: 0, joinedSeq: 0, hidden: [],
  })));
  await client.close();
  const tokens = users.map((u, i) => ({ id: String(u._id), token: jwt.sign({ sub: String(u._id), sid: String(sessions[i]._id) }, JWT_SECRET, { algorithm: 'HS256', expiresIn: 3600 }) }));
  return { users: tokens, roomId: String(roomId) };
}

/** `nodeArgs`: more egg-scripts arguments, e.g. `--node-options--heapsnapshot-signal=SIGUSR2`. */
async function startOurs(mongoUrl, nodeArgs = []) {
  const port = await freePort();
  const env = {
    ...process.env, EGG_SERVER_ENV: 'prod', NODE_ENV: 'production', MONGODB_URL: mongoUrl, JWT_SECRET, PORT: String(port),
    HOST: '127.0.0.1', REDIS_URL: '',
  };
  // node flags given to egg-scripts reach the master and, through it, the agent and the worker
  const profile = PROFILE ? [ '--node-options--cpu-prof', `--node-options--cpu-prof-dir=${profileDir}` ] : [];
  if (PROFILE) fs.rmSync(profileDir, { recursive: true, force: true });
  const child = spawn(path.join(root, 'node_modules', '.bin', 'egg-scripts'),
    [ 'start', ...profile, ...nodeArgs, '--workers=1', '--sticky', `--port=${port}`, '--title=im-bench', buildDir ],
    { env, stdio: [ 'ignore', 'pipe', 'pipe' ], detached: true });
  let output = '';
  child.stdout.on('data', d => { output += d; });
  child.stderr.on('data', d => { output += d; });
  try {
    await waitForHttp(`http://127.0.0.1:${port}/readyz`, 60000);
  } catch (err) {
    process.stderr.write(output);
    throw err;
  }
  return {
    url: `http://127.0.0.1:${port}`, pid: child.pid,
    stop: () => new Promise(resolve => {
      child.once('exit', resolve);
      process.kill(-child.pid, 'SIGTERM');
      setTimeout(() => { try { process.kill(-child.pid, 'SIGKILL'); } catch { /* gone */ } }, 10000).unref();
    }),
  };
}

async function startRelay() {
  const child = spawn(process.execPath, [ path.join(__dirname, 'relay.js'), '0' ], { stdio: [ 'ignore', 'pipe', 'inherit' ] });
  const port = await new Promise((resolve, reject) => {
    child.stdout.once('data', d => resolve(Number(/listening (\d+)/.exec(String(d))[1])));
    child.once('exit', code => reject(new Error(`relay exited with ${code}`)));
  });
  return { url: `http://127.0.0.1:${port}`, pid: child.pid, stop: () => new Promise(resolve => { child.once('exit', resolve); child.kill('SIGTERM'); }) };
}

/** Runs one load against a server, sampling the server's (and the database's) CPU and RSS meanwhile. */
async function runLoad(server, job, dbPid) {
  const pids = () => processTree(server.pid);
  let peakRss = rssMb(pids());
  const sampler = setInterval(() => { peakRss = Math.max(peakRss, rssMb(pids())); }, 250);
  // the job (1,000 tokens) is too big for argv: it goes through a file
  const jobFile = path.join(os.tmpdir(), `im-bench-job-${process.pid}.json`);
  fs.writeFileSync(jobFile, JSON.stringify({ ...job, url: server.url }));
  const load = spawn(process.execPath, [ path.join(__dirname, 'load.js'), jobFile ], { stdio: [ 'ignore', 'pipe', 'inherit' ] });
  const exited = new Promise(resolve => load.once('close', resolve)); // 'close': stdout is read to the end
  // CPU is counted over the measured window only (after connecting and warming up)
  let cpu0 = 0;
  let db0 = 0;
  let t0 = 0;
  let cpu = 0;
  let dbCpu = null;
  let out = '';
  load.stdout.on('data', d => {
    out += d;
    if (!t0 && out.includes('MEASURE_START\n')) {
      t0 = Date.now();
      cpu0 = cpuSeconds(pids());
      db0 = dbPid ? cpuSeconds([ dbPid ]) : 0;
    }
    if (t0 && !cpu && out.includes('MEASURE_END\n')) {
      const wall = (Date.now() - t0) / 1000;
      cpu = (cpuSeconds(pids()) - cpu0) / wall * 100;
      if (dbPid) dbCpu = (cpuSeconds([ dbPid ]) - db0) / wall * 100;
    }
  });
  const code = await exited;
  fs.rmSync(jobFile, { force: true });
  clearInterval(sampler);
  if (code !== 0) throw new Error(`load generator failed (${code})`);
  const result = JSON.parse(out.trim().split('\n').pop());
  return { ...result, cpu, dbCpu, peakRss };
}

const fmt = (v, digits = 1) => (v === null || v === undefined ? '-' : typeof v === 'number' ? v.toFixed(digits) : String(v));

function table(rows) {
  const head = [ 'load', 'server', 'msgs/s delivered', 'to_ack p50 ms', 'to_ack p99 ms', 'e2e p50 ms', 'e2e p99 ms', 'lost', 'dup', 'refused', 'server CPU %', 'db CPU %', 'peak RSS MB', 'ours/relay' ];
  const body = rows.map(r => [ r.load, r.server, String(r.deliveredPerSec), fmt(r.ackP50), fmt(r.ackP99), fmt(r.e2eP50), fmt(r.e2eP99), String(r.lost), String(r.dup), String(r.refused), fmt(r.cpu, 0), fmt(r.dbCpu, 0), fmt(r.peakRss, 0), r.ratio ?? '' ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map(b => b[i].length)));
  const line = cells => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
  return [ line(head), `|${widths.map(w => '-'.repeat(w + 2)).join('|')}|`, ...body.map(line) ].join('\n');
}

/** The hottest functions (self time) of the worker's CPU profile. */
function summarizeProfile() {
  const files = fs.readdirSync(profileDir).map(f => path.join(profileDir, f));
  // the app worker's profile is the largest
  const file = files.sort((a, b) => fs.statSync(b).size - fs.statSync(a).size)[0];
  const prof = JSON.parse(fs.readFileSync(file, 'utf8'));
  const self = new Map();
  const dt = (prof.endTime - prof.startTime) / prof.samples.length / 1000; // ms per sample
  const byId = new Map(prof.nodes.map(n => [ n.id, n ]));
  const counts = new Map();
  for (const s of prof.samples) counts.set(s, (counts.get(s) || 0) + 1);
  let total = 0;
  for (const [ id, c ] of counts) {
    const n = byId.get(id);
    const where = n.callFrame.url ? n.callFrame.url.replace(/^.*node_modules\//, '').replace(/^file:\/\/.*bench\/\.build\//, '') : '';
    const key = `${n.callFrame.functionName || '(anonymous)'} ${where}:${n.callFrame.lineNumber + 1}`;
    self.set(key, (self.get(key) || 0) + c);
    total += c;
  }
  const top = [ ...self ].sort((a, b) => b[1] - a[1]).slice(0, 25);
  return `CPU profile of the app worker (${path.basename(file)}), self time, ${Math.round(total * dt)} ms sampled:\n` +
    top.map(([ k, c ]) => `  ${(c / total * 100).toFixed(1).padStart(5)}%  ${k}`).join('\n');
}

async function main() {
  const started = Date.now();
  log('compiling the app into bench/.build');
  build();
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'im-bench-db-'));
  const db = await ferretdb.start({ dataDir, dbName: 'imbench', logFile: path.join(os.tmpdir(), 'im-bench-ferretdb.log') });
  const rows = [];
  try {
    const { users, roomId } = await seed(db.url);
    const pairsJob = { mode: 'pairs', users, window: WINDOW, warmupMs: 2000, durationMs: SECONDS * 1000 };
    const roomJob = { mode: 'room', users: users.slice(0, ROOM_MEMBERS), roomId, senders: ROOM_SENDERS, window: 2, warmupMs: 2000, durationMs: SECONDS * 1000 };

    log('bare relay');
    const relay = await startRelay();
    let relayPairs;
    let relayRoom;
    try {
      relayPairs = await runLoad(relay, pairsJob, null);
      relayRoom = await runLoad(relay, roomJob, null);
    } finally {
      await relay.stop();
    }

    log('our server (egg-scripts, 1 worker, prod config, embedded FerretDB)');
    const ours = await startOurs(db.url);
    let oursPairs;
    let oursRoom;
    try {
      oursPairs = await runLoad(ours, pairsJob, db.pid);
      oursRoom = await runLoad(ours, roomJob, db.pid);
    } finally {
      await ours.stop();
    }
    const ratio = (a, b) => (b.deliveredPerSec ? (a.deliveredPerSec / b.deliveredPerSec).toFixed(2) : '-');
    rows.push(
      { load: '1:1 (500 pairs)', server: 'bare relay', ...relayPairs },
      { load: '1:1 (500 pairs)', server: 'im-server', ...oursPairs, ratio: ratio(oursPairs, relayPairs) },
      { load: `fan-out (500 members, ${ROOM_SENDERS} senders)`, server: 'bare relay', ...relayRoom },
      { load: `fan-out (500 members, ${ROOM_SENDERS} senders)`, server: 'im-server', ...oursRoom, ratio: ratio(oursRoom, relayRoom) },
    );
  } finally {
    await db.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
    fs.rmSync(buildDir, { recursive: true, force: true });
  }
  process.stdout.write(`\n${table(rows)}\n\n`);
  process.stdout.write(`${SECONDS} s measured per run after 2 s warm-up; 1:1 window ${WINDOW} per sender; ${os.cpus().length} CPUs (${os.cpus()[0].model}); ` +
    `server CPU % is the whole process tree (100 = one core); fan-out msgs/s counts deliveries (one message to 499 members = 499).\n`);
  const refusals = rows.filter(r => r.refused).map(r => `${r.server} ${r.load}: ${JSON.stringify(r.refusals)}`);
  if (refusals.length) process.stdout.write(`refused sends by code: ${refusals.join('; ')}\n`);
  if (PROFILE) process.stdout.write(`\n${summarizeProfile()}\n`);
  log(`done in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  if (rows.some(r => r.lost || r.dup)) process.exitCode = 1;
}

module.exports = { build, seed, startOurs, processTree, rssMb, buildDir };

if (require.main === module) {
  main().catch(err => {
    process.stderr.write(`[bench] ${err.stack || err}\n`);
    process.exit(1);
  });
}
