import assert from 'node:assert';
import fs from 'node:fs';
import path from 'node:path';
import mm from 'egg-mock';
import { api, app, uniqueName } from '../helpers';
import { rateLimitVariable, withEnvLimits } from '../../config/config.default';

/** A second app of this project, started with extra environment variables (restored afterwards). */
async function appWithEnv(vars: Record<string, string>) {
  const saved = Object.fromEntries(Object.keys(vars).map(k => [ k, process.env[k] ]));
  Object.assign(process.env, vars);
  try {
    // clean: false keeps the suite app's logs; cache: false makes a new app rather than the suite's
    const other = mm.app({ baseDir: process.cwd(), cache: false, clean: false } as any);
    try {
      await other.ready();
    } catch (err) {
      await other.close();
      throw err;
    }
    return other;
  } finally {
    for (const [ k, v ] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k]; else process.env[k] = v;
    }
  }
}

describe('configuration from the environment', () => {
  describe('RATE_LIMIT_SIGNUP=2/60', () => {
    let limited: Awaited<ReturnType<typeof appWithEnv>>;
    before(async function() {
      this.timeout(60000);
      limited = await appWithEnv({ RATE_LIMIT_SIGNUP: '2/60' });
    });
    after(() => limited?.close());

    it('sets the signup limit to 2 per 60 s', () => {
      assert.deepStrictEqual(limited.config.rateLimit.signup, { points: 2, duration: 60 });
    });

    it('makes the third signup from one address 429 / 20009 with a Retry-After within the window', async () => {
      const statuses: number[] = [];
      let last: any;
      for (let i = 0; i < 3; i++) {
        last = await limited.httpRequest().post('/api/signup').send({ username: uniqueName('rl'), password: 'correct horse battery' });
        statuses.push(last.status);
      }
      assert.deepStrictEqual(statuses, [ 201, 201, 429 ]);
      assert.strictEqual(last.body.code, 20009);
      assert.ok(Number(last.headers['retry-after']) > 0 && Number(last.headers['retry-after']) <= 60, last.headers['retry-after']);
    });

    it('leaves an app started without it unaffected', async () => {
      await app.ready();
      for (let i = 0; i < 3; i++) {
        const ok = await api('POST', '/api/signup', { body: { username: uniqueName('rl'), password: 'correct horse battery' } });
        assert.strictEqual(ok.status, 201, JSON.stringify(ok.body));
      }
    });
  });

  it('a malformed value stops the start with the variable named', async function() {
    this.timeout(60000);
    await assert.rejects(appWithEnv({ RATE_LIMIT_SOCKET_EVENTS: 'lots' }), /RATE_LIMIT_SOCKET_EVENTS="lots": expected <points> or <points>\/<seconds>/);
  });

  describe('withEnvLimits', () => {
    const defaults = { accountFailures: { points: 5, duration: 900 }, socketEvents: { points: 100, duration: 1 } };

    it('maps each name to RATE_LIMIT_<NAME>', () => {
      assert.deepStrictEqual(Object.keys(defaults).map(rateLimitVariable), [ 'RATE_LIMIT_ACCOUNT_FAILURES', 'RATE_LIMIT_SOCKET_EVENTS' ]);
    });

    it('reads <points>/<seconds>, spaces ignored, and a bare number keeps the window', () => {
      assert.deepStrictEqual(withEnvLimits(defaults, { RATE_LIMIT_SOCKET_EVENTS: '300', RATE_LIMIT_ACCOUNT_FAILURES: ' 10/60 ' }),
        { accountFailures: { points: 10, duration: 60 }, socketEvents: { points: 300, duration: 1 } });
    });

    it('refuses 0 points, naming the variable', () => {
      assert.throws(() => withEnvLimits(defaults, { RATE_LIMIT_SOCKET_EVENTS: '0' }), /RATE_LIMIT_SOCKET_EVENTS/);
    });
  });

  it('every limit of the running config has its variable in the README', () => {
    const readme = fs.readFileSync('README.md', 'utf8');
    const missing = Object.keys(app.config.rateLimit).map(rateLimitVariable).filter(v => !readme.includes(`\`${v}\``));
    assert.deepStrictEqual(missing, []);
  });

  it('the README\'s table names every environment variable the code reads', () => {
    const table = fs.readFileSync('README.md', 'utf8').split('\n').filter(l => l.startsWith('| `')).join('\n');
    const files = [ 'app', 'lib', 'config', 'scripts', 'bench' ].flatMap(dir => fs.readdirSync(dir, { recursive: true, encoding: 'utf8' })
      .filter(f => /\.(ts|js)$/.test(f) && !f.includes('.build')).map(f => path.join(dir, f)));
    const read = new Set<string>();
    for (const f of [ ...files, 'app.ts' ]) {
      // a quoted 'process.env.X' is a bundler's define (scripts/build-docs.js), not a read
      for (const m of fs.readFileSync(f, 'utf8').matchAll(/(?<!['"`]process\.)\benv\.([A-Z][A-Z0-9_]{2,})\b/g)) read.add(m[1]);
    }
    assert.ok(read.has('PORT') && read.has('MONGODB_URL'), [ ...read ].join(' '));
    assert.deepStrictEqual([ ...read ].filter(v => !table.includes(`\`${v}\``)), []);
  });
});
