import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

// Built into web/dist and served by the app itself (app/controller/web.ts, config.static):
// same origin for REST, /ws and /files, nothing from a CDN.
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/',
  logLevel: 'warn',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    // every asset a file under /assets/: the page's CSP has no data: sources
    assetsInlineLimit: 0,
    // the polyfill would be an inline script, which the CSP forbids
    modulePreload: { polyfill: false },
    reportCompressedSize: false,
  },
  // the client imports the server's schemas (lib/schemas/*.ts); after `npm run tsc` compiled .js files
  // (CommonJS) sit next to them, and Vite's default order would bundle those, with CommonJS zod
  resolve: { extensions: [ '.ts', '.tsx', '.mts', '.mjs', '.js', '.jsx', '.json' ] },
});
