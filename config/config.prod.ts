import type { EggAppConfig, PowerPartial } from 'egg';
import { DEFAULT_JWT_SECRET, corsOrigin } from './config.default';

/**
 * Production never runs on a secret or an origin the code ships with: the start stops here, naming
 * every one that is missing. CORS_ORIGIN may be `*` when set so on purpose (the API takes bearer
 * tokens, never cookies, so another origin's page cannot act with a user's credentials), but it must
 * be chosen.
 */
export function productionProblems(env: NodeJS.ProcessEnv): string[] {
  const problems: string[] = [];
  const jwt = env.JWT_SECRET ?? '';
  if (jwt === DEFAULT_JWT_SECRET || jwt.length < 32) problems.push('JWT_SECRET must be set to a random string of at least 32 characters');
  if ((env.COOKIE_KEYS ?? '').length < 32) problems.push('COOKIE_KEYS must be set to a random string of at least 32 characters');
  if (!corsOrigin(env.CORS_ORIGIN)) problems.push('CORS_ORIGIN must name the web client\'s origin(s), comma-separated (or be "*" to allow any origin)');
  return problems;
}

export default () => {
  const problems = productionProblems(process.env);
  if (problems.length) throw new Error(`refusing to start in production: ${problems.join('; ')}`);
  const config: PowerPartial<EggAppConfig> = {};
  config.logger = { level: 'INFO', consoleLevel: 'NONE' };
  config.keys = process.env.COOKIE_KEYS!;
  return config;
};
