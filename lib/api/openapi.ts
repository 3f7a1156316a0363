/**
 * The OpenAPI 3.1 document of the REST API (PROTOCOL §9), generated from the route table
 * (lib/api/rest.ts): inputs as the server validates them, replies inside the §2 envelope, every
 * refusal by HTTP status with its error codes.
 */
import type { z } from 'zod';
import { errorName, httpStatusOf } from '../errors';
import { SchemaSet, type JsonSchema } from './json-schema';
import { errorsOf, type RestRoute, type RouteAuth } from './rest';

/** `/api/rooms/:id/join` → `/api/rooms/{id}/join` */
export const openApiPath = (path: string) => path.replace(/:(\w+)/g, '{$1}');

/** `POST /api/rooms/:id/join` → `postApiRoomsByIdJoin` */
function operationId(route: RestRoute) {
  const words = route.path.split(/[/.-]/).filter(Boolean)
    .map(w => (w.startsWith(':') ? `By${w[1].toUpperCase()}${w.slice(2)}` : w[0].toUpperCase() + w.slice(1)));
  return route.method.toLowerCase() + (words.join('') || 'Root');
}

const SECURITY: Record<RouteAuth, string | null> = {
  none: null,
  user: 'userToken',
  admin: 'userToken',
  apiKey: 'apiKey',
  metricsToken: 'metricsToken',
};

/** Parameters from an object schema: one per property. */
function parameters(set: SchemaSet, schema: z.ZodType | undefined, where: 'path' | 'query') {
  if (!schema) return [];
  const json = set.convert(schema, 'input');
  const properties = (json.properties ?? {}) as Record<string, JsonSchema>;
  const required = new Set((json.required ?? []) as string[]);
  return Object.entries(properties).map(([ name, property ]) => {
    const { description, ...rest } = property;
    return { name, in: where, required: where === 'path' || required.has(name), ...(description ? { description } : {}), schema: rest };
  });
}

function requestBody(set: SchemaSet, body: RestRoute['body']) {
  if (!body) return undefined;
  if ('multipart' in body) {
    return {
      required: true,
      content: { 'multipart/form-data': { schema: { type: 'object', properties: { [body.multipart]: { type: 'string', contentMediaType: 'application/octet-stream' } }, required: [ body.multipart ] } } },
    };
  }
  // a body the route accepts empty (all fields optional) may be left out
  return { required: !body.safeParse({}).success, content: { 'application/json': { schema: set.convert(body, 'input') } } };
}

function responses(set: SchemaSet, route: RestRoute) {
  const out: Record<string, unknown> = {};
  const reply = route.reply;
  if ('data' in reply) {
    const data = set.convert(reply.data, 'output');
    for (const status of reply.status) {
      out[String(status)] = {
        description: reply.description ?? (status === 201 ? 'created' : 'ok'),
        content: { 'application/json': { schema: { type: 'object', properties: { code: { const: 0 }, msg: { type: 'string' }, data }, required: [ 'code', 'msg', 'data' ] } } },
      };
    }
  } else {
    for (const status of reply.status) {
      out[String(status)] = status === 304
        ? { description: 'not modified (If-None-Match)' }
        : { description: reply.description, content: { [reply.contentType]: { schema: reply.contentType === 'application/json' ? { type: 'object' } : { type: 'string' } } } };
    }
  }
  const byStatus = new Map<number, number[]>();
  for (const code of errorsOf(route)) {
    const status = httpStatusOf(code);
    byStatus.set(status, [ ...byStatus.get(status) ?? [], code ]);
  }
  for (const [ status, codes ] of [ ...byStatus ].sort((a, b) => a[0] - b[0])) {
    out[String(status)] = {
      description: codes.map(c => `${c} ${errorName(c)}`).join(', '),
      ...(status === 429 ? { headers: { 'Retry-After': { description: 'seconds until the client may try again', schema: { type: 'integer' } } } } : {}),
      content: { 'application/json': { schema: { $ref: '#/components/schemas/ErrorEnvelope' } } },
    };
  }
  return out;
}

export function openApiDocument(routes: RestRoute[], info: { version: string }) {
  const set = new SchemaSet('draft-2020-12');
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of routes) {
    const security = SECURITY[route.auth];
    const operation = {
      operationId: operationId(route),
      tags: [ route.tag ],
      summary: route.summary,
      ...(route.auth === 'admin' ? { description: 'Admins only (users with role admin).' } : {}),
      ...(route.scope ? { description: `Needs an API key with the \`${route.scope}\` scope.` } : {}),
      ...(security ? { security: [ { [security]: route.scope ? [ route.scope ] : [] } ] } : {}),
      parameters: [ ...parameters(set, route.params, 'path'), ...parameters(set, route.query, 'query') ],
      requestBody: requestBody(set, route.body),
      responses: responses(set, route),
    };
    (paths[openApiPath(route.path)] ??= {})[route.method.toLowerCase()] = operation;
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'im-server REST API',
      version: info.version,
      description: 'The REST API of PROTOCOL.md §7-§9. Every JSON reply is the envelope `{code, msg, data}` (code 0 on success); '
        + 'errors carry the codes of §3 with the HTTP status shown. The socket API (/chat, /sso) is described in AsyncAPI 3 at /api/asyncapi.json.',
    },
    servers: [ { url: '/' } ],
    tags: [ ...new Set(routes.map(r => r.tag)) ].map(name => ({ name })),
    paths,
    components: {
      securitySchemes: {
        userToken: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'a user\'s access token (login, signup, refresh, the server API\'s sessions)' },
        apiKey: { type: 'http', scheme: 'bearer', description: 'an API key made by the admin CLI (`npm run admin -- keys create`), for the team\'s backend; scopes: users, messages, rooms, notices' },
        metricsToken: { type: 'http', scheme: 'bearer', description: 'METRICS_TOKEN' },
      },
      schemas: {
        ...set.components,
        ErrorEnvelope: {
          type: 'object',
          properties: { code: { type: 'integer', description: 'an error code (PROTOCOL §3)' }, msg: { type: 'string', description: 'what was wrong' }, data: {} },
          required: [ 'code', 'msg' ],
        },
      },
    },
  };
}
