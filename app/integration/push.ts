/**
 * Web Push to users with no /chat socket (PROTOCOL §9), with the `web-push` library for VAPID
 * (RFC 8292) and the payload's encryption (RFC 8291, aes128gcm); the request itself goes through
 * lib/outbound-http.ts, which resolves the endpoint's host, checks every address and connects to a
 * checked one, so a subscription (a URL a user gave us) cannot aim the server at its own network,
 * at subscribe time or later through DNS.
 *
 * After a batch of messages is stored (never on the send path's clock): each message's recipients
 * who have no socket, then those with a subscription (cached per process), one push per
 * conversation and user per `push.collapseS` (a gate shared by every worker), not for muted
 * conversations unless the message mentions them; the pushes go into the database queue (one job
 * per batch) so a restart loses none. While nobody has a subscription, none of this runs.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { LRUCache } from 'lru-cache';
import type { Model, Types } from 'mongoose';
import webpush from 'web-push';
import { AppError, ErrorCode } from '../../lib/errors';
import { checkHost, RefusedDestination, send, type AddressPolicy } from '../../lib/outbound-http';
import { insertIgnoringDuplicates } from '../../lib/duplicate-key';
import { isRoom, membershipId } from '../../lib/conversation-ids';
import { oid } from '../../lib/ids';
import type { ClaimedJob, ItemResult, JobHandler, NewJob } from '../../lib/job-queue';
import type { Metrics } from '../../lib/metrics';
import type { CollapseGate, PresenceRegistry } from '../../lib/stores';
import type { PushSubscriptionInput } from '../../lib/schemas/integration';
import type { WireMessage } from '../../lib/schemas/wire';
import type { PushSubscriptionDoc } from '../model/push_subscription';
import type { VapidKeyDoc } from '../model/vapid_key';
import type { UserDoc } from '../model/user';
import type { RoomDoc } from '../model/room';
import type { MembershipDoc } from '../model/membership';

export interface PushSettings {
  vapidPublicKey: string;
  vapidPrivateKey: string;
  subject: string;
  collapseS: number;
  preview: boolean;
  allowPrivate: boolean;
  caFile: string;
  ttlS: number;
  retryForS: number;
  timeoutMs: number;
  maxPerUser: number;
}

interface PushModels {
  PushSubscription: Model<PushSubscriptionDoc>;
  VapidKey: Model<VapidKeyDoc>;
  User: Model<UserDoc>;
  Room: Model<RoomDoc>;
  Membership: Model<MembershipDoc>;
}

/** What a browser gets (PROTOCOL §9). */
export interface PushPayload {
  type: 'message';
  timelineId: string;
  typeu: number;
  _id: string;
  from: { _id: string; nickname: string };
  preview?: string;
}

/** One push waiting in the queue: a subscription and what it gets. */
interface PushItem {
  ref: string;
  subscription: string;
  topic: string;
  payload: PushPayload;
}

const PREVIEW_CHARS = 100;
const LABELS: Record<number, string> = { 2: '[image]', 3: '[voice]', 4: '[file]', 5: '[message]' };
/** most pushes in one queued job */
const JOB_MAX = 100;

export const endpointId = (endpoint: string) => createHash('sha256').update(endpoint).digest('hex');

export class Push {
  private keys: { publicKey: string; privateKey: string } | null = null;
  /** whether anybody in the deployment has a subscription; while not, stored messages cost nothing here */
  private anyone = false;
  /** each user's subscription ids (empty: none), for a minute or until a change */
  private readonly subscriptions = new LRUCache<string, string[]>({ max: 100_000, ttl: 60_000 });
  private readonly nicknames = new LRUCache<string, string>({ max: 100_000, ttl: 300_000 });
  private ca: { file: string; pem: string } | null = null;

  constructor(private readonly deps: {
    models: () => PushModels;
    /** stores jobs in the database queue (lib/job-queue.ts) */
    enqueue: (jobs: NewJob[]) => Promise<void>;
    /** pushes of one job sent at once */
    concurrency: () => number;
    presence: () => PresenceRegistry;
    gate: CollapseGate;
    settings: () => PushSettings;
    metrics: Metrics;
    /** subscriptions of these users changed here: the other workers must forget what they cached */
    changed: (userIds: string[]) => void;
    logError: (msg: string, err: unknown) => void;
  }) {}

  /** The VAPID keys (configured, or made once and kept in the database) and whether anyone subscribed. */
  async start() {
    const settings = this.deps.settings();
    const { VapidKey, PushSubscription } = this.deps.models();
    if (settings.vapidPublicKey && settings.vapidPrivateKey) {
      this.keys = { publicKey: settings.vapidPublicKey, privateKey: settings.vapidPrivateKey };
    } else {
      // the first worker to insert them wins; every worker then reads the same pair
      await insertIgnoringDuplicates(VapidKey.collection, [{ _id: 'current', ...webpush.generateVAPIDKeys(), createdAt: new Date() }]);
      const stored = await VapidKey.findById('current').lean<VapidKeyDoc>();
      this.keys = { publicKey: stored!.publicKey, privateKey: stored!.privateKey };
    }
    this.anyone = !!await PushSubscription.exists({});
  }

  /** The VAPID public key browsers subscribe with (base64url). */
  get publicKey(): string {
    if (!this.keys) throw new AppError(ErrorCode.SERVER_ERROR, 'push is starting');
    return this.keys.publicKey;
  }

  /** Extra CA certificates trusted for push services (`push.caFile`), read once per file. */
  private trusted(): string | undefined {
    const file = this.deps.settings().caFile;
    if (!file) return undefined;
    if (this.ca?.file !== file) this.ca = { file, pem: readFileSync(file, 'utf8') };
    return this.ca.pem;
  }

  private policy(): AddressPolicy {
    return { refusePrivate: !this.deps.settings().allowPrivate };
  }

  /**
   * Keeps a browser's subscription for this user (its endpoint is checked: https, and a host whose
   * every address is public unless PUSH_ALLOW_PRIVATE=1; else 400 / 20002). The same endpoint
   * subscribed by another user moves to this one (one browser profile, whoever signed in last).
   * Beyond `maxPerUser`, the user's oldest subscriptions go.
   */
  async subscribe(userId: string, input: PushSubscriptionInput) {
    const url = new URL(input.endpoint);
    try {
      await checkHost(url.hostname, this.policy());
    } catch (err) {
      throw new AppError(ErrorCode.MISS_PARAMS, `endpoint: ${err instanceof RefusedDestination ? err.message : 'its host does not resolve'}`);
    }
    const { PushSubscription } = this.deps.models();
    const _id = endpointId(input.endpoint);
    const before = await PushSubscription.findById(_id, { user: 1 }).lean<Pick<PushSubscriptionDoc, 'user'>>();
    await PushSubscription.updateOne({ _id }, { $set: { user: oid(userId), endpoint: input.endpoint, keys: input.keys, createdAt: new Date() } }, { upsert: true });
    const mine = await PushSubscription.find({ user: oid(userId) }, { _id: 1, createdAt: 1 }).sort({ createdAt: -1 }).lean<Array<Pick<PushSubscriptionDoc, '_id'>>>();
    const extra = mine.slice(this.deps.settings().maxPerUser).map(s => s._id);
    if (extra.length) await PushSubscription.deleteMany({ _id: { $in: extra } });
    this.anyone = true;
    this.forget([ userId, ...(before && String(before.user) !== userId ? [ String(before.user) ] : []) ], true);
  }

  /** Drops this user's subscription with this endpoint (none: nothing happens). */
  async unsubscribe(userId: string, endpoint: string) {
    const { PushSubscription } = this.deps.models();
    await PushSubscription.deleteOne({ _id: endpointId(endpoint), user: oid(userId) });
    this.forget([ userId ], true);
    this.anyone = !!await PushSubscription.exists({});
  }

  /** Cached subscriptions of these users are stale (`tell`: and so are the other workers'). */
  forget(userIds: string[], tell = false) {
    for (const id of userIds) this.subscriptions.delete(id);
    if (tell) this.deps.changed(userIds);
    else this.anyone = true;
  }

  /** A batch of messages was stored: pushes for their offline recipients, in the background. */
  stored(messages: WireMessage[]) {
    if (!this.anyone) return;
    this.dispatch(messages).catch(err => this.deps.logError('[push] pushes not queued', err));
  }

  private async dispatch(messages: WireMessage[]) {
    const { Room } = this.deps.models();
    const rooms = new Map<string, string[]>();
    await Promise.all([ ...new Set(messages.filter(m => isRoom(m.typeu)).map(m => m.to)) ].map(async id => {
      const room = await Room.findById(id, { members: 1 }).lean<Pick<RoomDoc, 'members'>>();
      rooms.set(id, (room?.members ?? []).map(String));
    }));
    const recipientsOf = (m: WireMessage) => (isRoom(m.typeu) ? (rooms.get(m.to) ?? []).filter(u => u !== m.from) : [ m.to ]);
    const everyone = [ ...new Set(messages.flatMap(recipientsOf)) ];
    const online = await this.deps.presence().online(everyone);
    const subscribed = await this.subscriptionsOf(everyone.filter(u => !online.has(u)));
    const candidates = messages.flatMap(m => recipientsOf(m).filter(u => subscribed.get(u)?.length).map(user => ({ user, message: m })));
    if (!candidates.length) return;
    const open = await this.deps.gate.pass(candidates.map(c => `${c.user}:${c.message.conversationId}`), this.deps.settings().collapseS * 1000);
    const collapsed = candidates.filter((_, i) => open[i]);
    const muted = await this.mutedAmong(collapsed.map(c => ({ user: c.user, conversationId: c.message.conversationId })));
    const due = collapsed.filter((c, i) => !muted[i] || mentions(c.message, c.user));
    if (!due.length) return;
    const names = await this.nicknamesOf([ ...new Set(due.map(c => c.message.from)) ]);
    const items: PushItem[] = due.flatMap(({ user, message }) => subscribed.get(user)!.map(subscription => ({
      ref: `${subscription}:${message._id}`,
      subscription,
      topic: createHash('sha256').update(message.conversationId).digest('base64url').slice(0, 32),
      payload: this.payloadOf(message, names.get(message.from) ?? ''),
    })));
    const jobs = [];
    for (let i = 0; i < items.length; i += JOB_MAX) jobs.push({ kind: 'push', target: 'push', items: items.slice(i, i + JOB_MAX) });
    await this.deps.enqueue(jobs);
  }

  private payloadOf(m: WireMessage, nickname: string): PushPayload {
    const payload: PushPayload = { type: 'message', timelineId: m.timelineId, typeu: m.typeu, _id: m._id, from: { _id: m.from, nickname } };
    if (this.deps.settings().preview) payload.preview = m.type === 1 ? m.content.slice(0, PREVIEW_CHARS) : (LABELS[m.type] ?? '');
    return payload;
  }

  /** Each user's subscription ids: cached ones, the rest in one query. */
  private async subscriptionsOf(users: string[]): Promise<Map<string, string[]>> {
    const out = new Map<string, string[]>();
    const missing: string[] = [];
    for (const u of users) {
      const cached = this.subscriptions.get(u);
      if (cached) out.set(u, cached); else missing.push(u);
    }
    if (missing.length) {
      const found = await this.deps.models().PushSubscription.find({ user: { $in: missing.map(oid) } }, { _id: 1, user: 1 }).lean<Array<Pick<PushSubscriptionDoc, '_id' | 'user'>>>();
      for (const u of missing) out.set(u, []);
      for (const s of found) out.get(String(s.user))?.push(s._id);
      for (const u of missing) this.subscriptions.set(u, out.get(u)!);
    }
    return out;
  }

  /**
   * Whether each user muted the conversation. The setting is issue #17's (`muted` on the user's
   * membership, PROTOCOL §8); read by `_id`, and until #17 sets it nothing is muted.
   */
  private async mutedAmong(pairs: Array<{ user: string; conversationId: string }>): Promise<boolean[]> {
    const { Membership } = this.deps.models();
    return Promise.all(pairs.map(async p => {
      const doc = await Membership.collection.findOne({ _id: membershipId(p.user, p.conversationId) } as never, { projection: { muted: 1 } });
      return !!(doc as { muted?: boolean } | null)?.muted;
    }));
  }

  private async nicknamesOf(ids: string[]): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    const missing = ids.filter(id => {
      const n = this.nicknames.get(id);
      if (n !== undefined) out.set(id, n);
      return n === undefined;
    });
    if (missing.length) {
      const users = await this.deps.models().User.find({ _id: { $in: missing.map(oid) } }, { nickname: 1 }).lean<Array<{ _id: Types.ObjectId; nickname: string }>>();
      for (const u of users) {
        out.set(String(u._id), u.nickname);
        this.nicknames.set(String(u._id), u.nickname);
      }
    }
    return out;
  }

  /** The queue's handler for push jobs. */
  handler(): JobHandler {
    const deps = this.deps;
    // read at each use: settings may change while the app runs (tests do)
    return {
      get concurrency() { return deps.concurrency(); },
      get itemTimeoutMs() { return deps.settings().timeoutMs; },
      get retryForMs() { return deps.settings().retryForS * 1000; },
      deliver: job => this.deliver(job, this.deps.concurrency()),
    };
  }

  private async deliver(job: ClaimedJob, concurrency: number): Promise<ItemResult[]> {
    const queue = [ ...job.items as unknown as PushItem[] ];
    const results: ItemResult[] = [];
    const worker = async () => {
      for (let item = queue.shift(); item; item = queue.shift()) {
        const { result, metric } = await this.sendOne(item);
        this.deps.metrics.pushSends.inc({ result: metric });
        results.push(result);
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, queue.length) }, worker));
    return results;
  }

  /**
   * One push. 2xx: sent. 404/410: the subscription is gone (deleted). 429, 5xx, network: retried.
   * A destination the policy refuses (its DNS changed since it was checked), or another 4xx: dropped.
   */
  private async sendOne(item: PushItem): Promise<{ result: ItemResult; metric: string }> {
    const { PushSubscription } = this.deps.models();
    const sub = await PushSubscription.findById(item.subscription).lean<PushSubscriptionDoc>();
    if (!sub) return { result: { ref: item.ref, outcome: 'drop', error: 'unsubscribed' }, metric: 'dropped' };
    const settings = this.deps.settings();
    try {
      const details = webpush.generateRequestDetails({ endpoint: sub.endpoint, keys: sub.keys }, JSON.stringify(item.payload), {
        vapidDetails: { subject: settings.subject, publicKey: this.keys!.publicKey, privateKey: this.keys!.privateKey },
        TTL: settings.ttlS, topic: item.topic, urgency: 'high', contentEncoding: 'aes128gcm',
      });
      const headers = { ...details.headers } as Record<string, string | number>;
      delete headers['Content-Length'];
      const reply = await send({ url: sub.endpoint, headers, body: details.body, timeoutMs: settings.timeoutMs, policy: this.policy(), protocols: [ 'https:' ], maxReplyBytes: 1024, ca: this.trusted() });
      const base = { ref: item.ref, status: reply.status, ms: reply.ms };
      if (reply.status >= 200 && reply.status < 300) return { result: { ...base, outcome: 'ok' }, metric: 'ok' };
      if (reply.status === 404 || reply.status === 410) {
        await PushSubscription.deleteOne({ _id: sub._id });
        this.forget([ String(sub.user) ], true);
        return { result: { ...base, outcome: 'drop', error: 'subscription expired' }, metric: 'expired' };
      }
      if (reply.status === 429 || reply.status >= 500) return { result: { ...base, outcome: 'retry', error: `HTTP ${reply.status}` }, metric: 'retry' };
      return { result: { ...base, outcome: 'drop', error: `HTTP ${reply.status}` }, metric: 'dropped' };
    } catch (err) {
      const message = String((err as Error)?.message ?? err).slice(0, 300);
      if (err instanceof RefusedDestination) return { result: { ref: item.ref, outcome: 'drop', error: message }, metric: 'refused' };
      return { result: { ref: item.ref, outcome: 'retry', error: message }, metric: 'retry' };
    }
  }
}

/** Whether a message mentions this user (PROTOCOL §8 `mentions`, issue #17): a mention pushes even in a muted conversation. */
function mentions(message: WireMessage, userId: string) {
  const list = (message as WireMessage & { mentions?: string[] }).mentions;
  return !!list && (list.includes(userId) || list.includes('all'));
}
