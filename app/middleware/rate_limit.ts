import type { Context } from 'egg';
import { rateLimits } from '../../config/rate-limits';
import { takeAll, type LimitUse, type Taken } from '../../lib/rate-limits';
import { ErrorCode, isAppError } from '../../lib/errors';

/** The route's entry in the table: its method and path as app/router.ts declares it (HEAD is GET's). */
const routeKey = (ctx: Context) => `${ctx.method === 'HEAD' ? 'GET' : ctx.method} ${(ctx as unknown as { _matchedRoute?: string })._matchedRoute}`;

/**
 * The HTTP side of config/rate-limits.ts, put on every limited route in app/router.ts (after `auth`
 * where the route has it, so `user` keys are known): consumes the route's limits before the
 * controller runs (over one → 429 / 20009 with Retry-After). Uses marked `failuresOnly` are given
 * back unless the request ended in a wrong password or answer (20007), so only failures stay counted.
 */
export default () => async function rateLimit(ctx: Context, next: () => Promise<void>) {
  const uses = rateLimits.http[routeKey(ctx)] ?? [];
  const taken: Taken[] = [];
  let failedCheck = false;
  try {
    await takeAll(ctx.app.rateLimits, uses, use => keyOf(ctx, use), ctx.ip, taken);
    await next();
  } catch (err) {
    failedCheck = isAppError(err) && err.code === ErrorCode.CODE_VALID_FAILED;
    throw err;
  } finally {
    // the others give nothing back (their refund does nothing)
    if (!failedCheck) await Promise.all(taken.map(t => t.refund()));
  }
};

const hasField = (body: unknown, field: string) => Boolean(body) && typeof body === 'object' && Object.hasOwn(body as object, field);

/** The key a use counts by on this request; null when it does not apply (validation refuses a body that names no account). */
async function keyOf(ctx: Context, use: LimitUse): Promise<string | null> {
  if (use.whenBodyHas && !hasField(ctx.request.body, use.whenBodyHas)) return null;
  switch (use.by) {
    case 'ip': return ctx.ip;
    case 'user': return ctx.auth.userId;
    case 'account': return ctx.service.auth.accountKey(ctx.request.body, ctx.state.auth?.userId);
    case 'apiKey': return ctx.state.apiKey.id;
    default: throw new Error(`rate limit ${use.limit}: an HTTP route has no ${use.by}`);
  }
}
