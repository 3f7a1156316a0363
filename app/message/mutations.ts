/**
 * Changes of stored messages (PROTOCOL §8: edits, reactions, pins, recalls), made one way:
 *
 *   read by `_id` → decide (the rule of that change; a refusal, or nothing to do) → compare-and-set
 *   on `rev` (+1) → its change feed record → the copies kept elsewhere (recent-messages cache,
 *   conversation pointer) → `c_message_update` to the members' devices but the acting socket.
 *
 * The compare-and-set makes it correct with any number of workers on MongoDB: a change decided on a
 * message that another worker changed meanwhile matches nothing and is decided again on the new one.
 * FerretDB's updates are not atomic, so changes of one message also take turns in this process.
 */
import type { Collection } from 'mongodb';
import { AppError, ErrorCode } from '../../lib/errors';
import { isObjectId, oid } from '../../lib/ids';
import { KeyedMutex } from '../../lib/keyed-mutex';
import type { RecentMessages } from '../../lib/stores';
import type { WireMessage } from '../../lib/schemas/wire';
import type { ChangeKind } from '../model/change';
import { toWire, type MessageDoc } from '../model/message';
import type { Outbox } from '../io/outbox';
import type { ChangeFeed } from './changes';
import type { PointerWriter } from './pointer-writer';

/** What a change does to the stored message. */
export interface Change {
  kind: ChangeKind;
  set?: Record<string, unknown>;
  unset?: string[];
}

/** A change's rule: a refusal (thrown), null when there is nothing to change, else the change. */
export type Decide = (doc: MessageDoc) => Promise<Change | null> | Change | null;

export interface Applied {
  /** the message as stored now */
  wire: WireMessage;
  /** the stored document now, and as it was before this change (the same when nothing changed) */
  doc: MessageDoc;
  before: MessageDoc;
  changed: boolean;
}

/** attempts when other changes of the same message keep coming first */
const ATTEMPTS = 10;

export class MessageMutations {
  private readonly turns = new KeyedMutex();

  constructor(private readonly deps: {
    messages: () => Collection<MessageDoc>;
    feed: ChangeFeed;
    recent: RecentMessages;
    pointers: PointerWriter;
    outbox: Outbox;
    /** told of every change (webhooks' `message.updated`) */
    updated: (message: WireMessage) => void;
    logError: (msg: string, err: unknown) => void;
  }) {}

  /** Applies `decide`'s change to the message `messageId`; unknown → 10005. */
  async apply(messageId: string, decide: Decide, opts: { socketId?: string; notify?: boolean } = {}): Promise<Applied> {
    if (!isObjectId(messageId)) throw new AppError(ErrorCode.NOT_FOUND, 'message not found');
    return this.turns.run(messageId, () => this.applyNow(oid(messageId), decide, opts));
  }

  private async applyNow(_id: ReturnType<typeof oid>, decide: Decide, opts: { socketId?: string; notify?: boolean }): Promise<Applied> {
    const messages = this.deps.messages();
    let changeId: number | null = null;
    try {
      for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
        const doc = await messages.findOne({ _id }, { projection: { terms: 0 } });
        if (!doc) throw new AppError(ErrorCode.NOT_FOUND, 'message not found');
        const change = await decide(doc);
        if (!change) return { wire: toWire(doc), doc, before: doc, changed: false };
        changeId ??= await this.deps.feed.begin();
        const update: Record<string, unknown> = { $inc: { rev: 1 } };
        if (change.set && Object.keys(change.set).length) update.$set = change.set;
        if (change.unset?.length) update.$unset = Object.fromEntries(change.unset.map(f => [ f, 1 ]));
        // no projection: FerretDB has none in findAndModify
        const after = (await messages.findOneAndUpdate({ _id, rev: doc.rev === undefined ? { $exists: false } : doc.rev } as never, update, { returnDocument: 'after', includeResultMetadata: true })).value;
        if (!after) continue; // another change came first: decide again on it
        const id = changeId;
        changeId = null;
        await this.deps.feed.publish(id, { conversationId: after.conversationId, message: after._id, seq: after.seq, kind: change.kind });
        const wire = toWire(after);
        this.deps.pointers.changed(wire);
        await this.deps.recent.replace(wire).catch(err => {
          this.deps.logError('[message] recent messages not updated', err);
          return this.deps.recent.forget(wire.conversationId).catch(() => undefined);
        });
        if (opts.notify !== false) this.deps.outbox.messageUpdate(wire, opts.socketId);
        this.deps.updated(wire);
        return { wire, doc: after, before: doc, changed: true };
      }
      throw new AppError(ErrorCode.SERVER_ERROR, 'the message kept changing, try again');
    } finally {
      if (changeId !== null) await this.deps.feed.drop(changeId).catch(err => this.deps.logError('[message] change id not released', err));
    }
  }
}
