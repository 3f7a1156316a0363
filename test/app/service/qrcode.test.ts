import assert from 'node:assert';
import mm from 'egg-mock';
import { Redis } from 'ioredis';
import { app } from '../../helpers';

// Needs Redis (REDIS_URL or 127.0.0.1:6379), like the adapter tests; .ci/run starts one when none is running.
describe('QR-code id store on Redis (several workers)', () => {
  let redis: Redis;
  before(async () => {
    await app.ready();
    redis = new Redis(process.env.REDIS_URL || 'redis://127.0.0.1:6379', { maxRetriesPerRequest: 1 });
  });
  after(() => redis.quit());

  it('keeps ids with their lifetime and lets exactly one consumer use an id', async () => {
    mm(app, 'redis', redis);
    const ctx = app.mockContext();
    const { deviceId, expiresIn } = await ctx.service.qrcode.create();
    const ttl = await redis.ttl(`im:qr:${deviceId}`);
    assert.ok(ttl > 0 && ttl <= expiresIn, `ttl ${ttl}`);
    assert.strictEqual((await ctx.service.qrcode.describe(deviceId)).deviceId, deviceId);
    await assert.rejects(ctx.service.qrcode.describe('0'.repeat(32)), { code: 20006 });
    const phone = await ctx.model.User.create({ username: `qr${Date.now()}`, usernameLower: `qr${Date.now()}`, passwordHash: 'x' });
    const outcomes = await Promise.allSettled([ 1, 2, 3 ].map(() => app.mockContext().service.qrcode.confirm(deviceId, String(phone._id))));
    assert.strictEqual(outcomes.filter(o => o.status === 'fulfilled').length, 1);
    for (const o of outcomes) if (o.status === 'rejected') assert.strictEqual(o.reason.code, 20006);
    assert.strictEqual(await redis.exists(`im:qr:${deviceId}`), 0);
  });

  it('lets the first socket without the secret wait, refuses the next, and lets the secret replace it', async () => {
    mm(app, 'redis', redis);
    const qr = app.mockContext().service.qrcode;
    const { deviceId, secret } = await qr.create();
    assert.ok(await qr.attach(deviceId, undefined, 'socket-a'));
    assert.strictEqual(await qr.attach(deviceId, undefined, 'socket-b'), null);
    assert.strictEqual(await qr.attach(deviceId, 'not the secret', 'socket-c'), null);
    const ttl = await qr.attach(deviceId, secret, 'socket-d');
    assert.ok(ttl! > 0 && ttl! <= 120000, String(ttl));
    assert.strictEqual(await redis.get(`im:qr:${deviceId}:socket`), 'socket-d');
    assert.ok(await redis.pttl(`im:qr:${deviceId}:socket`) > 0);
  });
});
