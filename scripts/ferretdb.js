'use strict';
/**
 * The embedded database for development, tests and the benchmark: FerretDB (a MongoDB
 * wire-protocol server) on its SQLite backend, on loopback, telemetry off.
 *
 *   node scripts/ferretdb.js install   build .bin/ferretdb if it is missing
 *
 * Why not `go install github.com/FerretDB/FerretDB/cmd/ferretdb@v1.24.2`: the published module zip
 * lacks build/version/version.txt (FerretDB generates it in its own build), so any binary built
 * from it panics at start-up, and where the module proxy refuses the version-list look-up it fails
 * before building. So it is never tried: we download exactly v1.24.2 (checksum-verified by the Go
 * toolchain against the sum database), copy it to a scratch directory, write version.txt, and build
 * there with the module's own go.sum, once, printing progress while it works.
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
/** how often a long step says it is still working, ms */
const PROGRESS_EVERY = 5000;

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

function versionOf(bin) {
  if (!fs.existsSync(bin)) return null;
  const r = spawnSync(bin, [ '--version' ], { encoding: 'utf8' });
  const m = r.status === 0 && /version: (v[\d.]+)/.exec(r.stdout);
  return m ? m[1] : null;
}

const seconds = since => `${Math.round((Date.now() - since) / 1000)} s`;

/**
 * Runs a Go command, passing each line of its stderr to onLine, and every PROGRESS_EVERY ms
 * logs what status() says, so a slow first build is never silent. Resolves to stdout.
 */
function runGo(go, args, opts, { step, onLine = () => {}, status = () => '' }) {
  return new Promise((resolve, reject) => {
    const began = Date.now();
    const child = spawn(go, args, { ...opts, stdio: [ 'ignore', 'pipe', 'pipe' ] });
    let stdout = '';
    let stderr = '';
    let partial = '';
    child.stdout.on('data', d => { stdout += d; });
    child.stderr.on('data', d => {
      stderr += d;
      const lines = (partial + d).split('\n');
      partial = lines.pop();
      lines.forEach(onLine);
    });
    const timer = setInterval(() => log(`${step}: ${status() || 'working'} (${seconds(began)})`), PROGRESS_EVERY);
    child.once('error', err => { clearInterval(timer); reject(err); });
    child.once('close', code => {
      clearInterval(timer);
      if (code === 0) resolve(stdout);
      else reject(new Error(`go ${args.join(' ')} failed:\n${stderr.trim().split('\n').slice(-20).join('\n')}`));
    });
  });
}

/** Builds .bin/ferretdb from the verified module source unless it is there already. */
async function install() {
  if (versionOf(BIN) === VERSION) {
    log(`${BIN} is ${VERSION}`);
    return BIN;
  }
  const go = findGo();
  if (!go) {
    throw new Error('FerretDB is not installed and no Go toolchain was found. Install Go (https://go.dev/dl/) ' +
      'or set MONGODB_URL to a MongoDB server.');
  }
  fs.mkdirSync(BIN_DIR, { recursive: true });
  const env = { ...process.env, GOFLAGS: '-mod=mod', CGO_ENABLED: '0' };
  const began = Date.now();
  log(`building FerretDB ${VERSION} into ${BIN} (first run only: seconds with a warm Go build cache, a few minutes from an empty one)`);

  log('1/3 downloading the module source (checksum-verified)');
  const dl = await runGo(go, [ 'mod', 'download', '-json', `${MODULE}@${VERSION}` ], { env, cwd: os.tmpdir() }, { step: 'download' });
  const srcDir = JSON.parse(dl.slice(dl.indexOf('{'))).Dir;
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'ferretdb-src-'));
  const tmpBin = `${BIN}.${process.pid}.tmp`;
  try {
    fs.cpSync(srcDir, work, { recursive: true });
    for (const f of walk(work)) fs.chmodSync(f, fs.statSync(f).mode | 0o200); // the module cache is read-only
    fs.writeFileSync(path.join(work, 'build/version/version.txt'), `${VERSION}\n`);

    log('2/3 fetching dependencies and listing packages');
    let fetched = 0;
    const list = await runGo(go, [ 'list', '-deps', './cmd/ferretdb' ], { env, cwd: work }, {
      step: 'dependencies',
      onLine: line => { if (line.startsWith('go: downloading')) fetched++; },
      status: () => `${fetched} modules downloaded`,
    });
    const total = list.split('\n').filter(Boolean).length;

    log(`3/3 compiling ${total} packages (already compiled ones come from the Go build cache)`);
    let compiled = 0;
    await runGo(go, [ 'build', '-v', '-trimpath', '-o', tmpBin, './cmd/ferretdb' ], { env, cwd: work }, {
      step: 'compile',
      onLine: line => { if (line && !line.startsWith('go: ')) compiled++; },
      // packages found in the Go build cache are not compiled again (then linking is most of the time)
      status: () => `${compiled}/${total} packages compiled (cached ones are skipped)`,
    });
    const v = versionOf(tmpBin);
    if (v !== VERSION) throw new Error(`built FerretDB but it reports version ${v}`);
    fs.renameSync(tmpBin, BIN); // atomic: a concurrent start never sees half a binary
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
    fs.rmSync(tmpBin, { force: true });
  }
  log(`installed ${BIN} (${VERSION}) in ${seconds(began)}`);
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
  const bin = await install();
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
  install().catch(err => {
    log(`cannot install FerretDB: ${err.message}`);
    process.exit(1);
  });
}
