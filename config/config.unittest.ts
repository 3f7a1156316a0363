import type { EggAppConfig, PowerPartial } from 'egg';

export default () => {
  const config: PowerPartial<EggAppConfig> = {};
  config.logger = { consoleLevel: 'WARN' } as any;
  // cheap hashing keeps the suite fast; the algorithm and code path stay the same
  config.auth = { argon2: { memoryCost: 1024, timeCost: 1, parallelism: 1 } } as any;
  // many tests sign up from 127.0.0.1
  config.rateLimit = { signup: { points: 100000, duration: 60 } } as any;
  return config;
};
