import path from 'node:path';
import type { EggPlugin } from 'egg';

const plugin: EggPlugin = {
  // Socket.IO v4 with egg-socket.io's API (egg-socket.io itself is frozen on socket.io 2)
  io: { enable: true, path: path.join(__dirname, '../lib/plugin/io') },
  mongoose: { enable: true, package: 'egg-mongoose' },
  cors: { enable: true, package: 'egg-cors' },
  // server-rendered views and sessions are not used: this is a JSON + Socket.IO API
  view: false,
  session: false,
  i18n: false,
};

export default plugin;
