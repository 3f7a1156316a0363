import type { Model } from 'mongoose';
import { findByIds } from '../../lib/coalescing-loader';
import type { MessageDoc } from '../model/message';
import { decodeEntry, MESSAGE_PAGE_SEQS, pageIdOf, type MessagePageDoc, type PageEntry } from '../model/message_page';
import type { PointerWriter } from './pointer-writer';

/** seqs `after + 1 … upTo` of a conversation */
export interface SeqRange {
  conversationId: string;
  after: number;
  upTo: number;
}

/** message reads by `_id` in flight at once (the pool is shared with the message path) */
const READS_AT_ONCE = 16;

/**
 * Finds messages by seq without a query on the messages (app/model/message_page.ts): the pages say
 * where each seq is (with what the pointer writer has not written yet), then the messages are read
 * by `_id`, one at a time where the database filters nothing else through an index (FerretDB on
 * SQLite: `$in` on `_id` reads the whole collection there).
 */
export class MessagePages {
  constructor(private readonly deps: {
    pages: () => Model<MessagePageDoc>;
    messages: () => Model<MessageDoc>;
    pointers: PointerWriter;
    /** whether `{_id: {$in}}` uses an index (false: one read by `_id` each) */
    filtersUseIndexes: () => boolean;
  }) {}

  /**
   * Each range's entries in seq order, or null for a range with a seq no page knows (messages stored
   * before there were pages, or by a process that stopped before writing its pages).
   */
  async entries(ranges: SeqRange[]): Promise<Map<string, PageEntry[] | null>> {
    const pageIds = new Set<string>();
    for (const r of ranges) {
      for (let block = Math.floor((r.after + 1) / MESSAGE_PAGE_SEQS); block <= Math.floor(r.upTo / MESSAGE_PAGE_SEQS); block++) {
        pageIds.add(pageIdOf(r.conversationId, block * MESSAGE_PAGE_SEQS));
      }
    }
    const Page = this.deps.pages();
    const pages = await this.byId([ ...pageIds ], id => Page.findById(id).lean<MessagePageDoc>(),
      ids => Page.find({ _id: { $in: ids } }).lean<MessagePageDoc[]>());
    const out = new Map<string, PageEntry[] | null>();
    for (const r of ranges) {
      const bySeq = new Map<number, PageEntry>();
      const add = (e: PageEntry) => { if (e.seq > r.after && e.seq <= r.upTo) bySeq.set(e.seq, e); };
      for (const [ id, page ] of pages) {
        if (!id.startsWith(`${r.conversationId}:`)) continue;
        for (const text of page.entries) add(decodeEntry(text));
      }
      for (const e of this.deps.pointers.pendingEntries(r.conversationId)) add(e);
      out.set(r.conversationId, bySeq.size === r.upTo - r.after ? [ ...bySeq.values() ].sort((a, b) => a.seq - b.seq) : null);
    }
    return out;
  }

  /** These messages by `_id` (those removed since are missing). */
  async read(ids: string[]): Promise<MessageDoc[]> {
    const Message = this.deps.messages();
    const found = await this.byId(ids, id => Message.findById(id).lean<MessageDoc>(), many => Message.find({ _id: { $in: many } }).lean<MessageDoc[]>());
    return [ ...found.values() ];
  }

  private async byId<T extends { _id: unknown }>(ids: string[], one: (id: string) => Promise<T | null>, many: (ids: string[]) => Promise<T[]>): Promise<Map<string, T>> {
    if (this.deps.filtersUseIndexes()) return findByIds(ids, one, many);
    const found = new Map<string, T>();
    for (let i = 0; i < ids.length; i += READS_AT_ONCE) {
      for (const doc of await Promise.all(ids.slice(i, i + READS_AT_ONCE).map(one))) if (doc) found.set(String(doc._id), doc);
    }
    return found;
  }
}
