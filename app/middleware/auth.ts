import type { Context } from 'egg';
import { AppError, ErrorCode } from '../../lib/errors';
import { looksLikeApiKey } from '../../lib/api-keys';

/** REST routes that need a logged-in user: `Authorization: Bearer <access token>`. */
export default () => async function auth(ctx: Context, next: () => Promise<void>) {
  const header = ctx.get('authorization');
  const match = /^Bearer\s+(\S+)$/i.exec(header);
  if (!match) throw new AppError(ErrorCode.AUTH_FAILED, 'missing bearer token');
  // an API key is for the server API alone (PROTOCOL §9)
  if (looksLikeApiKey(match[1])) throw new AppError(ErrorCode.AUTH_FAILED, 'API keys work only on /api/server/*');
  const claims = await ctx.service.auth.verifyAccessToken(match[1]);
  ctx.state.auth = { userId: claims.userId, sessionId: claims.sessionId };
  await next();
};
