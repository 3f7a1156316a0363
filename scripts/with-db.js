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
 */
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const ferretdb = require('./ferretdb');

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
  const env = { ...process.env };
  if (!env.MONGODB_URL) {
    const runDir = path.resolve(__dirname, '..', 'run');
    fs.mkdirSync(runDir, { recursive: true });
    const dataDir = ephemeral ? (tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'im-ferretdb-'))) : path.join(runDir, 'ferretdb');
    db = await ferretdb.start({ dataDir, logFile: path.join(runDir, 'ferretdb.log') });
    env.MONGODB_URL = db.url;
  }

  const bin = path.resolve(__dirname, '..', 'node_modules', '.bin', argv[0]);
  const child = spawn(fs.existsSync(bin) ? bin : argv[0], argv.slice(1), { stdio: 'inherit', env });
  for (const sig of [ 'SIGINT', 'SIGTERM', 'SIGHUP' ]) process.on(sig, () => child.kill(sig));
  const code = await new Promise(resolve => child.once('exit', (c, s) => resolve(c === null ? (s ? 1 : 0) : c)));
  if (db) await db.stop();
  if (tmpDir) fs.rmSync(tmpDir, { recursive: true, force: true });
  return code;
}

main().then(code => process.exit(code), err => {
  process.stderr.write(`[with-db] ${err.message}\n`);
  process.exit(1);
});
