'use strict';
/**
 * npm run bench:scale: how the hot reads grow with the store. Our server (production config, one
 * worker, the embedded FerretDB) is filled through /chat with real `to` events, and at about 1k, 10k,
 * 50k and 100k stored messages the same user is timed doing what an app does when it opens:
 *
 *   connect               a new socket (a second device) until its first `offline_message` is answered
 *   recent_conversation   the user's 10 conversations
 *   offline (none)        `offline_message` with nothing pending
 *   offline (5 pending)   `offline_message` with 5 unacked messages waiting (they are acked after)
 *   history (newest 20)   `history_message` {limit: 20} of one of the user's conversations, in turn
 *   to → to_ack           the user sends a message
 *
 * The user ("me") has 8 one-to-one conversations and 2 rooms of 6; the filling is BENCH_SCALE_OWN_SHARE
 * (default 10%) their traffic and the rest one-to-one traffic between BENCH_SCALE_FILLERS other users.
 * Every recipient is online and acks what it gets (in batches: the filling is not what is measured).
 * Every acked message is checked: delivered to each recipient once, present in the pulls that must
 * show it (offline with pending, the history page of its conversation), and in the store at the end.
 *
 * It ends by itself within BENCH_SCALE_MINUTES (default 9.5): filling is time-boxed, and when the
 * server is too slow to reach the next size in time it says how far it got. Exit code 1 on setup
 * failure or when anything acked is missing or delivered twice; slowness alone is not a failure.
 *
 * BENCH_SCALE_SEARCH=1 measures message search (PROTOCOL §8, `GET /api/messages/search`) instead, at
 * 10k and 100k stored messages by default; one message in 8 carries a Chinese phrase:
 *
 *   search: common word      a word in every message ("benchmark"): the newest 20 of the user's
 *   search: rare word        a number that is in one message of the user's, then "message" (a prefix)
 *   search: 2 words, prefix  "scale bench" (the last word a prefix)
 *   search: CJK run          "北京开会" (bigrams) in the user's messages
 *   search: one conversation the common word in one conversation (timelineId)
 *
 * BENCH_SCALE_AWAY=1 (issue #19) adds a user who was away the whole time: 8 of the peers also write to
 * it (its share of the traffic is in BENCH_SCALE_OWN_SHARE), it never connects while the store fills,
 * and at each size it comes back: a socket until its first `offline_message` is answered, then
 * `recent_conversation` and `offline_message` (the oldest page of everything pending, never acked, so
 * its pending grows with the store). The recent-messages cache is set to 4 MB (about 10k messages;
 * MESSAGE_RECENT_CACHE_BYTES), so most of the store is not in it.
 *
 * Options (environment): BENCH_SCALE_SIZES (default 1000,10000,50000,100000), BENCH_SCALE_TRIES (per
 * operation and size, default 20), BENCH_SCALE_OP_SECONDS (time per operation and size, default 8),
 * BENCH_SCALE_CONCURRENCY (messages in flight while filling, default 64), BENCH_SCALE_FILLERS
 * (default 100), BENCH_SCALE_OWN_SHARE (default 0.1), BENCH_SCALE_FILL_ACKS=0 (the other users do
 * not ack: a faster fill when acks are slow, not what clients do), BENCH_SCALE_MINUTES (default 9.5),
 * BENCH_SETUP_TIMEOUT (seconds, default 120).
 */
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const crypto = require('node:crypto');
const { MongoClient } = require('mongodb');
const ferretdb = require('../scripts/ferretdb');
const {
  logger, sleep, envNumber, SetupError, build, removeBuild, seedAccounts, api, checkAccount, startOurs,
  dbCommands, commandDelta, percentile, fmt, table, commitId,
} = require('./lib');
const { now, connectChat, call, request, EventBudget } = require('./client');

const log = logger('scale');
const SEARCH = process.env.BENCH_SCALE_SEARCH === '1';
// an "away" user whose peers write while it is offline: its pending grows with the store
const AWAY = process.env.BENCH_SCALE_AWAY === '1';
// in away mode the recent-messages cache holds a small part of the store (about 10k messages)
if (AWAY && !process.env.MESSAGE_RECENT_CACHE_BYTES) process.env.MESSAGE_RECENT_CACHE_BYTES = String(4 * 1024 * 1024);
const SIZES = (process.env.BENCH_SCALE_SIZES || (SEARCH ? '10000,100000' : '1000,10000,50000,100000')).split(',').map(Number).filter(n => n > 0).sort((a, b) => a - b);
const TRIES = envNumber('BENCH_SCALE_TRIES', 20);
const OP_SECONDS = envNumber('BENCH_SCALE_OP_SECONDS', 8);
const CONCURRENCY = envNumber('BENCH_SCALE_CONCURRENCY', 64);
const FILLERS = Math.max(2, envNumber('BENCH_SCALE_FILLERS', 100));
const OWN_SHARE = envNumber('BENCH_SCALE_OWN_SHARE', 0.1);
// 0: the other users do not ack what they get (a faster fill on a server whose acks are slow; not what clients do)
const FILL_ACKS = process.env.BENCH_SCALE_FILL_ACKS !== '0';
const LIMIT_MS = envNumber('BENCH_SCALE_MINUTES', 9.5) * 60000;
const SETUP_TIMEOUT = envNumber('BENCH_SETUP_TIMEOUT', 120) * 1000;
const PEERS = 10;
const PENDING = 5;
const RESERVE_MS = 40000; // the final checks and shutdown
const JWT_SECRET = crypto.randomBytes(32).toString('hex');
const runId = crypto.randomBytes(3).toString('hex');
const started = Date.now();
const deadline = started + LIMIT_MS - RESERVE_MS;

const OPS = SEARCH
  ? [ 'search: common word', 'search: rare word', 'search: 2 words, prefix', 'search: CJK run', 'search: one conversation' ]
  : [ 'connect', 'recent_conversation', 'offline (none)', `offline (${PENDING} pending)`, 'history (newest 20)', 'to → to_ack',
    ...(AWAY ? [ 'away: connect', 'away: recent_conversation', 'away: offline_message' ] : []) ];

/** Bookkeeping of every acked message: who must get it, who got it. */
const book = {
  acked: 0,
  refused: 0,
  unanswered: 0,
  ids: new Set(), // _id of every acked message
  need: new Map(), // fp → how many recipients must get it (set when acked)
  got: new Map(), // fp → how many recipients got it (a delivery may come before the to_ack)
  received: new Map(), // `${user}|${fp}` → count
  dup: 0,
  lastInConversation: new Map(), // conversation key → fp of its newest acked message
  ownNumbers: new Set(), // n of the messages in "me"'s conversations (search: a rare word)
  pullMissing: [], // what a pull should have shown and did not
  notes: [],
};

/** One connected user: its socket, its event budget, its batched acks. */
class Client {
  constructor(user, socket, acks = true) {
    this.user = user;
    this.acks = acks;
    this.socket = socket;
    this.budget = new EventBudget(80);
    this.ackQueue = [];
    this.hold = false; // true: received messages stay unacked (for the "pending" measurement)
    this.held = [];
    this.acksInFlight = 0;
    socket.on('c_message', env => this.onMessage(env && env.data && env.data.payload));
    this.timer = setInterval(() => this.flushAcks(), 200);
  }

  onMessage(m) {
    if (!m || !m.fp) return;
    const key = `${this.user.id}|${m.fp}`;
    const count = (book.received.get(key) || 0) + 1;
    book.received.set(key, count);
    if (count > 1) book.dup++;
    else book.got.set(m.fp, (book.got.get(m.fp) || 0) + 1);
    if (this.hold) this.held.push(m); else if (this.acks) this.ackQueue.push({ _id: m._id });
  }

  flushAcks() {
    while (this.ackQueue.length && this.budget.take()) {
      const batch = this.ackQueue.splice(0, 500);
      this.acksInFlight++;
      call(this.socket, 'c_message_ack', batch, 60000).then(reply => {
        if (!reply || reply.code !== 0) {
          book.notes.push(`c_message_ack refused: ${JSON.stringify(reply).slice(0, 200)}`);
          if (reply && reply.code === 20009) this.ackQueue.push(...batch); // over the event limit: again later
        }
      }, err => book.notes.push(`c_message_ack: ${err.message}`)).finally(() => { this.acksInFlight--; });
    }
  }

  idle() {
    return !this.ackQueue.length && !this.acksInFlight;
  }

  close() {
    clearInterval(this.timer);
    this.socket.close();
  }
}

const setupStep = async (what, fn) => {
  try {
    return await fn();
  } catch (err) {
    throw new SetupError(`${what}: ${err.message}`);
  }
};

/** Sends one message on a route, records it; resolves to the latency in ms, or null if refused. */
async function send(route, n, timeoutMs = 60000) {
  const fp = `${runId}-${n}`;
  const t0 = now();
  let reply;
  try {
    reply = await call(route.from.socket, 'to', { type: 1, to: route.to, typeu: route.typeu, content: contentOf(n), fp }, timeoutMs);
  } catch {
    book.unanswered++;
    return null;
  }
  const ms = now() - t0;
  if (!reply || reply.code !== 0) {
    book.refused++;
    if (!reply || reply.code !== 20009) book.notes.push(`to refused: ${JSON.stringify(reply).slice(0, 200)}`);
    return null;
  }
  const m = reply.data.payload;
  book.acked++;
  book.ids.add(String(m._id));
  book.need.set(fp, route.recipients);
  if (route.conversation) {
    book.lastInConversation.set(route.conversation, fp);
    book.ownNumbers.add(n);
  }
  return ms;
}

let counter = 0;

/** A filling message's text; in search mode one in 8 carries a Chinese phrase too. */
const contentOf = n => `scale benchmark message ${n} ${SEARCH && n % 8 === 0 ? '我们明天去北京开会 ' : ''}${'·'.repeat(40)}`;

/**
 * Search as "me" does it (`GET /api/messages/search`): the newest 20 of the common word, a rare word
 * (a number of one of "me"'s messages), two words with a prefix, a CJK run, one conversation.
 */
async function measureSearch(ctx) {
  const { url, db, me, conversations } = ctx;
  const query = async (params, timeoutMs, expectSome = true) => {
    const t0 = now();
    let res;
    try {
      res = await fetch(`${url}/api/messages/search?${new URLSearchParams(params)}`, { headers: { authorization: `Bearer ${me.user.token}` }, signal: AbortSignal.timeout(timeoutMs) });
    } catch (err) {
      throw new Error(`search: no reply within ${timeoutMs} ms (${err.message})`);
    }
    const body = await res.json();
    const ms = now() - t0;
    // 50000 when the store did not answer within the driver's bounds (a scan of FerretDB): slow, not wrong
    if (res.status === 500) {
      book.notes.push(`search ${JSON.stringify(params)}: the server gave up after ${fmt(ms, 0)} ms (50000: the database's socket timeout)`);
      throw new Error('search: the server gave up');
    }
    if (res.status !== 200 || body.code !== 0) throw new Error(`search ${JSON.stringify(params)}: HTTP ${res.status} ${JSON.stringify(body).slice(0, 200)}`);
    if (expectSome && !body.data.docs.length) book.notes.push(`search ${JSON.stringify(params)} found nothing`);
    return ms;
  };
  const mine = [ ...book.ownNumbers ];
  const c = conversations[0];
  return {
    'search: common word': await timeOp(db, (_i, t) => query({ q: 'benchmark', limit: '20' }, t)),
    'search: rare word': await timeOp(db, (i, t) => query({ q: `${mine[(i * 7919) % mine.length]} message`, limit: '20' }, t)),
    'search: 2 words, prefix': await timeOp(db, (_i, t) => query({ q: 'scale bench', limit: '20' }, t)),
    'search: CJK run': await timeOp(db, (_i, t) => query({ q: '北京开会', limit: '20' }, t)),
    'search: one conversation': await timeOp(db, (_i, t) => query({ q: 'benchmark', timelineId: c.timelineId, typeu: String(c.typeu), limit: '20' }, t)),
  };
}

/** Fills the store to `target` acked messages with CONCURRENCY in flight, until `until` at the latest. */
async function fill(routes, target, until) {
  const own = routes.filter(r => r.conversation);
  const filler = routes.filter(r => !r.conversation);
  const pick = () => {
    for (let i = 0; i < 8; i++) {
      const pool = Math.random() < OWN_SHARE ? own : filler;
      const r = pool[Math.floor(Math.random() * pool.length)];
      if (r.from.budget.take()) return r;
    }
    return null;
  };
  let inFlight = 0;
  const t0 = Date.now();
  const a0 = book.acked;
  const progress = setInterval(() => {
    log(`  ${book.acked} messages stored (${((book.acked - a0) / ((Date.now() - t0) / 1000)).toFixed(0)} msgs/s)`);
  }, 30000);
  const worker = async () => {
    while (book.acked + inFlight < target && Date.now() < until) {
      const r = pick();
      if (!r) { await sleep(20); continue; }
      inFlight++;
      const ms = await send(r, counter++, Math.max(5000, until - Date.now() + 30000));
      inFlight--;
      if (ms === null) await sleep(200); // refused: back off as a client would
    }
  };
  try {
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  } finally {
    clearInterval(progress);
  }
}

function missingDeliveries() {
  let n = 0;
  for (const [ fp, want ] of book.need) n += Math.max(0, want - (book.got.get(fp) || 0));
  return n;
}

/** Waits (bounded) until every acked message reached its recipients and every batched ack is answered. */
async function settle(clients, ms = 30000) {
  const until = Date.now() + ms;
  while (Date.now() < until && (missingDeliveries() || !clients.every(c => c.idle()))) {
    for (const c of clients) c.flushAcks();
    await sleep(100);
  }
}

/** Runs `fn` up to TRIES times within OP_SECONDS (at least once); returns latencies, timeouts, db commands. */
async function timeOp(db, fn) {
  const samples = [];
  let timeouts = 0;
  const c0 = await dbCommands(db.metricsUrl);
  const t0 = Date.now();
  for (let i = 0; i < TRIES; i++) {
    if (i > 0 && (Date.now() - t0 > OP_SECONDS * 1000 || Date.now() > deadline)) break;
    const timeoutMs = Math.max(5000, Math.min(60000, deadline - Date.now()));
    const started = now();
    try {
      samples.push(await fn(i, timeoutMs));
    } catch (err) {
      // counted, at the time it took: a server that gives up (its database bounds) is as slow as that
      if (/no reply within|could not connect|gave up/.test(err.message)) { timeouts++; samples.push(Math.max(now() - started, 1)); } else throw err;
    }
  }
  const cmds = commandDelta(c0, await dbCommands(db.metricsUrl));
  samples.sort((a, b) => a - b);
  return { n: samples.length, p50: percentile(samples, 50), p99: percentile(samples, 99), timeouts, cmdsPerCall: cmds ? cmds.total / samples.length : null };
}

/** One request on `socket` timed over the tries; `check` then sees each reply (and may act on it, untimed). */
function timeRequest(db, socket, event, payloadOf, check) {
  return timeOp(db, async (i, timeoutMs) => {
    const t0 = now();
    const reply = await request(socket, event, payloadOf(i), timeoutMs);
    const ms = now() - t0;
    await check(reply, i, timeoutMs);
    return ms;
  });
}

/** A new socket of `user` timed until its first `offline_message` is answered; `check` sees that page. */
function timeConnect(db, url, user, check) {
  return timeOp(db, async (_i, timeoutMs) => {
    const t0 = now();
    const socket = await connectChat(url, user, { deviceType: 'MOBILE', deadline: Date.now() + timeoutMs });
    try {
      const pending = await request(socket, 'offline_message', undefined, timeoutMs);
      const ms = now() - t0;
      check(pending);
      return ms;
    } finally {
      socket.close();
      await sleep(50);
    }
  });
}

/** The six operations, as "me" does them. */
async function measure(ctx) {
  const { url, db, me, peers, conversations } = ctx;
  const out = {};
  out.connect = await timeConnect(db, url, me.user, pending => {
    if (pending.length) book.notes.push(`connect: offline_message returned ${pending.length} messages with nothing pending`);
  });
  let recentShort = false;
  out.recent_conversation = await timeRequest(db, me.socket, 'recent_conversation', () => undefined, list => {
    const active = conversations.filter(c => book.lastInConversation.has(c.key)).length;
    if (!recentShort && list.length < active) {
      recentShort = true;
      book.notes.push(`recent_conversation listed ${list.length} conversations, expected ${active}`);
    }
  });
  out['offline (none)'] = await timeRequest(db, me.socket, 'offline_message', () => undefined, async (pending, _i, timeoutMs) => {
    if (pending.length) {
      book.notes.push(`offline_message returned ${pending.length} messages with nothing pending`);
      await request(me.socket, 'c_message_ack', pending.map(m => ({ _id: m._id })), timeoutMs);
    }
  });
  const peer = peers[0];
  const toPeer = { from: me, to: peer.user.id, typeu: 1, recipients: 1, conversation: `c2c:${peer.user.id}` };
  const toMe = { from: peer, to: me.user.id, typeu: 1, recipients: 1, conversation: `c2c:${peer.user.id}` };
  out[`offline (${PENDING} pending)`] = await timeOp(db, async (_i, timeoutMs) => {
    me.hold = true;
    me.held = [];
    try {
      const fps = [];
      for (let k = 0; k < PENDING; k++) {
        const n = counter++;
        if (await send(toMe, n, timeoutMs) !== null) fps.push(`${runId}-${n}`);
      }
      const until = Date.now() + 10000;
      while (me.held.length < fps.length && Date.now() < until) await sleep(10);
      const t0 = now();
      const pending = await request(me.socket, 'offline_message', undefined, timeoutMs);
      const ms = now() - t0;
      const got = new Set(pending.map(m => m.fp));
      for (const fp of fps) if (!got.has(fp)) book.pullMissing.push(`offline_message did not show pending ${fp}`);
      await request(me.socket, 'c_message_ack', pending.map(m => ({ _id: m._id })), timeoutMs);
      return ms;
    } finally {
      me.hold = false;
      if (me.held.length) me.ackQueue.push(...me.held.map(m => ({ _id: m._id })));
      me.held = [];
    }
  });
  const conversationOf = i => conversations[i % conversations.length];
  out['history (newest 20)'] = await timeRequest(db, me.socket, 'history_message', i => ({ timelineId: conversationOf(i).timelineId, typeu: conversationOf(i).typeu, limit: 20 }), (page, i) => {
    const c = conversationOf(i);
    const docs = Array.isArray(page) ? page : page.docs;
    const newest = book.lastInConversation.get(c.key);
    if (newest && !docs.some(m => m.fp === newest)) book.pullMissing.push(`history_message newest page of ${c.key} lacks its newest acked message ${newest}`);
  });
  out['to → to_ack'] = await timeOp(db, async (_i, timeoutMs) => {
    const ms = await send(toPeer, counter++, timeoutMs);
    if (ms === null) throw new Error('to refused while measuring');
    return ms;
  });
  if (ctx.away) Object.assign(out, await measureAway(ctx));
  return out;
}

/** The away user comes back: its first pull, its conversation list, its pull again (nothing acked). */
async function measureAway({ url, db, away }) {
  const out = {};
  const pendingPage = pending => {
    if (!pending.length) book.pullMissing.push('the away user\'s offline_message showed nothing pending');
  };
  out['away: connect'] = await timeConnect(db, url, away.user, pendingPage);
  const socket = await connectChat(url, away.user, { deviceType: 'MOBILE', deadline: Date.now() + 60000 });
  try {
    // its conversations that got a message so far (at the first sizes not all 8 have)
    const begun = [ ...book.lastInConversation.keys() ].filter(k => k.startsWith('away:')).length;
    out['away: recent_conversation'] = await timeRequest(db, socket, 'recent_conversation', () => undefined, list => {
      if (list.length < begun) book.notes.push(`the away user's recent_conversation listed ${list.length} conversations, expected ${begun}`);
    });
    out['away: offline_message'] = await timeRequest(db, socket, 'offline_message', () => undefined, pendingPage);
  } finally {
    socket.close();
    await sleep(50);
  }
  return out;
}

async function main() {
  const commit = commitId();
  log('compiling the app into bench/.build');
  build();
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'im-scale-db-'));
  const db = await ferretdb.start({ dataDir, dbName: 'imscale', logFile: path.join(os.tmpdir(), 'im-scale-ferretdb.log') });
  const rows = [];
  const fills = [];
  let failure = null;
  let stopReason = null;
  let server = null;
  let clients = [];
  let storeCheck = null;
  try {
    const seeded = await seedAccounts(db.url, 1 + PEERS + FILLERS + (AWAY ? 1 : 0), JWT_SECRET, 'scale');
    // the away user never connects while the store fills
    const awayUser = AWAY ? seeded.pop() : null;
    const users = seeded;
    server = await startOurs({ mongoUrl: db.url, jwtSecret: JWT_SECRET, title: 'im-bench-scale' });
    await checkAccount(server.url, users[0]);
    const [ meUser, ...rest ] = users;
    const peerUsers = rest.slice(0, PEERS);
    const fillerUsers = rest.slice(PEERS);
    const fillerIds = new Set(fillerUsers.map(u => u.id));
    // two rooms of "me" and 5 peers each, through the API
    const rooms = [];
    for (const group of [ peerUsers.slice(0, 5), peerUsers.slice(5, 10) ]) {
      const room = await setupStep('creating a room', () => api(server.url, meUser.token, 'POST', '/api/rooms',
        { name: `scale-${runId}-${rooms.length}`, members: group.map(u => u.id) }));
      rooms.push({ id: String(room._id), members: group });
    }
    log(`connecting ${users.length} users`);
    const setupDeadline = Date.now() + SETUP_TIMEOUT;
    clients = await setupStep('connecting', () => Promise.all(users.map(async u => {
      const socket = await connectChat(server.url, u, { deadline: setupDeadline });
      const c = new Client(u, socket, FILL_ACKS || !fillerIds.has(u.id));
      const pending = await request(socket, 'offline_message', undefined, Math.max(1000, setupDeadline - Date.now()));
      if (pending.length) c.ackQueue.push(...pending.map(m => ({ _id: m._id })));
      return c;
    })));
    const byId = new Map(clients.map(c => [ c.user.id, c ]));
    const me = byId.get(meUser.id);
    const peers = peerUsers.map(u => byId.get(u.id));
    const fillers = fillerUsers.map(u => byId.get(u.id));

    // what "me" talks in: 8 one-to-one conversations and the 2 rooms
    const conversations = [
      ...peers.slice(0, 8).map(p => ({ key: `c2c:${p.user.id}`, timelineId: `${me.user.id}@${p.user.id}`, typeu: 1 })),
      ...rooms.map(r => ({ key: `room:${r.id}`, timelineId: r.id, typeu: 2 })),
    ];
    const routes = [];
    for (const p of peers.slice(0, 8)) {
      routes.push({ from: me, to: p.user.id, typeu: 1, recipients: 1, conversation: `c2c:${p.user.id}` });
      routes.push({ from: p, to: me.user.id, typeu: 1, recipients: 1, conversation: `c2c:${p.user.id}` });
    }
    for (const r of rooms) {
      for (const sender of [ me, ...r.members.map(u => byId.get(u.id)) ]) {
        routes.push({ from: sender, to: r.id, typeu: 2, recipients: r.members.length, conversation: `room:${r.id}` });
      }
    }
    for (let i = 0; i + 1 < fillers.length; i += 2) {
      routes.push({ from: fillers[i], to: fillers[i + 1].user.id, typeu: 1, recipients: 1 });
      routes.push({ from: fillers[i + 1], to: fillers[i].user.id, typeu: 1, recipients: 1 });
    }
    // the away user's conversations: deliveries to it are checked by its pulls, not live (recipients 0)
    for (const p of AWAY ? peers.slice(0, 8) : []) routes.push({ from: p, to: awayUser.id, typeu: 1, recipients: 0, conversation: `away:${p.user.id}` });
    const away = AWAY ? { user: awayUser } : null;
    const ctx = { url: server.url, db, me, peers, conversations, away };

    let lastMeasureMs = 60000;
    for (const size of SIZES) {
      if (book.acked >= size) continue;
      // leave room to measure at the size reached: measuring a bigger store takes longer than the last time
      const fillUntil = deadline - Math.max(90000, lastMeasureMs * 2);
      if (Date.now() >= fillUntil) {
        stopReason = `no time left to fill to ${size} and measure (time box ${LIMIT_MS / 60000} min)`;
        break;
      }
      log(`filling to ${size} messages`);
      const f0 = Date.now();
      const a0 = book.acked;
      await fill(routes, size, fillUntil);
      await settle(clients);
      const fillSeconds = (Date.now() - f0) / 1000;
      fills.push({ from: a0, to: book.acked, seconds: fillSeconds, rate: (book.acked - a0) / fillSeconds });
      const reached = book.acked >= size;
      if (!reached) {
        stopReason = `filling reached ${book.acked} of ${size} messages in the time box ` +
          `(${((book.acked - a0) / fillSeconds).toFixed(0)} msgs/s through the server)`;
        if (book.acked - a0 < 0.2 * a0 || book.acked === a0) break; // too close to the last size to be worth a row
      }
      log(`measuring at ${book.acked} messages`);
      const m0 = Date.now();
      const ops = SEARCH ? await measureSearch(ctx) : await measure(ctx);
      await settle(clients);
      lastMeasureMs = Date.now() - m0;
      rows.push({ size: book.acked, target: size, ops });
      if (!reached) break;
    }
    await settle(clients);

    // the store must hold every acked message: one read of the ids of the messages collection
    log('checking the store');
    const client = await MongoClient.connect(db.url);
    try {
      const stored = new Set();
      for await (const d of client.db().collection('messages').find({}, { projection: { _id: 1 } })) stored.add(String(d._id));
      let missing = 0;
      for (const id of book.ids) if (!stored.has(id)) missing++;
      storeCheck = { stored: stored.size, missing };
    } finally {
      await client.close();
    }
  } catch (err) {
    failure = err;
  } finally {
    for (const c of clients) c.close();
    if (server) await server.stop();
    await db.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
    removeBuild();
  }

  const cell = r => (r.n ? `${fmt(r.p50, 0)} / ${fmt(r.p99, 0)}${r.timeouts ? ` (${r.timeouts} of ${r.n} ${SEARCH ? 'gave up' : 'timed out'})` : ''}` : '-');
  process.stdout.write(`\n${table([ 'messages stored', ...OPS.map(o => `${o} p50 / p99 ms`) ], rows.map(r => [ r.size, ...OPS.map(o => cell(r.ops[o])) ]))}\n\n`);
  process.stdout.write(`${table([ 'messages stored', ...OPS.map(o => `${o}: db cmds/call`) ], rows.map(r => [ r.size, ...OPS.map(o => fmt(r.ops[o].cmdsPerCall, 1)) ]))}\n\n`);
  const tries = rows.length ? `${Math.min(...rows.flatMap(r => OPS.map(o => r.ops[o].n)))}..${Math.max(...rows.flatMap(r => OPS.map(o => r.ops[o].n)))}` : '0';
  process.stdout.write(`Commit ${commit}; ${tries} tries per cell (at most ${TRIES}, ${OP_SECONDS} s per operation and size); ` +
    `"me" has ${PEERS - 2} one-to-one conversations and 2 rooms of 6, ${Math.round(OWN_SHARE * 100)}% of the traffic; ${FILLERS} other users; ` +
    `${os.cpus().length} CPUs, load average ${os.loadavg().map(l => l.toFixed(1)).join(' ')}.\n`);
  process.stdout.write(`Filling through /chat, ${CONCURRENCY} in flight: ${fills.map(f => `${f.from}→${f.to} in ${f.seconds.toFixed(0)} s (${f.rate.toFixed(0)} msgs/s)`).join(', ') || 'none'}.\n`);
  process.stdout.write(`Acked ${book.acked}, refused ${book.refused}, unanswered ${book.unanswered}; ` +
    `${storeCheck ? `store holds ${storeCheck.stored} messages, ${storeCheck.missing} acked missing` : 'store not checked'}; ` +
    `deliveries missing ${missingDeliveries()}, duplicated ${book.dup}; pulls missing ${book.pullMissing.length}.\n`);
  if (stopReason) process.stdout.write(`Stopped early: ${stopReason}.\n`);
  const notes = [ ...new Set(book.notes) ];
  if (notes.length) process.stdout.write(`Notes:\n${notes.slice(0, 20).map(n => `  ${n}`).join('\n')}\n`);
  log(`done in ${((Date.now() - started) / 1000).toFixed(0)} s`);

  const problems = [];
  if (failure) problems.push(failure instanceof SetupError ? `setup failed: ${failure.message}` : `failed: ${failure.stack || failure}`);
  if (storeCheck && storeCheck.missing) problems.push(`${storeCheck.missing} acked messages are not in the store`);
  const lostDeliveries = missingDeliveries();
  if (lostDeliveries) problems.push(`${lostDeliveries} deliveries of acked messages never arrived`);
  if (book.dup) problems.push(`${book.dup} duplicated deliveries`);
  for (const p of book.pullMissing.slice(0, 10)) problems.push(p);
  if (!failure && !rows.length) problems.push('nothing was measured');
  if (problems.length) {
    process.stderr.write(`\n[scale] FAILED:\n${problems.map(p => `  - ${p}`).join('\n')}\n`);
    process.exitCode = 1;
  }
}

main().catch(err => {
  process.stderr.write(`[scale] ${err.stack || err}\n`);
  process.exit(1);
});
