import { timingSafeEqual } from 'node:crypto';
import { Controller } from 'egg';
import { AggregatorRegistry, type Registry } from 'prom-client';

type WorkerMetrics = Awaited<ReturnType<Registry['getMetricsAsJSON']>>;
import { AppError, ErrorCode } from '../../lib/errors';

/** Worker-to-worker messages (egg's messenger, through the master) that gather every worker's metrics for one scrape. */
export const METRICS_REQUEST = 'im:metrics-request';
export const METRICS_REPLY = 'im:metrics-reply';
/** how long a scrape waits for the other workers of this machine */
const GATHER_MS = 1000;

/**
 * `GET /metrics` (PROTOCOL §9): Prometheus text, not the JSON envelope. Off (404) unless
 * METRICS_TOKEN is set; then `Authorization: Bearer <METRICS_TOKEN>` (401 / 20001 otherwise).
 * With several workers, the one answering sums every worker's registry (a worker that does not
 * answer within a second is left out of that scrape).
 */
export default class MetricsController extends Controller {
  async show() {
    const { ctx, app } = this;
    const token = this.config.metrics.token;
    if (!token) throw new AppError(ErrorCode.NOT_FOUND, 'not found');
    const given = Buffer.from(/^Bearer\s+(\S+)$/i.exec(ctx.get('authorization'))?.[1] ?? '');
    const wanted = Buffer.from(token);
    if (given.length !== wanted.length || !timingSafeEqual(given, wanted)) throw new AppError(ErrorCode.AUTH_FAILED, 'wrong or missing metrics token');
    const registry = app.metrics.withDefaults().registry;
    const workers = Number((app as unknown as { options: { workers?: number } }).options?.workers) || 1;
    ctx.set('Content-Type', registry.contentType);
    ctx.set('Cache-Control', 'no-store');
    if (workers <= 1) {
      ctx.body = await registry.metrics();
      return;
    }
    const all = await this.gather(workers);
    ctx.body = await AggregatorRegistry.aggregate(all).metrics();
  }

  /** Every worker's metrics (this one's included), as many as answer within GATHER_MS. */
  private gather(workers: number): Promise<WorkerMetrics[]> {
    const { app } = this;
    const id = `${process.pid}-${Date.now()}-${Math.random()}`;
    return new Promise(resolve => {
      const replies: WorkerMetrics[] = [];
      const done = () => {
        clearTimeout(timer);
        app.messenger.removeListener(METRICS_REPLY, onReply);
        resolve(replies);
      };
      const onReply = (reply: { id: string; metrics: WorkerMetrics }) => {
        if (reply?.id !== id) return;
        replies.push(reply.metrics);
        if (replies.length >= workers) done();
      };
      const timer = setTimeout(done, GATHER_MS);
      app.messenger.on(METRICS_REPLY, onReply);
      app.messenger.sendToApp(METRICS_REQUEST, { id, pid: process.pid });
    });
  }
}
