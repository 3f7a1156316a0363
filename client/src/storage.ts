/**
 * Where the client keeps what must outlive the app: the session and the change-feed cursor. The shape
 * of the Web Storage API, so `localStorage` fits as it is; apps elsewhere pass their own.
 */
export interface KeyValueStore {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

/** Keeps nothing past the process: for tests and for apps that sign in at every start. */
export class MemoryStore implements KeyValueStore {
  private readonly map = new Map<string, string>();
  getItem(key: string) { return this.map.get(key) ?? null; }
  setItem(key: string, value: string) { this.map.set(key, value); }
  removeItem(key: string) { this.map.delete(key); }
}
