import assert from 'node:assert';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { api, app, connect, connectOk, notWithin, signup, uniqueName, waitFor } from '../../helpers';
import { apiKey, cli, serverApi } from '../../integration-helpers';

const run = promisify(execFile);
const root = path.resolve(__dirname, '../../..');

const text = (from: string, to: string, extra: Record<string, unknown> = {}) =>
  ({ from, to, typeu: 1, type: 1, content: 'from the backend', fp: uniqueName('fp'), ...extra });

describe('server API (PROTOCOL §9)', () => {
  let key: string;

  before(async function() {
    this.timeout(30000);
    await app.ready();
    ({ key } = await apiKey());
  });

  describe('API keys from the admin CLI', () => {
    it('`npm run admin -- keys create` prints the key once, with its scopes', async function() {
      this.timeout(60000);
      const { stdout } = await run(process.execPath, [ path.join(root, 'scripts/admin.js'), 'keys', 'create', '--name', 'ci', '--scopes', 'users,rooms' ], { cwd: root, env: process.env, timeout: 60000 });
      assert.match(stdout, /created API key [0-9a-f]{24} \(users, rooms\)/);
      assert.match(stdout, /^imk_[0-9a-f]{24}_[A-Za-z0-9_-]{43}$/m);
    });

    it('stores only a hash of the key', async () => {
      const made = await apiKey([ 'users' ]);
      const doc = await app.model.ApiKey.findById(made.id).lean<{ secretHash: string }>();
      const secret = made.key.split('_').slice(2).join('_');
      assert.ok(doc);
      assert.match(doc.secretHash, /^[0-9a-f]{64}$/);
      assert.ok(!JSON.stringify(doc).includes(secret));
    });

    it('lists keys with their state and scopes', async () => {
      const made = await apiKey([ 'notices' ]);
      const { stdout } = await cli([ 'keys', 'list' ]);
      assert.match(stdout, new RegExp(`${made.id}  live +notices  test`));
    });

    it('a revoked key is refused (401 / 20001) on its next request', async () => {
      const made = await apiKey([ 'users' ]);
      assert.strictEqual((await serverApi('PUT', `/api/server/users/${uniqueName('ext')}`, made.key, {})).status, 201);
      assert.strictEqual((await cli([ 'keys', 'revoke', made.id ])).code, 0);
      const res = await serverApi('PUT', `/api/server/users/${uniqueName('ext')}`, made.key, {});
      assert.strictEqual(res.status, 401);
      assert.strictEqual(res.body.code, 20001);
    });

    it('refuses unknown scopes', async () => {
      const { code, stderr } = await cli([ 'keys', 'create', '--scopes', 'users,everything' ]);
      assert.strictEqual(code, 2);
      assert.match(stderr, /not everything/);
    });
  });

  describe('who may call it', () => {
    it('no key is 401 / 20001', async () => {
      const res = await api('POST', '/api/server/notices', { body: { content: 'x' } });
      assert.strictEqual(res.status, 401);
      assert.strictEqual(res.body.code, 20001);
    });

    it('a user token is refused (401 / 20001)', async () => {
      const user = await signup();
      const res = await api('PUT', `/api/server/users/${uniqueName('ext')}`, { token: user.token, body: {} });
      assert.strictEqual(res.status, 401);
      assert.strictEqual(res.body.code, 20001);
    });

    it('a well-formed key that does not exist is refused (401 / 20001)', async () => {
      const res = await serverApi('POST', '/api/server/notices', `imk_${'a'.repeat(24)}_${'b'.repeat(43)}`, { content: 'x' });
      assert.strictEqual(res.status, 401);
      assert.strictEqual(res.body.code, 20001);
    });

    it('a key with the right id and a wrong secret is refused (401 / 20001)', async () => {
      const res = await serverApi('POST', '/api/server/notices', `${key.slice(0, 29)}${'c'.repeat(43)}`, { content: 'x' });
      assert.strictEqual(res.status, 401);
      assert.strictEqual(res.body.code, 20001);
    });

    it('a key without the route\'s scope gets 403 / 10006', async () => {
      const usersOnly = await apiKey([ 'users' ]);
      const res = await serverApi('POST', '/api/server/notices', usersOnly.key, { content: 'x' });
      assert.strictEqual(res.status, 403);
      assert.strictEqual(res.body.code, 10006);
    });

    it('an API key is refused on user routes (401 / 20001)', async () => {
      const res = await api('GET', '/api/users/me', { token: key });
      assert.strictEqual(res.status, 401);
      assert.strictEqual(res.body.code, 20001);
    });

    it('an API key is refused by the /chat handshake (20001)', async () => {
      const socket = await connect({ token: key });
      const err = await waitFor(socket, 'im_error');
      assert.strictEqual(err.code, 20001);
    });

    it('requests past the per-key limit get 429 / 20009 with Retry-After', async () => {
      const limited = await apiKey([ 'notices' ]);
      const before = app.config.rateLimit.serverApi;
      app.config.rateLimit.serverApi = { points: 2, duration: 60 };
      try {
        const user = await signup();
        for (let i = 0; i < 2; i++) assert.strictEqual((await serverApi('POST', '/api/server/notices', limited.key, { to: user.id, content: 'x' })).status, 201);
        const res = await serverApi('POST', '/api/server/notices', limited.key, { to: user.id, content: 'x' });
        assert.strictEqual(res.status, 429);
        assert.strictEqual(res.body.code, 20009);
        assert.ok(Number(res.headers.get('retry-after')) > 0);
      } finally {
        app.config.rateLimit.serverApi = before;
      }
    });
  });

  describe('PUT /api/server/users/:externalId', () => {
    it('creates the user (201) with the external id and a derived username', async () => {
      const externalId = `team-user/${uniqueName()}`;
      const res = await serverApi('PUT', `/api/server/users/${encodeURIComponent(externalId)}`, key, { nickname: 'Ada' });
      assert.strictEqual(res.status, 201, JSON.stringify(res.body));
      assert.strictEqual(res.body.data.externalId, externalId);
      assert.strictEqual(res.body.data.nickname, 'Ada');
      assert.match(res.body.data.username, /^x_[0-9a-f]{16}$/);
      assert.strictEqual(res.body.data.passwordHash, undefined);
    });

    it('updates the same user the second time (200)', async () => {
      const externalId = uniqueName('ext');
      const first = await serverApi('PUT', `/api/server/users/${externalId}`, key, { username: uniqueName('n') });
      const second = await serverApi('PUT', `/api/server/users/${externalId}`, key, { nickname: 'Renamed', profile: { team: 'blue' } });
      assert.strictEqual(second.status, 200);
      assert.strictEqual(second.body.data._id, first.body.data._id);
      assert.strictEqual(second.body.data.nickname, 'Renamed');
      assert.deepStrictEqual(second.body.data.profile, { team: 'blue' });
    });

    it('two creations at once make one user', async () => {
      const externalId = uniqueName('race');
      const [ a, b ] = await Promise.all([ 0, 1 ].map(() => serverApi('PUT', `/api/server/users/${externalId}`, key, {})));
      assert.deepStrictEqual([ a.status, b.status ].sort(), [ 200, 201 ]);
      assert.strictEqual(a.body.data._id, b.body.data._id);
    });

    it('a username already taken is 409 / 10004', async () => {
      const taken = await signup();
      const res = await serverApi('PUT', `/api/server/users/${uniqueName('ext')}`, key, { username: taken.username });
      assert.strictEqual(res.status, 409);
      assert.strictEqual(res.body.code, 10004);
    });

    it('an external id over 128 characters is 400 / 20002', async () => {
      const res = await serverApi('PUT', `/api/server/users/${'e'.repeat(129)}`, key, {});
      assert.strictEqual(res.status, 400);
      assert.strictEqual(res.body.code, 20002);
    });

    it('a field users may not set is 400 / 20002', async () => {
      const res = await serverApi('PUT', `/api/server/users/${uniqueName('ext')}`, key, { role: 'admin' });
      assert.strictEqual(res.status, 400);
      assert.strictEqual(res.body.code, 20002);
    });

    it('a server-made user cannot sign in with a password', async () => {
      const res = await serverApi('PUT', `/api/server/users/${uniqueName('ext')}`, key, { username: uniqueName('pw') });
      const login = await api('POST', '/api/login', { body: { username: res.body.data.username, password: '!' } });
      assert.strictEqual(login.status, 401);
    });
  });

  describe('POST /api/server/users/:externalId/sessions', () => {
    it('signs the user in: the token opens a /chat socket as that user', async () => {
      const externalId = uniqueName('ext');
      const user = await serverApi('PUT', `/api/server/users/${externalId}`, key, {});
      const res = await serverApi('POST', `/api/server/users/${externalId}/sessions`, key, { deviceType: 'MOBILE' });
      assert.strictEqual(res.status, 201);
      assert.ok(res.body.data.refreshToken);
      assert.strictEqual(res.body.data.expiresIn, app.config.auth.accessTokenTtl);
      const me = await api('GET', '/api/users/me', { token: res.body.data.token });
      assert.strictEqual(me.body.data._id, user.body.data._id);
      await connectOk({ token: res.body.data.token });
    });

    it('an unknown external id is 404 / 20005', async () => {
      const res = await serverApi('POST', `/api/server/users/${uniqueName('nobody')}/sessions`, key, {});
      assert.strictEqual(res.status, 404);
      assert.strictEqual(res.body.code, 20005);
    });
  });

  describe('POST /api/server/messages', () => {
    it('stores the message (201) and delivers it as if `from` had sent it', async () => {
      const [ alice, bob ] = await Promise.all([ signup(), signup() ]);
      const bobSocket = await connectOk({ token: bob.token });
      const got = waitFor(bobSocket, 'c_message');
      const res = await serverApi('POST', '/api/server/messages', key, text(alice.id, bob.id));
      assert.strictEqual(res.status, 201, JSON.stringify(res.body));
      assert.strictEqual(res.body.data.from, alice.id);
      assert.strictEqual(res.body.data.seq, 1);
      const delivered = await got;
      assert.strictEqual(delivered.data.payload._id, res.body.data._id);
    });

    it('goes to the sender\'s own sockets with meta.sync', async () => {
      const [ alice, bob ] = await Promise.all([ signup(), signup() ]);
      const aliceSocket = await connectOk({ token: alice.token });
      const got = waitFor(aliceSocket, 'c_message');
      await serverApi('POST', '/api/server/messages', key, text(alice.id, bob.id));
      assert.strictEqual((await got).meta.sync, true);
    });

    it('the same fp is the same message (200) and is delivered once', async () => {
      const [ alice, bob ] = await Promise.all([ signup(), signup() ]);
      const body = text(alice.id, bob.id);
      const first = await serverApi('POST', '/api/server/messages', key, body);
      const bobSocket = await connectOk({ token: bob.token });
      const again = await serverApi('POST', '/api/server/messages', key, body);
      assert.strictEqual(again.status, 200);
      assert.strictEqual(again.body.data._id, first.body.data._id);
      assert.ok(await notWithin(bobSocket, 'c_message', 300));
    });

    it('takes the seq after the conversation\'s socket-sent messages (one engine)', async () => {
      const [ alice, bob ] = await Promise.all([ signup(), signup() ]);
      const aliceSocket = await connectOk({ token: alice.token });
      const ack = await new Promise<any>(resolve => aliceSocket.emit('to', { to: bob.id, type: 1, content: 'typed', fp: uniqueName('fp') }, resolve));
      const res = await serverApi('POST', '/api/server/messages', key, text(alice.id, bob.id));
      assert.strictEqual(res.body.data.seq, ack.data.payload.seq + 1);
    });

    it('waits in the recipient\'s offline pull', async () => {
      const [ alice, bob ] = await Promise.all([ signup(), signup() ]);
      const res = await serverApi('POST', '/api/server/messages', key, text(alice.id, bob.id));
      const { messages } = await app.messages.pull(bob.id);
      assert.ok(messages.some(m => m._id === res.body.data._id));
    });

    it('an unknown `from` is 404 / 20005', async () => {
      const bob = await signup();
      const res = await serverApi('POST', '/api/server/messages', key, text('0123456789abcdef01234567', bob.id));
      assert.strictEqual(res.status, 404);
      assert.strictEqual(res.body.code, 20005);
    });

    it('keeps the send rules: a room the sender is not in is 403 / 20003', async () => {
      const [ owner, outsider ] = await Promise.all([ signup(), signup() ]);
      const room = await api('POST', '/api/rooms', { token: owner.token, body: { name: uniqueName('room') } });
      const res = await serverApi('POST', '/api/server/messages', key, text(outsider.id, room.body.data._id, { typeu: 2 }));
      assert.strictEqual(res.status, 403);
      assert.strictEqual(res.body.code, 20003);
    });

    it('a missing fp is 400 / 20002', async () => {
      const [ alice, bob ] = await Promise.all([ signup(), signup() ]);
      const { fp: _fp, ...body } = text(alice.id, bob.id);
      const res = await serverApi('POST', '/api/server/messages', key, body);
      assert.strictEqual(res.status, 400);
      assert.strictEqual(res.body.code, 20002);
    });
  });

  describe('POST /api/server/notices', () => {
    it('sends a system notice to one user (201)', async () => {
      const bob = await signup();
      const socket = await connectOk({ token: bob.token });
      const got = waitFor(socket, 'sys_notice');
      const res = await serverApi('POST', '/api/server/notices', key, { to: bob.id, content: 'maintenance at 5', event: 'maintenance' });
      assert.strictEqual(res.status, 201);
      assert.strictEqual((await got).data.payload.content, 'maintenance at 5');
    });
  });

  describe('rooms', () => {
    it('POST /api/server/rooms makes a room owned by `owner` (201)', async () => {
      const [ owner, member ] = await Promise.all([ signup(), signup() ]);
      const res = await serverApi('POST', '/api/server/rooms', key, { name: uniqueName('room'), owner: owner.id, members: [ member.id ], visibility: 'private' });
      assert.strictEqual(res.status, 201, JSON.stringify(res.body));
      assert.strictEqual(res.body.data.owner, owner.id);
      assert.strictEqual(res.body.data.memberCount, 2);
    });

    it('an unknown owner is 404 / 20005', async () => {
      const res = await serverApi('POST', '/api/server/rooms', key, { name: uniqueName('room'), owner: '0123456789abcdef01234567' });
      assert.strictEqual(res.status, 404);
      assert.strictEqual(res.body.code, 20005);
    });

    it('POST /api/server/rooms/:id/members adds and removes members, told as g_notice', async () => {
      const [ owner, a, b ] = await Promise.all([ signup(), signup(), signup() ]);
      const room = await serverApi('POST', '/api/server/rooms', key, { name: uniqueName('room'), owner: owner.id, members: [ a.id ] });
      const ownerSocket = await connectOk({ token: owner.token });
      const notice = waitFor(ownerSocket, 'g_notice');
      const res = await serverApi('POST', `/api/server/rooms/${room.body.data._id}/members`, key, { add: [ b.id ], remove: [ a.id ] });
      assert.strictEqual(res.status, 200, JSON.stringify(res.body));
      assert.deepStrictEqual([ res.body.data.added, res.body.data.removed ], [ [ b.id ], [ a.id ] ]);
      assert.ok([ 'join', 'kick' ].includes((await notice).data.payload.event));
    });

    it('a room made by the server API does not count against the owner\'s room limit', async () => {
      const owner = await signup();
      const before = app.config.rateLimit.roomCreate;
      app.config.rateLimit.roomCreate = { points: 1, duration: 3600 };
      try {
        for (let i = 0; i < 3; i++) {
          assert.strictEqual((await serverApi('POST', '/api/server/rooms', key, { name: uniqueName('room'), owner: owner.id })).status, 201);
        }
      } finally {
        app.config.rateLimit.roomCreate = before;
      }
    });
  });
});
