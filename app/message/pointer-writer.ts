import type { Model } from 'mongoose';
import { bulkWriteInChunks } from '../../lib/bulk-write';
import type { WireMessage } from '../../lib/schemas/wire';
import type { ConversationDoc } from '../model/conversation';
import { toWire, type MessageDoc } from '../model/message';

/** A conversation's newest message as the pointer keeps it. */
export interface Pointer {
  seq: number;
  sendTime: Date;
  /** the wire message with `seq` first: `$max` on a document compares its fields in order */
  wire: WireMessage;
}

/**
 * Writes each conversation's `lastSeq`, `lastMessage` (the message itself, so that
 * `recent_conversation` reads no message) and `updatedAt` after the commit, coalesced: a busy
 * conversation costs one update per interval, not one per message. Nothing that decides delivery
 * reads them (the seq registry does that). Every field is raised with `$max` on a filter by `_id`
 * alone: correct whichever worker writes last, and the one update FerretDB finds without a scan.
 * Owned by the seq knowledge (app/message/seq-knowledge.ts).
 */
export class PointerWriter {
  private dirty = new Map<string, Pointer>();
  /** the batch being written: still "not written yet" for readers until its write is done */
  private inflight = new Map<string, Pointer>();
  private timer: NodeJS.Timeout | null = null;
  private writing: Promise<void> | null = null;
  private nextDelay: number;

  constructor(private readonly model: () => Model<ConversationDoc>, private readonly intervalMs: number, private readonly onError: (err: unknown) => void) {
    this.nextDelay = intervalMs;
  }

  mark(messages: MessageDoc[]) {
    for (const m of messages) {
      const prev = this.dirty.get(m.conversationId);
      if (!prev || prev.seq < m.seq) this.dirty.set(m.conversationId, { seq: m.seq, sendTime: m.sendTime, wire: lastMessageOf(m) });
    }
    if (this.dirty.size && !this.timer) this.timer = setTimeout(() => void this.flush(), this.nextDelay);
  }

  /** The newest message of each of these conversations that is not written yet (or being written). */
  pending(conversationIds: string[]): Map<string, Pointer> {
    const out = new Map<string, Pointer>();
    for (const id of conversationIds) {
      const p = this.dirty.get(id) ?? this.inflight.get(id);
      if (p) out.set(id, p);
    }
    return out;
  }

  /** Writes what is pending now (on shutdown, and in tests). */
  async flush() {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.writing;
    const batch = [ ...this.dirty ];
    this.inflight = this.dirty;
    this.dirty = new Map();
    if (!batch.length) return;
    const started = Date.now();
    this.writing = bulkWriteInChunks(this.model(), batch.map(([ conversationId, p ]) => ({
      updateOne: {
        filter: { _id: conversationId },
        update: { $max: { lastSeq: p.seq, lastMessage: p.wire, updatedAt: p.sendTime } },
      },
    }))).catch(this.onError).finally(() => {
      this.writing = null;
      this.inflight = new Map();
    });
    await this.writing;
    // pointers take at most about a third of the database's time: after a slow flush the next waits longer
    this.nextDelay = Math.max(this.intervalMs, 2 * (Date.now() - started));
    if (this.dirty.size && !this.timer) this.timer = setTimeout(() => void this.flush(), this.nextDelay);
  }
}

/** The wire message with `seq` first: `$max` on a document compares its fields in order. */
function lastMessageOf(msg: MessageDoc): WireMessage {
  const { seq, ...rest } = toWire(msg);
  return { seq, ...rest };
}
