import type { EggAppConfig, PowerPartial } from 'egg';
import { withEnvLimits } from './config.default';

export default () => {
  const config: PowerPartial<EggAppConfig> = {};
  config.logger = { consoleLevel: 'INFO' };
  // a developer (or a team behind one NAT) is one address: the per-IP limits would get in the way.
  // Production keeps the defaults; RATE_LIMIT_<NAME> still wins here.
  config.rateLimit = withEnvLimits({
    signup: { points: 1000, duration: 60 * 60 },
    ipFailures: { points: 1000, duration: 15 * 60 },
    qrcode: { points: 1000, duration: 60 },
    refresh: { points: 1000, duration: 60 },
    connections: { points: 1000, duration: 60 },
  });
  // the default watch list lacks lib/ and app.ts (it names app.js)
  config.development = { watchDirs: [ 'lib', 'app.ts' ] };
  return config;
};
