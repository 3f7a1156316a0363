import { Subscription } from 'egg';

/**
 * Removes delivery attempts (the webhook delivery log, lib/job-queue.ts) older than
 * `webhooks.keepLogDays`, and job bodies an hour old whose head is gone (a worker died between the
 * two writes). A scheduled job rather than a TTL index, which FerretDB does not implement.
 */
export default class DeliveryLogCleanup extends Subscription {
  static get schedule() {
    return { interval: '1h', type: 'worker', immediate: false };
  }

  async subscribe() {
    const cutoff = new Date(Date.now() - this.config.webhooks.keepLogDays * 24 * 3600 * 1000);
    const { deletedCount } = await this.ctx.model.DeliveryAttempt.deleteMany({ startedAt: { $lt: cutoff } });
    if (deletedCount) this.ctx.logger.info('[delivery_log_cleanup] removed %d delivery attempts', deletedCount);
    const orphans = await this.app.jobs.removeOrphanBodies(3600 * 1000);
    if (orphans) this.ctx.logger.info('[delivery_log_cleanup] removed %d job bodies without a job', orphans);
  }
}
