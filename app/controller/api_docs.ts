import { Controller } from 'egg';
import { asyncApiDocument } from '../../lib/api/asyncapi';
import { clientEvents, serverPushes } from '../../lib/api/events';
import { openApiDocument } from '../../lib/api/openapi';
import { restRoutes } from '../../lib/api/rest';

/** Built once per process (the configured limits do not change while it runs); a few hundred KB of JSON. */
let openApi: string | null = null;
let asyncApi: ReturnType<typeof asyncApiDocument> | null = null;

/**
 * The /docs page's policy: scripts, styles and fetches from our origin only (its libraries are served
 * from /docs/), no inline script or style; images also as data: URIs, which the renderers' style
 * sheets use for their icons.
 */
export const DOCS_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "font-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/**
 * `GET /api/openapi.json` and `GET /api/asyncapi.json` (PROTOCOL §9): the API documents generated
 * from the route and event tables in lib/api/, plain JSON (no envelope).
 */
export default class ApiDocsController extends Controller {
  async openapi() {
    const { ctx, app } = this;
    openApi ??= JSON.stringify(openApiDocument(restRoutes(app.config.message), { version: app.config.pkg.version }));
    ctx.set('Cache-Control', 'no-cache');
    ctx.type = 'json';
    ctx.body = openApi;
  }

  /** `GET /docs`: both documents, readable (web/docs, built into web/dist by scripts/build-docs.js). */
  async page() {
    const { ctx, app } = this;
    const html = await app.builtFiles.read('docs.html');
    if (!html) {
      ctx.status = 503;
      ctx.type = 'text/plain';
      ctx.body = 'The docs page is not built: run `npm run build:web`.';
      return;
    }
    ctx.set({ 'Content-Security-Policy': DOCS_CSP, 'Cache-Control': 'no-cache', 'Referrer-Policy': 'no-referrer' });
    ctx.type = 'html';
    ctx.body = html;
  }

  async asyncapi() {
    const { ctx, app } = this;
    asyncApi ??= asyncApiDocument(clientEvents(app.config.message), serverPushes, { version: app.config.pkg.version, host: 'localhost' });
    ctx.set('Cache-Control', 'no-cache');
    // the server is the one this request reached
    ctx.body = { ...asyncApi, servers: { default: { ...asyncApi.servers.default, host: ctx.host } } };
  }
}
