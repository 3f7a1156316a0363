import { ioSocket } from '../../../lib/plugin/io/lib/server';
import type { Application, Context } from 'egg';
import { ErrorCode, isAppError } from '../../../lib/errors';
import { actionOf } from '../../../lib/actions';
import { socketError } from '../../../lib/envelope';
import type { ChatSocketData } from './chat_auth';

/**
 * Runs before every /chat event: an access token that expired while the socket was open stops
 * working here (PROTOCOL §4): the event gets `im_error` 20001 and the socket is disconnected.
 * Then the socket's event rate (config.rateLimit.socketEvents): over it, the event is refused with
 * 20009 and the socket stays connected.
 */
export default (_options: unknown, app: Application) => async function chatPacket(ctx: Context, next: () => Promise<void>) {
  const socket = ioSocket(ctx);
  const data = socket.data as ChatSocketData;
  const ack = ctx.args[ctx.args.length - 1];
  if (Date.now() >= data.tokenExpiresAt) {
    // the socket is being closed, so this is told as `im_error` even when the event has an ack;
    // the ack gets the same envelope so no callback is left waiting
    const envelope = socketError('IMERROR', ErrorCode.AUTH_FAILED, 'access token expired');
    if (typeof ack === 'function') ack(envelope);
    socket.emit('im_error', envelope);
    socket.disconnect(true);
    return;
  }
  try {
    await app.rateLimit('socketEvents', socket.id, 'memory');
  } catch (err) {
    if (!isAppError(err)) throw err;
    const envelope = socketError(actionOf(String(ctx.packet[0])), err.code, err.message);
    if (typeof ack === 'function') ack(envelope);
    else socket.emit('im_error', envelope);
    return;
  }
  await next();
};
