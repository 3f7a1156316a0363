/**
 * Runs async sections one at a time per key, in call order.
 *
 * Why: FerretDB 1.24 (the embedded development/test database) does not apply conditional updates
 * or `$inc` atomically under concurrency (measured: 200 parallel `$inc` on one document gave 11).
 * Read-modify-write sections that must be atomic (refresh-token rotation, `seq` allocation) go
 * through here so one process is correct on FerretDB; on MongoDB the atomic operators used inside
 * these sections also keep several processes correct.
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
