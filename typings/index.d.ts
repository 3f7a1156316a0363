import 'egg';
import type { Redis } from 'ioredis';
import type { IoServer } from '../lib/plugin/io/lib/server';
import type { DbProbe } from '../lib/db-probe';
import type { IoConfig } from '../lib/plugin/io/config/config.default';

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

  type DevicePolicy = 'kick-same-device' | 'allow-all' | 'single';

  interface EggAppConfig {
    io: IoConfig;
    redisUrl: string;
    /** first part of every Redis key and channel (REDIS_PREFIX, default the database name) */
    redisPrefix: string;
    auth: {
      accessTokenTtl: number;
      refreshTokenTtl: number;
      devicePolicy: DevicePolicy;
      argon2: { memoryCost: number; timeCost: number; parallelism: number };
      failureDelayMs: number;
    };
    rateLimit: {
      accountFailures: { points: number; duration: number };
      ipFailures: { points: number; duration: number };
      signup: { points: number; duration: number };
      socketEvents: { points: number; duration: number };
      typing: { points: number; duration: number };
      friendRequest: { points: number; duration: number };
      roomCreate: { points: number; duration: number };
      qrcode: { points: number; duration: number };
      refresh: { points: number; duration: number };
      qrlogin: { points: number; duration: number };
      connections: { points: number; duration: number };
    };
    sockets: { perUser: number; perAddress: number };
    message: {
      maxContentBytes: number;
      maxExtraBytes: number;
      recallWindow: number;
      offlinePageSize: number;
      historyPageSize: number;
      retentionDays: number;
      commitBatchMax: number;
      replyTimeoutMs: number;
    };
    presence: { roomLimit: number; heartbeatMs: number; staleMs: number };
    room: { maxMembers: number; pageLimit: number };
    friends: { defaultGroup: string };
    qrcode: { ttl: number };
    upload: { maxBytes: number; allow: string[] };
  }
}
