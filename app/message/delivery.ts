import { socketEnvelope } from '../../lib/envelope';
import { Actions } from '../../lib/actions';
import { socketRooms } from '../../lib/socket-rooms';
import type { WireMessage } from '../../lib/timeline';

/** Where `c_message` goes: a Socket.IO namespace, or a room selection of it. */
interface Emitter {
  to(room: string | string[]): { except(room: string | string[]): { emit(event: string, ...args: unknown[]): unknown }; emit(event: string, ...args: unknown[]): unknown };
}

/**
 * `c_message` to the recipients (the peer's sockets, or the room's minus the sender's), and with
 * `meta.sync` to the sender's sockets but `exceptSocket` (the one that sent it).
 */
export function deliverMessage(chat: Emitter, wire: WireMessage, exceptSocket?: string) {
  const recipients = wire.typeu === 2 ? socketRooms.room(wire.to) : socketRooms.user(wire.to);
  chat.to(recipients).except(socketRooms.user(wire.from)).emit('c_message', socketEnvelope(Actions.c_message, wire));
  const own = chat.to(socketRooms.user(wire.from));
  (exceptSocket ? own.except(exceptSocket) : own).emit('c_message', socketEnvelope(Actions.c_message, wire, { sync: true }));
}
