import type { Application, Context } from 'egg';
import { handshakeParam, ioSocket } from '../../../lib/plugin/io/lib/server';
import { AppError, ErrorCode } from '../../../lib/errors';
import { admitConnection } from '../socket-limits';


/**
 * /sso handshake (PROTOCOL §5): `query.device_id` must be a pending QR-code login id this socket may
 * wait on (the id's first socket, or one with the PC's secret in `auth.secret` / `query.secret`),
 * else `im_error` 20006 and a disconnect. Scan and confirm reach it by its socket id, from any worker.
 */
export default (_options: unknown, app: Application) => async function ssoAuth(ctx: Context, next: () => Promise<void>) {
  const socket = ioSocket(ctx);
  const limited = await admitConnection(app, ctx, '/sso');
  if (limited) {
    app.outbox.dropWith({ socket }, limited);
    return;
  }
  const deviceId = handshakeParam(socket, 'device_id');
  // the secret GET /api/qrcode gave the PC: v4 clients send it in auth, v2 clients in the query
  const secret = handshakeParam(socket, 'secret');
  let ttlMs: number | null = null;
  let refusal: [ typeof ErrorCode.CODE_EXPIRED | typeof ErrorCode.SERVER_ERROR, string ] | null = null;
  try {
    ttlMs = await ctx.service.qrcode.attach(deviceId, secret, socket.id);
    if (ttlMs === null) refusal = [ ErrorCode.CODE_EXPIRED, 'QR code is unknown, expired or already waited on' ];
  } catch (err) {
    app.logger.error(err);
    refusal = [ ErrorCode.SERVER_ERROR, 'handshake failed' ];
  }
  if (refusal) {
    app.outbox.dropWith({ socket }, new AppError(...refusal));
    return;
  }
  // the socket lives as long as its id: then it is told so and closed
  const expiry = setTimeout(() => {
    app.outbox.dropWith({ socket }, new AppError(ErrorCode.CODE_EXPIRED, 'QR code expired'));
  }, ttlMs!);
  try {
    await next(); // resolves when the socket disconnects (at once if it already left)
  } finally {
    clearTimeout(expiry);
  }
};
