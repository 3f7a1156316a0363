import { Controller } from 'egg';

export default class HealthController extends Controller {
  /** The process is up and serving. */
  async alive() {
    this.ctx.ok({ status: 'ok', uptime: Math.round(process.uptime()) });
  }

  /** Ready to take traffic: the database answers, and Redis when configured. */
  async ready() {
    const { ctx, app } = this;
    const checks: Record<string, 'ok' | 'down'> = {};
    const within = <T>(p: Promise<T>, ms: number) => Promise.race([ p, new Promise<never>((_, rej) => setTimeout(() => rej(new Error('timeout')), ms).unref()) ]);
    checks.database = await within(app.mongoose.connection.db!.admin().ping(), 2000).then(() => 'ok' as const, () => 'down' as const);
    if (app.redis) checks.redis = await within(app.redis.ping(), 2000).then(() => 'ok' as const, () => 'down' as const);
    const ready = Object.values(checks).every(v => v === 'ok');
    ctx.status = ready ? 200 : 503;
    ctx.body = { code: ready ? 0 : 50000, msg: ready ? 'ok' : 'not ready', data: { status: ready ? 'ready' : 'not ready', checks } };
  }
}
