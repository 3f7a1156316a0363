/**
 * Creates an admin account or promotes an existing one (PROTOCOL §7 Admin: admins are made by this
 * command, never by signup). Run through scripts/admin.js, which reaches the same database as the app.
 */
import { parseArgs } from 'node:util';
import mongoose from 'mongoose';
import { hash, Algorithm } from '@node-rs/argon2';
import defaultConfig from '../config/config.default';
import userModel from '../app/model/user';
import { password as passwordSchema, username as usernameSchema } from './schemas/auth';

export interface AdminResult {
  id: string;
  username: string;
  created: boolean;
}

/** The user `username` with role 'admin': created with `password` if missing, else promoted (its password is left alone). */
export async function createOrPromoteAdmin(opts: { url: string; username: string; password?: string }): Promise<AdminResult> {
  const username = usernameSchema.parse(opts.username);
  const connection = await mongoose.createConnection(opts.url, { serverSelectionTimeoutMS: 10000 }).asPromise();
  try {
    // the app's own schema (and indexes) on this connection
    const User = userModel({ mongoose: { Schema: mongoose.Schema, model: connection.model.bind(connection) } } as any);
    await User.init();
    const existing = await User.findOneAndUpdate({ usernameLower: username.toLowerCase() }, { $set: { role: 'admin' } }, { new: true });
    if (existing) return { id: String(existing._id), username: existing.username, created: false };
    if (opts.password === undefined) throw new Error(`no user "${username}": give a password to create it`);
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

const USAGE = 'usage: npm run admin -- --username NAME [--password PASSWORD]   (or ADMIN_PASSWORD in the environment)';

/** Command-line entry: returns the exit code. */
export async function main(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  let values: { username?: string; password?: string; help?: boolean };
  try {
    ({ values } = parseArgs({ args: argv, options: { username: { type: 'string' }, password: { type: 'string' }, help: { type: 'boolean' } } }));
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
  try {
    const result = await createOrPromoteAdmin({ url: env.MONGODB_URL, username: values.username, password: values.password ?? env.ADMIN_PASSWORD });
    process.stdout.write(`${result.created ? 'created' : 'promoted'} admin ${result.username} (${result.id})\n`);
    return 0;
  } catch (err: any) {
    const message = err?.issues ? err.issues.map((i: { message: string }) => i.message).join('; ') : err?.message;
    process.stderr.write(`admin: ${message}\n`);
    return 1;
  }
}
