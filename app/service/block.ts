import { Service } from 'egg';
import { AppError, ErrorCode } from '../../lib/errors';

/**
 * Blocks. The blocked user's 1:1 messages to the blocker are refused by the message path (which
 * reads the Block model); here: no friend requests either way and no presence either way.
 */
export default class BlockService extends Service {
  /** Blocks a user (again is fine); pending requests between the two are dropped. */
  async block(me: string, target: string) {
    const { Block, FriendRequest } = this.ctx.model;
    if (target === me) throw new AppError(ErrorCode.MISS_PARAMS, 'id: you cannot block yourself');
    await this.service.user.publicProfile(target);
    await Block.updateOne({ user: me, blocked: target }, { $setOnInsert: { user: me, blocked: target, createdAt: new Date() } }, { upsert: true });
    await FriendRequest.deleteMany({ $or: [ { from: me, to: target }, { from: target, to: me } ] });
    this.service.presence.changed({ profiles: [ me, target ] });
    await this.announceBoth(me, target, 'offline');
  }

  async unblock(me: string, target: string) {
    const { deletedCount } = await this.ctx.model.Block.deleteOne({ user: me, blocked: target });
    if (!deletedCount) throw new AppError(ErrorCode.NOT_FOUND, 'this user is not blocked');
    this.service.presence.changed({ profiles: [ me, target ] });
    await this.announceBoth(me, target, 'online');
  }

  /** The users I blocked, newest first. */
  async list(me: string) {
    const blocks = await this.ctx.model.Block.find({ user: me }).sort({ createdAt: -1 }).lean();
    const users = await this.service.user.publicUsers(blocks.map(b => String(b.blocked)));
    return blocks.filter(b => users.has(String(b.blocked))).map(b => ({ user: users.get(String(b.blocked)), createdAt: b.createdAt }));
  }

  /**
   * After a block each side is shown the other as offline; after an unblock, as they really are
   * (when they are contacts and visibly online).
   */
  private async announceBoth(a: string, b: string, type: 'online' | 'offline') {
    const visible = await this.service.presence.visibleOnline([ a, b ]);
    const tell = async (who: string, to: string) => {
      if (!visible.has(who)) return;
      if (type === 'online') await this.service.presence.announce(who, 'online', [ to ]);
      else await this.service.presence.hideFrom(who, to);
    };
    await Promise.all([ tell(a, b), tell(b, a) ]);
  }
}
