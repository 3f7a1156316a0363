/**
 * Socket.IO v4 under Egg with egg-socket.io's developer API:
 *   app.io.of(nsp).route(event, handler)   handler = app.io.controller.x.y (or any fn(ctx))
 *   app.io.middleware / app.io.controller    loaded from app/io/middleware and app/io/controller
 *   config.io.namespace[nsp].connectionMiddleware / packetMiddleware
 *   ctx.socket, ctx.args (the event's arguments, ack callback last), ctx.packet ([event, ...args])
 *
 * Differences from egg-socket.io, on purpose:
 * - connection middleware runs after the socket has connected, so a middleware that refuses a socket
 *   can still tell the client why (emit `im_error`) before disconnecting it; a refused socket's packets
 *   are dropped, and packets that arrive while connection middleware is still running wait for it.
 * - handlers get the context both as `this` (controller methods) and as their first argument.
 * - the default namespace `/` refuses every socket unless the app serves it (`app.io.of('/')`).
 */
import { ServerResponse } from 'node:http';
import type { Server as HttpServer } from 'node:http';
import path from 'node:path';
import compose from 'koa-compose';
import { Server, Namespace, Socket } from 'socket.io';
import { createAdapter, createShardedAdapter } from '@socket.io/redis-adapter';
import { Redis } from 'ioredis';
import type { Application, Context } from 'egg';
import type { IoConfig } from '../config/config.default';

export type IoMiddleware = (ctx: Context, next: () => Promise<void>) => Promise<void> | void;
export type IoHandler = (this: Context, ctx: Context) => unknown;

const READY = Symbol('io.ready');

interface SocketState {
  [READY]: Promise<boolean>;
}

export class IoNamespace {
  private readonly routes = new Map<string, IoHandler>();
  constructor(readonly nsp: Namespace) {}

  /** Routes an incoming event to a handler. Unrouted events are ignored. */
  route(event: string, handler: IoHandler): this {
    if (typeof handler !== 'function') throw new TypeError(`io route ${this.nsp.name}:${event} has no handler`);
    this.routes.set(event, handler);
    return this;
  }

  handlerFor(event: string) {
    return this.routes.get(event);
  }

  /** the events routed here (the API documents are checked against them) */
  get routedEvents(): string[] {
    return [ ...this.routes.keys() ];
  }

  // the Socket.IO namespace API stays reachable: to(), in(), emit(), fetchSockets(), ...
  to(room: string | string[]) { return this.nsp.to(room); }
  in(room: string | string[]) { return this.nsp.in(room); }
  except(room: string | string[]) { return this.nsp.except(room); }
  emit(event: string, ...args: unknown[]) { return this.nsp.emit(event, ...args); }
  get sockets() { return this.nsp.sockets; }
}

export class IoServer {
  readonly server: Server;
  readonly middleware: Record<string, (options: unknown, app: Application) => IoMiddleware> = {};
  readonly controller: Record<string, any> = {};
  private readonly namespaces = new Map<string, IoNamespace>();
  private closers: Array<() => Promise<unknown> | unknown> = [];

  constructor(private readonly app: Application) {
    const config = app.config.io as IoConfig;
    this.server = new Server(config.init);
    // before any namespace exists, so every namespace gets the Redis adapter
    if (config.redis?.url) this.useRedisAdapter(config.redis);
    // Socket.IO always has the default namespace `/`: it keeps nobody unless the app serves it (calls
    // app.io.of('/')), so it cannot hold sockets no middleware checks. A 4.x client asking for it is
    // refused (connect_error). A 2.x client is put on it by the server with every connection, and a
    // refusal there would reach its other namespaces' sockets as an `error` (socket.io-client 2
    // hands root-namespace errors to every socket): that socket is disconnected instead, which only
    // a client that asked for `/` itself notices.
    const root = this.server.of('/');
    root.use((socket, next) => {
      if (this.namespaces.has('/') || socket.conn.protocol === 3) return next();
      next(new Error('namespace "/" is not served'));
    });
    root.on('connection', socket => { if (!this.namespaces.has('/')) socket.disconnect(); });
  }

  private useRedisAdapter({ url, key = 'socket.io', sharded = false }: NonNullable<IoConfig['redis']>) {
    const pub = new Redis(url); // commands queue until connected
    const sub = pub.duplicate();
    for (const c of [ pub, sub ]) c.on('error', err => this.app.logger.error('[io] redis adapter: %s', err.message));
    this.server.adapter(sharded ? createShardedAdapter(pub, sub, { channelPrefix: key }) : createAdapter(pub, sub, { key }));
    this.closers.push(() => pub.quit(), () => sub.quit());
  }

  /** Loads app/io/middleware and app/io/controller of every load unit (plugins, then the app). */
  load() {
    const loader = this.app.loader as any;
    const units: Array<{ path: string }> = loader.getLoadUnits();
    const dirs = (sub: string) => units.map(u => path.join(u.path, 'app', 'io', sub));
    new loader.FileLoader({
      directory: dirs('middleware'),
      target: this.middleware,
      inject: this.app,
      call: false, // exports are factories (options, app) => middleware, called per namespace
      caseStyle: 'camel',
    }).load();
    new loader.FileLoader({
      directory: dirs('controller'),
      target: this.controller,
      inject: this.app,
      caseStyle: 'lower',
      initializer: (exported: any) => wrapController(exported),
    }).load();
  }

  /** the namespaces the app serves */
  get namespaceNames(): string[] {
    return [ ...this.namespaces.keys() ];
  }

  of(name: string): IoNamespace {
    let ns = this.namespaces.get(name);
    if (!ns) {
      ns = new IoNamespace(this.server.of(name));
      this.namespaces.set(name, ns);
      this.setupNamespace(ns);
    }
    return ns;
  }

  private attached = false;

  attach(server: HttpServer) {
    this.server.attach(server);
    this.attached = true;
  }

  async close() {
    if (this.attached) await new Promise<void>(resolve => this.server.close(() => resolve()));
    for (const c of this.closers) await c();
    this.closers = [];
  }

  private resolveMiddleware(names: string[] | undefined, where: string): IoMiddleware[] {
    return (names || []).map(name => {
      const factory = this.middleware[name];
      if (!factory) throw new Error(`[io] ${where} middleware "${name}" not found in app/io/middleware`);
      return factory((this.app.config as any)[name] || {}, this.app);
    });
  }

  private setupNamespace(ns: IoNamespace) {
    const config = (this.app.config.io as IoConfig).namespace[ns.nsp.name] || {};
    const connection = compose(this.resolveMiddleware(config.connectionMiddleware, 'connection'));
    const packet = compose(this.resolveMiddleware(config.packetMiddleware, 'packet'));

    ns.nsp.on('connection', (socket: Socket) => {
      const ctx = this.createContext(socket);
      let accept!: (ok: boolean) => void;
      const state = socket as unknown as SocketState;
      state[READY] = new Promise<boolean>(resolve => { accept = resolve; });
      const disconnected = new Promise<void>(resolve => socket.once('disconnect', () => resolve()));
      socket.once('disconnect', () => accept(false)); // refused or gone before connection middleware finished

      connection(ctx, async () => {
        if (!socket.connected) return;
        accept(true);
        await disconnected;
      }).catch(err => {
        this.app.logger.error('[io] connection middleware of %s failed: %s', ns.nsp.name, err.stack || err);
        socket.disconnect(true);
      }).finally(() => accept(false));

      // Packets are routed from here, not from socket.on listeners, so that one context serves
      // packet middleware and handler, and packet middleware can await the handler.
      socket.use((event, next) => {
        state[READY].then(ok => {
          if (!ok) return; // a refused socket gets nothing routed
          const pctx = this.createContext(socket);
          pctx.packet = event;
          pctx.args = event.slice(1);
          const handler = ns.handlerFor(String(event[0]));
          return packet(pctx, async () => {
            if (handler) await handler.call(pctx, pctx);
            else next(); // unrouted events still reach plain socket.on listeners
          }).catch(err => this.app.emit('io-error', err, pctx));
        }).catch(err => this.app.logger.error('[io] packet on %s: %s', ns.nsp.name, err.stack || err));
      });
    });
  }

  private createContext(socket: Socket): Context {
    const request = socket.request;
    // one response object per socket: a packet's context never writes to it, and making one per
    // packet showed in the message path's profile
    let response = responses.get(socket);
    if (!response) responses.set(socket, response = new ServerResponse(request as any));
    const ctx = this.app.createContext(request as any, response as any) as unknown as Context;
    // egg-socket.io's name; Koa types ctx.socket as the TCP socket, so read it with ioSocket(ctx)
    Object.defineProperty(ctx, 'socket', { value: socket, enumerable: true });
    return ctx;
  }
}

/** The stand-in HTTP response of each socket's contexts. */
const responses = new WeakMap<Socket, ServerResponse>();

/** The Socket.IO socket of an io context, typed (an app names its namespaces' socket types, e.g. its `socket.data`). */
export const ioSocket = <S extends Socket = Socket>(ctx: Context): S => (ctx as unknown as { socket: S }).socket;

/** app/io/controller classes become objects whose methods build the controller with the context. */
function wrapController(exported: any) {
  if (typeof exported !== 'function' || !/^class[\s{]/.test(Function.prototype.toString.call(exported))) return exported;
  const wrapped: Record<string, IoHandler> = {};
  let proto = exported.prototype;
  while (proto && proto !== Object.prototype) {
    for (const key of Object.getOwnPropertyNames(proto)) {
      if (key === 'constructor' || wrapped[key]) continue;
      const desc = Object.getOwnPropertyDescriptor(proto, key);
      if (!desc || typeof desc.value !== 'function') continue;
      wrapped[key] = function(this: Context) {
        const instance = new exported(this);
        return instance[key]();
      };
    }
    proto = Object.getPrototypeOf(proto);
  }
  return wrapped;
}

/**
 * A handshake parameter: `auth.<name>` (Socket.IO v3+ clients) or `query.<name>` (v2 clients, and
 * anyone using the query); a repeated query parameter counts once (its first value).
 */
export function handshakeParam(socket: Socket, name: string): unknown {
  const first = (v: unknown) => (Array.isArray(v) ? v[0] : v);
  const { auth, query } = socket.handshake;
  return first(auth?.[name]) ?? first(query[name]);
}
