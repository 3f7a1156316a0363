'use strict';
/**
 * The embedded database for development, tests and the benchmark: FerretDB (a MongoDB
 * wire-protocol server) on its SQLite backend, on loopback, telemetry off.
 *
 *   node scripts/ferretdb.js install   build .bin/ferretdb if it is missing
 *
 * Why not plain `go install github.com/FerretDB/FerretDB/cmd/ferretdb@v1.24.2`:
 * - it asks the module proxy for the module's version list (a deprecation check) and this
 *   machine's proxy answers that with 403, so the install fails before building;
 * - the published module zip lacks build/version/version.txt (FerretDB generates it in its own
 *   build), so any binary built from it panics at start-up.
 * So we download exactly v1.24.2 (checksum-verified by the Go toolchain against the sum
 * database), copy it to a scratch directory, write version.txt, and build there with the
 * module's own go.sum. `go install` is still tried first, in case a future environment allows it.
 */
const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

const VERSION = 'v1.24.2';
const MODULE = 'github.com/FerretDB/FerretDB';
const ROOT = path.resolve(__dirname, '..');
const BIN_DIR = path.join(ROOT, '.bin');
const BIN = path.join(BIN_DIR, 'ferretdb');

function log(msg) {
  process.stderr.write(`[ferretdb] ${msg}\n`);
}

function findGo() {
  const candidates = [ 'go', '/usr/local/go/bin/go', path.join(os.homedir(), 'go/bin/go') ];
  for (const c of candidates) {
    const r = spawnSync(c, [ 'version' ], { encoding: 'utf8' });
    if (r.status === 0) return c;
  }
  return null;
}

function installedVersion() {
  if (!fs.existsSync(BIN)) return null;
  const r = spawnSync(BIN, [ '--version' ], { encoding: 'utf8' });
  const m = r.status === 0 && /version: (v[\d.]+)/.exec(r.stdout);
  return m ? m[1] : null;
}

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { stdio: [ 'ignore', 'pipe', 'pipe' ], encoding: 'utf8', ...opts });
  return { ok: r.status === 0, out: (r.stdout || '') + (r.stderr || '') };
}

function install() {
  if (installedVersion() === VERSION) {
    log(`${BIN} is ${VERSION}`);
    return BIN;
  }
  const go = findGo();
  if (!go) {
    throw new Error('FerretDB is not installed and no Go toolchain was found. Install Go (https://go.dev/dl/) ' +
      'or set MONGODB_URL to a MongoDB server.');
  }
  fs.mkdirSync(BIN_DIR, { recursive: true });
  const env = { ...process.env, GOFLAGS: '-mod=mod', GOBIN: BIN_DIR, CGO_ENABLED: '0' };

  log(`building FerretDB ${VERSION} into ${BIN} (first run only; about a minute)`);
  const inst = run(go, [ 'install', `${MODULE}/cmd/ferretdb@${VERSION}` ], { env });
  if (inst.ok && installedVersion() === VERSION) return BIN;
  log(`go install did not give a working binary (${inst.ok ? 'binary lacks version.txt' : inst.out.trim().split('\n').pop()}); building from the verified module source`);

  const dl = run(go, [ 'mod', 'download', '-json', `${MODULE}@${VERSION}` ], { env, cwd: os.tmpdir() });
  if (!dl.ok) throw new Error(`go mod download ${MODULE}@${VERSION} failed:\n${dl.out}`);
  const srcDir = JSON.parse(dl.out.slice(dl.out.indexOf('{'))).Dir;
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'ferretdb-src-'));
  try {
    fs.cpSync(srcDir, work, { recursive: true });
    for (const f of walk(work)) fs.chmodSync(f, fs.statSync(f).mode | 0o200); // the module cache is read-only
    fs.writeFileSync(path.join(work, 'build/version/version.txt'), `${VERSION}\n`);
    const build = run(go, [ 'build', '-trimpath', '-o', BIN, './cmd/ferretdb' ], { env, cwd: work });
    if (!build.ok) throw new Error(`go build of FerretDB failed:\n${build.out}`);
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
  const v = installedVersion();
  if (v !== VERSION) throw new Error(`built ${BIN} but it reports version ${v}`);
  log(`installed ${BIN} (${v})`);
  return BIN;
}

function* walk(dir) {
  yield dir;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) yield* walk(p); else yield p;
  }
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function waitForPort(port, child, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const attempt = () => {
      if (child.exitCode !== null) return reject(new Error(`FerretDB exited with code ${child.exitCode}`));
      const sock = net.connect(port, '127.0.0.1');
      sock.once('connect', () => { sock.destroy(); resolve(); });
      sock.once('error', () => {
        sock.destroy();
        if (Date.now() > deadline) return reject(new Error(`FerretDB did not listen on ${port} within ${timeoutMs} ms`));
        setTimeout(attempt, 50);
      });
    };
    attempt();
  });
}

/**
 * Starts FerretDB on a free loopback port with its data in dataDir.
 * Resolves to { url, pid, metricsUrl, stop() }; the URL names the database `dbName`; metricsUrl is
 * FerretDB's Prometheus endpoint on its debug address (the benchmark counts commands there).
 */
async function start({ dataDir, dbName = 'im', logFile } = {}) {
  const bin = install();
  fs.mkdirSync(dataDir, { recursive: true });
  const port = await freePort();
  const debugPort = await freePort();
  const out = logFile ? fs.openSync(logFile, 'a') : 'ignore';
  const child = spawn(bin, [
    '--handler=sqlite',
    `--sqlite-url=file:${dataDir.replace(/\/?$/, '/')}`,
    `--listen-addr=127.0.0.1:${port}`,
    `--debug-addr=127.0.0.1:${debugPort}`,
    '--telemetry=disable',
    `--state-dir=${dataDir}`,
    '--log-level=warn',
  ], { stdio: [ 'ignore', out, out ] });
  const stopped = new Promise(resolve => child.once('exit', resolve));
  await waitForPort(port, child, 15000);
  log(`listening on 127.0.0.1:${port}, data in ${dataDir}`);
  return {
    url: `mongodb://127.0.0.1:${port}/${dbName}`,
    pid: child.pid,
    metricsUrl: `http://127.0.0.1:${debugPort}/debug/metrics`,
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 5000);
      await stopped;
      clearTimeout(t);
    },
  };
}

module.exports = { install, start, VERSION };

if (require.main === module) {
  const cmd = process.argv[2];
  if (cmd !== 'install') {
    process.stderr.write('usage: node scripts/ferretdb.js install\n');
    process.exit(2);
  }
  try {
    install();
  } catch (err) {
    log(`cannot install FerretDB: ${err.message}`);
    process.exit(1);
  }
}
