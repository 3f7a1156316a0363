import assert from 'node:assert';
import { api, app, connectOk, emitAck, signup, sleep, uniqueName, type TestUser } from '../../helpers';
import { PushService, PUSH_CA_FILE } from '../../push-service';
import { membershipId } from '../../../lib/conversation-ids';

const send = (socket: any, to: string, extra: Record<string, unknown> = {}) => emitAck(socket, 'to', { to, type: 1, content: 'hello there', fp: uniqueName('fp'), ...extra });

describe('Web Push (PROTOCOL §9)', () => {
  const service = new PushService();
  let saved: typeof app.config.push;

  /** A user whose (closed) browser subscribed at the test push service. */
  async function subscribed(): Promise<TestUser & { sub: ReturnType<PushService['subscribe']> }> {
    const user = await signup({ nickname: uniqueName('Nick') });
    const sub = service.subscribe();
    const res = await api('POST', '/api/push/subscriptions', { token: user.token, body: { ...sub, expirationTime: null } });
    assert.strictEqual(res.status, 201, JSON.stringify(res.body));
    return { ...user, sub };
  }

  const pushesTo = (sub: { id: string }) => service.delivered.filter(d => d.subscription === sub.id);

  before(async function() {
    this.timeout(30000);
    await app.ready();
    await service.start();
    saved = { ...app.config.push };
    Object.assign(app.config.push, { allowPrivate: true, caFile: PUSH_CA_FILE, collapseS: 10, timeoutMs: 2000 });
    app.config.queue.pollMs = 50;
    app.jobs.start();
  });

  after(async () => {
    await app.jobs.stop();
    await app.model.PushSubscription.deleteMany({ endpoint: { $regex: '^https://127\\.0\\.0\\.1' } });
    await app.model.OutboundJob.deleteMany({});
    // nobody subscribed any more: later tests' sends cost nothing here
    await app.push.start();
    Object.assign(app.config.push, saved);
    app.config.queue.pollMs = 1000;
    await service.stop();
  });

  afterEach(() => {
    service.status = () => 201;
    service.delayMs = 0;
    app.config.push.preview = true;
  });

  it('GET /api/push/vapid-key gives the public key, the same on every call, kept in the database', async () => {
    const a = await api('GET', '/api/push/vapid-key');
    const b = await api('GET', '/api/push/vapid-key');
    assert.strictEqual(a.status, 200);
    assert.strictEqual(Buffer.from(a.body.data.publicKey, 'base64url').length, 65);
    assert.strictEqual(a.body.data.publicKey, b.body.data.publicKey);
    const stored = await app.model.VapidKey.findById('current').lean<{ publicKey: string }>();
    assert.strictEqual(stored?.publicKey, a.body.data.publicKey);
  });

  it('a message to a user with no socket is pushed, VAPID-signed and encrypted for their browser', async () => {
    const bob = await subscribed();
    const alice = await signup({ nickname: 'Alice A.' });
    const socket = await connectOk({ token: alice.token });
    const ack = await send(socket, bob.id);
    await service.until(() => pushesTo(bob.sub).length === 1);
    const [ push ] = pushesTo(bob.sub);
    assert.deepStrictEqual(push.payload, {
      type: 'message', timelineId: `${alice.id}@${bob.id}`, typeu: 1, _id: ack.data.payload._id, from: { _id: alice.id, nickname: 'Alice A.' }, preview: 'hello there',
    });
    assert.strictEqual(push.vapidKey, (await api('GET', '/api/push/vapid-key')).body.data.publicKey);
    assert.strictEqual(push.claims.sub, app.config.push.subject);
    assert.ok(push.headers.ttl);
    assert.match(String(push.headers.topic), /^[A-Za-z0-9_-]{1,32}$/);
  });

  it('a user with a /chat socket online gets no push', async () => {
    const bob = await subscribed();
    await connectOk({ token: bob.token });
    const alice = await signup();
    const socket = await connectOk({ token: alice.token });
    await send(socket, bob.id);
    await sleep(400);
    assert.strictEqual(pushesTo(bob.sub).length, 0);
  });

  it('one push per conversation per push.collapseS; another conversation has its own', async () => {
    const bob = await subscribed();
    const [ alice, carol ] = await Promise.all([ signup(), signup() ]);
    const [ a, c ] = await Promise.all([ connectOk({ token: alice.token }), connectOk({ token: carol.token }) ]);
    await send(a, bob.id);
    await send(a, bob.id);
    await send(c, bob.id);
    await service.until(() => pushesTo(bob.sub).length >= 2);
    await sleep(300);
    assert.deepStrictEqual(pushesTo(bob.sub).map(p => p.payload.from._id).sort(), [ alice.id, carol.id ].sort());
  });

  it('without push.preview the push carries no text', async () => {
    app.config.push.preview = false;
    const bob = await subscribed();
    const alice = await signup();
    await send(await connectOk({ token: alice.token }), bob.id);
    await service.until(() => pushesTo(bob.sub).length === 1);
    assert.strictEqual(pushesTo(bob.sub)[0].payload.preview, undefined);
  });

  it('room messages are pushed to the members with no socket', async () => {
    const [ bob, owner ] = await Promise.all([ subscribed(), signup() ]);
    const room = await api('POST', '/api/rooms', { token: owner.token, body: { name: uniqueName('room'), members: [ bob.id ] } });
    await send(await connectOk({ token: owner.token }), room.body.data._id, { typeu: 2 });
    await service.until(() => pushesTo(bob.sub).length === 1);
    assert.strictEqual(pushesTo(bob.sub)[0].payload.timelineId, room.body.data._id);
  });

  it('nothing for a muted conversation (issue #17\'s `muted` on the membership)', async () => {
    const [ bob, owner ] = await Promise.all([ subscribed(), signup() ]);
    const room = await api('POST', '/api/rooms', { token: owner.token, body: { name: uniqueName('room'), members: [ bob.id ] } });
    await app.model.Membership.collection.updateOne({ _id: membershipId(bob.id, room.body.data._id) } as never, { $set: { muted: true } });
    await send(await connectOk({ token: owner.token }), room.body.data._id, { typeu: 2 });
    await sleep(400);
    assert.strictEqual(pushesTo(bob.sub).length, 0);
  });

  it('a muted conversation still pushes a message that mentions the user', async () => {
    const bob = await subscribed();
    const owner = await signup();
    const room = await api('POST', '/api/rooms', { token: owner.token, body: { name: uniqueName('room'), members: [ bob.id ] } });
    const roomId = room.body.data._id;
    await app.model.Membership.collection.updateOne({ _id: membershipId(bob.id, roomId) } as never, { $set: { muted: true } });
    const message = { _id: '0123456789abcdef01234567', fp: 'm', from: owner.id, to: roomId, type: 1, typeu: 2, content: '@bob look', conversationId: roomId, timelineId: roomId, seq: 1, sendTime: Date.now(), mentions: [ bob.id ] };
    app.push.stored([ message ]);
    await service.until(() => pushesTo(bob.sub).length === 1);
  });

  it('goes through the database queue: a push queued while no worker runs is sent when one starts', async () => {
    await app.jobs.stop();
    const bob = await subscribed();
    const alice = await signup();
    await send(await connectOk({ token: alice.token }), bob.id);
    for (let i = 0; i < 50 && !await app.model.OutboundJob.countDocuments({ kind: 'push' }); i++) await sleep(20);
    assert.strictEqual(await app.model.OutboundJob.countDocuments({ kind: 'push' }), 1);
    assert.strictEqual(pushesTo(bob.sub).length, 0);
    app.jobs.start();
    await service.until(() => pushesTo(bob.sub).length === 1);
  });

  it('a 410 from the push service deletes the subscription', async () => {
    const bob = await subscribed();
    service.status = id => (id === bob.sub.id ? 410 : 201);
    await send(await connectOk({ token: (await signup()).token }), bob.id);
    for (let i = 0; i < 100 && await app.model.PushSubscription.countDocuments({ endpoint: bob.sub.endpoint }); i++) await sleep(20);
    assert.strictEqual(await app.model.PushSubscription.countDocuments({ endpoint: bob.sub.endpoint }), 0);
  });

  it('DELETE /api/push/subscriptions stops the pushes', async () => {
    const bob = await subscribed();
    const res = await api('DELETE', '/api/push/subscriptions', { token: bob.token, body: { endpoint: bob.sub.endpoint } });
    assert.strictEqual(res.status, 200);
    await send(await connectOk({ token: (await signup()).token }), bob.id);
    await sleep(400);
    assert.strictEqual(pushesTo(bob.sub).length, 0);
  });

  it('a subscription needs a signed-in user (401 / 20001)', async () => {
    const res = await api('POST', '/api/push/subscriptions', { body: service.subscribe() });
    assert.strictEqual(res.status, 401);
    assert.strictEqual(res.body.code, 20001);
  });

  it('the same browser subscribing as another user moves to that user', async () => {
    const [ first, second ] = await Promise.all([ signup(), signup() ]);
    const sub = service.subscribe();
    await api('POST', '/api/push/subscriptions', { token: first.token, body: sub });
    await api('POST', '/api/push/subscriptions', { token: second.token, body: sub });
    const docs = await app.model.PushSubscription.find({ endpoint: sub.endpoint }).lean<Array<{ user: unknown }>>();
    assert.deepStrictEqual(docs.map(d => String(d.user)), [ second.id ]);
  });

  it('a send is answered without waiting for its pushes', async () => {
    const bob = await subscribed();
    const socket = await connectOk({ token: (await signup()).token });
    service.delayMs = 1500;
    const started = Date.now();
    assert.strictEqual((await send(socket, bob.id)).code, 0);
    assert.ok(Date.now() - started < 1000);
    await service.until(() => pushesTo(bob.sub).length === 1);
  });
});
