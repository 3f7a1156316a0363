/**
 * The AsyncAPI 3 document of the socket API (PROTOCOL §4, §5, §8, §9), generated from the event
 * table (lib/api/events.ts): the server *receives* what clients emit (payloads as it validates
 * them) and answers each with a reply; it *sends* its pushes. Every server → client message is
 * described inside the §2 envelope, with its action key.
 */
import { z } from 'zod';
import { Actions, actionOf } from '../actions';
import { errorName } from '../errors';
import { ServerEventPayloads, SocketMeta, type ServerEvent } from '../schemas/wire';
import { SchemaSet, type JsonSchema } from './json-schema';
import { eventErrorsOf, type ClientEvent, type Namespace, type ServerPush } from './events';

const CHANNEL: Record<Namespace, string> = { '/chat': 'chat', '/sso': 'sso' };

/** channel message keys: what a client emits, what the server sends, the bare ack of an event with no reply of its own */
export const messageKey = {
  emit: (event: string) => `emit.${event}`,
  server: (event: ServerEvent) => event,
  ack: (event: string) => `ack.${event}`,
};

function envelope(set: SchemaSet, action: string, payload: z.ZodType, error = false): JsonSchema {
  return {
    type: 'object',
    properties: {
      meta: set.convert(SocketMeta, 'output'),
      code: error ? { type: 'integer', description: 'an error code (PROTOCOL §3)' } : { const: 0 },
      data: { type: 'object', properties: { action: error ? { type: 'string', description: `the action key of the event that failed (${Actions.im_error} when none did)` } : { const: action }, payload: set.convert(payload, 'output') }, required: [ 'action', 'payload' ] },
    },
    required: [ 'meta', 'code', 'data' ],
  };
}

const HANDSHAKE: Record<Namespace, { description: string; query: JsonSchema }> = {
  '/chat': {
    description: 'Connect with the access token in `auth.token` (socket.io-client 4) or `query.token` (2.x). Missing token: im_error 20002, bad token: 20001, then disconnect. '
      + 'A newer login of the same user and device class drops this socket with im_error 20004 (device policy). On connect the socket is in the user\'s rooms.',
    query: {
      type: 'object',
      properties: {
        token: { type: 'string', description: 'the access token (2.x clients; 4.x send `auth.token`)' },
        userId: { type: 'string', description: 'if given, must be the token\'s user (else 20001)' },
        deviceType: { type: 'string', enum: [ 'DESKTOP', 'MOBILE', 'WEB' ], description: 'default from the user agent, else WEB' },
      },
    },
  },
  '/sso': {
    description: 'The PC waiting for a QR-code login: `query.device_id` from GET /api/qrcode (and its `secret` in `auth.secret` or `query.secret`). Unknown or expired: im_error 20006 and disconnect.',
    query: {
      type: 'object',
      properties: { device_id: { type: 'string' }, secret: { type: 'string', description: '2.x clients; 4.x send `auth.secret`' } },
      required: [ 'device_id' ],
    },
  },
};

export function asyncApiDocument(clientEvents: ClientEvent[], pushes: ServerPush[], info: { version: string; host: string }) {
  const set = new SchemaSet('draft-7');
  const channels: Record<string, { address: string; title: string; description: string; messages: Record<string, unknown>; bindings: unknown }> = {};
  for (const ns of [ '/chat', '/sso' ] as const) {
    channels[CHANNEL[ns]] = { address: ns, title: `namespace ${ns}`, description: HANDSHAKE[ns].description, messages: {}, bindings: { ws: { query: HANDSHAKE[ns].query, bindingVersion: '0.1.0' } } };
  }
  const ref = (ns: Namespace, key: string) => ({ $ref: `#/channels/${CHANNEL[ns]}/messages/${key}` });
  const channelRef = (ns: Namespace) => ({ $ref: `#/channels/${CHANNEL[ns]}` });

  /** the message of a server event on a channel, defined once */
  const serverMessage = (ns: Namespace, event: ServerEvent) => {
    const messages = channels[CHANNEL[ns]].messages;
    const key = messageKey.server(event);
    messages[key] ??= event === 'im_error'
      ? { name: event, title: `${event} (${Actions[event]})`, summary: 'a refusal: the error envelope, with meta.msg; payload null or the offending item\'s fp; meta.retryAfterMs on 20009', payload: envelope(set, '', ServerEventPayloads.im_error, true) }
      : { name: event, title: `${event} (${Actions[event]})`, payload: envelope(set, Actions[event], ServerEventPayloads[event]) };
    return ref(ns, key);
  };

  const operations: Record<string, unknown> = {};
  for (const e of clientEvents) {
    const messages = channels[CHANNEL[e.namespace]].messages;
    const key = messageKey.emit(e.event);
    messages[key] = {
      name: e.event,
      title: `${e.event} (${actionOf(e.event)})`,
      summary: e.summary,
      ...(e.payload ? { payload: set.convert(e.payload, 'input') } : { description: 'sent without a payload' }),
    };
    let reply;
    if (e.reply) {
      reply = serverMessage(e.namespace, e.reply);
    } else {
      const ackKey = messageKey.ack(e.event);
      messages[ackKey] = { name: e.event, title: `ack of ${e.event}`, summary: 'the ack of an event with no reply of its own (only to an ack callback)', payload: envelope(set, actionOf(e.event), z.null()) };
      reply = ref(e.namespace, ackKey);
    }
    const errors = eventErrorsOf(e).map(c => `${c} ${errorName(c)}`).join(', ');
    operations[`${CHANNEL[e.namespace]}.${e.event}`] = {
      action: 'receive',
      channel: channelRef(e.namespace),
      title: e.event,
      summary: e.summary,
      description: 'With an ack callback the reply (or the refusal) goes to the callback only; without one the reply is emitted as its event and a refusal as im_error. '
        + `Refusals: ${errors}.`,
      messages: [ ref(e.namespace, key) ],
      reply: { channel: channelRef(e.namespace), messages: [ reply, serverMessage(e.namespace, 'im_error') ] },
    };
  }
  for (const p of pushes) {
    operations[`${CHANNEL[p.namespace]}.push.${p.event}`] = {
      action: 'send',
      channel: channelRef(p.namespace),
      title: p.event,
      summary: p.summary,
      messages: [ serverMessage(p.namespace, p.event) ],
    };
  }
  return {
    asyncapi: '3.0.0',
    info: {
      title: 'im-server socket API',
      version: info.version,
      description: 'The Socket.IO v4 API of PROTOCOL.md §4, §5 and §8 (socket.io-client 2.x and 4.x, path /ws, websocket or polling). '
        + 'Every server → client event and every ack is the envelope `{meta, code, data: {action, payload}}`; `action` is the action key of the event. '
        + 'The REST API is described in OpenAPI 3.1 at /api/openapi.json.',
    },
    defaultContentType: 'application/json',
    servers: {
      default: { host: info.host, protocol: 'ws', pathname: '/ws', description: 'Socket.IO 4 at path /ws (Engine.IO 4, and 3 for 2.x clients); also over https/wss' },
    },
    channels,
    operations,
    components: { schemas: set.components },
  };
}
