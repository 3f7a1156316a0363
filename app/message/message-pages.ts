import type { Model } from 'mongoose';
import type { WireMessage } from '../../lib/schemas/wire';
import { findByIds } from '../../lib/coalescing-loader';
import { toWire, type MessageDoc } from '../model/message';
import { decodeEntry, MESSAGE_PAGE_SEQS, pageIdOf, revKey, type MessagePageDoc } from '../model/message_page';
import type { PointerWriter } from './pointer-writer';

/** seqs `after + 1 … upTo` of a conversation */
export interface SeqRange {
  conversationId: string;
  after: number;
  upTo: number;
}

/** One range being read: the seq to take next and what the pages read so far hold. */
interface Reading {
  range: SeqRange;
  next: number;
  /** the newest version of each seq read so far */
  bySeq: Map<number, WireMessage>;
  /** the newest `rev` the pages know of each changed seq read so far */
  revs: Map<number, number>;
  /** seqs up to here are in `bySeq` or were never in a page */
  loadedUpTo: number;
}

const byTime = (a: WireMessage, b: WireMessage) => a.sendTime - b.sendTime || (a.conversationId < b.conversationId ? -1 : a.conversationId > b.conversationId ? 1 : a.seq - b.seq);

/**
 * Reads the oldest messages of seq ranges from the message pages (app/model/message_page.ts),
 * with what the pointer writer has not written yet, page by page as a merge by time needs them
 * (a pull of 200 over 8 conversations mostly reads one page of each). A message changed since its
 * copy (the page knows a newer `rev`) is read from the messages. A range whose pages miss a seq stops
 * there and is left to the caller (the messages collection).
 */
export class MessagePages {
  constructor(private readonly deps: {
    pages: () => Model<MessagePageDoc>;
    messages: () => Model<MessageDoc>;
    pointers: PointerWriter;
    /** messages sent before this are gone (retention): their copies are not shown */
    keptSince: () => number;
  }) {}

  /** The `count` oldest messages of the ranges by time, and what of the ranges the pages could not answer. */
  async oldest(ranges: SeqRange[], count: number): Promise<{ messages: WireMessage[]; unread: SeqRange[] }> {
    const readings: Reading[] = ranges.filter(r => r.upTo > r.after).map(range => {
      const bySeq = new Map<number, WireMessage>();
      for (const wire of this.deps.pointers.pendingEntries(range.conversationId)) keepNewest(bySeq, wire);
      return { range, next: range.after + 1, bySeq, revs: new Map(), loadedUpTo: range.after };
    });
    const unread: SeqRange[] = [];
    const messages: WireMessage[] = [];
    /** where in `messages` a copy older than its message's newest `rev` is */
    const stale = new Map<string, number>();
    const keptSince = this.deps.keptSince();
    let active = readings;
    while (messages.length < count && active.length) {
      await this.load(active.filter(r => r.next > r.loadedUpTo));
      // a seq the pages do not have: the rest of that range is read elsewhere
      active = active.filter(r => {
        if (r.bySeq.has(r.next)) return true;
        unread.push({ ...r.range, after: r.next - 1 });
        return false;
      });
      // take by time until a range needs its next page (its later seqs are later in time)
      while (messages.length < count && active.length && active.every(r => r.bySeq.has(r.next))) {
        let first = active[0];
        for (const r of active) if (byTime(r.bySeq.get(r.next)!, first.bySeq.get(first.next)!) < 0) first = r;
        const wire = first.bySeq.get(first.next)!;
        if (wire.sendTime >= keptSince) {
          if ((first.revs.get(wire.seq) ?? 0) > (wire.rev ?? 0)) stale.set(wire._id, messages.length);
          messages.push(wire);
        }
        if (++first.next > first.range.upTo) active = active.filter(r => r !== first);
      }
    }
    if (stale.size) await this.refresh(messages, stale);
    return { messages, unread };
  }

  /** Changed messages read as they are now (a page says which); those removed since leave. */
  private async refresh(messages: WireMessage[], stale: Map<string, number>) {
    const Message = this.deps.messages();
    const current = await findByIds([ ...stale.keys() ], id => Message.findById(id).lean<MessageDoc>(),
      ids => Message.find({ _id: { $in: ids } }).lean<MessageDoc[]>());
    const gone = new Set<number>();
    for (const [ id, at ] of stale) {
      const doc = current.get(id);
      if (doc) messages[at] = toWire(doc); else gone.add(at);
    }
    if (gone.size) messages.splice(0, messages.length, ...messages.filter((_, i) => !gone.has(i)));
  }

  /** Reads the next page of each of these ranges. */
  private async load(readings: Reading[]) {
    if (!readings.length) return;
    const Page = this.deps.pages();
    await Promise.all(readings.map(async r => {
      const page = await Page.findById(pageIdOf(r.range.conversationId, r.next)).lean<MessagePageDoc>();
      for (const text of page?.entries ?? []) keepNewest(r.bySeq, decodeEntry(text));
      for (const [ key, rev ] of Object.entries(page?.revs ?? {})) {
        const seq = Number(key.slice(1));
        if (key === revKey(seq) && rev > (r.revs.get(seq) ?? 0)) r.revs.set(seq, rev);
      }
      r.loadedUpTo = (Math.floor(r.next / MESSAGE_PAGE_SEQS) + 1) * MESSAGE_PAGE_SEQS - 1;
    }));
  }
}

/** A message is in a page once when stored and again with each change: the newest `rev` counts. */
function keepNewest(bySeq: Map<number, WireMessage>, wire: WireMessage) {
  const known = bySeq.get(wire.seq);
  if (!known || (wire.rev ?? 0) >= (known.rev ?? 0)) bySeq.set(wire.seq, wire);
}
