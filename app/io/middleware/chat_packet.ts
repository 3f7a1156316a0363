import { ioSocket } from '../../../lib/plugin/io/lib/server';
import type { Context } from 'egg';
import { ErrorCode } from '../../../lib/errors';
import { socketError } from '../../../lib/envelope';
import type { ChatSocketData } from './chat_auth';

/**
 * Runs before every /chat event: an access token that expired while the socket was open stops
 * working here (PROTOCOL §4): the event gets `im_error` 20001 and the socket is disconnected.
 */
export default () => async function chatPacket(ctx: Context, next: () => Promise<void>) {
  const socket = ioSocket(ctx);
  const data = socket.data as ChatSocketData;
  if (Date.now() >= data.tokenExpiresAt) {
    // the socket is being closed, so this is told as `im_error` even when the event has an ack;
    // the ack gets the same envelope so no callback is left waiting
    const envelope = socketError('IMERROR', ErrorCode.AUTH_FAILED, 'access token expired');
    const ack = ctx.args[ctx.args.length - 1];
    if (typeof ack === 'function') ack(envelope);
    socket.emit('im_error', envelope);
    socket.disconnect(true);
    return;
  }
  await next();
};
