import type { Application, Context } from 'egg';
import { ioSocket } from '../../../lib/plugin/io/lib/server';
import { ErrorCode } from '../../../lib/errors';
import { socketError } from '../../../lib/envelope';
import { socketRooms as rooms } from '../../../lib/socket-rooms';
import { rateLimitedEnvelope } from '../../../lib/rate-limits';
import { admitConnection } from '../socket-limits';

const first = (v: unknown) => (Array.isArray(v) ? v[0] : v);

/**
 * /sso handshake (PROTOCOL §5): `query.device_id` must be a pending QR-code login id, else
 * `im_error` 20006 and a disconnect. The socket waits in `qr:<id>`, where scan and confirm reach it
 * from any worker.
 */
export default (_options: unknown, app: Application) => async function ssoAuth(ctx: Context, next: () => Promise<void>) {
  const socket = ioSocket(ctx);
  const limited = await admitConnection(app, ctx, '/sso');
  if (limited) {
    socket.emit('im_error', rateLimitedEnvelope('IMERROR', limited));
    socket.disconnect(true);
    return;
  }
  const deviceId = first(socket.handshake.query.device_id);
  let refusal: [ typeof ErrorCode.CODE_EXPIRED | typeof ErrorCode.SERVER_ERROR, string ] | null = null;
  try {
    if (!await ctx.service.qrcode.isPending(deviceId)) refusal = [ ErrorCode.CODE_EXPIRED, 'QR code is unknown or expired' ];
  } catch (err) {
    app.logger.error(err);
    refusal = [ ErrorCode.SERVER_ERROR, 'handshake failed' ];
  }
  if (refusal) {
    socket.emit('im_error', socketError('IMERROR', ...refusal));
    socket.disconnect(true);
    return;
  }
  if (!socket.connected) return; // the client left while we were checking
  socket.join(rooms.qr(deviceId as string));
  // the socket lives as long as its id: then it is told so and closed
  const expiry = setTimeout(() => {
    socket.emit('im_error', socketError('IMERROR', ErrorCode.CODE_EXPIRED, 'QR code expired'));
    socket.disconnect(true);
  }, await ctx.service.qrcode.remainingMs(deviceId as string));
  try {
    await next(); // resolves when the socket disconnects
  } finally {
    clearTimeout(expiry);
  }
};
