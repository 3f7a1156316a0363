import type { ServerOptions } from 'socket.io';

export interface IoNamespaceConfig {
  /** names of app/io/middleware modules run once per connection (koa-style; code after `await next()` runs on disconnect) */
  connectionMiddleware?: string[];
  /** names of app/io/middleware modules run for every incoming packet before its route */
  packetMiddleware?: string[];
}

export interface IoConfig {
  /** passed to the Socket.IO Server as it is */
  init: Partial<ServerOptions>;
  namespace: Record<string, IoNamespaceConfig>;
  /** when set, @socket.io/redis-adapter is attached so rooms and broadcasts span workers and machines */
  redis?: {
    url: string;
    /** prefix of the adapter's channels: deployments sharing one Redis need different keys */
    key?: string;
    /** Redis 7 sharded pub/sub (createShardedAdapter): channels spread over a Redis Cluster's shards */
    sharded?: boolean;
  } | null;
}

export default () => {
  const io: IoConfig = {
    init: {
      path: '/ws',
      allowEIO3: true,
      maxHttpBufferSize: 1e6,
      serveClient: false,
    },
    namespace: {},
    redis: null,
  };
  return { io };
};
