import assert from 'node:assert';
import mm from 'egg-mock';
import { api, app, connectOk, emitAck, signup, uniqueName } from '../helpers';
import { rateLimits } from '../../config/rate-limits';

/** Every use in the table, with where it applies. */
const uses = () => [
  ...Object.entries(rateLimits.http).flatMap(([ route, list ]) => list.map(use => ({ where: route, use }))),
  ...Object.entries(rateLimits.sockets).flatMap(([ nsp, events ]) => Object.entries(events).flatMap(([ event, list ]) => list.map(use => ({ where: `${nsp} ${event}`, use })))),
  ...Object.entries(rateLimits.engine).map(([ name, use ]) => ({ where: `engine ${name}`, use })),
];

describe('the rate-limit table (config/rate-limits.ts)', () => {
  it('uses every limit of config.rateLimit, and only those', () => {
    const configured = Object.keys(app.config.rateLimit).sort();
    const used = [ ...new Set(uses().map(u => u.use.limit)) ].sort();
    assert.deepStrictEqual(used, configured);
  });

  it('names only routes that exist and carry the rateLimit middleware', () => {
    for (const route of Object.keys(rateLimits.http)) {
      const [ method, path ] = route.split(' ');
      const layer = app.router.stack.find(l => l.path === path && l.methods.includes(method));
      assert.ok(layer, `${route} is not a route`);
      assert.ok((layer.stack as Array<{ name?: string }>).some(mw => mw.name === 'rateLimit'), `${route} lacks the rateLimit middleware`);
    }
  });

  it('names only the namespaces the server serves, with socket keys only on sockets', () => {
    assert.deepStrictEqual(Object.keys(rateLimits.sockets).sort(), Object.keys(app.config.io.namespace).sort());
    for (const { where, use } of uses()) {
      if (where.startsWith('/') || where.startsWith('engine ')) assert.ok([ 'ip', 'user', 'socket' ].includes(use.by), `${where}: ${use.by}`);
      else assert.notStrictEqual(use.by, 'socket', where);
    }
  });

  it('a per-user route limit counts per user: the third room of one user is 429 / 20009, another user is unaffected', async () => {
    mm(app.config.rateLimit, 'roomCreate', { points: 2, duration: 60 });
    const [ a, b ] = await Promise.all([ signup(), signup() ]);
    const create = (token: string) => api('POST', '/api/rooms', { token, body: { name: uniqueName('rl') } });
    const statuses = [ (await create(a.token)).status, (await create(a.token)).status, (await create(a.token)).status, (await create(b.token)).status ];
    assert.deepStrictEqual(statuses, [ 201, 201, 429, 201 ]);
  });

  it('a per-event socket limit answers 20009 with meta.retryAfterMs and leaves other events alone', async () => {
    mm(app.config.rateLimit, 'typing', { points: 1, duration: 10 });
    const [ a, b ] = await Promise.all([ signup(), signup() ]);
    const socket = await connectOk({ token: a.token });
    assert.strictEqual((await emitAck(socket, 'to_typing', { to: b.id, typeu: 1 })).code, 0);
    const refused = await emitAck(socket, 'to_typing', { to: b.id, typeu: 1 });
    assert.strictEqual(refused.code, 20009);
    assert.strictEqual(refused.data.action, 'CHAT_TO_TYPING');
    assert.ok(refused.meta.retryAfterMs > 0 && refused.meta.retryAfterMs <= 10000, JSON.stringify(refused.meta));
    assert.strictEqual((await emitAck(socket, 'recent_conversation')).code, 0);
  });

  it('an event named like an Object member is an unknown event, not a crash', async () => {
    const u = await signup();
    const socket = await connectOk({ token: u.token });
    socket.emit('constructor', {});
    socket.emit('__proto__', {});
    assert.strictEqual((await emitAck(socket, 'recent_conversation')).code, 0);
  });
});
