import type { Application, Context } from 'egg';

/**
 * Every worker vouches for its own /chat sockets in the shared presence registry, so the sockets of
 * a worker that died stop counting once they go stale (lib/presence-registry.ts).
 */
export default (app: Application) => ({
  // only the Redis registry can go stale; the in-memory one dies with its process
  schedule: { interval: app.config.presence.heartbeatMs, type: 'all', immediate: false, disable: !app.config.redisUrl },
  async task(_ctx: Context) {
    const sockets = [ ...app.outbox.chat.sockets.values() ]
      .filter(s => s.data?.userId)
      .map(s => ({ userId: s.data.userId, socketId: s.id }));
    await app.presenceRegistry.refresh(sockets);
  },
});
