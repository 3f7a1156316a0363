/**
 * The engine's hooks (app/message/hooks.ts) as this server implements them: `before.message` and
 * the message events go to webhooks, stored messages to Web Push, counts to the metrics. Each part
 * is reached through a getter, so the engine can be built before them.
 */
import type { MessageHooks } from '../message/hooks';
import type { Metrics } from '../../lib/metrics';
import type { Webhooks } from './webhooks';
import type { Push } from './push';

export function messageHooks(parts: { webhooks: () => Webhooks; push: () => Push; metrics: () => Metrics }): MessageHooks {
  return {
    beforeSend: (from, input) => parts.webhooks().beforeSend(from, input),
    stored(messages) {
      const metrics = parts.metrics();
      for (const m of messages) metrics.messagesStored.inc({ typeu: String(m.typeu) });
      const webhooks = parts.webhooks();
      if (webhooks.wants('message.created')) for (const message of messages) webhooks.emit('message.created', { message });
      parts.push().stored(messages);
    },
    updated(message) {
      parts.webhooks().emit('message.updated', { message });
    },
    acked(count) {
      parts.metrics().acks.inc(count);
    },
  };
}
