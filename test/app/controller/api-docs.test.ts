import assert from 'node:assert';
import { validate as validateOpenApi } from '@readme/openapi-parser';
import { DiagnosticSeverity, Parser as AsyncApiParser } from '@asyncapi/parser';
import { app, baseUrl } from '../../helpers';
import { ServerEventPayloads } from '../../../lib/schemas/wire';
import { openApiPath } from '../../../lib/api/openapi';
import { restRoutes } from '../../../lib/api/rest';
import type { IoServer } from '../../../lib/plugin/io/lib/server';

/** A document as a client gets it: status, type, the parsed body. */
async function getDocument(path: string) {
  const res = await fetch(`${await baseUrl()}${path}`, { signal: AbortSignal.timeout(10000) });
  return { status: res.status, type: res.headers.get('content-type') ?? '', body: await res.json() as any };
}

const METHODS = [ 'get', 'post', 'put', 'patch', 'delete' ];

/** `METHOD /path/{param}` of every route the running app's router has (egg-router lists HEAD beside GET). */
function routerRoutes(): Set<string> {
  const out = new Set<string>();
  for (const layer of app.router.stack) {
    for (const method of layer.methods) {
      if (method === 'HEAD') continue;
      out.add(`${method} ${openApiPath(layer.path)}`);
    }
  }
  return out;
}

/** `METHOD /path/{param}` of every operation the document has. */
function documentRoutes(doc: any): Set<string> {
  const out = new Set<string>();
  for (const [ path, item ] of Object.entries<any>(doc.paths)) {
    for (const method of Object.keys(item)) if (METHODS.includes(method)) out.add(`${method.toUpperCase()} ${path}`);
  }
  return out;
}

/** Message names of the document's operations of `action` on a namespace, replies apart. */
function operationEvents(doc: any, namespace: string, action: 'send' | 'receive') {
  const names = new Set<string>();
  for (const op of Object.values<any>(doc.operations)) {
    if (op.action !== action) continue;
    const channel = doc.channels[op.channel.$ref.split('/').pop()];
    if (channel.address !== namespace) continue;
    for (const m of op.messages) names.add(channel.messages[m.$ref.split('/').pop()].name);
  }
  return names;
}

describe('API documents (OpenAPI 3.1, AsyncAPI 3)', () => {
  it('GET /api/openapi.json is a plain OpenAPI 3.1 document (no envelope) that the OpenAPI parser validates', async () => {
    const res = await getDocument('/api/openapi.json');
    assert.strictEqual(res.status, 200);
    assert.match(res.type, /^application\/json/);
    assert.strictEqual(res.body.openapi, '3.1.0');
    assert.strictEqual(res.body.code, undefined, 'not wrapped in the envelope');
    const result = await validateOpenApi(res.body);
    assert.ok(result.valid, JSON.stringify(result.valid ? null : result.errors, null, 1));
  });

  it('GET /api/asyncapi.json is a plain AsyncAPI 3 document that the AsyncAPI parser validates without an error or a warning', async () => {
    const res = await getDocument('/api/asyncapi.json');
    assert.strictEqual(res.status, 200);
    assert.match(res.body.asyncapi, /^3\./);
    assert.strictEqual(res.body.code, undefined, 'not wrapped in the envelope');
    const { document, diagnostics } = await new AsyncApiParser().parse(JSON.stringify(res.body));
    const problems = diagnostics.filter(d => d.severity <= DiagnosticSeverity.Warning);
    assert.deepStrictEqual(problems.map(d => `${d.code}: ${d.message} at ${d.path.join('.')}`), []);
    assert.ok(document, 'parsed');
  });

  it('the AsyncAPI server is the one the request reached', async () => {
    const res = await getDocument('/api/asyncapi.json');
    assert.strictEqual(res.body.servers.default.host, new URL(await baseUrl()).host);
  });

  it('every route of app/router.ts is in the OpenAPI document, and the document has no route the app does not', async () => {
    const doc = (await getDocument('/api/openapi.json')).body;
    const inRouter = routerRoutes();
    const inDocument = documentRoutes(doc);
    assert.ok(inRouter.size > 50, `the router has ${inRouter.size} routes`);
    assert.deepStrictEqual([ ...inRouter ].filter(r => !inDocument.has(r)), [], 'routes missing from the document');
    assert.deepStrictEqual([ ...inDocument ].filter(r => !inRouter.has(r)), [], 'documented routes the app does not have');
  });

  it('each route\'s documented auth and rate limit are the middleware the router gives it', () => {
    const wrong: string[] = [];
    for (const route of restRoutes(app.config.message)) {
      const layer = app.router.stack.find(l => l.path === route.path && l.methods.includes(route.method));
      assert.ok(layer, `${route.method} ${route.path} is routed`);
      const names = new Set((layer.stack as Array<{ name?: string }>).map(fn => fn.name));
      const want = { auth: route.auth === 'user' || route.auth === 'admin', admin: route.auth === 'admin', apiKey: route.auth === 'apiKey', rateLimit: !!route.limited };
      for (const [ middleware, expected ] of Object.entries(want)) {
        if (names.has(middleware) !== expected) wrong.push(`${route.method} ${route.path}: ${middleware} ${expected ? 'missing' : 'not documented'}`);
      }
      if (route.auth === 'apiKey' && !route.scope) wrong.push(`${route.method} ${route.path}: no scope`);
    }
    assert.deepStrictEqual(wrong, []);
  });

  it('every routed socket event of /chat and /sso is in the AsyncAPI document, and the document has no client event the app does not route', async () => {
    const doc = (await getDocument('/api/asyncapi.json')).body;
    const io = app.io as unknown as IoServer;
    assert.deepStrictEqual(io.namespaceNames.sort(), [ '/chat', '/sso' ]);
    for (const namespace of io.namespaceNames) {
      const routed = io.of(namespace).routedEvents.sort();
      assert.ok(routed.length > 0);
      assert.deepStrictEqual([ ...operationEvents(doc, namespace, 'receive') ].sort(), routed, namespace);
    }
  });

  it('every event the server can send is described, and nothing else is', async () => {
    const doc = (await getDocument('/api/asyncapi.json')).body;
    const serverEvents = new Set(Object.keys(ServerEventPayloads));
    const described = new Set<string>();
    for (const op of Object.values<any>(doc.operations)) {
      const channel = doc.channels[op.channel.$ref.split('/').pop()];
      const sent = op.action === 'send' ? op.messages : op.reply.messages;
      for (const m of sent) described.add(channel.messages[m.$ref.split('/').pop()].name);
    }
    assert.deepStrictEqual([ ...described ].filter(e => !serverEvents.has(e)), [], 'described events the server does not send');
    assert.deepStrictEqual([ ...serverEvents ].filter(e => !described.has(e)), [], 'server events not described');
  });

  it('a request schema is the one the server validates with: the documented `to` refuses what the server refuses', async () => {
    const doc = (await getDocument('/api/asyncapi.json')).body;
    const to = doc.channels.chat.messages['emit.to'].payload;
    assert.deepStrictEqual(to.required.sort(), [ 'content', 'fp', 'to', 'type' ]);
    assert.strictEqual(to.properties.fp.maxLength, 64);
    assert.strictEqual(to.properties.type.maximum, 5);
    const signup = (await getDocument('/api/openapi.json')).body.paths['/api/signup'].post;
    const body = signup.requestBody.content['application/json'].schema;
    assert.strictEqual(body.additionalProperties, false, 'strict bodies say so');
    assert.strictEqual(body.properties.username.pattern, '^[A-Za-z0-9_.-]+$');
    assert.deepStrictEqual(Object.keys(signup.responses).sort(), [ '201', '400', '409', '429', '500' ]);
    assert.strictEqual(signup.responses[201].content['application/json'].schema.properties.data.$ref, '#/components/schemas/AuthResult');
  });
});
