import type { Context } from 'egg';
import type { ZodType } from 'zod';
import { AppError, ErrorCode, isAppError } from '../../lib/errors';
import { httpEnvelope } from '../../lib/envelope';
import type { WireEvent } from '../../lib/actions';
import type { ServerEvent, ServerEventPayloads, SocketMeta } from '../../lib/schemas/wire';
import { ioSocket } from '../../lib/plugin/io/lib/server';
import { withinDeadline } from '../../lib/deadline';
import type { Ack, ChatSocket } from '../io/outbox';

/** What a socket event handler may return to add envelope meta (e.g. `more`) to its reply. */
export class SocketReply<T = unknown> {
  constructor(readonly payload: T, readonly meta?: Partial<SocketMeta>) {}
}

export interface SocketEventSpec<T, R extends ServerEvent | undefined> {
  /** the wire event being handled (its action key names errors) */
  event: WireEvent;
  /** the event the reply is emitted as when there is no ack callback; none = acks `null` only */
  reply?: R;
  /** validates the first argument; a mismatch is 20002 and the socket keeps working */
  schema?: ZodType<T>;
}

type ReplyOf<R> = R extends ServerEvent ? ServerEventPayloads[R] | SocketReply<ServerEventPayloads[R]> : unknown;

function firstIssue(error: { issues: Array<{ path: PropertyKey[]; message: string }> }, fallback: string) {
  const issue = error.issues[0];
  return `${issue.path.length ? issue.path.map(String).join('.') : fallback}: ${issue.message}`;
}

export default {
  /** Parses input with a schema; a mismatch is 400 / 20002 naming the first bad field. */
  validate<T>(this: Context, schema: ZodType<T>, input: unknown): T {
    const result = schema.safeParse(input);
    if (!result.success) throw new AppError(ErrorCode.MISS_PARAMS, firstIssue(result.error, 'body'));
    return result.data;
  },

  /** Sends the contract's success envelope. */
  ok(this: Context, data: unknown, status = 200) {
    this.status = status;
    this.body = httpEnvelope(data);
  },

  /** The authenticated caller (set by the auth middleware). */
  get auth(): { userId: string; sessionId: string } {
    const self = this as unknown as Context;
    const auth = self.state.auth;
    if (!auth) throw new AppError(ErrorCode.AUTH_FAILED, 'authentication required');
    return auth;
  },

  /** The Socket.IO ack callback of the current event, if the client passed one (always last). */
  get socketAck(): Ack | undefined {
    const args = (this as unknown as Context).args;
    const last = args?.[args.length - 1];
    return typeof last === 'function' ? last as Ack : undefined;
  },

  /** The /chat socket of the current event, with its `data` typed. */
  get chatSocket(): ChatSocket {
    return ioSocket<ChatSocket>(this as unknown as Context);
  },

  /**
   * Runs a socket event handler the way PROTOCOL §2 wants: the first argument is validated, the
   * result goes to the ack callback when there is one (only there), else it is emitted as the reply
   * event; an event without a reply of its own acks `null`. Refusals become the error envelope (to
   * the ack, else `im_error`) with the offending `fp` when the input has one; unexpected failures are
   * logged and answered 50000. Nothing thrown here reaches Socket.IO.
   */
  async socketEvent<T, R extends ServerEvent | undefined = undefined>(this: Context, spec: SocketEventSpec<T, R>, run: (input: T) => Promise<ReplyOf<R>> | ReplyOf<R>) {
    const socket = ioSocket(this);
    const { outbox } = this.app;
    const ack = this.socketAck;
    const raw = ack ? this.args.slice(0, -1)[0] : this.args[0];
    try {
      let input = raw as T;
      if (spec.schema) {
        const parsed = spec.schema.safeParse(raw);
        if (!parsed.success) throw new AppError(ErrorCode.MISS_PARAMS, firstIssue(parsed.error, 'payload'));
        input = parsed.data;
      }
      const result = await withinDeadline(Promise.resolve(run(input)), this.app.config.message.replyTimeoutMs, spec.event);
      const reply = result instanceof SocketReply ? result : new SocketReply(result);
      outbox.reply(socket, ack, spec.event, spec.reply, reply.payload as ServerEventPayloads[ServerEvent], reply.meta);
    } catch (err) {
      if (!isAppError(err)) this.app.logger.error('[io] %s failed: %s', spec.event, (err as Error)?.stack || err);
      const e = isAppError(err) ? err : new AppError(ErrorCode.SERVER_ERROR, 'server error');
      const fp = raw && typeof raw === 'object' && typeof (raw as { fp?: unknown }).fp === 'string' ? (raw as { fp: string }).fp : null;
      outbox.refuseReply(socket, ack, spec.event, e, fp);
    }
  },
};
