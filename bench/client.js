'use strict';
/**
 * The client side of both benchmarks: a /chat socket as the im-client-sdk opens one (socket.io-client
 * v4 over websocket, token in auth, userId and deviceType in the query), and request/ack calls with
 * a timeout. Only the contract (PROTOCOL §2, §4) is used.
 */
const { io } = require('socket.io-client');

const now = () => Number(process.hrtime.bigint() / 1000n) / 1000; // ms, sub-ms resolution

/**
 * Connects one user's socket. A refused or failed handshake is retried until `deadline` (ms since
 * the epoch), as a real client reconnects; `onRetry` is told each time. Resolves to the socket.
 */
function connectChat(url, user, { deviceType = 'WEB', query = {}, deadline = Date.now() + 60000, onRetry = () => {} } = {}) {
  return new Promise((resolve, reject) => {
    let lastError = null;
    const attempt = () => {
      const left = deadline - Date.now();
      if (left <= 0) return reject(new Error(`could not connect ${user.id}: ${lastError ? lastError.message : 'timed out'}`));
      const socket = io(`${url}/chat`, {
        path: '/ws', transports: [ 'websocket' ], forceNew: true, reconnection: false, timeout: left,
        auth: { token: user.token }, query: { userId: user.id, deviceType, ...query },
      });
      const fail = err => {
        lastError = err;
        socket.removeAllListeners();
        socket.close();
        onRetry(err);
        setTimeout(attempt, 250);
      };
      // a refusal comes as im_error then a disconnect: that is not a server under load, give up
      const refused = e => {
        socket.removeAllListeners();
        socket.close();
        reject(new Error(`refused ${user.id}: ${JSON.stringify(e)}`));
      };
      socket.once('connect', () => {
        socket.off('connect_error', fail);
        // the handshake's checks run after the connect: the caller watches for their refusal
        socket.off('im_error', refused);
        resolve(socket);
      });
      socket.once('connect_error', fail);
      socket.once('im_error', refused);
    };
    attempt();
  });
}

/** Emits `event` with an ack callback; resolves to the reply envelope, rejects after timeoutMs. */
function call(socket, event, payload, timeoutMs = 30000) {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`${event}: no reply within ${timeoutMs} ms`)), timeoutMs);
    const done = reply => { clearTimeout(t); resolve(reply); };
    if (payload === undefined) socket.emit(event, done); else socket.emit(event, payload, done);
  });
}

/** Like call(), but also fails on an error envelope. Resolves to data.payload. */
async function request(socket, event, payload, timeoutMs) {
  const reply = await call(socket, event, payload, timeoutMs);
  if (!reply || reply.code !== 0) throw new Error(`${event}: ${JSON.stringify(reply).slice(0, 300)}`);
  return reply.data.payload;
}

/**
 * A sliding limit of `max` events per second for one socket, so a benchmark client stays under the
 * server's per-socket event limit (config rateLimit.socketEvents, 100/s) instead of measuring refusals.
 */
class EventBudget {
  constructor(max = 80) {
    this.max = max;
    this.times = [];
  }

  /** Takes one event if the last second has room for it. */
  take() {
    const t = Date.now();
    while (this.times.length && t - this.times[0] >= 1000) this.times.shift();
    if (this.times.length >= this.max) return false;
    this.times.push(t);
    return true;
  }
}

module.exports = { now, connectChat, call, request, EventBudget };
