/**
 * The documents describe what the server really sends: real replies of the routes and events, read
 * against the reply schemas of the tables in lib/api/ (which the documents are generated from), with
 * no field the schema does not name.
 */
import assert from 'node:assert';
import type { z } from 'zod';
import { api, app, emitAck, signup, type ApiResponse, type TestUser } from '../../helpers';
import { online, send, text, record } from '../../message-helpers';
import { befriend } from '../../social-helpers';
import { admin, apiKey, serverApi } from '../../integration-helpers';
import { restRoutes, type EnvelopeReply } from '../../../lib/api/rest';
import { ServerEventPayloads, socketEnvelopeOf, type ServerEvent } from '../../../lib/schemas/wire';
import { Actions } from '../../../lib/actions';

/** Paths of `value` that `schema` does not name (objects are not strict, so parsing alone would let them by). */
function undocumented(schema: z.ZodType, value: unknown, path = '$'): string[] {
  const def = (schema as any)._zod.def;
  switch (def.type) {
    case 'optional': case 'nullable': case 'default':
      return value === null || value === undefined ? [] : undocumented(def.innerType, value, path);
    case 'array':
      return Array.isArray(value) ? value.flatMap((v, i) => undocumented(def.element, v, `${path}[${i}]`)) : [];
    case 'object':
      if (!value || typeof value !== 'object') return [];
      return Object.entries(value).flatMap(([ k, v ]) => (k in def.shape ? undocumented(def.shape[k], v, `${path}.${k}`) : [ `${path}.${k}` ]));
    case 'union': {
      // the fewest surprises among the options the value matches
      const fits = (def.options as z.ZodType[]).filter(o => o.safeParse(value).success).map(o => undocumented(o, value, path));
      return fits.length ? fits.reduce((a, b) => (a.length <= b.length ? a : b)) : [];
    }
    default:
      return [];
  }
}

function conforms(schema: z.ZodType, value: unknown, what: string) {
  const parsed = schema.safeParse(value);
  assert.ok(parsed.success, `${what}: ${parsed.success ? '' : JSON.stringify(parsed.error.issues.slice(0, 3))} in ${JSON.stringify(value).slice(0, 400)}`);
  assert.deepStrictEqual(undocumented(schema, value), [], `${what}: fields the document does not name`);
}

let routes: ReturnType<typeof restRoutes>;
/** Calls a route and checks its reply against its documented status and data schema. */
async function call(method: string, path: string, routePath: string, opts: { token?: string; body?: unknown } = {}): Promise<ApiResponse> {
  routes ??= restRoutes(app.config.message);
  const route = routes.find(r => r.method === method && r.path === routePath);
  assert.ok(route, `${method} ${routePath} is documented`);
  const res = await api(method, path, opts);
  const reply = route.reply as EnvelopeReply;
  assert.ok(reply.status.includes(res.status as 200), `${method} ${path}: ${res.status} ${JSON.stringify(res.body)}`);
  conforms(reply.data, res.body.data, `${method} ${routePath}`);
  return res;
}

/** Checks a socket envelope against the documented payload of `event`. */
function conformsEvent(event: ServerEvent, envelope: unknown) {
  conforms(socketEnvelopeOf(ServerEventPayloads[event], Actions[event]), envelope, event);
}

describe('API documents describe the real replies', () => {
  let a: TestUser;
  let b: TestUser;
  before(async () => {
    a = await signup({ email: `${Date.now()}a@example.com` });
    b = await signup();
  });

  it('auth and account routes', async () => {
    const username = `r${Date.now().toString(36)}`;
    const made = await call('POST', '/api/signup', '/api/signup', { body: { username, password: 'correct horse battery', question: 'q?', answer: 'a' } });
    const login = await call('POST', '/api/login', '/api/login', { body: { username, password: 'correct horse battery' } });
    await call('POST', '/api/validate', '/api/validate', { body: { token: made.body.data.token } });
    await call('POST', '/api/token/refresh', '/api/token/refresh', { body: { refreshToken: login.body.data.refreshToken } });
    await call('GET', `/api/password/question?username=${username}`, '/api/password/question');
    await call('POST', '/api/logout', '/api/logout', { token: login.body.data.token });
  });

  it('user routes', async () => {
    await call('GET', '/api/users/me', '/api/users/me', { token: a.token });
    await call('PATCH', '/api/users/me', '/api/users/me', { token: a.token, body: { nickname: 'Ann', intro: 'hi' } });
    await call('PUT', '/api/users/me/presence', '/api/users/me/presence', { token: a.token, body: { presence: 'away' } });
    const found = await call('GET', `/api/users?q=${b.username}`, '/api/users', { token: a.token });
    assert.strictEqual(found.body.data.length, 1);
    await call('GET', `/api/users/${b.id}`, '/api/users/:id', { token: a.token });
  });

  it('friend and block routes', async () => {
    const c = await signup();
    const d = await signup();
    await call('POST', '/api/friends/requests', '/api/friends/requests', { token: c.token, body: { to: d.id, message: 'hi' } });
    const pending = await call('GET', '/api/friends/requests', '/api/friends/requests', { token: d.token });
    assert.strictEqual(pending.body.data.incoming.length, 1);
    await call('POST', `/api/friends/requests/${c.id}/accept`, '/api/friends/requests/:userId/accept', { token: d.token, body: {} });
    const friends = await call('GET', '/api/friends', '/api/friends', { token: c.token });
    assert.strictEqual(friends.body.data.length, 1);
    await call('PATCH', `/api/friends/${d.id}`, '/api/friends/:id', { token: c.token, body: { alias: 'D' } });
    await call('DELETE', `/api/friends/${d.id}`, '/api/friends/:id', { token: c.token });
    await call('POST', `/api/blocks/${d.id}`, '/api/blocks/:id', { token: c.token });
    const blocked = await call('GET', '/api/blocks', '/api/blocks', { token: c.token });
    assert.strictEqual(blocked.body.data.length, 1);
    await call('DELETE', `/api/blocks/${d.id}`, '/api/blocks/:id', { token: c.token });
  });

  it('room routes', async () => {
    const c = await signup();
    const made = await call('POST', '/api/rooms', '/api/rooms', { token: a.token, body: { name: `docs-${Date.now()}`, visibility: 'public' } });
    const id = made.body.data._id;
    await call('GET', '/api/rooms', '/api/rooms', { token: a.token });
    await call('GET', '/api/rooms?mine=1', '/api/rooms', { token: a.token });
    await call('POST', `/api/rooms/${id}/join`, '/api/rooms/:id/join', { token: b.token });
    await call('GET', `/api/rooms/${id}`, '/api/rooms/:id', { token: b.token });
    await call('PATCH', `/api/rooms/${id}`, '/api/rooms/:id', { token: a.token, body: { notice: 'welcome' } });
    await call('POST', `/api/rooms/${id}/members`, '/api/rooms/:id/members', { token: a.token, body: { add: [ c.id ] } });
    await call('POST', `/api/rooms/${id}/leave`, '/api/rooms/:id/leave', { token: c.token });
    await call('DELETE', `/api/rooms/${id}`, '/api/rooms/:id', { token: a.token });
  });

  it('message routes and socket replies, c2c', async () => {
    await befriend(a, b);
    const sa = await online(a);
    const sb = await online(b);
    const incoming = record(sb, 'c_message');
    const sent = await emitAck(sa, 'to', text(b.id, 'hello docs'));
    conformsEvent('to_ack', sent);
    conformsEvent('c_message', await incoming.next(m => m._id === sent.data.payload._id));
    const pulled = await emitAck(sb, 'offline_message');
    conformsEvent('offline_message', pulled);
    conformsEvent('c_message_ack', await emitAck(sb, 'c_message_ack', pulled.data.payload));
    conformsEvent('recent_conversation', await emitAck(sa, 'recent_conversation'));
    const timelineId = sent.data.payload.timelineId;
    conformsEvent('history_message', await emitAck(sa, 'history_message', { timelineId, typeu: 1 }));
    conformsEvent('history_message', await emitAck(sa, 'history_message', { timelineId, typeu: 1, page: 1 }));
    const updates = record(sb, 'c_message_update');
    conformsEvent('to_ack', await emitAck(sa, 'to_react', { _id: sent.data.payload._id, emoji: '👍', on: true }));
    conformsEvent('to_ack', await emitAck(sa, 'to_pin', { _id: sent.data.payload._id, on: true }));
    conformsEvent('c_message_update', await updates.next());
    const cursor = (await emitAck(sb, 'sync_changes')).data.payload.cursor;
    await send(sa, text(b.id, 'second'));
    conformsEvent('to_ack', await emitAck(sa, 'to_edit', { _id: sent.data.payload._id, content: 'edited' }));
    conformsEvent('sync_changes', await emitAck(sb, 'sync_changes', { cursor }));
    const receipts = record(sa, 'to_reader');
    conformsEvent('to_reader', await emitAck(sb, 'to_reader', { _id: sent.data.payload._id }));
    conformsEvent('to_reader', await receipts.next());
    conformsEvent('to_reader', await emitAck(sa, 'readed_message'));
    conformsEvent('c_online', await emitAck(sa, 'c_online'));

    await call('GET', '/api/conversations', '/api/conversations', { token: a.token });
    await call('PATCH', `/api/conversations/${timelineId}?typeu=1`, '/api/conversations/:timelineId', { token: a.token, body: { muted: true } });
    await call('GET', `/api/messages?timelineId=${timelineId}&typeu=1`, '/api/messages', { token: a.token });
    await call('GET', `/api/messages?timelineId=${timelineId}&typeu=1&page=1`, '/api/messages', { token: a.token });
    await call('GET', `/api/messages/pinned?timelineId=${timelineId}&typeu=1`, '/api/messages/pinned', { token: a.token });
    const found = await call('GET', '/api/messages/search?q=second', '/api/messages/search', { token: a.token });
    assert.ok(found.body.data.docs.length >= 1);
    await call('DELETE', `/api/messages/${sent.data.payload._id}`, '/api/messages/:id', { token: b.token });
  });

  it('QR login, push key, health', async () => {
    const qr = await call('GET', '/api/qrcode', '/api/qrcode');
    await call('GET', `/api/qrcode/${qr.body.data.deviceId}`, '/api/qrcode/:deviceId', { token: a.token });
    await call('GET', '/api/push/vapid-key', '/api/push/vapid-key');
    await call('GET', '/healthz', '/healthz');
    await call('GET', '/readyz', '/readyz');
  });

  it('admin routes and the server API', async () => {
    const boss = await admin();
    await call('GET', '/api/admin/stats', '/api/admin/stats', { token: boss.token });
    await call('POST', '/api/admin/notices', '/api/admin/notices', { token: boss.token, body: { to: a.id, content: 'maintenance' } });
    const hook = await call('POST', '/api/admin/webhooks', '/api/admin/webhooks', { token: boss.token, body: { url: 'http://127.0.0.1:9/hook', events: [ 'room.changed' ] } });
    await call('GET', '/api/admin/webhooks', '/api/admin/webhooks', { token: boss.token });
    await call('GET', `/api/admin/webhooks/${hook.body.data._id}/deliveries`, '/api/admin/webhooks/:id/deliveries', { token: boss.token });
    await call('DELETE', `/api/admin/webhooks/${hook.body.data._id}`, '/api/admin/webhooks/:id', { token: boss.token });

    const { key } = await apiKey();
    const external = `ext-${Date.now()}`;
    const put = (body: unknown) => serverApi('PUT', `/api/server/users/${external}`, key, body);
    const user = await put({ nickname: 'Ext' });
    assert.strictEqual(user.status, 201);
    conforms((restRoutes(app.config.message).find(r => r.path === '/api/server/users/:externalId')!.reply as EnvelopeReply).data, user.body.data, 'PUT /api/server/users/:externalId');
    await call('POST', `/api/server/users/${external}/sessions`, '/api/server/users/:externalId/sessions', { token: key, body: {} });
    await call('POST', '/api/server/messages', '/api/server/messages', { token: key, body: { from: user.body.data._id, to: a.id, typeu: 1, type: 1, content: 'from the backend', fp: `srv-${Date.now()}` } });
    await call('POST', '/api/server/notices', '/api/server/notices', { token: key, body: { to: a.id, content: 'notice' } });
    const room = await call('POST', '/api/server/rooms', '/api/server/rooms', { token: key, body: { name: `srv-${Date.now()}`, owner: a.id } });
    await call('POST', `/api/server/rooms/${room.body.data._id}/members`, '/api/server/rooms/:id/members', { token: key, body: { add: [ b.id ] } });
  });
});
