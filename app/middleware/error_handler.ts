import type { Context } from 'egg';
import { AppError, ErrorCode, isAppError, isBusy } from '../../lib/errors';

/**
 * Turns every failure into the contract's JSON envelope with a meaningful status. A busy server
 * (lib/errors.ts isBusy) is 429 / 20009 with Retry-After; unknown errors become 500 / 50000 and are
 * logged; their message and stack never reach the client.
 */
export default () => async function errorHandler(ctx: Context, next: () => Promise<void>) {
  try {
    await next();
    if (ctx.status === 404 && ctx.body == null) {
      ctx.status = 404;
      ctx.body = { code: ErrorCode.NOT_FOUND, msg: 'not found', data: null };
    }
  } catch (err: any) {
    // busy (PROTOCOL §2): 429 / 20009 with Retry-After, not 500
    const mapped = isBusy(err) ? ctx.app.outbox.busy('server busy, try again later') : toAppError(err);
    if (mapped.code === ErrorCode.SERVER_ERROR) ctx.logger.error(err);
    ctx.status = mapped.status;
    ctx.body = { code: mapped.code, msg: mapped.message, data: null };
    if (mapped.status === 429 && mapped.retryAfterMs) ctx.set('Retry-After', String(Math.ceil(mapped.retryAfterMs / 1000)));
  }
};

function toAppError(err: any): AppError {
  if (isAppError(err)) return err;
  const status = Number(err?.status || err?.statusCode);
  // body-parser: malformed JSON or a wrong content encoding (400), a body over the limit (413)
  if (status === 413) return new AppError(ErrorCode.MISS_PARAMS, 'request body too large', 413);
  if (status === 415) return new AppError(ErrorCode.MISS_PARAMS, 'unsupported content type', 415);
  if (status >= 400 && status < 500 && err.expose !== false) {
    return new AppError(ErrorCode.MISS_PARAMS, 'malformed request body', 400);
  }
  return new AppError(ErrorCode.SERVER_ERROR, 'internal server error', 500);
}
