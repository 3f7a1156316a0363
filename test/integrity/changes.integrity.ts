import assert from 'node:assert';
import mongoose from 'mongoose';
import { api, client, emitAck, log, OwnRedis, seedUsers, sleep, startCluster, startDb, until, waitFor, type AnySocket, type Cluster, type SeededUser } from './harness';
import { toWire, type MessageDoc } from '../../app/model/message';

/**
 * The change feed converges (PROTOCOL §8 `sync_changes`): users in a room and in c2c pairs, each with
 * two devices spread over three sticky workers of one node and a second node (one database, one
 * Redis), edit, react, pin, recall and hide while their devices drop and come back at random. Each
 * device keeps its own view: its history, loaded once after a first `sync_changes` (for a cursor),
 * then every `c_message_update` it hears, and after every reconnect `sync_changes` from its cursor
 * until no `more`. At the end every device's view must equal the store as that user may see it.
 */
const ADDRESSES = Array.from({ length: 8 }, (_, i) => `127.0.0.${i + 2}`);
const WORKERS = 3;
const CHAOS_MS = 15000;

interface View { messages: Map<string, any>; gone: Set<string> }

class Device {
  socket: AnySocket | null = null;
  cursor = '';
  stopped = false;
  connecting: Promise<void> | null = null;
  syncs = 0;
  reconnects = 0;
  readonly view: View = { messages: new Map(), gone: new Set() };
  errors: string[] = [];

  constructor(readonly user: SeededUser, readonly base: string, readonly device: 'MOBILE' | 'DESKTOP', readonly address: string, readonly version: 'v2' | 'v4') {}

  /** a message as it is now, unless an older state (lower rev) than what the view has */
  apply(m: any) {
    if (m.hidden || m.removed) {
      this.view.gone.add(m._id);
      this.view.messages.delete(m._id);
      return;
    }
    if (this.view.gone.has(m._id)) return;
    const known = this.view.messages.get(m._id);
    if (!known || (m.rev ?? 0) >= (known.rev ?? 0)) this.view.messages.set(m._id, m);
  }

  /** First connect: a cursor, then the history of each conversation. */
  async start(conversations: Array<{ timelineId: string; typeu: number }>) {
    const s = await this.open();
    const first = await this.call(s, 'sync_changes', {});
    this.cursor = first.data.payload.cursor;
    for (const c of conversations) {
      let before: number | undefined;
      for (;;) {
        const res = await this.call(s, 'history_message', { timelineId: c.timelineId, typeu: c.typeu, limit: 100, ...(before ? { before } : {}) });
        const page: any[] = res.data.payload;
        for (const m of page) this.apply(m);
        if (page.length < 100) break;
        before = page[page.length - 1].seq;
      }
    }
  }

  private async open(): Promise<AnySocket> {
    for (;;) {
      const s = client(this.base, { token: this.user.token, version: this.version, localAddress: this.address, query: { deviceType: this.device } });
      const outcome = await Promise.race([
        waitFor(s, 'connect', 8000).then(() => 'ok'),
        waitFor(s, 'connect_error', 8000).then(() => 'error'),
        waitFor(s, 'im_error', 8000).then(() => 'error'),
      ]).catch(() => 'timeout');
      if (outcome !== 'ok') {
        s.close();
        await sleep(300);
        continue;
      }
      s.on('c_message_update', (env: any) => { if (env.code === 0) this.apply(env.data.payload); });
      s.on('c_message', (env: any) => { if (env.code === 0) this.apply(env.data.payload); });
      s.on('disconnect', () => {
        if (this.socket !== s) return;
        this.socket = null;
        if (!this.stopped) setTimeout(() => { this.reconnects++; this.ensure().catch(err => this.errors.push(String(err))); }, 100 + Math.random() * 600);
      });
      this.socket = s;
      return s;
    }
  }

  /** (Re)connects and catches up with `sync_changes` until nothing more. */
  ensure(): Promise<void> {
    if (this.socket?.connected && !this.connecting) return Promise.resolve();
    this.connecting ??= (async () => {
      while (!this.stopped) {
        const s = this.socket?.connected ? this.socket : await this.open();
        try {
          await this.catchUp(s);
          return;
        } catch {
          await sleep(200);
        }
      }
    })().finally(() => { this.connecting = null; });
    return this.connecting;
  }

  async catchUp(s: AnySocket) {
    for (let page = 0; page < 100; page++) {
      const res = await this.call(s, 'sync_changes', { cursor: this.cursor });
      if (res.code !== 0) throw new Error(`sync_changes ${res.code}: ${res.meta?.msg}`);
      this.syncs++;
      for (const m of res.data.payload.changes) this.apply(m);
      this.cursor = res.data.payload.cursor;
      if (!res.data.payload.more) return;
    }
  }

  call(s: AnySocket, event: string, payload: unknown, ms = 10000): Promise<any> {
    return emitAck(s, event, payload, ms);
  }
}

describe('integrity: the change feed converges (3 sticky workers and a second node)', function() {
  this.timeout(300000);
  const redis = new OwnRedis();
  let db: Awaited<ReturnType<typeof startDb>>;
  let node: Cluster;
  let second: Cluster;

  before(async () => {
    await redis.start();
    db = await startDb();
    [ node, second ] = await Promise.all([
      startCluster({ workers: WORKERS, mongoUrl: db.url, redisUrl: redis.url }),
      startCluster({ workers: 1, mongoUrl: db.url, redisUrl: redis.url }),
    ]);
  });
  after(async () => {
    await Promise.all([ node?.stop(), second?.stop() ]);
    await db?.stop();
    await redis.stop();
  });
  afterEach(function() {
    if (this.currentTest?.state === 'failed') log(`server errors:\n${node.errors()}\n${second.errors()}`);
  });

  it('edits, reactions, pins, recalls and hides under random disconnects: every device ends with the store\'s state', async () => {
    const users = await seedUsers(db.url, 6);
    const [ owner ] = users;
    const room = await api(node.url, 'POST', '/api/rooms', { token: owner.token, body: { name: `feed${Date.now()}`, members: users.slice(1).map(u => u.id) } });
    assert.strictEqual(room.status, 201, JSON.stringify(room.body));
    const roomId: string = room.body.data._id;
    const pairs: Array<[SeededUser, SeededUser]> = [[ users[1], users[2] ], [ users[3], users[4] ], [ users[5], users[0] ]];
    const conversationsOf = (u: SeededUser) => [
      { timelineId: roomId, typeu: 2 },
      ...pairs.filter(p => p.includes(u)).map(([ x, y ]) => ({ timelineId: `${x.id}@${y.id}`, typeu: 1 })),
    ];

    // messages to change: each user writes in the room and to their pair
    const senders = new Map<string, AnySocket>();
    const sent: any[] = [];
    for (const [ i, u ] of users.entries()) {
      const s = client(i % 2 ? second.url : node.url, { token: u.token, localAddress: ADDRESSES[i % ADDRESSES.length], query: { deviceType: 'WEB' } });
      await waitFor(s, 'connect', 8000);
      senders.set(u.id, s);
      const peer = pairs.find(p => p.includes(u))!.find(p => p !== u)!;
      for (let k = 0; k < 4; k++) {
        for (const [ to, typeu ] of [[ roomId, 2 ], [ peer.id, 1 ]] as const) {
          const res = await emitAck(s, 'to', { type: 1, typeu, to, content: `m${k} from ${u.username} alpha`, fp: `${u.id}-${to}-${k}` });
          assert.strictEqual(res.code, 0, JSON.stringify(res));
          sent.push(res.data.payload);
        }
      }
    }

    // two devices per user, over both nodes and the workers
    const devices = users.flatMap((u, i) => ([ 'MOBILE', 'DESKTOP' ] as const).map((d, k) => {
      const n = i * 2 + k;
      return new Device(u, n % 3 === 0 ? second.url : node.url, d, ADDRESSES[n % ADDRESSES.length], n % 4 === 3 ? 'v2' : 'v4');
    }));
    await Promise.all(devices.map(d => d.start(conversationsOf(d.user))));

    // the changes, made through the WEB sockets (and REST for hides), with devices dropping meanwhile
    const visibleTo = (u: SeededUser) => sent.filter(m => m.typeu === 2 || m.timelineId.split('@').includes(u.id));
    const counts: Record<string, number> = {};
    const refused: Record<string, number> = {};
    const pick = <T>(xs: T[]) => xs[Math.floor(Math.random() * xs.length)];
    const act = async (u: SeededUser) => {
      const s = senders.get(u.id)!;
      const mine = sent.filter(m => m.from === u.id);
      const any = visibleTo(u);
      const roll = Math.random();
      let event: string;
      let payload: unknown;
      if (roll < 0.25) [ event, payload ] = [ 'to_edit', { _id: pick(mine)._id, content: `edited by ${u.username} ${Math.random().toString(36).slice(2, 7)}` } ];
      else if (roll < 0.6) [ event, payload ] = [ 'to_react', { _id: pick(any)._id, emoji: pick([ '👍', '🎉', '❤️', 'ok' ]), on: Math.random() < 0.7 } ];
      else if (roll < 0.78) {
        const m = pick(any);
        [ event, payload ] = [ 'to_pin', { _id: m._id, on: Math.random() < 0.6 } ];
      } else if (roll < 0.88) [ event, payload ] = [ 'to_undo', { _id: pick(mine)._id } ];
      else {
        const res = await api(Math.random() < 0.5 ? node.url : second.url, 'DELETE', `/api/messages/${pick(any)._id}`, { token: u.token });
        counts.hide = (counts.hide ?? 0) + 1;
        if (res.status !== 200) refused[`hide ${res.status}`] = (refused[`hide ${res.status}`] ?? 0) + 1;
        return;
      }
      const res = await emitAck(s, event, payload, 10000).catch(() => ({ code: 'timeout' }));
      counts[event] = (counts[event] ?? 0) + 1;
      if (res.code !== 0) refused[`${event} ${res.code}`] = (refused[`${event} ${res.code}`] ?? 0) + 1;
    };
    const until_ = Date.now() + CHAOS_MS;
    const chaos = setInterval(() => pick(devices).socket?.disconnect(), 300);
    await Promise.all(users.map(async u => {
      while (Date.now() < until_) {
        await act(u);
        await sleep(50 + Math.random() * 150);
      }
    }));
    clearInterval(chaos);

    // settle: everyone back and caught up, twice with a pause for stragglers
    for (let round = 0; round < 2; round++) {
      await sleep(1500);
      await Promise.all(devices.map(async d => {
        await until(`${d.user.username} ${d.device} reconnected`, async () => { await d.ensure(); return d.socket?.connected; }, 30000);
        await d.catchUp(d.socket);
      }));
    }
    for (const d of devices) { d.stopped = true; d.socket?.close(); }
    for (const s of senders.values()) s.close();

    // the store, as each user may see it
    const conn = await mongoose.mongo.MongoClient.connect(db.url);
    try {
      const store = conn.db();
      const ids = sent.map(m => new mongoose.mongo.ObjectId(m._id));
      const docs = await store.collection<MessageDoc>('messages').find({ _id: { $in: ids } }).toArray();
      const byId = new Map(docs.map(d => [ String(d._id), toWire(d) ]));
      const memberships = await store.collection('memberships').find({ user: { $in: users.map(u => new mongoose.mongo.ObjectId(u.id)) } }).toArray();
      const hiddenBy = new Map(users.map(u => [ u.id, new Set(memberships.filter(m => String(m.user) === u.id).flatMap(m => (m.hidden ?? []).map(String))) ]));
      const shape = (m: any) => JSON.stringify({ type: m.type, content: m.content, rev: m.rev, reactions: m.reactions ?? [], pinnedBy: m.pinnedBy ?? null, editedAt: m.editedAt ?? null });
      let differences = 0;
      const examples: string[] = [];
      for (const d of devices) {
        const expected = visibleTo(d.user).filter(m => !hiddenBy.get(d.user.id)!.has(m._id)).map(m => byId.get(m._id)!);
        const got = [ ...d.view.messages.values() ].filter(m => sent.some(s => s._id === m._id));
        const wrong = expected.filter(e => !d.view.messages.has(e._id) || shape(d.view.messages.get(e._id)) !== shape(e));
        const extra = got.filter(m => !expected.some(e => e._id === m._id));
        differences += wrong.length + extra.length;
        for (const w of wrong.slice(0, 2)) examples.push(`${d.user.username}/${d.device}: ${w._id} is ${shape(w)}, the device has ${d.view.messages.has(w._id) ? shape(d.view.messages.get(w._id)) : 'nothing'}`);
        for (const x of extra.slice(0, 2)) examples.push(`${d.user.username}/${d.device}: has ${x._id}, hidden for this user`);
      }
      const rev = docs.reduce((n, d) => n + (d.rev ?? 0), 0);
      log(`changes made ${JSON.stringify(counts)}, refused ${JSON.stringify(refused)}; store revs ${rev}; device reconnects ${devices.reduce((n, d) => n + d.reconnects, 0)}, syncs ${devices.reduce((n, d) => n + d.syncs, 0)}; differences ${differences}`);
      if (examples.length) log(examples.slice(0, 10).join('\n      '));
      assert.ok(rev > 20, 'the run made changes');
      assert.ok(devices.reduce((n, d) => n + d.reconnects, 0) > 5, 'devices dropped and came back');
      assert.strictEqual(differences, 0);
    } finally {
      await conn.close();
    }
  });
});
