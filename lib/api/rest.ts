/**
 * Every REST route of the server (PROTOCOL §7, §8, §9) in one table: method, path as in
 * app/router.ts, who may call it, the schemas its input is validated with (the ones the controller
 * uses), the schema of its reply's `data`, and the error codes it answers with. The OpenAPI document
 * (lib/api/openapi.ts) is generated from it, and a test checks it against the running app's router
 * both ways, so a route cannot be added without being described, nor described without existing.
 */
import { z } from 'zod';
import { ErrorCode, type ErrorCodeValue } from '../errors';
import * as auth from '../schemas/auth';
import * as social from '../schemas/social';
import * as message from '../schemas/message';
import * as features from '../schemas/features';
import * as integration from '../schemas/integration';
import { noticeBody } from '../schemas/admin';
import { deviceIdBody, deviceIdParam } from '../schemas/qrcode';
import { fileId, objectId } from '../schemas/common';
import * as wire from '../schemas/wire';
import type { MessageLimits } from '../schemas/message';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/**
 * Who may call a route: anyone; a signed-in user (`Authorization: Bearer <access token>`); a user
 * with role admin; the team's backend with an API key of a scope (§9); a scraper with METRICS_TOKEN.
 */
export type RouteAuth = 'none' | 'user' | 'admin' | 'apiKey' | 'metricsToken';

/** A reply in the §2 envelope: `data` and the success status(es). */
export interface EnvelopeReply { status: Array<200 | 201>; data: z.ZodType; description?: string }
/** A reply that is not JSON in the envelope (pages, files, documents, metrics). */
export interface RawReply { status: Array<200 | 206 | 304>; contentType: string; description: string }

export interface RestRoute {
  method: HttpMethod;
  /** as in app/router.ts (`:param`) */
  path: string;
  /** OpenAPI tag: the section of PROTOCOL it belongs to */
  tag: string;
  summary: string;
  auth: RouteAuth;
  /** the API key scope a server-API route needs */
  scope?: typeof integration.API_SCOPES[number];
  params?: z.ZodType;
  query?: z.ZodType;
  /** a JSON body, or a multipart upload with one file field */
  body?: z.ZodType | { multipart: string };
  reply: EnvelopeReply | RawReply;
  /** refusals beyond those the route's auth and input imply (added by `errorsOf`) */
  errors?: ErrorCodeValue[];
  /** whether config/rate-limits.ts limits it (429 / 20009); checked against the router by a test */
  limited?: boolean;
}

const ok = (data: z.ZodType, status: Array<200 | 201> = [ 200 ], description?: string): EnvelopeReply => ({ status, data, description });
const created = (data: z.ZodType) => ok(data, [ 201 ]);
const nothing = z.null().describe('nothing');

/** Refusals every route of an auth kind can answer, in the order they are checked. */
const AUTH_ERRORS: Record<RouteAuth, ErrorCodeValue[]> = {
  none: [],
  user: [ ErrorCode.AUTH_FAILED ],
  admin: [ ErrorCode.AUTH_FAILED, ErrorCode.FORBIDDEN ],
  apiKey: [ ErrorCode.AUTH_FAILED, ErrorCode.FORBIDDEN ],
  metricsToken: [ ErrorCode.AUTH_FAILED, ErrorCode.NOT_FOUND ],
};

/** Every error code a route may answer with: its auth's, 20002 when it takes input, its own, 20009 when limited, 50000. */
export function errorsOf(route: RestRoute): ErrorCodeValue[] {
  const codes = [ ...AUTH_ERRORS[route.auth] ];
  if (route.params || route.query || route.body) codes.push(ErrorCode.MISS_PARAMS);
  codes.push(...route.errors ?? []);
  if (route.limited) codes.push(ErrorCode.RATE_LIMITED);
  codes.push(ErrorCode.SERVER_ERROR);
  return [ ...new Set(codes) ];
}

const timelineParam = z.object({ timelineId: features.timelineId });
const fileParam = z.object({ id: fileId });
const messageParam = z.object({ id: objectId });

const webhookView = z.object({ _id: z.string(), url: z.string(), events: z.array(z.enum(integration.WEBHOOK_EVENTS)), createdAt: z.string() });
const deliveryAttempt = z.object({
  attempt: z.number().int().describe('1 for the first try'),
  job: z.string(),
  startedAt: z.string(),
  finishedAt: z.string().nullable(),
  outcome: z.string().describe('running, or how the attempt ended'),
  events: z.array(z.object({
    id: z.string().describe('the event id (the receiver de-duplicates by it)'),
    type: z.string(),
    result: z.string(),
    status: z.number().int().nullable().describe('the receiver\'s HTTP status'),
    ms: z.number().nullable(),
    error: z.string().nullable(),
  })),
});

/** The routes, for the configured message limits (the `to` body's caps are configurable). */
export function restRoutes(limits: MessageLimits): RestRoute[] {
  return [
    // the web client and health (§1, §7)
    { method: 'GET', path: '/', tag: 'web', summary: 'The web client', auth: 'none', reply: { status: [ 200 ], contentType: 'text/html', description: 'the page (503 text when it is not built)' } },
    { method: 'GET', path: '/sw.js', tag: 'web', summary: 'The web client\'s service worker (Web Push notifications)', auth: 'none', reply: { status: [ 200 ], contentType: 'application/javascript', description: 'the worker script' }, errors: [] },
    { method: 'GET', path: '/healthz', tag: 'operations', summary: 'The process is alive', auth: 'none', reply: ok(z.object({ status: z.literal('ok'), uptime: z.number().int().describe('seconds') })) },
    { method: 'GET', path: '/readyz', tag: 'operations', summary: 'Ready to serve: the database answers (and Redis when configured); 503 / 50000 otherwise', auth: 'none',
      reply: ok(z.object({ status: z.enum([ 'ready', 'not ready' ]), checks: z.record(z.string(), z.enum([ 'ok', 'down' ])) })) },
    { method: 'GET', path: '/metrics', tag: 'operations', summary: 'Prometheus metrics; 404 unless METRICS_TOKEN is set, then it needs that token', auth: 'metricsToken',
      reply: { status: [ 200 ], contentType: 'text/plain', description: 'Prometheus text format 0.0.4' } },
    { method: 'GET', path: '/docs', tag: 'operations', summary: 'Both documents, readable', auth: 'none', reply: { status: [ 200 ], contentType: 'text/html', description: 'the page (503 text when it is not built)' } },
    { method: 'GET', path: '/api/openapi.json', tag: 'operations', summary: 'This document: OpenAPI 3.1 of every REST route', auth: 'none', reply: { status: [ 200 ], contentType: 'application/json', description: 'the document (no envelope)' } },
    { method: 'GET', path: '/api/asyncapi.json', tag: 'operations', summary: 'AsyncAPI 3 of every socket event of /chat and /sso', auth: 'none', reply: { status: [ 200 ], contentType: 'application/json', description: 'the document (no envelope)' } },

    // auth and account (§7)
    { method: 'POST', path: '/api/signup', tag: 'auth', summary: 'Create an account and sign in', auth: 'none', body: auth.signupBody, reply: created(wire.AuthResult), errors: [ ErrorCode.DUPLICATE_VALUE ], limited: true },
    { method: 'POST', path: '/api/login', tag: 'auth', summary: 'Sign in with username, e-mail or id and password (starts a session)', auth: 'none', body: auth.loginBody, reply: ok(wire.AuthResult), errors: [ ErrorCode.CODE_VALID_FAILED ], limited: true },
    { method: 'POST', path: '/api/validate', tag: 'auth', summary: 'Check an access token (in the body or the Authorization header)', auth: 'none', body: auth.validateBody, reply: ok(z.object({ user: wire.Me })), errors: [ ErrorCode.AUTH_FAILED ] },
    { method: 'POST', path: '/api/token/refresh', tag: 'auth', summary: 'New tokens for a refresh token (rotated; a reused one revokes the session)', auth: 'none', body: auth.refreshBody, reply: ok(wire.Session), errors: [ ErrorCode.AUTH_FAILED ], limited: true },
    { method: 'POST', path: '/api/logout', tag: 'auth', summary: 'End this session: its tokens stop working, its sockets are dropped', auth: 'user', reply: ok(nothing) },
    { method: 'GET', path: '/api/password/question', tag: 'auth', summary: 'A user\'s security question', auth: 'none', query: auth.questionQuery, reply: ok(z.object({ question: z.string() })), errors: [ ErrorCode.USER_NOT_EXIST, ErrorCode.FORBIDDEN ] },
    { method: 'POST', path: '/api/password/reset', tag: 'auth', summary: 'Set a new password with the security answer', auth: 'none', body: auth.resetBody, reply: ok(nothing), errors: [ ErrorCode.CODE_VALID_FAILED, ErrorCode.USER_NOT_EXIST ], limited: true },

    // conversations and messages (§7, §8)
    { method: 'GET', path: '/api/conversations', tag: 'messages', summary: 'My conversations (as recent_conversation)', auth: 'user', reply: ok(z.array(wire.Conversation)) },
    { method: 'PATCH', path: '/api/conversations/:timelineId', tag: 'messages', summary: 'My pinned / muted / archived setting of a conversation; my other devices get conversation_update', auth: 'user',
      params: timelineParam, query: features.settingsQuery, body: features.settings, reply: ok(wire.Conversation), errors: [ ErrorCode.FORBIDDEN, ErrorCode.NOT_FOUND ] },
    { method: 'GET', path: '/api/messages', tag: 'messages', summary: 'History of a conversation (as history_message): `before`/`limit`, or `page`', auth: 'user', query: message.historyQuery, reply: ok(wire.HistoryReply), errors: [ ErrorCode.FORBIDDEN ] },
    { method: 'GET', path: '/api/messages/pinned', tag: 'messages', summary: 'Pinned messages of a conversation, newest pin first', auth: 'user', query: features.pinnedQuery, reply: ok(z.array(wire.WireMessage)), errors: [ ErrorCode.FORBIDDEN ] },
    { method: 'GET', path: '/api/messages/search', tag: 'messages', summary: 'Search the text messages I can see', auth: 'user', query: features.searchQuery, reply: ok(wire.SearchResult), errors: [ ErrorCode.FORBIDDEN ] },
    { method: 'DELETE', path: '/api/messages/:id', tag: 'messages', summary: 'Hide a message for me only', auth: 'user', params: messageParam, reply: ok(nothing), errors: [ ErrorCode.NOT_FOUND ] },

    // users and presence (§7)
    { method: 'GET', path: '/api/users/me', tag: 'users', summary: 'My account', auth: 'user', reply: ok(wire.Me) },
    { method: 'PATCH', path: '/api/users/me', tag: 'users', summary: 'Change my account (e-mail and security question need the current password)', auth: 'user', body: social.updateMeBody, reply: ok(wire.Me), errors: [ ErrorCode.CODE_VALID_FAILED, ErrorCode.DUPLICATE_VALUE ], limited: true },
    { method: 'PUT', path: '/api/users/me/presence', tag: 'users', summary: 'Set my presence; friends get `presence`', auth: 'user', body: social.presenceBody, reply: ok(z.object({ presence: z.string() })) },
    { method: 'GET', path: '/api/users', tag: 'users', summary: 'Find users by username or nickname prefix', auth: 'user', query: social.searchQuery, reply: ok(z.array(wire.PublicUser)) },
    { method: 'GET', path: '/api/users/:id', tag: 'users', summary: 'A user\'s public profile', auth: 'user', params: social.idParam, reply: ok(wire.PublicUser), errors: [ ErrorCode.USER_NOT_EXIST ] },

    // friends and blocks (§7)
    { method: 'POST', path: '/api/friends/requests', tag: 'friends', summary: 'Ask a user to be friends; they get f_notice request', auth: 'user', body: social.friendRequestBody, reply: created(wire.FriendRequest),
      errors: [ ErrorCode.USER_NOT_EXIST, ErrorCode.DUPLICATE_VALUE, ErrorCode.CHAT_FAILED ], limited: true },
    { method: 'GET', path: '/api/friends/requests', tag: 'friends', summary: 'Pending requests, incoming and outgoing', auth: 'user', reply: ok(wire.FriendRequests) },
    { method: 'POST', path: '/api/friends/requests/:userId/accept', tag: 'friends', summary: 'Accept a request; the requester gets f_notice agree', auth: 'user', params: social.userIdParam, body: social.answerRequestBody, reply: ok(wire.Friend), errors: [ ErrorCode.NOT_FOUND ] },
    { method: 'POST', path: '/api/friends/requests/:userId/refuse', tag: 'friends', summary: 'Refuse a request; the requester gets f_notice refuse', auth: 'user', params: social.userIdParam, body: social.answerRequestBody, reply: ok(nothing), errors: [ ErrorCode.NOT_FOUND ] },
    { method: 'GET', path: '/api/friends', tag: 'friends', summary: 'My friends', auth: 'user', reply: ok(z.array(wire.Friend)) },
    { method: 'PATCH', path: '/api/friends/:id', tag: 'friends', summary: 'A friend\'s group and alias', auth: 'user', params: social.idParam, body: social.updateFriendBody, reply: ok(wire.Friend), errors: [ ErrorCode.NOT_FOUND ] },
    { method: 'DELETE', path: '/api/friends/:id', tag: 'friends', summary: 'Stop being friends; they get f_notice removed', auth: 'user', params: social.idParam, reply: ok(nothing), errors: [ ErrorCode.NOT_FOUND ] },
    { method: 'GET', path: '/api/blocks', tag: 'friends', summary: 'Users I blocked', auth: 'user', reply: ok(z.array(wire.Blocked)) },
    { method: 'POST', path: '/api/blocks/:id', tag: 'friends', summary: 'Block a user', auth: 'user', params: social.idParam, reply: created(nothing), errors: [ ErrorCode.USER_NOT_EXIST ] },
    { method: 'DELETE', path: '/api/blocks/:id', tag: 'friends', summary: 'Unblock a user', auth: 'user', params: social.idParam, reply: ok(nothing) },

    // rooms (§7)
    { method: 'POST', path: '/api/rooms', tag: 'rooms', summary: 'Create a room (names are unique, case-insensitively)', auth: 'user', body: social.createRoomBody, reply: created(wire.Room),
      errors: [ ErrorCode.DUPLICATE_VALUE, ErrorCode.USER_NOT_EXIST, ErrorCode.CHAT_FAILED ], limited: true },
    { method: 'GET', path: '/api/rooms', tag: 'rooms', summary: 'Public rooms, or mine with `mine=1`, with their online members, paged', auth: 'user', query: social.listRoomsQuery, reply: ok(wire.RoomPage) },
    { method: 'GET', path: '/api/rooms/:id', tag: 'rooms', summary: 'A room with its members split online / offline (private rooms: members only)', auth: 'user', params: social.idParam, reply: ok(wire.RoomDetails), errors: [ ErrorCode.USER_NOT_EXIST, ErrorCode.FORBIDDEN ] },
    { method: 'PATCH', path: '/api/rooms/:id', tag: 'rooms', summary: 'Change a room (owner only); members get g_notice', auth: 'user', params: social.idParam, body: social.updateRoomBody, reply: ok(wire.Room),
      errors: [ ErrorCode.USER_NOT_EXIST, ErrorCode.FORBIDDEN, ErrorCode.DUPLICATE_VALUE ] },
    { method: 'DELETE', path: '/api/rooms/:id', tag: 'rooms', summary: 'Dissolve a room (owner only)', auth: 'user', params: social.idParam, reply: ok(nothing), errors: [ ErrorCode.USER_NOT_EXIST, ErrorCode.FORBIDDEN ] },
    { method: 'POST', path: '/api/rooms/:id/join', tag: 'rooms', summary: 'Join a public room', auth: 'user', params: social.idParam, reply: ok(wire.Room), errors: [ ErrorCode.USER_NOT_EXIST, ErrorCode.FORBIDDEN, ErrorCode.CHAT_FAILED ] },
    { method: 'POST', path: '/api/rooms/:id/leave', tag: 'rooms', summary: 'Leave a room', auth: 'user', params: social.idParam, reply: ok(nothing), errors: [ ErrorCode.USER_NOT_EXIST, ErrorCode.FORBIDDEN ] },
    { method: 'POST', path: '/api/rooms/:id/members', tag: 'rooms', summary: 'Add or remove members (owner; members may add to private rooms)', auth: 'user', params: social.idParam, body: social.roomMembersBody, reply: ok(wire.RoomMembersResult),
      errors: [ ErrorCode.USER_NOT_EXIST, ErrorCode.FORBIDDEN, ErrorCode.CHAT_FAILED ] },

    // QR-code login (§5)
    { method: 'GET', path: '/api/qrcode', tag: 'qr login', summary: 'A QR-code login id for this PC, and the secret it opens /sso with', auth: 'none', reply: ok(wire.QrCode), limited: true },
    { method: 'GET', path: '/api/qrcode/:deviceId', tag: 'qr login', summary: 'Which computer asks to be signed in (for the phone\'s confirm page)', auth: 'user', params: deviceIdParam, reply: ok(wire.QrAsk), errors: [ ErrorCode.CODE_EXPIRED ] },
    { method: 'POST', path: '/api/qrcode/scan', tag: 'qr login', summary: 'The phone scanned the code; the PC gets qrlogin scanned', auth: 'user', body: deviceIdBody, reply: ok(nothing), errors: [ ErrorCode.CODE_EXPIRED ] },
    { method: 'POST', path: '/api/qrcode/confirm', tag: 'qr login', summary: 'The phone confirms; the PC gets qrlogin confirmed with its tokens', auth: 'user', body: deviceIdBody, reply: ok(nothing), errors: [ ErrorCode.CODE_EXPIRED ] },

    // files (§7)
    { method: 'POST', path: '/api/upload', tag: 'files', summary: 'Upload a file (type checked by content); my sockets get `upload`', auth: 'user', body: { multipart: 'file' }, reply: created(wire.Upload), errors: [ ErrorCode.FILE_ERROR ] },
    { method: 'GET', path: '/files/:id', tag: 'files', summary: 'A file\'s bytes (ranges, ETag)', auth: 'none', params: fileParam,
      reply: { status: [ 200, 206, 304 ], contentType: 'application/octet-stream', description: 'the bytes, with the stored type, nosniff and a safe Content-Disposition' }, errors: [ ErrorCode.NOT_FOUND ] },

    // admin (§7, §9)
    { method: 'POST', path: '/api/admin/notices', tag: 'admin', summary: 'A system notice (sys_notice) to one user or everyone', auth: 'admin', body: noticeBody, reply: created(wire.SystemNotice), errors: [ ErrorCode.USER_NOT_EXIST ] },
    { method: 'GET', path: '/api/admin/stats', tag: 'admin', summary: 'Online users, sockets per worker, messages in the last minute', auth: 'admin',
      reply: ok(z.object({ onlineUsers: z.number().int(), socketsPerWorker: z.record(z.string(), z.number().int()), messagesLastMinute: z.number().int() })) },
    { method: 'POST', path: '/api/admin/webhooks', tag: 'admin', summary: 'Register a webhook (the secret is shown in this reply only)', auth: 'admin', body: integration.webhookBody, reply: created(webhookView.extend({ secret: z.string() })) },
    { method: 'GET', path: '/api/admin/webhooks', tag: 'admin', summary: 'Registered webhooks', auth: 'admin', reply: ok(z.array(webhookView)) },
    { method: 'DELETE', path: '/api/admin/webhooks/:id', tag: 'admin', summary: 'Remove a webhook', auth: 'admin', params: social.idParam, reply: ok(nothing), errors: [ ErrorCode.NOT_FOUND ] },
    { method: 'GET', path: '/api/admin/webhooks/:id/deliveries', tag: 'admin', summary: 'A webhook\'s recent delivery attempts, newest first', auth: 'admin', params: social.idParam, reply: ok(z.array(deliveryAttempt)), errors: [ ErrorCode.NOT_FOUND ] },

    // the server API (§9)
    { method: 'PUT', path: '/api/server/users/:externalId', tag: 'server API', summary: 'Create or update a user by the team\'s own id (201 created, 200 updated)', auth: 'apiKey', scope: 'users',
      params: integration.externalIdParam, body: integration.upsertUserBody, reply: ok(wire.Me, [ 200, 201 ]), errors: [ ErrorCode.DUPLICATE_VALUE ], limited: true },
    { method: 'POST', path: '/api/server/users/:externalId/sessions', tag: 'server API', summary: 'Sign a user in, no password needed', auth: 'apiKey', scope: 'users',
      params: integration.externalIdParam, body: integration.serverSessionBody, reply: created(wire.Session), errors: [ ErrorCode.USER_NOT_EXIST ], limited: true },
    { method: 'POST', path: '/api/server/messages', tag: 'server API', summary: 'Send as a user, through the same rules as `to` (the same fp: the same message, 200)', auth: 'apiKey', scope: 'messages',
      body: integration.serverMessage(limits), reply: ok(wire.WireMessage, [ 201, 200 ]), errors: [ ErrorCode.USER_NOT_EXIST, ErrorCode.CHAT_FAILED ], limited: true },
    { method: 'POST', path: '/api/server/notices', tag: 'server API', summary: 'A system notice to one user or everyone', auth: 'apiKey', scope: 'notices', body: noticeBody, reply: created(wire.SystemNotice), errors: [ ErrorCode.USER_NOT_EXIST ], limited: true },
    { method: 'POST', path: '/api/server/rooms', tag: 'server API', summary: 'Create a room with an owner', auth: 'apiKey', scope: 'rooms', body: integration.serverRoomBody, reply: created(wire.Room),
      errors: [ ErrorCode.DUPLICATE_VALUE, ErrorCode.USER_NOT_EXIST, ErrorCode.CHAT_FAILED ], limited: true },
    { method: 'POST', path: '/api/server/rooms/:id/members', tag: 'server API', summary: 'Add or remove a room\'s members', auth: 'apiKey', scope: 'rooms', params: social.idParam, body: social.roomMembersBody, reply: ok(wire.RoomMembersResult),
      errors: [ ErrorCode.USER_NOT_EXIST, ErrorCode.CHAT_FAILED ], limited: true },

    // Web Push (§9)
    { method: 'GET', path: '/api/push/vapid-key', tag: 'push', summary: 'The server\'s VAPID public key (base64url)', auth: 'none', reply: ok(z.object({ publicKey: z.string() })) },
    { method: 'POST', path: '/api/push/subscriptions', tag: 'push', summary: 'Keep a browser\'s push subscription (https endpoints on public addresses only)', auth: 'user', body: integration.pushSubscriptionBody, reply: created(z.object({ endpoint: z.string() })), limited: true },
    { method: 'DELETE', path: '/api/push/subscriptions', tag: 'push', summary: 'Drop a push subscription', auth: 'user', body: integration.pushUnsubscribeBody, reply: ok(nothing) },
  ];
}
