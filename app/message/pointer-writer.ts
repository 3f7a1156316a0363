import type { Model } from 'mongoose';
import { bulkWriteInChunks } from '../../lib/bulk-write';
import type { WireMessage } from '../../lib/schemas/wire';
import type { ConversationDoc } from '../model/conversation';
import { encodeEntry, pageIdOf, revKey, type MessagePageDoc } from '../model/message_page';
import { toWire, type MessageDoc } from '../model/message';

/** A conversation's newest message as the pointer keeps it. */
export interface Pointer {
  seq: number;
  sendTime: Date;
  wire: WireMessage;
}

/** What is waiting to be written to one conversation document. */
interface Pending {
  /** the newest message stored */
  pointer?: Pointer;
  /** a stored message that changed (§8): it replaces the last message if it is that message, newer by `rev` */
  changed?: WireMessage;
  /** the newest change feed record (§8), for readers the change registry cannot answer */
  lastChangeId?: number;
  /** seqs of messages that mention `all` (§8), added */
  allMentions?: Set<number>;
  /** seqs to take out of `allMentions` (recalled, or old ones beyond what counts) */
  unmention?: Set<number>;
  /** ids of messages removed from the store (retention): `last` goes if it is one of them */
  removed?: Set<string>;
  /** messages stored since the last flush, for their message pages */
  entries?: WireMessage[];
  /** messages changed since the last flush, the newest version of each by seq (their pages get the `rev`) */
  revised?: Map<number, WireMessage>;
}

/**
 * Writes each conversation's `lastSeq`, `last` (the message itself, so that
 * `recent_conversation` reads no message) and `updatedAt` after the commit, coalesced: a busy
 * conversation costs one update per interval, not one per message. Nothing that decides delivery
 * reads them (the seq registry does that). Every field is raised with `$max` on a filter by `_id`
 * alone: correct whichever worker writes last, and the one update FerretDB finds without a scan.
 * Owned by the seq knowledge (app/message/seq-knowledge.ts).
 *
 * It is the one writer of conversation documents in this process, so §8's additions go through it
 * too (FerretDB applies updates as read-modify-write: two writers of one document would lose each
 * other's fields): a changed last message (`$max` compares `seq`, then `rev`), the conversation's
 * last change feed id, and the seqs of messages that mention `all`. With the pointers go the
 * message pages (app/model/message_page.ts): each new message, and the newest `rev` of each changed one.
 */
export class PointerWriter {
  private dirty = new Map<string, Pending>();
  /** the batch being written: still "not written yet" for readers until its write is done */
  private inflight = new Map<string, Pending>();
  private timer: NodeJS.Timeout | null = null;
  private writing: Promise<void> | null = null;
  private nextDelay: number;

  constructor(
    private readonly model: () => Model<ConversationDoc>,
    private readonly intervalMs: number,
    private readonly onError: (err: unknown) => void,
    private readonly pages?: () => Model<MessagePageDoc>,
  ) {
    this.nextDelay = intervalMs;
  }

  /** Messages stored; `wires`, when the caller made them, are theirs as clients get them (in the same order). */
  mark(messages: MessageDoc[], wires?: WireMessage[]) {
    for (const [ i, m ] of messages.entries()) {
      const entry = this.entry(m.conversationId);
      const prev = entry.pointer;
      const newest = !prev || prev.seq < m.seq;
      const wire = newest || this.pages ? wires?.[i] ?? toWire(m) : null;
      if (newest) entry.pointer = { seq: m.seq, sendTime: m.sendTime, wire: wire! };
      if (m.mentions?.includes('all')) (entry.allMentions ??= new Set()).add(m.seq);
      if (this.pages) (entry.entries ??= []).push(wire!);
    }
    this.schedule();
  }

  /** A stored message changed: if it is its conversation's last one, `last` follows. */
  changed(wire: WireMessage) {
    const entry = this.entry(wire.conversationId);
    if (!entry.changed || isNewer(wire, entry.changed)) entry.changed = wire;
    if (this.pages) {
      const known = (entry.revised ??= new Map()).get(wire.seq);
      if (!known || (wire.rev ?? 0) > (known.rev ?? 0)) entry.revised.set(wire.seq, wire);
    }
    this.schedule();
  }

  /** The conversation's newest change feed record (raised, never lowered). */
  changeRecorded(conversationId: string, changeId: number) {
    const entry = this.entry(conversationId);
    entry.lastChangeId = Math.max(entry.lastChangeId ?? 0, changeId);
    this.schedule();
  }

  /** These messages no longer count as mentioning `all` (a recall; or old ones). */
  unmentionAll(conversationId: string, seqs: number[]) {
    if (!seqs.length) return;
    const entry = this.entry(conversationId);
    entry.unmention ??= new Set();
    for (const s of seqs) entry.unmention.add(s);
    this.schedule();
  }

  /**
   * These messages were removed from the store (retention): the conversation loses `last` if it is
   * one of them. Written here, in turn with the other updates, because on FerretDB a second writer
   * of the document would race this process's `$max` updates and could put `last` back.
   */
  removed(conversationId: string, messageIds: string[]) {
    if (!messageIds.length) return;
    const entry = this.entry(conversationId);
    entry.removed ??= new Set();
    for (const id of messageIds) entry.removed.add(id);
    this.schedule();
  }

  /** The newest message of each of these conversations that is not written yet (or being written). */
  pending(conversationIds: string[]): Map<string, Pointer> {
    const out = new Map<string, Pointer>();
    for (const id of conversationIds) {
      const p = this.dirty.get(id)?.pointer ?? this.inflight.get(id)?.pointer;
      if (p) out.set(id, p);
    }
    return out;
  }

  /** Messages of this conversation stored or changed, not in their pages yet (or being written). */
  pendingEntries(conversationId: string): WireMessage[] {
    return [ this.inflight.get(conversationId), this.dirty.get(conversationId) ].flatMap(p => [ ...p?.entries ?? [], ...p?.revised?.values() ?? [] ]);
  }

  /** Changed messages of these conversations not written yet (each may or may not be its conversation's last). */
  pendingChanges(conversationIds: string[]): Map<string, WireMessage> {
    const out = new Map<string, WireMessage>();
    for (const id of conversationIds) {
      const a = this.dirty.get(id)?.changed;
      const b = this.inflight.get(id)?.changed;
      const c = a && b ? (isNewer(a, b) ? a : b) : a ?? b;
      if (c) out.set(id, c);
    }
    return out;
  }

  /** Seqs of `all` mentions of these conversations added and taken out, not written yet (or being written). */
  pendingMentions(conversationIds: string[]): Map<string, { added: number[]; removed: number[] }> {
    const out = new Map<string, { added: number[]; removed: number[] }>();
    for (const id of conversationIds) {
      const parts = [ this.inflight.get(id), this.dirty.get(id) ];
      const added = parts.flatMap(p => [ ...p?.allMentions ?? [] ]);
      const removed = parts.flatMap(p => [ ...p?.unmention ?? [] ]);
      if (added.length || removed.length) out.set(id, { added, removed });
    }
    return out;
  }

  /**
   * Writes what is pending now (on shutdown, and in tests); returns once everything pending at the
   * call is stored, also what another flush was writing meanwhile.
   */
  async flush() {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    // another flush may have begun a write while this one waited: each is waited for in turn
    while (this.writing) await this.writing;
    const batch = [ ...this.dirty ];
    if (!batch.length) return;
    this.inflight = this.dirty;
    this.dirty = new Map();
    const started = Date.now();
    // nobody waits for pointers (readers merge what is pending here): acks' and reads' writes go first
    const pages = this.pages && pageUpdatesOf(batch);
    this.writing = bulkWriteInChunks(this.model(), batch.flatMap(([ conversationId, p ]) => updatesOf(conversationId, p)), 'background')
      .catch(this.onError)
      .then(async () => { if (pages?.length) await bulkWriteInChunks(this.pages!(), pages, 'background'); })
      .catch(this.onError).finally(() => {
        this.writing = null;
        this.inflight = new Map();
      });
    await this.writing;
    // pointers take at most about a third of the database's time: after a slow flush the next waits longer
    this.nextDelay = Math.max(this.intervalMs, 2 * (Date.now() - started));
    this.schedule();
  }

  private entry(conversationId: string): Pending {
    let entry = this.dirty.get(conversationId);
    if (!entry) this.dirty.set(conversationId, entry = {});
    return entry;
  }

  private schedule() {
    if (this.dirty.size && !this.timer) this.timer = setTimeout(() => void this.flush(), this.nextDelay);
  }
}

/**
 * One conversation's updates, in order: `$max` of the pointer fields, then (another op: same field)
 * what leaves `allMentions`, then `last` unset if it is a removed message (a newer one raised just
 * before stays).
 */
function updatesOf(conversationId: string, p: Pending) {
  const max: Record<string, unknown> = {};
  if (p.pointer) Object.assign(max, { lastSeq: p.pointer.seq, updatedAt: p.pointer.sendTime });
  const last = p.pointer && p.changed ? (isNewer(p.changed, p.pointer.wire) ? p.changed : p.pointer.wire) : p.pointer?.wire ?? p.changed;
  if (last) max.last = lastOf(last);
  if (p.lastChangeId) max.lastChangeId = p.lastChangeId;
  const update: Record<string, unknown> = {};
  if (Object.keys(max).length) update.$max = max;
  if (p.allMentions?.size) update.$addToSet = { allMentions: { $each: [ ...p.allMentions ] } };
  const ops: Array<{ updateOne: { filter: { _id: string } & Record<string, unknown>; update: Record<string, unknown> } }> = [];
  if (Object.keys(update).length) ops.push({ updateOne: { filter: { _id: conversationId }, update } });
  if (p.unmention?.size) ops.push({ updateOne: { filter: { _id: conversationId }, update: { $pullAll: { allMentions: [ ...p.unmention ] } } } });
  if (p.removed?.size) {
    const ids = [ ...p.removed ];
    // `lastMessage`: where documents written before `last` keep it
    const filter = { _id: conversationId, $or: [ { 'last.message._id': { $in: ids } }, { 'lastMessage._id': { $in: ids } } ] };
    ops.push({ updateOne: { filter, update: { $unset: { last: 1, lastMessage: 1 } } } });
  }
  return ops;
}

/**
 * The message pages' updates: each page's new messages appended and its `newest` raised, the newest
 * `rev` of its changed messages raised; a page is made if missing.
 */
function pageUpdatesOf(batch: Array<[string, Pending]>): Array<{ updateOne: { filter: { _id: string }; update: Record<string, unknown>; upsert: true } }> {
  const byPage = new Map<string, { stored: WireMessage[]; revised: WireMessage[] }>();
  const pageOf = (conversationId: string, seq: number) => {
    const id = pageIdOf(conversationId, seq);
    let page = byPage.get(id);
    if (!page) byPage.set(id, page = { stored: [], revised: [] });
    return page;
  };
  for (const [ conversationId, p ] of batch) {
    for (const wire of p.entries ?? []) pageOf(conversationId, wire.seq).stored.push(wire);
    for (const wire of p.revised?.values() ?? []) pageOf(conversationId, wire.seq).revised.push(wire);
  }
  return [ ...byPage ].map(([ _id, { stored, revised } ]) => {
    // a page made by a change alone (its messages are older than the pages) has no copies and the oldest `newest`
    const max: Record<string, unknown> = { newest: new Date(stored.length ? Math.max(...stored.map(w => w.sendTime)) : 0) };
    for (const w of revised) max[`revs.${revKey(w.seq)}`] = w.rev ?? 0;
    const update: Record<string, unknown> = { $max: max };
    if (stored.length) update.$push = { entries: { $each: stored.map(encodeEntry) } };
    return { updateOne: { filter: { _id }, update, upsert: true as const } };
  });
}

/** Whether `a` is a later state of the conversation's end than `b`: a later message, or the same one changed since. */
const isNewer = (a: WireMessage, b: WireMessage) => a.seq > b.seq || (a.seq === b.seq && (a.rev ?? 0) > (b.rev ?? 0));

/**
 * What `$max` raises: `seq`, then `rev`, then the message. `$max` on a document compares its fields in
 * order, and FerretDB stores a document's `_id` as its first field, nested ones too: a message itself
 * would be compared by its `_id` first (and a string never loses to the number a later message
 * starts with), so it is wrapped in a document without an `_id`.
 */
function lastOf(wire: WireMessage): NonNullable<ConversationDoc['last']> {
  return { seq: wire.seq, rev: wire.rev ?? 0, message: wire };
}
