import type { Context } from 'egg';
import { AppError, ErrorCode } from '../../lib/errors';
import { looksLikeApiKey } from '../../lib/api-keys';
import type { ApiScope } from '../model/api_key';

/**
 * Server API routes (`/api/server/*`, PROTOCOL §9): `Authorization: Bearer <API key>` with `scope`.
 * A user's token is refused here (401 / 20001), as an API key is on every other route (the `auth`
 * middleware and the socket handshake accept only user tokens). Requests are rate-limited per key
 * (config/rate-limits.ts, `by: 'apiKey'`; the rateLimit middleware follows this one).
 */
export default (options: { scope: ApiScope }) => async function apiKey(ctx: Context, next: () => Promise<void>) {
  const match = /^Bearer\s+(\S+)$/i.exec(ctx.get('authorization'));
  if (!match) throw new AppError(ErrorCode.AUTH_FAILED, 'missing API key');
  if (!looksLikeApiKey(match[1])) throw new AppError(ErrorCode.AUTH_FAILED, 'the server API takes an API key, not a user token');
  const key = await ctx.service.apiKey.verify(match[1], options.scope);
  ctx.state.apiKey = { id: String(key._id), name: key.name };
  await next();
};
