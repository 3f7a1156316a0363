'use strict';
/**
 * Builds the web client and the /docs page (scripts/build-docs.js) into web/dist (`npm run build:web`). With `--if-stale` (predev, pretest) it
 * builds only when something it is built from changed since the last build: a file under web/ (but
 * web/dist), lib/ (the client imports the server's schemas and ids), client/ (its protocol layer) or package-lock.json newer than
 * the stamp this script leaves after a build that succeeded (or web/dist gone). A restart of `npm run dev`
 * then takes seconds instead of a rebuild.
 */
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
const dist = path.join(root, 'web', 'dist');
// outside web/dist, which the app serves
const stamp = path.join(root, 'node_modules', '.cache', 'im-web-built');

/** The newest modification time under `dir` (skipping `skip`), ms. */
function newest(dir, skip) {
  let max = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (full === skip || entry.name === 'node_modules') continue;
    max = Math.max(max, entry.isDirectory() ? newest(full, skip) : fs.statSync(full).mtimeMs);
  }
  return max;
}

function stale() {
  if (!fs.existsSync(stamp) || !fs.existsSync(path.join(dist, 'index.html'))) return true;
  const sources = Math.max(newest(path.join(root, 'web'), dist), newest(path.join(root, 'lib')), newest(path.join(root, 'client')), fs.statSync(path.join(root, 'package-lock.json')).mtimeMs);
  return sources > fs.statSync(stamp).mtimeMs;
}

if (process.argv.includes('--if-stale') && !stale()) {
  process.stdout.write('[build:web] web/dist is newer than its sources: not rebuilt\n');
} else {
  const bin = name => path.join(root, 'node_modules', '.bin', name);
  execFileSync(bin('tsc'), [ '-p', 'web/tsconfig.json' ], { cwd: root, stdio: 'inherit' });
  execFileSync(bin('vite'), [ 'build', '--config', 'web/vite.config.mts' ], { cwd: root, stdio: 'inherit' });
  // the /docs page goes into web/dist after vite, which empties it
  execFileSync(process.execPath, [ path.join(root, 'scripts', 'build-docs.js') ], { cwd: root, stdio: 'inherit' });
  fs.mkdirSync(path.dirname(stamp), { recursive: true });
  fs.writeFileSync(stamp, `${new Date().toISOString()}\n`);
}
