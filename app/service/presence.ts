import { Service } from 'egg';
import type { Socket } from 'socket.io';
import { ErrorCode } from '../../lib/errors';
import { socketError } from '../../lib/envelope';
import type { ChatSocketData } from '../io/middleware/chat_auth';
import { socketRooms as rooms } from '../../lib/socket-rooms';

/**
 * Who is connected: applies the device policy when a socket arrives and puts it in its rooms.
 */
export default class PresenceService extends Service {
  async connect(socket: Socket) {
    const { userId, sessionId, device } = socket.data as ChatSocketData;
    const chat = this.app.io.of('/chat');
    const policy = this.config.auth.devicePolicy;
    if (policy !== 'allow-all') {
      // the new socket has not joined yet, so these rooms hold only the older sockets
      const replaced = policy === 'single' ? rooms.user(userId) : rooms.device(userId, device);
      chat.to(replaced).emit('im_error', socketError('IMERROR', ErrorCode.DUPLICATE_CLIENT, `replaced by a newer login on ${policy === 'single' ? 'another device' : device}`));
      chat.in(replaced).disconnectSockets(true);
    }
    socket.join([ rooms.user(userId), rooms.session(sessionId), rooms.device(userId, device) ]);
  }

  /** Whether the user has a /chat socket on any worker. */
  async isOnline(userId: string): Promise<boolean> {
    const sockets = await this.app.io.of('/chat').in(rooms.user(userId)).fetchSockets();
    return sockets.length > 0;
  }
}
