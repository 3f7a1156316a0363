import assert from 'node:assert';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { api, app, connectChat, notWithin, signup, uniqueName, waitFor, type TestUser } from '../../helpers';
import { expectError } from '../../social-helpers';
import { createOrPromoteAdmin } from '../../../app/cli/admin';

const run = promisify(execFile);
const root = path.resolve(__dirname, '../../..');

/** Runs the admin CLI as a user would, against the suite's database. */
function adminCli(args: string[], env: Record<string, string> = {}) {
  return run(process.execPath, [ path.join(root, 'scripts/admin.js'), ...args ], { cwd: root, env: { ...process.env, ...env }, timeout: 30000 });
}

const sendNotice = (token: string, body: unknown) => api('POST', '/api/admin/notices', { token, body });
/** The system notices in the user's next `offline_message`, at most `limit`. */
const pendingFor = async (userId: string, limit = 200) => (await app.messages.pull(userId)).messages.filter(m => m.from === 'system').slice(0, limit);
/** What `c_message_ack` does for these ids. */
const ackNotices = (userId: string, ids: string[]) => app.messages.ack(userId, ids.map(_id => ({ _id, fp: undefined })), `test-${userId}`);

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
    it('promotes an existing user (any case of the name) when told to, without creating one', async () => {
      const u = await signup();
      const result = await createOrPromoteAdmin({ url: process.env.MONGODB_URL!, username: u.username.toUpperCase(), promote: true });
      assert.deepStrictEqual(result, { id: u.id, username: u.username, created: false });
    });

    it('a promoted user logs in with their old password as an admin and reaches the admin routes', async () => {
      const u = await signup();
      await createOrPromoteAdmin({ url: process.env.MONGODB_URL!, username: u.username, promote: true });
      const login = await api('POST', '/api/login', { body: { username: u.username, password: u.password } });
      assert.strictEqual(login.body.data.user.role, 'admin');
      assert.strictEqual((await api('GET', '/api/admin/stats', { token: login.body.data.token })).status, 200);
    });

    it('refuses to create a user without a password, and creates none', async () => {
      const username = uniqueName('nopw');
      await assert.rejects(adminCli([ '--username', username ]), /give a password/);
      assert.strictEqual(await app.model.User.countDocuments({ usernameLower: username.toLowerCase() }), 0);
    });

    it('refuses to create a user with a short password, and creates none', async () => {
      const username = uniqueName('short');
      await assert.rejects(createOrPromoteAdmin({ url: process.env.MONGODB_URL!, username, password: 'short' }), /8/);
      assert.strictEqual(await app.model.User.countDocuments({ usernameLower: username.toLowerCase() }), 0);
    });
  });

  describe('access', () => {
    const routes: Array<[string, string, unknown]> = [
      [ 'POST', '/api/admin/notices', { content: 'hi' } ],
      [ 'GET', '/api/admin/stats', undefined ],
    ];
    for (const [ method, path, body ] of routes) {
      it(`${method} ${path}: a user who is not an admin gets 403 / 10006`, async () => {
        const u = await signup();
        expectError(await api(method, path, { token: u.token, body }), 403, 10006);
      });

      it(`${method} ${path}: no token is 401 / 20001`, async () => {
        expectError(await api(method, path, { body }), 401, 20001);
      });
    }

    it('signup cannot make an admin', async () => {
      const res = await api('POST', '/api/signup', { body: { username: uniqueName(), password: 'password123', role: 'admin' } });
      assert.strictEqual(res.status, 400);
    });
  });

  describe('POST /api/admin/notices', () => {
    describe('to one user', () => {
      it('answers 201 with the stored notice', async () => {
        const alice = await signup();
        const res = await sendNotice(admin.token, { to: alice.id, content: 'maintenance at 22:00', event: 'maintenance' });
        assert.strictEqual(res.status, 201, JSON.stringify(res.body));
        const notice = res.body.data;
        assert.match(notice._id, /^[0-9a-f]{24}$/);
        assert.deepStrictEqual({ ...notice, time: 0 }, { _id: notice._id, content: 'maintenance at 22:00', event: 'maintenance', from: 'system', time: 0 });
        assert.ok(Math.abs(notice.time - Date.now()) < 10000);
      });

      it('the recipient\'s online socket gets CHAT_SYSTEM_NOTICE with it', async () => {
        const alice = await signup();
        const received = waitFor(await connectChat({ token: alice.token }), 'sys_notice');
        const notice = (await sendNotice(admin.token, { to: alice.id, content: 'maintenance at 22:00', event: 'maintenance' })).body.data;
        const env = await received;
        assert.strictEqual(env.code, 0);
        assert.strictEqual(env.data.action, 'CHAT_SYSTEM_NOTICE');
        assert.deepStrictEqual(env.data.payload, notice);
      });

      it('another user\'s socket gets nothing', async () => {
        const [ alice, bob ] = await Promise.all([ signup(), signup() ]);
        const bobQuiet = notWithin(await connectChat({ version: 'v2', token: bob.token }), 'sys_notice', 400);
        await sendNotice(admin.token, { to: alice.id, content: 'for alice' });
        assert.ok(await bobQuiet, 'another user got the notice');
      });

      it('stays pending for the recipient only, also when delivered online', async () => {
        const [ alice, bob ] = await Promise.all([ signup(), signup() ]);
        const received = waitFor(await connectChat({ token: alice.token }), 'sys_notice');
        const notice = (await sendNotice(admin.token, { to: alice.id, content: 'for alice' })).body.data;
        await received;
        assert.deepStrictEqual(await pendingFor(alice.id), [ notice ]);
        assert.deepStrictEqual(await pendingFor(bob.id), []);
      });

      it('pending notices come oldest first, as many as asked', async () => {
        const carol = await signup();
        for (const content of [ 'one', 'two' ]) await sendNotice(admin.token, { to: carol.id, content });
        assert.deepStrictEqual((await pendingFor(carol.id)).map(n => n.content), [ 'one', 'two' ]);
        assert.deepStrictEqual((await pendingFor(carol.id, 1)).map(n => n.content), [ 'one' ]);
      });

      it('a notice sent without an event has none', async () => {
        const carol = await signup();
        assert.strictEqual((await sendNotice(admin.token, { to: carol.id, content: 'one' })).body.data.event, undefined);
      });

      it('an ack removes the user\'s own notices only, ignoring other users\' ids and junk', async () => {
        const [ carol, dave ] = await Promise.all([ signup(), signup() ]);
        const first = (await sendNotice(admin.token, { to: carol.id, content: 'one' })).body.data;
        const second = (await sendNotice(admin.token, { to: carol.id, content: 'two' })).body.data;
        const forDave = (await sendNotice(admin.token, { to: dave.id, content: 'dave only' })).body.data;
        await ackNotices(carol.id, [ first._id, forDave._id, 'f'.repeat(24) ]);
        assert.deepStrictEqual((await pendingFor(carol.id)).map(n => n._id), [ second._id ]);
        assert.deepStrictEqual((await pendingFor(dave.id)).map(n => n._id), [ forDave._id ], 'carol acked dave\'s notice');
      });

      it('acking again, acking the rest with repeats, and acking nothing are fine', async () => {
        const carol = await signup();
        const first = (await sendNotice(admin.token, { to: carol.id, content: 'one' })).body.data;
        const second = (await sendNotice(admin.token, { to: carol.id, content: 'two' })).body.data;
        await ackNotices(carol.id, [ first._id ]);
        await ackNotices(carol.id, [ first._id, second._id, second._id ]);
        assert.deepStrictEqual(await pendingFor(carol.id), []);
        await ackNotices(carol.id, []);
      });
    });

    describe('to everyone', () => {
      it('reaches every online socket (v2 and v4)', async () => {
        const [ online1, online2 ] = await Promise.all([ signup(), signup() ]);
        const sockets = await Promise.all([ connectChat({ token: online1.token }), connectChat({ version: 'v2', token: online2.token }) ]);
        const received = sockets.map(s => waitFor(s, 'sys_notice'));
        const res = await sendNotice(admin.token, { content: `everyone ${uniqueName()}` });
        assert.strictEqual(res.status, 201);
        for (const env of await Promise.all(received)) assert.deepStrictEqual(env.data.payload, res.body.data);
      });

      describe('once sent', () => {
        let content: string;
        let notice: any;
        let [ offline, another, later ]: TestUser[] = [];
        // one notice to everyone; each it reads it for its own users
        before(async () => {
          [ offline, another ] = await Promise.all([ signup(), signup() ]);
          content = `everyone ${uniqueName()}`;
          notice = (await sendNotice(admin.token, { content })).body.data;
          later = await signup();
        });
        const pendingHas = async (u: TestUser) => (await pendingFor(u.id)).some(n => n._id === notice._id);

        it('is one document', async () => {
          assert.strictEqual(await app.model.Notice.countDocuments({ content }), 1);
        });

        it('waits for users who were offline', async () => {
          assert.ok(await pendingHas(offline));
        });

        it('is not for users who signed up after it', async () => {
          assert.ok(!(await pendingHas(later)));
        });

        it('one user\'s ack acks it for that user only', async () => {
          await ackNotices(another.id, [ notice._id ]);
          assert.ok(!(await pendingHas(another)));
          assert.ok(await pendingHas(offline), 'one user\'s ack acked it for another');
        });
      });
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
        expectError(await sendNotice(admin.token, body), 400, 20002);
      });
    }

    it('a recipient who does not exist is 404 / 20005', async () => {
      expectError(await sendNotice(admin.token, { to: 'a'.repeat(24), content: 'x' }), 404, 20005);
    });
  });

  describe('GET /api/admin/stats', () => {
    const stats = async () => (await api('GET', '/api/admin/stats', { token: admin.token })).body.data;

    it('counts online users across their sockets, and the sockets of this worker', async () => {
      const u = await signup();
      await Promise.all([ connectChat({ token: u.token, query: { deviceType: 'WEB' } }), connectChat({ token: u.token, query: { deviceType: 'MOBILE' } }) ]);
      const now = await stats();
      assert.deepStrictEqual(Object.keys(now).sort(), [ 'messagesLastMinute', 'onlineUsers', 'socketsPerWorker' ]);
      assert.strictEqual(now.onlineUsers, 1);
      const workers = Object.entries(now.socketsPerWorker);
      assert.strictEqual(workers.length, 1);
      assert.match(workers[0][0], new RegExp(`:${process.pid}$`));
      assert.strictEqual(workers[0][1], 2);
    });

    it('counts the messages of the last minute, not older ones', async () => {
      const u = await signup();
      const before = await stats();
      await app.model.Message.create({ fp: uniqueName('fp'), from: u.id, to: u.id, type: 1, typeu: 1, content: 'x', conversationId: `${u.id}@${u.id}`, seq: 1, sendTime: new Date() });
      await app.model.Message.create({ fp: uniqueName('fp'), from: u.id, to: u.id, type: 1, typeu: 1, content: 'old', conversationId: `${u.id}@${u.id}`, seq: 2, sendTime: new Date(Date.now() - 120000) });
      assert.strictEqual((await stats()).messagesLastMinute, before.messagesLastMinute + 1);
    });
  });
});
