import { Controller } from 'egg';
import { noticeBody } from '../../lib/schemas/admin';

export default class AdminController extends Controller {
  async notice() {
    const { ctx } = this;
    const input = ctx.validate(noticeBody, ctx.request.body);
    ctx.ok(await this.app.messages.notify(input), 201);
  }

  async stats() {
    const { ctx } = this;
    ctx.ok(await ctx.service.admin.stats());
  }
}
