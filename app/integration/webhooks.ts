/**
 * Webhooks (PROTOCOL §9): which endpoints want which events (cached per process), events gathered
 * into queued jobs (lib/job-queue.ts: one insert per flush, not per message, and nothing on the
 * send path waits for it), signed deliveries, and the synchronous `before.message` callback.
 *
 * The registrations are read at start, again after every change made through the API (on every
 * worker: `app.ts` relays the change), and every `webhooks.reloadMs` (the admin CLI writes them
 * behind the app's back). With none registered for an event, emitting it costs a map look-up.
 */
import { Types, type Model } from 'mongoose';
import { AppError, ErrorCode } from '../../lib/errors';
import { send, type AddressPolicy } from '../../lib/outbound-http';
import { signedHeaders } from '../../lib/webhook-signature';
import type { ClaimedJob, ItemResult, JobHandler, NewJob } from '../../lib/job-queue';
import type { Metrics } from '../../lib/metrics';
import { beforeMessageReply } from '../../lib/schemas/integration';
import type { SendMessageInput } from '../../lib/schemas/message';
import type { WebhookDoc, WebhookEvent } from '../model/webhook';

export type WebhookSettings = {
  timeoutMs: number;
  retryForS: number;
  beforeTimeoutMs: number;
  beforeOnTimeout: 'allow' | 'reject';
  lingerMs: number;
  jobMaxEvents: number;
  refusePrivate: boolean;
  reloadMs: number;
};

/** Events queued for delivery (all but the synchronous `before.message`). */
export type QueuedEvent = Exclude<WebhookEvent, 'before.message'>;

/** One event as it is delivered: the body of the POST. */
export interface WebhookEventBody {
  id: string;
  type: string;
  /** ms since the epoch, like every time on the wire */
  createdAt: number;
  data: unknown;
}

/** Events waiting to be queued, at most (then the oldest are dropped and counted): a database outage must not fill the memory */
const BUFFER_MAX = 10_000;

export class Webhooks {
  private byEvent = new Map<string, WebhookDoc[]>();
  private byId = new Map<string, WebhookDoc>();
  private loading: Promise<void> | null = null;
  private reloadTimer: NodeJS.Timeout | null = null;
  private buffer: WebhookEventBody[] = [];
  private flushTimer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> | null = null;

  constructor(private readonly deps: {
    Webhook: () => Model<WebhookDoc>;
    /** stores jobs in the database queue (lib/job-queue.ts) */
    enqueue: (jobs: NewJob[]) => Promise<void>;
    settings: () => WebhookSettings;
    /** events of one job delivered at once */
    concurrency: () => number;
    maxContentBytes: () => number;
    metrics: Metrics;
    logError: (msg: string, err: unknown) => void;
  }) {}

  /** Reads the registrations, then again every `reloadMs` (0: only when told). */
  async start() {
    await this.reload();
    const every = this.deps.settings().reloadMs;
    if (every > 0) {
      this.reloadTimer = setInterval(() => void this.reload().catch(err => this.deps.logError('[webhooks] reload failed', err)), every);
      this.reloadTimer.unref?.();
    }
  }

  /** Queues what is buffered and stops reloading. */
  async stop() {
    if (this.reloadTimer) clearInterval(this.reloadTimer);
    await this.flush();
  }

  /** Reads the registered webhooks again (after a change). */
  reload(): Promise<void> {
    this.loading ??= (async () => {
      try {
        const all = await this.deps.Webhook().find({}).lean<WebhookDoc[]>();
        const byEvent = new Map<string, WebhookDoc[]>();
        for (const hook of all) {
          for (const event of hook.events) {
            const list = byEvent.get(event);
            if (list) list.push(hook); else byEvent.set(event, [ hook ]);
          }
        }
        this.byEvent = byEvent;
        this.byId = new Map(all.map(h => [ String(h._id), h ]));
      } finally {
        this.loading = null;
      }
    })();
    return this.loading;
  }

  /** Whether any webhook wants `event`. */
  wants(event: WebhookEvent) {
    return this.byEvent.has(event);
  }

  /**
   * An event happened: when a webhook wants it, it is queued with others within `lingerMs` (one
   * insert for all of them). Returns at once; never throws.
   */
  emit(event: QueuedEvent, data: unknown) {
    if (!this.byEvent.has(event)) return;
    if (this.buffer.length >= BUFFER_MAX) {
      this.buffer.shift();
      this.deps.metrics.webhookDeliveries.inc({ event, result: 'dropped' });
    }
    this.buffer.push({ id: new Types.ObjectId().toHexString(), type: event, createdAt: Date.now(), data });
    this.flushTimer ??= setTimeout(() => {
      this.flushTimer = null;
      void this.flush();
    }, this.deps.settings().lingerMs);
  }

  /** Events buffered, not yet queued (metrics). */
  get buffered() {
    return this.buffer.length;
  }

  /** Queues the buffered events: one job per webhook and at most `jobMaxEvents` events. */
  flush(): Promise<void> {
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = null;
    if (this.flushing) return this.flushing.then(() => this.flush());
    if (!this.buffer.length) return Promise.resolve();
    const events = this.buffer;
    this.buffer = [];
    this.flushing = (async () => {
      const max = this.deps.settings().jobMaxEvents;
      const jobs: Array<{ kind: 'webhook'; target: string; items: Array<{ ref: string } & WebhookEventBody> }> = [];
      const perHook = new Map<string, WebhookEventBody[]>();
      for (const event of events) {
        for (const hook of this.byEvent.get(event.type) ?? []) {
          const id = String(hook._id);
          const list = perHook.get(id);
          if (list) list.push(event); else perHook.set(id, [ event ]);
        }
      }
      for (const [ target, list ] of perHook) {
        for (let i = 0; i < list.length; i += max) jobs.push({ kind: 'webhook', target, items: list.slice(i, i + max).map(e => ({ ref: e.id, ...e })) });
      }
      try {
        await this.deps.enqueue(jobs);
      } catch (err) {
        // kept for the next flush (the database may be back by then), within the buffer's bound
        this.deps.logError('[webhooks] events not queued', err);
        this.buffer = [ ...events, ...this.buffer ].slice(-BUFFER_MAX);
        this.flushTimer ??= setTimeout(() => {
          this.flushTimer = null;
          void this.flush();
        }, 1000);
      }
    })().finally(() => {
      this.flushing = null;
    });
    return this.flushing;
  }

  /** The queue's handler for webhook jobs: each event POSTed, signed, to the webhook. */
  handler(): JobHandler {
    const deps = this.deps;
    // read at each use: settings may change while the app runs (tests do)
    return {
      get concurrency() { return deps.concurrency(); },
      get itemTimeoutMs() { return deps.settings().timeoutMs; },
      get retryForMs() { return deps.settings().retryForS * 1000; },
      deliver: job => this.deliver(job),
    };
  }

  private async deliver(job: ClaimedJob): Promise<ItemResult[]> {
    const hook = this.byId.get(job.target) ?? await this.deps.Webhook().findById(job.target).lean<WebhookDoc>();
    const items = job.items as unknown as Array<{ ref: string } & WebhookEventBody>;
    // the webhook was removed: its events have nobody to go to
    if (!hook) return items.map(i => ({ ref: i.ref, label: i.type, outcome: 'drop', error: 'webhook removed' }));
    const results: ItemResult[] = [];
    const queue = [ ...items ];
    const worker = async () => {
      for (let item = queue.shift(); item; item = queue.shift()) {
        const { ref: _ref, ...event } = item;
        const result = await this.post(hook, event);
        results.push(result);
        this.deps.metrics.webhookDeliveries.inc({ event: event.type, result: result.outcome });
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.deps.concurrency(), items.length) }, worker));
    return results;
  }

  /** One signed POST: 2xx within the deadline is success, anything else is retried. */
  private async post(hook: WebhookDoc, event: WebhookEventBody): Promise<ItemResult> {
    const body = JSON.stringify(event);
    try {
      const reply = await send({
        url: hook.url, headers: signedHeaders(hook.secret, event.id, body), body,
        timeoutMs: this.deps.settings().timeoutMs, policy: this.policy(), protocols: [ 'http:', 'https:' ], maxReplyBytes: 1024,
      });
      const ok = reply.status >= 200 && reply.status < 300;
      return { ref: event.id, label: event.type, outcome: ok ? 'ok' : 'retry', status: reply.status, ms: reply.ms, ...(ok ? {} : { error: `HTTP ${reply.status}` }) };
    } catch (err) {
      return { ref: event.id, label: event.type, outcome: 'retry', error: String((err as Error)?.message ?? err).slice(0, 300) };
    }
  }

  private policy(): AddressPolicy {
    return { refusePrivate: this.deps.settings().refusePrivate };
  }

  /**
   * The `before.message` callback, when one is registered (else null, at no cost): each registered
   * hook is asked in turn within `beforeTimeoutMs` in all; `reject` refuses the send (20003 with the
   * reason), `replace` changes the content for the hooks after it and for the store. No usable
   * answer in time (a timeout, a non-2xx status, a reply that is not one of the three) → the
   * `beforeOnTimeout` policy.
   */
  beforeSend(from: string, input: SendMessageInput): Promise<SendMessageInput> | null {
    const hooks = this.byEvent.get('before.message');
    if (!hooks) return null;
    return this.askBefore(hooks, from, input);
  }

  private async askBefore(hooks: WebhookDoc[], from: string, input: SendMessageInput): Promise<SendMessageInput> {
    const settings = this.deps.settings();
    const deadline = Date.now() + settings.beforeTimeoutMs;
    let current = input;
    for (const hook of hooks) {
      const left = deadline - Date.now();
      const event: WebhookEventBody = { id: new Types.ObjectId().toHexString(), type: 'before.message', createdAt: Date.now(), data: { message: { ...current, from } } };
      const verdict = left > 0 ? await this.ask(hook, event, left) : null;
      const result = verdict?.action ?? 'timeout';
      this.deps.metrics.webhookDeliveries.inc({ event: 'before.message', result });
      if (!verdict) {
        if (settings.beforeOnTimeout === 'reject') throw new AppError(ErrorCode.CHAT_FAILED, 'message refused: the moderation hook did not answer');
        continue;
      }
      if (verdict.action === 'reject') throw new AppError(ErrorCode.CHAT_FAILED, verdict.reason || 'message refused');
      if (verdict.action === 'replace') current = { ...current, content: verdict.content };
    }
    return current;
  }

  /** One `before.message` call: the parsed verdict, or null when there is no usable answer in time. */
  private async ask(hook: WebhookDoc, event: WebhookEventBody, timeoutMs: number) {
    const body = JSON.stringify(event);
    try {
      const reply = await send({
        url: hook.url, headers: signedHeaders(hook.secret, event.id, body), body,
        timeoutMs, policy: this.policy(), protocols: [ 'http:', 'https:' ], maxReplyBytes: this.deps.maxContentBytes() * 2 + 1024,
      });
      if (reply.status < 200 || reply.status >= 300) return null;
      const parsed = beforeMessageReply.safeParse(JSON.parse(reply.body));
      if (!parsed.success) return null;
      const verdict = parsed.data;
      // a replacement is held to the limit a client's content is
      if (verdict.action === 'replace' && Buffer.byteLength(verdict.content) > this.deps.maxContentBytes()) return null;
      return verdict;
    } catch {
      return null;
    }
  }
}
