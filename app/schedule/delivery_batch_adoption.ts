import { Subscription } from 'egg';

/**
 * Folds the delivery batches a stopped process left behind (a crash between storing acks and folding
 * them into the memberships). Readers count such acks meanwhile; this keeps the batches from piling up.
 */
export default class DeliveryBatchAdoption extends Subscription {
  static get schedule() {
    return { interval: '1m', type: 'worker', immediate: false };
  }

  async subscribe() {
    const adopted = await this.app.messages.adoptDeliveryBatches();
    if (adopted) this.ctx.logger.warn('[delivery_batch_adoption] folding %d delivery batches a stopped process left', adopted);
  }
}
