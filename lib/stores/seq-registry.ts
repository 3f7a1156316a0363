import type { Redis } from 'ioredis';
import { LRUCache } from 'lru-cache';

/**
 * The last stored seq of each conversation, raised by the group commit before the senders are
 * acked, so that a pull can tell without reading messages whether a conversation has anything past
 * a member's cursor. Shared by every worker through Redis when configured; otherwise the one
 * worker's memory is the whole truth. A conversation it does not know (never written since Redis
 * started, or evicted) is `undefined`: the caller falls back to the database.
 */
export interface SeqRegistry {
  /** raises each conversation's last seq to at least the given one */
  advance(entries: Map<string, number>): Promise<void>;
  /** the known last seqs; absent = unknown */
  get(conversationIds: string[]): Promise<Map<string, number>>;
}

export class MemorySeqRegistry implements SeqRegistry {
  private readonly seqs: LRUCache<string, number>;

  constructor(max = 200_000) {
    this.seqs = new LRUCache({ max });
  }

  async advance(entries: Map<string, number>) {
    for (const [ id, seq ] of entries) if ((this.seqs.get(id) ?? 0) < seq) this.seqs.set(id, seq);
  }

  async get(ids: string[]) {
    const out = new Map<string, number>();
    for (const id of ids) {
      const seq = this.seqs.get(id);
      if (seq !== undefined) out.set(id, seq);
    }
    return out;
  }
}

// raises fields of one hash to at least the given values: one key, so one hash slot in a cluster
const ADVANCE = `
for i = 1, #ARGV, 2 do
  local cur = tonumber(redis.call('HGET', KEYS[1], ARGV[i]) or '0')
  if tonumber(ARGV[i + 1]) > cur then redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
end
return 0
`;

/** Redis: one hash, conversation id → last seq (about 50 bytes a conversation). */
export class RedisSeqRegistry implements SeqRegistry {
  /** `key`: the one hash */
  constructor(private readonly redis: Redis, private readonly key: string) {}

  async advance(entries: Map<string, number>) {
    if (!entries.size) return;
    const args: Array<string | number> = [];
    for (const [ id, seq ] of entries) args.push(id, seq);
    await this.redis.eval(ADVANCE, 1, this.key, ...args);
  }

  async get(ids: string[]) {
    const out = new Map<string, number>();
    if (!ids.length) return out;
    const values = await this.redis.hmget(this.key, ...ids);
    ids.forEach((id, i) => {
      if (values[i] !== null) out.set(id, Number(values[i]));
    });
    return out;
  }
}
