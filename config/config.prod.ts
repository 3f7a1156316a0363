import type { EggAppConfig, PowerPartial } from 'egg';

export default () => {
  const config: PowerPartial<EggAppConfig> = {};
  config.logger = { level: 'INFO', consoleLevel: 'NONE' } as any;
  return config;
};
