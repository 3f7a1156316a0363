import type { EggAppConfig, PowerPartial } from 'egg';

export default () => {
  const config: PowerPartial<EggAppConfig> = {};
  config.logger = { level: 'INFO', consoleLevel: 'NONE' };
  // behind a reverse proxy set TRUST_PROXY=1 so rate limits see the client's address
  config.proxy = process.env.TRUST_PROXY === '1';
  return config;
};
