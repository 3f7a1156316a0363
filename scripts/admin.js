'use strict';
/**
 * Creates or promotes an admin user:
 *
 *   npm run admin -- --username alice --password 'a long password'
 *
 * `npm run admin` runs this through scripts/with-db.js, so it reaches MONGODB_URL, or the embedded
 * database of a running `npm run dev`, or starts that database for the moment.
 * Uses the compiled lib/admin-cli.js after `npm run tsc`, else the TypeScript source through ts-node.
 */
const fs = require('node:fs');
const path = require('node:path');

if (!fs.existsSync(path.join(__dirname, '..', 'lib', 'admin-cli.js'))) require('ts-node/register/transpile-only');
require('../lib/admin-cli').main(process.argv.slice(2)).then(code => process.exit(code), err => {
  process.stderr.write(`admin: ${err.stack || err}\n`);
  process.exit(1);
});
