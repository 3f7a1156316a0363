import path from 'node:path';
import type { EggAppConfig, EggAppInfo, PowerPartial } from 'egg';

/**
 * Every limit and window of the server lives here. Environment variables (documented in the
 * README) override the deployment-specific ones; config.{local,unittest,prod}.ts adjust per env.
 */
export const DEFAULT_JWT_SECRET = 'im-server-dev-secret-change-me';

const env = process.env;
const int = (value: string | undefined, fallback: number) => {
  const n = Number.parseInt(value ?? '', 10);
  return Number.isFinite(n) ? n : fallback;
};

export default (appInfo: EggAppInfo) => {
  const config = {} as PowerPartial<EggAppConfig>;

  config.keys = env.COOKIE_KEYS || `${appInfo.name}_cookie_keys`;

  config.cluster = { listen: { port: int(env.PORT, 7001), hostname: env.HOST || '0.0.0.0' } };

  // errorHandler is put in front of Egg's core middleware (app.ts) so that it also catches
  // body-parser failures (malformed JSON, oversized bodies) and unmatched routes.
  config.middleware = [];

  // A bearer-token JSON API: no cookies, so no CSRF surface.
  config.security = { csrf: { enable: false }, xframe: { enable: true, value: 'DENY' } };
  config.cors = { origin: env.CORS_ORIGIN || '*', allowMethods: 'GET,HEAD,PUT,POST,DELETE,PATCH' };
  config.notfound = { enable: false } as any;

  // the web client's built assets (web/dist/assets): names carry a content hash, so they never change
  // (the admin CLI reads this file without an appInfo)
  config.static = {
    dirs: [ { prefix: '/assets/', dir: path.join(appInfo.baseDir ?? '', 'web/dist/assets'), maxAge: 365 * 24 * 3600 } ],
  } as any;

  config.bodyParser = {
    jsonLimit: '100kb',
    formLimit: '100kb',
    textLimit: '100kb',
    strict: true,
    queryString: { arrayLimit: 50, depth: 2, parameterLimit: 100 },
  } as any;

  config.mongoose = {
    client: {
      url: env.MONGODB_URL || 'mongodb://127.0.0.1:27017/im',
      options: { serverSelectionTimeoutMS: 10000, maxPoolSize: 20 },
    },
  } as any;

  // secret from JWT_SECRET; in production the app refuses to start with this default (app.ts)
  config.jwt = { secret: env.JWT_SECRET || DEFAULT_JWT_SECRET, enable: false } as any;

  config.redisUrl = env.REDIS_URL || '';

  config.io = {
    init: { path: '/ws', allowEIO3: true, maxHttpBufferSize: 1e6, serveClient: false, pingInterval: 25000, pingTimeout: 20000 },
    namespace: {
      '/chat': { connectionMiddleware: [ 'chatAuth' ], packetMiddleware: [ 'chatPacket' ] },
      '/sso': { connectionMiddleware: [ 'ssoAuth' ], packetMiddleware: [] },
    },
    redis: env.REDIS_URL ? { url: env.REDIS_URL } : null,
  };

  config.auth = {
    /** access token (JWT) lifetime, seconds */
    accessTokenTtl: int(env.ACCESS_TOKEN_TTL, 2 * 3600),
    /** refresh token / session lifetime, seconds */
    refreshTokenTtl: int(env.REFRESH_TOKEN_TTL, 30 * 24 * 3600),
    /** `kick-same-device` | `allow-all` | `single` */
    devicePolicy: (env.DEVICE_POLICY || 'kick-same-device') as 'kick-same-device' | 'allow-all' | 'single',
    /** argon2id cost; OWASP's minimum is m=19 MiB, t=2, p=1 */
    argon2: { memoryCost: 19456, timeCost: 2, parallelism: 1 },
  };

  config.rateLimit = {
    /** failed logins (or reset answers) per account in the window before 429 */
    accountFailures: { points: 5, duration: 15 * 60 },
    /** failed logins (or reset answers) per client IP in the window before 429 */
    ipFailures: { points: 50, duration: 15 * 60 },
    /** signups per client IP */
    signup: { points: 20, duration: 60 * 60 },
    /** events per /chat socket (kept in the socket's own process); over it → 20009 */
    socketEvents: { points: 100, duration: 1 },
    /** `to_typing` per /chat socket */
    typing: { points: 5, duration: 1 },
    /** friend requests sent per user */
    friendRequest: { points: 30, duration: 60 * 60 },
    /** rooms created per user */
    roomCreate: { points: 10, duration: 60 * 60 },
    /** QR-code login ids handed out per client IP (each is a pending login held in the store) */
    qrcode: { points: 30, duration: 60 },
  };

  config.message = {
    /** `content` limit, bytes of UTF-8 (PROTOCOL §1) */
    maxContentBytes: int(env.MESSAGE_MAX_CONTENT_BYTES, 64 * 1024),
    /** `extra` limit, bytes of JSON */
    maxExtraBytes: 4 * 1024,
    /** a sender may recall their message this long after it was stored, seconds */
    recallWindow: 120,
    /** `offline_message` page */
    offlinePageSize: 200,
    /** `history_message` page mode */
    historyPageSize: 20,
    /** messages older than this are removed by the retention job; 0 keeps them forever */
    retentionDays: int(env.MESSAGE_RETENTION_DAYS, 0),
    /** most `to`s stored by one group commit (one insert round-trip) */
    commitBatchMax: 1000,
  };

  config.presence = {
    /** rooms with more members give their members no presence pushes (PROTOCOL §4) */
    roomLimit: 200,
    /** how often each worker re-stamps its sockets in the Redis registry, ms */
    heartbeatMs: 30 * 1000,
    /** a socket not re-stamped for this long is taken for dead (its worker crashed), ms */
    staleMs: 90 * 1000,
    /** Redis key prefix of the registry (a hash per user) */
    redisPrefix: 'im:presence',
  };

  config.room = {
    /** most members a room may have */
    maxMembers: 2000,
    /** most rooms per page of GET /api/rooms */
    pageLimit: 50,
  };

  config.friends = {
    /** the group a new friend is put in */
    defaultGroup: 'Friends',
  };

  config.qrcode = {
    /** lifetime of a QR-code login id, seconds (PROTOCOL §5) */
    ttl: 120,
  };

  config.upload = {
    /** largest accepted file, bytes */
    maxBytes: int(env.UPLOAD_MAX_BYTES, 10 * 1024 * 1024),
    /** accepted types, by the extension file-type names from the content; `txt` = UTF-8 text without NUL bytes */
    allow: [ 'png', 'jpg', 'gif', 'webp', 'mp3', 'm4a', 'wav', 'ogg', 'opus', 'pdf', 'txt' ],
  };

  // stream mode: uploads go straight to GridFS, never to memory or temporary files. Every file name
  // passes egg-multipart's extension check: the content decides (app/service/file.ts). The size limit
  // is set per request from config.upload.
  config.multipart = { mode: 'stream', whitelist: () => true, files: 1, fields: 5 } as any;

  return config;
};
