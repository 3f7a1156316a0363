import type { Application } from 'egg';
import { MessageCommitter } from '../message/committer';
import { MemoryRecentMessages, RedisRecentMessages } from '../message/recent-messages';
import { deliverMessage } from '../message/delivery';
import { DeliveryWriter } from '../message/delivery-writer';
import { PointerWriter } from '../message/pointer-writer';
import { PresenceCache, type PresenceProfile } from '../../lib/presence-cache';
import { readProfiles } from '../service/presence';
import { CoalescingLoader, findByIds } from '../../lib/coalescing-loader';
import { oid } from '../../lib/ids';
import type { MembershipDoc } from '../model/membership';
import type { NoticeDoc } from '../model/notice';

/** most notices one coalesced probe reads */
const NOTICES_PROBE = 1000;
import { MemorySeqRegistry, RedisSeqRegistry, type SeqRegistry } from '../../lib/seq-registry';
import { RateLimits, type Limit } from '../../lib/rate-limits';
import { MemoryPresenceRegistry, RedisPresenceRegistry, type PresenceRegistry } from '../../lib/presence-registry';

const LIMITS = Symbol('rateLimits');
const COMMITTER = Symbol('messageCommitter');
const DELIVERY = Symbol('deliveryWriter');
const POINTERS = Symbol('pointerWriter');
const SEQS = Symbol('seqRegistry');
const PRESENCE_CACHE = Symbol('presenceCache');
const LOADERS = Symbol('loaders');

type Singletons = Application & Record<symbol, any>;
const REGISTRY = Symbol('presenceRegistry');

export default {
  /** The rate limits of config/rate-limits.ts (lib/rate-limits.ts): shared through Redis when configured. */
  get rateLimits(): RateLimits {
    const self = this as unknown as Singletons;
    return self[LIMITS] ??= new RateLimits({
      redis: self.redis,
      prefix: self.config.redisPrefix,
      limits: () => self.config.rateLimit as unknown as Record<string, Limit>,
      delayMs: () => self.config.auth.failureDelayMs,
    });
  },

  /** The process's group-commit queue for `to` (app/message/committer.ts). */
  get messageCommitter(): MessageCommitter {
    const self = this as unknown as Singletons;
    return self[COMMITTER] ??= new MessageCommitter({
      models: () => self.model as any,
      seqs: self.seqRegistry,
      pointers: self.pointerWriter,
      delivery: self.deliveryWriter,
      batchMax: self.config.message.commitBatchMax,
      timeoutMs: self.config.message.replyTimeoutMs,
      logError: (msg, err) => self.logger.error('%s: %s', msg, (err as Error)?.stack || err || ''),
      history: self.redis ? new RedisRecentMessages(self.redis, self.config.redisPrefix) : new MemoryRecentMessages(),
      deliver: (message, exceptSocket) => deliverMessage(self.io.of('/chat'), message, exceptSocket),
    });
  },

  /** Delivery-state writes (acks, senders' own messages), group-committed (app/message/delivery-writer.ts). */
  get deliveryWriter(): DeliveryWriter {
    const self = this as unknown as Singletons;
    return self[DELIVERY] ??= new DeliveryWriter(() => self.model.Membership.collection as any,
      err => self.logger.error('[message] delivery state write failed: %s', (err as Error)?.stack || err),
      (userId, conversationId, after, upTo) => self.createAnonymousContext().service.message.readReceipts(userId, conversationId, after, upTo));
  },

  /** Conversation pointers for `recent_conversation`, written a moment after each commit. */
  get pointerWriter(): PointerWriter {
    const self = this as unknown as Singletons;
    return self[POINTERS] ??= new PointerWriter(() => self.model.Conversation, 200,
      err => self.logger.error('[message] conversation pointers failed: %s', (err as Error)?.stack || err));
  },

  /** Last stored seq per conversation (lib/seq-registry.ts): in Redis when configured. */
  get seqRegistry(): SeqRegistry {
    const self = this as unknown as Singletons;
    return self[SEQS] ??= self.redis ? new RedisSeqRegistry(self.redis, self.config.redisPrefix) : new MemorySeqRegistry();
  },


  /**
   * Reads that many sockets make at once on (re)connect, coalesced (lib/coalescing-loader.ts): a
   * user's memberships, presence setting and contacts, a conversation's last seq pointer.
   */
  get loaders(): {
    memberships: CoalescingLoader<string, MembershipDoc[]>;
    presence: CoalescingLoader<string, string>;
    lastSeq: CoalescingLoader<string, number>;
    profiles: CoalescingLoader<string, PresenceProfile>;
    notices: CoalescingLoader<string, NoticeDoc[]>;
  } {
    const self = this as unknown as Singletons;
    return self[LOADERS] ??= {
      memberships: new CoalescingLoader<string, MembershipDoc[]>(async users => {
        const { Membership } = self.model;
        const found = await Membership.find(users.length === 1 ? { user: oid(users[0]) } : { user: { $in: users.map(oid) } }).lean<MembershipDoc[]>();
        const byUser = new Map<string, MembershipDoc[]>(users.map(u => [ u, [] ]));
        for (const m of found) byUser.get(String(m.user))?.push(m);
        return byUser;
      }),
      presence: new CoalescingLoader<string, string>(async ids => {
        const { User } = self.model;
        const users = await findByIds(ids,
          id => User.findById(id, { presence: 1 }).lean<{ _id: unknown; presence?: string }>(),
          many => User.find({ _id: { $in: many.map(oid) } }, { presence: 1 }).lean<Array<{ _id: unknown; presence?: string }>>());
        return new Map([ ...users ].map(([ id, u ]) => [ id, u.presence ?? 'online' ]));
      }),
      // notices newer than each user (to them or to everyone): empty for most, which ends their pull's notice part
      notices: new CoalescingLoader<string, NoticeDoc[]>(async users => {
        const oldest = users.reduce((a, b) => (a < b ? a : b));
        const found = await self.model.Notice.find({ to: { $in: [ ...users.map(oid), null ] }, _id: { $gt: oid(oldest) } }, { _id: 1, to: 1 })
          .limit(NOTICES_PROBE).lean<NoticeDoc[]>();
        // a probe that hit its limit proves nothing for anyone: undefined sends them to the full read
        if (found.length === NOTICES_PROBE) return new Map();
        return new Map(users.map(u => [ u, found.filter(n => (n.to === null || String(n.to) === u) && String(n._id) > u) ]));
      }),
      profiles: new CoalescingLoader<string, PresenceProfile>(users => readProfiles(self.model as any, users, self.config.presence.roomLimit)),
      lastSeq: new CoalescingLoader<string, number>(async ids => {
        const { Conversation } = self.model;
        const convs = await findByIds(ids,
          id => Conversation.findById(id, { lastSeq: 1 }).lean<{ _id: string; lastSeq: number }>(),
          many => Conversation.find({ _id: { $in: many } }, { lastSeq: 1 }).lean<Array<{ _id: string; lastSeq: number }>>());
        return new Map([ ...convs ].map(([ id, c ]) => [ id, c.lastSeq ]));
      }),
    };
  },

  /** Users' contacts, rooms and invisibility, cached per worker (lib/presence-cache.ts). */
  get presenceCache(): PresenceCache {
    const self = this as unknown as Singletons;
    return self[PRESENCE_CACHE] ??= new PresenceCache();
  },

  /** Sockets per user (lib/presence-registry.ts): in Redis when configured, so every worker agrees. */
  get presenceRegistry(): PresenceRegistry {
    const self = this as unknown as Application & { [REGISTRY]?: PresenceRegistry };
    const prefix = `${self.config.redisPrefix}:presence`;
    return self[REGISTRY] ??= self.redis ? new RedisPresenceRegistry(self.redis, { prefix, staleMs: self.config.presence.staleMs }) : new MemoryPresenceRegistry();
  },
};
