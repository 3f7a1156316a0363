import type { Application, Context } from 'egg';
import { handshakeParam, ioSocket } from '../../../lib/plugin/io/lib/server';
import { AppError, ErrorCode } from '../../../lib/errors';
import { socketRooms as rooms } from '../outbox';


/**
 * /sso handshake (PROTOCOL §5): `query.device_id` must be a pending QR-code login id, else
 * `im_error` 20006 and a disconnect. The socket waits in `qr:<id>`, where scan and confirm reach it
 * from any worker.
 */
export default (_options: unknown, app: Application) => async function ssoAuth(ctx: Context, next: () => Promise<void>) {
  const socket = ioSocket(ctx);
  const deviceId = handshakeParam(socket, 'device_id');
  let refusal: [ typeof ErrorCode.CODE_EXPIRED | typeof ErrorCode.SERVER_ERROR, string ] | null = null;
  try {
    if (!await ctx.service.qrcode.isPending(deviceId)) refusal = [ ErrorCode.CODE_EXPIRED, 'QR code is unknown or expired' ];
  } catch (err) {
    app.logger.error(err);
    refusal = [ ErrorCode.SERVER_ERROR, 'handshake failed' ];
  }
  if (refusal) {
    app.outbox.dropWith({ socket }, new AppError(...refusal));
    return;
  }
  if (!socket.connected) return; // the client left while we were checking
  socket.join(rooms.qr(deviceId as string));
  await next(); // resolves when the socket disconnects
};
