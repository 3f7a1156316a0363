import assert from 'node:assert';
import { api, connectOk, log, OwnRedis, seedUsers, sleep, startCluster, startDb, until, type Cluster } from './harness';
import { runIntegrity, summary, type LoadOptions } from './load';

// clients from 127.0.0.2..9: `--sticky` hashes the client address, so they spread over the workers
const ADDRESSES = Array.from({ length: 8 }, (_, i) => `127.0.0.${i + 2}`);
const WORKERS = 3;

describe('integrity: 3 workers with egg-scripts --sticky (prod), own Redis and FerretDB', function() {
  this.timeout(240000);
  const redis = new OwnRedis();
  let db: Awaited<ReturnType<typeof startDb>>;
  let cluster: Cluster;

  before(async () => {
    await redis.start();
    db = await startDb();
    cluster = await startCluster({ workers: WORKERS, mongoUrl: db.url, redisUrl: redis.url });
  });
  after(async () => {
    await cluster?.stop();
    await db?.stop();
    await redis.stop();
  });
  afterEach(function() {
    if (this.currentTest?.state === 'failed') log(`server errors:\n${cluster.errors()}`);
  });

  const load = async (users: number, extra: Partial<LoadOptions> = {}) => runIntegrity({
    base: cluster.url, users: await seedUsers(db.url, users), perSender: 15, intervalMs: 250, chaosEveryMs: 400, deadlineMs: 90000,
    addresses: ADDRESSES, v2Every: 3, ...extra,
  });

  it('clients on several loopback addresses land on several workers', async () => {
    const [ admin ] = await seedUsers(db.url, 1, { admin: true });
    const users = await seedUsers(db.url, 16);
    await Promise.all(users.map((u, i) => connectOk(cluster.url, { token: u.token, localAddress: ADDRESSES[i % ADDRESSES.length] })));
    const res = await api(cluster.url, 'GET', '/api/admin/stats', { token: admin.token });
    assert.strictEqual(res.status, 200, JSON.stringify(res.body));
    const counts = Object.values(res.body.data.socketsPerWorker as Record<string, number>);
    log(`sockets per worker: ${JSON.stringify(res.body.data.socketsPerWorker)}`);
    assert.strictEqual(counts.length, WORKERS);
    assert.ok(counts.filter(n => n > 0).length >= 2, 'all clients landed on one worker');
    assert.strictEqual(counts.reduce((a, b) => a + b, 0), 16);
  });

  it('random disconnects and reconnects: every acked message received exactly once', async () => {
    const r = await load(12);
    log(summary('random disconnects', r));
    assert.deepStrictEqual({ lost: r.lost, duplicated: r.duplicated }, { lost: 0, duplicated: 0 });
    assert.ok(r.acked > 0);
  });

  it('a worker killed (kill -9) mid-run: every acked message received exactly once', async () => {
    const before = cluster.workers();
    const r = await load(12, {
      faultAtMs: 3000,
      fault: async () => {
        process.kill(before[0], 'SIGKILL');
        log(`killed worker ${before[0]}`);
      },
    });
    log(summary('worker kill -9', r));
    // egg forks a new worker in its place
    await until('the worker is replaced', () => cluster.workers().length === WORKERS && !cluster.workers().includes(before[0]), 30000);
    assert.deepStrictEqual({ lost: r.lost, duplicated: r.duplicated }, { lost: 0, duplicated: 0 });
  });

  it('the database paused 5 s (SIGSTOP/SIGCONT): /readyz says so within its bound, every acked message received exactly once', async () => {
    let readyWhilePaused: number | null = null;
    let readyMs = 0;
    const r = await load(12, {
      faultAtMs: 3000,
      fault: async () => {
        db.pause();
        try {
          await sleep(1000);
          const t = Date.now();
          readyWhilePaused = (await fetch(`${cluster.url}/readyz`, { signal: AbortSignal.timeout(10000) })).status;
          readyMs = Date.now() - t;
          await sleep(4000 - readyMs);
        } finally {
          db.resume();
        }
      },
    });
    log(summary('database paused 5 s', r));
    log(`/readyz while paused: ${readyWhilePaused} in ${readyMs} ms`);
    assert.strictEqual(readyWhilePaused, 503);
    assert.ok(readyMs < 3000, `readyz took ${readyMs} ms`);
    // recovers by itself
    await until('/readyz 200 again', async () => (await fetch(`${cluster.url}/readyz`, { signal: AbortSignal.timeout(3000) })).status === 200, 20000);
    assert.deepStrictEqual({ lost: r.lost, duplicated: r.duplicated }, { lost: 0, duplicated: 0 });
  });

  it('Redis restarted mid-run: every acked message received exactly once', async () => {
    const r = await load(12, {
      faultAtMs: 3000,
      fault: async () => {
        await redis.stop();
        await sleep(2000);
        await redis.start();
      },
    });
    log(summary('Redis restart', r));
    await until('/readyz 200 again', async () => (await fetch(`${cluster.url}/readyz`, { signal: AbortSignal.timeout(3000) })).status === 200, 20000);
    assert.deepStrictEqual({ lost: r.lost, duplicated: r.duplicated }, { lost: 0, duplicated: 0 });
  });
});
