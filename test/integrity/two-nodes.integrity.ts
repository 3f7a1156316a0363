import assert from 'node:assert';
import { api, connectOk, emitAck, latencyProxy, log, notWithin, OwnRedis, seedUsers, sleep, startCluster, startDb, waitFor, type AnySocket, type Cluster, type SeededUser } from './harness';

/**
 * Two nodes of one deployment (two egg clusters, one worker each, separate processes) on one
 * database and one Redis, as two machines would be; and a second deployment (another REDIS_PREFIX)
 * on the same Redis that must hear nothing of the first. Redis is reached through a proxy that adds
 * 40 ms each way, as from another zone: a device kick that comes back from Redis then arrives after
 * the new socket joined its rooms (how the kick used to drop the new login).
 */
describe('integrity: two nodes on one database and one Redis', function() {
  this.timeout(120000);
  const redis = new OwnRedis();
  let db: Awaited<ReturnType<typeof startDb>>;
  let n1: Cluster;
  let n2: Cluster;
  let other: Cluster;
  let proxy: Awaited<ReturnType<typeof latencyProxy>>;
  const open: AnySocket[] = [];
  const sock = async (node: Cluster, u: SeededUser, extra: { deviceType?: string; version?: 'v2' | 'v4' } = {}) => {
    const s = await connectOk(node.url, { token: u.token, version: extra.version, query: { deviceType: extra.deviceType ?? 'MOBILE' } });
    open.push(s);
    return s;
  };
  const send = (s: AnySocket, to: string, typeu = 1) => emitAck(s, 'to', { type: 1, typeu, to, content: 'hello', fp: `fp-${Date.now()}-${Math.random()}` });

  before(async () => {
    await redis.start();
    db = await startDb();
    proxy = await latencyProxy(redis.port, 40);
    [ n1, n2, other ] = await Promise.all([
      startCluster({ workers: 1, mongoUrl: db.url, redisUrl: proxy.url }),
      startCluster({ workers: 1, mongoUrl: db.url, redisUrl: proxy.url }),
      startCluster({ workers: 1, mongoUrl: db.url, redisUrl: proxy.url, prefix: 'another-deployment' }),
    ]);
  });
  afterEach(() => { while (open.length) open.pop().close(); });
  after(async () => {
    await Promise.all([ n1, n2, other ].map(c => c?.stop()));
    await proxy?.close();
    await db?.stop();
    await redis.stop();
  });

  it('1:1: a message sent on one node reaches the recipient on the other', async () => {
    const [ a, b ] = await seedUsers(db.url, 2);
    const sa = await sock(n1, a);
    const sb = await sock(n2, b, { version: 'v2' });
    const got = waitFor(sb, 'c_message');
    const ack = await send(sa, b.id);
    assert.strictEqual(ack.code, 0);
    assert.strictEqual((await got).data.payload._id, ack.data.payload._id);
  });

  it('room: a message sent on one node reaches members on both nodes', async () => {
    const [ a, b, c ] = await seedUsers(db.url, 3);
    const created = await api(n1.url, 'POST', '/api/rooms', { token: a.token, body: { name: `r${Date.now()}`, members: [ b.id, c.id ] } });
    assert.strictEqual(created.status, 201, JSON.stringify(created.body));
    const roomId = created.body.data._id;
    const sa = await sock(n1, a);
    const sb = await sock(n2, b);
    const sc = await sock(n1, c, { version: 'v2' });
    const got = Promise.all([ waitFor(sb, 'c_message'), waitFor(sc, 'c_message') ]);
    const ack = await send(sa, roomId, 2);
    assert.strictEqual(ack.code, 0, JSON.stringify(ack));
    for (const m of await got) assert.strictEqual(m.data.payload._id, ack.data.payload._id);
  });

  it('presence: a friend coming online on one node is announced (c_online) to the other', async () => {
    const [ a, b ] = await seedUsers(db.url, 2);
    assert.strictEqual((await api(n1.url, 'POST', '/api/friends/requests', { token: a.token, body: { to: b.id } })).status, 201);
    assert.strictEqual((await api(n2.url, 'POST', `/api/friends/requests/${a.id}/accept`, { token: b.token, body: {} })).status, 200);
    const sb = await sock(n2, b);
    const online = waitFor(sb, 'c_online');
    await sock(n1, a);
    const env = await online;
    assert.deepStrictEqual([ env.data.payload.type, env.data.payload.current ], [ 'online', a.id ]);
  });

  it('device policy across nodes: the older socket gets 20004 and is dropped, the new one stays and receives', async () => {
    const [ a, b ] = await seedUsers(db.url, 2);
    const older = await sock(n1, a);
    const heard: string[] = [];
    older.on('im_error', () => heard.push('im_error'));
    older.on('disconnect', () => heard.push('disconnect'));
    const kicked = Promise.all([ waitFor(older, 'im_error'), waitFor(older, 'disconnect') ]);
    const newer = await sock(n2, a);
    const [ err ] = await kicked;
    assert.strictEqual(err.code, 20004);
    assert.deepStrictEqual(heard, [ 'im_error', 'disconnect' ]);
    assert.ok(await notWithin(newer, 'disconnect', 1000), 'the new socket was dropped by its own login');
    const sb = await sock(n1, b);
    const got = waitFor(newer, 'c_message');
    assert.strictEqual((await send(sb, a.id)).code, 0);
    await got;
  });

  it('device policy on one node with the Redis adapter: the new socket is never dropped', async () => {
    const [ a ] = await seedUsers(db.url, 1);
    const older = await sock(n1, a);
    const kicked = waitFor(older, 'im_error');
    const newer = await sock(n1, a);
    assert.strictEqual((await kicked).code, 20004);
    assert.ok(await notWithin(newer, 'disconnect', 1000), 'the new socket was dropped by its own login');
    assert.strictEqual(newer.connected, true);
  });

  it('QR login: scanned and confirmed on one node, the PC waiting on the other gets both', async () => {
    const [ phone ] = await seedUsers(db.url, 1);
    const qr = await api(n1.url, 'GET', '/api/qrcode');
    const deviceId = qr.body.data.deviceId;
    // with the PC's secret, as the web client does (without it the id's first socket would do too)
    const pc = await connectOk(n1.url, { nsp: '/sso', query: { device_id: deviceId, secret: qr.body.data.secret } });
    open.push(pc);
    const scanned = waitFor(pc, 'qrlogin');
    assert.strictEqual((await api(n2.url, 'POST', '/api/qrcode/scan', { token: phone.token, body: { deviceId } })).status, 200);
    assert.strictEqual((await scanned).data.payload.status, 'scanned');
    const confirmed = waitFor(pc, 'qrlogin');
    assert.strictEqual((await api(n2.url, 'POST', '/api/qrcode/confirm', { token: phone.token, body: { deviceId } })).status, 200);
    const env = await confirmed;
    assert.strictEqual(env.data.payload.status, 'confirmed');
    assert.strictEqual(env.data.payload.user._id, phone.id);
    // the new token works on either node
    await sock(n1, { ...phone, token: env.data.payload.token }, { deviceType: 'DESKTOP' });
  });

  it('logout on one node disconnects the session\'s socket on the other with 20001', async () => {
    const [ a ] = await seedUsers(db.url, 1);
    const s = await sock(n2, a);
    const dropped = Promise.all([ waitFor(s, 'im_error'), waitFor(s, 'disconnect') ]);
    assert.strictEqual((await api(n1.url, 'POST', '/api/logout', { token: a.token })).status, 200);
    assert.strictEqual((await dropped)[0].code, 20001);
  });

  it('a member kicked on one node cannot send through the other at once', async () => {
    const [ owner, b ] = await seedUsers(db.url, 2);
    const room = (await api(n1.url, 'POST', '/api/rooms', { token: owner.token, body: { name: `k${Date.now()}`, members: [ b.id ] } })).body.data;
    const sb = await sock(n2, b);
    assert.strictEqual((await send(sb, room._id, 2)).code, 0); // the other node now knows the members
    assert.strictEqual((await api(n1.url, 'POST', `/api/rooms/${room._id}/members`, { token: owner.token, body: { remove: [ b.id ] } })).status, 200);
    assert.strictEqual((await send(sb, room._id, 2)).code, 20003);
  });

  it('a member who joined on one node can send through the other at once', async () => {
    const [ owner, d ] = await seedUsers(db.url, 2);
    const room = (await api(n1.url, 'POST', '/api/rooms', { token: owner.token, body: { name: `j${Date.now()}`, visibility: 'public' } })).body.data;
    const so = await sock(n2, owner);
    assert.strictEqual((await send(so, room._id, 2)).code, 0); // the other node now knows the members
    const sd = await sock(n2, d);
    assert.strictEqual((await api(n1.url, 'POST', `/api/rooms/${room._id}/join`, { token: d.token })).status, 200);
    const ack = await send(sd, room._id, 2);
    assert.strictEqual(ack.code, 0, JSON.stringify(ack));
  });

  it('another deployment (another REDIS_PREFIX) on the same Redis hears none of it: no message, no kick', async () => {
    const [ a, b ] = await seedUsers(db.url, 2);
    const elsewhere = await sock(other, b); // b's socket on the other deployment
    const sa = await sock(n1, a);
    const quiet = notWithin(elsewhere, 'c_message', 1000);
    assert.strictEqual((await send(sa, b.id)).code, 0);
    assert.strictEqual(await quiet, true);
    // b logs in on this deployment with the same device class: the other deployment's socket is not kicked
    const notKicked = notWithin(elsewhere, 'im_error', 1000);
    await sock(n2, b);
    assert.strictEqual(await notKicked, true);
    log('the second deployment heard no message and no kick');
    await sleep(0);
  });
});
