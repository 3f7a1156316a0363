/**
 * Reads that arrive while one is in flight wait and are answered together by the next one: under
 * load one query serves many callers (the group commit's idea, for reads), and alone a caller
 * waits for nobody. A per-tick batcher (dataloader) would not do: the arrivals of a reconnect storm
 * are spread over many ticks. No caching: every load sees a read that started after it.
 */
export class CoalescingLoader<K, V> {
  private waiting = new Map<K, Array<{ resolve: (v: V | undefined) => void; reject: (e: unknown) => void }>>();
  private running = false;

  /** `fetch` gets distinct keys (at most `maxBatch`) and returns what it found for each. */
  constructor(private readonly fetch: (keys: K[]) => Promise<Map<K, V>>, private readonly maxBatch = 500) {}

  load(key: K): Promise<V | undefined> {
    return new Promise((resolve, reject) => {
      const callers = this.waiting.get(key);
      if (callers) callers.push({ resolve, reject }); else this.waiting.set(key, [{ resolve, reject }]);
      if (!this.running) {
        this.running = true;
        setImmediate(() => void this.drain());
      }
    });
  }

  private async drain() {
    while (this.waiting.size) {
      const batch = [ ...this.waiting ].slice(0, this.maxBatch);
      for (const [ key ] of batch) this.waiting.delete(key);
      try {
        const found = await this.fetch(batch.map(([ key ]) => key));
        for (const [ key, callers ] of batch) for (const c of callers) c.resolve(found.get(key));
      } catch (err) {
        for (const [ , callers ] of batch) for (const c of callers) c.reject(err);
      }
    }
    this.running = false;
  }
}

/**
 * Documents by `_id`: one at a time for a few (FerretDB answers `{_id: x}` without a scan), one
 * `$in` for more (a single round-trip; an index look-up on MongoDB).
 */
export async function findByIds<T extends { _id: unknown }>(
  ids: string[],
  one: (id: string) => Promise<T | null>,
  many: (ids: string[]) => Promise<T[]>,
  few = 4,
): Promise<Map<string, T>> {
  const docs: Array<T | null> = ids.length <= few ? await Promise.all(ids.map(one)) : await many(ids);
  const found = new Map<string, T>();
  for (const d of docs) if (d) found.set(String(d._id), d);
  return found;
}
