'use strict';
/**
 * BENCH_WEBHOOKS=1: the server runs with webhooks registered (message.created, user.online,
 * user.offline) pointing at this receiver, which answers 204 and counts, so a run shows what
 * queueing and delivering every message's event costs the send path (PROTOCOL §9). The receiver is
 * a process of its own, so its CPU (a team's backend, on the same two cores here) is measured apart.
 * Registered in the database before the server starts, as the admin CLI does.
 */
const http = require('node:http');
const path = require('node:path');
const crypto = require('node:crypto');
const { fork } = require('node:child_process');
const mongoose = require('mongoose');
const { cpuSeconds } = require('./lib');

/** The receiver process: prints its port, answers `counts` with what it received. */
function serve() {
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
  server.listen(0, '127.0.0.1', () => process.send({ port: server.address().port }));
  process.on('message', msg => {
    if (msg === 'counts') process.send({ counts });
  });
  process.on('disconnect', () => process.exit(0));
}

async function startWebhookSink(mongoUrl) {
  const child = fork(__filename, [ 'serve' ], { cwd: path.dirname(__filename), stdio: [ 'ignore', 'inherit', 'inherit', 'ipc' ] });
  const port = await new Promise((resolve, reject) => {
    child.once('message', msg => resolve(msg.port));
    child.once('exit', code => reject(new Error(`webhook receiver exited (${code})`)));
  });
  const connection = await mongoose.createConnection(mongoUrl, { serverSelectionTimeoutMS: 10000 }).asPromise();
  try {
    await connection.collection('webhooks').insertOne({
      url: `http://127.0.0.1:${port}/hooks`, events: [ 'message.created', 'user.online', 'user.offline' ],
      secret: crypto.randomBytes(32).toString('base64url'), createdAt: new Date(),
    });
  } finally {
    await connection.close();
  }
  let counts = {};
  let cpu = 0;
  return {
    /** events received by type (after stop: the final counts) */
    get counts() { return counts; },
    /** CPU seconds the receiver used (after stop: in all) */
    get cpuSeconds() { return cpu; },
    stop: async () => {
      if (child.exitCode !== null) return;
      cpu = cpuSeconds([ child.pid ]);
      counts = await new Promise(resolve => {
        child.once('message', msg => resolve(msg.counts));
        child.send('counts');
      });
      child.kill();
    },
  };
}

if (require.main === module && process.argv[2] === 'serve') serve();

module.exports = { startWebhookSink };
