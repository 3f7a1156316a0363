/**
 * Creates an admin account, or promotes an existing one when told to (PROTOCOL §7 Admin: admins are
 * made by this command, never by signup). Run through scripts/admin.js, which reaches the same
 * database as the app.
 */
import { parseArgs } from 'node:util';
import mongoose from 'mongoose';
import { createInterface } from 'node:readline/promises';
import { hash, verify, Algorithm } from '@node-rs/argon2';
import defaultConfig from '../../config/config.default';
import userModel from '../model/user';
import { password as passwordSchema, username as usernameSchema } from '../../lib/schemas/auth';
import { buildIndexes, filtersUseIndexes } from '../../lib/indexes';

export interface AdminResult {
  id: string;
  username: string;
  created: boolean;
}

/** Why the command refused to act; the message says what to do instead. */
export class AdminRefusal extends Error {}

/**
 * The user `username` with role 'admin': created with `password` if missing. An existing account is
 * promoted only when `promote` says so (someone else may have registered that name: making it an
 * admin must be a decision, not a side effect), and a password given for it must be its password
 * (it is never changed here, nor silently ignored).
 */
export async function createOrPromoteAdmin(opts: { url: string; username: string; password?: string; promote?: boolean }): Promise<AdminResult> {
  const username = usernameSchema.parse(opts.username);
  const connection = await mongoose.createConnection(opts.url, { serverSelectionTimeoutMS: 10000, autoIndex: false }).asPromise();
  try {
    // the app's own schema (and indexes) on this connection
    const User = userModel({ mongoose: { Schema: mongoose.Schema, model: connection.model.bind(connection) } } as any);
    await buildIndexes([ User ], await filtersUseIndexes(connection));
    const existing = await User.findOne({ usernameLower: username.toLowerCase() });
    if (existing) {
      if (!opts.promote) {
        throw new AdminRefusal(`user "${existing.username}" already exists (created ${existing.createdAt?.toISOString?.() ?? 'earlier'}); ` +
          'make sure it is the right account, then run again with --promote to make it an admin');
      }
      if (opts.password !== undefined && !await verify(existing.passwordHash, opts.password).catch(() => false)) {
        throw new AdminRefusal(`the password given is not "${existing.username}"'s; nothing changed (leave out --password to promote it without one)`);
      }
      await User.updateOne({ _id: existing._id }, { $set: { role: 'admin' } });
      return { id: String(existing._id), username: existing.username, created: false };
    }
    if (opts.password === undefined) throw new AdminRefusal(`no user "${username}": give a password to create it`);
    // the same argon2id cost as the auth service
    const passwordHash = await hash(passwordSchema.parse(opts.password), { algorithm: Algorithm.Argon2id, ...defaultConfig({} as any).auth!.argon2! });
    const user = await User.create({
      username, usernameLower: username.toLowerCase(), nickname: username, nicknameLower: username.toLowerCase(), passwordHash, role: 'admin',
    });
    return { id: String(user._id), username, created: true };
  } finally {
    await connection.close();
  }
}

const USAGE = 'usage: npm run admin -- --username NAME [--password PASSWORD] [--promote]   (or ADMIN_PASSWORD in the environment)\n' +
  '  creates the admin NAME; an existing account is made an admin only with --promote (or when you confirm on a terminal),\n' +
  '  and a password given for it must be its own (it is never changed)';

/** Asks a yes/no question on the terminal; false unless the answer starts with y. */
async function confirm(question: string, input: NodeJS.ReadableStream, output: NodeJS.WritableStream): Promise<boolean> {
  const rl = createInterface({ input, output });
  try {
    return /^y/i.test((await rl.question(question)).trim());
  } finally {
    rl.close();
  }
}

/** Command-line entry: returns the exit code. */
export async function main(argv: string[], env: NodeJS.ProcessEnv = process.env, stdin: NodeJS.ReadStream = process.stdin): Promise<number> {
  let values: { username?: string; password?: string; promote?: boolean; help?: boolean };
  try {
    ({ values } = parseArgs({ args: argv, options: { username: { type: 'string' }, password: { type: 'string' }, promote: { type: 'boolean' }, help: { type: 'boolean' } } }));
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n${USAGE}\n`);
    return 2;
  }
  if (values.help || !values.username) {
    process.stderr.write(`${USAGE}\n`);
    return values.help ? 0 : 2;
  }
  if (!env.MONGODB_URL) {
    process.stderr.write('MONGODB_URL is not set (npm run admin sets it for the embedded database)\n');
    return 2;
  }
  const password = values.password ?? (env.ADMIN_PASSWORD || undefined);
  const run = (promote: boolean) => createOrPromoteAdmin({ url: env.MONGODB_URL!, username: values.username!, password, promote });
  try {
    let result: AdminResult;
    try {
      result = await run(Boolean(values.promote));
    } catch (err) {
      // an existing account without --promote: ask on a terminal, refuse otherwise (scripts must say --promote)
      if (!(err instanceof AdminRefusal) || values.promote || !stdin.isTTY || !/already exists/.test(err.message)) throw err;
      if (!await confirm(`${err.message.split(';')[0]}. Make it an admin? [y/N] `, stdin, process.stderr)) {
        process.stderr.write('admin: nothing changed\n');
        return 1;
      }
      result = await run(true);
    }
    const note = !result.created && password === undefined ? ' (its password is unchanged)' : '';
    process.stdout.write(`${result.created ? 'created' : 'promoted'} admin ${result.username} (${result.id})${note}\n`);
    return 0;
  } catch (err: any) {
    const message = err?.issues ? err.issues.map((i: { message: string }) => i.message).join('; ') : err?.message;
    process.stderr.write(`admin: ${message}\n`);
    return 1;
  }
}
