'use strict';
/**
 * Runs a command with MONGODB_URL pointing at a database.
 *
 *   node scripts/with-db.js [--ephemeral] <command> [args...]
 *
 * If MONGODB_URL is set, the command runs as it is and nothing is started. Otherwise an embedded
 * FerretDB is started first: its data lives in run/ferretdb (kept between runs) or, with
 * --ephemeral, in a throw-away directory that is removed afterwards. The database stops when the
 * command ends, and the command's exit code is ours.
 *
 * Only one FerretDB may serve run/ferretdb: while one runs, its URL is in run/ferretdb.url, and a
 * second command (say `npm run admin` beside `npm run dev`) uses that server instead of starting one.
 */
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const ferretdb = require('./ferretdb');

/** The URL of the FerretDB already serving run/ferretdb, if one answers. */
async function runningDb(urlFile) {
  let url;
  try {
    url = fs.readFileSync(urlFile, 'utf8').trim();
  } catch {
    return null;
  }
  const { port } = new URL(url);
  const alive = await new Promise(resolve => {
    const sock = net.connect(Number(port), '127.0.0.1');
    sock.setTimeout(1000);
    sock.once('connect', () => { sock.destroy(); resolve(true); });
    sock.once('error', () => resolve(false));
    sock.once('timeout', () => { sock.destroy(); resolve(false); });
  });
  return alive ? url : null;
}

async function main() {
  const argv = process.argv.slice(2);
  const ephemeral = argv[0] === '--ephemeral';
  if (ephemeral) argv.shift();
  if (!argv.length) {
    process.stderr.write('usage: node scripts/with-db.js [--ephemeral] <command> [args...]\n');
    return 2;
  }

  let db = null;
  let tmpDir = null;
  let urlFile = null;
  const env = { ...process.env };
  if (!env.MONGODB_URL) {
    const runDir = path.resolve(__dirname, '..', 'run');
    fs.mkdirSync(runDir, { recursive: true });
    const shared = ephemeral ? null : path.join(runDir, 'ferretdb.url');
    env.MONGODB_URL = shared ? await runningDb(shared) : null;
    if (!env.MONGODB_URL) {
      const dataDir = ephemeral ? (tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'im-ferretdb-'))) : path.join(runDir, 'ferretdb');
      db = await ferretdb.start({ dataDir, logFile: path.join(runDir, 'ferretdb.log') });
      env.MONGODB_URL = db.url;
      if (shared) fs.writeFileSync(urlFile = shared, `${db.url}\n`);
    }
  }

  const bin = path.resolve(__dirname, '..', 'node_modules', '.bin', argv[0]);
  const child = spawn(fs.existsSync(bin) ? bin : argv[0], argv.slice(1), { stdio: 'inherit', env });
  for (const sig of [ 'SIGINT', 'SIGTERM', 'SIGHUP' ]) process.on(sig, () => child.kill(sig));
  const code = await new Promise(resolve => child.once('exit', (c, s) => resolve(c === null ? (s ? 1 : 0) : c)));
  if (urlFile) fs.rmSync(urlFile, { force: true });
  if (db) await db.stop();
  if (tmpDir) fs.rmSync(tmpDir, { recursive: true, force: true });
  return code;
}

main().then(code => process.exit(code), err => {
  process.stderr.write(`[with-db] ${err.message}\n`);
  process.exit(1);
});
