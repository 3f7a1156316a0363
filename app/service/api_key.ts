import { Service } from 'egg';
import { AppError, ErrorCode } from '../../lib/errors';
import { parseApiKey, secretMatches } from '../../lib/api-keys';
import type { ApiKeyDoc, ApiScope } from '../model/api_key';

/** Server API keys (lib/api-keys.ts): made, listed and revoked by the admin CLI; checked here. */
export default class ApiKeyService extends Service {
  /**
   * The live key a bearer token names, refused with 401 / 20001 when it is malformed, unknown,
   * wrong or revoked, and 403 / 10006 when it lacks `scope`. One read by `_id` per request, so a
   * revocation holds for the very next request on every worker.
   */
  async verify(token: string, scope: ApiScope): Promise<ApiKeyDoc> {
    const parts = parseApiKey(token);
    const key = parts && await this.ctx.model.ApiKey.findById(parts.id).lean<ApiKeyDoc>();
    if (!parts || !key || key.revokedAt || !secretMatches(parts.secret, key.secretHash)) throw new AppError(ErrorCode.AUTH_FAILED, 'invalid or revoked API key');
    if (!key.scopes.includes(scope)) throw new AppError(ErrorCode.FORBIDDEN, `this API key lacks the "${scope}" scope`);
    return key;
  }
}
