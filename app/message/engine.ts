/**
 * The message engine: everything between "a user may send this" and "it is stored, delivered, acked
 * and read" (ARCHITECTURE.md). It builds and owns its parts; services and controllers call the
 * methods below and nothing else of it.
 *
 *   send ──► group commit ──► send rules ──► committer ──► outbox (c_message) ──► seq knowledge ──► to_ack
 *   ack / read / hide ──► delivery writer (group-committed cursor writes) ──► receipts (to_reader)
 *   pull / history / conversations ──► seq knowledge + recent messages, then the store
 *
 * Parts: `SendRules` (may this be sent), `MessageCommitter` (seqs and the insert), `SeqKnowledge`
 * (each conversation's last seq and pointer), `DeliveryWriter` (acks, reads, hides), `Receipts`
 * (to_reader), `Notices` (system notices), the recent-messages store (lib/stores).
 * §8 message features: `SendExtras` (replies, mentions), `MessageMutations` (every change of a
 * stored message) with `Edits` (edit, recall), `Reactions`, `Pins`; `ChangeFeed` (sync_changes),
 * `DeliveryTicks` (to_delivered), `MessageSearch`.
 */
import type { Model } from 'mongoose';
import type { Collection } from 'mongodb';
import { LRUCache } from 'lru-cache';
import { AppError, ErrorCode, isBusy } from '../../lib/errors';
import { isObjectId, oid } from '../../lib/ids';
import { GroupCommit, type Outcome } from '../../lib/group-commit';
import { CoalescingLoader } from '../../lib/coalescing-loader';
import { c2cConversationId, c2cParties, isC2cParty, isRoom, membershipId, TypeU } from '../../lib/conversation-ids';
import { bulkWriteInChunks } from '../../lib/bulk-write';
import type { ChangeRegistry, PresenceRegistry, RecentMessages, SeqRegistry } from '../../lib/stores';
import type { HistoryInput, MessageRef, ReadReceiptInput, SendMessageInput } from '../../lib/schemas/message';
import type { NoticeInput } from '../../lib/schemas/admin';
import type { ChangesPage, Page, ReadReceipt, SearchResult, SystemNotice, WireMessage } from '../../lib/schemas/wire';
import type { EditInput, PinInput, ReactInput, SearchInput, SettingsInput } from '../../lib/schemas/features';
import { toWire, type MessageDoc } from '../model/message';
import type { MembershipDoc } from '../model/membership';
import type { ConversationDoc } from '../model/conversation';
import type { ReceiptDoc } from '../model/receipt';
import type { NoticeDoc } from '../model/notice';
import type { NoticeReceiptDoc } from '../model/notice_receipt';
import type { UserDoc } from '../model/user';
import type { BlockDoc } from '../model/block';
import type { RoomDoc } from '../model/room';
import type { ChangeDoc } from '../model/change';
import type { PinDoc } from '../model/pin';
import type { Outbox } from '../io/outbox';
import { SendRules } from './send-rules';
import { MessageCommitter, type StoreOutcome } from './committer';
import { SeqKnowledge, type ConversationHead } from './seq-knowledge';
import { DeliveryWriter, ORPHANED_AFTER_MS, withUnfolded } from './delivery-writer';
import type { DeliveryBatchDoc } from '../model/delivery_batch';
import type { MessagePageDoc } from '../model/message_page';
import { MessagePages, type SeqRange } from './message-pages';
import { Receipts } from './receipts';
import { Notices } from './notices';
import { SendExtras, type SendExtrasOf } from './send-extras';
import { ChangeFeed } from './changes';
import { MessageMutations } from './mutations';
import { Edits } from './edits';
import { Reactions } from './reactions';
import { Pins } from './pins';
import { DeliveryTicks, RoomSizes } from './ticks';
import { MessageSearch } from './search';
import { indexTerms } from './search-index';
import { NO_HOOKS, type MessageHooks } from './hooks';

export interface EngineModels {
  Message: Model<MessageDoc>;
  Conversation: Model<ConversationDoc>;
  Membership: Model<MembershipDoc>;
  Receipt: Model<ReceiptDoc>;
  Notice: Model<NoticeDoc>;
  NoticeReceipt: Model<NoticeReceiptDoc>;
  User: Model<UserDoc>;
  Block: Model<BlockDoc>;
  Room: Model<RoomDoc>;
  Change: Model<ChangeDoc>;
  Pin: Model<PinDoc>;
  DeliveryBatch: Model<DeliveryBatchDoc>;
  MessagePage: Model<MessagePageDoc>;
}

export interface EngineConfig {
  commitBatchMax: number;
  replyTimeoutMs: number;
  recallWindow: number;
  offlinePageSize: number;
  historyPageSize: number;
  editWindowS: number;
  reactionsMaxEmoji: number;
  reactionsPerUser: number;
  excerptChars: number;
  pinsMax: number;
  /** messages older than this many days are removed (0: kept); their copies in message pages are not shown */
  retentionDays: number;
}

/** §8's settings (config.changes, config.search, presence.roomLimit). */
export interface FeatureConfig {
  changes: { pageSize: number; keepDays: number };
  search: { defaultLimit: number; indexedChars: number; maxTerms: number; maxTimeMs: number };
  /** rooms with more members get no delivery ticks (and no typing) */
  roomLimit: () => number;
}

export interface EngineDeps {
  models: () => EngineModels;
  seqRegistry: SeqRegistry;
  recent: RecentMessages;
  presence: () => PresenceRegistry;
  outbox: Outbox;
  config: EngineConfig;
  /**
   * spends `n` of `key`'s budget of store look-ups of messages this process does not know (acks,
   * reads); throws 20009 with when to retry past it
   */
  spendLookups: (key: string, n: number) => Promise<void>;
  features: FeatureConfig;
  /** §8: change feed ids and each conversation's last change */
  changeRegistry: ChangeRegistry;
  logError: (msg: string, err: unknown) => void;
  /** other processes share the database and the registries (Redis): their unfolded acks must be read */
  shared: boolean;
  /** what the engine tells webhooks, push and metrics, and asks `before.message` (hooks.ts) */
  hooks?: MessageHooks;
}

interface SendRequest {
  from: string;
  input: SendMessageInput;
  /** the sending socket, which gets no `meta.sync` copy */
  socketId?: string;
  /** §8: its quote and mentions, once resolved */
  extras?: SendExtrasOf;
  /** set when this request's batch stored it (false: its fp was stored before) */
  created?: boolean;
}

/**
 * Where a message is: what acks, reads, receipts and delivery ticks need to know of it; ids as
 * strings (each member's ack of a fan-out reads it, and would convert ObjectIds every time).
 */
interface Located {
  _id: string;
  conversationId: string;
  seq: number;
  from: string;
  fp: string;
  typeu: TypeU;
  to: string;
}

const locatedOf = (m: Pick<WireMessage, '_id' | 'conversationId' | 'seq' | 'from' | 'fp' | 'typeu' | 'to'>): Located =>
  ({ _id: m._id, conversationId: m.conversationId, seq: m.seq, from: m.from, fp: m.fp, typeu: m.typeu as TypeU, to: m.to });

/** Whether a member's ack of this message tells its sender (§8 ticks): in a room, or as one of a c2c pair. */
const tellsSender = (m: Located, userId: string) => isRoom(m.typeu) || isC2cParty(m.conversationId, userId);

/** A message looked up in the store (ObjectIds) as a `Located`. */
const locatedFromDoc = (m: Pick<MessageDoc, '_id' | 'conversationId' | 'seq' | 'from' | 'fp' | 'typeu' | 'to'>): Located =>
  ({ _id: String(m._id), conversationId: m.conversationId, seq: m.seq, from: String(m.from), fp: m.fp, typeu: m.typeu, to: String(m.to) });

/** One user's place in one conversation, with its conversation's head (for the conversation list). */
export interface ConversationEntry {
  membership: MembershipDoc;
  head: ConversationHead;
}

/** where recently stored or pulled messages are, by `_id`: acks and receipts name them, mostly soon after */
const LOCATED_MAX = 100_000;
/** store look-ups of one ack or read that run at once: one event cannot take the connection pool */
const LOOKUP_CONCURRENCY = 8;
/** §8: `all` mentions kept per conversation (and mention lists pruned past twice this) */
const MENTIONS_KEPT = 50;

export class MessageEngine {
  private readonly rules: SendRules;
  private readonly committer: MessageCommitter;
  private readonly seqs: SeqKnowledge;
  private readonly pages: MessagePages;
  private readonly delivery: DeliveryWriter;
  private readonly receipts: Receipts;
  private readonly notices: Notices;
  private readonly sends: GroupCommit<SendRequest, WireMessage>;
  private readonly located = new LRUCache<string, Located>({ max: LOCATED_MAX });
  /** each user's memberships, read for many (re)connecting users at once */
  private readonly memberships: CoalescingLoader<string, MembershipDoc[]>;
  private readonly extras: SendExtras;
  private readonly feed: ChangeFeed;
  private readonly edits: Edits;
  private readonly reactions: Reactions;
  private readonly pins: Pins;
  private readonly roomSizes: RoomSizes;
  private readonly ticks: DeliveryTicks;
  private readonly searcher: MessageSearch;
  private readonly hooks: MessageHooks;

  constructor(private readonly deps: EngineDeps) {
    const { models, config } = deps;
    this.hooks = deps.hooks ?? NO_HOOKS;
    const onError = (err: unknown) => deps.logError('[message] write failed', err);
    this.seqs = new SeqKnowledge({ registry: deps.seqRegistry, conversations: () => models().Conversation, messages: () => models().Message, pages: () => models().MessagePage, onError });
    this.pages = new MessagePages({
      pages: () => models().MessagePage,
      messages: () => models().Message,
      pointers: this.seqs.pointers,
      keptSince: () => (config.retentionDays ? Date.now() - config.retentionDays * 24 * 3600 * 1000 : 0),
    });
    this.rules = new SendRules(models);
    const { indexedChars, maxTerms } = deps.features.search;
    // mongoose types a model's driver collection loosely; it holds MembershipDoc documents
    this.delivery = new DeliveryWriter({
      memberships: () => models().Membership.collection as unknown as Collection<MembershipDoc>,
      batches: () => models().DeliveryBatch.collection as unknown as Collection<DeliveryBatchDoc>,
      shared: deps.shared,
      onError: err => deps.logError('[message] delivery state write failed', err),
    });
    // a conversation's first memberships are known as made: their first acks need no read of them
    this.committer = new MessageCommitter(models, this.seqs, content => indexTerms(content, { maxChars: indexedChars, maxTerms }),
      docs => { for (const doc of docs) this.delivery.observe(doc); });
    this.receipts = new Receipts({ models, recent: deps.recent, seqs: this.seqs, presence: deps.presence, outbox: deps.outbox });
    this.notices = new Notices(models, deps.outbox);
    this.extras = new SendExtras(models, config);
    this.feed = new ChangeFeed({ registry: deps.changeRegistry, models, pointers: this.seqs.pointers, config: deps.features.changes, logError: deps.logError });
    const mutations = new MessageMutations({
      messages: () => models().Message.collection as unknown as Collection<MessageDoc>,
      feed: this.feed, recent: deps.recent, pointers: this.seqs.pointers, outbox: deps.outbox, logError: deps.logError,
      updated: message => this.hooks.updated(message),
    });
    this.edits = new Edits({ mutations, models, config, search: deps.features.search, outbox: deps.outbox, delivery: this.delivery, pointers: this.seqs.pointers, logError: deps.logError });
    this.reactions = new Reactions({ mutations, models, config });
    this.pins = new Pins({ mutations, models, config });
    this.roomSizes = new RoomSizes(() => models().Room);
    this.ticks = new DeliveryTicks({ outbox: deps.outbox, roomSizes: this.roomSizes, roomLimit: deps.features.roomLimit, logError: deps.logError });
    this.searcher = new MessageSearch(models, deps.features.search);
    this.sends = new GroupCommit<SendRequest, WireMessage>({
      key: r => `${r.from}\0${r.input.fp}`,
      commit: batch => this.commitSends(batch),
      batchMax: config.commitBatchMax,
      timeoutMs: config.replyTimeoutMs,
      // busy, not failed (PROTOCOL §2): the client retries with the same fp, which finds it if it was stored
      timeoutError: () => deps.outbox.busy('message not stored in time: the server is busy, retry with the same fp'),
      failureError: err => {
        // no database connection free in time: busy, retry later with the same fp
        if (isBusy(err)) return deps.outbox.busy('message not stored: the server is busy, retry with the same fp');
        // the database failed: these senders get 50000 and retry with their fp
        deps.logError('[message] group commit failed', err);
        return new AppError(ErrorCode.SERVER_ERROR, 'message could not be stored');
      },
    });
    // memberships with the acks not folded into them yet (read first: app/message/delivery-writer.ts)
    this.memberships = new CoalescingLoader<string, MembershipDoc[]>(async users => {
      const unfolded = await this.delivery.unfoldedOf(users);
      const found = await models().Membership.find(users.length === 1 ? { user: oid(users[0]) } : { user: { $in: users.map(oid) } }).lean<MembershipDoc[]>();
      const byUser = new Map<string, MembershipDoc[]>(users.map(u => [ u, [] ]));
      for (const m of found) {
        this.delivery.observe(m);
        byUser.get(String(m.user))?.push(withUnfolded(m, unfolded.get(m._id)));
      }
      return byUser;
    });
  }

  // ---- sending -------------------------------------------------------------------------------

  /**
   * `to`: stores the message (group commit), delivers it (`c_message` to the recipients, with
   * `meta.sync` to the sender's other sockets) and resolves with it once it is stored and visible
   * to pulls. A retried fp resolves with the stored message and delivers nothing.
   */
  async send(from: string, input: SendMessageInput, socketId?: string): Promise<WireMessage> {
    return (await this.sendReporting(from, input, socketId)).message;
  }

  /**
   * `send`, saying whether this call stored the message (`created`) or found its fp stored before
   * (the server API answers 201 or 200). A `before.message` webhook, when registered, is asked first.
   */
  async sendReporting(from: string, input: SendMessageInput, socketId?: string): Promise<{ message: WireMessage; created: boolean }> {
    if (input.from !== undefined && input.from !== from) throw new AppError(ErrorCode.AUTH_FAILED, '`from` is not the token\'s user');
    const asked = this.hooks.beforeSend(from, input);
    const request: SendRequest = { from, input: asked ? await asked : input, socketId };
    const message = await this.sends.submit(request);
    return { message, created: request.created === true };
  }

  /** One batch of the group commit: rules, store, deliver, publish, then the senders are answered. */
  private async commitSends(batch: SendRequest[]): Promise<Array<Outcome<WireMessage>>> {
    const refusals = await this.rules.check(batch);
    await this.extras.resolve(batch, refusals);
    const accepted = batch.filter((_, i) => !refusals[i]);
    const stored = accepted.length ? await this.committer.store(accepted) : [];
    const byRequest = new Map<SendRequest, StoreOutcome>(accepted.map((r, i) => [ r, stored[i] ]));
    const fresh: MessageDoc[] = [];
    const freshWires: WireMessage[] = [];
    const earlier: MessageDoc[] = [];
    const outcomes = batch.map((request, i): Outcome<WireMessage> => {
      if (refusals[i]) return { error: refusals[i] };
      const outcome = byRequest.get(request)!;
      if ('retry' in outcome) return outcome;
      if ('earlier' in outcome) {
        earlier.push(outcome.earlier);
        return { ok: toWire(outcome.earlier) };
      }
      const wire = toWire(outcome.stored);
      request.created = true;
      fresh.push(outcome.stored);
      freshWires.push(wire);
      // known before the recipients can ack it: their acks need no look-up
      this.located.set(wire._id, locatedOf(wire));
      // delivered live before any pull can see it (pulls go by the seq registry, raised next): a
      // pull and its confirmed ack are never followed by the same message live
      this.deps.outbox.message(wire, request.socketId);
      return { ok: wire };
    });
    // pulls read the registry to know what is pending: it is raised before anyone is acked
    await Promise.all([ this.seqs.stored(fresh, true, freshWires), this.seqs.stored(earlier, false) ]);
    for (const doc of fresh) {
      this.delivery.markSent(String(doc.from), doc.conversationId, doc.seq);
      // §8: mentioned members count it until they read it (`all` is kept on the conversation)
      for (const m of doc.mentions ?? []) if (m !== 'all') this.delivery.mention(m, doc.conversationId, doc.seq);
    }
    this.deps.recent.append(freshWires).catch(err => this.deps.logError('[message] recent messages not cached', err));
    const replies = fresh.filter(d => d.replyTo);
    if (replies.length) this.edits.checkQuotes(replies).catch(err => this.deps.logError('[message] reply quotes not checked', err));
    if (freshWires.length) this.hooks.stored(freshWires);
    return outcomes;
  }

  /** A system notice (`sys_notice`) to one user or everyone, kept until each recipient acks it. */
  notify(input: NoticeInput): Promise<SystemNotice> {
    return this.notices.send(input);
  }

  // ---- delivery and read state ---------------------------------------------------------------

  /**
   * `c_message_ack`: the named messages count as delivered to this user, and only they: an ack
   * never covers an earlier message this user has not acked. System notices too. Resolves once
   * stored (group-committed with other acks). `budgetKey` (the socket) bounds the store look-ups
   * of messages this process does not know.
   */
  async ack(userId: string, refs: MessageRef[], budgetKey: string) {
    if (!refs.length) return;
    this.hooks.acked(refs.length);
    // the common case: one message this process delivered or pulled (no look-up, nothing to group)
    const known = refs.length === 1 && refs[0]._id ? this.located.get(refs[0]._id) : undefined;
    if (known) {
      if (await this.delivery.markAcked(userId, known.conversationId, [ known.seq ]) && tellsSender(known, userId)) this.ticks.acked(userId, [ known ]);
      return;
    }
    const messages = await this.locate(userId, refs, budgetKey);
    const found = new Set(messages.map(m => m._id));
    // ids that are not messages may be system notices
    const others = refs.filter(r => r._id && !found.has(r._id)).map(r => r._id!);
    const bySeq = new Map<string, number[]>();
    for (const m of messages) {
      const seqs = bySeq.get(m.conversationId);
      if (seqs) seqs.push(m.seq); else bySeq.set(m.conversationId, [ m.seq ]);
    }
    const member = new Set<string>();
    await Promise.all([
      others.length ? this.notices.ack(userId, others) : null,
      // the membership decides: a conversation this user is not in has none, and nothing is marked
      ...[ ...bySeq ].map(async ([ conversationId, seqs ]) => {
        if (await this.delivery.markAcked(userId, conversationId, seqs)) member.add(conversationId);
      }),
    ]);
    // §8: the senders' online devices see it reached this user (a member: a stranger's ack tells nothing)
    this.ticks.acked(userId, messages.filter(m => member.has(m.conversationId) && tellsSender(m, userId)));
  }

  /**
   * `to_reader`: everything up to the named message counts as read for this user. The senders of
   * the newly read messages get `to_reader` receipts, or find them queued when they come back.
   */
  async read(userId: string, input: ReadReceiptInput, budgetKey: string) {
    let conversationId: string;
    let seq: number;
    if ('_id' in input) {
      const [ message ] = await this.locate(userId, [{ _id: input._id, fp: undefined }], budgetKey);
      if (!message) throw new AppError(ErrorCode.NOT_FOUND, 'message not found');
      ({ conversationId, seq } = message);
    } else {
      ({ conversationId } = await this.resolveTimeline(userId, input.timelineId, input.typeu));
      seq = input.seq;
    }
    const { member, newlyRead } = await this.delivery.markRead(userId, conversationId, seq);
    if (!member) throw new AppError(ErrorCode.NOT_FOUND, 'message not found');
    if (newlyRead) await this.receipts.sendFor(userId, newlyRead);
  }

  /** `readed_message`: the receipts queued while this user was offline, oldest first; the queue is then emptied. */
  queuedReceipts(userId: string): Promise<ReadReceipt[]> {
    return this.receipts.pull(userId);
  }

  /** `DELETE /api/messages/:id`: hides a message for this user only (and it no longer waits in their pull). */
  async hide(userId: string, messageId: string) {
    const { Message, Membership } = this.deps.models();
    const message = await Message.findById(messageId, { conversationId: 1, seq: 1 }).lean<MessageDoc>();
    const ms = message && await Membership.findById(membershipId(userId, message.conversationId), { joinedSeq: 1 }).lean<MembershipDoc>();
    if (!message || !ms || message.seq <= ms.joinedSeq) throw new AppError(ErrorCode.NOT_FOUND, 'message not found');
    // §8: a change of this user's alone, where their change feed looks (their membership)
    const changeId = await this.feed.begin();
    try {
      await this.delivery.hide(userId, message.conversationId, String(message._id), message.seq, changeId);
    } catch (err) {
      await this.feed.drop(changeId);
      throw err;
    }
    await this.feed.publish(changeId, { conversationId: message.conversationId, message: message._id, seq: message.seq, kind: 'hide', user: oid(userId) },
      id => this.delivery.raiseChange(userId, message.conversationId, id));
  }

  /**
   * `to_undo`: the sender within the recall window, or a room's owner at any time, turns the
   * message into a recall marker; recipients get it as `c_message` with the same `_id` and `fp`.
   */
  async recall(userId: string, ref: MessageRef, socketId?: string): Promise<WireMessage> {
    return this.edits.recall(userId, ref, socketId);
  }

  // ---- reading -------------------------------------------------------------------------------

  /**
   * `offline_message`: what this user has not acked yet, oldest first, one page: messages and
   * system notices. The seq knowledge says which conversations have anything past the user's
   * cursor; only those are read, from the recent-messages cache when it covers them.
   */
  async pull(userId: string): Promise<{ messages: Array<WireMessage | SystemNotice>; more: boolean }> {
    const pageSize = this.deps.config.offlinePageSize;
    // this user's acks still being written must count
    await this.delivery.settled(userId);
    const [ messages, notices ] = await Promise.all([
      this.undelivered(userId, pageSize + 1),
      this.notices.pendingFor(userId, pageSize + 1),
    ]);
    const all = [ ...messages, ...notices ].sort((a, b) => ('sendTime' in a ? a.sendTime : a.time) - ('sendTime' in b ? b.sendTime : b.time));
    return { messages: all.slice(0, pageSize), more: all.length > pageSize };
  }

  private async undelivered(userId: string, limit: number): Promise<WireMessage[]> {
    const memberships = await this.memberships.load(userId) ?? [];
    if (!memberships.length) return [];
    const last = await this.seqs.visible(memberships.map(m => m.conversationId));
    const pending = memberships.filter(m => {
      const top = last.get(m.conversationId) ?? 0;
      const ackedAbove = new Set((m.acked ?? []).filter(s => s > m.deliveredSeq && s <= top)).size;
      return top - m.deliveredSeq > ackedAbove;
    });
    if (!pending.length) return [];
    const skip = new Set<string>();
    let skipCount = 0;
    for (const m of pending) {
      for (const h of m.hidden ?? []) skip.add(String(h));
      skipCount += (m.acked?.length ?? 0) + (m.hidden?.length ?? 0);
    }
    // what is pending is mostly recent: conversations the recent-messages cache covers are not read
    const cached: WireMessage[] = [];
    const uncovered: typeof pending = [];
    await Promise.all(pending.map(async m => {
      const top = last.get(m.conversationId)!;
      const page = top - m.deliveredSeq <= 100 ? await this.deps.recent.page(m.conversationId, top, m.deliveredSeq, top + 1, top - m.deliveredSeq) : null;
      if (page) cached.push(...page); else uncovered.push(m);
    }));
    const read = uncovered.length ? await this.oldestPending(uncovered.map(m => {
      const after = m.deliveredSeq;
      // within a conversation seq order is time order: no more than `limit + skipCount` of each can be in the page
      return { conversationId: m.conversationId, after, upTo: Math.min(last.get(m.conversationId)!, after + limit + skipCount) };
    }), limit + skipCount) : [];
    const docs = [ ...read, ...cached ].sort((a, b) => a.sendTime - b.sendTime || (a.conversationId < b.conversationId ? -1 : a.conversationId > b.conversationId ? 1 : a.seq - b.seq));
    const acked = new Map(pending.map(m => [ m.conversationId, new Set(m.acked ?? []) ]));
    const out: WireMessage[] = [];
    const own = new Map<string, number[]>();
    for (const d of docs) {
      if (d.from === userId) {
        // the user's own message not yet folded into their cursor: it is done for them
        const seqs = own.get(d.conversationId);
        if (seqs) seqs.push(d.seq); else own.set(d.conversationId, [ d.seq ]);
        continue;
      }
      if (acked.get(d.conversationId)!.has(d.seq)) continue;
      if (skip.has(d._id)) continue;
      out.push(d);
    }
    for (const [ conversationId, seqs ] of own) this.delivery.markAcked(userId, conversationId, seqs).catch(() => undefined);
    const page = out.slice(0, limit);
    // the acks that follow a pull name these: known here, they cost no look-up
    for (const m of page) this.located.set(m._id, locatedOf(m));
    return page;
  }

  /**
   * The oldest `count` messages of these seq ranges by time: from the message pages (on FerretDB any
   * read of the messages costs in proportion to all of them), and what they do not have by a range
   * query on the messages.
   */
  private async oldestPending(ranges: SeqRange[], count: number): Promise<WireMessage[]> {
    const { messages, unread } = await this.pages.oldest(ranges, count);
    if (!unread.length) return messages;
    const rest = await this.deps.models().Message.find({ $or: unread.map(r => ({ conversationId: r.conversationId, seq: { $gt: r.after, $lte: r.upTo } })) })
      .sort({ sendTime: 1, conversationId: 1, seq: 1 }).limit(count).lean<MessageDoc[]>();
    return [ ...messages, ...rest.map(toWire) ];
  }

  /**
   * `history_message` / `GET /api/messages`: newest first, before a seq (cursor mode) or by page
   * (page 1 = newest). Messages from before the user joined a room, or hidden by them, are not shown.
   */
  async history(userId: string, input: HistoryInput): Promise<WireMessage[] | Page<WireMessage>> {
    const { conversationId, membership } = await this.resolveTimeline(userId, input.timelineId, input.typeu);
    const filter: Record<string, unknown> = { conversationId, seq: { $gt: membership?.joinedSeq ?? 0 } };
    if (membership?.hidden?.length) filter._id = { $nin: membership.hidden };
    const { Message } = this.deps.models();
    if (input.page !== undefined) {
      const size = this.deps.config.historyPageSize;
      const [ total, docs ] = await Promise.all([
        Message.countDocuments(filter),
        Message.find(filter).sort({ seq: -1 }).skip((input.page - 1) * size).limit(size).lean<MessageDoc[]>(),
      ]);
      return { currentPage: input.page, lastPage: Math.max(1, Math.ceil(total / size)), docs: await this.withDelivered(userId, conversationId, docs.map(toWire)) };
    }
    const limit = input.limit ?? 20;
    const joinedSeq = membership?.joinedSeq ?? 0;
    const hidden = !!membership?.hidden?.length;
    const lastSeq = (await this.deps.seqRegistry.get([ conversationId ])).get(conversationId);
    if (!hidden && lastSeq !== undefined) {
      const cached = await this.deps.recent.page(conversationId, lastSeq, joinedSeq, input.before ?? Infinity, limit);
      if (cached) return this.withDelivered(userId, conversationId, cached);
    }
    if (input.before !== undefined) (filter.seq as Record<string, number>).$lt = input.before;
    const docs = (await Message.find(filter).sort({ seq: -1 }).limit(limit).lean<MessageDoc[]>()).map(toWire);
    if (!hidden && input.before === undefined && lastSeq !== undefined) await this.deps.recent.seed(conversationId, docs, lastSeq);
    return this.withDelivered(userId, conversationId, docs);
  }

  /**
   * §8: in c2c history, the reader's own messages say whether the peer acked them (`delivered`),
   * from the peer's membership (one read by `_id`, only for a page with own messages) and the peer's
   * acks not folded into it yet.
   */
  private async withDelivered(userId: string, conversationId: string, docs: WireMessage[]): Promise<WireMessage[]> {
    const peer = c2cParties(conversationId)?.find(p => p !== userId);
    if (!peer || !docs.some(d => d.from === userId)) return docs;
    const id = membershipId(peer, conversationId);
    const unfolded = await this.delivery.unfoldedOf([ peer ]);
    const stored = await this.deps.models().Membership.findById(id, { deliveredSeq: 1, acked: 1, sentSeq: 1 }).lean<Pick<MembershipDoc, 'deliveredSeq' | 'acked' | 'sentSeq'>>();
    const state = stored && withUnfolded(stored, unfolded.get(id));
    const acked = new Set(state?.acked ?? []);
    // copies: cached pages share their objects with the cache
    return docs.map(d => (d.from === userId ? { ...d, delivered: !!state && (d.seq <= state.deliveredSeq || acked.has(d.seq)) } : d));
  }

  /**
   * The user's conversations with their heads (last seq, newest message), for the conversation
   * list: all kept on the membership and the conversation, so no message is read.
   */
  async conversations(userId: string): Promise<ConversationEntry[]> {
    await this.delivery.settled(userId);
    const memberships = await this.memberships.load(userId) ?? [];
    if (!memberships.length) return [];
    const heads = await this.seqs.heads(memberships.map(m => m.conversationId));
    return memberships.flatMap(membership => {
      const head = heads.get(membership.conversationId);
      if (head) this.pruneMentions(membership, head);
      return head ? [{ membership, head }] : [];
    });
  }

  /**
   * §8: mention lists only grow between reads; long ones lose what no longer counts (read mentions;
   * `all` mentions beyond the newest 50), written with the next flushes.
   */
  private pruneMentions(m: MembershipDoc, head: ConversationHead) {
    if ((m.mentions?.length ?? 0) > MENTIONS_KEPT * 2) {
      const seen = Math.max(m.readSeq ?? 0, m.sentSeq ?? 0, m.joinedSeq ?? 0);
      this.delivery.unmention(String(m.user), m.conversationId, m.mentions!.filter(s => s <= seen));
    }
    if ((head.allMentions?.length ?? 0) > MENTIONS_KEPT * 2) {
      this.seqs.pointers.unmentionAll(m.conversationId, [ ...head.allMentions! ].sort((a, b) => b - a).slice(MENTIONS_KEPT));
    }
  }

  /**
   * The conversation a request names by timeline: c2c `"<a>@<b>"` in either order (the caller must
   * be a or b), c2g the room id (the caller must be a member). Not the caller's → 10006.
   */
  async resolveTimeline(userId: string, timelineId: string, typeu: TypeU): Promise<{ conversationId: string; membership: MembershipDoc | null }> {
    let conversationId: string;
    if (!isRoom(typeu)) {
      const parties = c2cParties(timelineId.toLowerCase());
      if (!parties || !parties.every(isObjectId)) throw new AppError(ErrorCode.MISS_PARAMS, 'timelineId must be "<userId>@<userId>" for typeu 1');
      conversationId = c2cConversationId(...parties);
      if (!isC2cParty(conversationId, userId)) throw new AppError(ErrorCode.FORBIDDEN, 'not your conversation');
    } else {
      conversationId = timelineId.toLowerCase();
      if (!isObjectId(conversationId)) throw new AppError(ErrorCode.MISS_PARAMS, 'timelineId must be a room id for typeu 2');
    }
    const membership = await this.deps.models().Membership.findById(membershipId(userId, conversationId)).lean<MembershipDoc>();
    if (isRoom(typeu) && !membership) throw new AppError(ErrorCode.FORBIDDEN, 'not a member of this room');
    return { conversationId, membership };
  }

  // ---- rooms ---------------------------------------------------------------------------------

  /** Room members joined (created, joined, added): their cursors start at the room's last seq. */
  async joinRoom(roomId: string, userIds: string[]) {
    if (!userIds.length) return;
    const { Conversation, Membership } = this.deps.models();
    const room = oid(roomId);
    await Conversation.updateOne({ _id: roomId }, { $setOnInsert: { typeu: TypeU.C2G, room, users: [], lastSeq: 0, updatedAt: new Date() } }, { upsert: true });
    const seq = await this.seqs.last(roomId);
    await bulkWriteInChunks(Membership, userIds.map(id => ({
      updateOne: {
        filter: { _id: membershipId(id, roomId) },
        update: { $setOnInsert: { user: oid(id), conversationId: roomId, typeu: TypeU.C2G, room, deliveredSeq: seq, acked: [], readSeq: seq, sentSeq: 0, joinedSeq: seq, hidden: [] } },
        upsert: true,
      },
    })));
  }

  /** Room members left or were removed: their place in the conversation goes with them. */
  async leaveRoom(roomId: string, userIds: string[]) {
    if (!userIds.length) return;
    await this.deps.models().Membership.deleteMany({ _id: { $in: userIds.map(id => membershipId(id, roomId)) } });
  }

  /** A dissolved room's conversation, memberships, messages and message pages are removed. */
  async dropRoom(roomId: string) {
    const { Conversation, Membership, Message, MessagePage } = this.deps.models();
    await Membership.deleteMany({ conversationId: roomId });
    await Message.deleteMany({ conversationId: roomId });
    // a room id is an ObjectId (hex): nothing in it is special to a regular expression
    if (isObjectId(roomId)) await MessagePage.deleteMany({ _id: { $regex: `^${roomId}:` } });
    await Conversation.deleteOne({ _id: roomId });
    this.seqs.forget(roomId);
    await this.deps.recent.forget(roomId);
  }

  /**
   * Messages are being removed from the store (retention): their change records first (§8: devices
   * learn `{_id, removed: true}`), then the cached runs of their conversations go, and a
   * conversation whose last message is one of them loses it (written before this returns).
   */
  async removed(messages: Array<Pick<MessageDoc, '_id' | 'conversationId' | 'seq'>>) {
    await this.feed.publishMany(messages.map(m => ({ conversationId: m.conversationId, message: m._id, seq: m.seq, kind: 'removed' as const })));
    const byConversation = new Map<string, string[]>();
    for (const m of messages) {
      const ids = byConversation.get(m.conversationId);
      if (ids) ids.push(String(m._id));
      else byConversation.set(m.conversationId, [ String(m._id) ]);
    }
    await Promise.all([ ...byConversation.keys() ].map(id => this.deps.recent.forget(id)));
    for (const [ conversationId, ids ] of byConversation) this.seqs.pointers.removed(conversationId, ids);
    await this.seqs.pointers.flush();
  }

  /**
   * Folds the delivery batches a stopped process left (app/message/delivery-writer.ts): those older
   * than ORPHANED_AFTER_MS, and at start without other processes all of them (then this process
   * must hold every unfolded ack before it serves a read). Resolves with how many were found.
   */
  adoptDeliveryBatches(atStart = false): Promise<number> {
    return this.delivery.adopt(atStart && !this.deps.shared ? 0 : ORPHANED_AFTER_MS);
  }

  /** Writes what is pending (shutdown). */
  async flush() {
    await this.delivery.folded();
    await this.seqs.pointers.flush();
  }

  // ---- §8 message features --------------------------------------------------------------------

  /** `to_edit`: the sender's own text message gets new content (app/message/edits.ts). */
  edit(userId: string, input: EditInput, socketId?: string): Promise<WireMessage> {
    return this.edits.edit(userId, input, socketId);
  }

  /** `to_react` (app/message/reactions.ts). */
  react(userId: string, input: ReactInput, socketId?: string): Promise<WireMessage> {
    return this.reactions.react(userId, input, socketId);
  }

  /** `to_pin` (app/message/pins.ts). */
  pin(userId: string, input: PinInput, socketId?: string): Promise<WireMessage> {
    return this.pins.pin(userId, input, socketId);
  }

  /** `GET /api/messages/pinned`: a conversation's pinned messages, newest pin first. */
  async pinned(userId: string, timelineId: string, typeu: TypeU): Promise<WireMessage[]> {
    const { conversationId, membership } = await this.resolveTimeline(userId, timelineId, typeu);
    return this.pins.pinned(conversationId, membership);
  }

  /** `sync_changes`: what changed in this user's conversations after `cursor` (app/message/changes.ts). */
  async syncChanges(userId: string, cursor: string | undefined): Promise<ChangesPage> {
    // this user's hides still being written must count
    await this.delivery.settled(userId);
    return this.feed.page(userId, await this.memberships.load(userId) ?? [], cursor);
  }

  /** `GET /api/messages/search` (app/message/search.ts), in one conversation or all of this user's. */
  async search(userId: string, input: SearchInput): Promise<SearchResult> {
    let memberships: MembershipDoc[];
    if (input.timelineId !== undefined) {
      const { membership } = await this.resolveTimeline(userId, input.timelineId, input.typeu as TypeU);
      memberships = membership ? [ membership ] : [];
    } else {
      memberships = await this.memberships.load(userId) ?? [];
    }
    return this.searcher.search(memberships, { q: input.q, before: input.before, limit: input.limit ?? this.deps.features.search.defaultLimit });
  }

  /**
   * `PATCH /api/conversations/:timelineId`: this user's settings of a conversation they have (c2c
   * without a message yet → 10005). Archiving keeps the conversation's last seq: a newer message
   * un-archives it with no write. Resolves with the conversation's entry once stored.
   */
  async updateSettings(userId: string, timelineId: string, typeu: TypeU, input: SettingsInput): Promise<ConversationEntry> {
    const { conversationId, membership } = await this.resolveTimeline(userId, timelineId, typeu);
    if (!membership) throw new AppError(ErrorCode.NOT_FOUND, 'no such conversation yet');
    const set: Record<string, unknown> = {};
    if (input.pinned !== undefined) set.pinned = input.pinned;
    if (input.muted !== undefined) set.muted = input.muted;
    if (input.archived !== undefined) {
      set.archived = input.archived;
      set.archivedSeq = input.archived ? await this.seqs.last(conversationId) : 0;
    }
    if (Object.keys(set).length) await this.delivery.settings(userId, conversationId, set);
    const head = (await this.seqs.heads([ conversationId ])).get(conversationId) ?? { lastSeq: 0, lastMessage: null, updatedAt: new Date(0) };
    return { membership: { ...membership, ...set }, head };
  }

  /** Change feed records older than `changes.keepDays` go (a schedule); how many. */
  trimChanges(): Promise<number> {
    return this.feed.trim();
  }

  /** Members of a room (cached a few seconds): room typing and delivery ticks stop at `presence.roomLimit`. */
  roomSize(roomId: string): Promise<number> {
    return this.roomSizes.of(roomId);
  }

  // ---- helpers -------------------------------------------------------------------------------

  /**
   * Messages by `_id` (those this process stored or handed out recently from memory, the rest by
   * `_id` from the store), or by `fp` among those sent to or by this user (an fp is unique per
   * sender only). Store look-ups are bounded per `budgetKey` (20009 past it) and run a few at a time.
   */
  private async locate(userId: string, refs: MessageRef[], budgetKey: string): Promise<Located[]> {
    const { Message } = this.deps.models();
    const out: Located[] = [];
    const missing = new Set<string>();
    for (const r of refs) {
      if (!r._id) continue;
      const hit = this.located.get(r._id);
      if (hit) out.push(hit); else missing.add(r._id);
    }
    const fps = [ ...new Set(refs.filter(r => !r._id && r.fp).map(r => r.fp!)) ];
    if (!missing.size && !fps.length) return out;
    await this.deps.spendLookups(budgetKey, missing.size + fps.length);
    const projection = { conversationId: 1, seq: 1, from: 1, fp: 1, typeu: 1, to: 1 };
    const ids = [ ...missing ];
    for (let i = 0; i < ids.length; i += LOOKUP_CONCURRENCY) {
      // by `_id` alone: the lookup FerretDB does without a scan
      const found = await Promise.all(ids.slice(i, i + LOOKUP_CONCURRENCY).map(id => Message.findById(id, projection).lean<MessageDoc>()));
      for (const m of found) if (m) out.push(locatedFromDoc(m));
    }
    if (fps.length) {
      const byFp = await Message.find({ fp: { $in: fps } }, projection).limit(fps.length * 4).lean<MessageDoc[]>();
      // c2c: the user must be one of the two; c2g: the membership decides later (a stranger has none)
      for (const m of byFp) if (!c2cParties(m.conversationId) || isC2cParty(m.conversationId, userId)) out.push(locatedFromDoc(m));
    }
    return out;
  }

}
