'use strict';
/**
 * Creates or promotes an admin user, and manages server-API keys and webhooks:
 *
 *   npm run admin -- --username alice --password 'a long password'
 *   npm run admin -- keys create --name backend --scopes users,messages,rooms,notices
 *   npm run admin -- webhooks add --url https://backend.example/hooks --events message.created
 *
 * `npm run admin` runs this through scripts/with-db.js, so it reaches MONGODB_URL, or the embedded
 * database of a running `npm run dev`, or starts that database for the moment.
 * Uses the compiled app/cli/*.js after `npm run tsc`, else the TypeScript source through ts-node.
 */
const fs = require('node:fs');
const path = require('node:path');

if (!fs.existsSync(path.join(__dirname, '..', 'app', 'cli', 'admin.js'))) require('ts-node/register/transpile-only');
const args = process.argv.slice(2);
// `keys ...` and `webhooks ...` (app/cli/integration.ts); anything else makes admins (app/cli/admin.ts)
const cli = args[0] === 'keys' || args[0] === 'webhooks' ? require('../app/cli/integration') : require('../app/cli/admin');
cli.main(args).then(code => process.exit(code), err => {
  process.stderr.write(`admin: ${err.stack || err}\n`);
  process.exit(1);
});
