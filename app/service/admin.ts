import { Service } from 'egg';
import { AppError, ErrorCode } from '../../lib/errors';
import { localSockets, SOCKET_COUNT_EVENT, type WorkerSockets } from '../../lib/worker-stats';

export default class AdminService extends Service {
  /** Refuses (403 / 10006) anyone but an admin. */
  async assertAdmin(userId: string) {
    const user = await this.service.user.get(userId);
    if (user.role !== 'admin') throw new AppError(ErrorCode.FORBIDDEN, 'admins only');
  }

  /**
   * Online users across every worker (fetchSockets goes through the adapter), sockets per worker
   * (each worker reports its own count; without Redis there is only this one), and messages stored
   * in the last minute.
   */
  async stats() {
    const nsp = this.app.outbox.chat;
    const [ sockets, workers, messagesLastMinute ] = await Promise.all([
      nsp.fetchSockets(),
      this.socketsPerWorker(),
      this.ctx.model.Message.countDocuments({ sendTime: { $gte: new Date(Date.now() - 60_000) } }),
    ]);
    const onlineUsers = new Set(sockets.map(s => s.data?.userId).filter(Boolean)).size;
    const socketsPerWorker: Record<string, number> = {};
    for (const w of workers) socketsPerWorker[w.worker] = w.sockets;
    return { onlineUsers, socketsPerWorker, messagesLastMinute };
  }

  private async socketsPerWorker(): Promise<WorkerSockets[]> {
    const nsp = this.app.outbox.chat;
    const mine = localSockets(nsp);
    if (!this.app.stores.shared) return [ mine ]; // the in-memory adapter has no other workers to ask
    const others = await new Promise<WorkerSockets[]>(resolve => {
      // a worker that does not answer within the adapter's request timeout (5 s) is left out rather
      // than failing the whole report
      nsp.serverSideEmit(SOCKET_COUNT_EVENT, (_err: Error | null, replies: WorkerSockets[]) => resolve(replies ?? []));
    });
    return [ mine, ...others ];
  }
}
