/**
 * The server's Prometheus metrics (PROTOCOL §9 Operations), one registry per process. Counting is a
 * map look-up and an add, so the hot paths count always; `GET /metrics` serves them only when
 * METRICS_TOKEN is set (app/controller/metrics.ts). Names and labels are made for dashboards
 * (docs/grafana-dashboard.json): `im_` first, a unit last, few label values.
 *
 * With several workers on one machine each has its own registry: the worker answering a scrape asks
 * the others for theirs and sums them (app/controller/metrics.ts), so a scrape sees the machine.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Redis } from 'ioredis';

type Labels = Record<string, string>;

export class Metrics {
  readonly registry = new Registry();
  private defaults = false;

  readonly socketEvents = new Counter({
    name: 'im_socket_events_total', help: 'Socket events received, by event and the result code of their answer (0 = ok)',
    labelNames: [ 'event', 'code' ] as const, registers: [ this.registry ],
  });

  readonly socketEventSeconds = new Histogram({
    name: 'im_socket_event_duration_seconds', help: 'Time from a socket event to its answer, by event',
    labelNames: [ 'event' ] as const, buckets: [ 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10 ], registers: [ this.registry ],
  });

  readonly httpRequests = new Counter({
    name: 'im_http_requests_total', help: 'REST requests, by method, route (as in the router) and status',
    labelNames: [ 'method', 'route', 'status' ] as const, registers: [ this.registry ],
  });

  readonly httpSeconds = new Histogram({
    name: 'im_http_request_duration_seconds', help: 'REST request time, by method and route',
    labelNames: [ 'method', 'route' ] as const, buckets: [ 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10 ], registers: [ this.registry ],
  });

  readonly messagesStored = new Counter({
    name: 'im_messages_stored_total', help: 'Messages stored, by typeu (1 c2c, 2 room)',
    labelNames: [ 'typeu' ] as const, registers: [ this.registry ],
  });

  readonly deliveries = new Counter({
    name: 'im_message_deliveries_total', help: 'Stored messages handed to their recipients\' sockets (one per message and target: a user, or a room), by typeu',
    labelNames: [ 'typeu' ] as const, registers: [ this.registry ],
  });

  readonly acks = new Counter({
    name: 'im_message_acks_total', help: 'Messages acknowledged by clients (c_message_ack)', registers: [ this.registry ],
  });

  readonly dbCommandSeconds = new Histogram({
    name: 'im_db_command_duration_seconds', help: 'Database command time, by command and result',
    labelNames: [ 'command', 'result' ] as const, buckets: [ 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5 ], registers: [ this.registry ],
  });

  readonly dbDocumentsWritten = new Counter({
    name: 'im_db_documents_written_total', help: 'Documents the app asked the database to insert, update or delete (a bulk of 50 updates counts 50), by collection and operation',
    labelNames: [ 'collection', 'op' ] as const, registers: [ this.registry ],
  });

  readonly dbWriteCommands = new Counter({
    name: 'im_db_write_commands_total', help: 'Write commands sent to the database, by collection and operation (documents per command = the batch size)',
    labelNames: [ 'collection', 'op' ] as const, registers: [ this.registry ],
  });

  readonly redisCommands = new Counter({
    name: 'im_redis_commands_total', help: 'Commands sent on the app\'s Redis connection (pipelined ones too), by command',
    labelNames: [ 'command' ] as const, registers: [ this.registry ],
  });

  readonly webhookDeliveries = new Counter({
    name: 'im_webhook_deliveries_total', help: 'Webhook delivery attempts, by event type and result (ok, retry, dropped); before.message calls by verdict',
    labelNames: [ 'event', 'result' ] as const, registers: [ this.registry ],
  });

  readonly pushSends = new Counter({
    name: 'im_push_sends_total', help: 'Web Push sends, by result (ok, retry, expired, refused, dropped)',
    labelNames: [ 'result' ] as const, registers: [ this.registry ],
  });

  private readonly pending = new Gauge({
    name: 'im_pending', help: 'Work waiting or in progress, by kind (compare with im_pending_limit)',
    labelNames: [ 'work' ] as const, registers: [ this.registry ],
    collect: () => this.readPending(),
  });

  private readonly pendingLimit = new Gauge({
    name: 'im_pending_limit', help: 'The cap on each kind of pending work (past it, work is refused or waits)',
    labelNames: [ 'work' ] as const, registers: [ this.registry ],
  });

  private readonly pendingReaders = new Map<string, { now: () => number; limit?: () => number }>();

  /** Reports a kind of pending work (read at each scrape) and its cap. */
  watchPending(work: string, now: () => number, limit?: () => number) {
    this.pendingReaders.set(work, { now, limit });
  }

  /** A gauge read at each scrape: `read` gives each label set's value. */
  gauge(name: string, help: string, labelNames: string[], read: () => Array<[ Labels, number ]> | Promise<Array<[ Labels, number ]>>) {
    const gauge: Gauge<string> = new Gauge({
      name, help, labelNames, registers: [ this.registry ],
      async collect() {
        gauge.reset();
        for (const [ labels, value ] of await read()) gauge.set(labels, value);
      },
    });
  }

  private readPending() {
    for (const [ work, r ] of this.pendingReaders) {
      this.pending.set({ work }, r.now());
      if (r.limit) this.pendingLimit.set({ work }, r.limit());
    }
  }

  /** Node's own metrics (heap, event loop lag, GC, handles), from the first time they are asked for. */
  withDefaults() {
    if (!this.defaults) {
      this.defaults = true;
      collectDefaultMetrics({ register: this.registry, prefix: 'im_' });
    }
    return this;
  }

  /**
   * Times every command of a MongoDB driver client (its command monitoring must be on) and counts the
   * documents each write names: what a delivered message costs the database, whichever it is.
   */
  watchDatabase(client: MonitoredClient) {
    client.on('commandSucceeded', e => this.dbCommandSeconds.observe({ command: e.commandName, result: 'ok' }, e.duration / 1000));
    client.on('commandFailed', e => this.dbCommandSeconds.observe({ command: e.commandName, result: 'error' }, e.duration / 1000));
    client.on('commandStarted', e => {
      const documents = writtenBy(e.commandName, e.command);
      if (!documents) return;
      const labels = { collection: String(e.command[e.commandName]), op: e.commandName };
      this.dbWriteCommands.inc(labels);
      this.dbDocumentsWritten.inc(labels, documents);
    });
  }

  /** Counts the commands of an ioredis client. */
  watchRedis(redis: Redis) {
    const send = redis.sendCommand.bind(redis);
    const counter = this.redisCommands;
    redis.sendCommand = ((command: { name: string }, ...rest: unknown[]) => {
      counter.inc({ command: command.name });
      return (send as (...args: unknown[]) => unknown)(command, ...rest);
    }) as Redis['sendCommand'];
  }
}

/** What watchDatabase needs of a driver client: its command monitoring events. */
interface MonitoredClient {
  on(event: 'commandSucceeded' | 'commandFailed', listener: (e: { commandName: string; duration: number }) => void): unknown;
  on(event: 'commandStarted', listener: (e: { commandName: string; command: Record<string, unknown> }) => void): unknown;
}

/** Documents a write command names (0: not a write). */
function writtenBy(name: string, command: Record<string, unknown>): number {
  switch (name) {
    case 'insert': return (command.documents as unknown[] | undefined)?.length ?? 0;
    case 'update': return (command.updates as unknown[] | undefined)?.length ?? 0;
    case 'delete': return (command.deletes as unknown[] | undefined)?.length ?? 0;
    case 'findAndModify': return 1;
    default: return 0;
  }
}
