import type { Redis } from 'ioredis';
import { LRUCache } from 'lru-cache';

/**
 * The change feed's shared clock and index (PROTOCOL §8 `sync_changes`; app/message/changes.ts):
 *
 * - **ids**: every change gets an id that increases across the deployment: `ms × 1024 + n`, taken
 *   from one clock (Redis's, or this process's when there is no Redis) and never below the last one
 *   handed out, so ids keep growing when Redis restarts empty;
 * - **in flight**: an id is "in flight" from its allocation until its writer has stored the change
 *   and released it. The **horizon** a reader may read up to is just below the oldest id in flight
 *   (or the newest id when none is): a change committed later can never carry an id at or below a
 *   horizon a reader already passed. An id in flight longer than `inflightMs` is taken for abandoned
 *   (its writer died) and stops holding readers back; a writer that was merely that slow learns it
 *   at release (`late`) and publishes its change again under a new id;
 * - **last change per conversation**, raised at release, so a reader knows without reading the store
 *   which conversations changed after its cursor. `since`: every change after it is known here; for
 *   older cursors the caller asks the store about the conversations this does not know.
 */
export interface ChangeRegistry {
  /** `count` consecutive ids, in flight until released; resolves with the first */
  allocate(count?: number): Promise<number>;
  /**
   * The ids from `first` are stored (or dropped): readers may pass them. Raises each conversation's
   * last change. `late`: it was in flight too long, readers may have passed it: publish again.
   */
  release(first: number, last: Map<string, number>): Promise<{ late: boolean }>;
  /** The horizon, `since`, the newest id handed out, the clock (ms), and these conversations' last change ids. */
  state(conversationIds: string[]): Promise<ChangeState>;
}

export interface ChangeState {
  horizon: number;
  since: number;
  newest: number;
  now: number;
  last: Map<string, number>;
}

/** ids per millisecond: an id is `ms × 1024 + n`, below 2^53 until the year 2248 */
export const IDS_PER_MS = 1024;

export class MemoryChangeRegistry implements ChangeRegistry {
  private newest: number;
  private since: number;
  private readonly inflight = new Set<number>();
  private readonly last: LRUCache<string, number>;

  constructor(private readonly opts: { inflightMs: number; max?: number; clock?: () => number }) {
    this.newest = this.now() * IDS_PER_MS;
    this.since = this.newest;
    this.last = new LRUCache<string, number>({
      max: opts.max ?? 200_000,
      // a forgotten conversation's changes are no longer known here: from then on only newer cursors are answered alone
      dispose: (value, _key, reason) => { if (reason === 'evict') this.since = Math.max(this.since, value); },
    });
  }

  private now() {
    return (this.opts.clock ?? Date.now)();
  }

  async allocate(count = 1) {
    const first = Math.max(this.now() * IDS_PER_MS, this.newest + 1);
    this.newest = first + count - 1;
    this.inflight.add(first);
    return first;
  }

  async release(first: number, last: Map<string, number>) {
    const held = this.inflight.delete(first);
    for (const [ id, changeId ] of last) if ((this.last.get(id) ?? 0) < changeId) this.last.set(id, changeId);
    return { late: !held || this.now() * IDS_PER_MS - first > this.opts.inflightMs * IDS_PER_MS };
  }

  async state(ids: string[]): Promise<ChangeState> {
    const now = this.now();
    let horizon = this.newest;
    for (const id of this.inflight) {
      if (id < (now - this.opts.inflightMs) * IDS_PER_MS) this.inflight.delete(id);
      else horizon = Math.min(horizon, id - 1);
    }
    const last = new Map<string, number>();
    for (const id of ids) {
      const v = this.last.get(id);
      if (v !== undefined) last.set(id, v);
    }
    return { horizon, since: this.since, newest: this.newest, now, last };
  }
}

// Lua numbers are doubles: ids (< 2^53) are exact, and written with %.0f (tostring would round them).
const NOW = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local function id(x) return string.format('%.0f', x) end
`;

// KEYS: newest, inflight (zset), since. ARGV: count. → the first id
const ALLOCATE = `${NOW}
local newest = tonumber(redis.call('GET', KEYS[1]) or '0')
local first = math.max(now * 1024, newest + 1)
redis.call('SET', KEYS[1], id(first + tonumber(ARGV[1]) - 1))
if redis.call('EXISTS', KEYS[3]) == 0 then redis.call('SET', KEYS[3], id(first)) end
redis.call('ZADD', KEYS[2], first, id(first))
return id(first)
`;

// KEYS: inflight, last (hash). ARGV: first, inflightMs, then conversation id / change id pairs. → 1 when late
const RELEASE = `${NOW}
local held = redis.call('ZREM', KEYS[1], ARGV[1])
for i = 3, #ARGV, 2 do
  local cur = tonumber(redis.call('HGET', KEYS[2], ARGV[i]) or '0')
  if tonumber(ARGV[i + 1]) > cur then redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1]) end
end
if held == 0 or now * 1024 - tonumber(ARGV[1]) > tonumber(ARGV[2]) * 1024 then return 1 end
return 0
`;

// KEYS: newest, inflight, since, last. ARGV: inflightMs, then conversation ids.
// → horizon, since, newest, now, then each conversation's last change id ('' when unknown)
const STATE = `${NOW}
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. id((now - tonumber(ARGV[1])) * 1024))
local newest = redis.call('GET', KEYS[1])
if not newest then
  newest = id(now * 1024)
  redis.call('SET', KEYS[1], newest)
  redis.call('SET', KEYS[3], newest)
end
local since = redis.call('GET', KEYS[3])
if not since then
  since = newest
  redis.call('SET', KEYS[3], since)
end
local horizon = newest
local oldest = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
if oldest[2] and tonumber(oldest[2]) - 1 < tonumber(newest) then horizon = id(tonumber(oldest[2]) - 1) end
local out = { horizon, since, newest, id(now) }
if #ARGV > 1 then
  local values = redis.call('HMGET', KEYS[4], unpack(ARGV, 2))
  for i = 1, #values do out[#out + 1] = values[i] or '' end
end
return out
`;

/** conversation ids read inside the state script; more are read right after it (still after the horizon) */
const STATE_IDS = 500;

/** Redis: four keys in one hash slot (`{feed}`), so it also runs on a Redis Cluster. */
export class RedisChangeRegistry implements ChangeRegistry {
  private readonly keys: { newest: string; inflight: string; since: string; last: string };

  constructor(private readonly redis: Redis, key: (part: string) => string, private readonly opts: { inflightMs: number }) {
    this.keys = { newest: key('newest'), inflight: key('inflight'), since: key('since'), last: key('last') };
  }

  async allocate(count = 1) {
    return Number(await this.redis.eval(ALLOCATE, 3, this.keys.newest, this.keys.inflight, this.keys.since, count));
  }

  async release(first: number, last: Map<string, number>) {
    const args: Array<string | number> = [];
    for (const [ id, changeId ] of last) args.push(id, changeId);
    const late = await this.redis.eval(RELEASE, 2, this.keys.inflight, this.keys.last, first, this.opts.inflightMs, ...args);
    return { late: Number(late) === 1 };
  }

  async state(ids: string[]): Promise<ChangeState> {
    const inside = ids.slice(0, STATE_IDS);
    const out = await this.redis.eval(STATE, 4, this.keys.newest, this.keys.inflight, this.keys.since, this.keys.last, this.opts.inflightMs, ...inside) as string[];
    const values = out.slice(4);
    // the rest after the horizon was taken: a change at or below it was released (and raised) before
    for (let i = STATE_IDS; i < ids.length; i += STATE_IDS) values.push(...(await this.redis.hmget(this.keys.last, ...ids.slice(i, i + STATE_IDS))).map(v => v ?? ''));
    const last = new Map<string, number>();
    ids.forEach((id, i) => { if (values[i]) last.set(id, Number(values[i])); });
    return { horizon: Number(out[0]), since: Number(out[1]), newest: Number(out[2]), now: Number(out[3]), last };
  }
}
