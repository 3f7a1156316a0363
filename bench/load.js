'use strict';
/**
 * Load generator, run as its own process so it does not share an event loop with the server.
 * Reads a JSON job from the file named by argv[2]: { url, users: [{id, token}], mode: 'pairs'|'room', roomId?,
 * senders, window, warmupMs, durationMs }. Every socket is a socket.io-client v4 over websocket.
 * Each sender keeps `window` messages in flight (a new one as each ack comes back). Prints one
 * JSON line with the counts and latencies.
 */
const { io } = require('socket.io-client');

const runId = require('node:crypto').randomBytes(4).toString('hex');
const job = JSON.parse(require('node:fs').readFileSync(process.argv[2], 'utf8'));
const now = () => Number(process.hrtime.bigint() / 1000n) / 1000; // ms, sub-ms resolution

function percentile(sorted, p) {
  if (!sorted.length) return null;
  return sorted[Math.min(sorted.length - 1, Math.floor(p / 100 * sorted.length))];
}

function connect(user) {
  const query = { userId: user.id, deviceType: 'WEB' };
  if (job.roomId) query.room = job.roomId;
  const socket = io(`${job.url}/chat`, {
    path: '/ws', transports: [ 'websocket' ], forceNew: true, reconnection: false, timeout: 20000,
    auth: { token: user.token }, query,
  });
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve(socket));
    socket.once('connect_error', reject);
    socket.once('im_error', e => reject(new Error(`refused: ${JSON.stringify(e)}`)));
  });
}

async function main() {
  const sockets = [];
  // connect in slices so the handshake storm does not time out
  for (let i = 0; i < job.users.length; i += 50) {
    sockets.push(...await Promise.all(job.users.slice(i, i + 50).map(connect)));
  }
  // the server puts a socket in its rooms just after the connect (it looks them up first): give the
  // last sockets that moment, as a client would by pulling offline_message after connecting
  await new Promise(r => setTimeout(r, 1000));
  const sentAt = new Map(); // fp → send time
  const expected = new Map(); // fp → number of recipients
  const received = new Map(); // `${recipient}|${fp}` → count
  const distinctReceivers = new Map(); // fp → recipients that got it
  const ackLatency = [];
  const e2eLatency = [];
  let measureFrom = 0;
  let measureTo = Infinity;
  let deliveredInWindow = 0;
  let acked = 0;
  let refused = 0;
  const refusals = {};

  sockets.forEach((socket, i) => {
    const me = job.users[i].id;
    socket.on('c_message', env => {
      const m = env.data.payload;
      const key = `${me}|${m.fp}`;
      const count = (received.get(key) || 0) + 1;
      received.set(key, count);
      if (count === 1) distinctReceivers.set(m.fp, (distinctReceivers.get(m.fp) || 0) + 1);
      const t = now();
      const sent = sentAt.get(m.fp);
      if (sent !== undefined && sent >= measureFrom && sent < measureTo) e2eLatency.push(t - sent);
      if (t >= measureFrom && t < measureTo) deliveredInWindow++;
    });
  });

  const senders = job.mode === 'pairs'
    ? job.users.map((u, i) => ({ socket: sockets[i], from: u.id, to: job.users[i ^ 1].id, typeu: 1, recipients: 1 }))
    : job.users.slice(0, job.senders).map((u, i) => ({ socket: sockets[i], from: u.id, to: job.roomId, typeu: 2, recipients: job.users.length - 1 }));

  let running = true;
  let inFlight = 0;
  let counter = 0;
  function send(s) {
    if (!running) return;
    // unique per run: an fp a user already sent (in an earlier run) is a retry, answered and not delivered
    const fp = `${runId}-${s.from.slice(-6)}-${counter++}`;
    const t = now();
    sentAt.set(fp, t);
    inFlight++;
    s.socket.emit('to', { type: 1, to: s.to, typeu: s.typeu, content: `benchmark message ${fp}`, fp }, ack => {
      inFlight--;
      if (ack.code === 0) {
        acked++;
        expected.set(fp, s.recipients); // acked: it must now reach every recipient
        if (t >= measureFrom && t < measureTo) ackLatency.push(now() - t);
      } else {
        refused++;
        refusals[ack.code] = (refusals[ack.code] || 0) + 1;
      }
      send(s);
    });
  }

  const start = now();
  measureFrom = start + job.warmupMs;
  measureTo = measureFrom + job.durationMs;
  for (const s of senders) for (let w = 0; w < job.window; w++) send(s);
  // the parent samples the server's CPU between these two lines
  await new Promise(r => setTimeout(r, job.warmupMs));
  process.stdout.write('MEASURE_START\n');
  await new Promise(r => setTimeout(r, job.durationMs));
  process.stdout.write('MEASURE_END\n');
  running = false;
  // drain: in-flight acks, then deliveries
  const drainUntil = now() + 15000;
  while (inFlight > 0 && now() < drainUntil) await new Promise(r => setTimeout(r, 50));
  const countMissing = () => {
    let missing = 0;
    for (const [ fp, n ] of expected) missing += Math.max(0, n - (distinctReceivers.get(fp) || 0));
    return missing;
  };
  // deliveries trail the acks a little: wait for them, bounded
  for (let i = 0; i < 50 && countMissing() > 0; i++) await new Promise(r => setTimeout(r, 200));
  const lost = countMissing();
  let dup = 0;
  for (const c of received.values()) if (c > 1) dup += c - 1;
  ackLatency.sort((a, b) => a - b);
  e2eLatency.sort((a, b) => a - b);
  const result = {
    sent: counter, acked, refused, refusals,
    deliveredPerSec: Math.round(deliveredInWindow / (job.durationMs / 1000)),
    ackedPerSec: Math.round(ackLatency.length / (job.durationMs / 1000)),
    ackP50: percentile(ackLatency, 50), ackP99: percentile(ackLatency, 99),
    e2eP50: percentile(e2eLatency, 50), e2eP99: percentile(e2eLatency, 99),
    lost, dup,
  };
  for (const s of sockets) s.close();
  process.stdout.write(`${JSON.stringify(result)}\n`);
  process.exit(0);
}

main().catch(err => {
  process.stderr.write(`[load] ${err.stack || err}\n`);
  process.exit(1);
});
