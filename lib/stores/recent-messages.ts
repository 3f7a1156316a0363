import type { Redis } from 'ioredis';
import { LRUCache } from 'lru-cache';
import type { WireMessage } from '../schemas/wire';

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
  /** the conversation's stored messages changed (retention, a dissolved room) */
  forget(conversationId: string): Promise<void>;
  /**
   * A stored message changed (§8: edit, reaction, recall, pin): its copy in the run, if there is one,
   * is replaced when this one is newer by `rev`; one grown too large for the run drops the run.
   */
  replace(message: WireMessage): Promise<void>;
}

/** messages kept per conversation: the largest history page */
const PER_CONVERSATION = 100;
/**
 * A message larger than this is not kept (the run restarts after it, so pages that include it are
 * read from the database): with the per-conversation count it bounds one conversation's run to
 * 800 KB, where 64 KiB messages would make it 6.4 MB.
 */
export const ITEM_MAX_BYTES = 8 * 1024;

/** An upper bound of a message's size in memory and as JSON, without serializing it. */
export const approxBytes = (m: WireMessage) => 320 + 2 * m.content.length + (m.extra ? 2 * JSON.stringify(m.extra).length : 0);

const cacheable = (m: WireMessage) => approxBytes(m) <= ITEM_MAX_BYTES;

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

/** What of a page read from the database (newest first) a run keeps, oldest first: back to the first large message. */
function seedRun(newestFirst: WireMessage[]): WireMessage[] {
  const kept: WireMessage[] = [];
  for (const m of newestFirst.slice(0, PER_CONVERSATION)) {
    if (!cacheable(m)) break; // the run must stay contiguous
    kept.unshift(m);
  }
  return kept;
}

interface Run {
  messages: WireMessage[];
  bytes: number;
}

/** One worker's memory, bounded by bytes (`maxBytes` over all conversations), least recently used out first. */
export class MemoryRecentMessages implements RecentMessages {
  private readonly runs: LRUCache<string, Run>;

  constructor(opts: { maxBytes: number }) {
    this.runs = new LRUCache({ maxSize: opts.maxBytes, sizeCalculation: run => Math.max(1, run.bytes) });
  }

  async append(messages: WireMessage[]) {
    for (const m of messages) {
      if (!cacheable(m)) continue;
      const run = this.runs.get(m.conversationId);
      const top = run?.messages[run.messages.length - 1];
      if (run && top && m.seq === top.seq + 1) {
        run.messages.push(m);
        run.bytes += approxBytes(m);
        if (run.messages.length > PER_CONVERSATION) {
          for (const gone of run.messages.splice(0, run.messages.length - PER_CONVERSATION)) run.bytes -= approxBytes(gone);
        }
        this.runs.set(m.conversationId, run); // its size changed
      } else if (!top || m.seq > top.seq + 1) {
        // a first message, or one after a gap: what is known starts here
        this.runs.set(m.conversationId, { messages: [ m ], bytes: approxBytes(m) });
      }
    }
  }

  async seed(conversationId: string, newestFirst: WireMessage[], lastSeq: number) {
    if (!newestFirst.length || newestFirst[0].seq !== lastSeq || !contiguous(newestFirst) || this.runs.has(conversationId)) return;
    const kept = seedRun(newestFirst);
    if (kept.length) this.runs.set(conversationId, { messages: kept, bytes: kept.reduce((n, m) => n + approxBytes(m), 0) });
  }

  async page(conversationId: string, lastSeq: number, after: number, before: number, limit: number) {
    return pageOf(this.runs.get(conversationId)?.messages ?? [], lastSeq, after, before, limit);
  }

  async forget(conversationId: string) {
    this.runs.delete(conversationId);
  }

  async replace(m: WireMessage) {
    const run = this.runs.peek(m.conversationId);
    const i = run ? run.messages.findIndex(x => x.seq === m.seq) : -1;
    if (!run || i < 0 || (run.messages[i].rev ?? 0) >= (m.rev ?? 0)) return;
    if (!cacheable(m)) {
      this.runs.delete(m.conversationId);
      return;
    }
    run.bytes += approxBytes(m) - approxBytes(run.messages[i]);
    // a new array: pages handed out earlier keep what they had
    run.messages = run.messages.map((x, k) => (k === i ? m : x));
    this.runs.set(m.conversationId, run); // its size changed
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

// Replaces the item of one seq when the new copy's rev is higher (ARGV: seq, rev, item, or '' to drop
// the list: the new copy is too large to keep).
const REPLACE = `
local items = redis.call('LRANGE', KEYS[1], 0, -1)
for i, item in ipairs(items) do
  if tonumber(string.match(item, '^(%d+)|')) == tonumber(ARGV[1]) then
    local ok, cur = pcall(cjson.decode, string.sub(item, string.find(item, '|', 1, true) + 1))
    local rev = (ok and type(cur) == 'table' and tonumber(cur.rev)) or 0
    if tonumber(ARGV[2]) <= rev then return 0 end
    if ARGV[3] == '' then redis.call('DEL', KEYS[1]) else redis.call('LSET', KEYS[1], i - 1, ARGV[3]) end
    return 1
  end
end
return 0
`;

export class RedisRecentMessages implements RecentMessages {
  /** `key(conversationId)`: the conversation's list */
  constructor(private readonly redis: Redis, private readonly key: (conversationId: string) => string, private readonly ttlMs = 24 * 3600 * 1000) {}

  async append(messages: WireMessage[]) {
    const byConversation = new Map<string, string[]>();
    for (const m of messages) {
      // skipped: the next message then comes after a gap and starts the list anew
      if (!cacheable(m)) continue;
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
    const items = seedRun(newestFirst).map(m => `${m.seq}|${JSON.stringify(m)}`);
    if (items.length) await this.redis.eval(SEED, 1, this.key(conversationId), this.ttlMs, ...items);
  }

  async page(conversationId: string, lastSeq: number, after: number, before: number, limit: number) {
    const items = await this.redis.lrange(this.key(conversationId), -PER_CONVERSATION, -1);
    return pageOf(items.map(item => JSON.parse(item.slice(item.indexOf('|') + 1)) as WireMessage), lastSeq, after, before, limit);
  }

  async forget(conversationId: string) {
    await this.redis.del(this.key(conversationId));
  }

  async replace(m: WireMessage) {
    await this.redis.eval(REPLACE, 1, this.key(m.conversationId), m.seq, m.rev ?? 0, cacheable(m) ? `${m.seq}|${JSON.stringify(m)}` : '');
  }
}
