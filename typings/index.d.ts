import 'egg';
import type { Redis } from 'ioredis';
import type { IoServer } from '../lib/plugin/io/lib/server';
import type { DbProbe } from '../lib/db-probe';

declare module 'egg' {
  interface Application {
    io: IoServer;
    /** ioredis client when REDIS_URL is set, else null */
    redis: Redis | null;
    /** the readiness check's own database connection (lib/db-probe.ts) */
    dbProbe: DbProbe;
  }

  interface Context {
    /** the event's arguments (an ack callback, if any, is last) */
    args: unknown[];
    /** [event, ...args] */
    packet: unknown[];
  }
}
