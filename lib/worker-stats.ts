import { hostname } from 'node:os';
import type { Namespace } from 'socket.io';

/** Server-side event through which workers report their socket counts to the one asking (Redis adapter). */
export const SOCKET_COUNT_EVENT = 'im:socket-count';

/** This worker's name in `socketsPerWorker`: host and process id. */
export const workerId = `${hostname()}:${process.pid}`;

export interface WorkerSockets {
  worker: string;
  sockets: number;
}

export const localSockets = (nsp: Namespace): WorkerSockets => ({ worker: workerId, sockets: nsp.sockets.size });

/** Every worker answers the question; call once per process at start. */
export function answerSocketCounts(nsp: Namespace) {
  nsp.on(SOCKET_COUNT_EVENT, (reply: (r: WorkerSockets) => void) => reply(localSockets(nsp)));
}
