/**
 * Everything the server sends to sockets goes through here (PROTOCOL §2): typed events, the action
 * key derived from the event name, one envelope builder, one way to reply to an event and one way
 * to refuse. Targets are Socket.IO rooms (socket-rooms below), which the Redis adapter carries to
 * every worker and machine, so nothing here knows where a socket lives.
 */
import type { Context } from 'egg';
import type { Namespace, Socket } from 'socket.io';
import type { ZodType } from 'zod';
import { Actions, actionOf, type WireEvent } from '../../lib/actions';
import { socketEnvelope, socketError } from '../../lib/envelope';
import { AppError, ErrorCode, isAppError, tooManyRequests } from '../../lib/errors';
import { ioSocket, type IoServer } from '../../lib/plugin/io/lib/server';
import type { ServerEvent, ServerEventPayloads, ServerToClientEvents, SocketMeta, WireMessage } from '../../lib/schemas/wire';
import { firstIssue } from '../../lib/schemas/common';
import { DeadlineError, withinDeadline } from '../../lib/deadline';
import { RetryAfter } from '../../lib/retry-after';
import { isRoom } from '../../lib/conversation-ids';
import type { Metrics } from '../../lib/metrics';

export type DeviceClass = 'DESKTOP' | 'MOBILE' | 'WEB';

/** What a /chat socket knows about its user once the handshake passed (`socket.data`). */
export interface ChatSocketData {
  userId: string;
  sessionId: string;
  device: DeviceClass;
  /** access token expiry, ms since the epoch */
  tokenExpiresAt: number;
  /** the user's connection number from the presence registry (set on connect; the device policy kicks lower ones) */
  gen?: number;
}

/** Events between our own workers (`serverSideEmit`, through the Redis adapter). */
export interface InterServerEvents {
  [event: string]: (...args: any[]) => void;
}

// eslint-disable-next-line @typescript-eslint/no-empty-object-type
type ClientToServerEvents = {};

export type ChatSocket = Socket<ClientToServerEvents, ServerToClientEvents, InterServerEvents, ChatSocketData>;
export type ChatNamespace = Namespace<ClientToServerEvents, ServerToClientEvents, InterServerEvents, ChatSocketData>;
export type SsoSocket = Socket<ClientToServerEvents, ServerToClientEvents, InterServerEvents, Record<string, never>>;

/** Socket.IO room names (ARCHITECTURE.md). */
export const socketRooms = {
  /** every /chat socket of a user */
  user: (userId: string) => `user:${userId}`,
  /** the sockets of one login session (logout, revocation) */
  session: (sessionId: string) => `session:${sessionId}`,
  /** a user's sockets of one device class (device policy) */
  device: (userId: string, device: string) => `device:${userId}:${device}`,
  /** the members of a chat room (group) */
  room: (roomId: string) => `room:${roomId}`,
};

/** Who gets an event: one socket, a user's sockets (all but one), users, a chat room's members (all but one user), a login session, a QR login's PC (its /sso socket), everyone on /chat. */
export type Target =
  | { socket: Socket }
  /** `exceptSession`: the user's other devices than the one of that login (a REST caller's) */
  | { user: string; exceptSocket?: string; exceptSession?: string }
  | { users: string[]; exceptSocket?: string }
  /**
   * `alsoUsers`: users who just joined (their sockets are added to the room through the adapter,
   * which with Redis takes a round trip): reached either way, each socket once
   */
  | { room: string; exceptUser?: string; alsoUsers?: string[]; exceptSocket?: string }
  | { session: string | string[] }
  /** a /sso socket by its id, on whichever worker it is */
  | { sso: string }
  | { everyone: true };

/** The Socket.IO ack callback a client passed with an event. */
export type Ack = (envelope: unknown) => void;

/** What an event handler may return to add envelope meta (e.g. `more`) to its reply. */
export class SocketReply<T = unknown> {
  constructor(readonly payload: T, readonly meta?: Partial<SocketMeta>) {}
}

/** How an event is answered: which event it is, what its reply is sent as, what its input must be. */
export interface EventSpec<T, R extends ServerEvent | undefined> {
  /** the wire event being handled (its action key names errors) */
  event: WireEvent;
  /** the event the reply is emitted as when there is no ack callback; none = acks `null` only */
  reply?: R;
  /** validates the first argument; a mismatch is 20002 and the socket keeps working */
  schema?: ZodType<T>;
  /**
   * a cheap event whose work is coalesced with others' (acks, reads, typing): answered once its work
   * is done, never with a deadline of its own (the database driver's bounds end a stuck write)
   */
  coalesced?: boolean;
}

type ReplyOf<R> = R extends ServerEvent ? ServerEventPayloads[R] | SocketReply<ServerEventPayloads[R]> : unknown;

type Emitter = { emit(event: string, ...args: unknown[]): unknown };
type Selection = Emitter & { except(room: string | string[]): Selection; socketsJoin(room: string | string[]): void; socketsLeave(room: string | string[]): void; disconnectSockets(close?: boolean): void };

const NOBODY: Selection = { emit: () => false, except: () => NOBODY, socketsJoin: () => undefined, socketsLeave: () => undefined, disconnectSockets: () => undefined };

export class Outbox {
  /** when shed clients may come back, from how long events take to be answered now */
  private readonly retryAfter = new RetryAfter();

  constructor(private readonly io: IoServer, private readonly opts: { replyTimeoutMs: () => number; logError: (msg: string, err: unknown) => void; metrics?: Metrics }) {}

  /**
   * Answers a socket event the way PROTOCOL §2 wants: the first argument is validated, `run`'s
   * result goes to the ack callback when there is one (only there), else it is emitted as the reply
   * event; an event without a reply of its own acks `null`. Refusals become the error envelope (to
   * the ack, else `im_error`) with the offending `fp` when the input has one. Work not done within
   * `replyTimeoutMs` (the server or the database is busy) is answered 20009 with `retryAfterMs`
   * (PROTOCOL §2: never 50000 for being busy); unexpected failures are logged and answered 50000.
   * Nothing thrown here reaches Socket.IO.
   */
  async answer<T, R extends ServerEvent | undefined = undefined>(ctx: Context, spec: EventSpec<T, R>, run: (input: T) => Promise<ReplyOf<R>> | ReplyOf<R>) {
    const socket = ioSocket(ctx);
    const ack = ctx.socketAck;
    const raw = ack ? ctx.args.slice(0, -1)[0] : ctx.args[0];
    const started = performance.now();
    const deadlineMs = this.opts.replyTimeoutMs();
    let code: number = ErrorCode.OK;
    try {
      let input = raw as T;
      if (spec.schema) {
        const parsed = spec.schema.safeParse(raw);
        if (!parsed.success) throw new AppError(ErrorCode.MISS_PARAMS, firstIssue(parsed.error, 'payload'));
        input = parsed.data;
      }
      const work = Promise.resolve(run(input));
      const result = spec.coalesced ? await work : await withinDeadline(work, deadlineMs, spec.event);
      const reply = result instanceof SocketReply ? result : new SocketReply(result);
      this.reply(socket, ack, spec.event, spec.reply, reply.payload as ServerEventPayloads[ServerEvent], reply.meta);
    } catch (err) {
      const e = isAppError(err) ? err : err instanceof DeadlineError ? this.busy(`${spec.event} not done in time: the server is busy, try again later`) : null;
      if (!e) this.opts.logError(`[io] ${spec.event} failed`, err);
      code = e?.code ?? ErrorCode.SERVER_ERROR;
      const refusal = e ?? new AppError(ErrorCode.SERVER_ERROR, 'server error');
      const fp = raw && typeof raw === 'object' && typeof (raw as { fp?: unknown }).fp === 'string' ? (raw as { fp: string }).fp : null;
      this.refuseReply(socket, ack, spec.event, refusal, fp);
    } finally {
      const took = performance.now() - started;
      // only work done (or given up on) says how busy the server is: refusals are answered at once
      if (code === ErrorCode.OK || took >= deadlineMs) this.retryAfter.observe(took);
      const metrics = this.opts.metrics;
      if (metrics) {
        metrics.socketEvents.inc({ event: spec.event, code: String(code) });
        metrics.socketEventSeconds.observe({ event: spec.event }, took / 1000);
      }
    }
  }

  /** 20009 for load being shed, with the current `retryAfterMs` (about twice the answer time now, jittered). */
  busy(message: string): AppError {
    return tooManyRequests(this.retryAfter.ms, message);
  }

  /** the /chat namespace, typed */
  get chat(): ChatNamespace {
    return this.io.of('/chat').nsp as ChatNamespace;
  }

  /** Sends `event` with `payload` in the success envelope. */
  send<E extends ServerEvent>(target: Target, event: E, payload: ServerEventPayloads[E], meta?: Partial<SocketMeta>) {
    this.select(target).emit(event, socketEnvelope(Actions[event], payload, meta));
  }

  /**
   * `im_error` for a refusal: the action of the event that failed (`IMERROR` when none did), the
   * code and message, the offending item's `fp`, and `retryAfterMs` on 20009 (the current one when
   * the refusal names none).
   */
  refuse(target: Target, failed: string, err: AppError, fp: string | null = null) {
    this.select(target).emit('im_error', this.errorEnvelope(failed, err, fp));
  }

  /**
   * The reply to an event (PROTOCOL §2): to its ack callback only when the client passed one, else
   * emitted as `event`; with no reply event of its own (`c_message_ack`, `to_reader`, `to_typing`)
   * only an ack callback gets one (`null`).
   */
  reply<E extends ServerEvent>(socket: Socket, ack: Ack | undefined, request: string, event: E | undefined, payload: ServerEventPayloads[E] | null, meta?: Partial<SocketMeta>) {
    const envelope = socketEnvelope(event ? Actions[event] : actionOf(request), event ? payload : null, meta);
    if (ack) ack(envelope);
    else if (event) socket.emit(event, envelope);
  }

  /** A refused event: the error envelope to its ack callback when there is one, else `im_error`. */
  refuseReply(socket: Socket, ack: Ack | undefined, request: string, err: AppError, fp: string | null = null) {
    const envelope = this.errorEnvelope(request, err, fp);
    if (ack) ack(envelope);
    else socket.emit('im_error', envelope);
  }

  /**
   * A stored message to the recipients as `c_message` (the peer's sockets, or the room's but the
   * sender's), and with `meta.sync` to the sender's sockets but `exceptSocket` (the one that sent it).
   */
  message(wire: WireMessage, exceptSocket?: string) {
    const recipients: Target = isRoom(wire.typeu) ? { room: wire.to, exceptUser: wire.from } : { user: wire.to };
    // a c2c message to oneself is refused before it is stored, so the two targets never overlap
    this.send(recipients, 'c_message', wire);
    this.send({ user: wire.from, exceptSocket }, 'c_message', wire, { sync: true });
    this.opts.metrics?.deliveries.inc({ typeu: String(wire.typeu) });
  }

  /**
   * A stored message changed (§8): `c_message_update` with the whole message to every online device
   * of the conversation's members but `exceptSocket` (the one that changed it, which gets its reply).
   */
  messageUpdate(wire: WireMessage, exceptSocket?: string) {
    const members: Target = isRoom(wire.typeu) ? { room: wire.to, exceptSocket } : { users: [ wire.from, wire.to ], exceptSocket };
    this.send(members, 'c_message_update', wire);
  }

  /** The target's sockets join Socket.IO rooms (on every node). */
  join(target: Target, rooms: string | string[]) {
    if ('socket' in target) target.socket.join(rooms);
    else this.select(target).socketsJoin(rooms);
  }

  /** The target's sockets leave a Socket.IO room (on every node). */
  leave(target: Target, room: string) {
    if ('socket' in target) target.socket.leave(room);
    else this.select(target).socketsLeave(room);
  }

  /** Refuses and disconnects the target's sockets: told why first (`im_error`), then dropped. */
  dropWith(target: Target, err: AppError) {
    this.refuse(target, 'IMERROR', err);
    this.disconnect(target);
  }

  /** Disconnects the target's sockets (on every node). */
  disconnect(target: Target) {
    if ('socket' in target) target.socket.disconnect(true);
    else this.select(target).disconnectSockets(true);
  }

  private errorEnvelope(failed: string, err: AppError, fp: string | null) {
    const retryAfterMs = err.code === ErrorCode.RATE_LIMITED ? err.retryAfterMs ?? this.retryAfter.ms : undefined;
    return socketError(failed === 'IMERROR' ? 'IMERROR' : actionOf(failed), err.code, err.message, fp, retryAfterMs ? { retryAfterMs } : undefined);
  }

  private select(target: Target): Selection {
    if ('socket' in target) return target.socket as unknown as Selection;
    // Socket.IO reads no rooms as "everyone": an empty list must reach nobody
    if (('users' in target && !target.users.length) || ('session' in target && Array.isArray(target.session) && !target.session.length)) return NOBODY;
    if ('sso' in target) return this.io.of('/sso').nsp.to(target.sso) as unknown as Selection;
    const chat = this.io.of('/chat').nsp;
    if ('everyone' in target) return chat as unknown as Selection;
    if ('user' in target) {
      const sel = chat.to(socketRooms.user(target.user));
      const except = [ target.exceptSocket, target.exceptSession && socketRooms.session(target.exceptSession) ].filter(Boolean) as string[];
      return (except.length ? sel.except(except) : sel) as unknown as Selection;
    }
    if ('users' in target) {
      const sel = chat.to(target.users.map(socketRooms.user));
      // a socket is in the Socket.IO room named by its id
      return (target.exceptSocket ? sel.except(target.exceptSocket) : sel) as unknown as Selection;
    }
    if ('room' in target) {
      const sel = chat.to([ socketRooms.room(target.room), ...(target.alsoUsers ?? []).map(socketRooms.user) ]);
      const except = [ target.exceptUser && socketRooms.user(target.exceptUser), target.exceptSocket ].filter(Boolean) as string[];
      return (except.length ? sel.except(except) : sel) as unknown as Selection;
    }
    const sessions = Array.isArray(target.session) ? target.session : [ target.session ];
    return chat.to(sessions.map(socketRooms.session)) as unknown as Selection;
  }
}
