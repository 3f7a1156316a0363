/**
 * The client package (client/) against the real server: socket.io-client 4, real connection drops
 * (the server closes the transport, as a network loss would), real offline pulls and change feed.
 */
import assert from 'node:assert';
import mm from 'egg-mock';
import type { Socket } from 'socket.io';
import { api, app, baseUrl, connectOk, emitAck, signup, sleep, type TestUser } from '../helpers';
import { ApiError, ImClient, MemoryStore, RestClient, type KeyValueStore, type WireMessage } from '../../client/src';
import type { ChatSocket } from '../../app/io/outbox';
import PresenceService from '../../app/service/presence';
import * as jwt from 'jsonwebtoken';

const clients: ImClient[] = [];
afterEach(() => {
  for (const c of clients.splice(0)) c.chat.close();
});

/** A client signed in as `u` (the tokens signup gave), not yet connected. */
async function clientOf(u: TestUser, store: KeyValueStore = new MemoryStore(), deviceType: 'WEB' | 'MOBILE' | 'DESKTOP' = 'WEB', requestTimeoutMs?: number) {
  const client = new ImClient({ baseUrl: await baseUrl(), store, deviceType, ackDelayMs: 20, requestTimeoutMs });
  if (!client.rest.session) client.rest.setSession({ userId: u.id, token: u.token, refreshToken: u.refreshToken });
  clients.push(client);
  return client;
}

/** Resolves when `check` holds, polling; rejects after `ms` with `what`. */
async function until(check: () => boolean, what: () => string, ms = 15000) {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms: ${what()}`);
    await sleep(20);
  }
}

async function online(client: ImClient) {
  client.chat.connect();
  await until(() => client.chat.state === 'online', () => `state ${client.chat.state}`, 5000);
}

/** Every message the client gives the app, in order. */
function inbox(client: ImClient) {
  const messages: WireMessage[] = [];
  client.chat.on('message', m => messages.push(m));
  return messages;
}

/** Drops the user's connections the way a network loss does: the transport closes, the client is not told why. */
async function drop(client: ImClient, userId: string) {
  // a connection is dropped once it is back
  await until(() => client.chat.state === 'online', () => `state ${client.chat.state}`, 20000);
  assert.ok(dropConnections(userId) > 0, 'a connection was dropped');
  await until(() => client.chat.state !== 'online', () => 'the client did not notice the drop', 10000);
}

function dropConnections(userId: string) {
  let dropped = 0;
  for (const s of app.outbox.chat.sockets.values() as IterableIterator<ChatSocket & Socket>) {
    if (s.data.userId !== userId) continue;
    s.conn.close();
    dropped++;
  }
  return dropped;
}

/** What the server still holds for the user unacked: a pull by another device of theirs. */
async function unacked(u: TestUser) {
  const socket = await connectOk({ token: u.token, query: { deviceType: 'DESKTOP' } });
  const res = await emitAck(socket, 'offline_message');
  socket.close();
  return res.data.payload as unknown[];
}

const text = (to: string, content: string) => ({ type: 1, to, content });

describe('client package (@im-server/client)', function() {
  this.timeout(60000);

  it('a conversation through dropped connections on both sides loses and duplicates nothing', async () => {
    const alice = await signup();
    const bob = await signup();
    const a = await clientOf(alice);
    const b = await clientOf(bob);
    const bobGot = inbox(b);
    const aliceGot = inbox(a);
    await online(a);
    await online(b);

    const sends: Array<Promise<WireMessage>> = [];
    const track = (p: Promise<WireMessage>) => { p.catch(() => undefined); sends.push(p); };
    for (let i = 0; i < 40; i++) {
      track(a.chat.send(text(bob.id, `a${i}`)));
      track(b.chat.send(text(alice.id, `b${i}`)));
      // drops in the middle, on both sides, while sends and deliveries are in flight
      if (i === 10 || i === 25) await drop(b, bob.id);
      if (i === 18 || i === 32) await drop(a, alice.id);
      await sleep(15);
    }
    const stored = await Promise.all(sends);
    assert.ok(a.chat.stats.resends + b.chat.stats.resends > 0, 'sends went again after the drops');
    await until(() => bobGot.length >= 40 && aliceGot.length >= 40, () => `bob got ${bobGot.length}, alice got ${aliceGot.length}`, 30000);
    await sleep(300);

    const contents = (list: WireMessage[]) => list.map(m => m.content).sort();
    const expected = (p: string) => Array.from({ length: 40 }, (_, i) => `${p}${i}`).sort();
    assert.deepStrictEqual(contents(bobGot), expected('a'), 'bob: every message of alice once');
    assert.deepStrictEqual(contents(aliceGot), expected('b'), 'alice: every message of bob once');
    assert.strictEqual(new Set(stored.map(m => m._id)).size, 80, 'each send stored once');
    // the server has each fp once: nothing was stored twice by the resends
    const timelineId = stored[0].timelineId;
    const history = await api('GET', `/api/messages?timelineId=${timelineId}&typeu=1&limit=100`, { token: alice.token });
    assert.strictEqual(history.body.data.length, 80);
    assert.strictEqual(new Set(history.body.data.map((m: WireMessage) => m.fp)).size, 80);
  });

  it('everything received is acked, also across a dropped connection: the server holds nothing unacked', async () => {
    const alice = await signup();
    const bob = await signup();
    const a = await clientOf(alice);
    const b = await clientOf(bob);
    const bobGot = inbox(b);
    await online(a);
    await online(b);
    await Promise.all(Array.from({ length: 15 }, (_, i) => a.chat.send(text(bob.id, `m${i}`))));
    await until(() => bobGot.length === 15, () => `bob got ${bobGot.length}`);
    await drop(b, bob.id);
    await until(() => b.chat.state === 'online', () => b.chat.state);
    await sleep(300);
    assert.deepStrictEqual(await unacked(bob), []);
  });

  it('messages that came while offline are pulled page by page (more than one page), once each, in order, then acked', async () => {
    const alice = await signup();
    const bob = await signup();
    const a = await clientOf(alice);
    await online(a);
    // 230 sends at once: past the socket's event rate, so some are refused 20009 and sent again after retryAfterMs
    const stored = await Promise.all(Array.from({ length: 230 }, (_, i) => a.chat.send(text(bob.id, `offline ${i}`))));
    assert.strictEqual(new Set(stored.map(m => m._id)).size, 230);
    assert.ok(a.chat.stats.rateLimited > 0, 'the server refused some with 20009, and the client waited and sent them again');
    const b = await clientOf(bob);
    const bobGot = inbox(b);
    await online(b);
    await until(() => bobGot.length >= 230, () => `bob got ${bobGot.length}`, 30000);
    await sleep(300);
    assert.strictEqual(bobGot.length, 230);
    assert.deepStrictEqual(bobGot.map(m => m.seq), [ ...stored.map(m => m.seq) ].sort((x, y) => x - y), 'in seq order, each once');
    assert.deepStrictEqual(await unacked(bob), []);
  });

  it('sync_changes after a reconnect brings the edit and reaction made while this device was away, from the cursor it kept', async () => {
    const alice = await signup();
    const bob = await signup();
    const bobStore = new MemoryStore();
    const a = await clientOf(alice);
    await online(a);
    const first = await clientOf(bob, bobStore);
    const firstGot = inbox(first);
    await online(first);
    const sent = await a.chat.send(text(bob.id, 'before'));
    await until(() => firstGot.length === 1, () => `got ${firstGot.length}`);
    await until(() => !!bobStore.getItem(`im.cursor.${bob.id}`), () => 'the cursor is kept', 10000);
    // its ack goes out after ackDelayMs
    await sleep(300);
    first.chat.close();

    await a.chat.request('to_edit', { _id: sent._id, content: 'after' });
    await a.chat.request('to_react', { _id: sent._id, emoji: '🎉', on: true });

    const second = await clientOf(bob, bobStore);
    const updates: WireMessage[] = [];
    let reloads = 0;
    second.chat.on('update', m => updates.push(m));
    second.chat.on('reload', () => reloads++);
    const secondGot = inbox(second);
    await online(second);
    await until(() => updates.some(m => m.reactions?.length), () => JSON.stringify(updates));
    const last = updates[updates.length - 1];
    assert.strictEqual(last._id, sent._id);
    assert.strictEqual(last.content, 'after');
    assert.deepStrictEqual(last.reactions!.map(r => r.emoji), [ '🎉' ]);
    assert.strictEqual(reloads, 0);
    assert.deepStrictEqual(secondGot, [], 'the message itself was acked before: not delivered again');
  });

  it('a cursor the server no longer knows makes the client ask the app to reload, then it follows from a fresh cursor', async () => {
    const bob = await signup();
    const store = new MemoryStore();
    store.setItem(`im.cursor.${bob.id}`, '1');
    const b = await clientOf(bob, store);
    let reloads = 0;
    b.chat.on('reload', () => reloads++);
    await online(b);
    await until(() => reloads === 1 && store.getItem(`im.cursor.${bob.id}`) !== '1', () => `reloads ${reloads}, cursor ${store.getItem(`im.cursor.${bob.id}`)}`, 5000);
  });

  it('other server events reach the app by name, e.g. read receipts for the sender', async () => {
    const alice = await signup();
    const bob = await signup();
    const a = await clientOf(alice);
    const b = await clientOf(bob);
    const receipts: Array<{ _id: string; readed: string[] }> = [];
    a.chat.onEvent('to_reader', list => { if (list) receipts.push(...list); });
    await online(a);
    await online(b);
    const sent = await a.chat.send(text(bob.id, 'read me'));
    await b.chat.request('to_reader', { _id: sent._id });
    await until(() => receipts.length > 0, () => 'no receipt', 5000);
    assert.strictEqual(receipts[0]._id, sent._id);
    assert.deepStrictEqual(receipts[0].readed, [ bob.id ]);
  });

  it('REST: replies unwrapped from the envelope, refusals as ApiError with the contract\'s code', async () => {
    const bob = await signup();
    const client = new ImClient({ baseUrl: await baseUrl() });
    const result = await client.rest.login({ username: bob.username, password: bob.password });
    assert.strictEqual(result.user._id, bob.id);
    assert.strictEqual(client.rest.session?.userId, bob.id);
    const me = await client.rest.request<{ username: string }>('GET', '/api/users/me');
    assert.strictEqual(me.username, bob.username);
    await assert.rejects(client.rest.login({ username: bob.username, password: 'wrong password' }),
      (err: ApiError) => err instanceof ApiError && err.code === 20007 && err.status === 401);
  });

  it('REST: an expired access token is refreshed once and the request goes through', async () => {
    const bob = await signup();
    const client = await clientOf(bob);
    const claims = await app.mockContext().service.auth.verifyAccessToken(bob.token);
    const expired = jwt.sign({ sub: bob.id, sid: claims.sessionId }, app.config.jwt.secret, { algorithm: 'HS256', expiresIn: -10 });
    client.rest.setSession({ userId: bob.id, token: expired, refreshToken: bob.refreshToken });
    const me = await client.rest.request<{ _id: string }>('GET', '/api/users/me');
    assert.strictEqual(me._id, bob.id);
    assert.notStrictEqual(client.rest.session!.token, expired);
    assert.notStrictEqual(client.rest.session!.refreshToken, bob.refreshToken, 'rotated');
  });

  it('REST: an access token the server says expired is refreshed on its 20001, though the stored expiry said later', async () => {
    const bob = await signup();
    const store = new MemoryStore();
    const claims = await app.mockContext().service.auth.verifyAccessToken(bob.token);
    const expired = jwt.sign({ sub: bob.id, sid: claims.sessionId }, app.config.jwt.secret, { algorithm: 'HS256', expiresIn: -10 });
    // as another tab or an older version may have stored it: no refresh ahead of the request
    store.setItem('im.session', JSON.stringify({ userId: bob.id, token: expired, refreshToken: bob.refreshToken, exp: Date.now() + 3_600_000 }));
    const client = await clientOf(bob, store);
    const me = await client.rest.request<{ _id: string }>('GET', '/api/users/me');
    assert.strictEqual(me._id, bob.id);
    assert.notStrictEqual(client.rest.session!.refreshToken, bob.refreshToken, 'rotated');
  });

  it('REST: with refreshAhead the tokens are rotated before the access token expires, with the new expiry kept', async () => {
    const bob = await signup();
    const claims = await app.mockContext().service.auth.verifyAccessToken(bob.token);
    const short = jwt.sign({ sub: bob.id, sid: claims.sessionId }, app.config.jwt.secret, { algorithm: 'HS256', expiresIn: 4 });
    const rest = new RestClient({ baseUrl: await baseUrl(), refreshAhead: true });
    try {
      const changes: string[] = [];
      rest.onSession(s => changes.push(s?.token ?? 'none'));
      rest.setSession({ userId: bob.id, token: short, refreshToken: bob.refreshToken });
      assert.ok(Math.abs(rest.session!.exp! - (Date.now() + 4000)) < 1500, 'the expiry read from the token');
      await until(() => rest.session?.refreshToken !== bob.refreshToken, () => 'not refreshed', 4000);
      assert.ok(rest.session!.exp! > Date.now() + 60_000, 'the new token expires later');
      assert.strictEqual(changes.length, 2, 'told of the set and the refresh');
      const me = await rest.request<{ _id: string }>('GET', '/api/users/me');
      assert.strictEqual(me._id, bob.id);
    } finally {
      rest.dispose();
    }
  });

  it('tells the app which messages were pulled at connect (came while offline) and which came live', async () => {
    const alice = await signup();
    const bob = await signup();
    const a = await clientOf(alice);
    await online(a);
    await a.chat.send(text(bob.id, 'while away 1'));
    await a.chat.send(text(bob.id, 'while away 2'));
    const b = await clientOf(bob);
    const got: Array<[string, boolean]> = [];
    b.chat.on('message', (m, info) => got.push([ m.content, info.offline ]));
    await online(b);
    await until(() => got.length === 2, () => `got ${JSON.stringify(got)}`);
    await a.chat.send(text(bob.id, 'live'));
    await until(() => got.length === 3, () => `got ${JSON.stringify(got)}`);
    assert.deepStrictEqual(got, [[ 'while away 1', true ], [ 'while away 2', true ], [ 'live', false ]]);
  });

  it('an access token that expires while connected: the client refreshes, reconnects, and its sends go through', async () => {
    const alice = await signup();
    const bob = await signup();
    const client = await clientOf(bob);
    const claims = await app.mockContext().service.auth.verifyAccessToken(bob.token);
    const short = jwt.sign({ sub: bob.id, sid: claims.sessionId }, app.config.jwt.secret, { algorithm: 'HS256', expiresIn: 2 });
    client.rest.setSession({ userId: bob.id, token: short, refreshToken: bob.refreshToken });
    const states: string[] = [];
    client.chat.on('state', state => states.push(state));
    await online(client);
    await until(() => states.includes('reconnecting'), () => `states ${states.join(', ')}`, 6000);
    const stored = await client.chat.send(text(alice.id, 'after the expiry'));
    assert.strictEqual(stored.content, 'after the expiry');
    assert.notStrictEqual(client.rest.session!.token, short, 'refreshed');
    assert.strictEqual(client.chat.state, 'online');
  });

  it('a newer login on the same kind of device replaces the client, which does not reconnect by itself', async () => {
    const bob = await signup();
    const first = await clientOf(bob, new MemoryStore(), 'MOBILE');
    await online(first);
    const second = await clientOf(bob, new MemoryStore(), 'MOBILE');
    await online(second);
    await until(() => first.chat.state === 'replaced', () => first.chat.state, 5000);
    await sleep(1500);
    assert.strictEqual(first.chat.state, 'replaced');
    assert.strictEqual(second.chat.state, 'online');
  });

  it('a reply to c_online slower than the client waits: it asks again, comes online and pulls what came while offline', async () => {
    const alice = await signup();
    const bob = await signup();
    const a = await clientOf(alice);
    await online(a);
    await a.chat.send(text(bob.id, 'while bob was away'));
    // the server is slow with the first snapshot only
    const original = PresenceService.prototype.snapshot;
    let calls = 0;
    mm(PresenceService.prototype, 'snapshot', async function(this: PresenceService, userId: string) {
      if (calls++ === 0) await sleep(800);
      return original.call(this, userId);
    });
    try {
      const b = await clientOf(bob, new MemoryStore(), 'WEB', 300);
      const bobGot = inbox(b);
      b.chat.connect();
      await until(() => b.chat.state === 'online' && bobGot.length === 1, () => `state ${b.chat.state}, bob got ${bobGot.length}`, 10000);
      assert.strictEqual(bobGot[0].content, 'while bob was away');
      assert.ok(calls >= 2, 'c_online was asked again');
    } finally {
      mm.restore();
    }
  });
});
