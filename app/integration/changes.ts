/**
 * Webhook registrations and push subscriptions are cached by every worker: a change made on one is
 * told to the others through the Socket.IO adapter (app.ts listens), and each worker also re-reads
 * the webhooks every `webhooks.reloadMs` for changes the admin CLI makes.
 */
export const INTEGRATION_CHANGED_EVENT = 'im:integration-changed';

export interface IntegrationChange {
  /** the registered webhooks changed */
  webhooks?: true;
  /** these users' push subscriptions changed */
  pushUsers?: string[];
}
