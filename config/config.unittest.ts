import type { EggAppConfig, PowerPartial } from 'egg';
import { withEnvLimits } from './config.default';

export default () => {
  const config: PowerPartial<EggAppConfig> = {};
  config.logger = { consoleLevel: 'WARN' };
  // cheap hashing keeps the suite fast; the algorithm and code path stay the same
  config.auth = { argon2: { memoryCost: 1024, timeCost: 1, parallelism: 1 } };
  // every test client is 127.0.0.1: per-IP limits would make tests depend on each other
  config.rateLimit = withEnvLimits({ signup: { points: 100000, duration: 60 }, ipFailures: { points: 100000, duration: 60 }, qrcode: { points: 100000, duration: 60 } });
  // the delivery queue and the webhook reload run only where a test starts them: the database command
  // counts of other tests (test/app/message/budgets.test.ts) must not see their polling
  config.queue = { autoStart: false };
  config.webhooks = { reloadMs: 0 };
  return config;
};
