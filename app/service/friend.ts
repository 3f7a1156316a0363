import { Service } from 'egg';
import { AppError, ErrorCode } from '../../lib/errors';
import { isDuplicateKey } from '../../lib/duplicate-key';
import type { FriendNotice } from '../../lib/schemas/wire';
import type { FriendRequestDoc } from '../model/friend_request';
import type { FriendshipDoc } from '../model/friendship';
import { PUBLIC_FIELDS, publicUser, type PublicDoc } from './user';
import { shownPresence } from './presence';

type Notice = 'request' | 'agree' | 'refuse' | 'removed';

/**
 * Friends and friend requests. A friendship is mutual and stored once per direction (each side has
 * its own group and alias); requests are pending until accepted or refused, one per direction.
 */
export default class FriendService extends Service {
  /** Sends a request; the target gets `f_notice` request. 409 / 10004 when friends or already pending. */
  async request(me: string, to: string, message = '') {
    const { Friendship, FriendRequest, Block } = this.ctx.model;
    if (to === me) throw new AppError(ErrorCode.MISS_PARAMS, 'to: you cannot befriend yourself');
    await this.service.user.publicProfile(to);
    const [ friends, blocked ] = await Promise.all([
      Friendship.exists({ user: me, friend: to }),
      Block.exists({ $or: [ { user: to, blocked: me }, { user: me, blocked: to } ] }),
    ]);
    if (blocked) throw new AppError(ErrorCode.FORBIDDEN, 'you cannot send this user a request');
    if (friends) throw new AppError(ErrorCode.DUPLICATE_VALUE, 'already friends');
    let request;
    try {
      request = await FriendRequest.create({ from: me, to, message });
    } catch (err) {
      if (isDuplicateKey(err)) throw new AppError(ErrorCode.DUPLICATE_VALUE, 'a request to this user is already pending');
      throw err;
    }
    await this.notify(to, 'request', me, message);
    return { _id: String(request._id), from: me, to, message, createdAt: request.createdAt };
  }

  /** Pending requests to me (incoming) and from me (outgoing), newest first, with the other user. */
  async requests(me: string) {
    const { FriendRequest } = this.ctx.model;
    const [ incoming, outgoing ] = await Promise.all([
      FriendRequest.find({ to: me }).sort({ createdAt: -1 }).lean<FriendRequestDoc[]>(),
      FriendRequest.find({ from: me }).sort({ createdAt: -1 }).lean<FriendRequestDoc[]>(),
    ]);
    const users = await this.service.user.publicUsers([ ...incoming.map(r => String(r.from)), ...outgoing.map(r => String(r.to)) ]);
    const shape = (r: FriendRequestDoc) => ({ _id: String(r._id), message: r.message, createdAt: r.createdAt });
    return {
      incoming: incoming.filter(r => users.has(String(r.from))).map(r => ({ ...shape(r), from: users.get(String(r.from)) })),
      outgoing: outgoing.filter(r => users.has(String(r.to))).map(r => ({ ...shape(r), to: users.get(String(r.to)) })),
    };
  }

  /** Accepts `requester`'s request: friends both ways, the requester gets `f_notice` agree. */
  async accept(me: string, requester: string, message = '') {
    const { Friendship, FriendRequest } = this.ctx.model;
    const pending = await FriendRequest.exists({ from: requester, to: me });
    if (!pending) throw new AppError(ErrorCode.NOT_FOUND, 'no pending request from this user');
    const group = this.config.friends.defaultGroup;
    await Friendship.bulkWrite([ [ me, requester ], [ requester, me ] ].map(([ user, friend ]) => ({
      updateOne: { filter: { user, friend }, update: { $setOnInsert: { user, friend, group, alias: '' } }, upsert: true },
    })), { ordered: false });
    this.service.presence.changed({ profiles: [ me, requester ] });
    // a crossed request the other way is settled by this one too
    await FriendRequest.deleteMany({ $or: [ { from: requester, to: me }, { from: me, to: requester } ] });
    await this.notify(requester, 'agree', me, message);
    return (await this.list(me, [ requester ]))[0];
  }

  /** Refuses `requester`'s request; the requester gets `f_notice` refuse. */
  async refuse(me: string, requester: string, message = '') {
    const { deletedCount } = await this.ctx.model.FriendRequest.deleteOne({ from: requester, to: me });
    if (!deletedCount) throw new AppError(ErrorCode.NOT_FOUND, 'no pending request from this user');
    await this.notify(requester, 'refuse', me, message);
  }

  /**
   * My friends `[{user, group, alias, presence}]`, oldest first; presence is what I may see now
   * (`offline` when not connected, invisible, or a block stands between us).
   */
  async list(me: string, only?: string[]) {
    const filter: Record<string, unknown> = { user: me };
    if (only) filter.friend = { $in: only };
    const friendships = await this.ctx.model.Friendship.find(filter).sort({ createdAt: 1, _id: 1 }).lean<FriendshipDoc[]>();
    const ids = friendships.map(f => String(f.friend));
    const [ users, online, visibleFriends ] = await Promise.all([
      this.ctx.model.User.find({ _id: { $in: ids } }, { ...PUBLIC_FIELDS, presence: 1 }).lean<PublicDoc[]>(),
      this.service.presence.visibleOnline(ids),
      this.service.presence.friendsOf(me),
    ]);
    const byId = new Map(users.map(u => [ String(u._id), u ]));
    const unblocked = new Set(visibleFriends);
    return friendships.filter(f => byId.has(String(f.friend))).map(f => {
      const id = String(f.friend);
      const u = byId.get(id)!;
      const presence = online.has(id) && unblocked.has(id) ? shownPresence(u.presence) : 'offline';
      return { user: publicUser(u), group: f.group, alias: f.alias, presence };
    });
  }

  /** Changes my group or alias for a friend; 404 / 10005 when not my friend. */
  async update(me: string, friend: string, patch: { group?: string; alias?: string }) {
    const { matchedCount } = await this.ctx.model.Friendship.updateOne({ user: me, friend }, { $set: patch });
    if (!matchedCount) throw new AppError(ErrorCode.NOT_FOUND, 'not your friend');
    return (await this.list(me, [ friend ]))[0];
  }

  /** Ends a friendship both ways; the other side gets `f_notice` removed. */
  async remove(me: string, friend: string) {
    const { deletedCount } = await this.ctx.model.Friendship.deleteMany({ $or: [ { user: me, friend }, { user: friend, friend: me } ] });
    if (!deletedCount) throw new AppError(ErrorCode.NOT_FOUND, 'not your friend');
    this.service.presence.changed({ profiles: [ me, friend ] });
    await this.notify(friend, 'removed', me);
  }

  private async notify(to: string, type: Notice, from: string, message?: string) {
    const { _id, username, nickname, avatar } = await this.service.user.publicProfile(from);
    const payload: FriendNotice = { type, from: { _id: String(_id), username, nickname, avatar } as FriendNotice['from'] };
    if (message) payload.message = message;
    this.app.outbox.send({ user: to }, 'f_notice', payload);
    this.app.webhooks.emit('friend.changed', { type, from, to });
  }
}
