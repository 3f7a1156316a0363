import { Subscription } from 'egg';

/**
 * Deletes sessions past their expiry. A scheduled job rather than a TTL index, which FerretDB does
 * not implement; on MongoDB it is the same query. Revoked sessions are kept until they expire so a
 * reused refresh token is still recognised as reuse.
 */
export default class SessionCleanup extends Subscription {
  static get schedule() {
    return { interval: '1h', type: 'worker', immediate: false };
  }

  async subscribe() {
    const { deletedCount } = await this.ctx.model.Session.deleteMany({ expiresAt: { $lt: new Date() } });
    if (deletedCount) this.ctx.logger.info('[session_cleanup] removed %d expired sessions', deletedCount);
  }
}
