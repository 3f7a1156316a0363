'use strict';
/**
 * The ceiling: a bare Socket.IO relay of the same version and options as the server (path /ws,
 * EIO3 allowed), with no auth, no storage and no validation. It acks `to` at once and forwards it
 * as `c_message` in the same envelope shape, to `user:<to>` or to `room:<to>` minus the sender.
 * It answers what the benchmark's clients ask besides `to` as trivially as it can, so the comparison
 * is the same conversation: `offline_message` with an empty list, `c_message_ack` with code 0.
 */
const http = require('node:http');
const { Server } = require('socket.io');

const port = Number(process.argv[2] || 0);
const server = http.createServer();
const io = new Server(server, { path: '/ws', allowEIO3: true, maxHttpBufferSize: 1e6, serveClient: false });
const chat = io.of('/chat');
let seq = 0;
const envelope = (action, payload) => ({ meta: { timestamp: Date.now() }, code: 0, data: { action, payload } });

chat.on('connection', socket => {
  const { userId, room } = socket.handshake.query;
  socket.join(`user:${userId}`);
  if (room) socket.join(`room:${room}`);
  socket.on('to', (msg, ack) => {
    const stored = { ...msg, from: userId, seq: ++seq, sendTime: Date.now() };
    const target = msg.typeu === 2 ? chat.to(`room:${msg.to}`).except(`user:${userId}`) : chat.to(`user:${msg.to}`);
    target.emit('c_message', envelope('CHAT_MESSAGE', stored));
    if (typeof ack === 'function') ack(envelope('CHAT_TO_ACK', stored));
  });
  socket.on('offline_message', ack => {
    if (typeof ack === 'function') ack(envelope('CHAT_PULL_OFFLINE_MESSAGE', []));
  });
  socket.on('c_message_ack', (_refs, ack) => {
    if (typeof ack === 'function') ack(envelope('CHAT_MESSAGE_ACK', null));
  });
});

server.listen(port, '127.0.0.1', () => {
  process.stdout.write(`listening ${server.address().port}\n`);
});
process.on('SIGTERM', () => { io.close(); server.close(() => process.exit(0)); });
