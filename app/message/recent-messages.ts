import { LRUCache } from 'lru-cache';
import type { WireMessage } from '../../lib/timeline';

interface Run {
  /** contiguous stored messages, oldest first: seqs `messages[0].seq` .. the last one's */
  messages: WireMessage[];
}

/**
 * The newest messages of recently active conversations, in this worker's memory, so that the
 * newest history page is not a read of the store. It only ever holds a contiguous run of stored
 * seqs, and a read is served from it only when the run ends at the conversation's last seq (from
 * the seq registry, which every worker raises before acking) and covers the page: anything else
 * falls back to the database. Written by the group commit; a recall or a removal drops the
 * conversation (on every worker: the caller broadcasts it).
 */
export class RecentMessages {
  private readonly runs: LRUCache<string, Run>;

  constructor(private readonly perConversation = 100, conversations = 10_000) {
    this.runs = new LRUCache({ max: conversations });
  }

  /** Messages just stored, in seq order per conversation. */
  append(messages: WireMessage[]) {
    for (const m of messages) {
      const run = this.runs.get(m.conversationId);
      const top = run?.messages[run.messages.length - 1];
      if (run && top && m.seq === top.seq + 1) {
        run.messages.push(m);
        if (run.messages.length > this.perConversation) run.messages.splice(0, run.messages.length - this.perConversation);
      } else if (!run || !top || m.seq > top.seq + 1) {
        // a first message, or another worker wrote in between: what is known starts here
        this.runs.set(m.conversationId, { messages: [ m ] });
      }
    }
  }

  /** A page read from the database that ends at the last seq and has no gap: kept for next time. */
  seed(conversationId: string, newestFirst: WireMessage[], lastSeq: number) {
    if (!newestFirst.length || newestFirst[0].seq !== lastSeq) return;
    for (let i = 1; i < newestFirst.length; i++) if (newestFirst[i].seq !== newestFirst[i - 1].seq - 1) return;
    if (this.runs.has(conversationId)) return;
    this.runs.set(conversationId, { messages: [ ...newestFirst ].reverse().slice(-this.perConversation) });
  }

  /**
   * Newest first, seq in (after, before), at most `limit`; null when the run cannot answer for
   * certain (not current, or the page reaches below what it holds).
   */
  page(conversationId: string, lastSeq: number, after: number, before: number, limit: number): WireMessage[] | null {
    const run = this.runs.get(conversationId);
    if (!run?.messages.length) return null;
    const msgs = run.messages;
    if (msgs[msgs.length - 1].seq !== lastSeq) return null;
    const out: WireMessage[] = [];
    for (let i = msgs.length - 1; i >= 0 && out.length < limit; i--) {
      const m = msgs[i];
      if (m.seq >= before) continue;
      if (m.seq <= after) return out;
      out.push(m);
    }
    // ran out of the run before the page was full: only certain if the run starts right after `after`
    return out.length === limit || msgs[0].seq <= after + 1 ? out : null;
  }

  forget(conversationId: string) {
    this.runs.delete(conversationId);
  }
}
