import { Controller } from 'egg';
import { webhookBody } from '../../lib/schemas/integration';
import { idParam } from '../../lib/schemas/social';

/** `/api/admin/webhooks` (PROTOCOL §9), for admins. */
export default class WebhookController extends Controller {
  async create() {
    const { ctx } = this;
    ctx.ok(await ctx.service.webhook.create(ctx.validate(webhookBody, ctx.request.body)), 201);
  }

  async list() {
    this.ctx.ok(await this.ctx.service.webhook.list());
  }

  async destroy() {
    const { ctx } = this;
    const { id } = ctx.validate(idParam, ctx.params);
    await ctx.service.webhook.remove(id);
    ctx.ok(null);
  }

  async deliveries() {
    const { ctx } = this;
    const { id } = ctx.validate(idParam, ctx.params);
    ctx.ok(await ctx.service.webhook.deliveries(id));
  }
}
