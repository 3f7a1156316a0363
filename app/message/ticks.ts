import type { Model, Types } from 'mongoose';
import { LRUCache } from 'lru-cache';
import { isRoom, timelineIdOf } from '../../lib/conversation-ids';
import type { DeliveryTick } from '../../lib/schemas/wire';
import type { RoomDoc } from '../model/room';
import type { Outbox } from '../io/outbox';

/** What a tick needs of an acked message. */
export interface TickedMessage {
  _id: Types.ObjectId | string;
  fp: string;
  from: Types.ObjectId | string;
  to: Types.ObjectId | string;
  typeu: number;
  seq: number;
}

/** how long ticks gather per sender before they go, ms */
const GATHER_MS = 50;
/** how long a room's size is taken as known, ms */
const ROOM_SIZE_MS = 30_000;

/**
 * How many members each room has, cached a little (room typing and delivery ticks go to rooms of at
 * most `presence.roomLimit` members only; a size a few seconds old decides that well enough).
 */
export class RoomSizes {
  private readonly sizes = new LRUCache<string, number>({ max: 10_000, ttl: ROOM_SIZE_MS });
  /** reads under way: the acks of a fan-out all ask at once, and share one read */
  private readonly loading = new Map<string, Promise<number>>();

  constructor(private readonly rooms: () => Model<RoomDoc>) {}

  /** members of the room if known now (no read) */
  known(roomId: string): number | undefined {
    return this.sizes.get(roomId);
  }

  /** members of the room; 0 when it does not exist */
  async of(roomId: string): Promise<number> {
    const known = this.sizes.get(roomId);
    if (known !== undefined) return known;
    let load = this.loading.get(roomId);
    if (!load) {
      load = this.rooms().findById(roomId, { members: 1 }).lean<Pick<RoomDoc, 'members'>>().then(room => {
        const size = room?.members.length ?? 0;
        this.sizes.set(roomId, size);
        return size;
      }).finally(() => this.loading.delete(roomId));
      this.loading.set(roomId, load);
    }
    return load;
  }
}

/**
 * Delivery ticks (§8 `to_delivered`): when recipients ack messages, the senders' online devices are
 * told which of theirs reached whom, gathered for a moment per sender (one event for a burst of
 * acks). Nothing is queued for an offline sender: in c2c their history says it (`delivered`). Rooms
 * of more than `presence.roomLimit` members get none (a message to 2,000 would cost 2,000 ticks).
 */
export class DeliveryTicks {
  private readonly waiting = new Map<string, Map<string, DeliveryTick>>();
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly deps: { outbox: Outbox; roomSizes: RoomSizes; roomLimit: () => number; logError: (msg: string, err: unknown) => void }) {}

  /** `ackerId` acked these messages (their ack is stored). */
  acked(ackerId: string, messages: TickedMessage[]) {
    const others = messages.filter(m => String(m.from) !== ackerId);
    if (!others.length) return;
    // one message of a room whose size is known (each member's ack of a fan-out): decided here, no promise
    if (others.length === 1 && isRoom(others[0].typeu)) {
      const size = this.deps.roomSizes.known(String(others[0].to));
      if (size !== undefined) {
        if (size <= this.deps.roomLimit()) this.add(ackerId, others[0]);
        return;
      }
    }
    void this.admit(others).then(admitted => {
      for (const m of admitted) this.add(ackerId, m);
    }, err => this.deps.logError('[message] delivery ticks not sent', err));
  }

  /** The messages whose conversation gets ticks: c2c always, rooms up to the limit. */
  private async admit(messages: TickedMessage[]): Promise<TickedMessage[]> {
    const rooms = [ ...new Set(messages.filter(m => isRoom(m.typeu)).map(m => String(m.to))) ];
    if (!rooms.length) return messages;
    const limit = this.deps.roomLimit();
    const small = new Set<string>();
    await Promise.all(rooms.map(async id => { if (await this.deps.roomSizes.of(id) <= limit) small.add(id); }));
    return messages.filter(m => !isRoom(m.typeu) || small.has(String(m.to)));
  }

  private add(ackerId: string, m: TickedMessage) {
    const sender = String(m.from);
    let items = this.waiting.get(sender);
    if (!items) this.waiting.set(sender, items = new Map());
    const id = String(m._id);
    const item = items.get(id);
    if (item) {
      if (!item.delivered.includes(ackerId)) item.delivered.push(ackerId);
    } else {
      items.set(id, { _id: id, fp: m.fp, timelineId: timelineIdOf(m.typeu, sender, String(m.to)), typeu: m.typeu, seq: m.seq, delivered: [ ackerId ] });
    }
    this.timer ??= setTimeout(() => this.send(), GATHER_MS);
  }

  private send() {
    this.timer = null;
    const batch = [ ...this.waiting ];
    this.waiting.clear();
    for (const [ sender, items ] of batch) this.deps.outbox.send({ user: sender }, 'to_delivered', [ ...items.values() ]);
  }
}
