import assert from 'node:assert';
import { api, app, connectOk, emitAck, signup, sleep, uniqueName } from '../helpers';
import { PushService, PUSH_CA_FILE } from '../push-service';

/**
 * Push endpoints are URLs users give the server, which it then calls: a subscription must not aim
 * the server at its own network (SSRF), neither when it is made nor later, when the name's DNS
 * answer may have changed (the address is checked when the connection is made).
 */
describe('security: push endpoints (PROTOCOL §9)', () => {
  const service = new PushService();
  let saved: typeof app.config.push;
  let user: { token: string; id: string };

  const keys = () => service.subscribe().keys;
  const subscribe = (endpoint: string) => api('POST', '/api/push/subscriptions', { token: user.token, body: { endpoint, keys: keys() } });

  before(async () => {
    await app.ready();
    await service.start();
    saved = { ...app.config.push };
    Object.assign(app.config.push, { caFile: PUSH_CA_FILE, allowPrivate: false });
    user = await signup();
  });

  after(async () => {
    Object.assign(app.config.push, saved);
    await app.model.PushSubscription.deleteMany({ endpoint: { $regex: '^https://127\\.0\\.0\\.1' } });
    await app.model.OutboundJob.deleteMany({});
    await app.push.start();
    await service.stop();
  });

  for (const endpoint of [ 'https://127.0.0.1/push/x', 'https://localhost/push/x', 'https://[::1]/push/x', 'https://10.1.2.3/push/x', 'https://192.168.0.10/push/x', 'https://[::ffff:127.0.0.1]/push/x' ]) {
    it(`refuses a loopback or private endpoint: ${endpoint} (400 / 20002)`, async () => {
      const res = await subscribe(endpoint);
      assert.strictEqual(res.status, 400);
      assert.strictEqual(res.body.code, 20002);
    });
  }

  it('refuses a link-local endpoint (cloud metadata) even with PUSH_ALLOW_PRIVATE', async () => {
    app.config.push.allowPrivate = true;
    try {
      const res = await subscribe('https://169.254.169.254/latest/meta-data');
      assert.strictEqual(res.status, 400);
      assert.strictEqual(res.body.code, 20002);
    } finally {
      app.config.push.allowPrivate = false;
    }
  });

  it('refuses http endpoints, also with PUSH_ALLOW_PRIVATE', async () => {
    app.config.push.allowPrivate = true;
    try {
      const res = await subscribe(`${service.origin.replace('https:', 'http:')}/push/x`);
      assert.strictEqual(res.status, 400);
      assert.strictEqual(res.body.code, 20002);
    } finally {
      app.config.push.allowPrivate = false;
    }
  });

  it('refuses keys that are not a P-256 point and a 16-byte secret', async () => {
    const res = await api('POST', '/api/push/subscriptions', { token: user.token, body: { endpoint: 'https://push.example.com/x', keys: { p256dh: 'AAAA', auth: 'AAAA' } } });
    assert.strictEqual(res.status, 400);
    assert.strictEqual(res.body.code, 20002);
  });

  it('checks the address again when it sends: an endpoint that became private gets nothing', async () => {
    app.config.push.allowPrivate = true;
    const bob = await signup();
    const sub = service.subscribe();
    assert.strictEqual((await api('POST', '/api/push/subscriptions', { token: bob.token, body: sub })).status, 201);
    // as if the name now resolved to a private address: the policy refuses the same address at connect time
    app.config.push.allowPrivate = false;
    const refusedSoFar = async () => (await app.metrics.pushSends.get()).values.find(v => v.labels.result === 'refused')?.value ?? 0;
    const before = await refusedSoFar();
    app.config.queue.pollMs = 50;
    app.jobs.start();
    try {
      const alice = await signup();
      await emitAck(await connectOk({ token: alice.token }), 'to', { to: bob.id, type: 1, content: 'hi', fp: uniqueName('fp') }, 10000);
      for (let i = 0; i < 250 && await refusedSoFar() === before; i++) await sleep(20);
      for (let i = 0; i < 50 && await app.model.OutboundJob.countDocuments({ kind: 'push' }); i++) await sleep(20);
    } finally {
      await app.jobs.stop();
      app.config.queue.pollMs = 1000;
    }
    assert.strictEqual(service.delivered.filter(d => d.subscription === sub.id).length, 0);
    assert.strictEqual(await app.model.OutboundJob.countDocuments({ kind: 'push' }), 0, 'a refused push is dropped, not retried');
    assert.ok(await refusedSoFar() > before);
  });

  it('subscriptions are rate-limited per user (429 / 20009)', async () => {
    const savedLimit = app.config.rateLimit.pushSubscribe;
    app.config.rateLimit.pushSubscribe = { points: 2, duration: 3600 };
    app.config.push.allowPrivate = true;
    try {
      const someone = await signup();
      for (let i = 0; i < 2; i++) assert.strictEqual((await api('POST', '/api/push/subscriptions', { token: someone.token, body: service.subscribe() })).status, 201);
      const res = await api('POST', '/api/push/subscriptions', { token: someone.token, body: service.subscribe() });
      assert.strictEqual(res.status, 429);
      assert.strictEqual(res.body.code, 20009);
    } finally {
      app.config.rateLimit.pushSubscribe = savedLimit;
      app.config.push.allowPrivate = false;
    }
  });

  it('a user keeps at most push.maxPerUser subscriptions (the oldest go)', async () => {
    app.config.push.allowPrivate = true;
    const savedMax = app.config.push.maxPerUser;
    app.config.push.maxPerUser = 2;
    try {
      const someone = await signup();
      for (let i = 0; i < 3; i++) {
        assert.strictEqual((await api('POST', '/api/push/subscriptions', { token: someone.token, body: service.subscribe() })).status, 201);
        await sleep(5);
      }
      assert.strictEqual(await app.model.PushSubscription.countDocuments({ user: someone.id }), 2);
    } finally {
      app.config.push.maxPerUser = savedMax;
      app.config.push.allowPrivate = false;
    }
  });
});
