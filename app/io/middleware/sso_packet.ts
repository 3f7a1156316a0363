import type { Application, Context } from 'egg';
import { admitByRate } from '../socket-limits';

/** Before every /sso event: its rate limits (config/rate-limits.ts); over one → 20009, the socket stays. */
export default (_options: unknown, app: Application) => async function ssoPacket(ctx: Context, next: () => Promise<void>) {
  if (await admitByRate(app, ctx, '/sso')) return;
  await next();
};
