import { Service } from 'egg';
import { AppError, ErrorCode } from '../../lib/errors';
import { isObjectId } from '../../lib/ids';
import { newWebhookSecret } from '../../lib/api-keys';
import { checkHost, RefusedDestination } from '../../lib/outbound-http';
import type { WebhookInput } from '../../lib/schemas/integration';
import type { WebhookDoc } from '../model/webhook';
import { attemptResults, type AttemptDoc } from '../../lib/job-queue';

/** most attempts `deliveries` lists */
const DELIVERIES_MAX = 100;

/**
 * Webhook registrations (PROTOCOL §9) made through the admin API; the admin CLI writes the same
 * documents. Every change is re-read by every worker (app/integration/changes.ts).
 */
export default class WebhookService extends Service {
  /**
   * Registers an endpoint. Its host must resolve, and not to a link-local or other reserved address
   * (nor to a loopback or private one with WEBHOOK_REFUSE_PRIVATE=1): 400 / 20002. The secret is
   * shown in this reply only.
   */
  async create(input: WebhookInput) {
    const { Webhook } = this.ctx.model;
    if (await Webhook.countDocuments({}) >= this.config.webhooks.max) throw new AppError(ErrorCode.FORBIDDEN, `at most ${this.config.webhooks.max} webhooks`);
    try {
      await checkHost(new URL(input.url).hostname, { refusePrivate: this.config.webhooks.refusePrivate });
    } catch (err) {
      throw new AppError(ErrorCode.MISS_PARAMS, `url: ${err instanceof RefusedDestination ? err.message : 'its host does not resolve'}`);
    }
    const hook = await Webhook.create({ url: input.url, events: input.events, secret: input.secret ?? newWebhookSecret(), createdAt: new Date() });
    await this.changed();
    return { ...view(hook.toObject()), secret: hook.secret };
  }

  /** The registered webhooks, without their secrets. */
  async list() {
    const hooks = await this.ctx.model.Webhook.find({}).sort({ createdAt: 1 }).lean<WebhookDoc[]>();
    return hooks.map(view);
  }

  async remove(id: string) {
    const { deletedCount } = isObjectId(id) ? await this.ctx.model.Webhook.deleteOne({ _id: id }) : { deletedCount: 0 };
    if (!deletedCount) throw new AppError(ErrorCode.NOT_FOUND, 'no such webhook');
    await this.changed();
  }

  /** The webhook's recent delivery attempts, newest first, each with its events' results. */
  async deliveries(id: string) {
    if (!isObjectId(id) || !await this.ctx.model.Webhook.exists({ _id: id })) throw new AppError(ErrorCode.NOT_FOUND, 'no such webhook');
    const attempts = await this.ctx.model.DeliveryAttempt.find({ target: id }).sort({ startedAt: -1 }).limit(DELIVERIES_MAX).lean<AttemptDoc[]>();
    return attempts.map(a => ({
      attempt: a.n,
      job: String(a.job),
      startedAt: a.startedAt,
      finishedAt: a.finishedAt ?? null,
      outcome: a.outcome ?? 'running',
      events: attemptResults(a).map(r => ({ id: r.ref, type: r.label, result: r.outcome, status: r.status ?? null, ms: r.ms ?? null, error: r.error ?? null })),
    }));
  }

  private async changed() {
    await this.app.webhooks.reload();
    this.app.integrationChanged({ webhooks: true });
  }
}

const view = (h: WebhookDoc) => ({ _id: String(h._id), url: h.url, events: h.events, createdAt: h.createdAt });
