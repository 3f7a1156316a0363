'use strict';
/**
 * BENCH_WEBHOOKS=1: the server runs with webhooks registered (message.created, user.online,
 * user.offline) pointing at this receiver in the bench process, which answers 204 and counts, so a
 * run shows what queueing and delivering every message's event costs the send path (PROTOCOL §9).
 * Registered in the database before the server starts, as the admin CLI does.
 */
const http = require('node:http');
const crypto = require('node:crypto');
const mongoose = require('mongoose');

async function startWebhookSink(mongoUrl) {
  const counts = {};
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', c => chunks.push(c));
    req.on('end', () => {
      try {
        const type = JSON.parse(Buffer.concat(chunks).toString()).type;
        counts[type] = (counts[type] || 0) + 1;
      } catch { /* counted as nothing */ }
      res.writeHead(204).end();
    });
  });
  await new Promise(resolve => server.listen(0, '127.0.0.1', resolve));
  const connection = await mongoose.createConnection(mongoUrl, { serverSelectionTimeoutMS: 10000 }).asPromise();
  try {
    await connection.collection('webhooks').insertOne({
      url: `http://127.0.0.1:${server.address().port}/hooks`, events: [ 'message.created', 'user.online', 'user.offline' ],
      secret: crypto.randomBytes(32).toString('base64url'), createdAt: new Date(),
    });
  } finally {
    await connection.close();
  }
  return {
    counts,
    stop: () => new Promise(resolve => { server.closeAllConnections(); server.close(resolve); }),
  };
}

module.exports = { startWebhookSink };
