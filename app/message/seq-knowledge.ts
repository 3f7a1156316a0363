import type { Model } from 'mongoose';
import { LRUCache } from 'lru-cache';
import { CoalescingLoader, findByIds } from '../../lib/coalescing-loader';
import type { SeqRegistry } from '../../lib/stores';
import type { WireMessage } from '../../lib/schemas/wire';
import type { ConversationDoc } from '../model/conversation';
import type { MessageDoc } from '../model/message';
import type { MessagePageDoc } from '../model/message_page';
import { PointerWriter } from './pointer-writer';

/** how many conversations' counters a process remembers */
const COUNTERS_MAX = 100_000;

/** What is known of a conversation's end: its last seq, its newest message and when that came. */
export interface ConversationHead {
  lastSeq: number;
  lastMessage?: WireMessage | null;
  updatedAt: Date;
  /** §8: seqs of messages that mention `all` */
  allMentions?: number[];
}

/**
 * Everything known about each conversation's last seq, and the order in which to ask:
 *
 * - **visible** (what pulls, unread counts and the history cache go by): the seq registry (Redis or
 *   this worker's memory), raised after every commit before any sender is acked; else, for a
 *   conversation the registry has not seen since it started, the pointer on the conversation
 *   document (read by `_id`, coalesced), which trails by at most a moment.
 * - **for allocation** (the committer's next seq): this process's own counter; else the registry;
 *   else the pointer; after a collision with another process, the newest stored message (both may
 *   trail). The unique (conversationId, seq) index makes a stale counter safe: it collides, and the
 *   counter is reloaded.
 * - **authoritative** (where a room newcomer's cursors start): the registry and this process's
 *   counter, else the newest stored message.
 *
 * Writes: `stored()` after every commit raises the registry and the counters and marks the
 * conversation pointers (written a moment later, coalesced, by the pointer writer).
 */
export class SeqKnowledge {
  /** last stored seq per conversation as this process allocated it */
  private readonly counters = new LRUCache<string, number>({ max: COUNTERS_MAX });
  /** conversations whose counter must be reloaded from the messages (after a collision) */
  private readonly stale = new Set<string>();
  private readonly pointerSeqs: CoalescingLoader<string, number>;
  readonly pointers: PointerWriter;

  constructor(private readonly deps: {
    registry: SeqRegistry;
    conversations: () => Model<ConversationDoc>;
    messages: () => Model<MessageDoc>;
    onError: (err: unknown) => void;
    pointerIntervalMs?: number;
    /** where the pointer writer also records each new message by seq (app/model/message_page.ts) */
    pages?: () => Model<MessagePageDoc>;
  }) {
    this.pointers = new PointerWriter(deps.conversations, deps.pointerIntervalMs ?? 200, deps.onError, deps.pages);
    this.pointerSeqs = new CoalescingLoader<string, number>(async ids => {
      const Conversation = deps.conversations();
      const convs = await findByIds(ids,
        id => Conversation.findById(id, { lastSeq: 1 }).lean<{ _id: string; lastSeq: number }>(),
        many => Conversation.find({ _id: { $in: many } }, { lastSeq: 1 }).lean<Array<{ _id: string; lastSeq: number }>>());
      return new Map([ ...convs ].map(([ id, c ]) => [ id, c.lastSeq ]));
    });
  }

  /** The last seq clients may see of each conversation; absent = no such conversation. */
  async visible(ids: string[]): Promise<Map<string, number>> {
    const known = await this.deps.registry.get(ids);
    await Promise.all(ids.filter(id => !known.has(id)).map(async id => {
      const seq = await this.pointerSeqs.load(id);
      if (seq !== undefined) known.set(id, seq);
    }));
    return known;
  }

  /** Loads the counters the committer lacks (or must reload) for these conversations. */
  async prepare(ids: string[]): Promise<void> {
    const missing = ids.filter(id => !this.counters.has(id) || this.stale.has(id));
    if (!missing.length) return;
    const registry = await this.deps.registry.get(missing);
    await Promise.all(missing.map(async id => {
      let seq: number | undefined;
      if (this.stale.has(id)) {
        const newest = await this.newestStored(id);
        if (newest !== undefined) seq = Math.max(newest, registry.get(id) ?? 0);
      } else {
        seq = registry.get(id) ?? await this.pointerSeqs.load(id);
      }
      if (seq === undefined) return; // a new conversation: `created` sets it
      this.counters.set(id, seq);
      this.stale.delete(id);
    }));
  }

  /** This process's counter: the last seq it knows is taken; undefined = a conversation not created yet. */
  counter(id: string): number | undefined {
    return this.stale.has(id) ? undefined : this.counters.get(id);
  }

  /** Conversations this process just created (their first seq is 1). */
  created(ids: string[]) {
    for (const id of ids) if (!this.counters.has(id)) this.counters.set(id, 0);
  }

  /** Another process took a seq this one allocated: count again from the newest stored message. */
  collided(id: string) {
    this.stale.add(id);
  }

  /**
   * Messages were stored (or found stored): the registry is raised, so pulls see them, and the
   * pointers are marked (with `wires`, the messages as clients get them, when the caller made them
   * already). Resolves once the registry has them: only then may their senders be acked.
   */
  async stored(docs: MessageDoc[], fresh = true, wires?: WireMessage[]): Promise<void> {
    const advanced = new Map<string, number>();
    for (const doc of docs) {
      if ((advanced.get(doc.conversationId) ?? 0) < doc.seq) advanced.set(doc.conversationId, doc.seq);
      if (fresh && (this.counters.get(doc.conversationId) ?? 0) < doc.seq) this.counters.set(doc.conversationId, doc.seq);
    }
    await this.deps.registry.advance(advanced);
    if (fresh) this.pointers.mark(docs, wires);
  }

  /** The authoritative last seq (a room newcomer's cursors start there). */
  async last(id: string): Promise<number> {
    const known = (await this.deps.registry.get([ id ])).get(id);
    if (known !== undefined) return Math.max(known, this.counters.get(id) ?? 0);
    return await this.newestStored(id, false) ?? 0;
  }

  /**
   * The head of each conversation for the conversation list: the conversation document, with this
   * process's newer pointers not written yet and the registry's newer last seq.
   */
  async heads(ids: string[]): Promise<Map<string, ConversationHead & { doc: ConversationDoc }>> {
    // what is not written yet, before the read and after it: a write that ends while the documents are
    // read leaves neither the pending list nor (possibly) the documents that were read
    const pendingBefore = this.pointers.pending(ids);
    const changesBefore = this.pointers.pendingChanges(ids);
    const mentionsBefore = this.pointers.pendingMentions(ids);
    const [ docs, registry ] = await Promise.all([
      this.deps.conversations().find({ _id: { $in: ids } }).lean<ConversationDoc[]>(),
      this.deps.registry.get(ids),
    ]);
    const pending = newest(pendingBefore, this.pointers.pending(ids), (a, b) => a.seq > b.seq);
    const changes = newest(changesBefore, this.pointers.pendingChanges(ids), (a, b) => a.seq > b.seq || (a.seq === b.seq && (a.rev ?? 0) > (b.rev ?? 0)));
    const mentionsAfter = this.pointers.pendingMentions(ids);
    const out = new Map<string, ConversationHead & { doc: ConversationDoc }>();
    for (const doc of docs) {
      const allMentions = withPending(doc.allMentions, mentionsBefore.get(doc._id), mentionsAfter.get(doc._id));
      const head = { lastSeq: doc.lastSeq, lastMessage: doc.last?.message ?? doc.lastMessage, updatedAt: new Date(doc.updatedAt), allMentions, doc };
      const newer = pending.get(doc._id);
      if (newer && (head.lastMessage?.seq ?? 0) < newer.seq) Object.assign(head, { lastMessage: newer.wire, updatedAt: newer.sendTime });
      // a change of the last message not written yet (§8)
      const changed = changes.get(doc._id);
      if (changed && head.lastMessage && changed.seq === head.lastMessage.seq && (changed.rev ?? 0) > (head.lastMessage.rev ?? 0)) head.lastMessage = changed;
      head.lastSeq = Math.max(head.lastSeq, head.lastMessage?.seq ?? 0, registry.get(doc._id) ?? 0);
      out.set(doc._id, head);
    }
    return out;
  }

  /** Forgets a conversation (a dissolved room). */
  forget(id: string) {
    this.counters.delete(id);
    this.stale.delete(id);
  }

  /** The newest stored message's seq; without one, 0 if the conversation exists (when `checkExists`), else undefined. */
  private async newestStored(id: string, checkExists = true): Promise<number | undefined> {
    const [ newest ] = await this.deps.messages().find({ conversationId: id }, { seq: 1 }).sort({ seq: -1 }).limit(1).lean<Array<{ seq: number }>>();
    if (newest) return newest.seq;
    if (!checkExists) return undefined;
    return await this.deps.conversations().exists({ _id: id }) ? 0 : undefined;
  }
}

/** The newer entry of each key of two maps. */
function newest<T>(a: Map<string, T>, b: Map<string, T>, isNewer: (x: T, y: T) => boolean): Map<string, T> {
  const out = new Map(a);
  for (const [ key, value ] of b) {
    const other = out.get(key);
    if (!other || isNewer(value, other)) out.set(key, value);
  }
  return out;
}

/**
 * A conversation's `all` mentions with those not written yet: what was pending before the read or
 * after it (a write ending during the read is in neither list, nor perhaps in the document read).
 * A mention is added once (when stored) and taken out at most once after that, so removals go last.
 */
function withPending(stored: number[] | undefined, ...pending: Array<{ added: number[]; removed: number[] } | undefined>): number[] | undefined {
  if (!pending.some(Boolean)) return stored;
  const out = new Set(stored ?? []);
  for (const p of pending) for (const s of p?.added ?? []) out.add(s);
  for (const p of pending) for (const s of p?.removed ?? []) out.delete(s);
  return [ ...out ];
}
