import type { Application, IBoot } from 'egg';
import { IoServer } from './lib/server';
import type { IoConfig } from './config/config.default';

export default class IoBoot implements IBoot {
  constructor(private readonly app: Application) {
    app.io = new IoServer(app);
  }

  configDidLoad() {
    this.app.io.load();
    // egg-cluster (and our tests) emit 'server' with the HTTP server once it exists
    this.app.on('server', server => this.app.io.attach(server));
  }

  async didLoad() {
    const config = this.app.config.io as IoConfig;
    for (const name of Object.keys(config.namespace)) this.app.io.of(name);
  }

  async beforeClose() {
    await this.app.io.close();
  }
}
