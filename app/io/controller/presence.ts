import { IoController } from '../../../lib/plugin/io/lib/controller';

export default class PresenceController extends IoController {
  /** `c_online` from a client: its own snapshot of online contacts (PROTOCOL §4). */
  async online() {
    const { ctx } = this;
    await this.app.outbox.answer(ctx, { event: 'c_online', reply: 'c_online' }, () => ctx.service.presence.snapshot(ctx.chatSocket.data.userId));
  }
}
