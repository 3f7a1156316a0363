import mongoose from 'mongoose';

/**
 * The readiness check's own connection to the database: one socket, short timeouts, apart from the
 * app's pool. Pinging through the pool would wait behind every queued query, so a pool saturated by
 * slow scans would read as "database down" (and a paused database would hang the check).
 */
export class DbProbe {
  private readonly client: InstanceType<typeof mongoose.mongo.MongoClient>;

  constructor(url: string, private readonly timeoutMs = 2000) {
    this.client = new mongoose.mongo.MongoClient(url, {
      maxPoolSize: 1,
      serverSelectionTimeoutMS: timeoutMs,
      connectTimeoutMS: timeoutMs,
      socketTimeoutMS: timeoutMs,
      waitQueueTimeoutMS: timeoutMs,
    });
  }

  /** Resolves when the database answers a ping within the bound, rejects otherwise. */
  async ping(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error('database ping timed out')), this.timeoutMs); });
    try {
      // connect() is a no-op once connected; the driver reconnects by itself after an outage
      await Promise.race([ this.client.connect().then(c => c.db().command({ ping: 1 })), timeout ]);
    } finally {
      clearTimeout(timer);
    }
  }

  async close() {
    await this.client.close().catch(() => undefined);
  }
}
