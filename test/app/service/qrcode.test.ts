import assert from 'node:assert';
import mm from 'egg-mock';
import { Redis } from 'ioredis';
import { app } from '../../helpers';
import { Stores } from '../../../lib/stores';

// Needs Redis (REDIS_URL or 127.0.0.1:6379), like the adapter tests; .ci/run starts one when none is running.
describe('QR-code id store on Redis (several workers)', () => {
  let redis: Redis;
  before(async () => {
    await app.ready();
    redis = new Redis(process.env.REDIS_URL || 'redis://127.0.0.1:6379', { maxRetriesPerRequest: 1 });
  });
  after(() => redis.quit());

  beforeEach(() => mm(app, 'stores', new Stores(redis, app.config.redisPrefix)));

  it('keeps a new id in Redis for its lifetime', async () => {
    const { deviceId, expiresIn } = await app.mockContext().service.qrcode.create();
    const ttl = await redis.ttl(`im:qr:${deviceId}`);
    assert.ok(ttl > 0 && ttl <= expiresIn, `ttl ${ttl}`);
  });

  it('a kept id is pending, an unknown one is not', async () => {
    const ctx = app.mockContext();
    const { deviceId } = await ctx.service.qrcode.create();
    assert.strictEqual(await ctx.service.qrcode.isPending(deviceId), true);
    assert.strictEqual(await ctx.service.qrcode.isPending('0'.repeat(32)), false);
  });

  it('of concurrent confirms exactly one uses the id; the others are 20006 and the id is gone', async () => {
    const ctx = app.mockContext();
    const { deviceId } = await ctx.service.qrcode.create();
    const phone = await ctx.model.User.create({ username: `qr${Date.now()}`, usernameLower: `qr${Date.now()}`, passwordHash: 'x' });
    const outcomes = await Promise.allSettled([ 1, 2, 3 ].map(() => app.mockContext().service.qrcode.confirm(deviceId, String(phone._id))));
    assert.strictEqual(outcomes.filter(o => o.status === 'fulfilled').length, 1);
    for (const o of outcomes) if (o.status === 'rejected') assert.strictEqual(o.reason.code, 20006);
    assert.strictEqual(await redis.exists(`im:qr:${deviceId}`), 0);
  });
});
