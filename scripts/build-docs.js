'use strict';
/**
 * Builds the /docs page into web/dist (docs.html, and its files in docs/) after `vite build`, which
 * empties web/dist: the page, its init script and style from web/docs; Swagger UI (OpenAPI) from its
 * package; the AsyncAPI React component bundled here with esbuild, without the AsyncAPI parser (it
 * evaluates generated code, which the page's CSP refuses; web/docs/asyncapi-entry.js). Nothing is
 * loaded from a CDN. Part of `npm run build:web`.
 */
const fs = require('node:fs');
const path = require('node:path');
const esbuild = require('esbuild');

const root = path.join(__dirname, '..');
const src = path.join(root, 'web/docs');
const out = path.join(root, 'web/dist/docs');
const pkg = name => path.dirname(require.resolve(`${name}/package.json`, { paths: [ root ] }));

/** the AsyncAPI component's parser, schema parsers and the parser's linter replaced by web/docs's shims */
const withoutParser = {
  name: 'without-asyncapi-parser',
  setup(build) {
    build.onResolve({ filter: /^@asyncapi\/parser(\/cjs\/document)?$/ }, () => ({ path: path.join(src, 'parser-shim.js') }));
    build.onResolve({ filter: /^@asyncapi\/(avro|openapi|protobuf)-schema-parser$/ }, () => ({ path: path.join(src, 'schema-parser-shim.js') }));
    build.onResolve({ filter: /^@stoplight\/spectral-core$/ }, () => ({ path: path.join(src, 'spectral-shim.js') }));
  },
};

async function main() {
  fs.mkdirSync(out, { recursive: true });
  const copies = [
    [ path.join(src, 'docs.js'), 'docs.js' ],
    [ path.join(src, 'docs.css'), 'docs.css' ],
    [ path.join(pkg('swagger-ui-dist'), 'swagger-ui-bundle.js'), 'swagger-ui-bundle.js' ],
    [ path.join(pkg('swagger-ui-dist'), 'swagger-ui.css'), 'swagger-ui.css' ],
    [ path.join(pkg('@asyncapi/react-component'), 'styles/default.min.css'), 'asyncapi.css' ],
  ];
  for (const [ from, name ] of copies) fs.copyFileSync(from, path.join(out, name));
  await esbuild.build({
    entryPoints: [ path.join(src, 'asyncapi-entry.js') ],
    outfile: path.join(out, 'asyncapi-standalone.js'),
    bundle: true,
    minify: true,
    format: 'iife',
    platform: 'browser',
    target: 'es2020',
    // React's production build: its code reads NODE_ENV from process.env, which browsers do not have
    define: { 'process.env': '{"NODE_ENV":"production"}', global: 'globalThis' },
    plugins: [ withoutParser ],
    logLevel: 'warning',
  });
  // the page itself is beside the directory, not in it: served by GET /docs with its CSP, never as a static file without one
  fs.copyFileSync(path.join(src, 'index.html'), path.join(root, 'web/dist/docs.html'));
}

main().catch(err => {
  console.error(err);
  process.exit(1);
});
