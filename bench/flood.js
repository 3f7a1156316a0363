'use strict';
/**
 * npm run bench:flood: does a flood of events over the per-socket limit leave memory behind, or
 * make anything else wait (/healthz is timed every 100 ms during the flood)? What was shed must be
 * 20009 with retryAfterMs, never 50000 (issue #19).
 * Starts our server the production way (as npm run bench: compiled, egg-scripts, one worker,
 * EGG_SERVER_ENV=prod, the embedded FerretDB with seeded users), then from a separate process:
 * FLOOD_SOCKETS sockets (default 200) each emit FLOOD_RATE events per second (default 150; the
 * limit is 100) for FLOOD_SECONDS (default 20), stay connected and idle for FLOOD_IDLE seconds
 * (default 30), then disconnect; 20 s later it looks once more. Prints the app worker's RSS at each
 * stage and, after a full GC (through the worker's inspector, opened with SIGUSR1), its V8 heap,
 * external memory and RSS: the heap after a full GC is what is really retained; RSS above it is
 * memory the allocators keep.
 *
 * FLOOD_EVENT: `to` (default: a 1:1 message to the socket's pair, with an ack callback), `typing`
 * (`to_typing`, never stored) or `bad` (an invalid `to`, refused by the schema). FLOOD_PROFILE=1
 * also prints where the memory still live after the flood was allocated (sampling heap profiler);
 * FLOOD_CPU_PROFILE=1 the worker's hottest functions during the flood.
 */
const { spawn } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const SOCKETS = Number(process.env.FLOOD_SOCKETS || 200);
const RATE = Number(process.env.FLOOD_RATE || 150);
const SECONDS = Number(process.env.FLOOD_SECONDS || 20);
const IDLE = Number(process.env.FLOOD_IDLE || 30);
const EVENT = process.env.FLOOD_EVENT || 'to';
const PROFILE = process.env.FLOOD_PROFILE === '1';
const CPU_PROFILE = process.env.FLOOD_CPU_PROFILE === '1';
const log = msg => process.stderr.write(`[flood] ${msg}\n`);
const sleep = ms => new Promise(r => setTimeout(r, ms));

if (process.argv[2] === '--load') load(JSON.parse(fs.readFileSync(process.argv[3], 'utf8')));
else main().catch(err => { process.stderr.write(`[flood] ${err.stack || err}\n`); process.exit(1); });

/** The load process: connects, floods, idles, disconnects, telling the parent each stage on stdout. */
async function load(job) {
  const { io } = require('socket.io-client');
  const connectOne = user => new Promise((resolve, reject) => {
    const s = io(`${job.url}/chat`, { path: '/ws', transports: [ 'websocket' ], forceNew: true, reconnection: false, timeout: 20000, auth: { token: user.token }, query: { deviceType: 'WEB' } });
    s.once('connect', () => resolve(s));
    s.once('connect_error', reject);
  });
  const sockets = [];
  for (let i = 0; i < job.users.length; i += 50) sockets.push(...await Promise.all(job.users.slice(i, i + 50).map(connectOne)));
  const counts = { sent: 0, ok: 0, limited: 0, withRetryAfter: 0, serverError: 0, otherError: 0, imError: 0, received: 0 };
  for (const s of sockets) {
    s.on('im_error', () => counts.imError++);
    s.on('c_message', () => counts.received++);
  }
  process.stdout.write('CONNECTED\n');
  await sleep(2000);
  process.stdout.write('FLOOD_START\n');
  const tickMs = 50;
  const perTick = job.rate * tickMs / 1000;
  let carry = 0;
  let n = 0;
  const timer = setInterval(() => {
    carry += perTick;
    const k = Math.floor(carry);
    carry -= k;
    sockets.forEach((s, i) => {
      for (let j = 0; j < k; j++) {
        counts.sent++;
        const fp = `flood-${process.pid}-${i}-${n++}`;
        const ack = env => {
          if (env.code === 0) counts.ok++;
          else if (env.code === 20009) {
            counts.limited++;
            if (env.meta.retryAfterMs > 0) counts.withRetryAfter++;
          } else if (env.code === 50000) counts.serverError++;
          else counts.otherError++;
        };
        const peer = job.users[i ^ 1].id;
        if (job.event === 'typing') s.emit('to_typing', { to: peer }, ack);
        else if (job.event === 'bad') s.emit('to', { type: 99, to: peer, content: 'x', fp }, ack);
        else s.emit('to', { type: 1, to: peer, content: `flood ${fp}`, fp }, ack);
      }
    });
  }, tickMs);
  await sleep(job.seconds * 1000);
  clearInterval(timer);
  process.stdout.write('FLOOD_END\n');
  await sleep(job.idle * 1000);
  process.stdout.write(`COUNTS ${JSON.stringify(counts)}\n`);
  for (const s of sockets) s.close();
  process.stdout.write('DISCONNECTED\n');
  await sleep(500);
  process.exit(0);
}

/** The sampling heap profile's live allocations, grouped by their innermost frames. */
function topAllocations(profile, n = 15) {
  const bySite = new Map();
  const walk = (node, stack) => {
    const f = node.callFrame;
    const frame = f.url ? `${f.functionName || '(anon)'} ${f.url.replace(/^.*node_modules\//, '').replace(/^.*bench\/\.build\//, '')}:${f.lineNumber + 1}` : f.functionName;
    const next = frame && frame !== '(root)' ? [ ...stack, frame ].slice(-5) : stack;
    if (node.selfSize) bySite.set(next.join(' < '), (bySite.get(next.join(' < ')) || 0) + node.selfSize);
    for (const c of node.children || []) walk(c, next);
  };
  walk(profile.head, []);
  return [ ...bySite ].sort((a, b) => b[1] - a[1]).slice(0, n)
    .map(([ k, v ]) => `  ${(v / 1048576).toFixed(1).padStart(7)} MB  ${k.split(' < ').reverse().join(' < ')}`).join('\n');
}

/** GET /healthz every 100 ms (each waits for its answer, at most 10 s) until stopped; its latencies. */
function healthProbe(url) {
  const times = [];
  let failed = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      const t = performance.now();
      try {
        const res = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(10000) });
        await res.arrayBuffer();
        if (res.ok) times.push(performance.now() - t); else failed++;
      } catch {
        failed++;
      }
      await sleep(100);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      times.sort((a, b) => a - b);
      const at = p => (times.length ? times[Math.min(times.length - 1, Math.ceil(p / 100 * times.length) - 1)] : undefined);
      return { n: times.length, failed, p50: at(50), p99: at(99), max: times[times.length - 1] };
    },
  };
}

async function main() {
  const bench = require('./lib');
  log(`compiling the app; ${SOCKETS} sockets × ${RATE} ${EVENT} events/s for ${SECONDS} s, then ${IDLE} s idle`);
  bench.build();
  const ferretdb = require('../scripts/ferretdb');
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'im-flood-db-'));
  const db = await ferretdb.start({ dataDir, dbName: 'imflood', logFile: path.join(os.tmpdir(), 'im-flood-ferretdb.log') });
  const rows = [];
  let server;
  let inspector;
  try {
    const jwtSecret = crypto.randomBytes(32).toString('hex');
    const users = await bench.seedAccounts(db.url, SOCKETS + (SOCKETS % 2), jwtSecret, 'flood');
    server = await bench.startOurs({ mongoUrl: db.url, jwtSecret, title: 'im-flood' });
    const worker = bench.appWorker(bench.processTree(server.pid));
    if (!worker) throw new Error('app worker not found');
    const rss = () => bench.rssMb([ worker ]);
    inspector = await bench.inspect(worker);
    const row = async stage => {
      const r = { stage, rss: rss() };
      const m = await inspector.memoryAfterGc();
      Object.assign(r, { heap: m.heapUsed, external: m.external, rssAfterGc: m.rss });
      rows.push(r);
      log(`${stage}: RSS ${r.rss.toFixed(0)} MB; after a full GC: heap ${r.heap.toFixed(0)} MB, external ${r.external.toFixed(0)} MB, RSS ${r.rssAfterGc.toFixed(0)} MB`);
    };
    await sleep(1000);
    await row('started, idle');

    const jobFile = path.join(os.tmpdir(), `im-flood-job-${process.pid}.json`);
    fs.writeFileSync(jobFile, JSON.stringify({ url: server.url, users: users.slice(0, SOCKETS), rate: RATE, seconds: SECONDS, idle: IDLE, event: EVENT }));
    const child = spawn(process.execPath, [ __filename, '--load', jobFile ], { stdio: [ 'ignore', 'pipe', 'inherit' ] });
    let out = '';
    const stages = new Map();
    const waiters = new Map();
    child.stdout.on('data', d => {
      out += d;
      for (const line of out.split('\n').slice(0, -1)) {
        const name = line.split(' ')[0];
        if (name && !stages.has(name)) {
          stages.set(name, line);
          waiters.get(name)?.();
        }
      }
    });
    const exited = new Promise(resolve => child.once('close', resolve));
    const stage = name => (stages.has(name) ? Promise.resolve() : new Promise(resolve => waiters.set(name, resolve)));
    let peak = 0;
    const sampler = setInterval(() => { peak = Math.max(peak, rss()); }, 250);
    await stage('CONNECTED');
    await sleep(1000);
    await row(`${SOCKETS} sockets connected`);
    if (PROFILE) await inspector.call('HeapProfiler.startSampling', { samplingInterval: 16384 });
    if (CPU_PROFILE) {
      await inspector.call('Profiler.enable');
      await inspector.call('Profiler.start');
    }
    await stage('FLOOD_START');
    // does the flood make everything else wait? /healthz, asked every 100 ms from this process
    const health = healthProbe(server.url);
    await stage('FLOOD_END');
    const healthz = await health.stop();
    const cpuProfile = CPU_PROFILE ? bench.topSelfTime((await inspector.call('Profiler.stop')).profile) : null;
    rows.push({ stage: 'end of the flood', rss: rss() });
    await stage('COUNTS');
    // taken while the sockets are still connected
    await row(`after ${IDLE} s idle, sockets connected (peak RSS ${peak.toFixed(0)} MB)`);
    clearInterval(sampler);
    const profile = PROFILE ? (await inspector.call('HeapProfiler.stopSampling')).profile : null;
    await stage('DISCONNECTED');
    await exited;
    await sleep(20000);
    await row('20 s after the sockets left');
    fs.rmSync(jobFile, { force: true });
    const counts = JSON.parse(stages.get('COUNTS').slice('COUNTS '.length));
    const fmt = v => (v === undefined ? '-' : v.toFixed(0));
    process.stdout.write(`\n| stage | worker RSS MB | after a full GC: heap MB | external MB | RSS MB |\n|---|---|---|---|---|\n${
      rows.map(r => `| ${r.stage} | ${fmt(r.rss)} | ${fmt(r.heap)} | ${fmt(r.external)} | ${fmt(r.rssAfterGc)} |`).join('\n')}\n\n`);
    process.stdout.write(`events (${EVENT}, ${SOCKETS} sockets × ${RATE}/s × ${SECONDS} s): ${JSON.stringify(counts)}; ` +
      `unanswered at the end of the idle time: ${counts.sent - counts.ok - counts.limited - counts.serverError - counts.otherError}\n`);
    process.stdout.write(`/healthz during the flood: ${healthz.n} requests, p50 ${fmt(healthz.p50)} ms, p99 ${fmt(healthz.p99)} ms, max ${fmt(healthz.max)} ms` +
      `${healthz.failed ? `, ${healthz.failed} failed` : ''}\n`);
    process.stdout.write(`targets (issue 19): ${counts.serverError ? 'MISS' : 'met '} 0 answered 50000 (${counts.serverError}); ` +
      `${healthz.p99 < 500 ? 'met ' : 'MISS'} /healthz p99 < 500 ms; ${counts.withRetryAfter === counts.limited ? 'met ' : 'MISS'} every 20009 with retryAfterMs (${counts.withRetryAfter} of ${counts.limited})\n`);
    if (cpuProfile) process.stdout.write(`\nCPU profile of the app worker during the flood, self time, ${cpuProfile.sampledMs} ms sampled:\n${cpuProfile.lines}\n`);
    if (profile) process.stdout.write(`\nstill-live allocations made during the flood (sampling heap profile):\n${topAllocations(profile)}\n`);
  } finally {
    inspector?.close();
    if (server) await server.stop();
    await db.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
    fs.rmSync(bench.buildDir, { recursive: true, force: true });
  }
}
