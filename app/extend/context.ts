import type { Context } from 'egg';
import type { ZodType } from 'zod';
import { AppError, ErrorCode } from '../../lib/errors';
import { httpEnvelope } from '../../lib/envelope';

export default {
  /** Parses input with a schema; a mismatch is 400 / 20002 naming the first bad field. */
  validate<T>(this: Context, schema: ZodType<T>, input: unknown): T {
    const result = schema.safeParse(input);
    if (!result.success) {
      const issue = result.error.issues[0];
      const where = issue.path.length ? issue.path.join('.') : 'body';
      throw new AppError(ErrorCode.MISS_PARAMS, `${where}: ${issue.message}`);
    }
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
};
