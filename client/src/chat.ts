/**
 * The /chat socket (PROTOCOL §4, §6, §8) done the way the contract needs and every client gets wrong:
 * - reconnect, with a refreshed token when the server says it expired, waiting as long as a 20009
 *   says, and never after the user was replaced by a newer login (20004);
 * - every `send` kept until the server stored it: sent again with the same `fp` after a reconnect or a
 *   lost reply, so nothing is lost and nothing is stored twice;
 * - on every connect, `offline_message` pulled page by page until nothing is left, each page acked
 *   before the next pull;
 * - every message and notice received acked with `c_message_ack`, coalesced;
 * - messages delivered to the app once each (by `_id`), changes once each (by `rev`);
 * - `sync_changes` from the cursor kept in the store, so a device that was away learns every edit,
 *   reaction, recall and pin it missed; an unknown cursor tells the app to reload.
 */
import { io, type Socket } from 'socket.io-client';
import type { MessageChange, ChangesPage, ServerEvent, ServerEventPayloads, SocketEnvelope, SocketMeta, SystemNotice, WireMessage } from '../../lib/schemas/wire';
import type { SendMessageInput } from '../../lib/schemas/message';
import { ApiError, sleep } from './errors';
import type { RestClient } from './rest';
import type { KeyValueStore } from './storage';

export type ConnectionState =
  /** not asked to connect yet */
  | 'idle'
  | 'connecting'
  | 'online'
  /** the connection dropped; it comes back by itself */
  | 'reconnecting'
  /** a newer login of this user on the same kind of device took over; `connect()` takes it back */
  | 'replaced'
  /** the session ended (logout, revoked refresh token): sign in again */
  | 'signed-out'
  | 'closed';

/** What `send` takes: a `to` (§6); `fp` is made when not given, `typeu` defaults to 1 (c2c). */
export type OutgoingMessage = Omit<SendMessageInput, 'fp' | 'typeu'> & { fp?: string; typeu?: 1 | 2 };

export interface ChatEvents {
  /** a message, once (`sync`: one this user sent from another device; `offline`: pulled at connect, it came while away) */
  message: [message: WireMessage, info: { sync: boolean; offline: boolean }];
  /** a system notice, once */
  notice: [notice: SystemNotice];
  /** a message as it is now after an edit, reaction, recall or pin (§8), once per change */
  update: [message: WireMessage];
  /** a message this user hid, or retention removed */
  gone: [change: { _id: string; hidden?: true; removed?: true }];
  /** the change cursor was unknown or too old: reload the history the app shows */
  reload: [];
  state: [state: ConnectionState];
  /** every other server event: receipts, typing, delivery ticks, presence, room and friend notices, conversation settings, uploads */
  event: [event: ServerEvent, payload: unknown, meta: SocketMeta];
  /** a refusal that answers none of this client's requests */
  error: [error: ApiError];
}

export interface ChatOptions {
  /** DESKTOP, MOBILE or WEB: a newer login of the same class replaces this one (§4 device policy); a function is asked at each connect */
  deviceType?: DeviceType | (() => DeviceType);
  /** where the change cursor is kept (default the REST client's store); a browser tab keeps its own, in memory */
  cursorStore?: KeyValueStore;
  /** acks wait this long to go together, ms (default 50) */
  ackDelayMs?: number;
  /** a request's reply, ms (default 10000) */
  requestTimeoutMs?: number;
  /** transports (default websocket only) */
  transports?: Array<'websocket' | 'polling'>;
}

/** events handled here rather than passed on as `event` */
const OWN = new Set([ 'c_message', 'c_message_update', 'sys_notice', 'im_error' ]);
/** most ids remembered to drop duplicates */
const REMEMBERED = 20000;
/** the server takes at most this many refs in one `c_message_ack` */
const ACK_BATCH = 500;
/** a `to` answered 50000 (not stored in time) is tried this often, same fp */
const SEND_TRIES = 5;

type DeviceType = 'DESKTOP' | 'MOBILE' | 'WEB';

type Listener<A extends unknown[]> = (...args: A) => void;

interface PendingSend {
  message: SendMessageInput;
  promise: Promise<WireMessage>;
  resolve: (m: WireMessage) => void;
  reject: (err: Error) => void;
  /** the current attempt: replies to earlier ones only count if they store it */
  attempt: number;
  failures: number;
}

let fpCounter = 0;
const newFp = () => `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}-${(fpCounter++).toString(36)}`;
const isNotice = (item: WireMessage | SystemNotice): item is SystemNotice => item.from === 'system' && !('seq' in item);

class Disconnected extends Error {}

export class ChatClient {
  state: ConnectionState = 'idle';
  /** for an app's diagnostics: sends that went again (same fp), and replies that said 20009 (each waited for) */
  readonly stats = { resends: 0, rateLimited: 0 };
  private socket: Socket | null = null;
  private readonly listeners = new Map<keyof ChatEvents, Set<Listener<any>>>();
  private readonly pending = new Map<string, PendingSend>();
  /** `_id` → the `rev` last given to the app */
  private readonly known = new Map<string, number>();
  private readonly ackQueue = new Set<string>();
  private ackTimer: ReturnType<typeof setTimeout> | null = null;
  private acking: Promise<void> | null = null;
  private syncTimer: ReturnType<typeof setTimeout> | null = null;
  private syncing: Promise<void> | null = null;
  /** why the server last refused this connection */
  private refusal: SocketEnvelope<unknown> | null = null;
  /** the access token the socket last connected with */
  private handshakeToken = '';
  /** connections so far (each reconnect is one) */
  private connections = 0;
  private readonly ackDelayMs: number;
  private readonly timeoutMs: number;
  private readonly cursorStore: KeyValueStore;

  constructor(private readonly rest: RestClient, private readonly opts: ChatOptions = {}) {
    this.cursorStore = opts.cursorStore ?? rest.store;
    this.ackDelayMs = opts.ackDelayMs ?? 50;
    this.timeoutMs = opts.requestTimeoutMs ?? 10000;
  }

  on<E extends keyof ChatEvents>(event: E, listener: Listener<ChatEvents[E]>): () => void {
    let set = this.listeners.get(event);
    if (!set) this.listeners.set(event, set = new Set());
    set.add(listener);
    return () => set!.delete(listener);
  }

  /** One server event by its wire name (`to_reader`, `g_notice`, `presence`...), with its payload typed. */
  onEvent<E extends ServerEvent>(event: E, listener: (payload: ServerEventPayloads[E], meta: SocketMeta) => void): () => void {
    return this.on('event', (name, payload, meta) => {
      if (name === event) listener(payload as ServerEventPayloads[E], meta);
    });
  }

  private emit<E extends keyof ChatEvents>(event: E, ...args: ChatEvents[E]) {
    for (const l of this.listeners.get(event) ?? []) {
      try {
        l(...args);
      } catch (err) {
        // an app's listener must not break the protocol
        setTimeout(() => { throw err; });
      }
    }
  }

  private setState(state: ConnectionState) {
    if (this.state === state) return;
    this.state = state;
    this.emit('state', state);
  }

  /** Opens the socket (again, after `replaced` or `close`). */
  connect() {
    this.disconnectSocket();
    this.setState('connecting');
    const device = this.opts.deviceType;
    const s = io(`${this.rest.baseUrl}/chat`, {
      path: '/ws',
      transports: this.opts.transports ?? [ 'websocket' ],
      forceNew: true,
      reconnectionDelayMax: 5000,
      // asked at every (re)connect, so a refreshed token is used
      auth: cb => {
        this.handshakeToken = this.rest.session?.token ?? '';
        cb({ token: this.handshakeToken });
      },
      query: device ? { deviceType: typeof device === 'function' ? device() : device } : {},
    });
    this.socket = s;
    s.on('connect', () => { void this.onConnect(s); });
    s.on('disconnect', reason => { void this.onDisconnect(s, reason); });
    s.on('im_error', (env: SocketEnvelope<unknown>) => this.onRefusal(env));
    s.on('c_message', (env: SocketEnvelope<WireMessage>) => this.receive(env.data.payload, !!env.meta.sync, false));
    s.on('sys_notice', (env: SocketEnvelope<SystemNotice>) => this.receiveNotice(env.data.payload));
    s.on('c_message_update', (env: SocketEnvelope<WireMessage>) => {
      this.applyChange(env.data.payload);
      // the cursor moves on while online, so a reconnect asks only for what it missed
      this.scheduleSync();
    });
    s.onAny((event: string, env: SocketEnvelope<unknown>) => {
      if (!OWN.has(event)) this.emit('event', event as ServerEvent, env?.data?.payload, env?.meta ?? { timestamp: Date.now() });
    });
    s.io.on('reconnect_attempt', () => { if (this.socket === s) this.setState('reconnecting'); });
  }

  /** Closes the socket; sends not yet stored are refused. */
  close() {
    this.disconnectSocket();
    this.setState('closed');
    for (const p of this.pending.values()) p.reject(new ApiError(50000, 'the chat was closed before the message was stored'));
    this.pending.clear();
  }

  private disconnectSocket() {
    const s = this.socket;
    if (!s) return;
    this.socket = null;
    s.removeAllListeners();
    s.offAny();
    s.io.removeAllListeners();
    s.disconnect();
    for (const timer of [ this.ackTimer, this.syncTimer ]) if (timer) clearTimeout(timer);
    this.ackTimer = null;
    this.syncTimer = null;
  }

  /**
   * Sends a message; resolves with it as stored (with `_id`, `seq`, `sendTime`) once the server has
   * it. While offline it waits; after a reconnect, or a reply that never came, it goes again with
   * the same `fp`, which the server stores once. A refusal (not a member, blocked, bad input) rejects
   * with its ApiError.
   */
  send(input: OutgoingMessage): Promise<WireMessage> {
    const message = { ...input, typeu: input.typeu ?? 1, fp: input.fp ?? newFp() } as SendMessageInput;
    const existing = this.pending.get(message.fp);
    if (existing) return existing.promise;
    let resolve!: (m: WireMessage) => void;
    let reject!: (err: Error) => void;
    const promise = new Promise<WireMessage>((res, rej) => { resolve = res; reject = rej; });
    const p: PendingSend = { message, promise, resolve, reject, attempt: 0, failures: 0 };
    this.pending.set(message.fp, p);
    if (this.state === 'online') this.sendNow(p);
    return promise;
  }

  /** A send is stored: its promise resolves, and the message is known, so a copy of it is no news. */
  private stored(p: PendingSend, message: WireMessage) {
    if (this.pending.get(p.message.fp) !== p) return;
    this.pending.delete(p.message.fp);
    this.remember(message._id, message.rev ?? 0);
    p.resolve(message);
  }

  /** sends not yet stored by the server */
  get unsent(): number {
    return this.pending.size;
  }

  private sendNow(p: PendingSend) {
    const s = this.socket;
    if (!s?.connected || this.pending.get(p.message.fp) !== p) return;
    const attempt = ++p.attempt;
    if (attempt > 1) this.stats.resends++;
    s.timeout(this.timeoutMs).emit('to', p.message, (err: Error | null, env?: SocketEnvelope<WireMessage | string | null>) => {
      if (this.pending.get(p.message.fp) !== p) return;
      if (!err && env?.code === 0) this.stored(p, env.data.payload as WireMessage);
      if (this.pending.get(p.message.fp) !== p) return;
      // an earlier attempt's failure: a later one is under way
      if (attempt !== p.attempt) return;
      // no reply: a reconnect sends it again; a connection still up gets it again now
      if (err || !env) {
        if (this.socket === s && s.connected) this.sendNow(p);
        return;
      }
      if (env.code === 20009) {
        this.stats.rateLimited++;
        setTimeout(() => this.sendNow(p), env.meta.retryAfterMs ?? 1000);
      } else if (env.code === 20001) {
        // the token expired: the server drops the socket, and the reconnect sends it again
      } else if (env.code === 50000 && ++p.failures < SEND_TRIES) {
        setTimeout(() => this.sendNow(p), 500 * p.failures);
      } else {
        this.pending.delete(p.message.fp);
        p.reject(new ApiError(env.code, env.meta.msg ?? 'refused'));
      }
    });
  }

  /**
   * Any other client event (history, conversations, edits, reactions, pins, receipts, typing...):
   * waits until online, then resolves with the reply's payload or rejects with its ApiError. A 20009
   * is tried again after `retryAfterMs`.
   */
  async request<T = unknown>(event: string, payload?: unknown): Promise<T> {
    const s = await this.whenOnline();
    const env = await this.call<T>(s, event, payload);
    if (env.code !== 0) throw new ApiError(env.code, env.meta.msg ?? 'refused', undefined, env.meta.retryAfterMs);
    return env.data.payload;
  }

  private whenOnline(): Promise<Socket> {
    if (this.state === 'online' && this.socket?.connected) return Promise.resolve(this.socket);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => { off(); reject(new ApiError(50000, `not connected within ${this.timeoutMs} ms`)); }, this.timeoutMs);
      const off = this.on('state', state => {
        if (state === 'online' && this.socket?.connected) {
          clearTimeout(timer);
          off();
          resolve(this.socket);
        } else if (state === 'closed' || state === 'signed-out' || state === 'replaced') {
          clearTimeout(timer);
          off();
          reject(new ApiError(20001, `the chat is ${state}`));
        }
      });
    });
  }

  /** one event with its ack; a 20009 waits and goes again (a few times) */
  private async call<T>(s: Socket, event: string, payload?: unknown): Promise<SocketEnvelope<T>> {
    for (let tries = 0; ; tries++) {
      if (!s.connected) throw new Disconnected();
      const timed = s.timeout(this.timeoutMs);
      let env: SocketEnvelope<T>;
      try {
        env = await (payload === undefined ? timed.emitWithAck(event) : timed.emitWithAck(event, payload));
      } catch {
        // no reply in time on a live connection is a slow server, not a lost connection: asked again
        if (s.connected) throw new ApiError(50000, `no reply to ${event} within ${this.timeoutMs} ms`);
        throw new Disconnected();
      }
      if (env.code === 20009 && tries < 5) {
        this.stats.rateLimited++;
        await sleep(env.meta.retryAfterMs ?? 1000);
        continue;
      }
      return env;
    }
  }

  // ---- connecting

  private async onConnect(s: Socket) {
    if (this.socket !== s) return;
    this.refusal = null;
    const connection = ++this.connections;
    const current = () => this.socket === s && s.connected && this.connections === connection;
    for (let round = 0; ; round++) {
      try {
        // the server checks the token after the socket connected: its answer to `c_online` (the online
        // contacts) says the socket was taken; a refused one gets im_error and is dropped instead
        const snapshot = await this.call(s, 'c_online');
        if (this.socket !== s || [ 20001, 20002, 20004 ].includes(snapshot.code)) return;
        this.setState('online');
        if (snapshot.code === 0) this.emit('event', 'c_online', snapshot.data.payload, snapshot.meta);
        break;
      } catch {
        // a dropped connection ends this round (the next connect runs it again); a slow reply is asked again
        if (!current()) return;
        await sleep(Math.min(1000 * 2 ** round, 30000));
      }
    }
    // what was sent but not stored goes again (the server knows each fp once)
    for (const p of this.pending.values()) this.sendNow(p);
    await this.catchUp(s, connection);
  }

  /**
   * Acks, then offline messages, then changes. A refusal (the server busy past its 20009s, a reply
   * not in time) does not leave this connection behind: it is tried again, waiting longer each time,
   * for as long as this socket is connected.
   */
  private async catchUp(s: Socket, connection: number) {
    // the socket object stays across reconnects: a round of an earlier connection stops at the next one
    const current = () => this.socket === s && s.connected && this.connections === connection;
    for (let round = 0; current(); round++) {
      try {
        await this.flushAcks();
        await this.pullOffline(s);
        await this.syncChanges();
        return;
      } catch (err) {
        if (err instanceof Disconnected || !current()) return;
        this.emit('error', err instanceof ApiError ? err : new ApiError(50000, String(err)));
        await sleep(Math.min(1000 * 2 ** round, 30000));
      }
    }
  }

  private onRefusal(env: SocketEnvelope<unknown>) {
    if (env.data?.action === 'IMERROR') this.refusal = env;
    else this.emit('error', new ApiError(env.code, env.meta.msg ?? 'refused', undefined, env.meta.retryAfterMs));
  }

  private async onDisconnect(s: Socket, reason: string) {
    if (this.socket !== s) return;
    const refusal = this.refusal;
    if (refusal?.code === 20004) {
      this.setState('replaced');
      return;
    }
    this.setState('reconnecting');
    // socket.io reconnects by itself unless the server closed the socket: then we decide
    if (reason !== 'io server disconnect') return;
    if (refusal?.code === 20001 || refusal?.code === 20002) {
      try {
        // the REST side may have refreshed already: then its token is the one to reconnect with
        if (this.rest.session?.token === this.handshakeToken) await this.rest.refresh();
      } catch {
        if (this.socket === s) this.setState('signed-out');
        return;
      }
    } else {
      await sleep(Math.min(Math.max(refusal?.code === 20009 ? refusal.meta.retryAfterMs ?? 5000 : 1000, 500), 60000));
    }
    if (this.socket === s) s.connect();
  }

  // ---- receiving

  /** remembers what was given to the app; true when this is news */
  private remember(id: string, rev: number): boolean {
    const known = this.known.get(id);
    if (known !== undefined && known >= rev) return false;
    this.known.delete(id);
    this.known.set(id, rev);
    if (this.known.size > REMEMBERED) this.known.delete(this.known.keys().next().value!);
    return true;
  }

  private receive(m: WireMessage, sync: boolean, offline: boolean) {
    this.queueAck(m._id);
    // a copy of one of this client's own sends (its reply was lost with a dropped connection, and
    // the copy reached the new one): the send is stored, its promise carries the message
    const own = sync ? this.pending.get(m.fp) : undefined;
    if (own && own.message.to === m.to) {
      this.stored(own, m);
      return;
    }
    const isNew = !this.known.has(m._id);
    if (!this.remember(m._id, m.rev ?? 0)) return;
    // a recall comes as c_message again, with the same _id and a higher rev
    if (isNew) this.emit('message', m, { sync, offline });
    else this.emit('update', m);
  }

  private receiveNotice(n: SystemNotice) {
    this.queueAck(n._id);
    if (this.remember(n._id, 0)) this.emit('notice', n);
  }

  private applyChange(change: MessageChange) {
    if ('hidden' in change || 'removed' in change) {
      if (this.known.get(change._id) !== Infinity) {
        this.known.set(change._id, Infinity);
        this.emit('gone', change);
      }
      return;
    }
    if (this.remember(change._id, change.rev ?? 0)) this.emit('update', change);
  }

  // ---- acks

  private queueAck(id: string) {
    this.ackQueue.add(id);
    this.ackTimer ??= setTimeout(() => {
      this.ackTimer = null;
      this.flushAcks().catch(() => undefined);
    }, this.ackDelayMs);
  }

  /** Sends every queued ack; resolves once the server has them (queued again if the connection drops). */
  private flushAcks(): Promise<void> {
    // `.finally` runs after the assignment even when there is nothing to send
    this.acking ??= this.sendAcks().finally(() => { this.acking = null; });
    return this.acking;
  }

  private async sendAcks() {
    while (this.ackQueue.size) {
      const s = this.socket;
      if (!s?.connected) throw new Disconnected();
      const ids = [ ...this.ackQueue ].slice(0, ACK_BATCH);
      for (const id of ids) this.ackQueue.delete(id);
      try {
        const env = await this.call(s, 'c_message_ack', { data: ids.map(_id => ({ _id })) });
        if (env.code !== 0) throw new ApiError(env.code, env.meta.msg ?? 'ack refused');
      } catch (err) {
        for (const id of ids) this.ackQueue.add(id);
        throw err;
      }
    }
  }

  // ---- catching up

  /** `offline_message` until nothing is left; each page acked before the next pull, which would return it again */
  private async pullOffline(s: Socket) {
    for (;;) {
      const env = await this.call<Array<WireMessage | SystemNotice>>(s, 'offline_message');
      if (env.code !== 0) throw new ApiError(env.code, env.meta.msg ?? 'offline_message refused');
      for (const item of env.data.payload) {
        if (isNotice(item)) this.receiveNotice(item);
        else this.receive(item, false, true);
      }
      await this.flushAcks();
      if (!env.meta.more || !env.data.payload.length) return;
    }
  }

  private get cursorKey() {
    return `im.cursor.${this.rest.session?.userId ?? ''}`;
  }

  private scheduleSync() {
    this.syncTimer ??= setTimeout(() => {
      this.syncTimer = null;
      this.syncChanges().catch(() => undefined);
    }, 2000);
  }

  /** `sync_changes` from the kept cursor until no more; the cursor is kept after each page */
  private syncChanges(): Promise<void> {
    this.syncing ??= this.sync().finally(() => { this.syncing = null; });
    return this.syncing;
  }

  private async sync() {
    for (;;) {
      const s = this.socket;
      if (!s?.connected) throw new Disconnected();
      const cursor = this.cursorStore.getItem(this.cursorKey);
      const env = await this.call<ChangesPage>(s, 'sync_changes', cursor ? { cursor } : {});
      if (env.code === 20002 && cursor) {
        // too old or unknown: what the app shows may be stale
        this.cursorStore.removeItem(this.cursorKey);
        this.emit('reload');
        continue;
      }
      if (env.code !== 0) throw new ApiError(env.code, env.meta.msg ?? 'sync_changes refused');
      for (const change of env.data.payload.changes) this.applyChange(change);
      this.cursorStore.setItem(this.cursorKey, env.data.payload.cursor);
      if (!env.data.payload.more) return;
    }
  }
}
