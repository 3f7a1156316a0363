/**
 * The integrity check: pairs of users send to each other with acks while clients are disconnected
 * and reconnected at random (and whatever fault the caller injects); a reconnected client pulls
 * `offline_message` and acks what it got. Afterwards every message the server acked (`to_ack` code 0)
 * must have reached its recipient exactly once. Definitions (docs/DECISIONS.md):
 *  - lost: acked by the server, never received by the recipient (live or pulled);
 *  - duplicated: received again after the recipient's `c_message_ack` for it was answered code 0 (a
 *    live `c_message` arriving after that answer, or a pull *requested* after it returning it), or two
 *    different stored `_id`s for one (from, fp);
 *  - redelivered (unconfirmed ack): received more than once, but never after a confirmed ack:
 *    at-least-once by design, the client dedupes by `_id`.
 */
import { client, sleep, waitFor, type AnySocket, type SeededUser } from './harness';

interface Receipt { fp: string; from: string; seq: number; ids: Set<string>; events: Array<{ at: number; src: 'live' | 'pull' }> }

export interface LoadOptions {
  base: string;
  users: SeededUser[];
  /** messages each user sends to its partner */
  perSender: number;
  /** pause between a sender's messages, ms */
  intervalMs: number;
  /** one random client is dropped (and comes back 100-700 ms later) this often, ms; 0 = never */
  chaosEveryMs: number;
  /** source addresses for the clients (sticky mode hashes them over workers) */
  addresses: string[];
  /** every this-many-th user connects with socket.io-client 2.x */
  v2Every?: number;
  /** called once `faultAtMs` after the start, while messages flow */
  fault?: () => Promise<void>;
  faultAtMs?: number;
  /** give up on everything after this long, ms */
  deadlineMs?: number;
}

export interface LoadResult {
  acked: number;
  receivedLive: number;
  pulled: number;
  lost: number;
  /** of the lost: the recipient had sent an ack for a later seq of the same conversation */
  lostBehindLaterAck: number;
  duplicated: number;
  redelivered: number;
  /** send attempts answered with an error, by code (timeouts as 'timeout') */
  refused: Record<string, number>;
  /** messages the sender never got acked (after retries) */
  unacked: number;
  reconnects: number;
  kicks: number;
  examples: string[];
}

class Peer {
  socket: AnySocket | null = null;
  partner!: Peer;
  stopped = false;
  connecting: Promise<void> | null = null;
  /** (from,fp) of received messages → receipt; keyed by fp since the partner is the only sender */
  readonly received = new Map<string, Receipt>();
  /** _id → when this user's c_message_ack covering it was answered code 0 */
  readonly confirmed = new Map<string, number>();
  /** _ids this user sent a c_message_ack for (answered or not: the server may have applied it) */
  readonly ackSent = new Set<string>();
  /** fp → stored _ids the server acked it with */
  readonly acked = new Map<string, Set<string>>();
  /** fp → seq the server acked it with */
  readonly seqs = new Map<string, number>();
  readonly refused: Record<string, number> = {};
  reconnects = 0;
  kicks = 0;
  private readonly inflight = new Set<() => void>();

  constructor(readonly user: SeededUser, readonly opts: LoadOptions, readonly version: 'v2' | 'v4', readonly address: string) {}

  /** (Re)connects until accepted, then pulls and acks what is waiting. */
  ensureConnected(): Promise<void> {
    if (this.socket?.connected) return Promise.resolve();
    this.connecting ??= (async () => {
      while (!this.stopped) {
        const s = client(this.opts.base, { token: this.user.token, version: this.version, localAddress: this.address, query: { deviceType: 'MOBILE' } });
        try {
          const outcome = await Promise.race([
            waitFor(s, 'connect', 8000).then(() => 'ok'),
            waitFor(s, 'connect_error', 8000).then(() => 'error'),
            waitFor(s, 'im_error', 8000).then(() => 'error'),
          ]);
          if (outcome !== 'ok') throw new Error(outcome);
        } catch {
          s.close();
          await sleep(200 + Math.random() * 300);
          continue;
        }
        this.attach(s);
        try {
          await this.pull(s);
        } catch { /* dropped while pulling: the next connect pulls again */ }
        if (s.connected) return;
      }
    })().finally(() => { this.connecting = null; });
    return this.connecting;
  }

  private attach(s: AnySocket) {
    this.socket = s;
    s.on('c_message', (env: any) => {
      const m = env?.data?.payload;
      if (env?.code !== 0 || !m?._id || m.from !== this.partner.user.id) return;
      this.record(m, Date.now(), 'live');
      this.ack(s, [ m._id ]).catch(() => undefined);
    });
    s.on('im_error', (env: any) => { if (env?.code === 20004) this.kicks++; });
    s.on('disconnect', () => {
      for (const fail of this.inflight) fail();
      if (this.socket !== s) return;
      this.socket = null;
      if (!this.stopped) setTimeout(() => { this.reconnects++; this.ensureConnected(); }, 100 + Math.random() * 600);
    });
  }

  private record(m: any, at: number, src: 'live' | 'pull') {
    let r = this.received.get(m.fp);
    if (!r) this.received.set(m.fp, r = { fp: m.fp, from: m.from, seq: m.seq, ids: new Set(), events: [] });
    r.ids.add(String(m._id));
    r.events.push({ at, src });
  }

  private async ack(s: AnySocket, ids: string[]) {
    for (const id of ids) this.ackSent.add(id);
    const res: any = await this.call(s, 'c_message_ack', ids.map(_id => ({ _id })), 10000);
    if (res?.code !== 0) return;
    const at = Date.now();
    for (const id of ids) if (!this.confirmed.has(id)) this.confirmed.set(id, at);
  }

  /** Pulls pages of offline messages and acks each page, until nothing more is waiting. */
  async pull(s: AnySocket) {
    for (let page = 0; page < 50; page++) {
      const askedAt = Date.now();
      const res: any = await this.call(s, 'offline_message', undefined, 15000);
      if (res?.code !== 0) throw new Error(`offline_message: ${res?.code}`);
      const msgs: any[] = res.data.payload || [];
      for (const m of msgs) if (m.from === this.partner.user.id) this.record(m, askedAt, 'pull');
      if (msgs.length) await this.ack(s, msgs.map(m => String(m._id)));
      if (!res.meta?.more) return;
    }
  }

  /** An emit with an ack callback; rejects on timeout or when the socket goes. */
  private call(s: AnySocket, event: string, payload: unknown, ms: number): Promise<any> {
    return new Promise((resolve, reject) => {
      if (!s.connected) return reject(new Error('not connected'));
      const fail = () => { clearTimeout(timer); this.inflight.delete(fail); reject(new Error('disconnected')); };
      const timer = setTimeout(() => { this.inflight.delete(fail); reject(new Error('timeout')); }, ms);
      this.inflight.add(fail);
      const done = (res: unknown) => { clearTimeout(timer); this.inflight.delete(fail); resolve(res); };
      if (payload === undefined) s.emit(event, done); else s.emit(event, payload, done);
    });
  }

  /** Sends one message until the server acks it or refuses it for good; retries keep the fp. */
  async send(i: number, deadline: number) {
    const fp = `${this.user.id}-${i}`;
    for (let attempt = 0; attempt < 20 && Date.now() < deadline; attempt++) {
      if (!this.socket?.connected) {
        await Promise.race([ this.ensureConnected(), sleep(2000) ]);
        continue;
      }
      try {
        const res: any = await this.call(this.socket, 'to', { type: 1, typeu: 1, to: this.partner.user.id, content: `m${i}`, fp }, 12000);
        if (res?.code === 0) {
          let ids = this.acked.get(fp);
          if (!ids) this.acked.set(fp, ids = new Set());
          ids.add(String(res.data.payload._id));
          this.seqs.set(fp, res.data.payload.seq);
          return;
        }
        this.refused[res?.code ?? 'none'] = (this.refused[res?.code ?? 'none'] ?? 0) + 1;
      } catch (err) {
        const why = (err as Error).message;
        this.refused[why] = (this.refused[why] ?? 0) + 1;
      }
      await sleep(300);
    }
  }
}

export async function runIntegrity(opts: LoadOptions): Promise<LoadResult> {
  const started = Date.now();
  const deadline = started + (opts.deadlineMs ?? 90000);
  const peers = opts.users.map((u, i) => new Peer(u, opts, opts.v2Every && i % opts.v2Every === opts.v2Every - 1 ? 'v2' : 'v4', opts.addresses[i % opts.addresses.length]));
  for (let i = 0; i < peers.length; i += 2) { peers[i].partner = peers[i + 1]; peers[i + 1].partner = peers[i]; }
  try {
    await Promise.all(peers.map(p => p.ensureConnected()));
    if (process.env.INTEGRITY_VERBOSE) process.stdout.write(`      [integrity] ${Date.now() - started} ms: all connected\n`);
    let chaos: NodeJS.Timeout | undefined;
    if (opts.chaosEveryMs) {
      chaos = setInterval(() => {
        const p = peers[Math.floor(Math.random() * peers.length)];
        p.socket?.disconnect();
      }, opts.chaosEveryMs);
    }
    const fault = opts.fault ? sleep(opts.faultAtMs ?? 3000).then(opts.fault) : Promise.resolve();
    const progress = process.env.INTEGRITY_VERBOSE ? setInterval(() => {
      const acked = peers.reduce((n, p) => n + p.acked.size, 0);
      const connected = peers.filter(p => p.socket?.connected).length;
      process.stdout.write(`      [integrity] ${Date.now() - started} ms: acked ${acked}, connected ${connected}/${peers.length}, refused ${JSON.stringify(Object.assign({}, ...peers.map(p => p.refused)))}\n`);
    }, 2000) : undefined;
    await Promise.all(peers.map(async p => {
      for (let i = 0; i < opts.perSender; i++) {
        await sleep(opts.intervalMs * (0.5 + Math.random()));
        await p.send(i, deadline);
      }
    }));
    await fault;
    clearInterval(chaos);
    clearInterval(progress);
    // settle: everyone connected, pulls until nothing is waiting, twice with a pause for stragglers
    for (let round = 0; round < 2; round++) {
      await sleep(1500);
      await Promise.all(peers.map(async p => {
        for (let tries = 0; tries < 5 && Date.now() < deadline + 20000; tries++) {
          try {
            await p.ensureConnected();
            await p.pull(p.socket);
            return;
          } catch { await sleep(500); }
        }
      }));
    }
  } finally {
    for (const p of peers) { p.stopped = true; p.socket?.close(); }
  }

  const result: LoadResult = { acked: 0, receivedLive: 0, pulled: 0, lost: 0, lostBehindLaterAck: 0, duplicated: 0, redelivered: 0, refused: {}, unacked: 0, reconnects: 0, kicks: 0, examples: [] };
  for (const p of peers) {
    result.reconnects += p.reconnects;
    result.kicks += p.kicks;
    for (const [ code, n ] of Object.entries(p.refused)) result.refused[code] = (result.refused[code] ?? 0) + n;
    result.unacked += p.opts.perSender - p.acked.size;
    const r = p.partner; // the recipient of p's messages
    for (const [ fp, ids ] of p.acked) {
      result.acked++;
      const got = r.received.get(fp);
      const allIds = new Set([ ...ids, ...(got?.ids ?? []) ]);
      if (allIds.size > 1) {
        result.duplicated++;
        result.examples.push(`two _ids for one fp ${fp}: ${[ ...allIds ].join(', ')}`);
        continue;
      }
      if (!got) {
        result.lost++;
        const seq = p.seqs.get(fp)!;
        const later = [ ...r.received.values() ].filter(x => x.seq > seq && [ ...x.ids ].some(id => r.ackSent.has(id))).map(x => x.seq);
        if (later.length) result.lostBehindLaterAck++;
        result.examples.push(`lost ${fp} (${[ ...ids ][0]}, seq ${seq})${later.length ? `; the recipient acked later seqs (first ${Math.min(...later)})` : ''}`);
        continue;
      }
      const first = got.events.reduce((a, b) => (b.at < a.at ? b : a));
      if (first.src === 'live') result.receivedLive++; else result.pulled++;
      const confirmedAt = r.confirmed.get([ ...ids ][0]);
      const after = confirmedAt === undefined ? [] : got.events.filter(e => e.at > confirmedAt);
      if (after.length) {
        result.duplicated++;
        result.examples.push(`received ${fp} again (${after.map(e => e.src).join(', ')}) after its ack was confirmed`);
      } else if (got.events.length > 1) {
        result.redelivered++;
      }
    }
  }
  result.examples = result.examples.slice(0, 10);
  return result;
}

export const summary = (name: string, r: LoadResult) =>
  `${name}: acked ${r.acked}, received live ${r.receivedLive}, pulled ${r.pulled}, lost ${r.lost} (${r.lostBehindLaterAck} behind an ack of a later seq), duplicated ${r.duplicated}, ` +
  `redelivered (unconfirmed ack) ${r.redelivered}; never acked ${r.unacked}, reconnects ${r.reconnects}, kicks ${r.kicks}, ` +
  `refused ${JSON.stringify(r.refused)}${r.examples.length ? `\n        e.g. ${r.examples.join('\n        e.g. ')}` : ''}`;
