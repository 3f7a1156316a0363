import type { Context } from 'egg';

/** Admin routes, after `auth`: only users with role 'admin' (403 / 10006 otherwise). */
export default () => async function admin(ctx: Context, next: () => Promise<void>) {
  await ctx.service.admin.assertAdmin(ctx.auth.userId);
  await next();
};
