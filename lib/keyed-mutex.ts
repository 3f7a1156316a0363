/**
 * Runs async sections one at a time per key, in call order.
 *
 * Why: FerretDB 1.24 (the embedded development/test database) does not apply conditional updates
 * atomically under concurrency (measured: of 20 racing conditional updates, 4 "succeeded").
 * Sections whose conditional update must win once (refresh-token rotation, room membership changes)
 * also run through here, so one process is correct on FerretDB too; the conditional update inside
 * is what keeps several processes correct on MongoDB. Never the only guard.
 */
export class KeyedMutex {
  private readonly tails = new Map<string, Promise<unknown>>();

  run<T>(key: string, section: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    const result = previous.then(section, section);
    const tail = result.catch(() => undefined);
    this.tails.set(key, tail);
    tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return result;
  }
}
