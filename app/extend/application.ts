import type { Application, IModel } from 'egg';
import { Stores, type PresenceRegistry, type QrLogins } from '../../lib/stores';
import { RateLimits } from '../../lib/rate-limits';
import { rateLimits } from '../../config/rate-limits';
import { PresenceCache } from '../../lib/presence-cache';
import { Outbox } from '../io/outbox';
import { MessageEngine } from '../message/engine';
import { readPresence, readProfiles } from '../service/presence';

/**
 * The per-process singletons, made on first use: each is built by its owner's constructor; these
 * accessors only hold them. `app.stores` decides Redis or memory for all of them.
 */
const STORES = Symbol('stores');
const OUTBOX = Symbol('outbox');
const MESSAGES = Symbol('messages');
const PRESENCE_CACHE = Symbol('presenceCache');
const PRESENCE_REGISTRY = Symbol('presenceRegistry');
const LIMITS = Symbol('rateLimits');
const QR_LOGINS = Symbol('qrLogins');

interface Singletons {
  [STORES]?: Stores;
  [OUTBOX]?: Outbox;
  [MESSAGES]?: MessageEngine;
  [PRESENCE_CACHE]?: PresenceCache;
  [PRESENCE_REGISTRY]?: PresenceRegistry;
  [LIMITS]?: RateLimits;
  [QR_LOGINS]?: QrLogins;
}

/** What this file adds to `app` (declared, not inferred: the accessors use each other through `app`). */
export interface AppSingletons {
  readonly stores: Stores;
  readonly outbox: Outbox;
  readonly messages: MessageEngine;
  readonly presenceCache: PresenceCache;
  readonly presenceRegistry: PresenceRegistry;
  readonly rateLimits: RateLimits;
  readonly qrLogins: QrLogins;
}

type App = Application & AppSingletons & Singletons;
const held = (app: unknown) => app as App;
/** egg-mongoose types `app.model` loosely; the models are the ones app/model declares (typings/app/model) */
const models = (app: Application) => app.model as unknown as IModel;

const extension: AppSingletons & ThisType<Application> = {
  /** Where shared state lives (Redis when configured, else this process's memory), and its key prefix. */
  get stores(): Stores {
    const self = held(this);
    // app.ts decides Redis or none in didLoad; a store made before that would silently be memory
    if (self.redis === undefined) throw new Error('app.stores used before the Redis connection was decided (app.ts didLoad)');
    return self[STORES] ??= new Stores(self.redis, self.config.redisPrefix);
  },

  /** Everything sent to sockets (app/io/outbox.ts). */
  get outbox(): Outbox {
    const self = held(this);
    return self[OUTBOX] ??= new Outbox(self.io, {
      replyTimeoutMs: self.config.message.replyTimeoutMs,
      logError: (msg, err) => self.logger.error('%s: %s', msg, (err as Error)?.stack || err),
    });
  },

  /** The message engine (app/message/engine.ts): sending, delivery and read state, pulls, history. */
  get messages(): MessageEngine {
    const self = held(this);
    return self[MESSAGES] ??= new MessageEngine({
      models: () => models(self),
      seqRegistry: self.stores.seqRegistry(),
      recent: self.stores.recentMessages({ maxBytes: self.config.message.recentCacheBytes }),
      presence: () => self.presenceRegistry,
      outbox: self.outbox,
      config: self.config.message,
      spendLookups: async (key, n) => { await self.rateLimits.take(rateLimits.engine.lookups, key, '', n); },
      features: { changes: self.config.changes, search: self.config.search, roomLimit: () => self.config.presence.roomLimit },
      changeRegistry: self.stores.changeRegistry({ inflightMs: self.config.changes.inflightMs }),
      logError: (msg, err) => self.logger.error('%s: %s', msg, (err as Error)?.stack || err || ''),
    });
  },

  /** Users' contacts, rooms and invisibility, cached per worker, read coalesced (lib/presence-cache.ts). */
  get presenceCache(): PresenceCache {
    const self = held(this);
    return self[PRESENCE_CACHE] ??= new PresenceCache({
      presence: ids => readPresence(models(self), ids),
      profiles: ids => readProfiles(models(self), ids, self.config.presence.roomLimit),
    });
  },

  /** Sockets per user: in Redis when configured, so every worker agrees. */
  get presenceRegistry(): PresenceRegistry {
    const self = held(this);
    return self[PRESENCE_REGISTRY] ??= self.stores.presenceRegistry({ staleMs: self.config.presence.staleMs });
  },

  /** Pending QR-code logins (lib/stores/qr-logins.ts): in Redis when configured. */
  get qrLogins(): QrLogins {
    const self = held(this);
    return self[QR_LOGINS] ??= self.stores.qrLogins();
  },

  /** The rate limits of config/rate-limits.ts, counted in app.stores (lib/rate-limits.ts). */
  get rateLimits(): RateLimits {
    const self = held(this);
    return self[LIMITS] ??= new RateLimits({
      stores: self.stores,
      limits: () => self.config.rateLimit,
      delayMs: () => self.config.auth.failureDelayMs,
    });
  },
};

export default extension;
