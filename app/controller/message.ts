import { Controller } from 'egg';
import * as schema from '../../lib/schemas/message';
import * as features from '../../lib/schemas/features';
import { objectId } from '../../lib/schemas/common';
import type { TypeU } from '../../lib/conversation-ids';

/** The REST face of conversations and history (PROTOCOL §7 "Messages", §8). */
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

  /** `PATCH /api/conversations/:timelineId?typeu=`: this user's pinned / muted / archived (§8). */
  async settings() {
    const { ctx } = this;
    const { typeu } = ctx.validate(features.settingsQuery, ctx.query);
    const timelineId = ctx.validate(features.timelineId, ctx.params.timelineId);
    const input = ctx.validate(features.settings, ctx.request.body ?? {});
    ctx.ok(await this.service.conversation.updateSettings(ctx.auth.userId, ctx.auth.sessionId, timelineId, typeu as TypeU, input));
  }

  /** `GET /api/messages/pinned?timelineId=&typeu=` (§8) */
  async pinned() {
    const { ctx } = this;
    const { timelineId, typeu } = ctx.validate(features.pinnedQuery, ctx.query);
    ctx.ok(await this.app.messages.pinned(ctx.auth.userId, timelineId, typeu as TypeU));
  }

  /** `GET /api/messages/search?q=&timelineId=&typeu=&before=&limit=` (§8) */
  async search() {
    const { ctx } = this;
    ctx.ok(await this.app.messages.search(ctx.auth.userId, ctx.validate(features.searchQuery, ctx.query)));
  }
}
