import type { Redis } from 'ioredis';

/**
 * Which users have /chat sockets, shared by every worker. `add` says whether the socket is its
 * user's first, `remove` whether it was the last: presence changes are announced only then.
 */
export interface PresenceRegistry {
  /**
   * registers a socket: `first` when the user had no live socket before; `gen` numbers the user's
   * connections in the order the registry saw them, also across a restart of the registry (the device
   * policy kicks only lower numbers); `live` counts the user's live sockets, this one included
   */
  add(userId: string, socketId: string): Promise<{ first: boolean; gen: number; live: number }>;
  /** forgets a socket; true when the user has no live socket left */
  remove(userId: string, socketId: string): Promise<boolean>;
  /** the users among `userIds` with at least one live socket */
  online(userIds: string[]): Promise<Set<string>>;
  /** marks this worker's sockets as still alive (Redis only; see RedisPresenceRegistry) */
  refresh(sockets: Array<{ userId: string; socketId: string }>): Promise<void>;
}

/** One process, no Redis: a set of socket ids per user. */
export class MemoryPresenceRegistry implements PresenceRegistry {
  private readonly sockets = new Map<string, Set<string>>();
  private gen = 0;

  async add(userId: string, socketId: string) {
    let set = this.sockets.get(userId);
    if (!set) this.sockets.set(userId, set = new Set());
    set.add(socketId);
    return { first: set.size === 1, gen: Date.now() * 1000 + (++this.gen % 1000), live: set.size };
  }

  async remove(userId: string, socketId: string) {
    const set = this.sockets.get(userId);
    set?.delete(socketId);
    if (set && set.size) return false;
    this.sockets.delete(userId);
    return true;
  }

  async online(userIds: string[]) {
    return new Set(userIds.filter(id => this.sockets.has(id)));
  }

  async refresh() {
    // nothing outlives this process, so nothing can go stale
  }
}

// Counts the live fields of a user's hash (all but the '#gen' counter), deleting those not refreshed since the cutoff.
const COUNT_LIVE = `
local function live(key, cutoff)
  local all = redis.call('HGETALL', key)
  local n = 0
  for i = 1, #all, 2 do
    if all[i] ~= '#gen' then
      if tonumber(all[i + 1]) < cutoff then redis.call('HDEL', key, all[i]) else n = n + 1 end
    end
  end
  return n
end
`;

/**
 * Redis: one hash per user, socket id → last time its worker vouched for it (ms). Each worker
 * re-stamps its own sockets every `heartbeatMs`; a field older than `staleMs` belongs to a worker
 * that died without cleaning up and is dropped when next counted, and the whole hash expires when
 * nobody re-stamps it. So a crash or a lost removal makes a user look online for at most `staleMs`,
 * never forever (a plain counter would stay wrong after one lost decrement). Add/remove and the
 * count run in one Lua script, so two workers cannot both see "first" or both miss "last". The field
 * `#gen` counts the user's connections; a connection's number is Redis's clock (ms) × 1000 plus that
 * count mod 1000, so numbers keep growing even when Redis restarts empty (a counter alone would start
 * again at 1 and make every older socket look newer). The device policy kicks only lower numbers.
 * Every script touches one key, and commands are not pipelined across users, so the keys may live on
 * different shards of a Redis Cluster (concurrent calls are in flight together: one round-trip).
 */
export class RedisPresenceRegistry implements PresenceRegistry {
  /** `key(userId)`: the user's hash */
  constructor(private readonly redis: Redis, private readonly opts: { key: (userId: string) => string; staleMs: number }) {
    redis.defineCommand('imPresenceAdd', {
      numberOfKeys: 1,
      lua: `${COUNT_LIVE}
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
local now = redis.call('TIME')
local gen = (tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)) * 1000 + redis.call('HINCRBY', KEYS[1], '#gen', 1) % 1000
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return { live(KEYS[1], tonumber(ARGV[3])), gen }`,
    });
    redis.defineCommand('imPresenceRemove', {
      numberOfKeys: 1,
      lua: `${COUNT_LIVE}
redis.call('HDEL', KEYS[1], ARGV[1])
return live(KEYS[1], tonumber(ARGV[2]))`,
    });
    // re-stamps a socket only if it is still registered, so a refresh racing a removal cannot revive it
    redis.defineCommand('imPresenceTouch', {
      numberOfKeys: 1,
      lua: `if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
end
return 0`,
    });
    redis.defineCommand('imPresenceCount', {
      numberOfKeys: 1,
      lua: `${COUNT_LIVE}
return live(KEYS[1], tonumber(ARGV[1]))`,
    });
  }

  private key(userId: string) {
    return this.opts.key(userId);
  }

  private get cutoff() {
    return Date.now() - this.opts.staleMs;
  }

  async add(userId: string, socketId: string) {
    const [ live, gen ] = await (this.redis as any).imPresenceAdd(this.key(userId), socketId, Date.now(), this.cutoff, this.opts.staleMs);
    return { first: Number(live) === 1, gen: Number(gen), live: Number(live) };
  }

  async remove(userId: string, socketId: string) {
    return Number(await (this.redis as any).imPresenceRemove(this.key(userId), socketId, this.cutoff)) === 0;
  }

  async online(userIds: string[]) {
    if (!userIds.length) return new Set<string>();
    const cutoff = this.cutoff;
    const counts: number[] = await Promise.all(userIds.map(id => (this.redis as any).imPresenceCount(this.key(id), cutoff)));
    return new Set(userIds.filter((_, i) => Number(counts[i]) > 0));
  }

  async refresh(sockets: Array<{ userId: string; socketId: string }>) {
    if (!sockets.length) return;
    const now = Date.now();
    await Promise.all(sockets.map(({ userId, socketId }) => (this.redis as any).imPresenceTouch(this.key(userId), socketId, now, this.opts.staleMs)));
  }
}
