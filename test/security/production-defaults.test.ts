/**
 * Finding 14: production refused only the default JWT_SECRET; the default COOKIE_KEYS and an unset
 * CORS_ORIGIN (`*`) passed silently. And `npm run admin -- --username X --password P` promoted an
 * existing account X (perhaps an attacker's, registered under the name the operator meant to create)
 * and ignored P. Production now refuses every default, and the admin command promotes an existing
 * account only when told to (--promote, or a yes on a terminal), never ignoring a given password.
 */
import assert from 'node:assert';
import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import path from 'node:path';
import { promisify } from 'node:util';
import { app, signup } from '../helpers';
import { appWithEnv } from './helpers';

const run = promisify(execFile);
const root = path.resolve(__dirname, '../..');
const secret = () => crypto.randomBytes(32).toString('hex');

/** The admin command as an operator runs it (stdin is not a terminal here), against the suite's database. */
async function adminCli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [ path.join(root, 'scripts/admin.js'), ...args ], { cwd: root, env: { ...process.env, ADMIN_PASSWORD: '' }, timeout: 60000 });
    return { code: 0, stdout, stderr };
  } catch (err: any) {
    return { code: err.code ?? 1, stdout: err.stdout ?? '', stderr: err.stderr ?? '' };
  }
}

const roleOf = async (id: string) => (await app.model.User.findById(id, { role: 1 }).lean<{ role: string }>())?.role;

describe('security: production refuses defaults, and the admin command never promotes by surprise (finding 14)', function() {
  this.timeout(120000);
  const prod = { EGG_SERVER_ENV: 'prod', JWT_SECRET: secret(), COOKIE_KEYS: secret(), CORS_ORIGIN: 'https://chat.example' };

  it('production refuses to start with the default COOKIE_KEYS', async () => {
    await assert.rejects(appWithEnv({ ...prod, COOKIE_KEYS: undefined }), /COOKIE_KEYS must be set/);
  });

  it('production refuses to start with CORS_ORIGIN unset', async () => {
    await assert.rejects(appWithEnv({ ...prod, CORS_ORIGIN: undefined }), /CORS_ORIGIN must name/);
  });

  it('production starts with all three set (CORS_ORIGIN may be "*" when chosen)', async () => {
    const started = await appWithEnv({ ...prod, CORS_ORIGIN: '*' });
    await started.close();
  });

  describe('npm run admin', () => {
    it('does not promote an existing account without --promote (and no terminal to ask on)', async () => {
      const squatter = await signup();
      const res = await adminCli([ '--username', squatter.username, '--password', 'the operator\'s new password' ]);
      assert.strictEqual(res.code, 1, res.stdout);
      assert.match(res.stderr, /already exists.*--promote/);
      assert.strictEqual(await roleOf(squatter.id), 'user');
    });

    it('with --promote, refuses a password that is not the account\'s instead of ignoring it', async () => {
      const squatter = await signup();
      const res = await adminCli([ '--username', squatter.username, '--password', 'the operator\'s new password', '--promote' ]);
      assert.strictEqual(res.code, 1, res.stdout);
      assert.match(res.stderr, /password given is not/);
      assert.strictEqual(await roleOf(squatter.id), 'user');
    });

    it('with --promote and the account\'s own password (or none), promotes it and says so', async () => {
      const [ a, b ] = await Promise.all([ signup(), signup() ]);
      const withPassword = await adminCli([ '--username', a.username, '--password', a.password, '--promote' ]);
      assert.strictEqual(withPassword.code, 0, withPassword.stderr);
      const without = await adminCli([ '--username', b.username, '--promote' ]);
      assert.strictEqual(without.code, 0, without.stderr);
      assert.match(without.stdout, /promoted admin .*password is unchanged/);
      assert.deepStrictEqual([ await roleOf(a.id), await roleOf(b.id) ], [ 'admin', 'admin' ]);
    });
  });
});
