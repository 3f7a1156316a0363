import { Controller } from 'egg';
import { pushSubscriptionBody, pushUnsubscribeBody } from '../../lib/schemas/integration';

/** Web Push (PROTOCOL §9): the server's VAPID key, and a signed-in user's browser subscriptions. */
export default class PushController extends Controller {
  async vapidKey() {
    this.ctx.ok({ publicKey: this.app.push.publicKey });
  }

  async subscribe() {
    const { ctx } = this;
    const input = ctx.validate(pushSubscriptionBody, ctx.request.body);
    await this.app.push.subscribe(ctx.auth.userId, input);
    ctx.ok({ endpoint: input.endpoint }, 201);
  }

  async unsubscribe() {
    const { ctx } = this;
    const { endpoint } = ctx.validate(pushUnsubscribeBody, ctx.request.body);
    await this.app.push.unsubscribe(ctx.auth.userId, endpoint);
    ctx.ok(null);
  }
}
