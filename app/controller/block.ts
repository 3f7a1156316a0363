import { Controller } from 'egg';
import * as schema from '../../lib/schemas/social';

export default class BlockController extends Controller {
  async create() {
    const { ctx } = this;
    const { id } = ctx.validate(schema.idParam, ctx.params);
    await ctx.service.block.block(ctx.auth.userId, id);
    ctx.ok(null, 201);
  }

  async destroy() {
    const { ctx } = this;
    const { id } = ctx.validate(schema.idParam, ctx.params);
    await ctx.service.block.unblock(ctx.auth.userId, id);
    ctx.ok(null);
  }

  async list() {
    const { ctx } = this;
    ctx.ok(await ctx.service.block.list(ctx.auth.userId));
  }
}
