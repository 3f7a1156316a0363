/**
 * Which rate limits apply where, and what each counts per: every HTTP route and socket event that is
 * limited is in this one table. The values (points per window) are config.rateLimit's, each with its
 * RATE_LIMIT_<NAME> override (config.default.ts, README). Consumed in one place per transport: the
 * `rateLimit` route middleware (app/middleware/rate_limit.ts) for HTTP, the /chat and /sso socket
 * middleware for connections and events (lib/rate-limits.ts does the counting). It lives in config/
 * because it is policy, read with the values, not code of its own.
 *
 * Keys: `ip` the client's address (TRUST_PROXY decides how it is read), `user` the signed-in user,
 * `socket` one socket (counted in its own process), `account` the account whose password or security
 * answer is checked: the signed-in user's own, else the one the body names, by its id whatever
 * identifier named it (or by the identifier when no such account exists, so the answer does not tell),
 * `apiKey` the server API key of the request.
 */
import type { LimitUse } from '../lib/rate-limits';

export type LimitName =
  | 'accountFailures' | 'ipFailures' | 'signup' | 'refresh' | 'qrcode' | 'friendRequest' | 'roomCreate'
  | 'connections' | 'socketEvents' | 'typing' | 'qrlogin' | 'messageLookups' | 'serverApi' | 'pushSubscribe';

type Uses = ReadonlyArray<LimitUse<LimitName>>;

/** A password or answer check: failures per address and per account, consumed before the check. */
const secretCheck = (scope: string): Uses => [
  { limit: 'ipFailures', by: 'ip', failuresOnly: true },
  { limit: 'accountFailures', by: 'account', scope, failuresOnly: true, progressive: true },
];

export const rateLimits: {
  /** `<METHOD> <route path as in app/router.ts>` → limits */
  http: Record<string, Uses>;
  /** namespace → `connect` (each new socket), `*` (every event) or an event name → limits */
  sockets: Record<string, Record<string, Uses>>;
  /**
   * budgets the message engine spends inside an event, by the amount of work the event names (not
   * one point per event): its use → limit
   */
  engine: Record<string, LimitUse<LimitName>>;
} = {
  http: {
    'POST /api/signup': [ { limit: 'signup', by: 'ip' } ],
    'POST /api/login': secretCheck('login'),
    'POST /api/password/reset': secretCheck('reset'),
    // the current password, needed to change e-mail or security question, is the login's secret
    'PATCH /api/users/me': secretCheck('login').map(use => ({ ...use, whenBodyHas: 'currentPassword' })),
    'POST /api/token/refresh': [ { limit: 'refresh', by: 'ip' } ],
    'GET /api/qrcode': [ { limit: 'qrcode', by: 'ip' } ],
    'POST /api/friends/requests': [ { limit: 'friendRequest', by: 'user' } ],
    'POST /api/rooms': [ { limit: 'roomCreate', by: 'user' } ],
    'POST /api/push/subscriptions': [ { limit: 'pushSubscribe', by: 'user' } ],
    // the server API (PROTOCOL §9): per API key
    ...Object.fromEntries([
      'PUT /api/server/users/:externalId', 'POST /api/server/users/:externalId/sessions', 'POST /api/server/messages',
      'POST /api/server/notices', 'POST /api/server/rooms', 'POST /api/server/rooms/:id/members',
    ].map(route => [ route, [ { limit: 'serverApi', by: 'apiKey' } ] as Uses ])),
  },
  sockets: {
    '/chat': {
      connect: [ { limit: 'connections', by: 'ip' } ],
      '*': [ { limit: 'socketEvents', by: 'socket', store: 'memory' } ],
      to_typing: [ { limit: 'typing', by: 'socket', store: 'memory' } ],
      // a mention makes work for others (§8): it counts once more against the socket's event rate
      to: [ { limit: 'socketEvents', by: 'socket', store: 'memory', whenBodyHas: 'mentions' } ],
    },
    '/sso': {
      connect: [ { limit: 'connections', by: 'ip' } ],
      qrlogin: [ { limit: 'qrlogin', by: 'socket', store: 'memory' } ],
    },
  },
  engine: {
    // messages an ack or a read names that this worker must look up in the store, per socket
    lookups: { limit: 'messageLookups', by: 'socket', store: 'memory' },
  },
};
