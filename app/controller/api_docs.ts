import { Controller } from 'egg';
import { pagePolicy } from '../../lib/page-policy';
import { asyncApiDocument } from '../../lib/api/asyncapi';
import { clientEvents, serverPushes } from '../../lib/api/events';
import { openApiDocument } from '../../lib/api/openapi';
import { restRoutes } from '../../lib/api/rest';

/** Built once per process (the configured limits do not change while it runs); a few hundred KB of JSON. */
let openApi: string | null = null;
let asyncApi: ReturnType<typeof asyncApiDocument> | null = null;

/**
 * The /docs page's policy: our origin only (its libraries are served from /docs/); images also as
 * data: URIs, which the renderers' style sheets use for their icons.
 */
const DOCS_CSP = pagePolicy({ 'img-src': "'self' data:" });

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
    await this.ctx.sendBuilt('docs.html', 'html', { 'Content-Security-Policy': DOCS_CSP, 'Cache-Control': 'no-cache', 'Referrer-Policy': 'no-referrer' },
      { status: 503, text: 'The docs page is not built: run `npm run build:web`.' });
  }

  async asyncapi() {
    const { ctx, app } = this;
    asyncApi ??= asyncApiDocument(clientEvents(app.config.message), serverPushes, { version: app.config.pkg.version, host: 'localhost' });
    ctx.set('Cache-Control', 'no-cache');
    // the server is the one this request reached
    ctx.body = { ...asyncApi, servers: { default: { ...asyncApi.servers.default, host: ctx.host } } };
  }
}
