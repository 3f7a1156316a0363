/**
 * What the engine tells the rest of the server, and the one thing it asks (PROTOCOL §9): injected
 * as `deps.hooks` (app/integration/message-hooks.ts implements it with webhooks, push and metrics).
 * One direction only: the engine calls these, nothing here calls the engine back. None may make a
 * send wait except `beforeSend`, which is bounded by its implementation.
 */
import type { SendMessageInput } from '../../lib/schemas/message';
import type { WireMessage } from '../../lib/schemas/wire';

export interface MessageHooks {
  /**
   * Before a message is stored: null when there is nothing to ask (then a send costs nothing more),
   * else the input to store (possibly with replaced content), or a rejection (an AppError).
   */
  beforeSend(from: string, input: SendMessageInput): Promise<SendMessageInput> | null;
  /** a batch's newly stored messages, after its commit; must return at once and never throw */
  stored(messages: WireMessage[]): void;
  /** a stored message changed (a recall; edits, reactions and pins too); must return at once */
  updated(message: WireMessage): void;
  /** `count` messages were acked by a client */
  acked(count: number): void;
}

export const NO_HOOKS: MessageHooks = {
  beforeSend: () => null,
  stored: () => undefined,
  updated: () => undefined,
  acked: () => undefined,
};
