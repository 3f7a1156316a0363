import { LRUCache } from 'lru-cache';

/** What presence needs to know of a user, cached: who their contacts are, which rooms they are in. */
export interface PresenceProfile {
  /** friends and peers in rooms of at most `presence.roomLimit` members, minus blocks either way */
  contacts: Set<string>;
  /** every room the user is in */
  rooms: string[];
}

/** The server-side event by which workers drop users' cached presence data (Redis adapter). */
export const PRESENCE_STALE_EVENT = 'im:presence-stale';

/**
 * Per-worker caches that keep a (re)connect to one database read: users' presence profiles and
 * whether they are invisible. Whatever changes them (friends, blocks, rooms, a presence setting)
 * drops the affected users here and, through the adapter, on every other worker; entries also
 * expire, as a bound on staleness should a broadcast be lost.
 */
export class PresenceCache {
  readonly profiles: LRUCache<string, PresenceProfile>;
  readonly invisible: LRUCache<string, boolean>;
  /** raised by every drop: a read that began before a drop must not be cached after it */
  epoch = 0;

  constructor(max = 100_000, ttlMs = 5 * 60 * 1000) {
    this.profiles = new LRUCache({ max, ttl: ttlMs });
    this.invisible = new LRUCache({ max, ttl: ttlMs });
  }

  drop(stale: { profiles?: string[]; presence?: string[] }) {
    this.epoch++;
    for (const id of stale.profiles ?? []) this.profiles.delete(id);
    for (const id of stale.presence ?? []) this.invisible.delete(id);
  }
}
