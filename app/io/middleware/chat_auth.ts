import type { Application, Context } from 'egg';
import { handshakeParam, ioSocket } from '../../../lib/plugin/io/lib/server';
import { AppError, ErrorCode, isAppError, isBusy } from '../../../lib/errors';
import type { ChatSocket, ChatSocketData, DeviceClass } from '../outbox';
import { admitConnection } from '../socket-limits';

const DEVICE_CLASSES: DeviceClass[] = [ 'DESKTOP', 'MOBILE', 'WEB' ];


export function deviceFromUserAgent(ua: string): DeviceClass {
  if (/electron/i.test(ua)) return 'DESKTOP';
  if (/android|iphone|ipad|ipod|mobile/i.test(ua)) return 'MOBILE';
  return 'WEB';
}

/**
 * /chat handshake (PROTOCOL §4): token in query.token (v2 clients) or auth.token (v4), optional
 * userId that must match, device class, then the device policy. A refused socket is told why with
 * `im_error` and disconnected; it never stays connected unauthenticated.
 */
export default (_options: unknown, app: Application) => async function chatAuth(ctx: Context, next: () => Promise<void>) {
  const socket = ioSocket<ChatSocket>(ctx);
  // connection limits first: a flood is refused before any database work
  const limited = await admitConnection(app, ctx, '/chat');
  if (limited) {
    app.outbox.dropWith({ socket }, limited);
    return;
  }
  let data: ChatSocketData;
  try {
    const token = handshakeParam(socket, 'token');
    if (typeof token !== 'string' || !token) throw new AppError(ErrorCode.MISS_PARAMS, 'missing token');
    const claims = await ctx.service.auth.verifyAccessToken(token);
    const userId = handshakeParam(socket, 'userId');
    if (userId !== undefined && userId !== claims.userId) throw new AppError(ErrorCode.AUTH_FAILED, 'userId does not match the token');
    const requested = handshakeParam(socket, 'deviceType');
    let device: DeviceClass;
    if (requested === undefined || requested === '') {
      device = deviceFromUserAgent(String(socket.handshake.headers['user-agent'] || ''));
    } else {
      const upper = String(requested).toUpperCase() as DeviceClass;
      if (!DEVICE_CLASSES.includes(upper)) throw new AppError(ErrorCode.MISS_PARAMS, 'deviceType must be DESKTOP, MOBILE or WEB');
      device = upper;
    }
    data = { userId: claims.userId, sessionId: claims.sessionId, device, tokenExpiresAt: claims.exp * 1000 };
  } catch (err) {
    // busy (no database connection free in time): 20009 with when to connect again, not a fault
    const e = isAppError(err) ? err : isBusy(err) ? app.outbox.busy('server busy, connect again later') : new AppError(ErrorCode.SERVER_ERROR, 'handshake failed');
    if (!isAppError(err) && !isBusy(err)) app.logger.error(err);
    app.outbox.dropWith({ socket }, e);
    return;
  }
  if (!socket.connected) return; // the client left while we were checking

  socket.data = data;
  // the token's end closes the socket even if it never sends an event (the packet middleware checks
  // events as they come); Node's timers take at most 2^31-1 ms, so a longer wait is taken in steps
  let expiry: NodeJS.Timeout | undefined;
  const watchExpiry = () => {
    expiry = setTimeout(() => {
      if (Date.now() < data.tokenExpiresAt) return watchExpiry();
      app.outbox.dropWith({ socket }, new AppError(ErrorCode.AUTH_FAILED, 'access token expired'));
    }, Math.min(Math.max(0, data.tokenExpiresAt - Date.now()), 2 ** 31 - 1));
  };
  watchExpiry();
  try {
    await ctx.service.presence.connect(socket);
    await next(); // resolves when the socket disconnects
  } finally {
    clearTimeout(expiry);
    // also when connect failed half-way, so the registry never keeps a socket that is gone
    await ctx.service.presence.disconnect(socket);
  }
};
