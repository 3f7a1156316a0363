'use strict';
/**
 * npm run bench: our server (one worker, production config, `egg-scripts start --sticky`, the
 * embedded FerretDB) against a bare Socket.IO relay (bench/relay.js), both driven by the same
 * client process (bench/load.js) on loopback. For each server, in order:
 *
 *   connect storm  1,000 users connect at once; measured until every socket is connected and has
 *                  its first `offline_message` answered. Setup: if it does not complete within
 *                  BENCH_SETUP_TIMEOUT the benchmark stops with exit code 1 and says how far it got.
 *   1:1            the same 1,000 users in 500 pairs, each keeping BENCH_WINDOW messages in flight,
 *                  then again with a window of 1 (the latency target is set at window 1)
 *   fan-out        one room of 500 members (created through the REST API), BENCH_ROOM_SENDERS senders
 *
 * Each load is measured over its own window that opens only after the storm finished and the load
 * warmed up. Every recipient acks every `c_message`. Printed per load: messages delivered per
 * second, to_ack and end-to-end latency, lost and duplicated, refusals, the server's CPU (% and ms
 * per 1,000 delivered messages), the database's CPU and commands per delivered message (FerretDB's
 * own counters), peak RSS and ours/relay. Exit code 1 when setup fails, a load delivered nothing,
 * or anything acked was lost or delivered twice.
 *
 * Options (environment): BENCH_SECONDS (measured seconds per load, default 10), BENCH_WARMUP (seconds,
 * default 2), BENCH_WINDOW (1:1 in-flight window per sender, default 4), BENCH_ROOM_SENDERS (default 5),
 * BENCH_USERS (default 1000), BENCH_ROOM_MEMBERS (default 500, at most 501), BENCH_SETUP_TIMEOUT
 * (seconds, default 300), BENCH_DRAIN (seconds a load waits for its last acks, default 30), BENCH_PROFILE=1 (CPU profiles of our app worker over the storm and each
 * measured window, through its inspector; hottest functions printed; with BENCH_PROFILE_DIR also saved there as .cpuprofile files; with BENCH_PROFILE_ALLOC=1 also the sampled allocations by function, collected ones included), BENCH_ACK=0 (recipients do not ack: not what clients do, only to see what acks
 * cost), BENCH_ONLY=ours|relay (one side only, for development; exits 1 as incomplete), BENCH_WEBHOOKS=1
 * (webhooks for message.created, user.online and user.offline to a receiver process of its own, bench/webhook-sink.js),
 * BENCH_CEILING_SECONDS (default 5; 0 skips the ceiling), BENCH_MONGODB_URL (run our server and the ceiling against
 * that MongoDB instead of the embedded FerretDB; its databases imbench and imceiling are dropped and refilled).
 *
 * The database ceiling: after our server stopped, the database alone does each load's command mix as our
 * server's own counters saw it (documents written per delivered message by collection and operation, in
 * the server's batch sizes, and its reads), bench/ceiling.js; printed as "ours / database ceiling".
 */
const { fork } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const crypto = require('node:crypto');
const ferretdb = require('../scripts/ferretdb');
const {
  logger, sleep, envNumber, SetupError, build, removeBuild, processTree, cpuSeconds, rssMb, seedAccounts, api, checkAccount,
  startOurs, startRelay, dbCommands, commandDelta, describeCommands, fmt, table, commitId, topSelfTime, topAllocations, appDbCounters, appDbDelta,
  appWorker, inspect,
} = require('./lib');
const { startWebhookSink } = require('./webhook-sink');
const { measureCeiling, mixOf, withDatabase } = require('./ceiling');

const log = logger('bench');
const SECONDS = envNumber('BENCH_SECONDS', 10);
const WARMUP = envNumber('BENCH_WARMUP', 2);
const WINDOW = envNumber('BENCH_WINDOW', 4);
const ROOM_SENDERS = envNumber('BENCH_ROOM_SENDERS', 5);
const USERS = envNumber('BENCH_USERS', 1000);
const ROOM_MEMBERS = Math.min(envNumber('BENCH_ROOM_MEMBERS', 500), USERS, 501); // POST /api/rooms takes 500 members besides the owner
const SETUP_TIMEOUT = envNumber('BENCH_SETUP_TIMEOUT', 300);
const DRAIN = envNumber('BENCH_DRAIN', 30);
const PROFILE = process.env.BENCH_PROFILE === '1';
const PROFILE_ALLOC = PROFILE && [ '1', 'live' ].includes(process.env.BENCH_PROFILE_ALLOC);
const PROFILE_LIVE = PROFILE && process.env.BENCH_PROFILE_ALLOC === 'live';
const PROFILE_DIR = process.env.BENCH_PROFILE_DIR || ''; // where BENCH_PROFILE also saves each profile (.cpuprofile: Chrome's DevTools open them)
const ACK = process.env.BENCH_ACK !== '0'; // 0: recipients do not ack (not what clients do: only to see what acks cost)
const ONLY = process.env.BENCH_ONLY || ''; // 'ours' | 'relay': one side only, for development
const WEBHOOKS = process.env.BENCH_WEBHOOKS === '1';
const JWT_SECRET = crypto.randomBytes(32).toString('hex');
// our server's /metrics count what each load costs the database (documents written, batch sizes, reads)
const METRICS_TOKEN = process.env.METRICS_TOKEN || crypto.randomBytes(16).toString('hex');
const CEILING_SECONDS = envNumber('BENCH_CEILING_SECONDS', 5);
const MONGODB_URL = process.env.BENCH_MONGODB_URL || '';

/** The load process, driven one command at a time. */
function startLoad() {
  const child = fork(path.join(__dirname, 'load.js'), [], { stdio: [ 'ignore', 'inherit', 'inherit', 'ipc' ] });
  let next = 0;
  const waiting = new Map();
  child.on('message', msg => {
    const w = waiting.get(msg.id);
    if (!w) return;
    waiting.delete(msg.id);
    if (msg.ok) w.resolve(msg.result); else w.reject(new Error(msg.error));
  });
  child.once('exit', code => {
    for (const w of waiting.values()) w.reject(new Error(`load generator exited (${code})`));
    waiting.clear();
  });
  return {
    send: (cmd, args = {}) => new Promise((resolve, reject) => {
      const id = next++;
      waiting.set(id, { resolve, reject });
      child.send({ ...args, cmd, id });
    }),
    kill: () => { if (child.exitCode === null) child.kill(); },
  };
}

/**
 * Samples CPU (server tree, database), the database's command counters and our server's own database
 * counters (`metricsToken`); diff two samples with `since`.
 */
function sampler(server, db, metricsToken) {
  const take = async () => ({
    at: Date.now(), cpu: cpuSeconds(processTree(server.pid)), dbCpu: db && db.pid ? cpuSeconds([ db.pid ]) : null,
    cmds: db ? await dbCommands(db.metricsUrl) : null, app: metricsToken ? await appDbCounters(server.url, metricsToken) : null,
  });
  const since = async a => {
    const b = await take();
    return {
      wall: (b.at - a.at) / 1000, cpu: b.cpu - a.cpu, dbCpu: a.dbCpu === null ? null : b.dbCpu - a.dbCpu, cmds: db ? commandDelta(a.cmds, b.cmds) : null,
      app: appDbDelta(a.app, b.app),
    };
  };
  return { take, since };
}

/** Everything measured against one server: the storm, then each load. */
async function measureServer(name, server, db, users, loads, roomQuery, metricsToken = null, inspector = null) {
  const s = sampler(server, db, metricsToken);
  // BENCH_PROFILE: the app worker's CPU profile of the storm and of each load's measured window
  const profiled = async work => {
    if (!inspector) return [ await work(), null ];
    await inspector.call('Profiler.start');
    // BENCH_PROFILE_ALLOC: where the garbage comes from (objects the GC collected are counted too)
    // (=live: only what is still held at the end, after a full GC: where a growing heap was allocated)
    if (PROFILE_ALLOC) await inspector.call('HeapProfiler.startSampling', { samplingInterval: 32768, includeObjectsCollectedByMajorGC: !PROFILE_LIVE, includeObjectsCollectedByMinorGC: !PROFILE_LIVE });
    try {
      return [ await work(), null ];
    } finally {
      const { profile } = await inspector.call('Profiler.stop');
      profiledLast = topSelfTime(profile);
      if (PROFILE_LIVE) await inspector.memoryAfterGc();
      if (PROFILE_ALLOC) profiledLast.alloc = topAllocations((await inspector.call('HeapProfiler.stopSampling')).profile);
      // what stays once the garbage is gone: a heap that grows load after load is held by something
      profiledLast.memory = await inspector.memoryAfterGc();
      if (PROFILE_DIR) {
        fs.mkdirSync(PROFILE_DIR, { recursive: true });
        fs.writeFileSync(path.join(PROFILE_DIR, `${name}-${String(++profilesSaved).padStart(2, '0')}.cpuprofile`), JSON.stringify(profile));
      }
    }
  };
  let profiledLast = null;
  let profilesSaved = 0;
  const load = startLoad();
  const out = { name, storm: null, loads: [] };
  try {
    log(`${name}: connect storm, ${users.length} users`);
    const before = await s.take();
    try {
      [ out.storm ] = await profiled(() => load.send('setup', { url: server.url, users, roomQuery, timeoutMs: SETUP_TIMEOUT * 1000, ack: ACK }));
      out.storm.profile = profiledLast;
    } catch (err) {
      throw new SetupError(`${name}: ${err.message}`);
    }
    const d = await s.since(before);
    Object.assign(out.storm, { cpuMs: d.cpu * 1000, dbCpuMs: d.dbCpu === null ? null : d.dbCpu * 1000, cmds: d.cmds });
    log(`${name}: storm done in ${(out.storm.stormMs / 1000).toFixed(1)} s`);
    await sleep(1000);

    let backlog = 0; // sends of the previous load the server had not answered yet: this load shares the server with them
    for (const spec of loads) {
      log(`${name}: ${spec.label}`);
      const pids = processTree(server.pid);
      let peakRss = rssMb(pids);
      const rss = setInterval(() => { peakRss = Math.max(peakRss, rssMb(processTree(server.pid))); }, 250);
      try {
        await load.send('start', spec.job);
        await sleep(WARMUP * 1000);
        const a = await s.take();
        await load.send('mark');
        await profiled(() => sleep(SECONDS * 1000));
        await load.send('markEnd');
        const w = await s.since(a);
        const r = await load.send('stop', { drainMs: DRAIN * 1000 });
        out.loads.push({
          label: spec.label, ...r, peakRss, backlog,
          cpuPct: w.cpu / w.wall * 100, dbCpuPct: w.dbCpu === null ? null : w.dbCpu / w.wall * 100,
          cpuMsPer1k: r.delivered ? w.cpu * 1000 / r.delivered * 1000 : null,
          dbCpuMsPer1k: r.delivered && w.dbCpu !== null ? w.dbCpu * 1000 / r.delivered * 1000 : null,
          cmds: w.cmds, cmdsPerMsg: w.cmds && r.delivered ? w.cmds.total / r.delivered : null,
          profile: profiledLast, appDb: w.app, docsPerMsg: w.app && r.delivered ? Object.values(w.app.written).reduce((x, y) => x + y, 0) / r.delivered : null,
        });
      } finally {
        clearInterval(rss);
      }
      backlog += out.loads[out.loads.length - 1].unanswered;
      await sleep(500);
    }
  } finally {
    await load.send('close').catch(() => {});
    load.kill();
  }
  return out;
}

function report(relay, ours) {
  const lines = [];
  const ratio = (a, b) => (a !== null && b ? (a / b).toFixed(2) : '-');
  const storms = [ relay, ours ].filter(x => x && x.storm);
  lines.push(table(
    [ 'connect storm', 'server', 'seconds', 'per socket p50 ms', 'p99 ms', 'retries', 'server CPU ms/conn', 'db CPU ms/conn', 'db cmds/conn', 'ours/relay' ],
    storms.map(x => [
      `${x.storm.users} users`, x.name, fmt(x.storm.stormMs / 1000, 2), fmt(x.storm.p50, 0), fmt(x.storm.p99, 0), x.storm.retries,
      fmt(x.storm.cpuMs / x.storm.users, 2), x.storm.dbCpuMs === null ? '-' : fmt(x.storm.dbCpuMs / x.storm.users, 2),
      x.storm.cmds ? fmt(x.storm.cmds.total / x.storm.users, 1) : '-',
      x === ours && relay && relay.storm ? ratio(ours.storm.stormMs, relay.storm.stormMs) : '',
    ]),
  ));
  const rows = [];
  const labels = [ ...new Set([ ...(relay ? relay.loads : []), ...(ours ? ours.loads : []) ].map(l => l.label)) ];
  for (const label of labels) {
    const r = relay && relay.loads.find(l => l.label === label);
    const o = ours && ours.loads.find(l => l.label === label);
    for (const [ x, name ] of [ [ r, 'bare relay' ], [ o, 'im-server' ] ]) {
      if (!x) continue;
      rows.push([
        label, name, x.deliveredPerSec, fmt(x.ackP50), fmt(x.ackP99), fmt(x.e2eP50), fmt(x.e2eP99), fmt(x.ackAnswerP50), fmt(x.ackAnswerP99), x.lost, x.dup, x.refused, x.unanswered,
        fmt(x.cpuPct, 0), fmt(x.cpuMsPer1k, 0), fmt(x.dbCpuPct, 0), fmt(x.dbCpuMsPer1k, 0), fmt(x.cmdsPerMsg, 2), fmt(x.docsPerMsg, 2), fmt(x.peakRss, 0),
        x === o && r ? ratio(o.deliveredPerSec, r.deliveredPerSec) : '',
      ]);
    }
  }
  lines.push('', table(
    [ 'load', 'server', 'msgs/s delivered', 'to_ack p50 ms', 'to_ack p99 ms', 'e2e p50 ms', 'e2e p99 ms', 'ack answered p50 ms', 'ack answered p99 ms', 'lost', 'dup', 'refused', 'unanswered',
      'server CPU %', 'server CPU ms/1k msgs', 'db CPU %', 'db CPU ms/1k msgs', 'db cmds/msg', 'db docs written/msg', 'peak RSS MB', 'ours/relay' ],
    rows,
  ));
  const ceilings = ours ? ours.loads.filter(l => l.ceiling) : [];
  if (ceilings.length) {
    lines.push('', table(
      [ 'load', 'ours msgs/s delivered', 'database ceiling msgs/s', 'ours / database ceiling', 'ceiling bound by' ],
      ceilings.map(l => [ l.label, l.deliveredPerSec, fmt(l.ceiling.deliveredPerSec, 0), ratio(l.deliveredPerSec, l.ceiling.deliveredPerSec), l.ceiling.binding ]),
    ));
  }
  return lines.join('\n');
}

/** The issue's targets (#19), each with what this run reached (informational: the exit code is about correctness). */
function targets(relay, ours, w1Label, roomLabel, wLabel) {
  if (!relay || !ours) return '';
  const find = (x, label) => x.loads.find(l => l.label === label);
  const out = [];
  const line = (ok, text) => out.push(`${ok ? 'met ' : 'MISS'}  ${text}`);
  const rw1 = find(relay, w1Label);
  const ow1 = find(ours, w1Label);
  if (rw1 && ow1) {
    const r = ow1.deliveredPerSec / (rw1.deliveredPerSec || 1);
    line(r >= 0.2 && typeof ow1.ackP99 === 'number' && ow1.ackP99 < 250, `1:1 at window 1 ≥ 0.2× relay with to_ack p99 < 250 ms: ${r.toFixed(2)}×, p99 ${fmt(ow1.ackP99)} ms`);
    if (rw1.cpuMsPer1k && ow1.cpuMsPer1k) {
      const c = ow1.cpuMsPer1k / rw1.cpuMsPer1k;
      line(c <= 3, `server CPU per delivered 1:1 message ≤ 3× relay: ${c.toFixed(1)}×`);
    }
  }
  const rr = find(relay, roomLabel);
  const or = find(ours, roomLabel);
  if (rr && or) {
    const r = or.deliveredPerSec / (rr.deliveredPerSec || 1);
    line(r >= 0.4, `fan-out ≥ 0.4× relay: ${r.toFixed(2)}×`);
  }
  if (relay.storm && ours.storm) {
    const r = ours.storm.stormMs / relay.storm.stormMs;
    line(r <= 3, `connect storm ≤ 3× relay: ${r.toFixed(2)}×`);
    const c = (ours.storm.cpuMs / ours.storm.users) / (relay.storm.cpuMs / relay.storm.users);
    line(c <= 2, `server CPU per connection ≤ 2× relay: ${c.toFixed(1)}×`);
  }
  for (const l of [ ow1, or ].filter(Boolean)) {
    const acks = Object.values(l.ackRefusals).reduce((a, b) => a + b, 0);
    line(!l.refused && !acks, `${l.label}: 0 refused, no ack refused: ${l.refused} sends, ${acks} acks refused`);
  }
  for (const l of ours.loads) {
    const e = (l.refusals[50000] || 0) + (l.ackRefusals[50000] || 0) + (l.errors[50000] || 0);
    line(!e, `${l.label}: 0 answered 50000: ${e}`);
  }
  const ow = wLabel && find(ours, wLabel);
  if (ow && ow.refused) line(ow.withRetryAfter === ow.refused, `${ow.label}: refusals carry retryAfterMs: ${ow.withRetryAfter} of ${ow.refused} (p50 ${ow.retryAfterP50} ms)`);
  const bad = ours.loads.filter(l => l.lost || l.dup);
  line(!bad.length, '0 lost, 0 duplicated');
  return `Targets (issue 19):\n${out.map(l => `  ${l}`).join('\n')}`;
}

/** BENCH_MONGODB_URL: an existing MongoDB (no FerretDB started; its CPU and command counters are not measured). */
async function mongodbAt(url) {
  const { MongoClient } = require('mongodb');
  const client = await MongoClient.connect(url);
  await client.db().dropDatabase();
  await client.close();
  return {
    url, pid: null, metricsUrl: null,
    async stop() {
      const c = await MongoClient.connect(url);
      await c.db().dropDatabase().catch(() => {});
      await c.close();
    },
  };
}

async function main() {
  const started = Date.now();
  const commit = commitId();
  if (USERS < 2) throw new SetupError('BENCH_USERS must be at least 2');
  log('compiling the app into bench/.build');
  build();
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'im-bench-db-'));
  const db = MONGODB_URL ? await mongodbAt(withDatabase(MONGODB_URL, 'imbench'))
    : await ferretdb.start({ dataDir, dbName: 'imbench', logFile: path.join(os.tmpdir(), 'im-bench-ferretdb.log') });
  const pairsLabel = w => `1:1 (${Math.floor(USERS / 2)} pairs, window ${w})`;
  const roomLabel = `fan-out (${ROOM_MEMBERS} members, ${ROOM_SENDERS} senders)`;
  // the heaviest load last: what a slow server has not answered when a load ends weighs on the loads after it
  const loadsFor = roomId => [
    { label: pairsLabel(1), job: { tag: 'w', mode: 'pairs', window: 1 } },
    { label: roomLabel, job: { tag: 'r', mode: 'room', window: 2, senders: ROOM_SENDERS, roomId, members: ROOM_MEMBERS } },
    ...(WINDOW !== 1 ? [ { label: pairsLabel(WINDOW), job: { tag: 'p', mode: 'pairs', window: WINDOW } } ] : []),
  ];
  let relay = null;
  let ours = null;
  let failure = null;
  let webhookSink = null;
  try {
    log(`seeding ${USERS} accounts`);
    const users = await seedAccounts(db.url, USERS, JWT_SECRET);

    if (ONLY !== 'ours') {
      log('bare relay');
      const relayServer = await startRelay();
      try {
        relay = await measureServer('bare relay', relayServer, null, users, loadsFor('bench-room'), 'bench-room');
      } finally {
        await relayServer.stop();
      }
    }

    if (ONLY === 'relay') throw new SetupError('BENCH_ONLY=relay: our server was not measured');
    log(`our server (egg-scripts, 1 worker, prod config, embedded FerretDB${WEBHOOKS ? ', webhooks' : ''}${process.env.METRICS_TOKEN ? ', metrics' : ''})`);
    webhookSink = WEBHOOKS ? await startWebhookSink(db.url) : null;
    const server = await startOurs({ mongoUrl: db.url, jwtSecret: JWT_SECRET, metricsToken: METRICS_TOKEN });
    let inspector = null;
    try {
      if (PROFILE) {
        inspector = await inspect(appWorker(processTree(server.pid)));
        await inspector.call('Profiler.enable');
      }
      await checkAccount(server.url, users[0]);
      // the room goes through the API so membership is whatever the server keeps
      const room = await api(server.url, users[0].token, 'POST', '/api/rooms',
        { name: `bench-room-${crypto.randomBytes(3).toString('hex')}`, members: users.slice(1, ROOM_MEMBERS).map(u => u.id) });
      ours = await measureServer('im-server', server, db, users, loadsFor(String(room._id)), null, METRICS_TOKEN, inspector);
    } finally {
      inspector?.close();
      await server.stop();
      await webhookSink?.stop();
    }
    // the database alone, our server stopped, doing what each load cost it
    for (const l of CEILING_SECONDS > 0 ? ours.loads : []) {
      const mix = l.appDb && mixOf(l.appDb, l.delivered);
      if (!mix) continue;
      log(`database ceiling: ${l.label}`);
      l.ceiling = await measureCeiling({ sourceUrl: db.url, targetUrl: withDatabase(db.url, 'imceiling'), mix, seconds: CEILING_SECONDS });
    }
  } catch (err) {
    failure = err;
  } finally {
    await db.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
    removeBuild();
  }

  process.stdout.write(`\n${report(relay, ours)}\n\n`);
  process.stdout.write(`Commit ${commit}; ${SECONDS} s measured per load after the storm and ${WARMUP} s of warm-up; ${os.cpus().length} CPUs ` +
    `(${os.cpus()[0].model}), load average ${os.loadavg().map(l => l.toFixed(1)).join(' ')}. Server CPU is the whole process tree ` +
    '(100% = one core), the database (FerretDB) is counted apart; db cmds are the commands FerretDB received (driver heartbeats ' +
    `left out) over the window, per delivered message; fan-out counts deliveries (one message to ${ROOM_MEMBERS - 1} members = ${ROOM_MEMBERS - 1}); ` +
    `unanswered = sends still without to_ack ${DRAIN} s after the load stopped (not counted as lost: never acked; ` +
    'in the to_ack columns they count with the time they waited, shown as ≥); ack answered = from a recipient\'s c_message_ack ' +
    'sent in the window to its answer (acks still unanswered when the load stopped count with the time they waited, ≥). ' +
    'Two shared cores run the server, the database, the relay and the load generator: figures are noisy, compare within one run.\n');
  const notes = [];
  for (const [ x, name ] of [ [ relay, 'bare relay' ], [ ours, 'im-server' ] ]) {
    if (!x) continue;
    for (const l of x.loads) {
      if (l.refused) notes.push(`${name}, ${l.label}: ${l.refused} sends refused ${JSON.stringify(l.refusals)}, ${l.withRetryAfter} with retryAfterMs (p50 ${l.retryAfterP50} ms; retried after it with the same fp)`);
      if (Object.keys(l.ackRefusals).length) notes.push(`${name}, ${l.label}: c_message_ack refused ${JSON.stringify(l.ackRefusals)}`);
      if (Object.keys(l.errors).length) notes.push(`${name}, ${l.label}: im_error ${JSON.stringify(l.errors)}`);
      notes.push(`${name}, ${l.label}: ${l.sent} sent, ${l.acked} acked over the whole load (warm-up, window and drain)`);
      if (l.unanswered) notes.push(`${name}, ${l.label}: ${l.unanswered} sends not answered within ${DRAIN} s after the load stopped`);
      if (l.backlog) notes.push(`${name}, ${l.label}: ran while up to ${l.backlog} sends of the loads before it were still unanswered`);
    }
  }
  if (webhookSink) {
    const received = Object.values(webhookSink.counts).reduce((a, b) => a + b, 0);
    notes.push(`im-server webhook deliveries received: ${JSON.stringify(webhookSink.counts)}; the receiver (its own process on the same cores) used ${fmt(webhookSink.cpuSeconds)} s of CPU, ${received ? fmt(webhookSink.cpuSeconds * 1e6 / received) : '-'} µs per delivery`);
  }
  if (ours) {
    if (ours.storm && ours.storm.cmds) notes.push(`im-server connect storm, database commands: ${describeCommands(ours.storm.cmds)}`);
    for (const l of ours.loads) notes.push(`im-server ${l.label}, database commands: ${describeCommands(l.cmds)}`);
    for (const l of ours.loads) {
      const mix = l.appDb && mixOf(l.appDb, l.delivered);
      if (mix) notes.push(`im-server ${l.label}, documents written per delivered message: ${mix.writes.sort((a, b) => b.perMsg - a.perMsg)
        .map(w => `${w.collection} ${w.op} ${w.perMsg.toFixed(3)} (batch ${w.batch})`).join(', ')}; reads ${mix.readsPerMsg.toFixed(3)}`);
    }
  }
  if (notes.length) process.stdout.write(`${notes.join('\n')}\n`);
  const t = targets(relay, ours, pairsLabel(1), roomLabel, WINDOW !== 1 ? pairsLabel(WINDOW) : null);
  if (t) process.stdout.write(`\n${t}\n`);
  for (const x of PROFILE && ours ? [ { label: 'connect storm', profile: ours.storm && ours.storm.profile }, ...ours.loads ] : []) {
    if (x.profile) process.stdout.write(`\nCPU profile of the app worker, ${x.label} (measured window), self time, ${x.profile.sampledMs} ms sampled:\n${x.profile.lines}\n`);
    if (x.profile?.memory) process.stdout.write(`\nMemory of the app worker after ${x.label}, after a full GC (MB): ${Object.entries(x.profile.memory).map(([ k, v ]) => `${k} ${Math.round(v)}`).join(', ')}\n`);
    if (x.profile?.alloc) process.stdout.write(`\nAllocations of the app worker, ${x.label} (measured window), by allocating function, ${x.profile.alloc.totalMb} MB sampled:\n${x.profile.alloc.lines}\n`);
  }
  log(`done in ${((Date.now() - started) / 1000).toFixed(0)} s`);

  const problems = [];
  if (failure) problems.push(failure instanceof SetupError ? `setup failed: ${failure.message}` : `failed: ${failure.stack || failure}`);
  for (const [ x, name ] of [ [ relay, 'bare relay' ], [ ours, 'im-server' ] ]) {
    for (const l of x ? x.loads : []) {
      if (!l.delivered) problems.push(`${name}, ${l.label}: delivered nothing in the measured window`);
      if (l.lost) problems.push(`${name}, ${l.label}: ${l.lost} acked deliveries lost`);
      if (l.dup) problems.push(`${name}, ${l.label}: ${l.dup} duplicated deliveries`);
    }
  }
  if (problems.length) {
    process.stderr.write(`\n[bench] FAILED:\n${problems.map(p => `  - ${p}`).join('\n')}\n`);
    process.exitCode = 1;
  }
}

main().catch(err => {
  process.stderr.write(`[bench] ${err instanceof SetupError ? `setup failed: ${err.message}` : err.stack || err}\n`);
  process.exit(1);
});
