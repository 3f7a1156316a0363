import { Subscription } from 'egg';

/**
 * Removes change feed records (§8 `sync_changes`) older than `changes.keepDays`: a device away longer
 * than that gets 20002 for its cursor and reloads its history instead.
 */
export default class ChangeTrim extends Subscription {
  static get schedule() {
    return { interval: '6h', type: 'worker', immediate: false };
  }

  async subscribe() {
    const removed = await this.app.messages.trimChanges();
    if (removed) this.ctx.logger.info('[change_trim] removed %d change records older than %d days', removed, this.config.changes.keepDays);
  }
}
