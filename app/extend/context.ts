import type { Context } from 'egg';
import type { ZodType } from 'zod';
import { AppError, ErrorCode } from '../../lib/errors';
import { httpEnvelope } from '../../lib/envelope';
import { firstIssue } from '../../lib/schemas/common';
import { ioSocket } from '../../lib/plugin/io/lib/server';
import type { Ack, ChatSocket } from '../io/outbox';

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

  /**
   * Serves a file of the built web client (`app.builtFiles`) as `type` with its own headers; when it
   * is not built, `notBuilt`: a 503 saying how to build it, or a bare 404.
   */
  async sendBuilt(this: Context, name: string, type: string, headers: Record<string, string>, notBuilt: { status: 404 } | { status: 503; text: string }) {
    const bytes = await this.app.builtFiles.read(name);
    if (!bytes) {
      this.status = notBuilt.status;
      if ('text' in notBuilt) {
        this.type = 'text/plain';
        this.body = notBuilt.text;
      }
      return;
    }
    this.set(headers);
    this.type = type;
    this.body = bytes;
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
};
