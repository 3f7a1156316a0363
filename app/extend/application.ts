import path from 'node:path';
import type { Application, IModel } from 'egg';
import { Stores, type PresenceRegistry, type QrLogins } from '../../lib/stores';
import { RateLimits } from '../../lib/rate-limits';
import { rateLimits } from '../../config/rate-limits';
import { PresenceCache } from '../../lib/presence-cache';
import { Outbox } from '../io/outbox';
import { MessageEngine } from '../message/engine';
import { readPresence, readProfiles } from '../service/presence';
import { Metrics } from '../../lib/metrics';
import { JobQueue } from '../../lib/job-queue';
import { BuiltFiles } from '../../lib/built-files';
import { Webhooks } from '../integration/webhooks';
import { Push } from '../integration/push';
import { messageHooks } from '../integration/message-hooks';
import { INTEGRATION_CHANGED_EVENT, type IntegrationChange } from '../integration/changes';

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
const METRICS = Symbol('metrics');
const JOBS = Symbol('jobs');
const WEBHOOKS = Symbol('webhooks');
const PUSH = Symbol('push');
const BUILT = Symbol('builtFiles');

interface Singletons {
  [STORES]?: Stores;
  [OUTBOX]?: Outbox;
  [MESSAGES]?: MessageEngine;
  [PRESENCE_CACHE]?: PresenceCache;
  [PRESENCE_REGISTRY]?: PresenceRegistry;
  [LIMITS]?: RateLimits;
  [QR_LOGINS]?: QrLogins;
  [METRICS]?: Metrics;
  [JOBS]?: JobQueue;
  [WEBHOOKS]?: Webhooks;
  [PUSH]?: Push;
  [BUILT]?: BuiltFiles;
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
  readonly metrics: Metrics;
  readonly jobs: JobQueue;
  readonly webhooks: Webhooks;
  readonly push: Push;
  readonly builtFiles: BuiltFiles;
  /** tells every worker that webhooks or push subscriptions changed (app/integration/changes.ts) */
  integrationChanged(change: IntegrationChange): void;
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
      replyTimeoutMs: () => self.config.message.replyTimeoutMs,
      metrics: self.metrics,
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
      shared: !!self.config.redisUrl,
      hooks: messageHooks({ webhooks: () => self.webhooks, push: () => self.push, metrics: () => self.metrics }),
    });
  },

  /** Prometheus metrics of this process (lib/metrics.ts). */
  get metrics(): Metrics {
    return held(this)[METRICS] ??= new Metrics();
  },

  /** The database queue of webhook and push deliveries (lib/job-queue.ts), worked by every process. */
  get jobs(): JobQueue {
    const self = held(this);
    return self[JOBS] ??= new JobQueue({
      jobs: () => models(self).OutboundJob,
      bodies: () => models(self).OutboundJobBody,
      attempts: () => models(self).DeliveryAttempt,
      handlers: {
        webhook: self.webhooks.handler(),
        push: self.push.handler(),
      },
      backoff: () => ({ baseMs: self.config.webhooks.retryBaseMs, maxMs: self.config.webhooks.retryMaxDelayMs }),
      maxInFlight: () => self.config.queue.maxInFlight,
      pollMs: () => self.config.queue.pollMs,
      onResults: (kind, results) => {
        if (kind === 'push') return; // counted per send by the push handler
        for (const r of results) if (r.outcome === 'drop') self.metrics.webhookDeliveries.inc({ event: r.label ?? '', result: 'dropped' });
      },
      logError: (msg, err) => self.logger.error('%s: %s', msg, (err as Error)?.stack || err || ''),
    });
  },

  /** Webhook registrations, events and deliveries, and the `before.message` callback. */
  get webhooks(): Webhooks {
    const self = held(this);
    return self[WEBHOOKS] ??= new Webhooks({
      Webhook: () => models(self).Webhook,
      // through the accessor: the queue's handlers are this object's, so the queue is made after it
      enqueue: jobs => self.jobs.enqueue(jobs),
      settings: () => self.config.webhooks,
      concurrency: () => self.config.queue.concurrency,
      maxContentBytes: () => self.config.message.maxContentBytes,
      metrics: self.metrics,
      logError: (msg, err) => self.logger.error('%s: %s', msg, (err as Error)?.stack || err || ''),
    });
  },

  /** Web Push: VAPID keys, subscriptions, pushes to users with no socket. */
  get push(): Push {
    const self = held(this);
    return self[PUSH] ??= new Push({
      models: () => models(self),
      enqueue: jobs => self.jobs.enqueue(jobs),
      concurrency: () => self.config.queue.concurrency,
      presence: () => self.presenceRegistry,
      gate: self.stores.collapseGate('push'),
      settings: () => self.config.push,
      metrics: self.metrics,
      changed: pushUsers => self.integrationChanged({ pushUsers }),
      logError: (msg, err) => self.logger.error('%s: %s', msg, (err as Error)?.stack || err || ''),
    });
  },

  integrationChanged(change) {
    const self = held(this);
    if (self.stores.shared) self.outbox.chat.serverSideEmit(INTEGRATION_CHANGED_EVENT, change);
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

  /** The built web client's files (web/dist), for the routes that serve them (lib/built-files.ts). */
  get builtFiles(): BuiltFiles {
    const self = held(this);
    return self[BUILT] ??= new BuiltFiles(path.join(self.baseDir, 'web/dist'), self.config.env === 'prod');
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
