/**
 * A webhook receiver on 127.0.0.1 for tests: records every request, answers as the test says, and
 * notes how many requests for one event id were open at once.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Received {
  id: string;
  timestamp: string;
  signature: string;
  body: string;
  json: any;
}

export type Answer = { status: number; body?: unknown; delayMs?: number } | 'hang';

export class WebhookReceiver {
  readonly received: Received[] = [];
  /** the most requests for one event id open at the same time */
  maxConcurrent = 0;
  private readonly open = new Map<string, number>();
  private server!: http.Server;
  url = '';
  /** decides each answer; default 200 */
  answer: (r: Received, nth: number) => Answer = () => ({ status: 200 });

  async start(path = '/hooks') {
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', c => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        const r: Received = {
          id: String(req.headers['im-webhook-id'] ?? ''),
          timestamp: String(req.headers['im-webhook-timestamp'] ?? ''),
          signature: String(req.headers['im-webhook-signature'] ?? ''),
          body,
          json: JSON.parse(body),
        };
        this.received.push(r);
        const nth = this.received.filter(x => x.id === r.id).length;
        const now = (this.open.get(r.id) ?? 0) + 1;
        this.open.set(r.id, now);
        this.maxConcurrent = Math.max(this.maxConcurrent, now);
        let closed = false;
        const close = () => {
          if (closed) return;
          closed = true;
          this.open.set(r.id, (this.open.get(r.id) ?? 1) - 1);
        };
        res.on('close', close);
        const answer = this.answer(r, nth);
        if (answer === 'hang') return; // the client's deadline ends it
        setTimeout(() => {
          res.writeHead(answer.status, { 'content-type': 'application/json' });
          res.end(answer.body === undefined ? '{}' : JSON.stringify(answer.body));
        }, answer.delayMs ?? 0);
      });
    });
    await new Promise<void>(resolve => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}${path}`;
    return this;
  }

  /** Requests whose body has this type. */
  ofType(type: string) {
    return this.received.filter(r => r.json.type === type);
  }

  /** Resolves once `check` holds (polled), or rejects after `ms`. */
  async until(check: () => boolean, ms = 5000, what = 'the webhook deliveries') {
    const end = Date.now() + ms;
    while (!check()) {
      if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what} (received ${this.received.length})`);
      await new Promise(resolve => setTimeout(resolve, 20));
    }
  }

  async stop() {
    this.server.closeAllConnections();
    await new Promise<void>(resolve => this.server.close(() => resolve()));
  }
}
