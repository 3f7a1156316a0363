/**
 * Counts the database commands the app sends (MongoDB driver command monitoring, enabled in
 * config.unittest.ts): the cost per operation that carries over from FerretDB to MongoDB.
 */
import { app } from './helpers';

export interface SeenCommand {
  name: string;
  collection: string;
  /** a find's filter */
  filter?: Record<string, unknown>;
}

/** Connection chatter that is not an operation's cost. */
const IGNORED = new Set([ 'hello', 'isMaster', 'ismaster', 'ping', 'endSessions', 'saslStart', 'saslContinue', 'buildInfo', 'getLastError' ]);

/**
 * Runs `fn` once the app's background writers are idle and returns the commands sent meanwhile
 * (only this test's process talks to the database while it runs).
 */
export async function commandsDuring(fn: () => Promise<unknown>): Promise<SeenCommand[]> {
  await quiet();
  const client = app.mongoose.connection.getClient();
  const seen: SeenCommand[] = [];
  const listener = (ev: any) => {
    if (!IGNORED.has(ev.commandName)) seen.push({ name: ev.commandName, collection: String(ev.command?.[ev.commandName] ?? ''), filter: ev.command?.filter });
  };
  client.on('commandStarted', listener);
  try {
    await fn();
  } finally {
    client.off('commandStarted', listener);
  }
  return seen;
}

/** Waits for pending conversation pointers and delivery-state writes. */
export async function quiet() {
  await app.messages.flush();
}

export const describeCommands = (cmds: SeenCommand[]) => cmds.map(c => `${c.name}:${c.collection}`).join(', ');
