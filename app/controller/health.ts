import { Controller } from 'egg';
import { withinDeadline } from '../../lib/deadline';

export default class HealthController extends Controller {
  /** The process is up and serving. */
  async alive() {
    this.ctx.ok({ status: 'ok', uptime: Math.round(process.uptime()) });
  }

  /** Ready to take traffic: the database answers, and Redis when configured. */
  async ready() {
    const { ctx, app } = this;
    const checks: Record<string, 'ok' | 'down'> = {};
    // both bounded to 2 s and asked at once, so the answer comes within 2 s whatever is down
    const [ database, redis ] = await Promise.all([
      app.dbProbe.ping().then(() => 'ok' as const, () => 'down' as const),
      app.redis && withinDeadline(app.redis.ping(), 2000, 'redis ping').then(() => 'ok' as const, () => 'down' as const),
    ]);
    checks.database = database;
    if (redis) checks.redis = redis;
    const ready = Object.values(checks).every(v => v === 'ok');
    ctx.status = ready ? 200 : 503;
    ctx.body = { code: ready ? 0 : 50000, msg: ready ? 'ok' : 'not ready', data: { status: ready ? 'ready' : 'not ready', checks } };
  }
}
