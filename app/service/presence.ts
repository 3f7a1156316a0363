import { Service } from 'egg';
import type { Model, Types } from 'mongoose';
import { AppError, ErrorCode, tooManyRequests } from '../../lib/errors';
import { CAP_RETRY_MS } from '../io/socket-limits';
import { socketRooms as rooms, type ChatSocket } from '../io/outbox';
import { TypeU, membershipId, timelineIdOf } from '../../lib/conversation-ids';
import { oid } from '../../lib/ids';
import { findByIds } from '../../lib/coalescing-loader';
import { PRESENCE_STALE_EVENT, type PresenceProfile } from '../../lib/presence-cache';
import type { UserDoc } from '../model/user';

/** Server-side event that carries a device-policy kick to the other nodes (app.ts listens). */
export const KICK_EVENT = 'im:kick';

/** Sockets in `room` numbered below `gen` are replaced by a newer login. */
export interface Kick { room: string; gen: number; why: string }

/**
 * The newest kick per room seen by this process in the last few seconds, for a socket whose number
 * arrives after a newer login's kick did (its registration and that kick travel on different
 * connections). Bounded: each entry is forgotten after KICK_MEMORY_MS.
 */
const recentKicks = new Map<string, Kick>();
const KICK_MEMORY_MS = 10_000;
function rememberKick(kick: Kick) {
  const known = recentKicks.get(kick.room);
  if (known && known.gen >= kick.gen) return;
  recentKicks.set(kick.room, kick);
  setTimeout(() => { if (recentKicks.get(kick.room) === kick) recentKicks.delete(kick.room); }, KICK_MEMORY_MS).unref();
}

/** What others see of a stored presence: `invisible` is shown as `offline`. */
export const shownPresence = (stored: string | undefined) => (!stored || stored === 'invisible' ? 'offline' : stored);

/**
 * Who is connected and who is told. The registry (app.presenceRegistry) counts each user's /chat
 * sockets across workers; the first socket makes a user online and the last one gone offline, and
 * only then are their online contacts told (`c_online`). Contacts = friends plus peers in rooms of
 * at most `presence.roomLimit` members, minus anyone a block stands between (either way).
 */
export default class PresenceService extends Service {
  /**
   * A /chat socket passed the handshake: its own rooms, the device policy, its chat rooms, and
   * "online" if it is the first. The registry numbers the user's connections (`gen`); the kick drops
   * only sockets with a lower number, on this node at once and on the others through the adapter
   * (`serverSideEmit`). A room-wide `disconnectSockets` would also hit sockets newer than the kicker
   * when it arrives late (it is applied when it comes back from Redis, or after a Redis outage).
   */
  async connect(socket: ChatSocket) {
    const { userId, sessionId, device } = socket.data;
    // joined at once, so nothing sent to this user from now on misses the socket
    socket.join([ rooms.user(userId), rooms.session(sessionId), rooms.device(userId, device) ]);
    // registered before older sockets are kicked, so a replaced login never looks like going offline
    const { first, gen, live } = await this.app.presenceRegistry.add(userId, socket.id);
    socket.data.gen = gen;
    if (live > this.config.sockets.perUser) {
      // one socket too many for the account (config.sockets.perUser): this one goes, before it kicks
      // or announces anything; the connection middleware's cleanup unregisters it
      this.app.outbox.dropWith({ socket }, tooManyRequests(CAP_RETRY_MS, 'too many open connections for this account'));
      return;
    }
    const policy = this.config.auth.devicePolicy;
    if (policy !== 'allow-all') {
      const kick: Kick = {
        room: policy === 'single' ? rooms.user(userId) : rooms.device(userId, device),
        gen,
        why: `replaced by a newer login on ${policy === 'single' ? 'another device' : device}`,
      };
      this.kickOlder(kick);
      if (this.app.stores.shared) this.app.outbox.chat.serverSideEmit(KICK_EVENT, kick);
      // a newer login's kick may have reached this node while this socket's number was on its way
      const later = recentKicks.get(kick.room);
      if (later && later.gen > gen) this.kickOlder(later);
    }
    const profile = (await this.profilesOf([ userId ])).get(userId)!;
    if (socket.connected && profile.rooms.length) socket.join(profile.rooms.map(rooms.room));
    if (first) this.app.webhooks.emit('user.online', { userId });
    if (first && !(await this.invisibleAmong([ userId ])).size) await this.announce(userId, 'online');
  }

  /** Drops this node's sockets in `kick.room` that connected before `kick.gen`, each told why first (20004). */
  kickOlder(kick: Kick) {
    const { chat } = this.app.outbox;
    rememberKick(kick);
    for (const id of chat.adapter.rooms.get(kick.room) ?? []) {
      const older = chat.sockets.get(id);
      if (!older || !(older.data.gen! < kick.gen)) continue;
      this.app.outbox.dropWith({ socket: older }, new AppError(ErrorCode.DUPLICATE_CLIENT, kick.why));
    }
  }

  /** A /chat socket is gone: "offline" if it was the user's last. */
  async disconnect(socket: ChatSocket) {
    const { userId } = socket.data;
    if (!await this.app.presenceRegistry.remove(userId, socket.id)) return;
    this.app.webhooks.emit('user.offline', { userId });
    if (!(await this.invisibleAmong([ userId ])).size) await this.announce(userId, 'offline');
  }

  /**
   * Sets the caller's presence (online, away, busy, invisible or a custom text). Friends get
   * `presence`; becoming or leaving `invisible` while connected looks like going offline or coming
   * online to every contact, so they also get `c_online`.
   */
  async setPresence(userId: string, presence: string) {
    const { User } = this.ctx.model;
    const before = await User.findById(userId, { presence: 1 }).lean<{ presence: string }>();
    await User.updateOne({ _id: userId }, { $set: { presence } });
    this.changed({ presence: [ userId ] });
    const friends = await this.friendsOf(userId);
    if (friends.length) {
      this.app.outbox.send({ users: friends }, 'presence', { id: userId, presence: shownPresence(presence) });
    }
    const wasHidden = before?.presence === 'invisible';
    const hidden = presence === 'invisible';
    if (wasHidden !== hidden && (await this.app.presenceRegistry.online([ userId ])).size) {
      await this.announce(userId, hidden ? 'offline' : 'online');
    }
    return { presence };
  }

  /**
   * Tells `userId`'s online contacts (or only those among `only`) that it came online or went
   * offline, each with its own list of online contacts.
   */
  async announce(userId: string, type: 'online' | 'offline', only?: string[]) {
    let contacts = [ ...(await this.profilesOf([ userId ])).get(userId)!.contacts ];
    if (only) contacts = contacts.filter(id => only.includes(id));
    const recipients = [ ...await this.app.presenceRegistry.online(contacts) ];
    if (!recipients.length) return;
    const clients = await this.onlineContactsOf(recipients);
    for (const r of recipients) {
      this.app.outbox.send({ user: r }, 'c_online', { type, current: userId, clients: clients.get(r) ?? [] });
    }
  }

  /** Shows `userId` as gone offline to `to` alone (a block now stands between them). */
  async hideFrom(userId: string, to: string) {
    const clients = await this.onlineContactsOf([ to ]);
    this.app.outbox.send({ user: to }, 'c_online', { type: 'offline', current: userId, clients: clients.get(to) ?? [] });
  }

  /** The `c_online` snapshot a client asks for. */
  async snapshot(userId: string) {
    const clients = await this.onlineContactsOf([ userId ]);
    return { type: 'snapshot' as const, current: userId, clients: clients.get(userId) ?? [] };
  }

  /** `to_typing`: c2c only, not stored; someone who blocked the typer is not told. */
  async typing(userId: string, peerId: string) {
    if (peerId === userId) return;
    if (await this.ctx.model.Block.exists({ user: oid(peerId), blocked: oid(userId) })) return;
    this.app.outbox.send({ user: peerId }, 'to_typing', { timelineId: timelineIdOf(TypeU.C2C, userId, peerId), from: userId });
  }

  /**
   * `to_typing` in a room (§8): a member's typing goes to the other members, in rooms of at most
   * `presence.roomLimit` members (larger rooms get none, as with presence); not a member → 20003.
   */
  async roomTyping(userId: string, roomId: string) {
    if (!await this.ctx.model.Membership.exists({ _id: membershipId(userId, roomId) })) throw new AppError(ErrorCode.CHAT_FAILED, 'not a member of this room');
    if (await this.app.messages.roomSize(roomId) > this.config.presence.roomLimit) return;
    this.app.outbox.send({ room: roomId, exceptUser: userId }, 'to_typing', { timelineId: roomId, from: userId });
  }

  /** Each user's contacts that others see online (a live socket, not invisible). */
  async onlineContactsOf(userIds: string[]): Promise<Map<string, string[]>> {
    const contacts = new Map([ ...await this.profilesOf(userIds) ].map(([ id, p ]) => [ id, p.contacts ]));
    const everyone = new Set<string>();
    for (const set of contacts.values()) for (const id of set) everyone.add(id);
    const visible = await this.visibleOnline([ ...everyone ]);
    return new Map([ ...contacts ].map(([ id, set ]) => [ id, [ ...set ].filter(c => visible.has(c)) ]));
  }

  /** The users among `ids` whom others see online: a live socket and not invisible. */
  async visibleOnline(ids: string[]): Promise<Set<string>> {
    const online = await this.app.presenceRegistry.online(ids);
    if (!online.size) return online;
    for (const id of await this.invisibleAmong([ ...online ])) online.delete(id);
    return online;
  }

  /** The users among `ids` who set themselves invisible (cached per worker). */
  invisibleAmong(ids: string[]): Promise<Set<string>> {
    return this.app.presenceCache.invisibleAmong(ids);
  }

  /** Each user's contacts and rooms (cached per worker). */
  profilesOf(userIds: string[]): Promise<Map<string, PresenceProfile>> {
    return this.app.presenceCache.profilesOf(userIds);
  }

  /**
   * Friends, blocks, rooms or a presence setting changed for these users: their cached profiles
   * (or invisibility) go, here and on every other worker.
   */
  changed(stale: { profiles?: string[]; presence?: string[] }) {
    this.app.presenceCache.drop(stale);
    if (this.app.stores.shared) this.app.outbox.chat.serverSideEmit(PRESENCE_STALE_EVENT, stale);
  }

  /** The user's friends with no block between them (who gets `presence`). */
  async friendsOf(userId: string) {
    const [ friendships, blocks ] = await Promise.all([
      this.ctx.model.Friendship.find({ user: userId }, { friend: 1 }).lean(),
      blocksOf(this.ctx.model.Block, [ oid(userId) ]),
    ]);
    const barred = new Set(blocks.flatMap(b => [ String(b.user), String(b.blocked) ]));
    return friendships.map(f => String(f.friend)).filter(id => !barred.has(id));
  }

}

/** Each user's stored presence setting, for the presence cache (few by `_id`, many in one query). */
export async function readPresence(models: { User: Model<UserDoc> }, ids: string[]): Promise<Map<string, string>> {
  const users = await findByIds(ids,
    id => models.User.findById(id, { presence: 1 }).lean<{ _id: unknown; presence?: string }>(),
    many => models.User.find({ _id: { $in: many.map(oid) } }, { presence: 1 }).lean<Array<{ _id: unknown; presence?: string }>>());
  return new Map([ ...users ].map(([ id, u ]) => [ id, u.presence ?? 'online' ]));
}

/** Blocks made by or against any of these users. */
export function blocksOf(Block: Model<any>, ids: Types.ObjectId[]) {
  return Block.find({ $or: [ { user: { $in: ids } }, { blocked: { $in: ids } } ] }, { user: 1, blocked: 1 }).lean<Array<{ user: Types.ObjectId; blocked: Types.ObjectId }>>();
}

/**
 * Contacts and rooms of these users in three queries whatever their number: friends, their rooms
 * (small ones give peers), blocks either way.
 */
export async function readProfiles(models: { Friendship: Model<any>; Room: Model<any>; Block: Model<any> }, userIds: string[], roomLimit: number) {
  const ids = userIds.map(oid);
  const [ friendships, memberOf, blocks ] = await Promise.all([
    models.Friendship.find({ user: { $in: ids } }, { user: 1, friend: 1 }).lean<Array<{ user: Types.ObjectId; friend: Types.ObjectId }>>(),
    models.Room.find({ members: { $in: ids } }, { members: 1 }).lean<Array<{ _id: Types.ObjectId; members: Types.ObjectId[] }>>(),
    blocksOf(models.Block, ids),
  ]);
  const profiles = new Map<string, PresenceProfile>(userIds.map(id => [ id, { contacts: new Set<string>(), rooms: [] } ]));
  for (const f of friendships) profiles.get(String(f.user))?.contacts.add(String(f.friend));
  for (const room of memberOf) {
    const members = room.members.map(String);
    for (const m of members) {
      const profile = profiles.get(m);
      if (!profile) continue;
      profile.rooms.push(String(room._id));
      if (members.length <= roomLimit) for (const peer of members) if (peer !== m) profile.contacts.add(peer);
    }
  }
  for (const b of blocks) {
    profiles.get(String(b.user))?.contacts.delete(String(b.blocked));
    profiles.get(String(b.blocked))?.contacts.delete(String(b.user));
  }
  return profiles;
}
