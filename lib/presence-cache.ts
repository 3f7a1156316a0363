import { LRUCache } from 'lru-cache';
import { CoalescingLoader } from './coalescing-loader';

/** What presence needs to know of a user, cached: who their contacts are, which rooms they are in. */
export interface PresenceProfile {
  /** friends and peers in rooms of at most `presence.roomLimit` members, minus blocks either way */
  contacts: Set<string>;
  /** every room the user is in */
  rooms: string[];
}

/** The server-side event by which workers drop users' cached presence data (Redis adapter). */
export const PRESENCE_STALE_EVENT = 'im:presence-stale';

/** How the cache reads what it lacks, for many users at once (the owner's queries). */
export interface PresenceReads {
  /** each user's stored presence setting (`online`, `invisible`, ...) */
  presence(userIds: string[]): Promise<Map<string, string>>;
  profiles(userIds: string[]): Promise<Map<string, PresenceProfile>>;
}

/**
 * Per-worker caches that keep a (re)connect to one database read: users' presence profiles and
 * whether they are invisible. What is missing is read coalesced: the users many (re)connecting
 * sockets ask for at once share one query. Whatever changes them (friends, blocks, rooms, a presence
 * setting) drops the affected users here and, through the adapter, on every other worker; entries
 * also expire, as a bound on staleness should a broadcast be lost.
 */
export class PresenceCache {
  private readonly profiles: LRUCache<string, PresenceProfile>;
  private readonly invisible: LRUCache<string, boolean>;
  private readonly presenceLoader: CoalescingLoader<string, string>;
  private readonly profileLoader: CoalescingLoader<string, PresenceProfile>;
  /** raised by every drop: a read that began before a drop must not be cached after it */
  private epoch = 0;

  constructor(reads: PresenceReads, max = 100_000, ttlMs = 5 * 60 * 1000) {
    this.profiles = new LRUCache({ max, ttl: ttlMs });
    this.invisible = new LRUCache({ max, ttl: ttlMs });
    this.presenceLoader = new CoalescingLoader(ids => reads.presence(ids));
    this.profileLoader = new CoalescingLoader(ids => reads.profiles(ids));
  }

  /** The users among `ids` who set themselves invisible. */
  async invisibleAmong(ids: string[]): Promise<Set<string>> {
    const missing = ids.filter(id => !this.invisible.has(id));
    const epoch = this.epoch;
    const found = new Map(await Promise.all(missing.map(async id => [ id, await this.presenceLoader.load(id) === 'invisible' ] as const)));
    // a read that began before a change is used, not kept
    if (epoch === this.epoch) for (const [ id, hidden ] of found) this.invisible.set(id, hidden);
    return new Set(ids.filter(id => this.invisible.get(id) ?? found.get(id)));
  }

  /** Each user's contacts and rooms. */
  async profilesOf(userIds: string[]): Promise<Map<string, PresenceProfile>> {
    const result = new Map<string, PresenceProfile>();
    await Promise.all(userIds.map(async id => {
      let profile = this.profiles.get(id);
      if (!profile) {
        const epoch = this.epoch;
        profile = await this.profileLoader.load(id) ?? { contacts: new Set(), rooms: [] };
        if (epoch === this.epoch) this.profiles.set(id, profile);
      }
      result.set(id, profile);
    }));
    return result;
  }

  drop(stale: { profiles?: string[]; presence?: string[] }) {
    this.epoch++;
    for (const id of stale.profiles ?? []) this.profiles.delete(id);
    for (const id of stale.presence ?? []) this.invisible.delete(id);
  }
}
