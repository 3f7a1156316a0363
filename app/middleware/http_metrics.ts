import type { Context } from 'egg';
import { isAppError } from '../../lib/errors';

/** Counts and times every REST request by its route as the router names it (few label values), for /metrics. */
export default () => async function httpMetrics(ctx: Context, next: () => Promise<void>) {
  const started = performance.now();
  let status = 0;
  try {
    await next();
    status = ctx.status;
  } catch (err) {
    status = isAppError(err) ? err.status : Number((err as { status?: number })?.status) || 500;
    throw err;
  } finally {
    const route = (ctx as unknown as { _matchedRoute?: string })._matchedRoute ?? (ctx.path.startsWith('/assets/') ? '/assets/*' : 'unmatched');
    const metrics = ctx.app.metrics;
    metrics.httpRequests.inc({ method: ctx.method, route, status: String(status) });
    metrics.httpSeconds.observe({ method: ctx.method, route }, (performance.now() - started) / 1000);
  }
};
