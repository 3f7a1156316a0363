'use strict';
/**
 * Load generator for `npm run bench`, forked by bench/run.js so it does not share an event loop with
 * the server or the orchestrator. It is driven over IPC, one command at a time:
 *
 *   setup  {url, users:[{id,token}], roomQuery?, timeoutMs, ack?}
 *          the connect storm: every user's socket is opened at once (a failed handshake is retried,
 *          as a client reconnects) and pulls `offline_message`; answers when every socket has its
 *          first pull answered, or fails at timeoutMs saying how far it got.
 *   start  {tag, mode:'pairs'|'room', window, senders?, roomId?, members?}
 *          starts sending: 'pairs' = every user to its pair (i^1), 'room' = the first `senders` users to
 *          the room (whose members are the first `members` users); each sender keeps `window` messages in flight (a new one as each to_ack comes back).
 *   mark / markEnd   opens / closes the measured window (the orchestrator samples CPU and database
 *          counters at the same moments)
 *   stop   {drainMs} stops sending, waits (up to drainMs) for the last acks and deliveries, answers
 *          with the load's figures; sends still unanswered then are reported as such
 *   close  closes every socket and exits
 *
 * Every recipient acks every `c_message` with `c_message_ack` (the message itself, with an ack
 * callback) as the im-client-sdk does, unless setup says ack:false (to see what acks cost).
 */
const crypto = require('node:crypto');
const { now, connectChat, request } = require('./client');

const runId = crypto.randomBytes(4).toString('hex');
const percentile = (sorted, p) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil(p / 100 * sorted.length) - 1)] : null);

const state = {
  url: null,
  users: [],
  sockets: [],
  received: new Map(), // `${recipient}|${fp}` → count
  distinct: new Map(), // fp → recipients that got it at least once
  ackRefusals: {}, // c_message_ack refusals by code
  errors: {}, // im_error events by code
  load: null,
  ack: true,
};

function onMessage(me, socket) {
  return env => {
    const m = env && env.data && env.data.payload;
    if (!m || !m.fp) return;
    const t = now();
    // as the im-client-sdk: every received message is acked; the answers to acks sent in the window are timed
    const timing = state.load && state.load.measuring ? state.load : null;
    const ackId = timing ? ++timing.ackSeq : 0;
    if (timing && state.ack) timing.acksOpen.set(ackId, t);
    if (state.ack) socket.emit('c_message_ack', m, reply => {
      if (timing && timing.acksOpen.delete(ackId)) timing.ackAnswers.push(now() - t);
      if (!reply || reply.code !== 0) {
        const code = reply ? reply.code : 'none';
        state.ackRefusals[code] = (state.ackRefusals[code] || 0) + 1;
      }
    });
    if (m.from === me) return; // the sender's own echo is not a delivery
    const key = `${me}|${m.fp}`;
    const count = (state.received.get(key) || 0) + 1;
    state.received.set(key, count);
    const load = state.load;
    if (!load || !m.fp.startsWith(load.prefix)) return;
    if (count > 1) { load.dup++; return; }
    state.distinct.set(m.fp, (state.distinct.get(m.fp) || 0) + 1);
    if (load.measuring) {
      load.delivered++;
      const sent = load.sentAt.get(m.fp);
      if (sent !== undefined && sent >= load.from) load.e2e.push(t - sent);
    }
  };
}

async function setup({ url, users, roomQuery, timeoutMs, ack = true }) {
  state.ack = ack;
  state.url = url;
  state.users = users;
  const deadline = Date.now() + timeoutMs;
  const start = now();
  const perSocket = [];
  let retries = 0;
  let ready = 0;
  let connected = 0;
  /**
   * A socket whose first pull is answered. The server may shed a handshake it cannot serve now (20009
   * with retryAfterMs, then a disconnect): the client connects again after that long, as an app does.
   */
  const firstPull = async user => {
    for (;;) {
      const socket = await connectChat(url, user, { query: roomQuery ? { room: roomQuery } : {}, deadline, onRetry: () => { retries++; } });
      let refusal = null;
      const dropped = new Promise((_, reject) => {
        socket.once('im_error', e => { refusal = e; });
        socket.once('disconnect', () => reject(new Error('disconnected')));
      });
      dropped.catch(() => {});
      try {
        const pending = await Promise.race([ request(socket, 'offline_message', undefined, Math.max(1, deadline - Date.now())), dropped ]);
        return { socket, pending };
      } catch (err) {
        socket.removeAllListeners();
        socket.close();
        if (!refusal || refusal.code !== 20009 || Date.now() >= deadline) throw new Error(`${err.message}${refusal ? ` (${JSON.stringify(refusal)})` : ''}`);
        retries++;
        await new Promise(r => setTimeout(r, (refusal.meta && refusal.meta.retryAfterMs) || 250));
      }
    }
  };
  const one = async (user, i) => {
    const t0 = now();
    const { socket, pending } = await firstPull(user);
    connected++;
    state.sockets[i] = socket;
    socket.on('c_message', onMessage(user.id, socket));
    socket.on('im_error', e => { const c = e && e.code; state.errors[c] = (state.errors[c] || 0) + 1; });
    if (Array.isArray(pending) && pending.length) await request(socket, 'c_message_ack', pending, Math.max(1, deadline - Date.now()));
    perSocket.push(now() - t0);
    ready++;
  };
  const all = Promise.allSettled(users.map(one));
  const timer = new Promise(r => setTimeout(r, timeoutMs + 1000).unref());
  const settled = await Promise.race([ all, timer.then(() => null) ]);
  const failures = settled ? settled.filter(s => s.status === 'rejected') : [];
  if (!settled || failures.length) {
    const why = failures.length ? failures[0].reason.message : 'timed out';
    throw new Error(`connect storm did not complete within ${timeoutMs / 1000} s: ${connected} of ${users.length} sockets connected, ` +
      `${ready} had their first offline_message answered (${failures.length} failed; first: ${why})`);
  }
  perSocket.sort((a, b) => a - b);
  return { users: users.length, stormMs: now() - start, p50: percentile(perSocket, 50), p99: percentile(perSocket, 99), retries };
}

function start({ tag, mode, window, senders: senderCount, roomId, members }) {
  const prefix = `${runId}${tag}-`;
  const load = state.load = {
    prefix, running: true, measuring: false, from: Infinity, sentAt: new Map(), expected: new Map(),
    sent: 0, acked: 0, refused: 0, refusals: {}, retryAfter: [], inFlight: 0, waiting: new Map(), delivered: 0, dup: 0, ackLatency: [], e2e: [], windowMs: 0,
    ackSeq: 0, acksOpen: new Map(), ackAnswers: [],
  };
  const users = state.users;
  const senders = mode === 'pairs'
    ? users.map((u, i) => ({ socket: state.sockets[i], from: u.id, to: users[i ^ 1].id, typeu: 1, recipients: 1 }))
      .filter((_, i) => (i ^ 1) < users.length)
    : users.slice(0, senderCount).map((u, i) => ({ socket: state.sockets[i], from: u.id, to: roomId, typeu: 2, recipients: members - 1 }));
  let counter = 0;
  // `retried`: the fp of a refused send, sent again as a client would (a retry with the same fp is
  // answered with the stored message if the first one was stored after all)
  const send = (s, retried) => {
    if (!load.running) return;
    // unique per run and load: an fp the user already sent is a retry, answered and not delivered again
    const fp = retried || `${prefix}${counter++}`;
    // a retried send's latency counts from its first attempt, as its user waits
    const t = retried ? load.sentAt.get(fp) : now();
    if (!retried) load.sentAt.set(fp, t);
    load.sent++;
    load.inFlight++;
    if (load.measuring) load.waiting.set(fp, t);
    s.socket.emit('to', { type: 1, to: s.to, typeu: s.typeu, content: `benchmark message ${fp}`, fp }, ack => {
      load.inFlight--;
      load.waiting.delete(fp);
      if (ack && ack.code === 0) {
        load.acked++;
        load.expected.set(fp, s.recipients); // acked: it must now reach every recipient
        if (load.measuring && t >= load.from) load.ackLatency.push(now() - t);
      } else {
        load.refused++;
        const code = ack ? ack.code : 'none';
        load.refusals[code] = (load.refusals[code] || 0) + 1;
        if (ack && ack.meta && ack.meta.retryAfterMs) load.retryAfter.push(ack.meta.retryAfterMs);
        // a refused client backs off as long as the server said (PROTOCOL §2), else a quarter second
        setTimeout(() => send(s, fp), (ack && ack.meta && ack.meta.retryAfterMs) || 250);
        return;
      }
      send(s);
    });
  };
  for (const s of senders) for (let w = 0; w < window; w++) send(s);
  return { senders: senders.length };
}

function mark() {
  const load = state.load;
  load.measuring = true;
  load.from = now();
}

function markEnd() {
  const load = state.load;
  load.measuring = false;
  load.windowMs = now() - load.from;
}

async function stop({ drainMs = 30000 } = {}) {
  const load = state.load;
  load.running = false;
  const until = now() + drainMs;
  while (load.inFlight > 0 && now() < until) await new Promise(r => setTimeout(r, 50));
  const missing = () => {
    let n = 0;
    for (const [ fp, want ] of load.expected) n += Math.max(0, want - (state.distinct.get(fp) || 0));
    return n;
  };
  // deliveries trail the acks a little: wait for them, bounded
  for (let i = 0; i < 75 && missing() > 0; i++) await new Promise(r => setTimeout(r, 200));
  // a send of the window still unanswered counts with the time it has waited so far: a lower bound
  const end = now();
  const censored = [ ...load.waiting.values() ].map(t => end - t);
  load.ackLatency.push(...censored);
  load.ackLatency.sort((a, b) => a - b);
  const bound = censored.length ? Math.min(...censored) : Infinity;
  const atLeast = v => (v !== null && v >= bound ? `≥${v.toFixed(0)}` : v);
  load.e2e.sort((a, b) => a - b);
  // recipients' acks of the window still unanswered count with the time they have waited: a lower bound
  const acksOpen = [ ...load.acksOpen.values() ].map(t => end - t);
  for (const v of acksOpen) load.ackAnswers.push(v);
  load.ackAnswers.sort((a, b) => a - b);
  const ackBound = acksOpen.reduce((a, b) => Math.min(a, b), Infinity);
  const ackAtLeast = v => (v !== null && v >= ackBound ? `≥${v.toFixed(0)}` : v);
  const seconds = load.windowMs / 1000;
  const result = {
    sent: load.sent, acked: load.acked, refused: load.refused, refusals: load.refusals, unanswered: load.inFlight,
    withRetryAfter: load.retryAfter.length, retryAfterP50: percentile(load.retryAfter.sort((a, b) => a - b), 50),
    delivered: load.delivered, windowMs: load.windowMs, deliveredPerSec: seconds ? Math.round(load.delivered / seconds) : 0,
    ackP50: atLeast(percentile(load.ackLatency, 50)), ackP99: atLeast(percentile(load.ackLatency, 99)),
    e2eP50: percentile(load.e2e, 50), e2eP99: percentile(load.e2e, 99),
    ackAnswerP50: ackAtLeast(percentile(load.ackAnswers, 50)), ackAnswerP99: ackAtLeast(percentile(load.ackAnswers, 99)), acksUnanswered: acksOpen.length,
    lost: missing(), dup: load.dup, ackRefusals: { ...state.ackRefusals }, errors: { ...state.errors },
  };
  for (const fp of load.expected.keys()) state.distinct.delete(fp);
  state.ackRefusals = {};
  state.errors = {};
  state.load = null;
  return result;
}

function close() {
  for (const s of state.sockets) if (s) s.close();
  setTimeout(() => process.exit(0), 100);
  return {};
}

const commands = { setup, start, mark, markEnd, stop, close };
process.on('message', async msg => {
  try {
    const result = await commands[msg.cmd](msg);
    process.send({ id: msg.id, ok: true, result });
  } catch (err) {
    process.send({ id: msg.id, ok: false, error: err.message });
  }
});
process.on('disconnect', () => process.exit(0)); // the orchestrator went away
