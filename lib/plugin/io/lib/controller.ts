import type { Application, Context, EggAppConfig, IService } from 'egg';

/**
 * The base of app/io/controller classes: egg's Controller without its eager `ctx.service`, which
 * builds the context's service loader (a property for every service) for each event, whether the
 * handler uses a service or not: a few percent of the worker's CPU per message (BENCH_PROFILE).
 * Here `service` is read only when a handler uses it.
 */
export class IoController {
  readonly app: Application;
  readonly config: EggAppConfig;

  constructor(readonly ctx: Context) {
    this.app = ctx.app;
    this.config = ctx.app.config;
  }

  get service(): IService {
    return this.ctx.service;
  }
}
