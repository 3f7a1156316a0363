import { Controller } from 'egg';
import * as schema from '../../lib/schemas/social';

export default class UserController extends Controller {
  async me() {
    const { ctx } = this;
    ctx.ok(await ctx.service.user.get(ctx.auth.userId));
  }

  async updateMe() {
    const { ctx } = this;
    const input = ctx.validate(schema.updateMeBody, ctx.request.body);
    ctx.ok(await ctx.service.user.updateMe(ctx.auth.userId, input));
  }

  async show() {
    const { ctx } = this;
    const { id } = ctx.validate(schema.idParam, ctx.params);
    ctx.ok(await ctx.service.user.publicProfile(id));
  }

  async search() {
    const { ctx } = this;
    const { q, limit } = ctx.validate(schema.searchQuery, ctx.query);
    ctx.ok(await ctx.service.user.search(q, limit));
  }

  async presence() {
    const { ctx } = this;
    const { presence } = ctx.validate(schema.presenceBody, ctx.request.body);
    ctx.ok(await ctx.service.presence.setPresence(ctx.auth.userId, presence));
  }
}
