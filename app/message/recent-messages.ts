import type { Redis } from 'ioredis';
import { LRUCache } from 'lru-cache';
import type { WireMessage } from '../../lib/timeline';

/**
 * The newest messages of recently active conversations, so that the newest history page is not a
 * read of the store. It only ever holds a contiguous run of stored seqs per conversation, and a
 * read is served from it only when the run ends at the conversation's last seq (from the seq
 * registry, raised before every ack) and covers the page: anything else falls back to the
 * database. Written after each group commit; a recall or a removal drops the conversation.
 * In Redis when configured (every worker and machine shares it), else in the one worker's memory.
 */
export interface RecentMessages {
  /** messages just stored, in seq order per conversation */
  append(messages: WireMessage[]): Promise<void>;
  /** a page read from the database, newest first: kept if it ends at the last seq without a gap */
  seed(conversationId: string, newestFirst: WireMessage[], lastSeq: number): Promise<void>;
  /** newest first, seq in (after, before), at most `limit`; null when the run cannot answer for certain */
  page(conversationId: string, lastSeq: number, after: number, before: number, limit: number): Promise<WireMessage[] | null>;
  /** the conversation's stored messages changed (recall, retention) */
  forget(conversationId: string): Promise<void>;
}

/** messages kept per conversation: the largest history page */
const PER_CONVERSATION = 100;

/** The page out of a run (oldest first), or null if the run does not cover it for certain. */
function pageOf(run: WireMessage[], lastSeq: number, after: number, before: number, limit: number): WireMessage[] | null {
  if (!run.length || run[run.length - 1].seq !== lastSeq) return null;
  const out: WireMessage[] = [];
  for (let i = run.length - 1; i >= 0 && out.length < limit; i--) {
    const m = run[i];
    if (m.seq >= before) continue;
    if (m.seq <= after) return out;
    out.push(m);
  }
  // the run ended before the page was full: certain only if it starts right after `after`
  return out.length === limit || run[0].seq <= after + 1 ? out : null;
}

const contiguous = (newestFirst: WireMessage[]) => newestFirst.every((m, i) => i === 0 || m.seq === newestFirst[i - 1].seq - 1);

export class MemoryRecentMessages implements RecentMessages {
  private readonly runs: LRUCache<string, WireMessage[]>;

  constructor(conversations = 10_000) {
    this.runs = new LRUCache({ max: conversations });
  }

  async append(messages: WireMessage[]) {
    for (const m of messages) {
      const run = this.runs.get(m.conversationId);
      const top = run?.[run.length - 1];
      if (run && top && m.seq === top.seq + 1) {
        run.push(m);
        if (run.length > PER_CONVERSATION) run.splice(0, run.length - PER_CONVERSATION);
      } else if (!top || m.seq > top.seq + 1) {
        // a first message, or one after a gap: what is known starts here
        this.runs.set(m.conversationId, [ m ]);
      }
    }
  }

  async seed(conversationId: string, newestFirst: WireMessage[], lastSeq: number) {
    if (!newestFirst.length || newestFirst[0].seq !== lastSeq || !contiguous(newestFirst) || this.runs.has(conversationId)) return;
    this.runs.set(conversationId, [ ...newestFirst ].reverse().slice(-PER_CONVERSATION));
  }

  async page(conversationId: string, lastSeq: number, after: number, before: number, limit: number) {
    return pageOf(this.runs.get(conversationId) ?? [], lastSeq, after, before, limit);
  }

  async forget(conversationId: string) {
    this.runs.delete(conversationId);
  }
}

// Appends "<seq>|<json>" items to one conversation's list, keeping it a contiguous run: an item
// right after the top is pushed, one after a gap starts the list anew, an older one is ignored
// (another worker's append came first). One key per call, so one hash slot in a cluster.
const APPEND = `
local max = tonumber(ARGV[1])
local ttl = tonumber(ARGV[2])
for i = 3, #ARGV do
  local seq = tonumber(string.match(ARGV[i], '^(%d+)|'))
  local top = redis.call('LINDEX', KEYS[1], -1)
  local topSeq = top and tonumber(string.match(top, '^(%d+)|')) or nil
  if topSeq == nil or seq > topSeq + 1 then
    redis.call('DEL', KEYS[1])
    redis.call('RPUSH', KEYS[1], ARGV[i])
  elseif seq == topSeq + 1 then
    redis.call('RPUSH', KEYS[1], ARGV[i])
  end
end
redis.call('LTRIM', KEYS[1], -max, -1)
redis.call('PEXPIRE', KEYS[1], ttl)
return 0
`;

// Sets a seeded run unless another one is there already.
const SEED = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('RPUSH', KEYS[1], unpack(ARGV, 2))
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[1]))
return 1
`;

export class RedisRecentMessages implements RecentMessages {
  constructor(private readonly redis: Redis, private readonly prefix: string, private readonly ttlMs = 24 * 3600 * 1000) {}

  private key(conversationId: string) {
    return `${this.prefix}:recent:{${conversationId}}`;
  }

  async append(messages: WireMessage[]) {
    const byConversation = new Map<string, string[]>();
    for (const m of messages) {
      const items = byConversation.get(m.conversationId);
      const item = `${m.seq}|${JSON.stringify(m)}`;
      if (items) items.push(item); else byConversation.set(m.conversationId, [ item ]);
    }
    const pipeline = this.redis.pipeline();
    for (const [ id, items ] of byConversation) pipeline.eval(APPEND, 1, this.key(id), PER_CONVERSATION, this.ttlMs, ...items);
    await pipeline.exec();
  }

  async seed(conversationId: string, newestFirst: WireMessage[], lastSeq: number) {
    if (!newestFirst.length || newestFirst[0].seq !== lastSeq || !contiguous(newestFirst)) return;
    const items = [ ...newestFirst ].reverse().slice(-PER_CONVERSATION).map(m => `${m.seq}|${JSON.stringify(m)}`);
    await this.redis.eval(SEED, 1, this.key(conversationId), this.ttlMs, ...items);
  }

  async page(conversationId: string, lastSeq: number, after: number, before: number, limit: number) {
    const items = await this.redis.lrange(this.key(conversationId), -PER_CONVERSATION, -1);
    return pageOf(items.map(item => JSON.parse(item.slice(item.indexOf('|') + 1)) as WireMessage), lastSeq, after, before, limit);
  }

  async forget(conversationId: string) {
    await this.redis.del(this.key(conversationId));
  }
}
