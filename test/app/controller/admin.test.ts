import assert from 'node:assert';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { api, app, connectOk, notWithin, signup, uniqueName, waitFor } from '../../helpers';
import { createOrPromoteAdmin } from '../../../lib/admin-cli';

const run = promisify(execFile);
const root = path.resolve(__dirname, '../../..');

/** Runs the admin CLI as a user would, against the suite's database. */
function adminCli(args: string[], env: Record<string, string> = {}) {
  return run(process.execPath, [ path.join(root, 'scripts/admin.js'), ...args ], { cwd: root, env: { ...process.env, ...env }, timeout: 30000 });
}

const sendNotice = (token: string, body: unknown) => api('POST', '/api/admin/notices', { token, body });
const pendingFor = (userId: string, limit = 200) => app.mockContext().service.notice.pendingFor(userId, limit);

describe('admin (PROTOCOL §7 Admin)', () => {
  let admin: { id: string; token: string };

  before(async function() {
    this.timeout(60000);
    await app.ready();
    const username = uniqueName('adm');
    const password = 'a long admin password';
    const { stdout } = await adminCli([ '--username', username ], { ADMIN_PASSWORD: password });
    assert.match(stdout, new RegExp(`created admin ${username} \\([0-9a-f]{24}\\)`));
    const login = await api('POST', '/api/login', { body: { username, password } });
    assert.strictEqual(login.status, 200, JSON.stringify(login.body));
    admin = { id: login.body.data.user._id, token: login.body.data.token };
    assert.strictEqual(login.body.data.user.role, 'admin');
  });

  describe('the admin CLI', () => {
    it('promotes an existing user when told to, without touching the password', async () => {
      const u = await signup();
      const result = await createOrPromoteAdmin({ url: process.env.MONGODB_URL!, username: u.username.toUpperCase(), promote: true });
      assert.deepStrictEqual(result, { id: u.id, username: u.username, created: false });
      const login = await api('POST', '/api/login', { body: { username: u.username, password: u.password } });
      assert.strictEqual(login.body.data.user.role, 'admin');
      assert.strictEqual((await api('GET', '/api/admin/stats', { token: login.body.data.token })).status, 200);
    });

    it('refuses to create a user without a password, or with a short one', async () => {
      const username = uniqueName('nopw');
      await assert.rejects(adminCli([ '--username', username ]), /give a password/);
      await assert.rejects(createOrPromoteAdmin({ url: process.env.MONGODB_URL!, username, password: 'short' }), /8/);
      assert.strictEqual(await app.model.User.countDocuments({ usernameLower: username.toLowerCase() }), 0);
    });
  });

  describe('access', () => {
    it('a user who is not an admin gets 403 / 10006', async () => {
      const u = await signup();
      for (const res of [ await sendNotice(u.token, { content: 'hi' }), await api('GET', '/api/admin/stats', { token: u.token }) ]) {
        assert.strictEqual(res.status, 403);
        assert.strictEqual(res.body.code, 10006);
      }
    });

    it('no token is 401 / 20001', async () => {
      for (const res of [ await api('POST', '/api/admin/notices', { body: { content: 'hi' } }), await api('GET', '/api/admin/stats') ]) {
        assert.strictEqual(res.status, 401);
        assert.strictEqual(res.body.code, 20001);
      }
    });

    it('signup cannot make an admin', async () => {
      const res = await api('POST', '/api/signup', { body: { username: uniqueName(), password: 'password123', role: 'admin' } });
      assert.strictEqual(res.status, 400);
    });
  });

  describe('POST /api/admin/notices', () => {
    it('delivers to one online user, stores it, and it stays pending until acked', async () => {
      const [ alice, bob ] = await Promise.all([ signup(), signup() ]);
      const [ aliceSocket, bobSocket ] = await Promise.all([ connectOk({ token: alice.token }), connectOk({ version: 'v2', token: bob.token }) ]);
      const received = waitFor(aliceSocket, 'sys_notice');
      const bobQuiet = notWithin(bobSocket, 'sys_notice', 400);
      const res = await sendNotice(admin.token, { to: alice.id, content: 'maintenance at 22:00', event: 'maintenance' });
      assert.strictEqual(res.status, 201, JSON.stringify(res.body));
      const notice = res.body.data;
      assert.match(notice._id, /^[0-9a-f]{24}$/);
      assert.deepStrictEqual({ ...notice, time: 0 }, { _id: notice._id, content: 'maintenance at 22:00', event: 'maintenance', from: 'system', time: 0 });
      assert.ok(Math.abs(notice.time - Date.now()) < 10000);

      const env = await received;
      assert.strictEqual(env.code, 0);
      assert.strictEqual(env.data.action, 'CHAT_SYSTEM_NOTICE');
      assert.deepStrictEqual(env.data.payload, notice);
      assert.ok(await bobQuiet, 'another user got the notice');

      assert.deepStrictEqual(await pendingFor(alice.id), [ notice ]);
      assert.deepStrictEqual(await pendingFor(bob.id), []);
    });

    it('keeps a notice for an offline user until it is acked; acks ignore ids that are not theirs', async () => {
      const [ carol, dave ] = await Promise.all([ signup(), signup() ]);
      const first = (await sendNotice(admin.token, { to: carol.id, content: 'one' })).body.data;
      const second = (await sendNotice(admin.token, { to: carol.id, content: 'two' })).body.data;
      const forDave = (await sendNotice(admin.token, { to: dave.id, content: 'dave only' })).body.data;
      assert.deepStrictEqual((await pendingFor(carol.id)).map(n => n.content), [ 'one', 'two' ]);
      assert.deepStrictEqual((await pendingFor(carol.id, 1)).map(n => n.content), [ 'one' ]);
      assert.strictEqual(first.event, undefined);

      const ctx = app.mockContext();
      await ctx.service.notice.markDelivered(carol.id, [ first._id, forDave._id, 'f'.repeat(24), 'junk' ]);
      assert.deepStrictEqual((await pendingFor(carol.id)).map(n => n._id), [ second._id ]);
      assert.deepStrictEqual((await pendingFor(dave.id)).map(n => n._id), [ forDave._id ], 'carol acked dave\'s notice');
      // acking again, and acking the rest, are fine
      await ctx.service.notice.markDelivered(carol.id, [ first._id, second._id, second._id ]);
      assert.deepStrictEqual(await pendingFor(carol.id), []);
      await ctx.service.notice.markDelivered(carol.id, []);
    });

    it('a notice to everyone is one document, reaches every online socket, and waits for users offline', async () => {
      const [ online1, online2, offline ] = await Promise.all([ signup(), signup(), signup() ]);
      const sockets = await Promise.all([ connectOk({ token: online1.token }), connectOk({ version: 'v2', token: online2.token }) ]);
      const received = sockets.map(s => waitFor(s, 'sys_notice'));
      const content = `everyone ${uniqueName()}`;
      const res = await sendNotice(admin.token, { content });
      assert.strictEqual(res.status, 201);
      for (const env of await Promise.all(received)) assert.deepStrictEqual(env.data.payload, res.body.data);
      assert.strictEqual(await app.model.Notice.countDocuments({ content }), 1);
      assert.ok((await pendingFor(offline.id)).some(n => n._id === res.body.data._id));
      // a user who signs up afterwards does not get older notices
      const later = await signup();
      assert.ok(!(await pendingFor(later.id)).some(n => n._id === res.body.data._id));
      await app.mockContext().service.notice.markDelivered(offline.id, [ res.body.data._id ]);
      assert.ok(!(await pendingFor(offline.id)).some(n => n._id === res.body.data._id));
      assert.ok((await pendingFor(online1.id)).some(n => n._id === res.body.data._id), 'one user\'s ack acked it for another');
    });

    const bad: Array<[string, unknown]> = [
      [ 'no content', {} ],
      [ 'empty content', { content: '  ' } ],
      [ 'a bad recipient id', { to: 'nobody', content: 'x' } ],
      [ 'an operator for the recipient', { to: { $ne: null }, content: 'x' } ],
      [ 'an unknown field', { content: 'x', from: 'me' } ],
    ];
    for (const [ what, body ] of bad) {
      it(`refuses ${what} with 400 / 20002`, async () => {
        const res = await sendNotice(admin.token, body);
        assert.strictEqual(res.status, 400, JSON.stringify(res.body));
        assert.strictEqual(res.body.code, 20002);
      });
    }

    it('a recipient who does not exist is 404 / 20005', async () => {
      const res = await sendNotice(admin.token, { to: 'a'.repeat(24), content: 'x' });
      assert.strictEqual(res.status, 404);
      assert.strictEqual(res.body.code, 20005);
    });
  });

  describe('GET /api/admin/stats', () => {
    it('counts online users across their sockets, sockets of this worker, and recent messages', async () => {
      const u = await signup();
      await Promise.all([ connectOk({ token: u.token, query: { deviceType: 'WEB' } }), connectOk({ token: u.token, query: { deviceType: 'MOBILE' } }) ]);
      const before = (await api('GET', '/api/admin/stats', { token: admin.token })).body.data;
      assert.deepStrictEqual(Object.keys(before).sort(), [ 'messagesLastMinute', 'onlineUsers', 'socketsPerWorker' ]);
      assert.strictEqual(before.onlineUsers, 1);
      const workers = Object.entries(before.socketsPerWorker);
      assert.strictEqual(workers.length, 1);
      assert.match(workers[0][0], new RegExp(`:${process.pid}$`));
      assert.strictEqual(workers[0][1], 2);

      await app.model.Message.create({ fp: uniqueName('fp'), from: u.id, to: u.id, type: 1, typeu: 1, content: 'x', conversationId: `${u.id}@${u.id}`, seq: 1, sendTime: new Date() });
      await app.model.Message.create({ fp: uniqueName('fp'), from: u.id, to: u.id, type: 1, typeu: 1, content: 'old', conversationId: `${u.id}@${u.id}`, seq: 2, sendTime: new Date(Date.now() - 120000) });
      const after = (await api('GET', '/api/admin/stats', { token: admin.token })).body.data;
      assert.strictEqual(after.messagesLastMinute, before.messagesLastMinute + 1);
    });
  });
});
