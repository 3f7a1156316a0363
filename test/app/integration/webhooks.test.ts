import assert from 'node:assert';
import { api, app, connectOk, emitAck, signup, sleep, uniqueName, waitFor } from '../../helpers';
import { admin, cli } from '../../integration-helpers';
import { WebhookReceiver } from '../../webhook-receiver';
import { verifySignature } from '../../../lib/webhook-signature';
import { commandsDuring } from '../../db-commands';

const send = (socket: any, to: string, extra: Record<string, unknown> = {}) => emitAck(socket, 'to', { to, type: 1, content: 'hello', fp: uniqueName('fp'), ...extra });

describe('webhooks (PROTOCOL §9)', () => {
  let adminToken: string;
  const receiver = new WebhookReceiver();
  const made: string[] = [];
  let saved: typeof app.config.webhooks;

  /** Registers a webhook through the admin API; removed after the suite. */
  async function register(events: string[], url = receiver.url) {
    const res = await api('POST', '/api/admin/webhooks', { token: adminToken, body: { url, events } });
    assert.strictEqual(res.status, 201, JSON.stringify(res.body));
    made.push(res.body.data._id);
    return res.body.data as { _id: string; secret: string; url: string; events: string[] };
  }

  async function unregister(id: string) {
    await api('DELETE', `/api/admin/webhooks/${id}`, { token: adminToken });
  }

  before(async function() {
    this.timeout(30000);
    await app.ready();
    adminToken = (await admin()).token;
    await receiver.start();
    saved = { ...app.config.webhooks };
    Object.assign(app.config.webhooks, { retryBaseMs: 50, retryMaxDelayMs: 200, lingerMs: 10, timeoutMs: 1000 });
    app.config.queue.pollMs = 50;
    app.jobs.start();
  });

  after(async () => {
    await app.jobs.stop();
    for (const id of made) await unregister(id);
    await app.model.OutboundJob.deleteMany({});
    Object.assign(app.config.webhooks, saved);
    app.config.queue.pollMs = 1000;
    await receiver.stop();
  });

  afterEach(() => {
    receiver.answer = () => ({ status: 200 });
  });

  describe('registration', () => {
    it('POST /api/admin/webhooks returns the secret once; GET lists without it', async () => {
      const hook = await register([ 'user.online' ]);
      assert.match(hook.secret, /^whsec_/);
      const list = await api('GET', '/api/admin/webhooks', { token: adminToken });
      const listed = list.body.data.find((h: any) => h._id === hook._id);
      assert.deepStrictEqual(listed.events, [ 'user.online' ]);
      assert.strictEqual(listed.secret, undefined);
      await unregister(hook._id);
    });

    it('DELETE /api/admin/webhooks/:id removes it (200), then 404', async () => {
      const hook = await register([ 'user.online' ]);
      assert.strictEqual((await api('DELETE', `/api/admin/webhooks/${hook._id}`, { token: adminToken })).status, 200);
      const again = await api('DELETE', `/api/admin/webhooks/${hook._id}`, { token: adminToken });
      assert.strictEqual(again.status, 404);
    });

    it('is for admins only (403 / 10006)', async () => {
      const user = await signup();
      const res = await api('POST', '/api/admin/webhooks', { token: user.token, body: { url: receiver.url, events: [ 'user.online' ] } });
      assert.strictEqual(res.status, 403);
      assert.strictEqual(res.body.code, 10006);
    });

    it('an unknown event is 400 / 20002', async () => {
      const res = await api('POST', '/api/admin/webhooks', { token: adminToken, body: { url: receiver.url, events: [ 'message.exploded' ] } });
      assert.strictEqual(res.status, 400);
      assert.strictEqual(res.body.code, 20002);
    });

    it('the admin CLI adds, lists and removes webhooks', async () => {
      const added = await cli([ 'webhooks', 'add', '--url', receiver.url, '--events', 'friend.changed,room.changed' ]);
      assert.strictEqual(added.code, 0, added.stderr);
      const id = /added webhook ([0-9a-f]{24})/.exec(added.stdout)![1];
      assert.match((await cli([ 'webhooks', 'list' ])).stdout, new RegExp(`${id}  ${receiver.url}  friend.changed,room.changed`));
      assert.strictEqual((await cli([ 'webhooks', 'remove', id ])).code, 0);
      assert.strictEqual(await app.model.Webhook.countDocuments({ _id: id }), 0);
    });

    it('a webhook the CLI adds is used after the app re-reads the registrations', async () => {
      const added = await cli([ 'webhooks', 'add', '--url', receiver.url, '--events', 'user.offline' ]);
      const id = /added webhook ([0-9a-f]{24})/.exec(added.stdout)![1];
      made.push(id);
      assert.strictEqual(app.webhooks.wants('user.offline'), false);
      await app.webhooks.reload();
      assert.strictEqual(app.webhooks.wants('user.offline'), true);
    });
  });

  describe('deliveries', () => {
    it('message.created: a signed POST of {id, type, createdAt, data: {message}}', async () => {
      const hook = await register([ 'message.created' ]);
      const [ alice, bob ] = await Promise.all([ signup(), signup() ]);
      const socket = await connectOk({ token: alice.token });
      const ack = await send(socket, bob.id);
      const id = ack.data.payload._id;
      await receiver.until(() => receiver.ofType('message.created').some(r => r.json.data.message._id === id));
      const r = receiver.ofType('message.created').find(x => x.json.data.message._id === id)!;
      assert.deepStrictEqual(Object.keys(r.json).sort(), [ 'createdAt', 'data', 'id', 'type' ]);
      assert.strictEqual(r.id, r.json.id);
      assert.strictEqual(r.json.data.message.content, 'hello');
      assert.ok(verifySignature(hook.secret, { timestamp: r.timestamp, signature: r.signature }, r.body));
      assert.ok(!verifySignature('another secret of some length', { timestamp: r.timestamp, signature: r.signature }, r.body));
      await unregister(hook._id);
    });

    it('a receiver that fails the first attempts gets the event again until it answers 2xx; the log lists each attempt', async () => {
      const hook = await register([ 'friend.changed' ]);
      receiver.answer = (_r, nth) => (nth <= 2 ? { status: 503 } : { status: 204 });
      const [ alice, bob ] = await Promise.all([ signup(), signup() ]);
      await api('POST', '/api/friends/requests', { token: alice.token, body: { to: bob.id } });
      await receiver.until(() => receiver.ofType('friend.changed').filter(r => r.json.data.from === alice.id).length === 3);
      const tries = receiver.ofType('friend.changed').filter(r => r.json.data.from === alice.id);
      assert.strictEqual(new Set(tries.map(t => t.id)).size, 1);
      assert.deepStrictEqual(tries[0].json.data, { type: 'request', from: alice.id, to: bob.id });
      let log: any[] = [];
      for (let i = 0; i < 50 && !(log.length === 3 && log[0].outcome === 'done'); i++) {
        await sleep(20);
        log = (await api('GET', `/api/admin/webhooks/${hook._id}/deliveries`, { token: adminToken })).body.data;
      }
      assert.deepStrictEqual(log.map(a => [ a.attempt, a.outcome, a.events[0].status ]), [ [ 3, 'done', 204 ], [ 2, 'retry', 503 ], [ 1, 'retry', 503 ] ]);
      await unregister(hook._id);
    });

    it('user.online and user.offline with the first and last socket', async () => {
      const hook = await register([ 'user.online', 'user.offline' ]);
      const user = await signup();
      const socket = await connectOk({ token: user.token });
      await receiver.until(() => receiver.ofType('user.online').some(r => r.json.data.userId === user.id));
      socket.close();
      await receiver.until(() => receiver.ofType('user.offline').some(r => r.json.data.userId === user.id));
      await unregister(hook._id);
    });

    it('room.changed for each room notice', async () => {
      const hook = await register([ 'room.changed' ]);
      const owner = await signup();
      const room = await api('POST', '/api/rooms', { token: owner.token, body: { name: uniqueName('room') } });
      await receiver.until(() => receiver.ofType('room.changed').some(r => r.json.data.room === room.body.data._id && r.json.data.event === 'created'));
      await unregister(hook._id);
    });

    it('message.updated on a recall', async () => {
      const hook = await register([ 'message.updated' ]);
      const [ alice, bob ] = await Promise.all([ signup(), signup() ]);
      const socket = await connectOk({ token: alice.token });
      const ack = await send(socket, bob.id);
      await emitAck(socket, 'to_undo', { _id: ack.data.payload._id });
      await receiver.until(() => receiver.ofType('message.updated').some(r => r.json.data.message._id === ack.data.payload._id && r.json.data.message.type === 10));
      await unregister(hook._id);
    });

    it('a removed webhook gets nothing more', async () => {
      const hook = await register([ 'user.online' ]);
      await unregister(hook._id);
      const user = await signup();
      await connectOk({ token: user.token });
      await sleep(200);
      assert.ok(!receiver.ofType('user.online').some(r => r.json.data.userId === user.id));
    });

    it('the events of many messages are queued with one insert', async () => {
      const hook = await register([ 'message.created' ]);
      const [ alice, bob ] = await Promise.all([ signup(), signup() ]);
      const socket = await connectOk({ token: alice.token });
      // events gather for lingerMs: long enough here for all twenty sends
      app.config.webhooks.lingerMs = 1000;
      const cmds = await commandsDuring(async () => {
        await Promise.all(Array.from({ length: 20 }, () => send(socket, bob.id)));
        await app.webhooks.flush();
      }).finally(() => { app.config.webhooks.lingerMs = 10; });
      assert.strictEqual(cmds.filter(c => c.name === 'insert' && c.collection === 'outboundjobs').length, 1);
      await unregister(hook._id);
    });
  });

  describe('before.message', () => {
    let hookId = '';
    afterEach(async () => {
      if (hookId) await unregister(hookId);
      hookId = '';
      app.config.webhooks.beforeOnTimeout = 'allow';
      app.config.webhooks.beforeTimeoutMs = 1000;
    });

    it('is asked with the message as sent, with `from`, signed', async () => {
      const hook = await register([ 'before.message' ]);
      hookId = hook._id;
      const [ alice, bob ] = await Promise.all([ signup(), signup() ]);
      const socket = await connectOk({ token: alice.token });
      receiver.answer = () => ({ status: 200, body: { action: 'allow' } });
      const ack = await send(socket, bob.id, { content: 'moderate me' });
      assert.strictEqual(ack.code, 0);
      const asked = receiver.ofType('before.message').find(r => r.json.data.message.content === 'moderate me')!;
      assert.strictEqual(asked.json.data.message.from, alice.id);
      assert.strictEqual(asked.json.data.message.to, bob.id);
      assert.ok(verifySignature(hook.secret, { timestamp: asked.timestamp, signature: asked.signature }, asked.body));
    });

    it('reject: the send is refused with 20003 and the reason, and nothing is stored', async () => {
      hookId = (await register([ 'before.message' ]))._id;
      receiver.answer = () => ({ status: 200, body: { action: 'reject', reason: 'no swearing' } });
      const [ alice, bob ] = await Promise.all([ signup(), signup() ]);
      const socket = await connectOk({ token: alice.token });
      const fp = uniqueName('fp');
      const ack = await send(socket, bob.id, { fp });
      assert.strictEqual(ack.code, 20003);
      assert.strictEqual(ack.meta.msg, 'no swearing');
      assert.strictEqual(await app.model.Message.countDocuments({ fp }), 0);
    });

    it('replace: the given content is stored and delivered', async () => {
      hookId = (await register([ 'before.message' ]))._id;
      receiver.answer = () => ({ status: 200, body: { action: 'replace', content: '***' } });
      const [ alice, bob ] = await Promise.all([ signup(), signup() ]);
      const [ socket, bobSocket ] = await Promise.all([ connectOk({ token: alice.token }), connectOk({ token: bob.token }) ]);
      const got = waitFor(bobSocket, 'c_message');
      const ack = await send(socket, bob.id, { content: 'a bad word' });
      assert.strictEqual(ack.data.payload.content, '***');
      assert.strictEqual((await got).data.payload.content, '***');
    });

    it('no answer in time: allowed by default', async () => {
      hookId = (await register([ 'before.message' ]))._id;
      app.config.webhooks.beforeTimeoutMs = 150;
      receiver.answer = () => 'hang';
      const [ alice, bob ] = await Promise.all([ signup(), signup() ]);
      const socket = await connectOk({ token: alice.token });
      const started = Date.now();
      const ack = await send(socket, bob.id);
      assert.strictEqual(ack.code, 0);
      assert.ok(Date.now() - started < 1000);
    });

    it('no answer in time with beforeOnTimeout "reject": refused with 20003', async () => {
      hookId = (await register([ 'before.message' ]))._id;
      Object.assign(app.config.webhooks, { beforeTimeoutMs: 150, beforeOnTimeout: 'reject' });
      receiver.answer = () => 'hang';
      const [ alice, bob ] = await Promise.all([ signup(), signup() ]);
      const socket = await connectOk({ token: alice.token });
      const ack = await send(socket, bob.id);
      assert.strictEqual(ack.code, 20003);
    });

    it('a reply that is not a verdict counts as no answer', async () => {
      hookId = (await register([ 'before.message' ]))._id;
      app.config.webhooks.beforeOnTimeout = 'reject';
      receiver.answer = () => ({ status: 200, body: { action: 'shrug' } });
      const [ alice, bob ] = await Promise.all([ signup(), signup() ]);
      const socket = await connectOk({ token: alice.token });
      assert.strictEqual((await send(socket, bob.id)).code, 20003);
    });

    it('with none registered, a send asks nobody', async () => {
      const [ alice, bob ] = await Promise.all([ signup(), signup() ]);
      const socket = await connectOk({ token: alice.token });
      const before = receiver.ofType('before.message').length;
      assert.strictEqual((await send(socket, bob.id)).code, 0);
      assert.strictEqual(receiver.ofType('before.message').length, before);
    });
  });
});
