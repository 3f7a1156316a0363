import { Controller } from 'egg';
import * as schema from '../../lib/schemas/social';

export default class RoomController extends Controller {
  async create() {
    const { ctx } = this;
    const input = ctx.validate(schema.createRoomBody, ctx.request.body);
    ctx.ok(await ctx.service.room.create(ctx.auth.userId, input), 201);
  }

  async list() {
    const { ctx } = this;
    const query = ctx.validate(schema.listRoomsQuery, ctx.query);
    ctx.ok(await ctx.service.room.list(ctx.auth.userId, query));
  }

  async show() {
    const { ctx } = this;
    const { id } = ctx.validate(schema.idParam, ctx.params);
    ctx.ok(await ctx.service.room.details(ctx.auth.userId, id));
  }

  async join() {
    const { ctx } = this;
    const { id } = ctx.validate(schema.idParam, ctx.params);
    ctx.ok(await ctx.service.room.join(ctx.auth.userId, id));
  }

  async leave() {
    const { ctx } = this;
    const { id } = ctx.validate(schema.idParam, ctx.params);
    await ctx.service.room.leave(ctx.auth.userId, id);
    ctx.ok(null);
  }

  async update() {
    const { ctx } = this;
    const { id } = ctx.validate(schema.idParam, ctx.params);
    const input = ctx.validate(schema.updateRoomBody, ctx.request.body);
    ctx.ok(await ctx.service.room.update(ctx.auth.userId, id, input));
  }

  async members() {
    const { ctx } = this;
    const { id } = ctx.validate(schema.idParam, ctx.params);
    const input = ctx.validate(schema.roomMembersBody, ctx.request.body);
    ctx.ok(await ctx.service.room.changeMembers(ctx.auth.userId, id, input));
  }

  async destroy() {
    const { ctx } = this;
    const { id } = ctx.validate(schema.idParam, ctx.params);
    await ctx.service.room.dissolve(ctx.auth.userId, id);
    ctx.ok(null);
  }
}
