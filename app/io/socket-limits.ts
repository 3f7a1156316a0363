import type { Application, Context } from 'egg';
import type { Socket } from 'socket.io';
import { rateLimits } from '../../config/rate-limits';
import { isAppError, tooManyRequests, type AppError } from '../../lib/errors';
import { countedPerSocket, takeAll, type LimitUse } from '../../lib/rate-limits';
import { ioSocket } from '../../lib/plugin/io/lib/server';

/**
 * The socket side of config/rate-limits.ts, used by the namespaces' connection and packet middleware:
 * the one place sockets consume rate limits.
 */

/** The table's uses for `name` in a namespace (`connect`, `*` or an event); an event named like an Object member is just unknown. */
function usesOf(nsp: string, name: string): readonly LimitUse[] {
  const table = rateLimits.sockets[nsp] ?? {};
  return Object.hasOwn(table, name) ? table[name] : [];
}

/**
 * An event's uses (`*`, then its own), looked up on every event: built once per namespace and named
 * event; any other name has `*`'s alone (and is not kept: a client could send endless names).
 */
const eventUses = new Map<string, { star: readonly LimitUse[]; named: Map<string, readonly LimitUse[]> }>();
function eventUsesOf(nsp: string, event: string): readonly LimitUse[] {
  let uses = eventUses.get(nsp);
  if (!uses) {
    const star = usesOf(nsp, '*');
    const named = Object.keys(rateLimits.sockets[nsp] ?? {}).filter(name => name !== '*' && name !== 'connect').map(name => [ name, [ ...star, ...usesOf(nsp, name) ] ] as const);
    eventUses.set(nsp, uses = { star, named: new Map(named) });
  }
  return uses.named.get(event) ?? uses.star;
}

function keyOf(use: LimitUse, socket: Socket, ip: string, payload: unknown): string | null {
  if (use.whenBodyHas && !(payload && typeof payload === 'object' && Object.hasOwn(payload, use.whenBodyHas))) return null;
  switch (use.by) {
    case 'ip': return ip;
    case 'socket': return socket.id;
    case 'user': {
      const userId = (socket.data as { userId?: string }).userId;
      if (!userId) throw new Error(`rate limit ${use.limit}: the socket has no user`);
      return userId;
    }
    default: throw new Error(`rate limit ${use.limit}: a socket has no ${use.by}`);
  }
}

/**
 * Consumes the limits of the current event (`*` and the event's own) for its socket. Over one, the
 * event is answered 20009 with `meta.retryAfterMs` (to its ack, else as `im_error`), the socket stays,
 * and this returns the refusal (null: admitted). The per-socket limits of every event are decided
 * without a promise; only a limit shared through a store returns one.
 */
export function admitByRate(app: Application, ctx: Context, nsp: string): AppError | null | Promise<AppError | null> {
  const socket = ioSocket(ctx);
  const event = String(ctx.packet[0]);
  const uses = eventUsesOf(nsp, event);
  if (!uses.length) return null;
  const refuse = (err: unknown) => {
    if (!isAppError(err)) throw err;
    app.outbox.refuseReply(socket, ctx.socketAck, event, err);
    return err;
  };
  const payload = ctx.socketAck ? ctx.args.slice(0, -1)[0] : ctx.args[0];
  const ip = addressOf(ctx, socket);
  let shared: LimitUse[] | null = null;
  try {
    for (const use of uses) {
      if (!countedPerSocket(use)) (shared ??= []).push(use);
      else if (keyOf(use, socket, ip, payload) !== null) app.rateLimits.takeForSocket(use, socket);
    }
  } catch (err) {
    return refuse(err);
  }
  if (!shared) return null;
  return takeAll(app.rateLimits, shared, use => keyOf(use, socket, ip, payload), ip).then(() => null, refuse);
}

/** Each socket's client address, as its handshake's context saw it (a packet's context would work it out again). */
const addresses = new WeakMap<Socket, string>();
function addressOf(ctx: Context, socket: Socket): string {
  let ip = addresses.get(socket);
  if (ip === undefined) addresses.set(socket, ip = ctx.ip);
  return ip;
}

/** Open /chat and /sso sockets of this process per client address (config.sockets.perAddress). */
const openByAddress = new Map<string, number>();

/**
 * A new socket on /chat or /sso, before anything else is done for it: the namespace's `connect`
 * limits (new sockets per address and window, config/rate-limits.ts), then the cap of open sockets
 * per address in this process. Returns the refusal (20009) or null; an admitted socket gives its
 * place back when it disconnects.
 */
export async function admitConnection(app: Application, ctx: Context, nsp: string): Promise<AppError | null> {
  const socket = ioSocket(ctx);
  const ip = addressOf(ctx, socket);
  try {
    await takeAll(app.rateLimits, usesOf(nsp, 'connect'), use => keyOf(use, socket, ip, null), ip);
  } catch (err) {
    if (!isAppError(err)) throw err;
    return err;
  }
  if (!socket.connected) return null; // gone meanwhile: nothing to count (its disconnect has passed)
  const open = openByAddress.get(ip) ?? 0;
  if (open >= app.config.sockets.perAddress) return tooManyRequests(CAP_RETRY_MS, 'too many open connections from your address');
  openByAddress.set(ip, open + 1);
  socket.once('disconnect', () => {
    const left = (openByAddress.get(ip) ?? 1) - 1;
    if (left > 0) openByAddress.set(ip, left); else openByAddress.delete(ip);
  });
  return null;
}

/** When a client refused by a cap of open sockets may try again: a hint, since it depends on its other sockets closing. */
export const CAP_RETRY_MS = 5000;
