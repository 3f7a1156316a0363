import { Controller } from 'egg';
import * as schema from '../../lib/schemas/integration';
import { noticeBody } from '../../lib/schemas/admin';
import { idParam, roomMembersBody } from '../../lib/schemas/social';
import { AppError, ErrorCode } from '../../lib/errors';
import { oid } from '../../lib/ids';

/** The `POST /api/server/messages` schema for the configured limits, built once per limits. */
let cachedMessage: { key: string; schema: ReturnType<typeof schema.serverMessage> } | null = null;
function messageSchemaFor(limits: { maxContentBytes: number; maxExtraBytes: number }) {
  const key = `${limits.maxContentBytes}:${limits.maxExtraBytes}`;
  if (cachedMessage?.key !== key) cachedMessage = { key, schema: schema.serverMessage(limits) };
  return cachedMessage.schema;
}

/**
 * The server API (PROTOCOL §9), for a team's own backend with an API key (app/middleware/api_key.ts):
 * its users by its own ids, their sign-ins, messages sent as them through the message engine (the
 * same rules, seqs, delivery and receipts as `to`), system notices, rooms.
 */
export default class ServerController extends Controller {
  async upsertUser() {
    const { ctx } = this;
    const { externalId } = ctx.validate(schema.externalIdParam, ctx.params);
    const input = ctx.validate(schema.upsertUserBody, ctx.request.body ?? {});
    const { user, created } = await ctx.service.user.upsertExternal(externalId, input);
    ctx.ok(user, created ? 201 : 200);
  }

  async startSession() {
    const { ctx } = this;
    const { externalId } = ctx.validate(schema.externalIdParam, ctx.params);
    const { deviceType } = ctx.validate(schema.serverSessionBody, ctx.request.body ?? {});
    const userId = await ctx.service.user.byExternalId(externalId);
    ctx.ok(await ctx.service.auth.startSession(userId, `server API${deviceType ? ` (${deviceType})` : ''}`), 201);
  }

  async sendMessage() {
    const { ctx, app } = this;
    const { from, ...input } = ctx.validate(messageSchemaFor(this.config.message), ctx.request.body);
    if (!await ctx.model.User.exists({ _id: oid(from) })) throw new AppError(ErrorCode.USER_NOT_EXIST, '`from` is not a user');
    const { message, created } = await app.messages.sendReporting(from, input);
    ctx.ok(message, created ? 201 : 200);
  }

  async notice() {
    const { ctx } = this;
    const input = ctx.validate(noticeBody, ctx.request.body);
    ctx.ok(await this.app.messages.notify(input), 201);
  }

  async createRoom() {
    const { ctx } = this;
    const { owner, ...input } = ctx.validate(schema.serverRoomBody, ctx.request.body);
    ctx.ok(await ctx.service.room.create(owner, input), 201);
  }

  async roomMembers() {
    const { ctx } = this;
    const { id } = ctx.validate(idParam, ctx.params);
    const input = ctx.validate(roomMembersBody, ctx.request.body);
    ctx.ok(await ctx.service.room.changeMembersByServer(id, input));
  }
}
