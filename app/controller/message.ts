import { Controller } from 'egg';
import * as schema from '../../lib/schemas/message';
import { objectId } from '../../lib/schemas/common';

/** The REST face of conversations and history (PROTOCOL §7 "Messages"). */
export default class MessageController extends Controller {
  async conversations() {
    this.ctx.ok(await this.service.conversation.recent(this.ctx.auth.userId));
  }

  async history() {
    const { ctx } = this;
    const input = ctx.validate(schema.historyQuery, ctx.query);
    ctx.ok(await this.app.messages.history(ctx.auth.userId, input));
  }

  async hide() {
    const { ctx } = this;
    const id = ctx.validate(objectId, ctx.params.id);
    await this.app.messages.hide(ctx.auth.userId, id);
    ctx.ok(null);
  }
}
