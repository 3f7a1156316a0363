import { Service } from 'egg';
import { AppError, ErrorCode } from '../../lib/errors';
import { isDuplicateKey } from '../../lib/duplicate-key';
import { KeyedMutex } from '../../lib/keyed-mutex';
import { socketRooms as rooms } from '../io/outbox';
import type { CreateRoomInput, UpdateRoomInput } from '../../lib/schemas/social';
import type { RoomDoc } from '../model/room';
import { shownPresence } from './presence';
import { PUBLIC_FIELDS, publicUser, type PublicDoc } from './user';
import { isObjectId, oid } from '../../lib/ids';

/** member-list changes are read-modify-write on one document: one at a time per room here */
const roomLock = new KeyedMutex();

import type { RoomEvent } from '../../lib/schemas/wire';

const unique = (ids: string[]) => [ ...new Set(ids) ];

/** A room as lists and replies show it (members by count; details add the members themselves). */
const roomView = (r: RoomDoc) => ({
  _id: String(r._id),
  name: r.name,
  intro: r.intro,
  notice: r.notice,
  avatar: r.avatar,
  visibility: r.visibility,
  owner: String(r.owner),
  memberCount: r.members.length,
  createdAt: r.createdAt,
  updatedAt: r.updatedAt,
});

/**
 * Rooms (groups). Who is in a room is `Room.members` (owner too), changed only by conditional
 * updates that carry their own rule (capacity, "still the owner", "still a member"), so two workers
 * cannot overfill a room or both hand it over. Derived from it, in an order that never lets a
 * removed member send: the conversation memberships that the send path reads (made after a join,
 * removed before a leave), and the members' sockets in `room:<id>` on every worker. Members hear
 * every change as `g_notice`. The in-process room lock only adds FerretDB's missing atomicity.
 */
export default class RoomService extends Service {
  private get outbox() {
    return this.app.outbox;
  }

  /** The room (lean), or 404 / 10005 (also for a malformed id). */
  async get(roomId: string): Promise<RoomDoc> {
    if (!isObjectId(roomId)) throw new AppError(ErrorCode.NOT_FOUND, 'room does not exist');
    const room = await this.ctx.model.Room.findById(roomId).lean<RoomDoc>();
    if (!room) throw new AppError(ErrorCode.NOT_FOUND, 'room does not exist');
    return room;
  }

  async create(ownerId: string, input: CreateRoomInput) {
    const members = unique([ ownerId, ...input.members ?? [] ]);
    this.checkSize(members.length);
    await this.service.user.requireExisting(members);
    await this.refuseBlockers(ownerId, members);
    let room;
    try {
      room = await this.ctx.model.Room.create({
        name: input.name,
        nameLower: input.name.toLowerCase(),
        intro: input.intro ?? '',
        avatar: input.avatar ?? '',
        visibility: input.visibility ?? 'public',
        owner: ownerId,
        members,
      });
    } catch (err) {
      throw nameTaken(err);
    }
    const view = roomView(room.toObject());
    await this.joined(view._id, members);
    const { _id, memberCount, createdAt, updatedAt, ...changes } = view;
    this.notice(view._id, 'created', { user: ownerId, changes }, members);
    return view;
  }

  /** Public rooms (or mine), most recently active first, each with its number of online members. */
  async list(me: string, opts: { mine: boolean; page: number; limit: number }) {
    const { Room } = this.ctx.model;
    const limit = Math.min(opts.limit, this.config.room.pageLimit);
    const filter = opts.mine ? { members: oid(me) } : { visibility: 'public' };
    const [ total, found ] = await Promise.all([
      Room.countDocuments(filter),
      Room.find(filter).sort({ updatedAt: -1, _id: -1 }).skip((opts.page - 1) * limit).limit(limit).lean<RoomDoc[]>(),
    ]);
    const online = await this.service.presence.visibleOnline(unique(found.flatMap(r => r.members.map(String))));
    return {
      currentPage: opts.page,
      lastPage: Math.max(1, Math.ceil(total / limit)),
      docs: found.map(r => ({ ...roomView(r), onlineUsers: r.members.filter(m => online.has(String(m))).length })),
    };
  }

  /**
   * A room with its members split `{online, offline}`; a private room only for its members. A
   * member who is invisible, or who blocked the viewer, is listed offline.
   */
  async details(me: string, roomId: string) {
    const room = await this.get(roomId);
    const memberIds = room.members.map(String);
    if (room.visibility === 'private' && !memberIds.includes(me)) throw new AppError(ErrorCode.FORBIDDEN, 'this room is private');
    const [ users, online, blockers ] = await Promise.all([
      this.ctx.model.User.find({ _id: { $in: memberIds } }, { ...PUBLIC_FIELDS, presence: 1 }).lean<PublicDoc[]>(),
      this.service.presence.visibleOnline(memberIds),
      this.ctx.model.Block.find({ user: { $in: memberIds }, blocked: me }, { user: 1 }).lean(),
    ]);
    for (const b of blockers) online.delete(String(b.user));
    const byId = new Map(users.map(u => [ String(u._id), u ]));
    const split = { online: [] as unknown[], offline: [] as unknown[] };
    for (const id of memberIds) {
      const u = byId.get(id);
      if (!u) continue;
      const user = publicUser(u);
      if (online.has(id)) split.online.push({ ...user, presence: shownPresence(u.presence) });
      else split.offline.push(user);
    }
    return { ...roomView(room), members: split };
  }

  /** Joins a public room (private → 403 / 10006); joining again changes nothing. */
  async join(me: string, roomId: string) {
    return roomLock.run(roomId, async () => {
      const room = await this.get(roomId);
      if (room.visibility !== 'public') throw new AppError(ErrorCode.FORBIDDEN, 'this room is private');
      if (room.members.some(m => String(m) === me)) return roomView(room);
      // capacity is part of the update: two joins on two workers cannot both take the last place
      const res = await this.ctx.model.Room.updateOne(
        { _id: roomId, visibility: 'public', ...this.roomFor(1) },
        { $addToSet: { members: oid(me) } },
      );
      if (!res.matchedCount) return this.refusedJoin(roomId, me);
      await this.joined(roomId, [ me ]);
      this.notice(roomId, 'join', { user: me }, [ me ]);
      return roomView(await this.get(roomId));
    });
  }

  /** Why a conditional join matched nothing: gone, private, or full (a member already is fine). */
  private async refusedJoin(roomId: string, me: string) {
    const room = await this.get(roomId);
    if (room.visibility !== 'public') throw new AppError(ErrorCode.FORBIDDEN, 'this room is private');
    if (room.members.some(m => String(m) === me)) return roomView(room);
    this.checkSize(room.members.length + 1);
    throw new AppError(ErrorCode.SERVER_ERROR, 'the room changed meanwhile, try again');
  }

  /**
   * Leaves a room. When the owner leaves, ownership passes to the longest-standing member (members
   * are kept in joining order); the last member leaving dissolves the room. Each step is one
   * conditional update on the room, retried if another change came first: correct with several
   * workers, no lock needed on MongoDB.
   */
  async leave(me: string, roomId: string) {
    return roomLock.run(roomId, async () => {
      const { Room } = this.ctx.model;
      for (let attempt = 0; attempt < 5; attempt++) {
        const room = await this.get(roomId);
        const rest = room.members.map(String).filter(m => m !== me);
        if (rest.length === room.members.length) throw new AppError(ErrorCode.FORBIDDEN, 'not a member of this room');
        if (!rest.length) {
          const gone = await Room.deleteOne({ _id: roomId, members: { $size: 1, $all: [ oid(me) ] } });
          if (!gone.deletedCount) continue;
          this.notice(roomId, 'leave', { user: me });
          return this.dissolveNow(roomId, me, false);
        }
        // the membership goes first: from then on the send path refuses this user's messages
        await this.app.messages.leaveRoom(roomId, [ me ]);
        const newOwner = String(room.owner) === me ? rest[0] : null;
        const res = newOwner
          ? await Room.updateOne({ _id: roomId, owner: oid(me), members: { $all: [ oid(me), oid(newOwner) ] } }, { $pull: { members: oid(me) }, $set: { owner: oid(newOwner) } })
          : await Room.updateOne({ _id: roomId, members: oid(me) }, { $pull: { members: oid(me) } });
        if (!res.matchedCount) continue;
        this.notice(roomId, 'leave', { user: me });
        await this.membersChanged(roomId, [ me ]);
        this.outbox.leave({ user: me }, rooms.room(roomId));
        if (newOwner) this.notice(roomId, 'owner', { user: newOwner, changes: { owner: newOwner } });
        return;
      }
      throw new AppError(ErrorCode.SERVER_ERROR, 'the room kept changing, try again');
    });
  }

  /** Owner only: name, intro, notice, avatar, or hands the room to another member. */
  async update(me: string, roomId: string, input: UpdateRoomInput) {
    return roomLock.run(roomId, async () => {
      const room = await this.get(roomId);
      this.requireOwner(room, me);
      const { owner, ...changes } = input;
      if (owner && !room.members.some(m => String(m) === owner)) throw new AppError(ErrorCode.MISS_PARAMS, 'owner: the new owner must be a member');
      const set: Record<string, unknown> = { ...changes };
      if (changes.name !== undefined) set.nameLower = changes.name.toLowerCase();
      if (owner) set.owner = oid(owner);
      try {
        await this.ctx.model.Room.updateOne({ _id: roomId }, { $set: set });
      } catch (err) {
        throw nameTaken(err);
      }
      if (Object.keys(changes).length) this.notice(roomId, 'update', { user: me, changes });
      if (owner && owner !== me) this.notice(roomId, 'owner', { user: owner, changes: { owner } });
      return roomView(await this.get(roomId));
    });
  }

  /**
   * Adds and removes members. The owner may do both; in a private room any member may add. Added
   * members are announced as `join` with `newbie: true`, removed ones as `kick`.
   */
  async changeMembers(me: string, roomId: string, input: { add?: string[]; remove?: string[] }) {
    return roomLock.run(roomId, async () => {
      const { Room } = this.ctx.model;
      const room = await this.get(roomId);
      const current = new Set(room.members.map(String));
      const isOwner = String(room.owner) === me;
      if (!current.has(me)) throw new AppError(ErrorCode.FORBIDDEN, 'not a member of this room');
      if (input.remove?.length && !isOwner) throw new AppError(ErrorCode.FORBIDDEN, 'only the owner may remove members');
      if (input.add?.length && !isOwner && room.visibility !== 'private') throw new AppError(ErrorCode.FORBIDDEN, 'only the owner may add members');
      if (input.remove?.includes(String(room.owner))) throw new AppError(ErrorCode.MISS_PARAMS, 'remove: the owner cannot be removed (hand the room over first)');
      const removed = unique(input.remove ?? []).filter(id => current.has(id));
      const added = unique(input.add ?? []).filter(id => !current.has(id) && !removed.includes(id));
      this.checkSize(current.size + added.length - removed.length);
      await this.service.user.requireExisting(added);
      await this.refuseBlockers(me, added);

      if (removed.length) {
        for (const user of removed) this.notice(roomId, 'kick', { user });
        await this.left(roomId, removed, () => Room.updateOne({ _id: roomId }, { $pullAll: { members: removed.map(id => oid(id)) } }));
      }
      if (added.length) {
        // capacity is part of the update, so concurrent additions cannot overfill the room
        const res = await Room.updateOne({ _id: roomId, ...this.roomFor(added.length) }, { $addToSet: { members: { $each: added.map(id => oid(id)) } } });
        if (!res.matchedCount) this.checkSize(this.config.room.maxMembers + 1);
        await this.joined(roomId, added);
        for (const user of added) this.notice(roomId, 'join', { user, newbie: true }, [ user ]);
      }
      return { ...roomView(await this.get(roomId)), added, removed };
    });
  }

  /** The server API's member changes (PROTOCOL §9): made with the owner's rights, announced alike. */
  async changeMembersByServer(roomId: string, input: { add?: string[]; remove?: string[] }) {
    return this.changeMembers(String((await this.get(roomId)).owner), roomId, input);
  }

  /** Owner only: the room is gone for everyone. */
  async dissolve(me: string, roomId: string) {
    return roomLock.run(roomId, async () => {
      this.requireOwner(await this.get(roomId), me);
      await this.dissolveNow(roomId, me);
    });
  }

  private async dissolveNow(roomId: string, by: string, deleteRoom = true) {
    this.notice(roomId, 'dissolve', { user: by });
    await this.membersChanged(roomId, [ by ]);
    this.outbox.leave({ room: roomId }, rooms.room(roomId));
    // the room goes first, then its memberships (the send path's truth), then its history
    if (deleteRoom) await this.ctx.model.Room.deleteOne({ _id: roomId });
    await this.app.messages.dropRoom(roomId);
  }

  /** New members: cursors at the room's end, sockets (any worker) into the room. */
  private async joined(roomId: string, userIds: string[]) {
    await this.app.messages.joinRoom(roomId, userIds);
    await this.membersChanged(roomId, userIds);
    this.outbox.join({ users: userIds }, rooms.room(roomId));
  }

  /**
   * Members gone: their memberships first (the send path refuses them from then on), then the
   * room's list, then their sockets.
   */
  private async left(roomId: string, userIds: string[], updateRoom: () => Promise<unknown>) {
    await this.app.messages.leaveRoom(roomId, userIds);
    await updateRoom();
    await this.membersChanged(roomId, userIds);
    this.outbox.leave({ users: userIds }, rooms.room(roomId));
  }

  /** Everyone in the room, and those who just came or went, have other room peers now (presence). */
  private async membersChanged(roomId: string, userIds: string[]) {
    const room = await this.ctx.model.Room.findById(roomId, { members: 1 }).lean<Pick<RoomDoc, 'members'>>();
    this.service.presence.changed({ profiles: unique([ ...userIds, ...(room?.members ?? []).map(String) ]) });
  }

  /** A filter that holds while the room has places for `more` members (`members.<n>` absent = fewer than n+1). */
  private roomFor(more: number) {
    return { [`members.${this.config.room.maxMembers - more}`]: { $exists: false } };
  }

  /** `g_notice` to the room's members; `joined`: members who just joined (see Outbox targets). */
  private notice(roomId: string, event: RoomEvent, extra: { user?: string; newbie?: true; changes?: Record<string, unknown> }, joined?: string[]) {
    this.outbox.send({ room: roomId, alsoUsers: joined }, 'g_notice', { room: roomId, event, ...extra });
    this.app.webhooks.emit('room.changed', { room: roomId, event, ...extra });
  }

  /**
   * Nobody is put into a room by someone they blocked (403 / 10006, as for friend requests): a block
   * would otherwise stop 1:1 messages only, and the blocked user could reach the blocker in a room.
   */
  private async refuseBlockers(me: string, userIds: string[]) {
    const others = userIds.filter(id => id !== me);
    if (!others.length) return;
    const blocker = await this.ctx.model.Block.findOne({ user: { $in: others.map(oid) }, blocked: oid(me) }, { _id: 1 }).lean();
    if (blocker) throw new AppError(ErrorCode.FORBIDDEN, 'you cannot add this user to a room');
  }

  private requireOwner(room: RoomDoc, me: string) {
    if (String(room.owner) !== me) throw new AppError(ErrorCode.FORBIDDEN, 'only the owner may do this');
  }

  private checkSize(members: number) {
    const max = this.config.room.maxMembers;
    if (members > max) throw new AppError(ErrorCode.FORBIDDEN, `a room has at most ${max} members`);
  }
}

function nameTaken(err: unknown) {
  return isDuplicateKey(err) ? new AppError(ErrorCode.DUPLICATE_VALUE, 'room name is taken') : err;
}
