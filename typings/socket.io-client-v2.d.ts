// socket.io-client 2.x (installed as socket.io-client-v2 for the compatibility tests) ships no types
declare module 'socket.io-client-v2' {
  const io: (url: string, opts?: Record<string, unknown>) => any;
  export = io;
}
