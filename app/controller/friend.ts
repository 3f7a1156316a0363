import { Controller } from 'egg';
import * as schema from '../../lib/schemas/social';

export default class FriendController extends Controller {
  async request() {
    const { ctx } = this;
    const { to, message } = ctx.validate(schema.friendRequestBody, ctx.request.body);
    ctx.ok(await ctx.service.friend.request(ctx.auth.userId, to, message), 201);
  }

  async requests() {
    const { ctx } = this;
    ctx.ok(await ctx.service.friend.requests(ctx.auth.userId));
  }

  async accept() {
    const { ctx } = this;
    const { userId } = ctx.validate(schema.userIdParam, ctx.params);
    const { message } = ctx.validate(schema.answerRequestBody, ctx.request.body ?? {});
    ctx.ok(await ctx.service.friend.accept(ctx.auth.userId, userId, message));
  }

  async refuse() {
    const { ctx } = this;
    const { userId } = ctx.validate(schema.userIdParam, ctx.params);
    const { message } = ctx.validate(schema.answerRequestBody, ctx.request.body ?? {});
    await ctx.service.friend.refuse(ctx.auth.userId, userId, message);
    ctx.ok(null);
  }

  async list() {
    const { ctx } = this;
    ctx.ok(await ctx.service.friend.list(ctx.auth.userId));
  }

  async update() {
    const { ctx } = this;
    const { id } = ctx.validate(schema.idParam, ctx.params);
    const patch = ctx.validate(schema.updateFriendBody, ctx.request.body);
    ctx.ok(await ctx.service.friend.update(ctx.auth.userId, id, patch));
  }

  async remove() {
    const { ctx } = this;
    const { id } = ctx.validate(schema.idParam, ctx.params);
    await ctx.service.friend.remove(ctx.auth.userId, id);
    ctx.ok(null);
  }
}
