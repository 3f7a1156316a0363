import type { Application, Context } from 'egg';
import { ioSocket } from '../../../lib/plugin/io/lib/server';
import { ErrorCode } from '../../../lib/errors';
import { socketError } from '../../../lib/envelope';
import { rateLimitedEnvelope } from '../../../lib/rate-limits';
import { admitConnection } from '../socket-limits';

const first = (v: unknown) => (Array.isArray(v) ? v[0] : v);

/**
 * /sso handshake (PROTOCOL §5): `query.device_id` must be a pending QR-code login id this socket may
 * wait on (the id's first socket, or one with the PC's secret in `auth.secret` / `query.secret`),
 * else `im_error` 20006 and a disconnect. Scan and confirm reach it by its socket id, from any worker.
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
  // the secret GET /api/qrcode gave the PC: v4 clients send it in auth, v2 clients in the query
  const secret = first(socket.handshake.auth?.secret) ?? first(socket.handshake.query.secret);
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
    socket.emit('im_error', socketError('IMERROR', ...refusal));
    socket.disconnect(true);
    return;
  }
  // the socket lives as long as its id: then it is told so and closed
  const expiry = setTimeout(() => {
    socket.emit('im_error', socketError('IMERROR', ErrorCode.CODE_EXPIRED, 'QR code expired'));
    socket.disconnect(true);
  }, ttlMs!);
  try {
    await next(); // resolves when the socket disconnects (at once if it already left)
  } finally {
    clearTimeout(expiry);
  }
};
