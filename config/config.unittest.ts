import type { EggAppConfig, PowerPartial } from 'egg';
import { withEnvLimits } from './config.default';

export default () => {
  const config: PowerPartial<EggAppConfig> = {};
  config.logger = { consoleLevel: 'WARN' };
  // every test client is 127.0.0.1: per-IP limits would make tests depend on each other
  config.rateLimit = withEnvLimits({
    signup: { points: 100000, duration: 60 }, ipFailures: { points: 100000, duration: 60 }, qrcode: { points: 100000, duration: 60 },
    refresh: { points: 100000, duration: 60 }, connections: { points: 100000, duration: 60 },
  });
  config.sockets = { perAddress: Number(process.env.MAX_SOCKETS_PER_ADDRESS) || 100000 };
  // cheap hashing keeps the suite fast (the algorithm and code path stay the same); a first delay
  // after the free failures long enough that a burst of parallel attempts always falls inside it
  config.auth = { argon2: { memoryCost: 1024, timeCost: 1, parallelism: 1 }, failureDelayMs: 10000 };
  // the delivery queue and the webhook reload run only where a test starts them: the database command
  // counts of other tests (test/app/message/budgets.test.ts) must not see their polling
  config.queue = { autoStart: false };
  config.webhooks = { reloadMs: 0 };
  return config;
};
