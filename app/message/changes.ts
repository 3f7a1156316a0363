/**
 * The change feed (PROTOCOL §8 `sync_changes`): a device that was away learns every change of the
 * messages of its conversations (edits, reactions, recalls, pins, its own hides, retention
 * removals) with one call, in order, bounded, by cursor. Like messages: by cursor, without copies.
 *
 * - A **record** per change (`changes` collection: `{changeId, conversationId, message, seq, kind,
 *   user?}`), one whatever the number of members; `user` marks a change of that user alone (a hide).
 * - **`changeId`** comes from the change registry (lib/stores/change-registry.ts): increasing across
 *   the deployment, and in flight from its allocation until the record is stored. A reader reads
 *   only up to the **horizon**, just below the oldest id still in flight, so no writer can store a
 *   change under an id the reader has passed. A writer slower than `inflightMs` (readers gave up
 *   waiting for it) publishes its change again under a new id: the record names the message, and
 *   the reader hands out the message as stored then, so a repeat costs nothing but a line.
 * - Which conversations changed after a cursor: the registry's last change per conversation (and
 *   the membership's own, for hides), so a pull with nothing changed reads no record; with a few
 *   changed, it reads their records (one query) and their messages (by `_id`).
 * - The cursor is a change id; records older than `keepDays` are trimmed (app/schedule), and a
 *   cursor older than that, or one this deployment never gave, is refused (20002): the client
 *   reloads its history and starts again without a cursor.
 */
import { Types, type Model } from 'mongoose';
import { AppError, ErrorCode } from '../../lib/errors';
import { oid } from '../../lib/ids';
import { findByIds } from '../../lib/coalescing-loader';
import { IDS_PER_MS, type ChangeRegistry } from '../../lib/stores/change-registry';
import type { ChangesPage, MessageChange } from '../../lib/schemas/wire';
import type { ChangeDoc, ChangeKind } from '../model/change';
import type { ConversationDoc } from '../model/conversation';
import type { MembershipDoc } from '../model/membership';
import { toWire, type MessageDoc } from '../model/message';
import type { PointerWriter } from './pointer-writer';

/** What a record says: which message of which conversation changed, how, and for whom alone. */
export interface ChangeRecord {
  conversationId: string;
  message: Types.ObjectId;
  seq: number;
  kind: ChangeKind;
  user?: Types.ObjectId;
}

const DAY_MS = 24 * 3600 * 1000;
/** records removed per round by `trim` */
const TRIM_CHUNK = 500;
/** when a change record that could not be stored is tried again */
const REPUBLISH_DELAYS_MS = [ 1000, 5000, 30_000, 120_000, 600_000 ];

/** The oldest change id still kept `keepDays` after `nowMs`. */
export const keptSince = (nowMs: number, keepDays: number) => (nowMs - keepDays * DAY_MS) * IDS_PER_MS;

export class ChangeFeed {
  constructor(private readonly deps: {
    registry: ChangeRegistry;
    models: () => { Change: Model<ChangeDoc>; Conversation: Model<ConversationDoc>; Message: Model<MessageDoc> };
    pointers: PointerWriter;
    config: { pageSize: number; keepDays: number };
    logError: (msg: string, err: unknown) => void;
  }) {}

  /** A change is about to be made: its id, in flight (readers stop below it) until `publish` or `drop`. */
  begin(): Promise<number> {
    return this.deps.registry.allocate(1);
  }

  /** The change was not made after all: readers may pass its id. */
  async drop(changeId: number) {
    await this.deps.registry.release(changeId, new Map());
  }

  /**
   * The change is made: its record is stored, then readers may pass it. `raise` is called for a new
   * id when the first one was held too long (a change of one user's must be raised where that user's
   * reader looks, their membership, before it is released). The change is made whatever happens
   * here: a record that cannot be stored now (the database or Redis failing) is published again
   * later, under a new id, rather than failing the change.
   */
  async publish(changeId: number, record: ChangeRecord, raise?: (changeId: number) => Promise<void>) {
    try {
      await this.publishAs(changeId, record, raise);
    } catch (err) {
      this.deps.logError('[message] change record not stored, publishing it again later', err);
      await this.deps.registry.release(changeId, new Map()).catch(() => undefined);
      this.publishLater(record, raise, 0);
    }
  }

  private async publishAs(changeId: number, record: ChangeRecord, raise?: (changeId: number) => Promise<void>) {
    let id = changeId;
    for (;;) {
      await this.deps.models().Change.collection.insertOne({ _id: new Types.ObjectId(), changeId: id, ...record, at: new Date() });
      const { late } = await this.deps.registry.release(id, record.user ? new Map() : new Map([[ record.conversationId, id ]]));
      if (!record.user) this.deps.pointers.changeRecorded(record.conversationId, id);
      if (!late) return;
      id = await this.deps.registry.allocate(1);
      await raise?.(id);
    }
  }

  private publishLater(record: ChangeRecord, raise: ((changeId: number) => Promise<void>) | undefined, attempt: number) {
    if (attempt >= REPUBLISH_DELAYS_MS.length) {
      this.deps.logError(`[message] change record of ${record.message} given up after ${attempt} attempts`, null);
      return;
    }
    setTimeout(async () => {
      let id: number | null = null;
      try {
        id = await this.deps.registry.allocate(1);
        await raise?.(id);
        await this.publishAs(id, record, raise);
      } catch (err) {
        if (id !== null) await this.deps.registry.release(id, new Map()).catch(() => undefined);
        this.deps.logError('[message] change record still not stored', err);
        this.publishLater(record, raise, attempt + 1);
      }
    }, REPUBLISH_DELAYS_MS[attempt]).unref();
  }

  /** Many changes at once (retention removals): consecutive ids, one insert, one release. */
  async publishMany(records: ChangeRecord[]) {
    if (!records.length) return;
    for (;;) {
      const first = await this.deps.registry.allocate(records.length);
      const docs = records.map((r, i) => ({ _id: new Types.ObjectId(), changeId: first + i, ...r, at: new Date() }));
      const last = new Map<string, number>();
      for (const d of docs) last.set(d.conversationId, Math.max(last.get(d.conversationId) ?? 0, d.changeId));
      try {
        await this.deps.models().Change.collection.insertMany(docs);
      } catch (err) {
        await this.deps.registry.release(first, new Map());
        throw err;
      }
      const { late } = await this.deps.registry.release(first, last);
      for (const [ conversationId, changeId ] of last) this.deps.pointers.changeRecorded(conversationId, changeId);
      if (!late) return;
    }
  }

  /**
   * `sync_changes` for a user with these memberships: every change after `cursor` of a message they
   * can see (a member when it was sent), oldest change first, at most a page; each message once, as
   * stored now (`{_id, hidden}` when this user hid it, `{_id, removed}` when it is gone).
   */
  async page(userId: string, memberships: MembershipDoc[], cursor: string | undefined): Promise<ChangesPage> {
    const conversationIds = memberships.map(m => m.conversationId);
    const state = await this.deps.registry.state(conversationIds);
    if (cursor === undefined) return { changes: [], cursor: String(state.horizon), more: false };
    const after = Number(cursor);
    if (!Number.isSafeInteger(after) || after > Math.max(state.newest, (state.now + 1) * IDS_PER_MS)) {
      throw new AppError(ErrorCode.MISS_PARAMS, 'cursor: unknown to this server; reload the history and call sync_changes without a cursor');
    }
    if (after < keptSince(state.now, this.deps.config.keepDays)) {
      throw new AppError(ErrorCode.MISS_PARAMS, `cursor: older than the ${this.deps.config.keepDays} days of changes kept; reload the history and call sync_changes without a cursor`);
    }
    if (after >= state.horizon) return { changes: [], cursor: String(after), more: false };

    // conversations the registry does not know, for a cursor from before it knew everything: the store says
    const unknown = after < state.since ? conversationIds.filter(id => !state.last.has(id)) : [];
    const stored = unknown.length ? await this.storedLastChanges(unknown) : new Map<string, number>();
    const changed = memberships.filter(m => Math.max(state.last.get(m.conversationId) ?? 0, stored.get(m.conversationId) ?? 0, m.lastChangeId ?? 0) > after);
    if (!changed.length) return { changes: [], cursor: String(state.horizon), more: false };

    const { pageSize } = this.deps.config;
    const { Change, Message } = this.deps.models();
    const records = await Change.find({
      conversationId: changed.length === 1 ? changed[0].conversationId : { $in: changed.map(m => m.conversationId) },
      changeId: { $gt: after, $lte: state.horizon },
      user: { $in: [ null, oid(userId) ] },
    }, { changeId: 1, conversationId: 1, message: 1, seq: 1, kind: 1, user: 1 }).sort({ changeId: 1 }).limit(pageSize + 1).lean<ChangeDoc[]>();
    const more = records.length > pageSize;
    const page = records.slice(0, pageSize);
    const next = more ? page[page.length - 1].changeId : state.horizon;

    const byConversation = new Map(changed.map(m => [ m.conversationId, m ]));
    // each message once, where its latest change of the page is
    const latest = new Map<string, ChangeDoc>();
    for (const r of page) {
      const m = byConversation.get(r.conversationId);
      if (!m || r.seq <= (m.joinedSeq ?? 0)) continue;
      const id = String(r.message);
      latest.delete(id);
      latest.set(id, r);
    }
    const hidden = new Set(changed.flatMap(m => (m.hidden ?? []).map(String)));
    const toRead = [ ...latest ].filter(([ id, r ]) => r.kind !== 'removed' && !hidden.has(id)).map(([ id ]) => id);
    const docs = toRead.length ? await findByIds(toRead,
      id => Message.findById(id, { terms: 0 }).lean<MessageDoc>(),
      ids => Message.find({ _id: { $in: ids.map(oid) } }, { terms: 0 }).lean<MessageDoc[]>()) : new Map<string, MessageDoc>();
    const changes: MessageChange[] = [ ...latest ].map(([ id, r ]) => {
      if (hidden.has(id)) return { _id: id, hidden: true };
      const doc = r.kind === 'removed' ? undefined : docs.get(id);
      return doc ? toWire(doc) : { _id: id, removed: true };
    });
    return { changes, cursor: String(next), more };
  }

  /**
   * Removes records older than `keepDays` (an hour more, against clocks that differ a little), in
   * chunks; a cursor from before then is refused by `page`. Resolves with how many went.
   */
  async trim(): Promise<number> {
    const { Change } = this.deps.models();
    const cutoff = keptSince(Date.now() - 3600 * 1000, this.deps.config.keepDays);
    let removed = 0;
    for (;;) {
      const old = await Change.find({ changeId: { $lt: cutoff } }, { _id: 1 }).limit(TRIM_CHUNK).lean<Array<{ _id: Types.ObjectId }>>();
      if (!old.length) return removed;
      await Change.deleteMany({ _id: { $in: old.map(r => r._id) } });
      removed += old.length;
      if (old.length < TRIM_CHUNK) return removed;
    }
  }

  /** The last change of these conversations as the conversation documents have it. */
  private async storedLastChanges(ids: string[]): Promise<Map<string, number>> {
    const { Conversation } = this.deps.models();
    const docs = await findByIds(ids,
      id => Conversation.findById(id, { lastChangeId: 1 }).lean<{ _id: string; lastChangeId?: number }>(),
      many => Conversation.find({ _id: { $in: many } }, { lastChangeId: 1 }).lean<Array<{ _id: string; lastChangeId?: number }>>());
    return new Map([ ...docs ].map(([ id, d ]) => [ id, d.lastChangeId ?? 0 ]));
  }
}
