/**
 * Helpers for the server API, webhook and push tests: API keys and webhooks made by the admin CLI
 * (in this process, through its `main`), and admins.
 */
import assert from 'node:assert';
import { main as integrationCli } from '../app/cli/integration';
import { createOrPromoteAdmin } from '../app/cli/admin';
import { api, signup, type TestUser } from './helpers';

/** Runs `npm run admin -- <args>` in this process; its output and exit code. */
export async function cli(args: string[], env: NodeJS.ProcessEnv = process.env) {
  let stdout = '';
  let stderr = '';
  const code = await integrationCli(args, env, { write: (s: string) => (stdout += s) }, { write: (s: string) => (stderr += s) });
  return { code, stdout, stderr };
}

/** A new API key with these scopes: `{id, key}`. */
export async function apiKey(scopes: string[] = [ 'users', 'messages', 'rooms', 'notices' ]) {
  const { code, stdout, stderr } = await cli([ 'keys', 'create', '--name', 'test', '--scopes', scopes.join(',') ]);
  assert.strictEqual(code, 0, stderr);
  const key = /^(imk_\S+)$/m.exec(stdout)![1];
  return { id: /created API key ([0-9a-f]{24})/.exec(stdout)![1], key };
}

/** A signed-up user made admin. */
export async function admin(): Promise<TestUser> {
  const user = await signup();
  await createOrPromoteAdmin({ url: process.env.MONGODB_URL!, username: user.username, promote: true });
  return user;
}

/** A server API call with an API key. */
export const serverApi = (method: string, path: string, key: string, body?: unknown) => api(method, path, { token: key, body });
