import type { Application, IBoot } from 'egg';
import { Redis } from 'ioredis';
import { answerSocketCounts } from './lib/worker-stats';
import { PRESENCE_STALE_EVENT } from './lib/presence-cache';
import { DbProbe } from './lib/db-probe';
import { buildIndexes, filtersUseIndexes } from './lib/indexes';
import { SNIFFABLE } from './lib/sniff';
import { KICK_EVENT, type Kick } from './app/service/presence';
import { INTEGRATION_CHANGED_EVENT, type IntegrationChange } from './app/integration/changes';
import { METRICS_REPLY, METRICS_REQUEST } from './app/controller/metrics';

export default class AppBoot implements IBoot {
  constructor(private readonly app: Application) {}

  configWillLoad() {
    const { app } = this;
    // in front of Egg's core middleware, so body-parser errors and 404s get the envelope too
    app.config.coreMiddleware.unshift('errorHandler');

    // a name the content check cannot recognise would refuse that type silently
    const unknownTypes = app.config.upload.allow.filter(ext => ext !== 'txt' && !(SNIFFABLE as readonly string[]).includes(ext));
    if (unknownTypes.length) throw new Error(`config.upload.allow: ${unknownTypes.join(', ')} cannot be recognised; known: ${SNIFFABLE.join(', ')}, txt`);
    const workers = Number((app as unknown as { options: { workers?: number } }).options.workers) || 1;
    if (!app.config.redisUrl && workers > 1) {
      throw new Error(`REDIS_URL is required to run ${workers} workers (presence, rooms and rate limits must be shared); ` +
        'start with --workers=1 or set REDIS_URL');
    }
  }

  async didLoad() {
    const { app } = this;
    app.dbProbe = new DbProbe((app.config.mongoose as any).client.url);
    if (app.config.redisUrl) {
      app.redis = new Redis(app.config.redisUrl, { lazyConnect: true, maxRetriesPerRequest: 2 });
      app.redis.on('error', err => app.logger.error('[redis] %s', err.message));
      await app.redis.connect();
      app.metrics.watchRedis(app.redis);
    } else {
      app.redis = null;
    }
  }

  async willReady() {
    // unique indexes are part of correctness (usernames, message fingerprints): build them before serving
    const { app } = this;
    const leftOut = await buildIndexes(Object.values(app.model as Record<string, any>), await filtersUseIndexes(app.mongoose.connection));
    if (leftOut) app.logger.info('[db] the database reads no index but `_id` (FerretDB on SQLite): %d indexes that are not unique left out', leftOut);
  }

  async didReady() {
    // acks a stopped process stored and did not fold: without other processes this one must hold them before serving
    const adopted = await this.app.messages.adoptDeliveryBatches(true);
    if (adopted) this.app.logger.warn('[delivery] folding %d delivery batches left by an earlier run', adopted);
    // GET /api/admin/stats on any worker asks every worker for its socket count
    const nsp = this.app.outbox.chat;
    answerSocketCounts(nsp);
    // device-policy kicks from other nodes (app/service/presence.ts)
    nsp.on(KICK_EVENT, (kick: Kick) => this.app.createAnonymousContext().service.presence.kickOlder(kick));
    // another worker changed friends, blocks, rooms or a presence setting
    nsp.on(PRESENCE_STALE_EVENT, (stale: { profiles?: string[]; presence?: string[] }) => this.app.presenceCache.drop(stale));
    await this.startIntegration();
  }

  /** Webhooks, Web Push, their delivery queue and the metrics that watch the rest (PROTOCOL §9). */
  private async startIntegration() {
    const { app } = this;
    const { metrics } = app;
    if (app.config.mongoose.client?.options?.monitorCommands) metrics.watchDatabase(app.mongoose.connection.getClient());
    metrics.gauge('im_sockets', 'Connected sockets, by namespace', [ 'namespace' ], () =>
      [ '/chat', '/sso' ].map(ns => [ { namespace: ns }, app.io.of(ns).sockets.size ]));
    metrics.gauge('im_queue_jobs', 'Jobs waiting in the delivery queue (webhooks and pushes), by kind; counted in the database at each scrape', [ 'kind' ],
      () => Promise.all([ 'webhook', 'push' ].map(async kind => [ { kind }, await app.model.OutboundJob.countDocuments({ kind }) ] as [ Record<string, string>, number ])));
    metrics.watchPending('queue_jobs_in_flight', () => app.jobs.busy, () => app.config.queue.maxInFlight);
    metrics.watchPending('webhook_events_buffered', () => app.webhooks.buffered);
    // another worker changed webhooks or push subscriptions
    app.outbox.chat.on(INTEGRATION_CHANGED_EVENT, (change: IntegrationChange) => {
      if (change.webhooks) app.webhooks.reload().catch(err => app.logger.error(err));
      if (change.pushUsers) app.push.forget(change.pushUsers);
    });
    // a scrape on another worker of this machine asks for this one's metrics (app/controller/metrics.ts)
    app.messenger.on(METRICS_REQUEST, (req: { id: string; pid: number }) => {
      app.metrics.withDefaults().registry.getMetricsAsJSON()
        .then(json => app.messenger.sendTo(req.pid, METRICS_REPLY, { id: req.id, metrics: json }), err => app.logger.error(err));
    });
    await Promise.all([ app.webhooks.start(), app.push.start() ]);
    if (app.config.queue.autoStart) app.jobs.start();
  }

  async beforeClose() {
    // delivery state and conversation pointers still pending (they trail the acks by a moment)
    await this.app.messages.flush().catch(err => this.app.logger.error(err));
    // events still gathering are queued; deliveries in flight finish (each within its deadline)
    await this.app.webhooks.stop().catch(err => this.app.logger.error(err));
    await this.app.jobs.stop().catch(err => this.app.logger.error(err));
    await this.app.redis?.quit().catch(() => undefined);
    await this.app.dbProbe?.close();
  }
}

