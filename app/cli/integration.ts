/**
 * The admin CLI's server-API keys and webhooks (PROTOCOL §9), run through scripts/admin.js:
 *
 *   npm run admin -- keys create --name backend --scopes users,messages,rooms,notices
 *   npm run admin -- keys list
 *   npm run admin -- keys revoke <id>
 *   npm run admin -- webhooks add --url https://backend.example/hooks --events message.created,user.online [--secret S]
 *   npm run admin -- webhooks list
 *   npm run admin -- webhooks remove <id>
 *
 * It writes the same documents as the app, which re-reads webhooks within `webhooks.reloadMs` and
 * checks keys on every request.
 */
import { parseArgs } from 'node:util';
import mongoose from 'mongoose';
import apiKeyModel, { type ApiKeyDoc } from '../model/api_key';
import webhookModel, { type WebhookDoc } from '../model/webhook';
import { newApiKey, newWebhookSecret } from '../../lib/api-keys';
import { checkHost } from '../../lib/outbound-http';
import { API_SCOPES, webhookBody } from '../../lib/schemas/integration';

const USAGE = `usage:
  npm run admin -- keys create --name NAME --scopes ${API_SCOPES.join(',')}
  npm run admin -- keys list
  npm run admin -- keys revoke ID
  npm run admin -- webhooks add --url URL --events EVENT[,EVENT...] [--secret SECRET]
  npm run admin -- webhooks list
  npm run admin -- webhooks remove ID`;

type Out = { write(s: string): unknown };

/** Command-line entry: returns the exit code. */
export async function main(argv: string[], env: NodeJS.ProcessEnv = process.env, out: Out = process.stdout, err: Out = process.stderr): Promise<number> {
  const [ group, action, ...rest ] = argv;
  let parsed: { values: Record<string, string | undefined>; positionals: string[] };
  try {
    parsed = parseArgs({ args: rest, allowPositionals: true, options: { name: { type: 'string' }, scopes: { type: 'string' }, url: { type: 'string' }, events: { type: 'string' }, secret: { type: 'string' } } }) as typeof parsed;
  } catch (e) {
    err.write(`${(e as Error).message}\n${USAGE}\n`);
    return 2;
  }
  if (!env.MONGODB_URL) {
    err.write('MONGODB_URL is not set (npm run admin sets it for the embedded database)\n');
    return 2;
  }
  const connection = await mongoose.createConnection(env.MONGODB_URL, { serverSelectionTimeoutMS: 10000 }).asPromise();
  try {
    // the app's own schemas on this connection
    const app = { mongoose: { Schema: mongoose.Schema, model: connection.model.bind(connection) } } as any;
    const ApiKey: mongoose.Model<ApiKeyDoc> = apiKeyModel(app);
    const Webhook: mongoose.Model<WebhookDoc> = webhookModel(app);
    const { values, positionals } = parsed;
    const command = `${group} ${action}`;
    if (command === 'keys create') {
      const scopes = (values.scopes ?? '').split(',').map(s => s.trim()).filter(Boolean);
      const unknown = scopes.filter(s => !(API_SCOPES as readonly string[]).includes(s));
      if (!scopes.length || unknown.length) throw new UsageError(`--scopes: a comma-separated list of ${API_SCOPES.join(', ')}${unknown.length ? ` (not ${unknown.join(', ')})` : ''}`);
      const made = newApiKey();
      await ApiKey.create({ _id: made._id, name: (values.name ?? '').slice(0, 100), scopes: [ ...new Set(scopes) ], secretHash: made.secretHash, createdAt: new Date() });
      out.write(`created API key ${made._id} (${scopes.join(', ')}); it is shown only now:\n${made.key}\n`);
    } else if (command === 'keys list') {
      for (const k of await ApiKey.find({}).sort({ createdAt: 1 }).lean<ApiKeyDoc[]>()) {
        out.write(`${k._id}  ${k.revokedAt ? 'revoked' : 'live   '}  ${k.scopes.join(',')}  ${k.name}  created ${k.createdAt.toISOString()}\n`);
      }
    } else if (command === 'keys revoke') {
      const id = idArgument(positionals);
      const res = await ApiKey.updateOne({ _id: id, revokedAt: null }, { $set: { revokedAt: new Date() } });
      if (!res.matchedCount) throw new Error(`no live API key ${id}`);
      out.write(`revoked API key ${id}\n`);
    } else if (command === 'webhooks add') {
      const input = webhookBody.parse({ url: values.url, events: (values.events ?? '').split(',').map(s => s.trim()).filter(Boolean), secret: values.secret });
      await checkHost(new URL(input.url).hostname, { refusePrivate: env.WEBHOOK_REFUSE_PRIVATE === '1' });
      const hook = await Webhook.create({ url: input.url, events: input.events, secret: input.secret ?? newWebhookSecret(), createdAt: new Date() });
      out.write(`added webhook ${hook._id} for ${hook.events.join(', ')}; its signing secret is shown only now:\n${hook.secret}\n`);
    } else if (command === 'webhooks list') {
      for (const h of await Webhook.find({}).sort({ createdAt: 1 }).lean<WebhookDoc[]>()) out.write(`${h._id}  ${h.url}  ${h.events.join(',')}\n`);
    } else if (command === 'webhooks remove') {
      const id = idArgument(positionals);
      if (!(await Webhook.deleteOne({ _id: id })).deletedCount) throw new Error(`no webhook ${id}`);
      out.write(`removed webhook ${id}\n`);
    } else {
      throw new UsageError(`unknown command "${command}"`);
    }
    return 0;
  } catch (e: any) {
    const message = e?.issues ? e.issues.map((i: { path: PropertyKey[]; message: string }) => `${i.path.join('.') || 'input'}: ${i.message}`).join('; ') : e?.message;
    err.write(`admin: ${message}\n${e instanceof UsageError ? `${USAGE}\n` : ''}`);
    return e instanceof UsageError ? 2 : 1;
  } finally {
    await connection.close();
  }
}

class UsageError extends Error {}

function idArgument(positionals: string[]) {
  const id = positionals[0];
  if (!id || !/^[0-9a-f]{24}$/i.test(id)) throw new UsageError('give the id (24 hex digits)');
  return id.toLowerCase();
}
