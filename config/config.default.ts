import path from 'node:path';
import type { EggAppConfig, EggAppInfo, PowerPartial } from 'egg';
import type { IoConfig } from '../lib/plugin/io/config/config.default';

/**
 * Every limit and window of the server lives here. Environment variables (documented in the
 * README) override the deployment-specific ones; config.{local,unittest,prod}.ts adjust per env.
 */
export const DEFAULT_JWT_SECRET = 'im-server-dev-secret-change-me';

const env = process.env;
/** The database name of a MongoDB connection string (`mongodb://a,b/im?replicaSet=rs0` → `im`); the driver's default is `test`. */
export const databaseName = (url: string) => /^mongodb(?:\+srv)?:\/\/[^/]*\/([^?]+)/.exec(url)?.[1] || 'test';

const int = (value: string | undefined, fallback: number) => {
  const n = Number.parseInt(value ?? '', 10);
  return Number.isFinite(n) ? n : fallback;
};

export interface Limit {
  points: number;
  /** seconds */
  duration: number;
}

/** `accountFailures` → `RATE_LIMIT_ACCOUNT_FAILURES` */
export const rateLimitVariable = (name: string) => `RATE_LIMIT_${name.replace(/[A-Z]/g, c => `_${c}`).toUpperCase()}`;

/**
 * The given limits, each overridden by its environment variable `RATE_LIMIT_<NAME>` when set:
 * `<points>` or `<points>/<seconds>` (e.g. `RATE_LIMIT_SIGNUP=100/3600`). Every env's config goes
 * through this, so the variable wins over the defaults here and the relaxed ones of config.local.
 * A malformed value stops the start with the variable named.
 */
export function withEnvLimits<T extends Record<string, Limit>>(limits: T, source: NodeJS.ProcessEnv = env): T {
  const out: Record<string, Limit> = {};
  for (const [ name, limit ] of Object.entries(limits)) {
    const variable = rateLimitVariable(name);
    const raw = source[variable]?.trim();
    if (!raw) {
      out[name] = limit;
      continue;
    }
    const m = /^([1-9]\d{0,8})(?:\/([1-9]\d{0,8}))?$/.exec(raw);
    if (!m) throw new Error(`${variable}="${raw}": expected <points> or <points>/<seconds>, whole numbers ≥ 1 (e.g. 20/3600)`);
    out[name] = { points: Number(m[1]), duration: m[2] ? Number(m[2]) : limit.duration };
  }
  return out as T;
}

/**
 * CORS_ORIGIN as egg-cors takes it: `*`, one origin, or several (comma-separated: the request's
 * Origin is echoed when it is one of them). Undefined when unset.
 */
export function corsOrigin(value: string | undefined): string | ((ctx: { get(name: string): string }) => string) | undefined {
  const origins = (value ?? '').split(',').map(o => o.trim()).filter(Boolean);
  if (origins.length <= 1) return origins[0];
  return ctx => (origins.includes(ctx.get('origin')) ? ctx.get('origin') : '');
}

export type DevicePolicy = 'kick-same-device' | 'allow-all' | 'single';

/**
 * Egg's own settings (typed by Egg and its plugins) and ours (typed from the object below: the
 * type of `app.config` is this function's return type, generated into typings/config by
 * egg-ts-helper, so no setting is declared twice).
 */
export default (appInfo: EggAppInfo) => {
  const config = {} as PowerPartial<EggAppConfig>;

  config.keys = env.COOKIE_KEYS || `${appInfo.name}_cookie_keys`;

  config.cluster = { listen: { port: int(env.PORT, 7001), hostname: env.HOST || '0.0.0.0' } };

  // Behind n reverse proxies set TRUST_PROXY=n. Each proxy appends the address it saw to
  // X-Forwarded-For, so the client's address is the n-th entry from the right; everything left of
  // it was written by the client and is ignored (taking the leftmost let anyone pick their address).
  const proxies = Math.max(0, int(env.TRUST_PROXY, 0));
  config.proxy = proxies > 0;
  config.maxIpsCount = proxies;

  // errorHandler is put in front of Egg's core middleware (app.ts) so that it also catches
  // body-parser failures (malformed JSON, oversized bodies) and unmatched routes.
  // httpMetrics counts every REST request for /metrics (lib/metrics.ts)
  config.middleware = [ 'httpMetrics' ];

  // A bearer-token JSON API: no cookies, so no CSRF surface.
  config.security = { csrf: { enable: false }, xframe: { enable: true, value: 'DENY' } };
  config.cors = { origin: corsOrigin(env.CORS_ORIGIN) || '*', allowMethods: 'GET,HEAD,PUT,POST,DELETE,PATCH' };

  config.bodyParser = {
    jsonLimit: '100kb',
    formLimit: '100kb',
    textLimit: '100kb',
    strict: true,
    queryString: { arrayLimit: 50, depth: 2, parameterLimit: 100 },
  };

  const mongoUrl = env.MONGODB_URL || 'mongodb://127.0.0.1:27017/im';
  const redisPrefix = env.REDIS_PREFIX || databaseName(mongoUrl);

  config.mongoose = {
    client: {
      url: mongoUrl,
      // bounded waits when the database is slow or gone: no server for 10 s (start-up on a busy machine
      // needs that long), no reply on a socket for 20 s (FerretDB's slowest scans take seconds), no free
      // connection in the pool for 10 s → the operation fails (→ 50000) instead of hanging. Indexes are
      // built at start by app.ts (lib/indexes.ts: not every database reads them). The driver
      // reconnects by itself when the database is back. The suite counts each operation's database
      // commands (test/db-commands.ts), so tests monitor them; the suite compiles its TypeScript as it
      // loads the app (type-checked), which holds the event loop for seconds on a busy machine while the
      // driver connects, so its server selection waits longer. /metrics times commands (METRICS_TOKEN).
      options: { autoIndex: false, serverSelectionTimeoutMS: appInfo.env === 'unittest' ? 30000 : 10000, socketTimeoutMS: 20000, waitQueueTimeoutMS: 10000, heartbeatFrequencyMS: 5000, maxPoolSize: 20, monitorCommands: appInfo.env === 'unittest' || !!env.METRICS_TOKEN },
    },
  };

  // secret from JWT_SECRET; in production the app refuses to start with this default (app.ts)
  config.jwt = { secret: env.JWT_SECRET || DEFAULT_JWT_SECRET };

  // stream mode: uploads go straight to GridFS, never to memory or temporary files. Every file name
  // passes egg-multipart's extension check: the content decides (app/service/file.ts). The size limit
  // is set per request from config.upload.
  config.multipart = { mode: 'stream', whitelist: () => true, files: 1, fields: 5 };

  const own = {
    // Egg's not-found page is off: unmatched routes get the JSON envelope (app/middleware/error_handler.ts)
    notfound: { enable: false },

    // the web client's built assets (web/dist/assets): names carry a content hash, so they never change
    // (the admin CLI reads this file without an appInfo)
    static: {
      dirs: [
        { prefix: '/assets/', dir: path.join(appInfo.baseDir ?? '', 'web/dist/assets'), maxAge: 365 * 24 * 3600 },
        // the /docs page's libraries (scripts/build-docs.js): not content-hashed, so revalidated
        { prefix: '/docs/', dir: path.join(appInfo.baseDir ?? '', 'web/dist/docs'), maxAge: 0 },
      ],
    },

    redisUrl: env.REDIS_URL || '',
    /**
     * Every Redis key and Socket.IO channel of this deployment starts with it, so several deployments
     * can share one Redis (pub/sub ignores the db number of REDIS_URL). Default: the database name.
     */
    redisPrefix,

    io: {
      init: { path: '/ws', allowEIO3: true, maxHttpBufferSize: 1e6, serveClient: false, pingInterval: 25000, pingTimeout: 20000 },
      namespace: {
        '/chat': { connectionMiddleware: [ 'chatAuth' ], packetMiddleware: [ 'chatPacket' ] },
        '/sso': { connectionMiddleware: [ 'ssoAuth' ], packetMiddleware: [ 'ssoPacket' ] },
      },
      // `sharded`: Redis 7 sharded pub/sub (SPUBLISH), the way past one Redis (README, Production)
      redis: env.REDIS_URL ? { url: env.REDIS_URL, key: `${redisPrefix}#io`, sharded: env.REDIS_ADAPTER === 'sharded' } : null,
    } satisfies IoConfig,

    auth: {
      /** access token (JWT) lifetime, seconds */
      accessTokenTtl: int(env.ACCESS_TOKEN_TTL, 2 * 3600),
      /** refresh token / session lifetime, seconds */
      refreshTokenTtl: int(env.REFRESH_TOKEN_TTL, 30 * 24 * 3600),
      /** `kick-same-device` | `allow-all` | `single` */
      devicePolicy: (env.DEVICE_POLICY || 'kick-same-device') as DevicePolicy,
      /** argon2id cost; OWASP's minimum is m=19 MiB, t=2, p=1 */
      argon2: { memoryCost: 19456, timeCost: 2, parallelism: 1 },
      /** after rateLimit.accountFailures, the wait before an address's next attempt on the account, ms; doubles each time, up to the window */
      failureDelayMs: 1000,
    },

    // Where each applies and what it counts per: config/rate-limits.ts. Each is overridden by
    // RATE_LIMIT_<NAME> (see withEnvLimits); config.local relaxes the per-IP ones.
    rateLimit: withEnvLimits({
      /**
       * failed logins (or reset answers) per account in the window that cost nothing more; after them
       * each attempt from one address waits a doubling delay (auth.failureDelayMs) after its previous one
       */
      accountFailures: { points: 5, duration: 15 * 60 },
      /** failed logins (or reset answers) per client IP in the window before 429 */
      ipFailures: { points: 50, duration: 15 * 60 },
      /** signups per client IP */
      signup: { points: 20, duration: 60 * 60 },
      /** token refreshes per client IP */
      refresh: { points: 60, duration: 60 },
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
      /** `qrlogin` events per /sso socket */
      qrlogin: { points: 10, duration: 10 },
      /** new /chat and /sso sockets per client IP; over it the socket gets 20009 and is disconnected */
      connections: { points: 120, duration: 60 },
      /**
       * messages an ack or a read names that this worker does not know and must look up in the
       * store, per /chat socket; over it → 20009 (a client acks what it received, which is known)
       */
      messageLookups: { points: 2000, duration: 10 },
      /** server API requests per API key (PROTOCOL §9): a team's backend, so generous */
      serverApi: { points: 6000, duration: 60 },
      /** push subscriptions made per user */
      pushSubscribe: { points: 20, duration: 60 * 60 },
    }),

    /** Open sockets at once (app/io/middleware); one more is refused with 20009 and disconnected */
    sockets: {
      /** /chat sockets of one user, on all workers together */
      perUser: int(env.MAX_SOCKETS_PER_USER, 20),
      /** /chat and /sso sockets from one client address, per worker (sticky sessions keep an address on one worker) */
      perAddress: int(env.MAX_SOCKETS_PER_ADDRESS, 500),
    },

    /** Work in progress per /chat socket and per process (app/io/middleware/chat_packet.ts) */
    chatPending: {
      /** at this many events of one socket in progress, its websocket is not read until half are done; at 4× more are refused with 20009 */
      perSocket: int(env.CHAT_MAX_PENDING_PER_SOCKET, 64),
      /** events of all /chat sockets of this process in progress; beyond it more are refused with 20009 */
      perProcess: int(env.CHAT_MAX_PENDING_PER_PROCESS, 5000),
    },

    message: {
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
      /**
       * every socket event is answered within this, ms: one not done by then (the server or the database
       * is busy) gets 20009 with retryAfterMs; a `to` retried with its fp finds it if it was stored after
       * all. Acks, reads and typing have no deadline: they are answered once their write is stored.
       */
      replyTimeoutMs: 10 * 1000,
      /** the recent-messages cache in a worker's memory (without Redis), bytes */
      recentCacheBytes: int(env.MESSAGE_RECENT_CACHE_BYTES, 64 * 1024 * 1024),
      // §8 message features
      /** a sender may edit their text message this long after it was stored, seconds; 0 = no limit */
      editWindowS: int(env.MESSAGE_EDIT_WINDOW_S, 86400),
      /** distinct emoji on one message, and reactions of one user on one message (20003 past them) */
      reactionsMaxEmoji: 20,
      reactionsPerUser: 10,
      /** users named per emoji on the wire (the count stays exact) */
      reactionUsersShown: 20,
      /** a reply quotes this many characters of a text message */
      excerptChars: 100,
      /** pinned messages per conversation (20003 past it) */
      pinsMax: 100,
    },

    /** the change feed (`sync_changes`, app/message/changes.ts) */
    changes: {
      /** changes per `sync_changes` page */
      pageSize: 200,
      /** change records are kept this long; an older cursor gets 20002 (the client reloads history) */
      keepDays: int(env.CHANGES_KEEP_DAYS, 30),
      /**
       * a change being written longer than this is taken for abandoned by readers (its writer died);
       * a writer that was merely slow publishes its change again under a new id, ms
       */
      inflightMs: 10 * 1000,
    },

    /** message search (`GET /api/messages/search`, app/message/search.ts) */
    search: {
      /** results per page unless `limit` says otherwise (at most 50) */
      defaultLimit: 20,
      /** only this many first characters of a message are indexed (the index is built on the send path) */
      indexedChars: 4096,
      /** distinct index terms kept per message */
      maxTerms: 512,
      /**
       * the store's time for one search query, ms: past it the search is answered 503 / 50000 (on
       * FerretDB a search is a scan of every message; this keeps one from holding the database)
       */
      maxTimeMs: 10 * 1000,
    },

    presence: {
      /** rooms with more members give their members no presence pushes (PROTOCOL §4) */
      roomLimit: 200,
      /** how often each worker re-stamps its sockets in the Redis registry, ms */
      heartbeatMs: 30 * 1000,
      /** a socket not re-stamped for this long is taken for dead (its worker crashed), ms */
      staleMs: 90 * 1000,
    },

    room: {
      /** most members a room may have */
      maxMembers: 2000,
      /** most rooms per page of GET /api/rooms */
      pageLimit: 50,
    },

    friends: {
      /** the group a new friend is put in */
      defaultGroup: 'Friends',
    },

    qrcode: {
      /** lifetime of a QR-code login id, seconds (PROTOCOL §5) */
      ttl: 120,
    },

    /** Webhooks (PROTOCOL §9; app/integration/webhooks.ts) */
    webhooks: {
      /** a delivery not answered 2xx within this is a failure, ms */
      timeoutMs: 5000,
      /** failed deliveries are retried for this long after the event, seconds */
      retryForS: int(env.WEBHOOK_RETRY_FOR_S, 24 * 3600),
      /** the first retry after this, then doubling, ms */
      retryBaseMs: 10 * 1000,
      /** the longest wait between two attempts, ms */
      retryMaxDelayMs: 60 * 60 * 1000,
      /** the `before.message` callback's deadline, ms */
      beforeTimeoutMs: int(env.WEBHOOK_BEFORE_TIMEOUT_MS, 1000),
      /** what a `before.message` without a usable answer in time means: `allow` or `reject` */
      beforeOnTimeout: (env.WEBHOOK_BEFORE_ON_TIMEOUT === 'reject' ? 'reject' : 'allow') as 'allow' | 'reject',
      /**
       * events gathered this long into one queued job per webhook, ms: a job costs the database a
       * few writes whatever its size, so longer means cheaper per event and later deliveries
       */
      lingerMs: int(env.WEBHOOK_LINGER_MS, 200),
      /** most events in one queued job */
      jobMaxEvents: 500,
      /** `1`: webhook URLs may not be loopback or private addresses either (link-local never) */
      refusePrivate: env.WEBHOOK_REFUSE_PRIVATE === '1',
      /** delivery attempts are listed for this long, days */
      keepLogDays: 7,
      /** most webhooks registered at once */
      max: 20,
      /** how often each worker re-reads the registered webhooks (the CLI changes them behind the app's back), ms */
      reloadMs: 5000,
    },

    /** Web Push to users with no /chat socket (PROTOCOL §9; app/integration/push.ts) */
    push: {
      /** VAPID keys (base64url); unset: made at first start and kept in the database */
      vapidPublicKey: env.VAPID_PUBLIC_KEY || '',
      vapidPrivateKey: env.VAPID_PRIVATE_KEY || '',
      /** who runs this server, for the push services (`mailto:` or `https:`) */
      subject: env.VAPID_SUBJECT || 'mailto:webpush@im-server.invalid',
      /** one push per conversation and user per this many seconds */
      collapseS: int(env.PUSH_COLLAPSE_S, 10),
      /** the first 100 characters of a text message in the push (encrypted end to end to the browser) */
      preview: env.PUSH_PREVIEW !== '0',
      /** `1` (tests): endpoints may resolve to loopback or private addresses; https is still required */
      allowPrivate: env.PUSH_ALLOW_PRIVATE === '1',
      /** extra CA certificates (PEM file) trusted for push services: a private push service, or a test's */
      caFile: env.PUSH_CA_FILE || '',
      /** how long a push service keeps a push for an offline browser, seconds */
      ttlS: 24 * 3600,
      /** failed pushes are retried for this long, seconds */
      retryForS: 3600,
      timeoutMs: 5000,
      /** most subscriptions per user (a new one beyond it replaces the oldest) */
      maxPerUser: 10,
    },

    /** Background deliveries (lib/job-queue.ts): webhooks and pushes */
    queue: {
      /** every worker works the queue (tests drive it by hand) */
      autoStart: true,
      /** how often each worker looks for due jobs when it has not just queued one itself, ms */
      pollMs: 1000,
      /** jobs one worker delivers at once */
      maxInFlight: 16,
      /** items of one job delivered at once */
      concurrency: 8,
    },

    /** `GET /metrics` (Prometheus), off unless METRICS_TOKEN is set */
    metrics: {
      token: env.METRICS_TOKEN || '',
    },

    upload: {
      /** largest accepted file, bytes */
      maxBytes: int(env.UPLOAD_MAX_BYTES, 10 * 1024 * 1024),
      /** accepted types, by the extension file-type names from the content; `txt` = UTF-8 text without NUL bytes */
      allow: [ 'png', 'jpg', 'gif', 'webp', 'mp3', 'm4a', 'wav', 'ogg', 'opus', 'pdf', 'txt' ],
    },
  };

  // Egg's part is typed by Egg; the app's type comes from `own` alone (spreading `config` into the
  // inferred type would make the config's type depend on itself)
  return { ...config as object, ...own };
};
