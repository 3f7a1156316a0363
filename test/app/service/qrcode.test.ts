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

  beforeEach(() => mm(app, 'qrLogins', new Stores(redis, app.config.redisPrefix).qrLogins()));
  const qr = () => app.mockContext().service.qrcode;

  it('keeps a new id in Redis for its lifetime', async () => {
    const { deviceId, expiresIn } = await qr().create();
    const ttl = await redis.ttl(`${app.config.redisPrefix}:qr:${deviceId}`);
    assert.ok(ttl > 0 && ttl <= expiresIn, `ttl ${ttl}`);
  });

  it('describes a kept id; an unknown one is 20006', async () => {
    const { deviceId } = await qr().create();
    assert.strictEqual((await qr().describe(deviceId)).deviceId, deviceId);
    await assert.rejects(qr().describe('0'.repeat(32)), { code: 20006 });
  });

  it('of concurrent confirms exactly one uses the id; the others are 20006 and the id is gone', async () => {
    const { deviceId } = await qr().create();
    const phone = await app.model.User.create({ username: `qr${Date.now()}`, usernameLower: `qr${Date.now()}`, passwordHash: 'x' });
    const outcomes = await Promise.allSettled([ 1, 2, 3 ].map(() => qr().confirm(deviceId, String(phone._id))));
    assert.strictEqual(outcomes.filter(o => o.status === 'fulfilled').length, 1);
    for (const o of outcomes) if (o.status === 'rejected') assert.strictEqual(o.reason.code, 20006);
    assert.strictEqual(await redis.exists(`${app.config.redisPrefix}:qr:${deviceId}`), 0);
  });

  it('lets the first socket without the secret wait and refuses the next', async () => {
    const { deviceId } = await qr().create();
    assert.ok(await qr().attach(deviceId, undefined, 'socket-a'));
    assert.strictEqual(await qr().attach(deviceId, undefined, 'socket-b'), null);
  });

  it('refuses a wrong secret', async () => {
    const { deviceId } = await qr().create();
    assert.strictEqual(await qr().attach(deviceId, 'not the secret', 'socket-c'), null);
  });

  it('lets the secret replace the waiting socket, for the id\'s lifetime', async () => {
    const { deviceId, secret } = await qr().create();
    await qr().attach(deviceId, undefined, 'socket-a');
    const ttl = await qr().attach(deviceId, secret, 'socket-d');
    assert.ok(ttl! > 0 && ttl! <= 120000, String(ttl));
    assert.strictEqual(await redis.get(`${app.config.redisPrefix}:qr:${deviceId}:socket`), 'socket-d');
    assert.ok(await redis.pttl(`${app.config.redisPrefix}:qr:${deviceId}:socket`) > 0);
  });
});
