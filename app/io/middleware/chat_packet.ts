import type { Application, Context } from 'egg';
import type { Socket } from 'socket.io';
import { AppError, ErrorCode } from '../../../lib/errors';
import { admitByRate } from '../socket-limits';

/** Events taken whatever the work in progress: cheap, and coalesced with others' (see below). */
const COALESCED = new Set([ 'c_message_ack', 'to_reader', 'to_typing' ]);

type Pausable = { pause(): void; resume(): void };

/** The ws connection under a socket when its transport is websocket (polling has none to pause). */
function wsOf(socket: Socket): Pausable | null {
  const transport = socket.conn.transport as unknown as { name: string; socket?: { pause?: () => void; resume?: () => void } };
  return transport.name === 'websocket' && typeof transport.socket?.pause === 'function' ? transport.socket as Pausable : null;
}

/**
 * Runs before every /chat event: an access token that expired while the socket was open stops
 * working here (PROTOCOL §4): the event gets `im_error` 20001 and the socket is disconnected.
 * Then the event's rate limits (config/rate-limits.ts: every event, and some by name): over one, the
 * event is refused with 20009 and the socket stays connected.
 *
 * It also bounds the work in progress (config.chatPending), which the rate limit alone does not:
 * 100 events/s per socket is more than the store can take from many sockets at once, and every
 * event admitted holds its context until it is answered (about 12 KB for a `to`; a flood of 200
 * sockets grew the heap by 220 MB of waiting `to`s, bench/flood.js). At `perSocket` events in
 * progress the server stops reading from the socket's websocket until half of them are done: the
 * client's own buffers wait, nothing is refused. Past four times that (polling cannot be paused, and
 * a paused websocket still hands over what it had read), and past `perProcess` for all sockets of
 * this process, events are refused with 20009 and `retryAfterMs` (the outbox's current estimate).
 *
 * A socket told to wait (any 20009 here but a coalesced event's) is not read for that long: what it
 * sends meanwhile stays in its own buffers instead of being parsed and refused one by one, which
 * under a flood took the whole event loop (bench:flood: /healthz waited seconds).
 *
 * Acks, reads and typing (`COALESCED`) are never counted nor refused here: they are the cheapest
 * events there are, their writes merge with everyone else's (the delivery writer's flushes), and a
 * refused ack costs more than a taken one (the client acks again, or gets the message again in its
 * next pull). The per-socket event rate still bounds them.
 */
export default (_options: unknown, app: Application) => {
  const pending = new WeakMap<Socket, number>();
  /** sockets not read until a time (told to wait) */
  const resting = new WeakMap<Socket, NodeJS.Timeout>();
  let inProcess = 0;
  app.metrics.watchPending('chat_events', () => inProcess, () => app.config.chatPending.perProcess);

  function rest(socket: Socket, ms: number | undefined) {
    const ws = ms && !resting.has(socket) ? wsOf(socket) : null;
    if (!ws) return;
    ws.pause();
    const timer = setTimeout(() => {
      resting.delete(socket);
      // still past its own bound: the pending count resumes it once half are done
      if ((pending.get(socket) ?? 0) < app.config.chatPending.perSocket) ws.resume();
    }, ms);
    timer.unref();
    resting.set(socket, timer);
  }

  return async function chatPacket(ctx: Context, next: () => Promise<void>) {
    const socket = ctx.chatSocket;
    const event = String(ctx.packet[0]);
    if (COALESCED.has(event)) {
      await admitted(ctx, next, false);
      return;
    }
    const { perSocket, perProcess } = app.config.chatPending;
    const mine = pending.get(socket) ?? 0;
    if (mine >= perSocket * 4 || inProcess >= perProcess) {
      const err = app.outbox.busy(inProcess >= perProcess ? 'server busy, try again later' : 'too many events in progress, wait for their replies');
      app.outbox.refuseReply(socket, ctx.socketAck, event, err);
      rest(socket, err.retryAfterMs);
      return;
    }
    pending.set(socket, mine + 1);
    inProcess++;
    const ws = mine + 1 === perSocket ? wsOf(socket) : null;
    ws?.pause();
    try {
      await admitted(ctx, next, true);
    } finally {
      inProcess--;
      const left = (pending.get(socket) ?? 1) - 1;
      if (left) pending.set(socket, left); else pending.delete(socket);
      // resume once half are done (not at each one: pausing per event would cost more than it saves)
      if (left === Math.floor(perSocket / 2) && !resting.has(socket)) wsOf(socket)?.resume();
    }
  };

  async function admitted(ctx: Context, next: () => Promise<void>, restWhenRefused: boolean) {
    const socket = ctx.chatSocket;
    if (Date.now() >= socket.data.tokenExpiresAt) {
      // the socket is being closed, so this is told as `im_error` even when the event has an ack;
      // the ack gets the same envelope so no callback is left waiting
      const err = new AppError(ErrorCode.AUTH_FAILED, 'access token expired');
      const ack = ctx.socketAck;
      if (ack) app.outbox.refuseReply(socket, ack, 'IMERROR', err);
      app.outbox.dropWith({ socket }, err);
      return;
    }
    const verdict = admitByRate(app, ctx, '/chat');
    const refused = verdict instanceof Promise ? await verdict : verdict;
    if (refused) {
      if (restWhenRefused) rest(socket, refused.retryAfterMs);
      return;
    }
    await next();
  }
};
